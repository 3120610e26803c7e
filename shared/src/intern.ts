/** At most this many distinct strings are kept by intern(); past it the table starts afresh. */
export const INTERN_MAX = 20_000;
const interned = new Map<string, string>();
/**
 * One copy of a string that many long-lived records repeat (site ids, statuses, operator ids
 * and names, user agents): every Redis reply is a fresh copy, kept per conversation and socket.
 */
export function intern<T extends string>(s: T): T;
export function intern<T extends string>(s: T | undefined): T | undefined;
export function intern<T extends string>(s: T | undefined): T | undefined {
  if (s === undefined) return s;
  const have = interned.get(s);
  if (have !== undefined) return have as T;
  if (interned.size >= INTERN_MAX) interned.clear();
  interned.set(s, s);
  return s;
}
