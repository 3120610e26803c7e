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

/** A week of Monday–Friday 09:00–17:00: what turning business hours on starts from, when no day is open yet. */
export function defaultWeek(rows: DayRow[]): DayRow[] {
  if (rows.some((r) => r.open)) return rows;
  return rows.map((r, d) => (d >= 1 && d <= 5 ? { open: true, from: '09:00', to: '17:00' } : r));
}

/**
 * The time zones to pick from: the runtime's IANA list (Intl.supportedValuesOf), with UTC, and the
 * site's current zone first when the list lacks it (the gateway refuses an unknown one on save).
 */
export function timeZones(current: string, list: readonly string[] = supportedZones()): string[] {
  const out = [...new Set(['UTC', ...list])].sort((a, b) => (a === 'UTC' ? -1 : b === 'UTC' ? 1 : a.localeCompare(b)));
  return current && !out.includes(current) ? [current, ...out] : out;
}

function supportedZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (k: string) => string[] };
  return intl.supportedValuesOf?.('timeZone') ?? [];
}
