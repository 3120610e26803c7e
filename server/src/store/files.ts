/**
 * Records of stored files (the bytes are in store/blobs.ts): who uploaded one, the conversation and
 * message it is attached to, what it is. A record is written only after its bytes are stored whole,
 * so no message can name a half file.
 */
import { randomBytes } from 'node:crypto';
import type { FileRef } from '@hark/shared';
import type { ScriptedRedis } from '../redis/scripts';
import { K } from './keys';
import { num, optNum } from './util';
import { evalScript } from '../redis/eval';

export interface FileRecord extends FileRef {
  site: string;
  /** `v:<visitor>` or `o:<operator>`. */
  owner: string;
  /** The conversation it belongs to ('' until a visitor's file is attached to a message). */
  conv: string;
  /** The client id of the message or note that carries it ('' until attached). */
  cid: string;
  /** Attached to an internal note: never shown to the visitor. */
  note: boolean;
  /** The blob's key. */
  key: string;
  at: number;
}

export async function saveFile(r: ScriptedRedis, f: FileRecord): Promise<void> {
  const h: Record<string, string> = {
    site: f.site,
    owner: f.owner,
    conv: f.conv,
    cid: f.cid,
    note: f.note ? '1' : '0',
    key: f.key,
    name: f.name,
    size: String(f.size),
    type: f.type,
    at: String(f.at),
  };
  if (f.w !== undefined) h.w = String(f.w);
  if (f.h !== undefined) h.h = String(f.h);
  await r.hset(K.file(f.id), h);
}

export async function getFile(r: ScriptedRedis, id: string): Promise<FileRecord | null> {
  const h = await r.hgetall(K.file(id));
  if (!h.key || !h.owner) return null;
  const w = optNum(h.w);
  const hh = optNum(h.h);
  return {
    id,
    site: h.site ?? '',
    owner: h.owner,
    conv: h.conv ?? '',
    cid: h.cid ?? '',
    note: h.note === '1',
    key: h.key,
    name: h.name ?? 'file',
    size: num(h.size),
    type: h.type ?? 'application/octet-stream',
    at: num(h.at),
    ...(w !== undefined ? { w } : {}),
    ...(hh !== undefined ? { h: hh } : {}),
  };
}

export function fileRef(f: FileRecord): FileRef {
  return { id: f.id, name: f.name, size: f.size, type: f.type, ...(f.w !== undefined ? { w: f.w } : {}), ...(f.h !== undefined ? { h: f.h } : {}) };
}

const CLAIM = `
local f = redis.call('HMGET', KEYS[1], 'owner', 'site', 'conv', 'cid')
if not f[1] or f[1] ~= ARGV[1] or f[2] ~= ARGV[2] then return 'missing' end
if f[4] and f[4] ~= '' and f[4] ~= ARGV[4] then return 'used' end
if f[3] and f[3] ~= '' and f[3] ~= ARGV[3] and ARGV[6] ~= '1' then return 'used' end
redis.call('HSET', KEYS[1], 'conv', ARGV[3], 'cid', ARGV[4], 'note', ARGV[5])
return 'ok'`;

/**
 * Binds a file to the message `cid` in `conv`, atomically: only its owner's, of the site, and not
 * bound to another message ('used'); bound again to the same message is fine (a resend). `rebind`:
 * the same message moves to another conversation (it was refused in the first one, resolved meanwhile).
 */
export async function claimFile(r: ScriptedRedis, id: string, owner: string, site: string, conv: string, cid: string, note: boolean, rebind: boolean): Promise<'ok' | 'missing' | 'used'> {
  const res = String(await evalScript(r, CLAIM, 1, K.file(id), owner, site, conv, cid, note ? '1' : '0', rebind ? '1' : '0'));
  if (res === 'ok') {
    await r.sadd(K.convFiles(conv), id);
    await r.zrem(K.filesUnattached, id);
  }
  return res === 'ok' ? 'ok' : res === 'used' ? 'used' : 'missing';
}

