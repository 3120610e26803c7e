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
/** A field that must be one of `allowed` (an enum in a record): anything else reads as `d`, never cast. */
export function oneOf<T extends string>(v: string | undefined, allowed: readonly T[], d: T): T {
  return v !== undefined && (allowed as readonly string[]).includes(v) ? (v as T) : d;
}

/** A JSON field that must hold a plain object (a record's map): anything else reads as `d`. */
export function jsonObject<T extends object>(v: string | undefined, d: T): T {
  const o = json<unknown>(v, null);
  return o !== null && typeof o === 'object' && !Array.isArray(o) ? (o as T) : d;
}

/** A JSON field that must hold an array of strings: anything else reads as `d`. */
export function jsonStrings(v: string | undefined, d: string[] = []): string[] {
  const o = json<unknown>(v, null);
  return Array.isArray(o) && o.every((x) => typeof x === 'string') ? o : d;
}

export function bool(v: string | undefined): boolean {
  return v === '1' || v === 'true';
}
export { intern } from '@hark/shared/intern';
