/**
 * API keys for integrations: created by admins, shown once, kept only as their SHA-256, scoped to
 * one site or all, read-only or read-write. A key acts as a bot: `actor()` is the principal the
 * policy (domain/policy.ts) judges, a supervisor of the key's sites named `bot:<key id>`.
 */
import { randomBytes } from 'node:crypto';
import { API_KEY_TOUCH_MS, HarkError, MAX_API_KEYS, randomId } from '@hark/shared';
import { type ApiKey, type ApiKeyAccess, addApiKey, apiKeyByHash, deleteApiKey, hashSecret, listApiKeys, touchApiKey } from '../store/api-keys';
import type { Operator } from '../store/operators';
import { listSites } from '../store/sites';
import type { Deps } from './deps';

export type { ApiKey, ApiKeyAccess } from '../store/api-keys';

/** Every key starts with this, so a leaked one is easy to recognise (secret scanners, logs). */
export const API_KEY_PREFIX = 'hark_';
const KEY_RE = /^hark_[A-Za-z0-9_-]{43}$/;

/** The id a key's messages and actions carry (`op.id` of a bot message). */
export function botId(key: Pick<ApiKey, 'id'>): string {
  return `bot:${key.id}`;
}

export class ApiKeys {
  constructor(private readonly d: Deps) {}

  /** Makes a key; the secret is in this answer only. CONFLICT past MAX_API_KEYS. */
  async create(input: { name: string; site: string; access: ApiKeyAccess }): Promise<{ key: ApiKey; secret: string }> {
    const secret = API_KEY_PREFIX + randomBytes(32).toString('base64url');
    const key: ApiKey = { id: randomId(16), name: input.name, site: input.site, access: input.access, createdAt: Date.now(), lastUsedAt: 0 };
    if (!(await addApiKey(this.d.c.cmd, key, hashSecret(secret), MAX_API_KEYS))) throw new HarkError('CONFLICT', `An installation keeps at most ${MAX_API_KEYS} API keys; revoke one first.`);
    return { key, secret };
  }

  list(): Promise<ApiKey[]> {
    return listApiKeys(this.d.c.cmd);
  }

  /** Revokes at once: the next request with it fails on every gateway (keys are read from Redis per request). */
  revoke(id: string): Promise<boolean> {
    return deleteApiKey(this.d.c.cmd, id);
  }

  /** The key a bearer secret belongs to, or null; records its use at most once per API_KEY_TOUCH_MS. */
  async authenticate(secret: string, now = Date.now()): Promise<ApiKey | null> {
    if (!KEY_RE.test(secret)) return null;
    const key = await apiKeyByHash(this.d.c.cmd, hashSecret(secret));
    if (!key) return null;
    if (now - key.lastUsedAt >= API_KEY_TOUCH_MS) {
      await touchApiKey(this.d.c.cmd, key.id, now);
      key.lastUsedAt = now;
    }
    return key;
  }

  /** The sites a key may see now (an all-sites key: every site that exists). */
  async sitesOf(key: ApiKey): Promise<string[]> {
    const all = (await listSites(this.d.c.cmd)).map((s) => s.id);
    return key.site ? all.filter((s) => s === key.site) : all;
  }

  /** The principal a key acts as: a supervisor of its sites, named after the key (policy.ts judges it like any operator). */
  async actor(key: ApiKey): Promise<Operator> {
    return { id: botId(key), email: '', name: key.name, role: 'supervisor', capacity: 0, sites: await this.sitesOf(key), teams: [], active: true, status: 'offline', createdAt: key.createdAt };
  }
}
