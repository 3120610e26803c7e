/**
 * The Redis side of a visitor's data on request (domain/privacy.ts): finding, reading and
 * deleting everything that names a visitor or one of their conversations, wherever another
 * module keeps it. No new keys: this file reads and deletes the keys of store/keys.ts
 * (`K`, `SK`) and of the event log (`EVK`), nothing else.
 *
 *   {vis:V}:info, {vis:V}:convs, {vis:V}:on the visitor's record, conversation index, presence
 *   hark:vtok:H                            token hash -> `site:visitor` (found by SCAN: the record
 *                                          keeps the hash only until the visitor's first chat)
 *   hark:vuser:S:U                         verified user id -> visitor
 *   {conv:C}:meta / :s / :cids / :packed   each conversation's record, entries, client ids, packed entries
 *   {site:S}:queue/open/resolved/assign/cteam  the site's indexes (routing state is released
 *                                          through the ROUTE script by the domain first)
 *   {hark:ev:P}:s, {hark:ev:P}:id:ID       the domain event log's entries naming them (XDEL) and
 *                                          their de-duplication keys
 *   {opstats:O}:DAY:frt/res/rate           the operators' numbers: kept, but under an anonymous
 *                                          member instead of the conversation id, rating comments dropped
 *   {wh:E}:d:D, {wh:E}:q:LANE, :due, :log  webhook deliveries whose body names them, their lanes
 *
 * Ids are random (16+ characters of the id alphabet, A-Z a-z 0-9 _ -), so "names them" is: one
 * of the runs of that alphabet in a record's raw text is the id (JSON values, `msg:<conv>:<entry>`
 * event ids, `c:<conv>` lanes alike): it does not depend on any record's format, and it costs one
 * pass over the text however many ids are looked for.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ScriptedRedis } from '../redis/scripts';
import { EVK, partitionForKey } from './event-log';
import { K, SK } from './keys';
import { scanKeys } from './migrations';
import { STATS_RETENTION_DAYS, dayOf } from './stats';
import { listSiteEndpoints } from './webhooks';

const DAY_MS = 86_400_000;
/** Event log entries read per XRANGE while looking for those naming someone. */
const LOG_PAGE = 1_000;
/**
 * Stream ids are Redis's clock, record times the gateways': a conversation's events are looked
 * for from this long before it was created.
 */
export const LOG_CLOCK_SLACK_MS = 3_600_000;

/** A conversation record left in place of an erased live one (status resolved, no visitor) until site views have dropped it. */
export const ERASED_VISITOR = '-';

const ID_RUN = /[A-Za-z0-9_-]{8,}/g;

/** Whether `raw` mentions any of `ids` (as a whole run of id characters). */
export function names(raw: string, ids: ReadonlySet<string>): boolean {
  for (const m of raw.matchAll(ID_RUN)) if (ids.has(m[0])) return true;
  return false;
}

// ---------------------------------------------------------------- the visitor

/**
 * The token keys (`hark:vtok:H`) of the given visitors, by `site:visitor`: one SCAN of the key
 * space (every master of a Cluster), since a used token's hash is kept nowhere else.
 */
export async function findTokenKeys(r: ScriptedRedis, owners: ReadonlySet<string>): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (owners.size === 0) return out;
  await scanKeys(r, K.visitorToken('*'), async (keys) => {
    const values = await Promise.all(keys.map((k) => r.get(k)));
    keys.forEach((k, i) => {
      const v = values[i];
      if (v && owners.has(v)) out.set(v, [...(out.get(v) ?? []), k]);
    });
  });
  return out;
}

/** The raw fields of a visitor's record ({} when none). */
export function visitorRecordRaw(r: ScriptedRedis, visitor: string): Promise<Record<string, string>> {
  return r.hgetall(K.visitor(visitor));
}

/** Every conversation in the visitor's index. */
export function visitorConvIds(r: ScriptedRedis, visitor: string): Promise<string[]> {
  return r.zrange(K.visitorConvs(visitor), 0, -1);
}

