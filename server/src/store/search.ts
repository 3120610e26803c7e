/**
 * The search index (domain/search.ts keeps it current from the event log; nothing here scans).
 *
 * A site's index is split into SEARCH_SHARDS shards by conversation (FNV-1a of its id); every
 * key of a shard shares the hash tag {srch:SITE:N}, so one script touches one shard on one
 * cluster slot and a site's index spreads over the cluster's masters:
 *
 *   {srch:S:N}:t:TERM   zset conv -> ms the word was last seen in a message or note (the postings)
 *   {srch:S:N}:p:TERM   zset conv -> 1: the word is in the visitor's profile
 *   {srch:S:N}:dict     zset term -> 0: the shard's terms, for prefix matching (ZRANGEBYLEX)
 *   {srch:S:N}:recent   zset conv -> last activity (ms)
 *   {srch:S:N}:d:C      hash: the conversation's filter fields (st, op, tm, rt, ca) and `up`,
 *                       the last entry indexed (a redelivered event indexes nothing twice)
 *   {srch:S:N}:ct:C     string: the postings the conversation is in (` t:word p:name …`), to remove it
 *   {srch:S:N}:tmp, :tmp2, :tmp:I  scratch of the query script, deleted before it returns
 *
 * And one key outside the shards:
 *
 *   hark:srch:backfill  hash `SITE|open` / `SITE|resolved` -> cursor (`score:count`) into that site
 *                       set: conversations written before the index existed, still to index
 *                       (migration 5 fills it, the search-backfill job empties it)
 *
 * A query ranks conversations by how many of its words are in the visitor's profile (name,
 * e-mail, ids, attributes), then by last activity.
 */
import { inflateRawSync } from 'node:zlib';
import type { Entry } from '@hark/shared';
import { evalScript } from '../redis/eval';
import type { ScriptedRedis } from '../redis/scripts';
import { decodeEntry } from './conversations';
import { K } from './keys';

/** Shards per site. Changing it needs the index rebuilt. */
export const SEARCH_SHARDS = 16;
/** A term's postings keep the newest this many conversations per shard (older ones drop off common words). */
export const MAX_POSTINGS_PER_TERM = 5_000;
/** Distinct terms one conversation is indexed under at most; words beyond are not indexed. */
export const MAX_TERMS_PER_CONV = 4_000;
/** Terms the last (prefix) word of a query expands to at most, per shard. */
export const MAX_PREFIX_TERMS = 32;
/** Candidates one query examines at most per shard (after the words matched, for the filters). */
export const MAX_EXAMINED_PER_SHARD = 2_000;
/**
 * Conversations a query walks at most per shard, newest first, looking for ones with every word,
 * before it intersects the words' postings instead (store/search.ts QUERY). The walk is taken only
 * when the postings' sizes say it should find a page well within this.
 */
export const SCAN_BUDGET_PER_SHARD = 2_048;

export const TIER_SHIFT = 2 ** 42;

/** The backfill's to-do list (migrations.ts search-backfill writes it, domain/search.ts backfill() works it off). */
export const BACKFILL_KEY = 'hark:srch:backfill';

export function shardOf(conv: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < conv.length; i++) {
    h ^= conv.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % SEARCH_SHARDS;
}

export const XK = {
  base: (site: string, shard: number) => `{srch:${site}:${shard}}:`,
  postings: (site: string, shard: number, term: string) => `{srch:${site}:${shard}}:t:${term}`,
  profilePostings: (site: string, shard: number, term: string) => `{srch:${site}:${shard}}:p:${term}`,
  dict: (site: string, shard: number) => `{srch:${site}:${shard}}:dict`,
  recent: (site: string, shard: number) => `{srch:${site}:${shard}}:recent`,
  doc: (site: string, shard: number, conv: string) => `{srch:${site}:${shard}}:d:${conv}`,
  convTerms: (site: string, shard: number, conv: string) => `{srch:${site}:${shard}}:ct:${conv}`,
  tmp: (site: string, shard: number) => `{srch:${site}:${shard}}:tmp`,
  tmp2: (site: string, shard: number) => `{srch:${site}:${shard}}:tmp2`,
} as const;

