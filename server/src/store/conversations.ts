import type { FusedEvent } from './event-log';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { CATCHUP_PAGE, HarkError, compareStreamIds, type ConvSummary, type Entry, type Rating, type VisitorConv, randomId } from '@hark/shared';
import { type Connections, REPLICA_WAIT_MS } from '../redis/client';
import { K } from './keys';
import type { ScriptedRedis } from '../redis/scripts';
import { getVisitor, visitorInfo } from './visitors';
import { intern, json, jsonStrings, num, oneOf, optNum } from './util';

export type ConvState = 'new' | 'queued' | 'open' | 'resolved';
const CONV_STATES: readonly ConvState[] = ['new', 'queued', 'open', 'resolved'];
const KINDS: readonly string[] = ['msg', 'note', 'event'];

/** A stored entry's JSON, parsed and checked for the fields every reader relies on (kind, time); null if it is not one. */
export function parseEntryJson(raw: string | undefined): Entry | null {
  const e = json<Partial<Entry> | null>(raw, null);
  if (!e || typeof e !== 'object' || !KINDS.includes(e.kind as string) || typeof e.at !== 'number') return null;
  // Entries written before avatars were served as images carry the photo (a data: URL, up to
  // 200 KB) in `op` / `to`: never sent on (the conversation's opAvatar is the photo).
  if (e.op?.avatar !== undefined) delete e.op.avatar;
  if (e.to?.avatar !== undefined) delete e.to.avatar;
  return e as Entry;
}

export interface ConvMeta {
  id: string;
  site: string;
  visitor: string;
  status: ConvState;
  op?: string;
  opName?: string;
  opAvatar?: string;
  team?: string;
  createdAt: number;
  queuedAt?: number;
  assignedAt?: number;
  firstResponseAt?: number;
  resolvedAt?: number;
  waitingSince?: number;
  /** Left through the offline form and not yet live (see Conversations.leaveOfflineMessage). */
  offline?: boolean;
  lastId?: string;
  last?: Entry;
  rating?: Rating;
  ratingComment?: string;
  /** Operators who joined (supervisors) and may write besides the assignee. */
  joined: string[];
  /** Last stream id the operator side has seen. */
  opSeen?: string;
}

export async function getMeta(r: ScriptedRedis, conv: string): Promise<ConvMeta | null> {
  const h = await r.hgetall(K.conv(conv));
  if (!h.site || !h.visitor) return null;
  const m: ConvMeta = {
    id: conv,
    site: intern(h.site),
    visitor: h.visitor,
    status: intern(oneOf<ConvState>(h.status, CONV_STATES, 'new')),
    createdAt: num(h.createdAt),
    joined: jsonStrings(h.joined),
  };
  if (h.op) m.op = intern(h.op);
  if (h.opName) m.opName = intern(h.opName);
  if (h.opAvatar) m.opAvatar = intern(h.opAvatar);
  if (h.team) m.team = intern(h.team);
  m.queuedAt = optNum(h.queuedAt);
  m.assignedAt = optNum(h.assignedAt);
  m.firstResponseAt = optNum(h.firstResponseAt);
  m.resolvedAt = optNum(h.resolvedAt);
  m.waitingSince = optNum(h.waitingSince);
  // Added with e-mail (issue 14): records written before have no such field and read as not offline.
  if (h.offline === '1') m.offline = true;
  if (h.lastId && h.last) {
    const last = parseEntryJson(h.last);
    if (last) {
      last.id = h.lastId;
      last.conv = conv;
      m.last = last;
    }
  }
  if (h.lastId) m.lastId = h.lastId;
  if (h.rating === 'good' || h.rating === 'bad') m.rating = h.rating;
  if (h.ratingComment) m.ratingComment = h.ratingComment;
  if (h.opSeen) m.opSeen = h.opSeen;
  for (const k of Object.keys(m) as (keyof ConvMeta)[]) if (m[k] === undefined) delete m[k];
  return m;
}

/**
 * The visitor's open conversation, created when there is none. HSETNX on the
 * visitor makes two tabs sending at once agree on one conversation.
 */
