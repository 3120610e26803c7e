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
export { intern } from '@hark/shared/intern';
