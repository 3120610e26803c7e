/**
 * The durable domain event log, in Redis.
 *
 * Layout: EVENT_PARTITIONS streams, `{hark:ev:P}:s`. An event goes to the partition
 * of its order key (domain/events.ts `orderKey`: the conversation, else the operator
 * or visitor it is about, else the site): partition = FNV-1a 32 (UTF-8 bytes) mod
 * EVENT_PARTITIONS, so all events of one conversation are in one stream, in emit
 * order. Everything about partition P shares the hash tag {hark:ev:P}, so each
 * script below touches one slot and the log works on Redis Cluster, with partitions
 * spread over the masters:
 *
 *   {hark:ev:P}:s               the stream; field `e` = the event's JSON
 *   {hark:ev:P}:id:<event id>   '1' for EVENT_ID_TTL_MS: the id was stored (dedup)
 *   {hark:ev:P}:done:<consumer> the stream id up to which the consumer is done (watermark)
 *   {hark:ev:P}:lease:<consumer> the gateway id handling P for the consumer (PX lease)
 *   {hark:ev:P}:clean:<consumer> set when a holder released the lease cleanly (nothing in hand)
 *   {hark:ev:P}:x:<suffix>      keys of transactional consumers (`partitionKey`)
 *   hark:ev:members:<consumer>  zset gateway -> expiry (Redis time, ms): who shares the work
 *   hark:ev:members:@serving    the same for the processes serving sockets (the per-site limit's share)
 *
 * A consumer's position on a partition is its done watermark alone: its lease holder reads
 * the stream with XRANGE after the last entry it read (from the watermark after taking the
 * lease) and acks by moving the watermark. No consumer groups: Redis logged every entry a
 * group handed out as an XCLAIM in its AOF, once per consumer (23 % of the AOF's bytes
 * under chat load, BENCHMARKS.md), and a holder that reads in order and acks in order
 * needs no pending list: what it had in hand when it died is exactly what follows the
 * watermark. (Streams of data written before schema 6 may still carry the groups of the
 * code before; migration 6 removes them.)
 *
 * Every step of a consumer (prepare, read, ack) is one script that first checks that the
 * caller still holds the partition's lease, so a gateway that lost its lease (paused,
 * partitioned away) can neither read entries nor ack them. The ack moves the watermark
 * and runs a transactional consumer's commands in the same script, only if the watermark
 * is below the entry: a resent ack (ioredis resends a command whose reply a dropped
 * connection lost) or a late one changes nothing. Each script is idempotent or fenced,
 * as store/scripts.ts asks of every script.
 *
 * Retention: a partition keeps about EVENT_LOG_MAXLEN entries (XADD MAXLEN ~). A
 * consumer lagging further behind than that loses the trimmed events (logged, counted).
 */
import { Cluster, type Redis, type Result } from 'ioredis';
import { type DomainEvent, EVENT_TYPES, type EventInput, orderKey, parseEvent, parseInput, randomEventId, validEventId } from './events';

/** Every event type this version knows, for the read script's filter. */
const KNOWN_TYPES = EVENT_TYPES.join(',');

/** Streams the log is split into. Changing it moves conversations between partitions (order across the change is lost): pick once. */
export const EVENT_PARTITIONS = 16;
/** Entries kept per partition (approximate trim). The most any consumer may lag behind without losing events. */
export const EVENT_LOG_MAXLEN = 200_000;
/** How long an event id is remembered: emitting the same id again within this window stores nothing. */
export const EVENT_ID_TTL_MS = 60 * 60 * 1000;
/** Lease of one gateway on one partition for one consumer; renewed every third of it. */
export const LEASE_MS = 10_000;
/** Prefix of every key of the log (moves to store/keys.ts later). */
export const EVENT_KEY_PREFIX = 'hark:ev';

type Cmd = Redis | Cluster;

const tag = (p: number) => `{${EVENT_KEY_PREFIX}:${p}}`;

