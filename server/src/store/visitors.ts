import { createHash } from 'node:crypto';
import { type Attrs, type PageInfo, UNUSED_TOKEN_TTL_MS, type VisitorInfo, randomId } from '@hark/shared';
import { K } from './keys';
import type { ScriptedRedis } from '../redis/scripts';
import { bool, intern, jsonObject } from './util';

export interface VisitorRecord extends VisitorInfo {
  site: string;
  /** The visitor's open (unresolved) conversation, if any. */
  conv?: string;
  createdAt: number;
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** The visitor a token belongs to on `site`; null when the token is unknown or another site's. */
export async function visitorForToken(r: ScriptedRedis, site: string, token: string): Promise<string | null> {
  const cur = await r.get(K.visitorToken(tokenHash(token)));
  if (!cur) return null;
  const [s, v] = splitOnce(cur);
  return s === site ? v : null;
}

/**
 * Creates the visitor of a new widget-minted token (the widget's `new=1`). Token and record
 * expire after UNUSED_TOKEN_TTL_MS unless the visitor starts a conversation (keepToken).
 * Two registrations of one token agree on one visitor.
 */
export async function registerVisitor(r: ScriptedRedis, site: string, token: string): Promise<string | null> {
  const id = randomId(16);
  const key = K.visitorToken(tokenHash(token));
  if (!(await r.set(key, `${site}:${id}`, 'PX', UNUSED_TOKEN_TTL_MS, 'NX'))) return visitorForToken(r, site, token);
  await r.multi().hset(K.visitor(id), { site, createdAt: String(Date.now()), verified: '0', attrs: '{}', tok: tokenHash(token) }).pexpire(K.visitor(id), UNUSED_TOKEN_TTL_MS).exec();
  return id;
}

/** The visitor started a conversation: their token and record no longer expire. */
export async function keepToken(r: ScriptedRedis, visitor: string): Promise<void> {
  const tok = await r.hget(K.visitor(visitor), 'tok');
  await r.persist(K.visitor(visitor));
  if (tok) {
    await r.persist(K.visitorToken(tok));
    await r.hdel(K.visitor(visitor), 'tok');
  }
}

function splitOnce(s: string): [string, string] {
  const i = s.indexOf(':');
  return [s.slice(0, i), s.slice(i + 1)];
}

export async function visitorAttrs(r: ScriptedRedis, id: string): Promise<Attrs> {
  return jsonObject<Attrs>((await r.hget(K.visitor(id), 'attrs')) ?? undefined, {});
}

/** Whether a live lease says a gateway holds a socket of the visitor (markPresent). */
export async function presentOf(r: ScriptedRedis, id: string): Promise<boolean> {
  return (await r.zcount(K.visitorOnline(id), Date.now(), '+inf')) > 0;
}

/** The visitor record, with `online`: whether a gateway holds a socket of theirs now (markPresent). */
/** A visitor's e-mail address alone (null when none, or no such visitor): for a reader that needs nothing else (the mail consumer, on every operator message). */
export async function visitorEmail(r: ScriptedRedis, id: string): Promise<string | null> {
  const [site, email] = await r.hmget(K.visitor(id), 'site', 'email');
  return site && email ? email : null;
}

export async function getVisitor(r: ScriptedRedis, id: string): Promise<VisitorRecord | null> {
  const [h, online] = await Promise.all([r.hgetall(K.visitor(id)), presentOf(r, id)]);
  if (!h.site) return null;
  const v: VisitorRecord = { id, site: h.site, verified: bool(h.verified), attrs: jsonObject<Attrs>(h.attrs, {}), createdAt: Number(h.createdAt ?? 0), online };
  if (h.name) v.name = h.name;
  if (h.email) v.email = h.email;
  if (h.userId) v.userId = h.userId;
  if (h.page) {
    const page = jsonObject<Partial<PageInfo>>(h.page, {});
    if (typeof page.url === 'string' && typeof page.title === 'string') v.page = page as PageInfo;
  }
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
  // The caller (domain/visitors.ts) merged the attributes within their bound.
  if (p.attrs !== undefined) h.attrs = JSON.stringify(p.attrs);
  if (Object.keys(h).length) await r.hset(K.visitor(id), h);
}

/** Gateway `gw` holds a socket of the visitor for the next `ttlMs` (renewed while it does); the key expires with the latest lease. */
export async function markPresent(r: ScriptedRedis, visitor: string, gw: string, ttlMs: number): Promise<void> {
  await r.harkPresent(K.visitorOnline(visitor), gw, String(Date.now() + ttlMs), String(ttlMs));
}

/** Gateway `gw` holds no socket of the visitor any more. */
export async function markGone(r: ScriptedRedis, visitor: string, gw: string): Promise<void> {
  await r.zrem(K.visitorOnline(visitor), gw);
}