export async function ensureOpenConv(r: ScriptedRedis, site: string, visitor: string, team = ''): Promise<{ conv: string; created: boolean }> {
  // The common case (a conversation is open) is one read; only creating one needs the HSETNX race.
  const open = await r.hget(K.visitor(visitor), 'conv');
  if (open) return { conv: open, created: false };
  const id = randomId(16);
  const created = (await r.hsetnx(K.visitor(visitor), 'conv', id)) === 1;
  const conv = created ? id : ((await r.hget(K.visitor(visitor), 'conv')) ?? id);
  if (created) {
    const now = Date.now();
    const h: Record<string, string> = { site, visitor, status: 'new', createdAt: String(now) };
    if (team) h.team = team;
    await r.hset(K.conv(conv), h);
    await r.zadd(K.visitorConvs(visitor), now, conv);
  }
  return { conv, created };
}

export function decodeEntry(conv: string, id: string, fields: string[]): Entry | null {
  const i = fields.indexOf('d');
  if (i < 0) return null;
  const body = parseEntryJson(fields[i + 1]);
  if (!body) return null;
  body.conv = conv;
  body.id = id;
  return body;
}

/** A compacted conversation's older entries, [id, entry json] in stream order ([] when it was never compacted). */
async function packedRows(r: ScriptedRedis, conv: string): Promise<[string, string][]> {
  const b = await r.getBuffer(K.convPacked(conv));
  return b ? (JSON.parse(inflateRawSync(b).toString('utf8')) as [string, string][]) : [];
}

/**
 * Entries after `after` (exclusive; '' = from the start), in stream order, up to `count`.
 * A compacted conversation reads its packed entries first, then the stream's (all newer).
 */
export async function readEntries(r: ScriptedRedis, conv: string, after: string, count = CATCHUP_PAGE): Promise<Entry[]> {
  const [packed, rows] = await Promise.all([packedRows(r, conv), r.xrange(K.convStream(conv), after ? `(${after}` : '-', '+', 'COUNT', count)]);
  const out: Entry[] = [];
  for (const [id, d] of packed) {
    if (out.length >= count) return out;
    if (after && compareStreamIds(id, after) <= 0) continue;
    const e = decodeEntry(conv, id, ['d', d]);
    if (e) out.push(e);
  }
  for (const [id, fields] of rows) {
    if (out.length >= count) break;
    const e = decodeEntry(conv, id, fields);
    if (e) out.push(e);
  }
  return out;
}

/** Up to `count` entries before `before` (exclusive; '' = the newest), returned in stream order. */
export async function readEntriesBefore(r: ScriptedRedis, conv: string, before: string, count = CATCHUP_PAGE): Promise<{ entries: Entry[]; more: boolean }> {
  const [packed, rows] = await Promise.all([packedRows(r, conv), r.xrevrange(K.convStream(conv), before ? `(${before}` : '+', '-', 'COUNT', count + 1)]);
  // Newest first: the stream's rows, then the packed ones (all older).
  const desc: [string, string[]][] = rows;
  for (let i = packed.length - 1; i >= 0 && desc.length <= count; i--) {
    const [id, d] = packed[i] as [string, string];
    if (!before || compareStreamIds(id, before) < 0) desc.push([id, ['d', d]]);
  }
  const more = desc.length > count;
  const out: Entry[] = [];
  for (const [id, fields] of desc.slice(0, count).reverse()) {
    const e = decodeEntry(conv, id, fields);
    if (e) out.push(e);
  }
  return { entries: out, more };
}

/** An entry's JSON without the operator photo copies entries written before version 4 carry (up to 200 KB each). */
function withoutPhoto(d: string): string {
  if (!d.includes('"avatar"')) return d;
  const e = parseEntryJson(d);
  return e ? JSON.stringify(e) : d;
}

/**
 * Compacts a resolved conversation (dropping old entries' photo copies on the way): every entry goes into one deflated key and the
 * stream and client-id hash are emptied. Reads (readEntries, readEntriesBefore) are
 * unchanged for callers. Does nothing (false) if the conversation is not resolved,
 * has no new entries, or changed meanwhile; safe to run on several gateways at once.
 */
