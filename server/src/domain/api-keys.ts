/**
 * API keys for integrations: created by admins, shown once, kept only as their SHA-256, scoped to
 * one site or all, read-only or read-write. A key acts as a bot: `actor()` is the principal the
 * policy (domain/policy.ts) judges, a supervisor of the key's sites named `bot:<key id>`.
 */
import { randomBytes } from 'node:crypto';
import { API_KEY_FAILURES_PER_ADDRESS, API_KEY_FAILURE_WINDOW_MS, API_KEY_REQUESTS_PER_MIN, API_KEY_TOUCH_MS, HarkError, MAX_API_KEYS, randomId } from '@hark/shared';
import {
  type ApiKey,
  type ApiKeyAccess,
  addApiKey,
  apiKeyByHash,
  apiKeyFailures,
  countApiKeyFailure,
  deleteApiKey,
  hashSecret,
  listApiKeys,
  takeApiKeyRequest,
  touchApiKey,
} from '../store/api-keys';
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

/** The limits on API requests (shared/src/limits.ts); tests shorten them with `configure`. */
export interface ApiKeyLimits {
  /** Requests per key per minute, across gateways (a token bucket per key in Redis). */
  requestsPerMin: number;
  /** Failed key authentications per address in `failureWindowMs`, across gateways. */
  failuresPerAddress: number;
  failureWindowMs: number;
}

export const API_KEY_LIMITS: ApiKeyLimits = {
  requestsPerMin: API_KEY_REQUESTS_PER_MIN,
  failuresPerAddress: API_KEY_FAILURES_PER_ADDRESS,
  failureWindowMs: API_KEY_FAILURE_WINDOW_MS,
};

export class ApiKeys {
  limits: ApiKeyLimits = { ...API_KEY_LIMITS };

  constructor(private readonly d: Deps) {}

  /** Test-only: other limits for this gateway (the product's are in shared/src/limits.ts). */
  configure(l: Partial<ApiKeyLimits>): void {
    this.limits = { ...this.limits, ...l };
  }

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

  /**
   * The key a bearer secret belongs to, or null (and the failure counted against `addr`); records
   * its use at most once per API_KEY_TOUCH_MS. Throws RATE_LIMITED (with the seconds to wait) when
   * `addr` is past API_KEY_FAILURES_PER_ADDRESS failures in its window, whatever the secret (so
   * guessing from there learns nothing), or when the key has used up its API_KEY_REQUESTS_PER_MIN.
   * `addr`: the client's address as counted (http/conn-limits.ts addressKey); none, no address limit.
   */
  async authenticate(secret: string, addr?: string, now = Date.now()): Promise<ApiKey | null> {
    const r = this.d.c.cmd;
    const l = this.limits;
    const [fails, key] = await Promise.all([addr ? apiKeyFailures(r, addr) : null, KEY_RE.test(secret) ? apiKeyByHash(r, hashSecret(secret)) : null]);
    if (fails && fails.count >= l.failuresPerAddress) {
      throw new HarkError('RATE_LIMITED', 'Too many failed API key attempts from this address; retry after the time in Retry-After.', { retryAfterS: fails.leftMs / 1000 });
    }
    if (!key) {
      if (addr) await countApiKeyFailure(r, addr, l.failureWindowMs);
      return null;
    }
    const waitMs = await takeApiKeyRequest(r, key.id, l.requestsPerMin, now);
    if (waitMs > 0) throw new HarkError('RATE_LIMITED', `This API key made its ${l.requestsPerMin} requests of the minute; retry after the time in Retry-After.`, { retryAfterS: waitMs / 1000 });
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
