/**
 * The Lua scripts: the only places where several keys change together.
 * Each is idempotent, because ioredis resends a command whose reply was lost
 * when a connection drops (autoResendUnfulfilledCommands): see ARCHITECTURE.md (Redis traps).
 */
import type { Cluster, Redis, Result } from 'ioredis';

/**
 * Append one entry to a conversation stream, once per client id, and publish it
 * in the same step, so pub/sub order is stream order and nothing is published
 * that is not stored. KEYS: stream, cids, meta. ARGV: cid, json, publishCmd,
 * channel, now, role ('visitor' | 'operator' for chat messages, which also move
 * the conversation's `last` and waiting clock; 'other' for notes and events).
 * Returns {id, stored (0|1), firstResponse (0|1), status of the conversation ('' if none)};
 * the status saves the visitor's send path a round trip (does it still need routing?).
 * A visitor's message into a resolved conversation is refused ({'', 0, 0, 'resolved'}):
 * the socket keeps its open conversation in memory, and this is where it learns it ended.
 * ARGV[7], when given, is an operator id that must still be the assignee (or have joined)
 * of an unresolved conversation, else nothing is stored ({'', 0, 0, status}): the operator
 * socket authorises a send from its site view and lets this step have the last word.
 * ARGV[8], ARGV[9], when given: a visitor's message rate (per second) and burst, kept on the
 * conversation; over it nothing is stored ({'', 0, 0, 'rate'}).
 */
const APPEND = `
local cid = ARGV[1]
if cid ~= '' then
  local ex = redis.call('HGET', KEYS[2], cid)
  if ex then return {ex, 0, 0, redis.call('HGET', KEYS[3], 'status') or ''} end
end
if ARGV[6] == 'visitor' and redis.call('HGET', KEYS[3], 'status') == 'resolved' then return {'', 0, 0, 'resolved'} end
if ARGV[8] and ARGV[8] ~= '' then
  -- The visitor's rate across every socket and gateway: a token bucket kept on the conversation
  -- (a visitor has one open conversation at a time). ARGV[8] per second, ARGV[9] burst.
  local rate, burst, now = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[5])
  local b = redis.call('HMGET', KEYS[3], 'rlTokens', 'rlAt')
  local tokens = tonumber(b[1] or burst)
  local at = tonumber(b[2] or now)
  if now > at then tokens = math.min(burst, tokens + (now - at) / 1000 * rate) end
  if tokens < 1 then return {'', 0, 0, 'rate'} end
  redis.call('HSET', KEYS[3], 'rlTokens', tostring(tokens - 1), 'rlAt', tostring(math.max(now, at)))
end
if ARGV[7] and ARGV[7] ~= '' then
  local m = redis.call('HMGET', KEYS[3], 'status', 'op', 'joined')
  if m[1] == false or m[1] == 'resolved' or (m[2] ~= ARGV[7] and not string.find(m[3] or '', '"' .. ARGV[7] .. '"', 1, true)) then
    return {'', 0, 0, m[1] or ''}
  end
end
local id = redis.call('XADD', KEYS[1], '*', 'd', ARGV[2])
if cid ~= '' then redis.call('HSET', KEYS[2], cid, id) end
local first = 0
if ARGV[6] == 'visitor' then
  if redis.call('HEXISTS', KEYS[3], 'waitingSince') == 0 then redis.call('HSET', KEYS[3], 'waitingSince', ARGV[5]) end
elseif ARGV[6] == 'operator' then
  redis.call('HDEL', KEYS[3], 'waitingSince')
  if redis.call('HSETNX', KEYS[3], 'firstResponseAt', ARGV[5]) == 1 then first = 1 end
end
if ARGV[6] ~= 'other' then redis.call('HSET', KEYS[3], 'lastId', id, 'last', ARGV[2]) end
redis.call(ARGV[3], ARGV[4], 'e' .. id .. ' ' .. ARGV[2])
-- On a single Redis the message's domain event is recorded in the same step (store/event-log.ts
-- fusedEvent): ARGV[10] the partition's stream, ARGV[11] its id-key prefix, ARGV[12..14] the event's
-- JSON around the entry id (twice: in the event id and in the entry), ARGV[15] id TTL, ARGV[16]
-- maxlen. Not for an operator's first answer (its event carries the first-response time; the
-- caller records it). These keys are not declared: a single Redis only, never a Cluster.
local ev = 0
if ARGV[10] and ARGV[10] ~= '' and first == 0 then
  local idkey = ARGV[11] .. id
  if redis.call('EXISTS', idkey) == 0 then
    redis.call('XADD', ARGV[10], 'MAXLEN', '~', ARGV[16], '*', 'e', ARGV[12] .. id .. ARGV[13] .. id .. ARGV[14])
    redis.call('SET', idkey, '1', 'PX', ARGV[15])
  end
  ev = 1
end
return {id, 1, first, redis.call('HGET', KEYS[3], 'status') or '', ev}
`;