export async function compactConversation(r: ScriptedRedis, conv: string): Promise<boolean> {
  const [packed, rows] = await Promise.all([packedRows(r, conv), r.xrange(K.convStream(conv), '-', '+')]);
  const last = rows.at(-1);
  if (!last) return false;
  const all: [string, string][] = [...packed];
  for (const [id, fields] of rows) {
    const i = fields.indexOf('d');
    if (i >= 0) all.push([id, withoutPhoto(fields[i + 1] as string)]);
  }
  const blob = deflateRawSync(Buffer.from(JSON.stringify(all)), { level: 9 });
  return (await r.harkCompact(K.convStream(conv), K.convCids(conv), K.convPacked(conv), K.conv(conv), last[0], blob)) === 1;
}

/** Compacts a site's conversations resolved more than `olderThanMs` ago, at most `limit` per call, oldest first. Returns how many. */
export async function compactResolved(r: ScriptedRedis, site: string, olderThanMs: number, limit = 50, now = Date.now()): Promise<number> {
  const from = (await r.get(K.siteCompacted(site))) ?? '-inf';
  const due = await r.zrangebyscore(K.siteResolved(site), from === '-inf' ? from : `(${from}`, now - olderThanMs, 'WITHSCORES', 'LIMIT', 0, limit);
  let n = 0;
  for (let i = 0; i + 1 < due.length; i += 2) if (await compactConversation(r, due[i] as string)) n++;
  const lastScore = due.at(-1);
  // A full batch may have cut between conversations resolved in the same ms: look at that ms again next time.
  if (lastScore !== undefined) await r.set(K.siteCompacted(site), due.length / 2 >= limit ? String(Number(lastScore) - 1) : lastScore);
  return n;
}

export type AppendRole = 'visitor' | 'operator' | 'other';

/**
 * Appends an entry once per client id and publishes it. `guard` (an operator id): store only
 * if that operator is still the assignee or a joined colleague of an unresolved conversation;
 * otherwise nothing is stored and `id` is ''. A visitor's message into a resolved conversation
 * is refused the same way.
 */
/**
 * Appends an entry (redis/scripts.ts APPEND). With `ev` (store/event-log.ts fusedEvent) on a single
 * Redis, the entry's domain event is recorded in the same step: `eventRecorded` says it was (not on
 * a Cluster, not for a resend found stored, not for an operator's first answer: the caller records
 * those itself).
 */
export async function appendEntry(
  c: Connections,
  entry: Omit<Entry, 'id'>,
  role: AppendRole,
  guard?: string,
  rate?: { perSec: number; burst: number },
  ev?: FusedEvent,
): Promise<{ id: string; stored: boolean; firstResponse: boolean; status: ConvState | ''; eventRecorded: boolean }> {
  const conv = entry.conv;
  const fuse = ev && !c.sharded ? ev.args : null;
  const [id, stored, first, status, recorded] = await c.cmd.harkAppend(
    K.convStream(conv),
    K.convCids(conv),
    K.conv(conv),
    entry.cid ?? '',
    JSON.stringify(entry),
    c.publishCmd,
    K.convChannel(conv),
    String(entry.at),
    role,
    ...(guard || rate || fuse ? [guard ?? ''] : []),
    ...(rate || fuse ? [rate ? String(rate.perSec) : '', rate ? String(rate.burst) : ''] : []),
    ...(fuse ?? []),
  );
  if (status === 'rate') throw new HarkError('RATE_LIMITED');
  // Replicated durability: not acknowledged until a replica has it. A resend of the same cid
  // stores nothing and waits again, so a message is acked only once it is on two machines.
  if (c.waitReplica && id && (await c.cmd.call('WAIT', '1', String(REPLICA_WAIT_MS))) === 0) throw new HarkError('OVERLOADED', 'No replica confirmed the write in time; your client will retry.');
  return { id, stored: stored === 1, firstResponse: first === 1, status: oneOf<ConvState | ''>(status, [...CONV_STATES, ''], ''), eventRecorded: recorded === 1 };
}

/** A system event entry, made idempotent by a client id derived from what happened. */
export function eventEntry(conv: string, event: NonNullable<Entry['event']>, extra: Partial<Entry> = {}): Omit<Entry, 'id'> {
  return { conv, at: Date.now(), kind: 'event', from: 'system', event, cid: `sys-${event}-${randomId(12)}`, ...extra };
}

