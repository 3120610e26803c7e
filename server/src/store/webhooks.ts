/**
 * Webhooks: a site's endpoints and their durable delivery queues (domain/webhooks.ts).
 *
 *   hark:webhooks              set   every endpoint id (the delivery job walks it)
 *   {site:S}:webhooks          set   the site's endpoint ids
 *   {site:S}:whnotices         list  notices for the site's admins (endpoint disabled), newest first
 *   {wh:E}:cfg                 hash  the endpoint's record
 *   {wh:E}:due                 zset  lane -> ms its head delivery is due
 *   {wh:E}:q:LANE              list  the lane's delivery ids, in order (head = being tried)
 *   {wh:E}:d:D                 hash  one delivery
 *   {wh:E}:log                 zset  delivery id -> created ms (the delivery log, capped)
 *
 * A lane is one conversation's deliveries to one endpoint (events without a conversation
 * get a lane of their own): only a lane's head is sent, so a conversation's events reach
 * the endpoint in order, and a failing one holds up only its own conversation. One
 * endpoint's keys share the hash tag {wh:E}, so each step is one script on one slot.
 *
 * A delivery's id is derived from (endpoint, event id) and its record is created only
 * if absent: a redelivered event enqueues nothing twice. Records of finished
 * deliveries expire after a retention time; pending ones never do.
 */
import { createHash } from 'node:crypto';
import type { WebhookNotice } from '@hark/shared';
import type { ScriptedRedis } from '../redis/scripts';
import { K } from './keys';
import { evalScript } from '../redis/eval';

export type DeliveryState = 'pending' | 'delivered' | 'failed';

export interface WebhookEndpoint {
  id: string;
  site: string;
  url: string;
  /** Event types sent, or 'all'. */
  events: string[] | 'all';
  description: string;
  enabled: boolean;
  /** `whsec_…` (stored as-is: it is needed to sign). */
  secret: string;
  /** The secret before the last rotation, still signing until prevUntil. */
  prevSecret: string | null;
  prevUntil: number;
  createdAt: number;
  /** Since when it is enabled (creation, or the last time it was enabled again): it gets the events emitted from then on. */
  enabledAt: number;
  /** Why it was disabled by the delivery job (null when enabled or disabled by an admin). */
  disabledReason: string | null;
  disabledAt: number | null;
  /** First failed attempt since the last success (null when the last attempt succeeded). */
  failingSince: number | null;
}

export interface Delivery {
  id: string;
  endpoint: string;
  eventId: string;
  type: string;
  lane: string;
  /** The event as sent: {type, timestamp, data} (JSON). */
  payload: string;
  state: DeliveryState;
  attempts: number;
  createdAt: number;
  /** Start of the retry window (created, or a manual retry). */
  first: number;
  nextAt: number | null;
  lastAt: number | null;
  lastStatus: number | null;
  excerpt: string | null;
  durationMs: number | null;
  error: string | null;
  truncated: boolean;
}

const num = (v: string | undefined): number | null => (v === undefined || v === '' || !Number.isFinite(Number(v)) ? null : Number(v));

function parseEndpoint(id: string, h: Record<string, string>): WebhookEndpoint | null {
  if (!h.site || !h.url || !h.secret) return null;
  let events: string[] | 'all' = 'all';
  try {
    const e: unknown = JSON.parse(h.events ?? '"all"');
    if (Array.isArray(e)) events = e.filter((x): x is string => typeof x === 'string');
  } catch {
    events = 'all';
  }
  return {
    id,
    site: h.site,
    url: h.url,
    events,
    description: h.description ?? '',
    enabled: h.enabled === '1',
    secret: h.secret,
    prevSecret: h.prevSecret || null,
    prevUntil: num(h.prevUntil) ?? 0,
    createdAt: num(h.createdAt) ?? 0,
    enabledAt: num(h.enabledAt) ?? num(h.createdAt) ?? 0,
    disabledReason: h.disabledReason || null,
    disabledAt: num(h.disabledAt),
    failingSince: num(h.failingSince),
  };
}

function parseDelivery(endpoint: string, id: string, h: Record<string, string>): Delivery | null {
  if (!h.eventId || !h.payload || !h.lane) return null;
  const state = h.state === 'delivered' || h.state === 'failed' ? h.state : 'pending';
  return {
    id,
    endpoint,
    eventId: h.eventId,
    type: h.type ?? '',
    lane: h.lane,
    payload: h.payload,
    state,
    attempts: num(h.attempts) ?? 0,
    createdAt: num(h.createdAt) ?? 0,
    first: num(h.first) ?? num(h.createdAt) ?? 0,
    nextAt: state === 'pending' ? num(h.next) : null,
    lastAt: num(h.lastAt),
    lastStatus: num(h.lastStatus),
    excerpt: h.excerpt ?? null,
    durationMs: num(h.durationMs),
    error: h.error || null,
    truncated: h.truncated === '1',
  };
}