/**
 * All routing of one site in one atomic step. KEYS (all {site:ID}): status, cap,
 * load, idle, lease, opteams, queue, assign, cteam, open, resolved, seat.
 * ARGV[1] = operation, ARGV[2] = now (ms), then the operation's arguments.
 *
 * Capacity is the operator's, across every site (ARCHITECTURE.md, Operator-wide capacity):
 * an assignment is backed by a seat reserved beforehand in the operator's ledger
 * ({op:O}:seats, another slot), whose token the site keeps in `seat`. So this script never
 * assigns on its own: `propose` names the next (conversation, operator) pair, the caller
 * reserves a seat, and `commit` assigns it if nothing changed meanwhile. Every operation that
 * ends an assignment returns its token, which the caller releases from the ledger.
 *
 * Choice of operator: status 'online', lease unexpired, in the conversation's
 * team if it has one, operator-wide load (given by the caller, from the ledgers) under
 * capacity; lowest load wins, ties go to the one idle longest (oldest last assignment),
 * then the lowest id, so the choice is deterministic.
 */
const ROUTE = `
local now = tonumber(ARGV[2])
local DEFAULT_CAP = 3
local SCAN = 200
local function eligible(op, team)
  if redis.call('HGET', KEYS[1], op) ~= 'online' then return false end
  if tonumber(redis.call('ZSCORE', KEYS[5], op) or '0') <= now then return false end
  if team ~= '' then
    local t = redis.call('HGET', KEYS[6], op) or ''
    if string.find(t, ',' .. team .. ',', 1, true) == nil then return false end
  end
  return true
end
-- The operators who may be given a chat now (online, lease unexpired), each with load, capacity,
-- last assignment and teams: read once per call, a hash read per field for all of them (a pick
-- over N operators was ~5 N calls, once per queued conversation looked at: a storm of drains on a
-- site with a hundred operators was millions of calls).
local roster = nil
local function hmget(key, ids)
  local out = {}
  for i = 1, #ids, 500 do
    local part = redis.call('HMGET', key, unpack(ids, i, math.min(#ids, i + 499)))
    for j = 1, #part do out[#out + 1] = part[j] end
  end
  return out
end
local function getRoster(loads)
  if roster then return roster end
  roster = {}
  local st = redis.call('HGETALL', KEYS[1])
  local live = {}
  for _, o in ipairs(redis.call('ZRANGEBYSCORE', KEYS[5], '(' .. ARGV[2], '+inf')) do live[o] = true end
  local ids = {}
  for i = 1, #st, 2 do
    if st[i + 1] == 'online' and live[st[i]] then ids[#ids + 1] = st[i] end
  end
  if #ids == 0 then return roster end
  local caps, idles, teams, siteLoads = hmget(KEYS[2], ids), hmget(KEYS[4], ids), hmget(KEYS[6], ids), hmget(KEYS[3], ids)
  for i, o in ipairs(ids) do
    roster[#roster + 1] = { op = o, load = loads[o] or tonumber(siteLoads[i] or '0'), cap = tonumber(caps[i] or DEFAULT_CAP), idle = tonumber(idles[i] or '0'), teams = teams[i] or '' }
  end
  return roster
end
local function pick(team, loads)
  local best, bestLoad, bestIdle = nil, 0, 0
  for _, r in ipairs(getRoster(loads)) do
    if r.load < r.cap and (team == '' or string.find(r.teams, ',' .. team .. ',', 1, true) ~= nil) then
      if best == nil or r.load < bestLoad or (r.load == bestLoad and (r.idle < bestIdle or (r.idle == bestIdle and r.op < best))) then
        best, bestLoad, bestIdle = r.op, r.load, r.idle
      end
    end
  end
  return best
end
local function assign(conv, op, token)
  redis.call('HSET', KEYS[8], conv, op)
  redis.call('HSET', KEYS[12], conv, token)
  redis.call('HINCRBY', KEYS[3], op, 1)
  redis.call('HSET', KEYS[4], op, now)
  redis.call('ZREM', KEYS[7], conv)
end
-- Ends conv's assignment; returns the operator who had it and the seat token to release ('' if none).
local function unassign(conv)
  local op = redis.call('HGET', KEYS[8], conv)
  if op then
    local token = redis.call('HGET', KEYS[12], conv) or ''
    redis.call('HDEL', KEYS[8], conv)
    redis.call('HDEL', KEYS[12], conv)
    if redis.call('HINCRBY', KEYS[3], op, -1) < 0 then redis.call('HSET', KEYS[3], op, 0) end
    return op, token
  end
  return '', ''
end
local function state(conv, out)
  local op = redis.call('HGET', KEYS[8], conv)
  if op then out[1] = 'assigned'; out[2] = op; return out end
  local r = redis.call('ZRANK', KEYS[7], conv)
  if r then out[1] = 'queued'; out[2] = tostring(r + 1); return out end
  if redis.call('ZSCORE', KEYS[11], conv) then out[1] = 'resolved'; out[2] = ''; return out end
  out[1] = 'none'; out[2] = ''
  return out
end
local function enqueue(conv)
  local score = redis.call('ZSCORE', KEYS[10], conv) or now
  redis.call('ZADD', KEYS[7], 'NX', score, conv)
end

local op = ARGV[1]
if op == 'route' then
  -- ARGV[3] conv, ARGV[4] team. New conversations join the back of the queue; the caller then drains it.
  local conv, team = ARGV[3], ARGV[4]
  if redis.call('HEXISTS', KEYS[8], conv) == 1 or redis.call('ZSCORE', KEYS[11], conv) then return state(conv, {'', ''}) end
  redis.call('ZADD', KEYS[10], 'NX', now, conv)
  if team ~= '' then redis.call('HSET', KEYS[9], conv, team) end
  enqueue(conv)
  return state(conv, {'', ''})
elseif op == 'state' then
  return state(ARGV[3], {'', ''})
elseif op == 'propose' then
  -- ARGV[3] "op load op load …": operator-wide loads (an operator known full is given a huge one).
  -- Oldest waiting conversation someone can take, and who: {'propose', conv, op, cap} or {'none', ''}.
  local loads = {}
  for o, l in string.gmatch(ARGV[3], '(%S+) (%S+)') do loads[o] = tonumber(l) end
  local q = redis.call('ZRANGE', KEYS[7], 0, SCAN - 1)
  -- Nothing changes during the call: one pick per team (false: nobody can take that team's chats).
  local picked = {}
  for _, conv in ipairs(q) do
    local team = redis.call('HGET', KEYS[9], conv) or ''
    local who = picked[team]
    if who == nil then
      who = pick(team, loads) or false
      picked[team] = who
    end
    if who then return {'propose', conv, who, tostring(redis.call('HGET', KEYS[2], who) or DEFAULT_CAP)} end
    if team == '' then break end
  end
  return {'none', ''}
elseif op == 'commit' then
  -- ARGV[3] conv, ARGV[4] op, ARGV[5] seat token, ARGV[6] when it was reserved (ms, the caller's clock),
  -- ARGV[7] how old a reservation may be. Assigns a proposed pair if the conversation still waits and
  -- the operator may still take it: {'assigned', op} or {'refused', 'conv' | 'op' | 'stale'}.
  local conv, who = ARGV[3], ARGV[4]
  if now - tonumber(ARGV[6]) > tonumber(ARGV[7]) then return {'refused', 'stale'} end
  if redis.call('HEXISTS', KEYS[8], conv) == 1 or not redis.call('ZSCORE', KEYS[7], conv) then return {'refused', 'conv'} end
  if not eligible(who, redis.call('HGET', KEYS[9], conv) or '') then return {'refused', 'op'} end
  assign(conv, who, ARGV[5])
  return {'assigned', who}
elseif op == 'release' then
  -- resolve: ARGV[3] conv. {'released', op who had it, their seat token}
  local conv = ARGV[3]
  local was, token = unassign(conv)
  redis.call('ZREM', KEYS[7], conv)
  redis.call('ZREM', KEYS[10], conv)
  redis.call('ZADD', KEYS[11], now, conv)
  return {'released', was, token}
elseif op == 'take' then
  -- ARGV[3] conv, ARGV[4] op, ARGV[5] seat token: an operator takes a waiting conversation by hand.
  local conv, who = ARGV[3], ARGV[4]
  local cur = redis.call('HGET', KEYS[8], conv)
  if cur then return {cur == who and 'assigned' or 'taken', cur, 'unused'} end
  if not redis.call('ZSCORE', KEYS[7], conv) then return {'notqueued', '', 'unused'} end
  assign(conv, who, ARGV[5])
  return {'assigned', who, 'used'}
elseif op == 'transfer' then
  -- ARGV[3] conv, ARGV[4] to-operator or '', ARGV[5] team or '', ARGV[6] seat token for to-operator.
  -- {state, value, who had it, their seat token}
  local conv, to, team = ARGV[3], ARGV[4], ARGV[5]
  if not redis.call('ZSCORE', KEYS[10], conv) then return {'notopen', '', '', ''} end
  local was, token = unassign(conv)
  redis.call('ZREM', KEYS[7], conv)
  if to ~= '' then
    assign(conv, to, ARGV[6])
    return {'assigned', to, was, token}
  end
  if team ~= '' then redis.call('HSET', KEYS[9], conv, team) else redis.call('HDEL', KEYS[9], conv) end
  enqueue(conv)
  local out = state(conv, {'', ''})
  out[3] = was
  out[4] = token
  return out
elseif op == 'requeue' then
  -- ARGV[3] conv: back to the queue at its original place (its operator went away).
  -- {state, value, who had it, their seat token}
  local conv = ARGV[3]
  if not redis.call('ZSCORE', KEYS[10], conv) then return {'notopen', '', '', ''} end
  local was, token = unassign(conv)
  enqueue(conv)
  local out = state(conv, {'', ''})
  out[3] = was
  out[4] = token
  return out
elseif op == 'reopen' then
  -- ARGV[3] conv, ARGV[4] op, ARGV[5] seat token. {state, value, 'used' if the token backs it now}
  local conv, who = ARGV[3], ARGV[4]
  if redis.call('HEXISTS', KEYS[8], conv) == 1 then local out = state(conv, {'', ''}); out[3] = 'unused'; return out end
  redis.call('ZREM', KEYS[11], conv)
  redis.call('ZADD', KEYS[10], now, conv)
  assign(conv, who, ARGV[5])
  return {'assigned', who, 'used'}
elseif op == 'seat' then
  -- ARGV[3] conv, ARGV[4] token: gives an assignment without a seat token one (repair, migration);
  -- returns the token that backs it now, '' if it is not assigned.
  local conv = ARGV[3]
  if redis.call('HEXISTS', KEYS[8], conv) == 0 then return '' end
  redis.call('HSETNX', KEYS[12], conv, ARGV[4])
  return redis.call('HGET', KEYS[12], conv)
elseif op == 'setop' then
  -- ARGV[3] op, ARGV[4] status, ARGV[5] capacity, ARGV[6] ",teams,", ARGV[7] lease expiry (ms, '' keeps it)
  local who = ARGV[3]
  redis.call('HSET', KEYS[1], who, ARGV[4])
  redis.call('HSET', KEYS[2], who, ARGV[5])
  redis.call('HSET', KEYS[6], who, ARGV[6])
  if ARGV[7] ~= '' then redis.call('ZADD', KEYS[5], tonumber(ARGV[7]), who) end
  return {'ok', ''}
elseif op == 'removeop' then
  local who = ARGV[3]
  redis.call('HDEL', KEYS[1], who)
  redis.call('ZREM', KEYS[5], who)
  return {'ok', ''}
end
return redis.error_reply('ERR unknown routing operation')
`;

