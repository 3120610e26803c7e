const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';

/** nanoid-style random id from the platform CSPRNG (browser and Node ≥ 20 both have globalThis.crypto). */
export function randomId(size = 21): string {
  const bytes = crypto.getRandomValues(new Uint8Array(size));
  let id = '';
  for (let i = 0; i < size; i++) id += ALPHABET[(bytes[i] as number) & 63];
  return id;
}

/** Compare two Redis stream ids ("ms-seq"); negative when a < b. */
export function compareStreamIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  if (am.length !== bm.length) return am.length - bm.length;
  if (am !== bm) return am < bm ? -1 : 1;
  const d = Number(as) - Number(bs);
  return d < 0 ? -1 : d > 0 ? 1 : 0;
}

export const STREAM_ID_RE = /^\d{1,20}-\d{1,20}$/;