/** The delivery id of an event for an endpoint: the same every time (de-duplication). */
export function deliveryId(endpoint: string, eventId: string): string {
  return createHash('sha256').update(`${endpoint}\n${eventId}`).digest('base64url').slice(0, 22);
}

// ---------------------------------------------------------------- endpoints

export async function createEndpoint(r: ScriptedRedis, ep: WebhookEndpoint, maxPerSite: number): Promise<boolean> {
  // Count and add in one script on the site's slot; the record and the global set follow.
  const added = await r.eval(
    `if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
     redis.call('SADD', KEYS[1], ARGV[1]) return 1`,
    1,
    K.siteWebhooks(ep.site),
    ep.id,
    String(maxPerSite),
  );
  if (added !== 1) return false;
  await r.hset(K.webhook(ep.id), {
    site: ep.site,
    url: ep.url,
    events: JSON.stringify(ep.events),
    description: ep.description,
    enabled: ep.enabled ? '1' : '0',
    secret: ep.secret,
    createdAt: String(ep.createdAt),
    enabledAt: String(ep.enabledAt),
  });
  await r.sadd(K.webhooks, ep.id);
  return true;
}

export async function getEndpoint(r: ScriptedRedis, id: string): Promise<WebhookEndpoint | null> {
  return parseEndpoint(id, await r.hgetall(K.webhook(id)));
}

export async function listSiteEndpoints(r: ScriptedRedis, site: string): Promise<WebhookEndpoint[]> {
  const ids = (await r.smembers(K.siteWebhooks(site))).sort();
  const out: WebhookEndpoint[] = [];
  for (const id of ids) {
    const ep = await getEndpoint(r, id);
    if (ep && ep.site === site) out.push(ep);
  }
  return out.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
}

/** How many endpoints the installation has (all sites). */
export function countEndpoints(r: ScriptedRedis): Promise<number> {
  return r.scard(K.webhooks);
}

export function listAllEndpointIds(r: ScriptedRedis): Promise<string[]> {
  return r.smembers(K.webhooks);
}

export interface EndpointPatch {
  url?: string;
  events?: string[] | 'all';
  description?: string;
  enabled?: boolean;
}

/** Updates the fields given; enabling clears the disabled reason and the failure streak. */
/**
 * KEYS: the endpoint's hash. ARGV: 1 when enabling (clears why it was disabled), then field, value…
 * Writes only if the endpoint still exists (a PATCH racing a DELETE must not leave half a record):
 * 1 written, 0 gone. Idempotent.
 */