/**
 * A seat in an operator's ledger (KEYS[1] = {op:O}:seats), reserved before a site assigns
 * them a conversation. ARGV: token, value (JSON site, conv, when), capacity, force ('1': an
 * explicit take, transfer or reopen, counted but not refused). 1 if the seat is held (again,
 * for a resent command), 0 if the operator is full.
 */
const SEAT = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 1 end
if ARGV[4] ~= '1' and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

/**
 * Marks a conversation's record queued, only if it is still as the caller saw it: routing
 * decides in the site's slot and writes the record after, so a drain on another gateway may
 * have assigned the conversation in between; its record then says open with that operator and
 * must stay so (a record left "queued" with an operator is a chat nobody answers).
 * KEYS[1]: the record. ARGV: expected status ('' any), expected op ('*' any, '' none),
 * queuedAt ('' leave), '1' to clear the operator's fields. 1 if written, 0 if not.
 */
const QUEUE_META = `
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return 0 end
if ARGV[1] ~= '' and st ~= ARGV[1] then return 0 end
if ARGV[2] ~= '*' and (redis.call('HGET', KEYS[1], 'op') or '') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'status', 'queued')
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'queuedAt', ARGV[3]) end
if ARGV[4] == '1' then redis.call('HDEL', KEYS[1], 'op', 'opName', 'opAvatar') end
return 1
`;

