/**
 * API keys: each key's record (`hark:apikey:ID`: name, scope, access, times) and the SHA-256 of its
 * secret pointing at it (`hark:apikeyh:HASH`). The secret itself is never stored.
 */
import { createHash } from 'node:crypto';
import type { ScriptedRedis } from '../redis/scripts';
import { K } from './keys';
import { num, oneOf } from './util';

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
