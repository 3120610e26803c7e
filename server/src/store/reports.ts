/**
 * Report rollups (domain/reports.ts keeps them from the event log; nothing here scans).
 *
 *   {rep:S}:d:YYYY-MM-DD      hash, one per site-local day: `SCOPE|METRIC` -> count, where SCOPE is
 *                             `all`, `o:OPERATOR` or `t:TEAM`; durations as histograms (`frt:BIN`,
 *                             `res:BIN`, with `frt_n`/`frt_sum`); per site-local hour `SCOPE|in@HH`
 *                             (conversations started) and `SCOPE|onl@HH` (operator-milliseconds online);
 *                             kept REPORT_RETENTION_DAYS. A report reads one hash per day.
 *   {rep:S}:seen:DIGEST       string: the event (SHA-256 of its id, cut) was counted (at-least-once delivery counts once), 2 days;
 *                             only for what is counted one event at a time (operators' online time; callers outside the log)
 *   {rep:S}:w:P               string: the stream id of partition P up to which the site's events were counted by
 *                             countBatch (a read of the log delivered again counts nothing twice), 2 days
 *   {rep:S}:online            hash operator -> ms they went online (for the online-hours rollup)
 *
 * A site's keys share its hash tag, so the counting script runs on one cluster slot.
 */
import { createHash } from 'node:crypto';
import type { ScriptedRedis } from '../redis/scripts';
import { evalScript } from '../redis/eval';
import { LUA_CMP_IDS } from './event-log';

/** Hour buckets are kept this long (two years: a year against the one before). */
export const REPORT_RETENTION_DAYS = 800;
const SEEN_MS = 2 * 86_400_000;

/** Upper edges (seconds) of the duration histograms' bins; the last bin is open. Medians and p90 are read within a bin. */
export const DURATION_BINS_S = [5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 300, 420, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200, 10800, 14400, 21600, 43200, 86400, 172800, 604800];

export function binOf(ms: number): number {
  const s = Math.max(0, ms) / 1000;
  const i = DURATION_BINS_S.findIndex((edge) => s < edge);
  return i < 0 ? DURATION_BINS_S.length : i;
}

export const RK2 = {
  day: (site: string, day: string) => `{rep:${site}}:d:${day}`,
  /** By a digest of the event id: an event id names its conversation, which an erase must leave nowhere. */
  seen: (site: string, id: string) => `{rep:${site}}:seen:${createHash('sha256').update(id).digest('base64url').slice(0, 22)}`,
  online: (site: string) => `{rep:${site}}:online`,
  counted: (site: string, partition: number) => `{rep:${site}}:w:${partition}`,
} as const;

// KEYS: seen, then hour keys (one per increment group). ARGV: ttlMs, n groups, then per group: count k, then k pairs field, by.
// Increments are applied once per event id.
const COUNT = `
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ${SEEN_MS}) then return 0 end
local ttl = tonumber(ARGV[1])
local pos = 3
for g = 2, #KEYS do
  local k = tonumber(ARGV[pos])
  pos = pos + 1
  for _ = 1, k do
    redis.call('HINCRBY', KEYS[g], ARGV[pos], ARGV[pos + 1])
    pos = pos + 2
  end
  redis.call('PEXPIRE', KEYS[g], ttl)
end
return 1
`;

/** Applies increments (site-local day -> field -> by) once for event `id`. False when it was counted before. */
export async function countOnce(r: ScriptedRedis, site: string, id: string, incs: Map<string, Map<string, number>>): Promise<boolean> {
  const keys = [RK2.seen(site, id)];
  const args: (string | number)[] = [REPORT_RETENTION_DAYS * 86_400_000, incs.size];
  for (const [day, fields] of incs) {
    keys.push(RK2.day(site, day));
    args.push(fields.size);
    for (const [f, by] of fields) args.push(f, Math.round(by));
  }
  return Number(await evalScript(r, COUNT, keys.length, ...keys, ...args)) === 1;
}