export const ROUTE_KEYS = 12;

/**
 * Compaction of a resolved conversation: the packed blob (every entry, built by the
 * caller from the packed key and the stream) replaces the stream's entries and the
 * client-id hash, only if the conversation is still resolved and nothing was appended
 * since the caller read it. XTRIM MAXLEN 0 keeps the empty stream and its last id, so
 * an entry appended after a reopen still sorts after every packed one.
 * KEYS: stream, cids, packed, meta. ARGV: last packed id, blob. Returns 1 if applied.
 */
const COMPACT = `
if redis.call('HGET', KEYS[4], 'status') ~= 'resolved' then return 0 end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #last == 0 or last[1][1] ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[3], ARGV[2])
redis.call('XTRIM', KEYS[1], 'MAXLEN', 0)
redis.call('DEL', KEYS[2])
return 1
`;

/**
 * A gateway's lease on "the visitor is on the site": KEYS[1] the visitor's lease set,
 * ARGV: gateway, lease expiry (ms), ttl (ms); the set expires with the latest lease.
 * One script instead of MULTI/ZADD/PEXPIRE/EXEC: a reconnect storm is thousands of
 * these at once, and every gateway renews its visitors' leases all the time.
 */
const PRESENT = `
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    harkAppend(stream: string, cids: string, meta: string, cid: string, json: string, publishCmd: string, channel: string, now: string, role: string, ...rest: string[]): Result<[string, number, number, string, number?], Context>;
    harkRoute(...args: string[]): Result<string[], Context>;
    harkSeat(seats: string, token: string, value: string, cap: string, force: string): Result<number, Context>;
    harkCompact(stream: string, cids: string, packed: string, meta: string, lastId: string, blob: Buffer): Result<number, Context>;
    harkQueueMeta(meta: string, status: string, op: string, queuedAt: string, clearOp: string): Result<number, Context>;
    harkPresent(online: string, gateway: string, expiry: string, ttlMs: string): Result<number, Context>;
  }
}

export type ScriptedRedis = Redis | Cluster;

export function defineScripts<R extends Redis | Cluster>(r: R): R {
  r.defineCommand('harkAppend', { numberOfKeys: 3, lua: APPEND });
  r.defineCommand('harkRoute', { numberOfKeys: ROUTE_KEYS, lua: ROUTE });
  r.defineCommand('harkSeat', { numberOfKeys: 1, lua: SEAT });
  r.defineCommand('harkCompact', { numberOfKeys: 4, lua: COMPACT });
  r.defineCommand('harkQueueMeta', { numberOfKeys: 1, lua: QUEUE_META });
  r.defineCommand('harkPresent', { numberOfKeys: 1, lua: PRESENT });
  return r;
}