// KEYS: dict, recent, doc, convTerms. ARGV: base, conv, entry ('' = none), ms, kind ('t' | 'p'), maxPostings, maxTerms, terms...
// Message words (`t`) score the last time seen (trimmed oldest first); profile words (`p`) score 1.
const INDEX = `
local base, conv, entry = ARGV[1], ARGV[2], ARGV[3]
if entry ~= '' then
  local up = redis.call('HGET', KEYS[3], 'up')
  if up then
    local a1, a2 = string.match(entry, '^(%d+)-(%d+)$')
    local b1, b2 = string.match(up, '^(%d+)-(%d+)$')
    if a1 and b1 then
      a1, a2, b1, b2 = tonumber(a1), tonumber(a2), tonumber(b1), tonumber(b2)
      if a1 < b1 or (a1 == b1 and a2 <= b2) then return 0 end
    end
  end
  redis.call('HSET', KEYS[3], 'up', entry)
end
local ms, kind, maxp, maxt = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local score = ms
if kind == 'p' then score = 1 end
local n0 = tonumber(redis.call('HGET', KEYS[3], 'n') or '0')
local n = n0
local added = 0
for i = 8, #ARGV do
  local t = ARGV[i]
  local k = base .. kind .. ':' .. t
  local cur = redis.call('ZSCORE', k, conv)
  if cur then
    if tonumber(cur) < score then redis.call('ZADD', k, score, conv) end
    added = added + 1
  elseif n < maxt then
    redis.call('ZADD', k, score, conv)
    redis.call('APPEND', KEYS[4], ' ' .. kind .. ':' .. t)
    redis.call('ZADD', KEYS[1], 0, t)
    n = n + 1
    local c = redis.call('ZCARD', k)
    if c > maxp then redis.call('ZREMRANGEBYRANK', k, 0, c - maxp - 1) end
    added = added + 1
  end
end
if n ~= n0 then redis.call('HSET', KEYS[3], 'n', n) end
redis.call('ZADD', KEYS[2], 'GT', ms, conv)
local pr = redis.call('HGET', KEYS[3], 'pr')
return {added, pr or ''}
`;

// KEYS: dict, recent, doc, convTerms. ARGV: base, conv.
const REMOVE = `
local base, conv = ARGV[1], ARGV[2]
local list = redis.call('GET', KEYS[4]) or ''
local n = 0
for kt in string.gmatch(list, '%S+') do
  local term = string.sub(kt, 3)
  redis.call('ZREM', base .. kt, conv)
  if redis.call('EXISTS', base .. 't:' .. term, base .. 'p:' .. term) == 0 then redis.call('ZREM', KEYS[1], term) end
  n = n + 1
end
redis.call('DEL', KEYS[3], KEYS[4])
redis.call('ZREM', KEYS[2], conv)
return n
`;

