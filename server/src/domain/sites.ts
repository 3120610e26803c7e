/** Sites: their settings, and whether anyone is there to chat. */
import { type Site, anyOperatorAvailable, anyOperatorAvailableShared, createSite, getSite, inBusinessHours, listSites, newSecret, publicSiteConfig, saveSite, siteExists } from '../store/sites';
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
    return createSite(this.d.c.cmd, id, name, patch);
  }
  save(id: string, patch: Partial<Site>): Promise<Site> {
    return saveSite(this.d.c.cmd, id, patch);
  }
  /** An operator online with room on the site, in business hours or not (the caller checks hours). */
  available(site: string, shared = false): Promise<boolean> {
    return shared ? anyOperatorAvailableShared(this.d.c.cmd, site) : anyOperatorAvailable(this.d.c.cmd, site);
  }
  inHours(s: Site): boolean {
    return inBusinessHours(s.hours);
  }
  config(s: Site, available: boolean, inHours: boolean) {
    return publicSiteConfig(s, available, inHours);
  }
  newSecret(): string {
    return newSecret();
  }
}
