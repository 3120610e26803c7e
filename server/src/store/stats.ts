/**
 * Operators' numbers, kept up to date as events happen (never by scanning
 * conversations). Per operator and UTC day:
 *   {opstats:OP}:DAY:frt   zset conv -> first-response time (ms)
 *   {opstats:OP}:DAY:res   zset conv -> resolution time (ms); ZCARD = chats handled
 *   {opstats:OP}:DAY:rate  hash conv -> {"rating","comment","at"}
 * Members are conversation ids, so a write that ioredis resends after a
 * dropped connection (or a hook called twice) changes nothing: every write is
 * idempotent. The hash tag keeps one operator's keys in one cluster slot, so
 * the MULTI below is valid on Redis Cluster too.
 */
import type { Rating } from '@hark/shared';
import type { ScriptedRedis } from '../redis/scripts';
import { SK } from './keys';
import { json } from './util';

/** Days of history kept; the console shows 7, the rest is slack for late readers and time zones. */
export const STATS_RETENTION_DAYS = 35;
const DAY_MS = 86_400_000;
/** Longest comment kept with a rating (the widget caps it at 1000 too). */
const MAX_COMMENT = 1000;


/** UTC calendar day of `ms`, e.g. "2025-01-31". */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The `n` days ending with the day of `now`, newest first. */
export function lastDays(now: number, n: number): string[] {
  return Array.from({ length: n }, (_, i) => dayOf(now - i * DAY_MS));
}

async function zrecord(r: ScriptedRedis, key: string, conv: string, ms: number): Promise<void> {
  await r
    .multi()
    .zadd(key, Math.max(0, Math.round(ms)), conv)
    .pexpire(key, STATS_RETENTION_DAYS * DAY_MS)
    .exec();
}

/** Time from the visitor starting to wait to the operator's first answer. */
export async function recordFirstResponse(r: ScriptedRedis, op: string, conv: string, ms: number, at = Date.now()): Promise<void> {
  await zrecord(r, SK.frt(op, dayOf(at)), conv, ms);
}

/** A conversation resolved by `op` (a chat handled), `ms` after it was created. */
export async function recordResolved(r: ScriptedRedis, op: string, conv: string, ms: number, at = Date.now()): Promise<void> {
  await zrecord(r, SK.res(op, dayOf(at)), conv, ms);
}

/** The visitor's rating of `op` for a conversation; a second rating of the same conversation replaces the first. */
export async function recordRating(r: ScriptedRedis, op: string, conv: string, rating: Rating, comment: string, at = Date.now()): Promise<void> {
  const key = SK.rate(op, dayOf(at));
  await r
    .multi()
    .hset(key, conv, JSON.stringify({ rating, comment: comment.slice(0, MAX_COMMENT), at }))
    .pexpire(key, STATS_RETENTION_DAYS * DAY_MS)
    .exec();
}

export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const v = values.slice().sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 ? (v[mid] as number) : Math.round(((v[mid - 1] as number) + (v[mid] as number)) / 2);
}

export interface PeriodStats {
  handled: number;
  medianFirstResponseMs: number | null;
  medianResolutionMs: number | null;
  good: number;
  bad: number;
}

export interface RatingItem {
  conv: string;
  rating: Rating;
  comment?: string;
  at: number;
}

export interface OperatorNumbers {
  today: PeriodStats;
  week: PeriodStats;
  ratings: RatingItem[];
}

interface DayData {
  frt: Map<string, number>;
  res: Map<string, number>;
  rate: Map<string, RatingItem>;
}

function pairs(flat: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i + 1 < flat.length; i += 2) m.set(flat[i] as string, Number(flat[i + 1]));
  return m;
}

async function readDay(r: ScriptedRedis, op: string, day: string): Promise<DayData> {
  const [frt, res, rate] = await Promise.all([r.zrange(SK.frt(op, day), 0, -1, 'WITHSCORES'), r.zrange(SK.res(op, day), 0, -1, 'WITHSCORES'), r.hgetall(SK.rate(op, day))]);
  const ratings = new Map<string, RatingItem>();
  for (const [conv, raw] of Object.entries(rate)) {
    const v = json<{ rating?: string; comment?: string; at?: number } | null>(raw, null);
    if (v?.rating !== 'good' && v?.rating !== 'bad') continue;
    const item: RatingItem = { conv, rating: v.rating, at: v.at ?? 0 };
    if (v.comment) item.comment = v.comment;
    ratings.set(conv, item);
  }
  return { frt: pairs(frt), res: pairs(res), rate: ratings };
}

/** Folds days oldest first, so a conversation counted on two days keeps its latest value, once. */
function summarise(days: DayData[]): PeriodStats & { ratings: RatingItem[] } {
  const frt = new Map<string, number>();
  const res = new Map<string, number>();
  const rate = new Map<string, RatingItem>();
  for (const d of days.slice().reverse()) {
    for (const [k, v] of d.frt) frt.set(k, v);
    for (const [k, v] of d.res) res.set(k, v);
    for (const [k, v] of d.rate) rate.set(k, v);
  }
  const ratings = [...rate.values()].sort((a, b) => b.at - a.at);
  return {
    handled: res.size,
    medianFirstResponseMs: median([...frt.values()]),
    medianResolutionMs: median([...res.values()]),
    good: ratings.filter((x) => x.rating === 'good').length,
    bad: ratings.filter((x) => x.rating === 'bad').length,
    ratings,
  };
}

/** Today and the last 7 days (today included) for one operator: 21 small reads, independent of traffic. */
export async function operatorNumbers(r: ScriptedRedis, op: string, now = Date.now()): Promise<OperatorNumbers> {
  const days = await Promise.all(lastDays(now, 7).map((d) => readDay(r, op, d)));
  const { ratings: _todayRatings, ...today } = summarise(days.slice(0, 1));
  const { ratings, ...week } = summarise(days);
  return { today, week, ratings };
}
