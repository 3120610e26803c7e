/** Business hours editing: the site stores intervals per weekday; the form edits one interval per day. */
import type { BusinessHours } from './api';

export interface DayRow {
  open: boolean;
  from: string;
  to: string;
}

const HM = /^([01]\d|2[0-3]):[0-5]\d$/;

export function hoursToRows(h: BusinessHours | null): DayRow[] {
  return Array.from({ length: 7 }, (_, d) => {
    const iv = h?.days?.[String(d)]?.[0];
    return iv ? { open: true, from: iv[0], to: iv[1] } : { open: false, from: '09:00', to: '17:00' };
  });
}

/** null = no business hours (always open). Closed days are left out; bad or empty intervals are rejected. */
export function rowsToHours(enabled: boolean, tz: string, rows: DayRow[]): BusinessHours | null {
  if (!enabled) return null;
  const days: Record<string, [string, string][]> = {};
  rows.forEach((r, d) => {
    if (!r.open) return;
    if (!HM.test(r.from) || !HM.test(r.to) || r.from >= r.to) throw new Error(`bad interval on day ${d}: ${r.from}–${r.to}`);
    days[String(d)] = [[r.from, r.to]];
  });
  return { tz, days };
}

/** The script tag a site owner pastes; `origin` is where this gateway is reachable. */
export function snippet(origin: string, siteId: string): string {
  return `<script async src="${origin}/widget.js" data-site="${siteId}"></script>`;
}

/** Origins as typed one per line → normalised `scheme://host[:port]` (or `self`, `*`), rejecting anything else. */
export function parseOrigins(text: string): { origins: string[]; bad: string[] } {
  const origins: string[] = [];
  const bad: string[] = [];
  for (const raw of text.split(/[\s,]+/)) {
    if (!raw) continue;
    // 'self' = the gateway's own origin (the demo page); '*' = any origin.
    if (raw === 'self' || raw === '*') {
      if (!origins.includes(raw)) origins.push(raw);
      continue;
    }
    try {
      const u = new URL(raw);
      if ((u.protocol !== 'http:' && u.protocol !== 'https:') || (u.pathname !== '/' && u.pathname !== '')) throw new Error();
      if (!origins.includes(u.origin)) origins.push(u.origin);
    } catch {
      bad.push(raw);
    }
  }
  return { origins, bad };
}