// KEYS: dict, recent, tmp, tmp2.
// ARGV: base, prefix(0/1), limit, maxExamined, maxPrefix, me, supervisor(0/1), st, op, tm, rt, from, to, scanBudget, terms...
// Per word, the conversations having it (message words weigh 0, profile words TIER_SHIFT), all words
// intersected with the shard's recency set: score = profile words matched · TIER_SHIFT + last activity.
// Returns {more(0/1), conv, tier, last, ...}, best first, at most `limit`, filters applied.
//
// Two ways to the same answer. When no word is in a profile (every score is the last activity) and
// the words are common enough that the newest conversations are likely to have them all (estimated
// from the postings' sizes), the script walks the recency set from the newest and checks each
// conversation's words (ZSCORE), stopping at limit + 1 matches: no intersection is built. This is
// the common case that was slow (two common words: thousands of postings each to intersect, per
// shard). Otherwise, or when the walk passes `scanBudget` conversations without enough matches, it
// intersects (ZINTERSTORE) and reads the best from the result.
const QUERY = `
local base, prefix, limit, maxx, maxpre = ARGV[1], ARGV[2] == '1', tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local me, sup = ARGV[6], ARGV[7] == '1'
local fst, fop, ftm, frt, ffrom, fto = ARGV[8], ARGV[9], ARGV[10], ARGV[11], tonumber(ARGV[12]), tonumber(ARGV[13])
local budget = tonumber(ARGV[14])
local first = 15
local shift = ${TIER_SHIFT}
local nterms = #ARGV - first + 1
local groups = {}
local profile = false
for i = first, #ARGV do
  local t = ARGV[i]
  local names
  if prefix and i == #ARGV then
    names = redis.call('ZRANGEBYLEX', KEYS[1], '[' .. t, '[' .. t .. '\\255', 'LIMIT', 0, maxpre)
    if #names == 0 then return {0} end
  else
    names = {t}
  end
  local parts, pw, size = {}, {}, 0
  for _, w in ipairs(names) do
    local n = redis.call('ZCARD', base .. 't:' .. w)
    if n > 0 then parts[#parts + 1] = base .. 't:' .. w; pw[#pw + 1] = 0; size = size + n end
    if redis.call('EXISTS', base .. 'p:' .. w) == 1 then parts[#parts + 1] = base .. 'p:' .. w; pw[#pw + 1] = shift; profile = true end
  end
  if #parts == 0 then return {0} end
  groups[#groups + 1] = {keys = parts, weights = pw, size = size, at = i}
end
local filtered = (not sup) or fst ~= '' or fop ~= '' or ftm ~= '' or frt ~= '' or ffrom or fto
local function keep(conv)
  if not filtered then return true end
  local d = redis.call('HMGET', base .. 'd:' .. conv, 'st', 'op', 'tm', 'rt', 'ca')
  local st, op, tm, rt, ca = d[1], d[2] or '', d[3] or '', d[4] or '', tonumber(d[5] or '0')
  local ok = st ~= false
  if ok and not sup then ok = st == 'queued' or st == 'new' or op == me end
  if ok and fst ~= '' then ok = (st == fst) or (fst == 'queued' and st == 'new') end
  if ok and fop ~= '' then ok = op == fop end
  if ok and ftm ~= '' then ok = tm == ftm end
  if ok and frt ~= '' then ok = rt == frt end
  if ok and ffrom then ok = ca >= ffrom end
  if ok and fto then ok = ca < fto end
  return ok
end
local function put(out, conv, s)
  local tier = math.floor(s / shift)
  out[#out + 1] = conv
  out[#out + 1] = string.format('%d', tier)
  out[#out + 1] = string.format('%d', s - tier * shift)
end

if nterms > 0 and not profile then
  local total = redis.call('ZCARD', KEYS[2])
  if total == 0 then return {0} end
  local est = 1
  for _, g in ipairs(groups) do est = est * math.min(1, g.size / total) end
  table.sort(groups, function(a, b) return a.size < b.size or (a.size == b.size and a.at < b.at) end)
  if est > 0 and (limit + 1) / est <= budget / 2 then
    local out, found, examined, pos, scanned = {0}, 0, 0, 0, 0
    local done = false
    local batch = 128
    while not done do
      local ids = redis.call('ZREVRANGE', KEYS[2], pos, pos + batch - 1, 'WITHSCORES')
      if #ids == 0 then done = true break end
      pos = pos + batch
      for j = 1, #ids, 2 do
        local conv = ids[j]
        scanned = scanned + 1
        local all = true
        for _, g in ipairs(groups) do
          local any = false
          for _, k in ipairs(g.keys) do
            if redis.call('ZSCORE', k, conv) then any = true break end
          end
          if not any then all = false break end
        end
        if all then
          -- As the intersection's read below: a further candidate past the page means "more",
          -- whether or not it would pass the filters.
          if found >= limit or examined >= maxx then out[1] = 1 done = true break end
          examined = examined + 1
          if keep(conv) then
            put(out, conv, tonumber(ids[j + 1]))
            found = found + 1
          end
        end
        if scanned >= budget then break end
      end
      if not done and scanned >= budget then break end
      if #ids < batch * 2 then done = true end
    end
    if done then return out end
    -- Too few matches among the newest budget: intersect instead.
  end
end

local inter, weights, temps = {}, {}, {}
for i, g in ipairs(groups) do
  if #g.keys == 1 then
    inter[#inter + 1] = g.keys[1]
    weights[#weights + 1] = g.weights[1]
  else
    local tmp = base .. 'tmp:' .. g.at
    temps[#temps + 1] = tmp
    local a = {tmp, #g.keys}
    for _, k in ipairs(g.keys) do a[#a + 1] = k end
    a[#a + 1] = 'WEIGHTS'
    for _, w in ipairs(g.weights) do a[#a + 1] = w end
    a[#a + 1] = 'AGGREGATE'
    a[#a + 1] = 'MAX'
    redis.call('ZUNIONSTORE', unpack(a))
    inter[#inter + 1] = tmp
    weights[#weights + 1] = 1
  end
end
local src = KEYS[2]
if nterms > 0 then
  local a = {KEYS[3], #inter + 1}
  for _, k in ipairs(inter) do a[#a + 1] = k end
  a[#a + 1] = KEYS[2]
  a[#a + 1] = 'WEIGHTS'
  for _, w in ipairs(weights) do a[#a + 1] = w end
  a[#a + 1] = 1
  redis.call('ZINTERSTORE', unpack(a))
  src = KEYS[3]
end
local out = {0}
local found, examined, pos = 0, 0, 0
local batch = 200
if not filtered then batch = limit + 1 end
while found < limit do
  local ids = redis.call('ZREVRANGE', src, pos, pos + batch - 1, 'WITHSCORES')
  if #ids == 0 then break end
  pos = pos + batch
  for j = 1, #ids, 2 do
    if found >= limit or examined >= maxx then out[1] = 1 break end
    examined = examined + 1
    local conv = ids[j]
    if keep(conv) then
      put(out, conv, tonumber(ids[j + 1]))
      found = found + 1
    end
  end
  if examined >= maxx then out[1] = 1 break end
  if #ids < batch * 2 then break end
end
if out[1] == 0 and found >= limit and redis.call('ZCARD', src) > pos then out[1] = 1 end
redis.call('DEL', KEYS[3], KEYS[4])
for _, k in ipairs(temps) do redis.call('DEL', k) end
return out
`;

