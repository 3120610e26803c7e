/** The report answer (server/src/domain/reports.ts) and the pure helpers the Reports view draws with. */

import type { Report, ReportNumbers, ReportQuery } from '@hark/shared';

export type { Report, ReportNumbers, ReportQuery };

/** The calendar day of `at` in `tz`, as YYYY-MM-DD (UTC when the zone is unknown). */
export function dayIn(at: number, tz: string): string {
  try {
    return new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
  } catch {
    return new Date(at).toISOString().slice(0, 10);
  }
}

/** The `days` days ending with `to` (YYYY-MM-DD), as [from, to]. */
export function lastDays(to: string, days: number): [string, string] {
  const end = Date.parse(`${to}T00:00:00Z`);
  return [new Date(end - (days - 1) * 86_400_000).toISOString().slice(0, 10), to];
}

/** Change against the previous period, in %, or null when there is nothing to compare with. */
export function change(now: number | null, before: number | null): number | null {
  if (now === null || before === null || before === 0) return null;
  return Math.round(((now - before) / before) * 100);
}

/** A polyline's points for `values` (null = a gap) in a `w` × `h` box, with `max` at the top. */
export function linePoints(values: (number | null)[], w: number, h: number, max: number): string[] {
  const segs: string[] = [];
  let cur: string[] = [];
  const step = values.length > 1 ? w / (values.length - 1) : 0;
  values.forEach((v, i) => {
    if (v === null) {
      if (cur.length) segs.push(cur.join(' '));
      cur = [];
      return;
    }
    const x = Math.round(i * step * 10) / 10;
    const y = Math.round((h - (max > 0 ? (v / max) * h : 0)) * 10) / 10;
    cur.push(`${x},${y}`);
  });
  if (cur.length) segs.push(cur.join(' '));
  return segs;
}

/** A fill colour for a heat-map cell: from pale to the accent, by `v / max`. */
export function heatColour(v: number, max: number): string {
  const k = max > 0 ? Math.min(1, v / max) : 0;
  const mix = (a: number, b: number) => Math.round(a + (b - a) * k);
  return `rgb(${mix(244, 31)},${mix(246, 95)},${mix(250, 214)})`;
}

export function reportParams(q: ReportQuery): string {
  const p = new URLSearchParams({ site: q.site, from: q.from, to: q.to });
  if (q.team) p.set('team', q.team);
  if (q.operator) p.set('operator', q.operator);
  return p.toString();
}
