/** Sites: their settings, and whether anyone is there to chat. */
import { type Site, anyOperatorAvailable, anyOperatorAvailableShared, createSite, getSite, inBusinessHours, listSites, newSecret, publicSiteConfig, saveSite, siteExists } from '../store/sites';
import { HarkError } from '@hark/shared';
import { nextOpening } from '../store/next-opening';
import type { Deps } from './deps';

export type { Site } from '../store/sites';
export { inBusinessHours, newSecret, publicSiteConfig } from '../store/sites';

export class Sites {
  constructor(private readonly d: Deps) {}
  get(id: string): Promise<Site | null> {
    return getSite(this.d.c.cmd, id);
  }
  list(): Promise<Site[]> {
    return listSites(this.d.c.cmd);
  }
  exists(id: string): Promise<boolean> {
    return siteExists(this.d.c.cmd, id);
  }
  create(id: string, name: string, patch: Partial<Site> = {}): Promise<Site> {
    checkHours(patch);
    return createSite(this.d.c.cmd, id, name, patch);
  }
  save(id: string, patch: Partial<Site>): Promise<Site> {
    checkHours(patch);
    return saveSite(this.d.c.cmd, id, patch);
  }
  /** An operator online with room on the site, in business hours or not (the caller checks hours). */
  available(site: string, shared = false): Promise<boolean> {
    return shared ? anyOperatorAvailableShared(this.d.c.cmd, site) : anyOperatorAvailable(this.d.c.cmd, site);
  }
  inHours(s: Site): boolean {
    return inBusinessHours(s.hours);
  }
  /** What the widget may know; outside business hours, when the site next opens (absent when it never does). */
  config(s: Site, available: boolean, inHours: boolean, now = Date.now()) {
    const c = publicSiteConfig(s, available, inHours);
    const opens = inHours ? null : nextOpening(s.hours, now);
    return opens === null ? c : { ...c, opens };
  }
  newSecret(): string {
    return newSecret();
  }
}

/** Whether `tz` is a time zone this runtime knows (IANA names, as Intl.supportedValuesOf('timeZone') lists them, and UTC). */
export function isTimeZone(tz: string): boolean {
  if (!tz) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Business hours in a zone nobody knows would silently be never (the widget shows the offline form): refused instead. */
function checkHours(patch: Partial<Site>): void {
  if (patch.hours && !isTimeZone(patch.hours.tz)) throw new HarkError('INVALID_TIME_ZONE', `Unknown time zone ${JSON.stringify(patch.hours.tz.slice(0, 64))}; use an IANA name such as Europe/Zagreb.`);
}