export const EVK = {
  stream: (p: number) => `${tag(p)}:s`,
  id: (p: number, id: string) => `${tag(p)}:id:${id}`,
  done: (p: number, consumer: string) => `${tag(p)}:done:${consumer}`,
  lease: (p: number, consumer: string) => `${tag(p)}:lease:${consumer}`,
  clean: (p: number, consumer: string) => `${tag(p)}:clean:${consumer}`,
  members: (consumer: string) => `${EVENT_KEY_PREFIX}:members:${consumer}`,
} as const;

/**
 * A key in partition P's slot, for a transactional consumer's own state (so its
 * commands can run in the ack's script). Namespaced under `:x:` so it can never
 * collide with the log's own keys.
 */
export function partitionKey(p: number, suffix: string): string {
  return `${tag(p)}:x:${suffix}`;
}

/** Whether `key` hashes to partition P's slot (its hash tag is P's). */
export function inPartition(key: string, p: number): boolean {
  return key.startsWith(`${tag(p)}`);
}

/** FNV-1a, 32 bit, over the UTF-8 bytes: stable across processes and languages. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // Keys are ASCII (ids): hash the code units as they are, without encoding; anything else goes through UTF-8.
    if (c >= 0x80) return fnv1aBytes(s);
    h ^= c;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function fnv1aBytes(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export function partitionForKey(key: string): number {
  return fnv1a(key) % EVENT_PARTITIONS;
}

/** The partition an event is stored in (by its order key: conversation, else operator/visitor, else site). */
export function partitionOf(e: EventInput | DomainEvent): number {
  return partitionForKey(orderKey(e));
}

// ---------------------------------------------------------------- scripts

/**
 * KEYS: id key, stream. ARGV: ttl ms, maxlen, json. The new stream id, or nil when the
 * id was already stored. (SET NX PX and XADD, in the order that leaves nothing behind
 * if the XADD fails: a script's writes are not rolled back.)
 */
const EMIT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'e', ARGV[3])
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
return id
`;

/** KEYS: lease. ARGV: gateway, ms. 2 = acquired (was free), 1 = renewed (was ours), 0 = someone else's. */
const LEASE = `
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;

/**
 * KEYS: lease, clean. ARGV: gateway. Deletes the lease only if it is the caller's, and
 * notes that it was left cleanly (no event in hand) for the next holder.
 */