/** Deletes the visitor's record, conversation index, tokens and verified-user mapping. */
export async function deleteVisitorKeys(r: ScriptedRedis, v: { id: string; site: string; userId?: string; tok?: string }, tokenKeys: readonly string[]): Promise<void> {
  const keys = [K.visitor(v.id), K.visitorConvs(v.id), K.visitorOnline(v.id), K.visitorSockets(v.id), ...tokenKeys];
  if (v.tok) keys.push(K.visitorToken(v.tok));
  // One DEL per key: they live in different slots on a Cluster.
  await Promise.all(keys.map((k) => r.del(k)));
  if (v.userId) await r.eval(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`, 1, K.visitorByUser(v.site, v.userId), v.id);
}

// ---------------------------------------------------------------- conversations

/** The time (ms, Redis's clock) of a conversation's last stream entry, compacted ones included (XINFO's last id); 0 when it has none. */
export async function lastEntryAt(r: ScriptedRedis, conv: string): Promise<number> {
  try {
    const info = (await r.xinfo('STREAM', K.convStream(conv))) as unknown[];
    const i = info.indexOf('last-generated-id');
    const id = i >= 0 ? String(info[i + 1] ?? '') : '';
    return Number(id.split('-')[0]) || 0;
  } catch {
    return 0; // no stream (no entry yet)
  }
}

/** A site's resolved conversations resolved at or before `before` (ms), oldest first: [id, resolved ms]. */
export async function resolvedUpTo(r: ScriptedRedis, site: string, before: number, offset: number, count: number): Promise<[string, number][]> {
  return pairs(await r.zrangebyscore(K.siteResolved(site), '-inf', before, 'WITHSCORES', 'LIMIT', offset, count));
}

/** A site's unresolved conversations created at or before `before` (ms), oldest first: [id, created ms]. */
export async function openCreatedUpTo(r: ScriptedRedis, site: string, before: number, offset: number, count: number): Promise<[string, number][]> {
  return pairs(await r.zrangebyscore(K.siteOpen(site), '-inf', before, 'WITHSCORES', 'LIMIT', offset, count));
}

function pairs(flat: string[]): [string, number][] {
  const out: [string, number][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i] as string, Number(flat[i + 1])]);
  return out;
}

/** How many conversations a visitor's index holds. */
export function visitorConvCount(r: ScriptedRedis, visitor: string): Promise<number> {
  return r.zcard(K.visitorConvs(visitor));
}

/**
 * Deletes a conversation's data (record, entries, client ids, packed entries) and its place in
 * the site's and the visitor's indexes. The routing state (assignee, load, queue) must have
 * been released first (domain: Router.release). `keepRecord`: the record is a tombstone to keep.
 */
export async function deleteConversationKeys(r: ScriptedRedis, site: string, conv: string, visitor: string | undefined, keepRecord = false): Promise<void> {
  const keys = [K.convStream(conv), K.convCids(conv), K.convPacked(conv)];
  if (!keepRecord) keys.push(K.conv(conv));
  await Promise.all([
    ...keys.map((k) => r.del(k)),
    r.zrem(K.siteQueue(site), conv),
    r.zrem(K.siteOpen(site), conv),
    r.zrem(K.siteResolved(site), conv),
    r.hdel(K.siteConvTeam(site), conv),
  ]);
  if (visitor && visitor !== ERASED_VISITOR) {
    await r.zrem(K.visitorConvs(visitor), conv);
    await r.eval(`if redis.call('HGET', KEYS[1], 'conv') == ARGV[1] then return redis.call('HDEL', KEYS[1], 'conv') end return 0`, 1, K.visitor(visitor), conv);
  }
}

/**
 * In place of an erased conversation that operators' inboxes may still show: a record saying
 * only "resolved" (no visitor, no entries) that expires after `ttlMs`, so every site view that
 * re-reads it on the doorbell drops it (as on a resolve), and a late append is refused.
 */
export async function writeTombstone(r: ScriptedRedis, site: string, conv: string, createdAt: number, now: number, ttlMs: number): Promise<void> {
  await r.multi().del(K.conv(conv)).hset(K.conv(conv), { site, visitor: ERASED_VISITOR, status: 'resolved', createdAt: String(createdAt), resolvedAt: String(now), erased: '1' }).pexpire(K.conv(conv), ttlMs).exec();
}

// ---------------------------------------------------------------- the event log

export interface LogHit {
  partition: number;
  streamId: string;
  raw: string;
}

/** The event log partition holding the events ordered by `key` (a conversation, else a visitor). */
export function logPartitionOf(key: string): number {
  return partitionForKey(key);
}

/** A span of a partition to read (ms, Redis's clock; `to` null: to its end). */
export interface LogSpan {
  from: number;
  to: number | null;
}

/**
 * Entries of the domain event log naming any of `ids`, in the partitions given, each read over
 * its span, a page at a time.
 */
export async function findLogEntries(r: ScriptedRedis, spans: ReadonlyMap<number, LogSpan>, ids: ReadonlySet<string>): Promise<LogHit[]> {
  const out: LogHit[] = [];
  if (ids.size === 0) return out;
  for (const [p, span] of spans) {
    let start = String(Math.max(0, Math.floor(span.from)));
    const end = span.to === null ? '+' : String(Math.max(0, Math.floor(span.to)));
    for (;;) {
      const rows = await r.xrange(EVK.stream(p), start, end, 'COUNT', LOG_PAGE);
      for (const [streamId, fields] of rows) {
        for (let i = 0; i + 1 < fields.length; i += 2) {
          const raw = fields[i + 1] as string;
          if (names(raw, ids)) {
            out.push({ partition: p, streamId, raw });
            break;
          }
        }
      }
      const last = rows.at(-1);
      if (!last || rows.length < LOG_PAGE) break;
      start = `(${last[0]}`;
    }
  }
  return out;
}

/** Deletes log entries (XDEL) and the de-duplication keys of their event ids. Consumers never see a deleted entry. */
export async function deleteLogEntries(r: ScriptedRedis, hits: readonly LogHit[]): Promise<number> {
  const byPartition = new Map<number, string[]>();
  const idKeys: string[] = [];
  for (const h of hits) byPartition.set(h.partition, [...(byPartition.get(h.partition) ?? []), h.streamId]);
  for (const h of hits) {
    try {
      const id = (JSON.parse(h.raw) as { id?: unknown }).id;
      if (typeof id === 'string' && id) idKeys.push(EVK.id(h.partition, id));
    } catch {
      // not an event: only the entry goes
    }
  }
  let n = 0;
  for (const [p, ids] of byPartition) for (let i = 0; i < ids.length; i += 500) n += await r.xdel(EVK.stream(p), ...ids.slice(i, i + 500));
  await Promise.all(idKeys.map((k) => r.del(k)));
  return n;
}

// ---------------------------------------------------------------- operators' numbers

/** Per process: the anonymous member a conversation's numbers are kept under is the same in every pass of this gateway. */
const SALT = randomBytes(16);

/** The anonymous member that replaces a conversation id in the operators' numbers (not derivable from the id without this process's salt). */
export function anonymousMember(conv: string): string {
  return `erased-${createHash('sha256').update(SALT).update(conv).digest('base64url').slice(0, 16)}`;
}

const RENAME_ZMEMBER = `
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not s then return 0 end
redis.call('ZADD', KEYS[1], s, ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
`;
/** The rating keeps its value and time, not its comment (the visitor's words). */
const RENAME_RATING = `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
local ok, t = pcall(cjson.decode, v)
if ok and type(t) == 'table' and (t.rating == 'good' or t.rating == 'bad') then
  redis.call('HSET', KEYS[1], ARGV[2], cjson.encode({rating = t.rating, at = t.at}))
end
return 1
`;

/**
 * The operators' numbers (store/stats.ts) of the given conversations stay as counts, medians and
 * good/bad ratings, under an anonymous member instead of the conversation id, and without the
 * rating's comment. Looks at every day the numbers are kept, for each operator given.
 */
export async function anonymiseStats(r: ScriptedRedis, ops: Iterable<string>, convs: readonly string[], now: number): Promise<number> {
  if (convs.length === 0) return 0;
  const days = Array.from({ length: STATS_RETENTION_DAYS + 2 }, (_, i) => dayOf(now + DAY_MS - i * DAY_MS));
  const keys: [string, string][] = [];
  for (const op of new Set(ops)) {
    if (!op) continue;
    for (const day of days) keys.push([SK.frt(op, day), RENAME_ZMEMBER], [SK.res(op, day), RENAME_ZMEMBER], [SK.rate(op, day), RENAME_RATING]);
  }
  // Only the days an operator has numbers for (most have none): one EXISTS each, then the renames.
  const have = await Promise.all(keys.map(([k]) => r.exists(k)));
  const calls: Promise<unknown>[] = [];
  keys.forEach(([k, script], i) => {
    if (have[i]) for (const conv of convs) calls.push(r.eval(script, 1, k, conv, anonymousMember(conv)));
  });
  const done = await Promise.all(calls);
  return done.filter((x) => x === 1).length;
}

// ---------------------------------------------------------------- webhook deliveries

export interface DeliveryRef {
  webhook: string;
  id: string;
  eventId: string;
  type: string;
  lane: string;
  state: string;
  createdAt: number;
}

/**
 * The webhook deliveries of the site's endpoints whose body names any of `ids`, or that sit in
 * the lane of one of the conversations `convs`: every pending one (each lane), every one in the
 * delivery logs, and with `deep` every delivery record there is (a SCAN of the key space: a
 * finished record outlives its place in a full log).
 */
export async function findDeliveries(r: ScriptedRedis, site: string, ids: ReadonlySet<string>, convs: readonly string[], deep: boolean): Promise<DeliveryRef[]> {
  const endpoints = (await listSiteEndpoints(r, site)).map((e) => e.id);
  if (endpoints.length === 0 || ids.size === 0) return [];
  const candidates = new Map<string, Set<string>>(endpoints.map((e) => [e, new Set<string>()]));
  const convLanes = new Set(convs.map((c) => `c:${c}`));
  for (const ep of endpoints) {
    const set = candidates.get(ep) as Set<string>;
    for (const d of await r.zrange(K.webhookLog(ep), 0, -1)) set.add(d);
    for (const lane of new Set([...(await r.zrange(K.webhookDue(ep), 0, -1)), ...convLanes])) for (const d of await r.lrange(K.webhookLane(ep, lane), 0, -1)) set.add(d);
  }
  if (deep) {
    const prefixes = endpoints.map((ep) => [ep, K.webhookDelivery(ep, '')] as const);
    await scanKeys(r, K.webhookDelivery('*', '*'), async (keys) => {
      for (const k of keys) for (const [ep, prefix] of prefixes) if (k.startsWith(prefix)) candidates.get(ep)?.add(k.slice(prefix.length));
    });
  }
  const out: DeliveryRef[] = [];
  for (const [ep, set] of candidates) {
    const list = [...set];
    const rows = await Promise.all(list.map((d) => r.hmget(K.webhookDelivery(ep, d), 'lane', 'payload', 'eventId', 'type', 'state', 'createdAt')));
    list.forEach((d, i) => {
      const [lane = null, payload = null, eventId = null, type = null, state = null, createdAt = null] = rows[i] as (string | null)[];
      if (lane === null && payload === null) return;
      if (!(lane !== null && convLanes.has(lane)) && !names(payload ?? '', ids) && !names(eventId ?? '', ids)) return;
      out.push({ webhook: ep, id: d, eventId: eventId ?? '', type: type ?? '', lane: lane ?? '', state: state ?? '', createdAt: Number(createdAt) || 0 });
    });
  }
  return out;
}

const PURGE_DELIVERY = `
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[4], ARGV[1])
if ARGV[2] ~= '' then
  redis.call('LREM', KEYS[2], 0, ARGV[1])
  if redis.call('LLEN', KEYS[2]) == 0 then redis.call('ZREM', KEYS[3], ARGV[2]) end
end
return 1
`;

/**
 * Deletes deliveries (record, place in its lane and in the log) and the lanes of the given
 * conversations. The delivery job's attempt in flight on one of them records nothing (its record
 * is gone and it is no longer its lane's head).
 */
export async function purgeDeliveries(r: ScriptedRedis, site: string, found: readonly DeliveryRef[], convs: readonly string[]): Promise<void> {
  await Promise.all(found.map((d) => r.eval(PURGE_DELIVERY, 4, K.webhookDelivery(d.webhook, d.id), K.webhookLane(d.webhook, d.lane || 'none'), K.webhookDue(d.webhook), K.webhookLog(d.webhook), d.id, d.lane)));
  if (convs.length === 0) return;
  for (const ep of (await listSiteEndpoints(r, site)).map((e) => e.id)) {
    await Promise.all(convs.map((c) => r.del(K.webhookLane(ep, `c:${c}`))));
    await r.zrem(K.webhookDue(ep), ...convs.map((c) => `c:${c}`));
  }
}