export async function summary(r: ScriptedRedis, m: ConvMeta): Promise<ConvSummary> {
  const v = await getVisitor(r, m.visitor);
  const s: ConvSummary = {
    id: m.id,
    site: m.site,
    status: m.status === 'new' ? 'queued' : m.status,
    operator: m.op ? { id: m.op, name: m.opName ?? '', ...(m.opAvatar ? { avatar: m.opAvatar } : {}) } : null,
    team: m.team ?? null,
    visitor: v ? visitorInfo(v) : { id: m.visitor, verified: false, attrs: {} },
    createdAt: m.createdAt,
  };
  if (m.queuedAt) s.queuedAt = m.queuedAt;
  if (m.assignedAt) s.assignedAt = m.assignedAt;
  if (m.firstResponseAt) s.firstResponseAt = m.firstResponseAt;
  if (m.resolvedAt) s.resolvedAt = m.resolvedAt;
  if (m.waitingSince && m.status !== 'resolved') s.waitingSince = m.waitingSince;
  if (m.offline && (m.status === 'queued' || m.status === 'new')) s.offline = true;
  if (m.last) s.last = m.last;
  if (m.rating) s.rating = m.rating;
  if (m.ratingComment) s.ratingComment = m.ratingComment;
  if (m.status === 'queued' || m.status === 'new') {
    const rank = await r.zrank(K.siteQueue(m.site), m.id);
    if (rank !== null) s.position = rank + 1;
  }
  return s;
}

export async function visitorConv(r: ScriptedRedis, m: ConvMeta): Promise<VisitorConv> {
  const vc: VisitorConv = { id: m.id, status: m.status === 'new' ? 'queued' : m.status };
  if (m.op) vc.operator = { id: m.op, name: m.opName ?? '', ...(m.opAvatar ? { avatar: m.opAvatar } : {}) };
  if (m.status === 'queued' || m.status === 'new') {
    const rank = await r.zrank(K.siteQueue(m.site), m.id);
    if (rank !== null) vc.position = rank + 1;
  }
  if (m.rating) vc.rating = m.rating;
  return vc;
}

// ------------------------------------------------------------ small reads and writes the domain layer uses

/** Sets fields of a conversation's record. */
export async function setMeta(r: ScriptedRedis, conv: string, fields: Record<string, string>): Promise<void> {
  await r.hset(K.conv(conv), fields);
}

/**
 * The record marked queued if it is still as routing saw it (`from`: its status then; `op`: its
 * operator then, null for none, omitted for any); `clearOp` drops the operator's fields. False
 * when a concurrent assignment got there first (redis/scripts.ts QUEUE_META).
 */
export async function queueMeta(r: ScriptedRedis, conv: string, w: { from?: ConvState; op?: string | null; queuedAt?: number; clearOp?: boolean }): Promise<boolean> {
  const op = w.op === undefined ? '*' : (w.op ?? '');
  return (await r.harkQueueMeta(K.conv(conv), w.from ?? '', op, w.queuedAt === undefined ? '' : String(w.queuedAt), w.clearOp ? '1' : '')) === 1;
}

export async function delMeta(r: ScriptedRedis, conv: string, ...fields: string[]): Promise<void> {
  if (fields.length) await r.hdel(K.conv(conv), ...fields);
}

/**
 * Some fields of a conversation's record (HMGET), for a reader that needs only those: without
 * reading and parsing the whole record (its last message…). Null when there is no conversation.
 */
export async function getMetaFields<F extends string>(r: ScriptedRedis, conv: string, fields: readonly F[]): Promise<Record<F, string | undefined> | null> {
  const v = await r.hmget(K.conv(conv), 'site', 'visitor', ...fields);
  if (!v[0] || !v[1]) return null;
  const out = {} as Record<F, string | undefined>;
  fields.forEach((f, i) => {
    out[f] = v[i + 2] ?? undefined;
  });
  return out;
}

