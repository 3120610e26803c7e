/** Small helpers for reading Redis hashes into typed records. */
export function num(v: string | undefined, d = 0): number {
  if (v === undefined || v === '') return d;
  const n = Number(v);
  return Number.isFinite(n) ? n : d;
}
export function optNum(v: string | undefined): number | undefined {
  return v === undefined || v === '' ? undefined : num(v);
}
export function json<T>(v: string | undefined, d: T): T {
  if (!v) return d;
  try {
    return JSON.parse(v) as T;
  } catch {
    return d;
  }
}
export function bool(v: string | undefined): boolean {
  return v === '1' || v === 'true';
}
export function dropUndefined<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

/** At most this many distinct strings are kept by intern(); past it the table starts afresh. */
export const INTERN_MAX = 20_000;
const interned = new Map<string, string>();
/**
 * One copy of a string that many long-lived records repeat (site ids, statuses, operator ids
 * and names, user agents): every Redis reply is a fresh copy, kept per conversation and socket.
 */
export function intern(s: string): string;
export function intern(s: string | undefined): string | undefined;
export function intern(s: string | undefined): string | undefined {
  if (s === undefined) return s;
  const have = interned.get(s);
  if (have !== undefined) return have;
  if (interned.size >= INTERN_MAX) interned.clear();
  interned.set(s, s);
  return s;
}
