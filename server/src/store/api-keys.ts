/**
 * API keys: each key's record (`hark:apikey:ID`: name, scope, access, times) and the SHA-256 of its
 * secret pointing at it (`hark:apikeyh:HASH`). The secret itself is never stored.
 */
import { createHash } from 'node:crypto';
import type { ScriptedRedis } from '../redis/scripts';
import { K } from './keys';
import { num, oneOf } from './util';
import { evalScript } from '../redis/eval';

export type ApiKeyAccess = 'read' | 'write';
const ACCESS: readonly ApiKeyAccess[] = ['read', 'write'];

export interface ApiKey {
  id: string;
  name: string;
  /** The one site the key may see; '' = every site. */
  site: string;
  access: ApiKeyAccess;
  createdAt: number;
  /** 0 = never used. */
  lastUsedAt: number;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

function fromHash(id: string, h: Record<string, string>): ApiKey | null {
  if (h.name === undefined) return null;
  return { id, name: h.name, site: h.site ?? '', access: oneOf(h.access, ACCESS, 'read'), createdAt: num(h.createdAt), lastUsedAt: num(h.lastUsedAt) };
}

/** Stores a key (its record and the hash index); false when `max` keys exist already. */
export async function addApiKey(r: ScriptedRedis, key: ApiKey, secretHash: string, max: number): Promise<boolean> {
  await r.sadd(K.apiKeys, key.id);
  if ((await r.scard(K.apiKeys)) > max) {
    await r.srem(K.apiKeys, key.id);
    return false;
  }
  await r.hset(K.apiKey(key.id), { name: key.name, site: key.site, access: key.access, createdAt: String(key.createdAt), lastUsedAt: '0', hash: secretHash });
  await r.set(K.apiKeyByHash(secretHash), key.id);
  return true;
}

export async function getApiKey(r: ScriptedRedis, id: string): Promise<ApiKey | null> {
  return fromHash(id, await r.hgetall(K.apiKey(id)));
}

/** The key whose secret hashes to `secretHash`, read from Redis on every call (a revoked key fails at once, on every gateway). */
export async function apiKeyByHash(r: ScriptedRedis, secretHash: string): Promise<ApiKey | null> {
  const id = await r.get(K.apiKeyByHash(secretHash));
  return id ? getApiKey(r, id) : null;
}

export async function listApiKeys(r: ScriptedRedis): Promise<ApiKey[]> {
  const ids = await r.smembers(K.apiKeys);
  const keys = await Promise.all(ids.map((id) => getApiKey(r, id)));
  return keys.filter((k): k is ApiKey => k !== null).sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
}

/** Removes a key: its hash index first, so it stops working before its record goes. False if there was none. */
export async function deleteApiKey(r: ScriptedRedis, id: string): Promise<boolean> {
  const h = await r.hget(K.apiKey(id), 'hash');
  if (h) await r.del(K.apiKeyByHash(h));
  const n = await r.del(K.apiKey(id));
  await r.srem(K.apiKeys, id);
  return n > 0 || h !== null;
}

/** Records a use; only the record's field (no-op if it was deleted meanwhile: HSET on a missing key would recreate it). */
export async function touchApiKey(r: ScriptedRedis, id: string, at: number): Promise<void> {
  if (await r.exists(K.apiKey(id))) await r.hset(K.apiKey(id), 'lastUsedAt', String(at));
}

// ---------------------------------------------------------------- rate limits (API_KEY_REQUESTS_PER_MIN, API_KEY_FAILURES_PER_ADDRESS)

/**
 * One request from a key's token bucket, shared by every gateway. KEYS: bucket. ARGV: now (ms),
 * capacity, ms per token. 0 = taken; else the ms until one token is back. A resent call (ioredis
 * resends after a dropped connection) takes a second token: harmless for a limit this size.
 */
const TAKE_REQUEST = `
local now, cap, per = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens = tonumber(b[1]) or cap
local at = tonumber(b[2]) or now
if now > at then tokens = math.min(cap, tokens + (now - at) / per) end
if tokens < 1 then return math.max(1, math.ceil((1 - tokens) * per)) end
redis.call('HSET', KEYS[1], 't', tostring(tokens - 1), 'at', tostring(math.max(now, at)))
redis.call('PEXPIRE', KEYS[1], math.ceil(cap * per) + 1000)
return 0
`;

/** Takes one request of the key's budget (`perMin`, refilled evenly): 0 when it may go on, else the ms to wait. */
export async function takeApiKeyRequest(r: ScriptedRedis, id: string, perMin: number, now = Date.now()): Promise<number> {
  return Number(await evalScript(r, TAKE_REQUEST, 1, K.apiKeyRate(id), now, perMin, 60_000 / perMin));
}

/** KEYS: counter. ARGV: window ms. Counts one failure; the window starts at the first. Returns the count. */
const COUNT_FAILURE = `
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
`;

/** Records a failed key authentication from `addr` (as counted: http/conn-limits.ts addressKey). */
export async function countApiKeyFailure(r: ScriptedRedis, addr: string, windowMs: number): Promise<number> {
  return Number(await evalScript(r, COUNT_FAILURE, 1, K.apiKeyFailures(addr), windowMs));
}

/** Failed key authentications from `addr` in its current window, and the ms left of it (0 when none). */
export async function apiKeyFailures(r: ScriptedRedis, addr: string): Promise<{ count: number; leftMs: number }> {
  const [n, ttl] = (await r.eval("return {redis.call('GET', KEYS[1]) or '0', redis.call('PTTL', KEYS[1])}", 1, K.apiKeyFailures(addr))) as [string, number];
  return { count: Number(n) || 0, leftMs: Math.max(0, Number(ttl)) };
}