const UPDATE_ENDPOINT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if #ARGV > 1 then redis.call('HSET', KEYS[1], unpack(ARGV, 2)) end
if ARGV[1] == '1' then redis.call('HDEL', KEYS[1], 'disabledReason', 'disabledAt', 'failingSince') end
return 1
`;

/** Applies a patch to an endpoint, atomically and only if it still exists; false when it is gone. */
export async function updateEndpoint(r: ScriptedRedis, id: string, patch: EndpointPatch): Promise<boolean> {
  const set: string[] = [];
  if (patch.url !== undefined) set.push('url', patch.url);
  if (patch.events !== undefined) set.push('events', JSON.stringify(patch.events));
  if (patch.description !== undefined) set.push('description', patch.description);
  if (patch.enabled !== undefined) set.push('enabled', patch.enabled ? '1' : '0');
  if (patch.enabled === true) set.push('enabledAt', String(Date.now()));
  return (await evalScript(r, UPDATE_ENDPOINT, 1, K.webhook(id), patch.enabled === true ? '1' : '0', ...set)) === 1;
}

/** A new secret; the old one keeps signing until `prevUntil`. */
export async function rotateSecret(r: ScriptedRedis, id: string, secret: string, prev: string, prevUntil: number): Promise<boolean> {
  return (await evalScript(r, UPDATE_ENDPOINT, 1, K.webhook(id), '0', 'secret', secret, 'prevSecret', prev, 'prevUntil', String(prevUntil))) === 1;
}

/** Deletes the endpoint, its queues and its delivery log. */
export async function deleteEndpoint(r: ScriptedRedis, ep: Pick<WebhookEndpoint, 'id' | 'site'>): Promise<void> {
  await r.srem(K.siteWebhooks(ep.site), ep.id);
  await r.srem(K.webhooks, ep.id);
  const lanes = await r.zrange(K.webhookDue(ep.id), 0, -1);
  const ds = await r.zrange(K.webhookLog(ep.id), 0, -1);
  const keys = [K.webhook(ep.id), K.webhookDue(ep.id), K.webhookLog(ep.id), ...lanes.map((l) => K.webhookLane(ep.id, l)), ...ds.map((d) => K.webhookDelivery(ep.id, d))];
  for (let i = 0; i < keys.length; i += 100) await r.del(...keys.slice(i, i + 100));
}

/**
 * A failed attempt: starts the endpoint's failure streak if none, and disables the endpoint
 * (with `reason`) once the streak is `disableAfterMs` old. True when this call disabled it.
 */
export async function recordEndpointFailure(r: ScriptedRedis, id: string, now: number, disableAfterMs: number, reason: string): Promise<boolean> {
  const res = await r.eval(
    `if redis.call('HGET', KEYS[1], 'enabled') ~= '1' then return 0 end
     local since = redis.call('HGET', KEYS[1], 'failingSince')
     if not since then redis.call('HSET', KEYS[1], 'failingSince', ARGV[1]) since = ARGV[1] end
     if tonumber(ARGV[1]) - tonumber(since) >= tonumber(ARGV[2]) then
       redis.call('HSET', KEYS[1], 'enabled', '0', 'disabledReason', ARGV[3], 'disabledAt', ARGV[1])
       return 1
     end
     return 0`,
    1,
    K.webhook(id),
    String(now),
    String(disableAfterMs),
    reason,
  );
  return res === 1;
}

/** A successful attempt ends the failure streak. */
export async function recordEndpointSuccess(r: ScriptedRedis, id: string): Promise<void> {
  await r.hdel(K.webhook(id), 'failingSince');
}

export type { WebhookNotice };

export async function addNotice(r: ScriptedRedis, site: string, n: WebhookNotice, max: number): Promise<void> {
  await r.lpush(K.siteWebhookNotices(site), JSON.stringify(n));
  await r.ltrim(K.siteWebhookNotices(site), 0, max - 1);
}

export async function listNotices(r: ScriptedRedis, site: string): Promise<WebhookNotice[]> {
  const out: WebhookNotice[] = [];
  for (const s of await r.lrange(K.siteWebhookNotices(site), 0, -1)) {
    try {
      const n = JSON.parse(s) as Partial<WebhookNotice>;
      if (typeof n.endpoint === 'string' && typeof n.url === 'string' && typeof n.reason === 'string' && typeof n.at === 'number') out.push(n as WebhookNotice);
    } catch {
      // skip a malformed notice
    }
  }
  return out;
}

// ---------------------------------------------------------------- deliveries

const ENQUEUE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('RPUSH', KEYS[2], ARGV[1])
if redis.call('LLEN', KEYS[2]) == 1 then redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2]) end
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
local n = redis.call('ZCARD', KEYS[4])
local max = tonumber(ARGV[4])
if n > max then redis.call('ZREMRANGEBYRANK', KEYS[4], 0, n - max - 1) end
return 1
`;

export interface NewDelivery {
  id: string;
  eventId: string;
  type: string;
  lane: string;
  payload: string;
}

/** Queues a delivery at the end of its lane, once per id: false when it was there already. */
export async function enqueueDelivery(r: ScriptedRedis, endpoint: string, d: NewDelivery, now: number, logMax: number): Promise<boolean> {
  const fields = ['eventId', d.eventId, 'type', d.type, 'lane', d.lane, 'payload', d.payload, 'state', 'pending', 'attempts', '0', 'createdAt', String(now), 'first', String(now), 'next', String(now)];
  const res = await evalScript(r, ENQUEUE, 4, K.webhookDelivery(endpoint, d.id), K.webhookLane(endpoint, d.lane), K.webhookDue(endpoint), K.webhookLog(endpoint), d.id, d.lane, String(now), String(logMax), ...fields);
  return res === 1;
}

/** Lanes whose head is due at `now`, earliest first. */
export function dueLanes(r: ScriptedRedis, endpoint: string, now: number, limit: number): Promise<string[]> {
  return r.zrangebyscore(K.webhookDue(endpoint), '-inf', String(now), 'LIMIT', 0, limit);
}