const SCRIPTS = { INDEX, REMOVE, QUERY };

/** EVALSHA, loading the script on NOSCRIPT (the command client defines no scripts of ours: see ARCHITECTURE, Redis traps). */
function run(r: ScriptedRedis, s: keyof typeof SCRIPTS, keys: string[], args: (string | number)[]): Promise<unknown> {
  return evalScript(r, SCRIPTS[s], keys.length, ...keys, ...args);
}

function shardKeys(site: string, conv: string): { shard: number; keys: string[] } {
  const n = shardOf(conv);
  return { shard: n, keys: [XK.dict(site, n), XK.recent(site, n), XK.doc(site, n, conv), XK.convTerms(site, n, conv)] };
}

/**
 * Indexes `terms` for a conversation. `entry`: the stream entry they come from; an entry at or
 * before the last one indexed is skipped (idempotent). Returns how many terms were written.
 */
export async function indexTerms(r: ScriptedRedis, site: string, conv: string, terms: readonly string[], at: number, tier: 0 | 1, entry = ''): Promise<number> {
  return (await indexTermsWithDoc(r, site, conv, terms, at, tier, entry)).added;
}

/** indexTerms, also answering the doc's `pr` field (when the profile was last indexed, ms; 0 if never). */
export async function indexTermsWithDoc(r: ScriptedRedis, site: string, conv: string, terms: readonly string[], at: number, tier: 0 | 1, entry = ''): Promise<{ added: number; profileAt: number }> {
  const { shard, keys } = shardKeys(site, conv);
  const ms = Math.max(0, Math.floor(at));
  const out = await run(r, 'INDEX', keys, [XK.base(site, shard), conv, entry, ms, tier === 1 ? 'p' : 't', MAX_POSTINGS_PER_TERM, MAX_TERMS_PER_CONV, ...terms]);
  // A skipped entry (indexed before) answers 0.
  if (!Array.isArray(out)) return { added: 0, profileAt: Number.POSITIVE_INFINITY };
  return { added: Number(out[0]), profileAt: Number(out[1]) || 0 };
}