export async function addOwnedFile(r: ScriptedRedis, f: FileRecord): Promise<void> {
  if (!f.cid) await r.zadd(K.filesUnattached, f.at, f.id);
  if (f.owner.startsWith('v:')) {
    const v = f.owner.slice(2);
    await r.sadd(K.visitorFiles(v), f.id);
    await r.incrby(K.visitorFileBytes(v), f.size);
  }
  if (f.conv) await r.sadd(K.convFiles(f.conv), f.id);
}

export async function deleteFileRecord(r: ScriptedRedis, f: FileRecord): Promise<void> {
  await r.del(K.file(f.id));
  await r.zrem(K.filesUnattached, f.id);
  if (f.conv) await r.srem(K.convFiles(f.conv), f.id);
  if (f.owner.startsWith('v:')) {
    const v = f.owner.slice(2);
    await r.srem(K.visitorFiles(v), f.id);
    const left = await r.decrby(K.visitorFileBytes(v), f.size);
    if (left <= 0) await r.del(K.visitorFileBytes(v));
  }
}

export function convFileIds(r: ScriptedRedis, conv: string): Promise<string[]> {
  return r.smembers(K.convFiles(conv));
}
export function visitorFileIds(r: ScriptedRedis, visitor: string): Promise<string[]> {
  return r.smembers(K.visitorFiles(visitor));
}
/** Deletes what is left of a conversation's or visitor's file indexes (after their files went). */
export async function dropFileIndexes(r: ScriptedRedis, t: { conv?: string; visitor?: string }): Promise<void> {
  if (t.conv) await r.del(K.convFiles(t.conv));
  if (t.visitor) await Promise.all([r.del(K.visitorFiles(t.visitor)), r.del(K.visitorFileBytes(t.visitor)), r.del(K.visitorUploads(t.visitor))]);
}

export async function visitorFileBytes(r: ScriptedRedis, visitor: string): Promise<number> {
  return num((await r.get(K.visitorFileBytes(visitor))) ?? undefined);
}

const TAKE = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then return -redis.call('PTTL', KEYS[1]) end
return n`;

/** One upload counted in a fixed window of `windowMs`; the ms to wait when past `max` (else 0). */
export async function takeUpload(r: ScriptedRedis, who: { visitor: string } | { op: string }, max: number, windowMs: number): Promise<number> {
  const key = 'visitor' in who ? K.visitorUploads(who.visitor) : K.operatorUploads(who.op);
  const n = Number(await evalScript(r, TAKE, 1, key, String(max), String(windowMs)));
  return n < 0 ? Math.max(1, -n) : 0;
}

/** Adds `bytes` to a site's uploads of `day` unless that would pass `max`; false when refused. */
export async function addSiteBytes(r: ScriptedRedis, site: string, day: string, bytes: number, max: number): Promise<boolean> {
  const res = await r.eval(
    `local n = tonumber(redis.call('GET', KEYS[1]) or '0')
     if n + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return 0 end
     redis.call('INCRBY', KEYS[1], ARGV[1]) redis.call('PEXPIRE', KEYS[1], 172800000) return 1`,
    1,
    K.siteFileBytes(site, day),
    String(bytes),
    String(max),
  );
  return Number(res) === 1;
}

/** The key download URLs are signed with: made once per installation, shared by every gateway. */
export async function filesSecret(r: ScriptedRedis): Promise<string> {
  await r.set(K.filesSecret, randomBytes(32).toString('base64url'), 'NX');
  const s = await r.get(K.filesSecret);
  if (!s) throw new Error('files secret missing');
  return s;
}

/** Files uploaded at or before `before` and not sent in a message since (at most `n`). */
export function unattachedBefore(r: ScriptedRedis, before: number, n: number): Promise<string[]> {
  return r.zrangebyscore(K.filesUnattached, '-inf', before, 'LIMIT', 0, n);
}
export async function forgetUnattached(r: ScriptedRedis, id: string): Promise<void> {
  await r.zrem(K.filesUnattached, id);
}