/** The lane's head delivery (null when the lane is empty: then it is dropped from the due set). */
export async function laneHead(r: ScriptedRedis, endpoint: string, lane: string): Promise<Delivery | null> {
  const id = await r.lindex(K.webhookLane(endpoint, lane), 0);
  if (id === null) {
    await r.eval(`if redis.call('LLEN', KEYS[1]) == 0 then redis.call('ZREM', KEYS[2], ARGV[1]) end return 1`, 2, K.webhookLane(endpoint, lane), K.webhookDue(endpoint), lane);
    return null;
  }
  const d = parseDelivery(endpoint, id, await r.hgetall(K.webhookDelivery(endpoint, id)));
  if (!d) {
    // A record gone (expired or corrupt): drop it from the lane so the lane moves on.
    await finishAttempt(r, endpoint, id, lane, 'failed', Date.now(), 0, 1, { error: 'delivery record missing' });
  }
  return d;
}

const FINISH = `
local head = redis.call('LINDEX', KEYS[2], 0) == ARGV[1]
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'attempts', 1)
  if #ARGV >= 7 then redis.call('HSET', KEYS[1], unpack(ARGV, 7)) end
end
if not head then return 0 end
if ARGV[3] == 'retry' then
  if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'state', 'pending', 'next', ARGV[5]) end
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[2])
  return 1
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'state', ARGV[3])
  redis.call('HDEL', KEYS[1], 'next')
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
end
redis.call('LPOP', KEYS[2])
if redis.call('LLEN', KEYS[2]) > 0 then redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2]) else redis.call('ZREM', KEYS[3], ARGV[2]) end
return 1
`;

/**
 * Records an attempt of a lane's head: 'retry' keeps it at the head, due at `nextAt`;
 * 'delivered' and 'failed' finish it (its record expires after `retentionMs`) and make
 * the next one of the lane due at once. Fenced: if the delivery is no longer the head,
 * only the attempt is recorded.
 */
export async function finishAttempt(
  r: ScriptedRedis,
  endpoint: string,
  id: string,
  lane: string,
  outcome: 'retry' | 'delivered' | 'failed',
  now: number,
  nextAt: number,
  retentionMs: number,
  fields: Record<string, string>,
): Promise<boolean> {
  const kv = Object.entries(fields).flat();
  const res = await evalScript(r, FINISH, 3, K.webhookDelivery(endpoint, id), K.webhookLane(endpoint, lane), K.webhookDue(endpoint), id, lane, outcome, String(now), String(nextAt), String(retentionMs), ...kv);
  return res === 1;
}

const RETRY = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HGET', KEYS[1], 'state') == 'pending' then
  if redis.call('LINDEX', KEYS[2], 0) == ARGV[1] then
    redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
    redis.call('HSET', KEYS[1], 'next', ARGV[3])
  end
  return 1
end
redis.call('PERSIST', KEYS[1])
redis.call('HSET', KEYS[1], 'state', 'pending', 'first', ARGV[3], 'next', ARGV[3])
redis.call('RPUSH', KEYS[2], ARGV[1])
if redis.call('LLEN', KEYS[2]) == 1 then redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2]) end
return 1
`;

/** Sends a delivery again (a finished one is queued at the end of its lane; a pending head is made due now). False when unknown. */
export async function retryDelivery(r: ScriptedRedis, endpoint: string, id: string, now: number): Promise<boolean> {
  const lane = await r.hget(K.webhookDelivery(endpoint, id), 'lane');
  if (lane === null) return false;
  const res = await evalScript(r, RETRY, 3, K.webhookDelivery(endpoint, id), K.webhookLane(endpoint, lane), K.webhookDue(endpoint), id, lane, String(now));
  return res === 1;
}

export async function getDelivery(r: ScriptedRedis, endpoint: string, id: string): Promise<Delivery | null> {
  return parseDelivery(endpoint, id, await r.hgetall(K.webhookDelivery(endpoint, id)));
}

/** The delivery log, newest first (records expired since are left out and dropped from the log). */
export async function listDeliveries(r: ScriptedRedis, endpoint: string, limit: number): Promise<Delivery[]> {
  const ids = await r.zrevrange(K.webhookLog(endpoint), 0, limit - 1);
  const out: Delivery[] = [];
  for (const id of ids) {
    const d = await getDelivery(r, endpoint, id);
    if (d) out.push(d);
    else await r.zrem(K.webhookLog(endpoint), id);
  }
  return out;
}