// KEYS: the site's watermark for the partition, then the day keys. ARGV: ttl ms, then per event: its
// stream id, its number of groups, then per group: the day key's index in KEYS, count k, then k
// pairs field, by. The events after the watermark are counted, in order, and the watermark moves to
// the last: a read delivered again (or a longer one from the same place) counts nothing twice. A day
// key gets its expiry once (the first count of the day), not with every event.
const COUNT_BATCH = `
${LUA_CMP_IDS}
local w = redis.call('GET', KEYS[1])
local ttl = tonumber(ARGV[1])
local pos, n, last = 2, 0, nil
while pos <= #ARGV do
  local id = ARGV[pos]
  local groups = tonumber(ARGV[pos + 1])
  pos = pos + 2
  local fresh = (not w) or cmp(id, w) > 0
  for _ = 1, groups do
    local key = KEYS[tonumber(ARGV[pos])]
    local k = tonumber(ARGV[pos + 1])
    pos = pos + 2
    for _ = 1, k do
      if fresh then redis.call('HINCRBY', key, ARGV[pos], ARGV[pos + 1]) end
      pos = pos + 2
    end
    if fresh and redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, ttl) end
  end
  if fresh then
    n = n + 1
    last = id
  end
end
if last then redis.call('SET', KEYS[1], last, 'PX', ${SEEN_MS}) end
return n
`;

/**
 * Applies the increments of a site's events read together from event-log partition `partition`
 * (in stream order), each once: past the site's watermark for that partition. Returns how many
 * were counted now.
 */
export async function countBatch(r: ScriptedRedis, site: string, partition: number, events: readonly { streamId: string; incs: Map<string, Map<string, number>> }[]): Promise<number> {
  const keys = [RK2.counted(site, partition)];
  const index = new Map<string, number>();
  const args: (string | number)[] = [REPORT_RETENTION_DAYS * 86_400_000];
  for (const e of events) {
    args.push(e.streamId, e.incs.size);
    for (const [day, fields] of e.incs) {
      let i = index.get(day);
      if (i === undefined) {
        keys.push(RK2.day(site, day));
        i = keys.length;
        index.set(day, i);
      }
      args.push(i, fields.size);
      for (const [f, by] of fields) args.push(f, Math.round(by));
    }
  }
  return Number(await evalScript(r, COUNT_BATCH, keys.length, ...keys, ...args));
}

/** Reads `fields` of each day's hash (pipelined), in the order of `days`. */
export async function readDays(r: ScriptedRedis, site: string, days: readonly string[], fields: readonly string[]): Promise<number[][]> {
  if (days.length === 0 || fields.length === 0) return days.map(() => []);
  const p = r.pipeline();
  for (const d of days) p.hmget(RK2.day(site, d), ...fields);
  const out = (await p.exec()) ?? [];
  return out.map(([err, v]) => (err ? fields.map(() => 0) : (v as (string | null)[]).map((x) => Number(x ?? 0) || 0)));
}

/** When `op` went online on `site` (ms), or null; `set`: record it (or clear with null). */
export async function onlineSince(r: ScriptedRedis, site: string, op: string): Promise<number | null> {
  const v = await r.hget(RK2.online(site), op);
  return v ? Number(v) : null;
}
export async function setOnlineSince(r: ScriptedRedis, site: string, op: string, at: number | null): Promise<void> {
  if (at === null) await r.hdel(RK2.online(site), op);
  else await r.hset(RK2.online(site), op, String(at));
}

/**
 * Members of a sorted set with score in [min, max], `page` at a time, in score order, by a cursor
 * (the last score and how many members of it were read) rather than a rank: members added or
 * removed behind the cursor while it runs shift nothing ahead of it.
 */
export async function* pagesByScore(r: ScriptedRedis, key: string, min: number, max: number, page: number): AsyncGenerator<string[]> {
  let score = String(min);
  let skip = 0;
  for (;;) {
    const rows = await r.zrangebyscore(key, score, Number.isFinite(max) ? String(max) : '+inf', 'WITHSCORES', 'LIMIT', skip, page);
    const ids: string[] = [];
    for (let i = 0; i + 1 < rows.length; i += 2) {
      ids.push(rows[i] as string);
      const s = rows[i + 1] as string;
      if (s === score) skip++;
      else {
        score = s;
        skip = 1;
      }
    }
    if (ids.length) yield ids;
    if (ids.length < page) return;
  }
}
