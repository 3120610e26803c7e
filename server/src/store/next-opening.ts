import type { BusinessHours } from '@hark/shared';
import { inBusinessHours } from './sites';

const fmts = new Map<string, Intl.DateTimeFormat>();
const MIN = 60_000;

/** The wall clock of `tz` at instant `t`, as if it were UTC (minute precision). Throws on an unknown zone. */
function wall(tz: string, t: number): number {
  let f = fmts.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', hourCycle: 'h23' });
    fmts.set(tz, f);
  }
  const p: Record<string, number> = {};
  for (const x of f.formatToParts(t)) p[x.type] = Number(x.value);
  return Date.UTC(p.year as number, (p.month as number) - 1, p.day as number, p.hour as number, p.minute as number);
}

/**
 * The first instant at which the wall clock of `tz` reads `w` (a wall time written as UTC) or later, when it
 * first gets there: of two readings (the hour repeated when clocks go back) the earlier; a time the clocks
 * skip (the hour lost when they go forward) opens when the clock jumps past it.
 */
function instants(tz: string, w: number): number[] {
  const offsets = new Set([wall(tz, w - 86_400_000) - (w - 86_400_000), wall(tz, w + 86_400_000) - (w + 86_400_000), wall(tz, w) - w]);
  const found = [...offsets].map((o) => w - o).filter((t) => wall(tz, t) === w);
  if (found.length) return found;
  // In a gap: the clock jumps over w somewhere in [w - largest offset, w - smallest offset]; find the jump to the minute.
  let lo = w - Math.max(...offsets);
  let hi = w - Math.min(...offsets);
  if (wall(tz, hi) < w) return [];
  while (hi - lo > MIN) {
    const mid = lo + Math.floor((hi - lo) / 2 / MIN) * MIN;
    if (wall(tz, mid) >= w) hi = mid;
    else lo = mid;
  }
  return [hi];
}

/**
 * When a site outside its business hours next opens, in epoch ms; null when it never does (every day closed),
 * when it is open at `at`, or when the hours cannot be read (no hours, an unknown zone: always open).
 * Looks one week ahead (plus a day for the zone's date line), so a site open one day a week is found.
 */
export function nextOpening(hours: BusinessHours | null, at = Date.now()): number | null {
  if (!hours || inBusinessHours(hours, new Date(at))) return null;
  let today: number;
  try {
    today = wall(hours.tz, at);
  } catch {
    return null;
  }
  const d0 = new Date(today);
  let best: number | null = null;
  for (let k = 0; k <= 8; k++) {
    const day = new Date(Date.UTC(d0.getUTCFullYear(), d0.getUTCMonth(), d0.getUTCDate() + k));
    for (const [from, to] of hours.days[String(day.getUTCDay())] ?? []) {
      if (!(from < to)) continue;
      const [h, m] = from.split(':').map(Number) as [number, number];
      for (const t of instants(hours.tz, day.getTime() + h * 3_600_000 + m * MIN)) {
        if (t > at && (best === null || t < best) && inBusinessHours(hours, new Date(t))) best = t;
      }
    }
    if (best !== null) break; // a later day only opens later
  }
  return best;
}
