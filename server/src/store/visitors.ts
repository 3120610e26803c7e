import { createHash } from 'node:crypto';
import { type Attrs, type PageInfo, type VisitorInfo, randomId } from '@hark/shared';
import { K } from './keys';
import type { ScriptedRedis } from './scripts';
import { bool, intern, json } from './util';

export interface VisitorRecord extends VisitorInfo {
  site: string;
  /** The visitor's open (unresolved) conversation, if any. */
  conv?: string;
  createdAt: number;
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/**
 * Maps a widget-minted token to its visitor. `register` (the widget's `new=1`)
 * creates the visitor for an unknown token; otherwise an unknown token is refused.
 * Returns null when the token is unknown (and not registering) or belongs to another site.
 */
export async function visitorForToken(r: ScriptedRedis, site: string, token: string, register: boolean): Promise<string | null> {
  const key = K.visitorToken(tokenHash(token));
  const cur = await r.get(key);
  if (cur) {
    const [s, v] = splitOnce(cur);
    return s === site ? v : null;
  }
  if (!register) return null;
  const id = randomId(16);
  if (!(await r.set(key, `${site}:${id}`, 'NX'))) return visitorForToken(r, site, token, false);
  await r.hset(K.visitor(id), { site, createdAt: String(Date.now()), verified: '0', attrs: '{}' });
  return id;
}

function splitOnce(s: string): [string, string] {
  const i = s.indexOf(':');
  return [s.slice(0, i), s.slice(i + 1)];
}

export async function forgetToken(r: ScriptedRedis, token: string): Promise<void> {
  await r.del(K.visitorToken(tokenHash(token)));
}

export async function getVisitor(r: ScriptedRedis, id: string): Promise<VisitorRecord | null> {
  const h = await r.hgetall(K.visitor(id));
  if (!h.site) return null;
  const v: VisitorRecord = { id, site: h.site, verified: bool(h.verified), attrs: json<Attrs>(h.attrs, {}), createdAt: Number(h.createdAt ?? 0) };
  if (h.name) v.name = h.name;
  if (h.email) v.email = h.email;
  if (h.userId) v.userId = h.userId;
  if (h.page) v.page = json<PageInfo | undefined>(h.page, undefined);
  if (h.ua) v.ua = intern(h.ua);
  if (h.locale) v.locale = intern(h.locale);
  if (h.tz) v.tz = intern(h.tz);
  if (h.conv) v.conv = h.conv;
  return v;
}

export function visitorInfo(v: VisitorRecord): VisitorInfo {
  const { site: _s, conv: _c, createdAt: _t, ...info } = v;
  return info;
}

export interface VisitorPatch {
  name?: string;
  email?: string;
  userId?: string;
  verified?: boolean;
  page?: PageInfo;
  ua?: string;
  locale?: string;
  tz?: string;
  attrs?: Attrs;
}

export async function updateVisitor(r: ScriptedRedis, id: string, p: VisitorPatch): Promise<void> {
  const h: Record<string, string> = {};
  if (p.name !== undefined) h.name = p.name.trim();
  if (p.email !== undefined) h.email = p.email.trim();
  if (p.userId !== undefined) h.userId = p.userId;
  if (p.verified !== undefined) h.verified = p.verified ? '1' : '0';
  if (p.page !== undefined) h.page = JSON.stringify(p.page);
  if (p.ua !== undefined) h.ua = p.ua.slice(0, 512);
  if (p.locale !== undefined) h.locale = p.locale;
  if (p.tz !== undefined) h.tz = p.tz;
  if (p.attrs !== undefined) {
    const cur = json<Attrs>((await r.hget(K.visitor(id), 'attrs')) ?? undefined, {});
    h.attrs = JSON.stringify({ ...cur, ...p.attrs });
  }
  if (Object.keys(h).length) await r.hset(K.visitor(id), h);
}
