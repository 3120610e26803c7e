/** Narrowing of what the host page passes to `window.Hark` (an untrusted boundary: STYLE.md). Bad input is dropped, never thrown at the page. */
import { MAX_ATTR_KEY, MAX_ATTR_VALUE, MAX_ATTRS } from '@hark/shared/limits';
import type { Attrs, Identity } from '@hark/shared/protocol';

const KEY_RE = /^[A-Za-z0-9_.-]+$/;

export function toIdentity(v: unknown): Identity | null {
  const o = v as Record<string, unknown> | null;
  if (!o || (typeof o.id !== 'string' && typeof o.id !== 'number') || o.id === '') return null;
  const u: Record<string, string> = { id: String(o.id).slice(0, 256) };
  for (const [k, max] of [
    ['name', 200],
    ['email', 320],
    ['hash', 128],
  ] as const) {
    if (typeof o[k] === 'string' && o[k]) u[k] = (o[k] as string).slice(0, max);
  }
  return u as unknown as Identity;
}

/** Keeps the keys and values the protocol accepts (shared/src/protocol.ts `Attrs`), so one bad key cannot get the whole frame refused. */
export function toAttrs(v: unknown): Attrs | null {
  if (!v || typeof v !== 'object') return null;
  const out: Attrs = {};
  for (const [k, x] of Object.entries(v).slice(0, MAX_ATTRS)) {
    if (k.length > MAX_ATTR_KEY || !KEY_RE.test(k)) continue;
    if (typeof x === 'string') out[k] = x.slice(0, MAX_ATTR_VALUE);
    else if (x === null || typeof x === 'boolean' || Number.isFinite(x)) out[k] = x;
  }
  return Object.keys(out).length ? out : null;
}
