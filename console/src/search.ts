/** The search answer (server/src/domain/search.ts) and how a snippet's marks become text pieces. */
import type { ConvSummary } from '@hark/shared/protocol';

export interface SearchHit {
  conv: ConvSummary;
  entry?: string;
  snippet?: { kind: 'msg' | 'note' | 'profile'; text: string; marks: [number, number][] };
  relevance: number;
}
export interface SearchAnswer {
  results: SearchHit[];
  more: boolean;
  terms: string[];
  prefix: boolean;
}
export interface SearchFilters {
  site?: string;
  status?: 'queued' | 'open' | 'resolved';
  rating?: 'good' | 'bad';
  operator?: string;
  team?: string;
  /** Conversations started at or after (ms): the start of a local day. */
  from?: number;
  /** … and before (ms): the start of the local day after the last one. */
  to?: number;
}

/** A date input's value (YYYY-MM-DD, a local day) as the ms it starts at; `next`: the day after's start. Undefined when empty or not a date. */
export function dayStartMs(value: string, next = false): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return undefined;
  const t = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + (next ? 1 : 0)).getTime();
  return Number.isFinite(t) ? t : undefined;
}

/** The local day (YYYY-MM-DD) a ms falls in; with `before`, the day before it (an exclusive end shown as the last day). */
export function dayValue(ms: number | undefined, before = false): string {
  if (ms === undefined) return '';
  const d = new Date(before ? ms - 1 : ms);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** The server's SEARCH_MAX_QUERY_CHARS: the box accepts no more. */
export const SEARCH_MAX_QUERY_CHARS = 500;
/** Typing pauses this long before the query is sent. */
export const SEARCH_DEBOUNCE_MS = 250;

/** Text split into plain and marked pieces, in order; marks out of range or overlapping are ignored. */
export function segments(text: string, marks: readonly [number, number][]): { text: string; mark: boolean }[] {
  const out: { text: string; mark: boolean }[] = [];
  let at = 0;
  for (const [a, b] of [...marks].sort((x, y) => x[0] - y[0])) {
    if (a < at || b <= a || b > text.length) continue;
    if (a > at) out.push({ text: text.slice(at, a), mark: false });
    out.push({ text: text.slice(a, b), mark: true });
    at = b;
  }
  if (at < text.length) out.push({ text: text.slice(at), mark: false });
  return out;
}