const RELEASE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], '1')
return 1
`;

/** Lua: cmp(a, b) of two stream ids, -1, 0 or 1. They compare as (ms, seq), each a decimal number: the longer one is larger. */
export const LUA_CMP_IDS = `local function cmp(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if #am ~= #bm then return #am < #bm and -1 or 1 end
  if am ~= bm then return am < bm and -1 or 1 end
  if #as ~= #bs then return #as < #bs and -1 or 1 end
  if as ~= bs then return as < bs and -1 or 1 end
  return 0
end`;

const FENCE = `if redis.call('GET', KEYS[LEASE]) ~= ARGV[1] then return {-1} end`;

/**
 * On taking a lease. KEYS: done, lease, clean. ARGV: gateway. Returns {1, watermark or '',
 * 1 if the former holder left cleanly}; {-1} if the lease is not the caller's.
 */
const PREPARE = `
${FENCE.replace('LEASE', '2')}
local clean = redis.call('DEL', KEYS[3])
return {1, redis.call('GET', KEYS[1]) or '', clean}
`;

/**
 * KEYS: stream, lease, done. ARGV: gateway, after (a stream id: entries after it; '0-0' from the
 * start), count, types (comma-separated; '' = all; '-' = none; `type/author` = only that type's
 * events whose `by` is that author), every known type. Reads up to `count` entries after `after`
 * and returns those of the wanted types: {1, entries, read, last id read or '', 1 if the stream's
 * oldest entry is past `after` (entries the caller never read were trimmed or deleted)} ({-1}
 * without the lease).
 *
 * The caller reads only with nothing in hand (every wanted entry it read before is acked), so the
 * watermark is moved here to `after` and over the entries passed over, up to the first wanted one:
 * a consumer of rare events stays at the head of the log without an ack per read. It only ever
 * moves forward.
 */
const READ = `
${FENCE.replace('LEASE', '2')}
${LUA_CMP_IDS}
local gone = 0
if ARGV[2] ~= '0-0' then
  local head = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
  if head and cmp(head[1], ARGV[2]) > 0 then gone = 1 end
end
local function raise(upto)
  local done = redis.call('GET', KEYS[3])
  if not done or cmp(upto, done) > 0 then redis.call('SET', KEYS[3], upto) end
end
-- Everything the caller read before is acked (it reads with nothing in hand): the watermark goes
-- at least to where it read, over the entries it passed over after its last wanted one.
if ARGV[2] ~= '0-0' then raise(ARGV[2]) end
local entries = redis.call('XRANGE', KEYS[1], '(' .. ARGV[2], '+', 'COUNT', ARGV[3])
local last = ''
if #entries > 0 then last = entries[#entries][1] end
if not ARGV[4] or ARGV[4] == '' then return {1, entries, #entries, last, gone} end
local want, wantBy, known = {}, {}, {}
for t in string.gmatch(ARGV[4], '[^,]+') do
  -- 'type/author': of that type, only the events whose "by" is that author.
  local base, by = string.match(t, '^([^/]+)/(.+)$')
  if base then
    wantBy[base] = wantBy[base] or {}
    wantBy[base][by] = true
  else
    want[t] = true
  end
end
for t in string.gmatch(ARGV[5] or '', '[^,]+') do known[t] = true end
-- Passed over here: a known type the consumer does not want (an unknown one goes on, to be logged there).
local function unwanted(e)
  local f, json = e[2], nil
  for i = 1, #f, 2 do if f[i] == 'e' then json = f[i + 1] end end
  local t = json and string.match(json, '"type":"([^"]+)"')
  if not (t and known[t]) or want[t] then return false end
  local by = wantBy[t] and string.match(json, '"by":"([^"]+)"')
  return not (by and wantBy[t][by])
end
local keep, upto = {}, nil
for _, e in ipairs(entries) do
  if unwanted(e) then
    if #keep == 0 then upto = e[1] end
  else
    keep[#keep + 1] = e
  end
end
if upto then raise(upto) end
return {1, keep, #entries, last, gone}
`;

/**
 * KEYS: done, lease, then the keys of the extra commands (declared for Cluster).
 * ARGV: gateway, extra commands (JSON [[cmd, arg…]…] or ''), the stream id acked (the last of
 * what is acked). If it is above the watermark, runs the extra commands (like MULTI: each runs,
 * an error is reported and does not stop the others) and moves the watermark to it.
 * {1, errors…} applied, {0} already done before, {-1} lease not ours.
 */
const ACK = `
${FENCE.replace('LEASE', '2')}
${LUA_CMP_IDS}
local last = ARGV[3]
local done = redis.call('GET', KEYS[1])
if done and cmp(done, last) >= 0 then return {0} end
local out = {1}
if ARGV[2] ~= '' then
  for _, c in ipairs(cjson.decode(ARGV[2])) do
    local r = redis.pcall(unpack(c))
    if type(r) == 'table' and r.err then out[#out + 1] = c[1] .. ': ' .. r.err end
  end
end
redis.call('SET', KEYS[1], last)
return out
`;

/**
 * KEYS: members. ARGV: gateway, ttl ms (0 = leave). Registers the gateway until now+ttl
 * (Redis's clock, so gateways' clocks do not matter), drops expired ones, returns the
 * live members sorted.
 */
const MEMBERS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl * 3)
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return redis.call('ZRANGE', KEYS[1], 0, -1)
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    harkEvEmit(idKey: string, stream: string, ttlMs: string, maxlen: string, json: string): Result<string | null, Context>;
    harkEvLease(lease: string, gateway: string, ms: string): Result<number, Context>;
    harkEvRelease(lease: string, clean: string, gateway: string): Result<number, Context>;
    harkEvPrepare(done: string, lease: string, clean: string, gateway: string): Result<[number, string?, number?], Context>;
    harkEvRead(stream: string, lease: string, done: string, gateway: string, after: string, count: string, types: string, known: string): Result<unknown[], Context>;
    harkEvMembers(members: string, gateway: string, ttlMs: string): Result<string[], Context>;
  }
}

/** Keys every ack declares (watermark, lease); a transaction's come after. */
const ACK_FIXED_KEYS = 2;
/** Maximum distinct keys a transaction may touch. */
export const MAX_TX_KEYS = 16;

const ready = new WeakMap<Cmd, Promise<void>>();
const emitReady = new WeakMap<Cmd, Promise<void>>();

/**
 * Defines only the emit script on a client: the one the gateway's hot path uses. ioredis copies
 * every script a client defines into each autopipeline it opens (two closures per script per
 * flush), so the consumers' scripts (lease, read, claim, acks) live on the consumers' own client
 * (domain/event-consumers.ts `ownClient`), not on the command client every message goes through.
 */
export function defineEmitScript<R extends Cmd>(cmd: R): R {
  if (emitReady.has(cmd) || ready.has(cmd)) return cmd;
  cmd.defineCommand('harkEvEmit', { numberOfKeys: 2, lua: EMIT });
  emitReady.set(cmd, Promise.resolve());
  return cmd;
}

/**
 * Defines the log's scripts on a client (EVALSHA, loaded on first use; on Cluster per
 * node). Call it where the client is made, before any command is sent (as
 * store/scripts.ts `defineScripts` does for its own): ioredis copies a client's
 * scripts into an autopipeline when it opens one, so a script defined while one is
 * being filled is missing from it (the call fails and ioredis then throws from its
 * callback). Without that call, the functions below define the scripts on first use
 * and hold their calls until the autopipelines open at that moment are sent.
 */
export function defineEventLogScripts<R extends Cmd>(cmd: R): R {
  if (ready.has(cmd)) return cmd;
  if (!emitReady.has(cmd)) cmd.defineCommand('harkEvEmit', { numberOfKeys: 2, lua: EMIT });
  cmd.defineCommand('harkEvLease', { numberOfKeys: 1, lua: LEASE });
  cmd.defineCommand('harkEvRelease', { numberOfKeys: 2, lua: RELEASE });
  cmd.defineCommand('harkEvPrepare', { numberOfKeys: 3, lua: PREPARE });
  cmd.defineCommand('harkEvRead', { numberOfKeys: 3, lua: READ });
  cmd.defineCommand('harkEvMembers', { numberOfKeys: 1, lua: MEMBERS });
  // One ack per key count, all up front (see ackScript).
  for (let n = ACK_FIXED_KEYS; n <= ACK_FIXED_KEYS + MAX_TX_KEYS; n++) cmd.defineCommand(`harkEvAck${n}`, { numberOfKeys: n, lua: ACK });
  ready.set(cmd, Promise.resolve());
  return cmd;
}

/**
 * A connection of a consumer runner's own to the same Redis (or Cluster): without autopipelining
 * (each consumer step is its own command; no autopipeline copies its scripts) and with the log's
 * scripts defined before any command. The caller closes it.
 */
export function consumerConnection<R extends Cmd>(c: R): R {
  const d = c instanceof Cluster ? c.duplicate(undefined, { enableAutoPipelining: false }) : (c as Redis).duplicate({ enableAutoPipelining: false });
  return defineEventLogScripts(d as R);
}

/** ioredis internals (5.x): the autopipelines being filled, by slot group. Absent elsewhere: then nothing is waited for. */
function openAutoPipelines(cmd: Cmd): Set<unknown> {
  const m = (cmd as unknown as { _autoPipelines?: Map<string, unknown> })._autoPipelines;
  return new Set(m instanceof Map ? m.values() : []);
}

/** Upper bound on waiting for autopipelines opened before the scripts were defined. */
const DEFINE_WAIT_MS = 5_000;

async function scripted(cmd: Cmd): Promise<Cmd> {
  return defineLazily(cmd, ready, defineEventLogScripts);
}

/** The emit script only (on a client that has all of them, those). */
async function scriptedEmit(cmd: Cmd): Promise<Cmd> {
  const all = ready.get(cmd);
  if (all) {
    await all;
    return cmd;
  }
  return defineLazily(cmd, emitReady, defineEmitScript);
}

async function defineLazily(cmd: Cmd, map: WeakMap<Cmd, Promise<void>>, define: (c: Cmd) => Cmd): Promise<Cmd> {
  let p = map.get(cmd);
  if (!p) {
    const stale = openAutoPipelines(cmd);
    define(cmd);
    if (stale.size > 0) {
      p = (async () => {
        const deadline = Date.now() + DEFINE_WAIT_MS;
        while (Date.now() < deadline && [...openAutoPipelines(cmd)].some((x) => stale.has(x))) await new Promise((r) => setTimeout(r, 1));
      })();
      map.set(cmd, p);
    } else {
      p = map.get(cmd) as Promise<void>;
    }
  }
  await p;
  return cmd;
}

// ---------------------------------------------------------------- emit

export interface Emitted {
  /** The event's id (the one given, or a random one). */
  id: string;
  partition: number;
  /** Its stream entry id; null when the id was already stored (nothing was added). */
  streamId: string | null;
  /** False when the log already had this id (from an earlier emit, or this one resent by ioredis after a lost reply). */
  stored: boolean;
}

/**
 * Records an event: one script on the partition's slot, SET id NX PX EVENT_ID_TTL_MS
 * and, only if that was new, XADD (MAXLEN ~ EVENT_LOG_MAXLEN). The same id twice is
 * stored once, so a caller retrying after an unknown outcome passes the same id (a
 * deterministic one, domain/events.ts `eventId`). The input is validated first.
 */
export async function emit(cmd: Cmd, input: EventInput, id?: string, now = Date.now()): Promise<Emitted> {
  const clean = parseInput(input);
  if (!clean) throw new Error(`invalid domain event: ${JSON.stringify(input)}`);
  const eid = id ?? randomEventId();
  if (!validEventId(eid)) throw new Error(`invalid event id: ${JSON.stringify(eid)}`);
  const event = { id: eid, at: now, ...clean } as DomainEvent;
  const p = partitionOf(event);
  const streamId = await (await scriptedEmit(cmd)).harkEvEmit(EVK.id(p, eid), EVK.stream(p), String(EVENT_ID_TTL_MS), String(EVENT_LOG_MAXLEN), JSON.stringify(event));
  return { id: eid, partition: p, streamId: streamId ?? null, stored: streamId != null };
}

/**
 * A message's or note's event, to be recorded by the append script itself in the same step as the
 * entry (redis/scripts.ts APPEND, ARGV[10..16]): the event's JSON split around its entry id, which
 * only the append knows, and its id `<prefix><entry id>`. A single Redis only: the partition's
 * keys are not in the conversation's slot. The input is validated here (with a stand-in entry id).
 */
export interface FusedEvent {
  partition: number;
  /** ARGV[10..16] of the append script. */
  args: [stream: string, idKeyPrefix: string, before: string, between: string, after: string, ttlMs: string, maxlen: string];
}

/** A stand-in entry id for validating the input (any id of the stream's form would do). */
const ENTRY_STAND_IN = '0-1';

export function fusedEvent(input: EventInput & { entry: string }, idPrefix: string, now = Date.now()): FusedEvent {
  const clean = parseInput({ ...input, entry: ENTRY_STAND_IN });
  if (!clean || !validEventId(`${idPrefix}${ENTRY_STAND_IN}`)) throw new Error(`invalid domain event: ${JSON.stringify(input)}`);
  const { entry: _entry, ...rest } = clean as EventInput & { entry: string };
  const p = partitionOf(clean);
  // {"id":"<prefix><entry>","entry":"<entry>",…the rest}: the keys' order does not matter to parseEvent.
  const tail = JSON.stringify({ at: now, ...rest });
  const before = `{"id":${JSON.stringify(idPrefix).slice(0, -1)}`;
  return { partition: p, args: [EVK.stream(p), EVK.id(p, idPrefix), before, '","entry":"', `",${tail.slice(1)}`, String(EVENT_ID_TTL_MS), String(EVENT_LOG_MAXLEN)] };
}

// ---------------------------------------------------------------- consumers' side

export interface LogEntry {
  streamId: string;
  /** The parsed event; null when the record is not a valid event (logged and skipped by the runner). */
  event: DomainEvent | null;
  raw: string | null;
}

function toEntries(list: unknown): LogEntry[] {
  if (!Array.isArray(list)) return [];
  const out: LogEntry[] = [];
  for (const item of list) {
    if (!Array.isArray(item) || typeof item[0] !== 'string') continue;
    const fields: unknown = item[1];
    let raw: string | null = null;
    if (Array.isArray(fields)) {
      for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'e' && typeof fields[i + 1] === 'string') raw = fields[i + 1] as string;
    }
    out.push({ streamId: item[0], event: raw === null ? null : parseEvent(raw), raw });
  }
  return out;
}

/** A step refused because the lease is not (or no longer) the caller's. */
export class LeaseLostError extends Error {
  constructor(p: number, consumer: string) {
    super(`lease on event partition ${p} for ${consumer} is not ours`);
    this.name = 'LeaseLostError';
  }
}

/**
 * Takes or renews the lease of `gateway` on partition P for `consumer` (compare-and-set:
 * only if it is free or already ours). 'acquired' when it was free (the caller must
 * recover: someone else may have handled entries meanwhile), 'renewed', or 'taken'.
 */
export async function takeLease(cmd: Cmd, p: number, consumer: string, gateway: string, ms = LEASE_MS): Promise<'acquired' | 'renewed' | 'taken'> {
  const r = await (await scripted(cmd)).harkEvLease(EVK.lease(p, consumer), gateway, String(ms));
  return r === 2 ? 'acquired' : r === 1 ? 'renewed' : 'taken';
}

/** Frees the lease if it is ours (a clean stop, a hand-over); true if it was. */
export async function releaseLease(cmd: Cmd, p: number, consumer: string, gateway: string): Promise<boolean> {
  return (await (await scripted(cmd)).harkEvRelease(EVK.lease(p, consumer), EVK.clean(p, consumer), gateway)) === 1;
}

/**
 * The lease holder's first step: the done watermark (null when none yet), where its reads
 * start, and whether the former holder released the lease cleanly (then no event was in its
 * hands).
 */
export async function prepare(cmd: Cmd, p: number, consumer: string, gateway: string): Promise<{ done: string | null; clean: boolean }> {
  const r = await (await scripted(cmd)).harkEvPrepare(EVK.done(p, consumer), EVK.lease(p, consumer), EVK.clean(p, consumer), gateway);
  if (r[0] !== 1) throw new LeaseLostError(p, consumer);
  return { done: r[1] || null, clean: r[2] === 1 };
}

/**
 * Up to `count` entries after stream id `after` ('0-0': from the start), those of the wanted
 * `types` (see READ); `read` counts every entry read, `last` is the last one's id (null when none),
 * `gone` says the stream's oldest entry is past `after`: entries after it were trimmed (or erased)
 * before this consumer read them.
 */
export async function readNew(cmd: Cmd, p: number, consumer: string, gateway: string, after: string, count: number, types = ''): Promise<{ entries: LogEntry[]; read: number; last: string | null; gone: boolean }> {
  const r = await (await scripted(cmd)).harkEvRead(EVK.stream(p), EVK.lease(p, consumer), EVK.done(p, consumer), gateway, after, String(count), types, KNOWN_TYPES);
  if (r[0] !== 1) throw new LeaseLostError(p, consumer);
  return { entries: toEntries(r[1]), read: Number(r[2]), last: (r[3] as string) || null, gone: r[4] === 1 };
}

/**
 * Commands a transactional consumer adds to an event's ack. They run in the ack's
 * script, atomically with the watermark, and only if the event was not
 * acked before: their effect happens exactly once. Every key must be in the event's
 * partition slot: build them with `key(suffix)` (= partitionKey(P, suffix)).
 * As in MULTI, a command that fails (wrong type…) is reported and does not stop the others.
 */
export class PartitionTx {
  readonly commands: string[][] = [];
  readonly keys: string[] = [];
  constructor(readonly partition: number) {}
  key(suffix: string): string {
    return partitionKey(this.partition, suffix);
  }
  /** Adds `command keys… args…`. */
  call(command: string, keys: readonly string[], ...args: (string | number)[]): this {
    for (const k of keys) if (!inPartition(k, this.partition)) throw new Error(`key ${k} is not in event partition ${this.partition}; use tx.key()`);
    this.commands.push([command, ...keys, ...args.map(String)]);
    this.keys.push(...keys);
    return this;
  }
}

export interface AckResult {
  /** 'acked' applied now; 'already' the watermark was at or past it (nothing run); 'lost' the lease is not ours (nothing done). */
  status: 'acked' | 'already' | 'lost';
  /** Errors of a transactional consumer's commands. */
  errors: string[];
}

/** Maximum ids in one ack (Lua unpack limit is far above). */
export const MAX_ACK_IDS = 1_000;

type AckFn = (...args: string[]) => Promise<(number | string)[]>;

/**
 * The ack script is defined once per key count (harkEvAck2…): ioredis's autopipelining
 * picks a command's slot from its first argument, which must therefore be a key of the
 * partition, not a key count as a variadic script would have it.
 */
async function ackScript(cmd: Cmd, nKeys: number): Promise<AckFn> {
  const fn = ((await scripted(cmd)) as unknown as Record<string, AckFn | undefined>)[`harkEvAck${nKeys}`];
  if (!fn) throw new Error(`no ack script for ${nKeys} keys`);
  return fn.bind(cmd);
}

/**
 * Acks entries of partition P (ascending ids) for `consumer`, fenced by the lease: if the
 * last id is above the done watermark, the transaction's commands and the watermark, in
 * one script on the partition's slot. Safe to repeat.
 */
export async function ackEntries(cmd: Cmd, p: number, consumer: string, gateway: string, streamIds: readonly string[], tx?: PartitionTx): Promise<AckResult> {
  if (streamIds.length === 0 || streamIds.length > MAX_ACK_IDS) throw new Error(`ack of ${streamIds.length} ids`);
  if (tx && tx.partition !== p) throw new Error('transaction of another partition');
  const keys = [EVK.done(p, consumer), EVK.lease(p, consumer), ...new Set(tx?.keys ?? [])];
  if (keys.length > ACK_FIXED_KEYS + MAX_TX_KEYS) throw new Error(`a transaction may touch at most ${MAX_TX_KEYS} keys`);
  const cmds = tx && tx.commands.length > 0 ? JSON.stringify(tx.commands) : '';
  const r = await (await ackScript(cmd, keys.length))(...keys, gateway, cmds, streamIds[streamIds.length - 1] as string);
  const status = r[0] === 1 ? 'acked' : r[0] === 0 ? 'already' : 'lost';
  return { status, errors: r.slice(1).map(String) };
}

/** The done watermark of `consumer` on partition P (null when none). */
export async function doneWatermark(cmd: Cmd, p: number, consumer: string): Promise<string | null> {
  return cmd.get(EVK.done(p, consumer));
}

/** Registers `gateway` as sharing `consumer`'s work for ttlMs (0 = leaves); returns the live gateways, sorted. */
export async function heartbeat(cmd: Cmd, consumer: string, gateway: string, ttlMs: number): Promise<string[]> {
  const members = await (await scripted(cmd)).harkEvMembers(EVK.members(consumer), gateway, String(Math.max(0, Math.round(ttlMs))));
  return members.sort();
}