export interface DocFields {
  status: string;
  op?: string;
  team?: string;
  rating?: string;
  createdAt: number;
}

/** The conversation's filter fields, as its record has them now. */
export async function writeDoc(r: ScriptedRedis, site: string, conv: string, d: DocFields): Promise<void> {
  const n = shardOf(conv);
  await r.hset(XK.doc(site, n, conv), { st: d.status, op: d.op ?? '', tm: d.team ?? '', rt: d.rating ?? '', ca: String(d.createdAt) });
}

/** The doc's stored fields (profile signature `vs` included), or null. */
export async function readDoc(r: ScriptedRedis, site: string, conv: string): Promise<Record<string, string> | null> {
  const h = await r.hgetall(XK.doc(site, shardOf(conv), conv));
  return Object.keys(h).length ? h : null;
}

export async function setDocField(r: ScriptedRedis, site: string, conv: string, field: string, value: string): Promise<void> {
  await r.hset(XK.doc(site, shardOf(conv), conv), field, value);
}

/** Removes a conversation from its site's index (every posting, its doc and term set). Idempotent. */
export async function removeFromIndex(r: ScriptedRedis, site: string, conv: string): Promise<number> {
  const { shard, keys } = shardKeys(site, conv);
  return Number(await run(r, 'REMOVE', keys, [XK.base(site, shard), conv]));
}

export interface QueryFilters {
  status?: string;
  op?: string;
  team?: string;
  rating?: string;
  from?: number;
  to?: number;
}

export interface ShardHit {
  conv: string;
  tier: number;
  last: number;
}

/** One shard's best `limit` conversations for `terms` (AND; the last a prefix when `prefix`), filtered. */
export async function queryShard(
  r: ScriptedRedis,
  site: string,
  shard: number,
  q: { terms: readonly string[]; prefix: boolean; limit: number; me: string; supervisor: boolean; filters: QueryFilters; scanBudget?: number },
): Promise<{ hits: ShardHit[]; more: boolean }> {
  const f = q.filters;
  const keys = [XK.dict(site, shard), XK.recent(site, shard), XK.tmp(site, shard), XK.tmp2(site, shard)];
  const args = [
    XK.base(site, shard),
    q.prefix ? '1' : '0',
    q.limit,
    MAX_EXAMINED_PER_SHARD,
    MAX_PREFIX_TERMS,
    q.me,
    q.supervisor ? '1' : '0',
    f.status ?? '',
    f.op ?? '',
    f.team ?? '',
    f.rating ?? '',
    f.from === undefined ? '' : String(f.from),
    f.to === undefined ? '' : String(f.to),
    q.scanBudget ?? SCAN_BUDGET_PER_SHARD,
    ...q.terms,
  ];
  const raw = (await run(r, 'QUERY', keys, args)) as string[] | number[];
  const out: ShardHit[] = [];
  for (let i = 1; i + 2 < raw.length; i += 3) {
    out.push({ conv: String(raw[i]), tier: Number(raw[i + 1]), last: Number(raw[i + 2]) });
  }
  return { hits: out, more: Number(raw[0]) === 1 };
}

/** One entry of a conversation by id: from its stream, else from its compacted entries; null when it is gone (erased). */
export async function entryById(r: ScriptedRedis, conv: string, id: string): Promise<Entry | null> {
  const rows = await r.xrange(K.convStream(conv), id, id);
  const row = rows[0];
  if (row) return decodeEntry(conv, row[0], row[1]);
  const packed = await r.getBuffer(K.convPacked(conv));
  if (!packed) return null;
  const hit = (JSON.parse(inflateRawSync(packed).toString('utf8')) as [string, string][]).find(([eid]) => eid === id);
  return hit ? decodeEntry(conv, hit[0], ['d', hit[1]]) : null;
}