export async function getMetaField(r: ScriptedRedis, conv: string, field: 'opSeen' | 'status' | 'visitorSeen' | 'offline'): Promise<string | null> {
  return r.hget(K.conv(conv), field);
}

/** The entry stored under a client id in a conversation, if any. */
export async function storedEntry(r: ScriptedRedis, conv: string, cid: string): Promise<Entry | null> {
  const id = await r.hget(K.convCids(conv), cid);
  const row = id ? (await r.xrange(K.convStream(conv), id, id))[0] : undefined;
  return row ? decodeEntry(conv, row[0], row[1]) : null;
}

/** The stream id stored under `cid` in each of `convs` (null where none). */
export function cidIn(r: ScriptedRedis, convs: string[], cid: string): Promise<(string | null)[]> {
  return Promise.all(convs.map((conv) => r.hget(K.convCids(conv), cid)));
}

/** The newest stream id of a conversation ('' if it has none). */
export async function tailId(r: ScriptedRedis, conv: string): Promise<string> {
  return (await r.xrevrange(K.convStream(conv), '+', '-', 'COUNT', 1))[0]?.[0] ?? '';
}

/** The visitor's open (unresolved) conversation, if any. */
export function visitorOpenConv(r: ScriptedRedis, visitor: string): Promise<string | null> {
  return r.hget(K.visitor(visitor), 'conv');
}

export async function setVisitorOpenConv(r: ScriptedRedis, visitor: string, conv: string): Promise<void> {
  await r.hset(K.visitor(visitor), 'conv', conv);
}

/** Forgets the visitor's open conversation if it is still `conv`. */
export async function clearVisitorOpenConv(r: ScriptedRedis, visitor: string, conv: string): Promise<void> {
  if ((await r.hget(K.visitor(visitor), 'conv')) === conv) await r.hdel(K.visitor(visitor), 'conv');
}

/** The visitor's `n` latest conversations, oldest first. */
export function latestVisitorConvs(r: ScriptedRedis, visitor: string, n: number): Promise<string[]> {
  return r.zrange(K.visitorConvs(visitor), -n, -1);
}

/** The visitor's conversations, newest first, at most `n`. */
export function visitorConvsNewestFirst(r: ScriptedRedis, visitor: string, n: number): Promise<string[]> {
  return r.zrevrange(K.visitorConvs(visitor), 0, n - 1);
}

/** Every unresolved conversation of a site (queued or open), oldest first. */
export function siteOpenConvs(r: ScriptedRedis, site: string): Promise<string[]> {
  return r.zrange(K.siteOpen(site), 0, -1);
}

/** A site's resolved conversations, newest first, at most `n`. */
export function siteResolvedConvs(r: ScriptedRedis, site: string, n: number): Promise<string[]> {
  return r.zrevrange(K.siteResolved(site), 0, n - 1);
}

/** Conversations assigned on a site: conv -> operator. */
export function siteAssignments(r: ScriptedRedis, site: string): Promise<Record<string, string>> {
  return r.hgetall(K.siteAssign(site));
}

/** The first `n` conversations of a site's queue, in order. */
export function siteQueue(r: ScriptedRedis, site: string, n: number): Promise<string[]> {
  return r.zrange(K.siteQueue(site), 0, n - 1);
}

/** Which conversation index to page through: a site's unresolved ones (by creation), its resolved ones (by resolution), or a visitor's (by creation). */
export type ConvIndex = { kind: 'open' | 'resolved'; site: string } | { kind: 'visitor'; visitor: string };

/** Members of an index with `min` <= score <= `max`, newest first (equal scores in reverse id order), from `offset`: [id, score] pairs. */
export async function convIndexPage(r: ScriptedRedis, ix: ConvIndex, max: number, min: number, offset: number, count: number): Promise<[string, number][]> {
  const key = ix.kind === 'visitor' ? K.visitorConvs(ix.visitor) : ix.kind === 'open' ? K.siteOpen(ix.site) : K.siteResolved(ix.site);
  const flat = await r.zrevrangebyscore(key, max === Infinity ? '+inf' : max, min === -Infinity ? '-inf' : min, 'WITHSCORES', 'LIMIT', offset, count);
  const out: [string, number][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i] as string, Number(flat[i + 1])]);
  return out;
}
