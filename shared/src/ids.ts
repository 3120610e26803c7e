const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';

/** nanoid-style random id from the platform CSPRNG (browser and Node ≥ 20 both have globalThis.crypto). */
export function randomId(size = 21): string {
  const bytes = crypto.getRandomValues(new Uint8Array(size));
  let id = '';
  for (let i = 0; i < size; i++) id += ALPHABET[(bytes[i] as number) & 63];
  return id;
}

/**
 * Compare two Redis stream ids ("ms-seq"); negative when a < b. Runs for every entry on
 * every socket, so it allocates nothing: digits compare by length, then lexically.
 */
export function compareStreamIds(a: string, b: string): number {
  let ai = a.indexOf('-');
  let bi = b.indexOf('-');
  if (ai < 0) ai = a.length;
  if (bi < 0) bi = b.length;
  if (ai !== bi) return ai < bi ? -1 : 1;
  for (let i = 0; i < ai; i++) {
    const d = a.charCodeAt(i) - b.charCodeAt(i);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  const al = a.length - ai;
  const bl = b.length - bi;
  if (al !== bl) return al < bl ? -1 : 1;
  for (let i = 1; i < al; i++) {
    const d = a.charCodeAt(ai + i) - b.charCodeAt(bi + i);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export const STREAM_ID_RE = /^\d{1,20}-\d{1,20}$/;
