/**
 * Reports: per site, team or operator and a range of days in the site's time zone, against the
 * period before. Kept as rollups per site-local day, with the hours where a chart needs them
 * (store/reports.ts), by a consumer of the event log (`consumer()`), never by scanning
 * conversations; a report reads one hash per day, so its cost depends on the range, not on how
 * many conversations there were.
 *
 * Metrics, per scope (`all`, a team, an operator):
 * - conversations: started (site and team); for an operator, the ones they answered first;
 * - missed: resolved without any operator's answer (the visitor left first);
 * - offline messages; messages (messages per chat = messages / conversations);
 * - first-response time and resolution time: median and p90 from histograms (DURATION_BINS_S,
 *   read within a bin);
 * - ratings: good, bad, with a comment; transfers (for an operator: the ones they handed on);
 * - operators online: operator-time per site-local hour (kept in ms, shown in hours) for the heat-map beside incoming chats.
 *
 * Who sees what (policy.ts): supervisors and admins any scope of their sites (an operator's only
 * when they oversee them); an operator only their own numbers, with their teams' medians beside.
 * The site's time zone is its business hours' (`hours.tz`), else UTC; hours are bucketed in the
 * zone the site had when the event was counted.
 */
import { mapLimit } from '@hark/shared/async';
import { HarkError, type Report, type ReportDay, type ReportNumbers, type ReportQuery } from '@hark/shared';
export type { Report, ReportDay, ReportNumbers, ReportQuery };
import type { Operator } from '../store/operators';
import { type ConvMeta, getMeta, getMetaFields } from '../store/conversations';
import { optNum } from '../store/util';
import { K } from '../store/keys';
import { getOperator, listOperators } from '../store/operators';
import { DURATION_BINS_S, binOf, countBatch, countOnce, onlineSince, pagesByScore, readDays, setOnlineSince } from '../store/reports';
import { getSite } from '../store/sites';
import type { Deps } from './deps';
import { EVENT_BATCH_CONCURRENCY, type LoggedEvent, type SideEffectConsumer } from './event-consumers';
import type { DomainEvent } from './events';
import { canSeeSite, isSupervisor, oversees } from './policy';

/** The longest range a report covers (days); longer is refused with REPORT_RANGE_TOO_LONG. */
export const MAX_REPORT_DAYS = 366;
/** Teammates whose numbers make an operator's team median at most. */
export const MAX_TEAM_PEERS = 50;
/** Conversation records read per page by the conversations CSV (one ZRANGEBYSCORE, then the records). */
export const REPORT_CONV_PAGE = 500;
/** How long a site's time zone is cached by the consumer (ms). */
const TZ_CACHE_MS = 60_000;

const NBINS = DURATION_BINS_S.length + 1;
/** Increments: site-local day -> field -> by. */
type Incs = Map<string, Map<string, number>>;
const COUNTERS = ['in', 'missed', 'off', 'msg', 'good', 'bad', 'cmt', 'xfer', 'frt_n', 'frt_sum', 'res_n', 'res_sum', 'onl'] as const;
type Counter = (typeof COUNTERS)[number];

/** Adds `by` to `field` of each scope in the day of `hour` (`YYYY-MM-DDTHH`); conversations started and time online also per hour. */
function addTo(incs: Map<string, Map<string, number>>, hour: string, scopes: string[], field: string, by = 1): void {
  const day = hour.slice(0, 10);
  let m = incs.get(day);
  if (!m) incs.set(day, (m = new Map()));
  const fields = field === 'in' || field === 'onl' ? [field, `${field}@${hour.slice(11, 13)}`] : [field];
  for (const s of scopes) for (const f of fields) m.set(`${s}|${f}`, (m.get(`${s}|${f}`) ?? 0) + by);
}

const fmts = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string): Intl.DateTimeFormat {
  let f = fmts.get(tz);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', hourCycle: 'h23' });
    } catch {
      f = new Intl.DateTimeFormat('en-CA', { timeZone: 'UTC', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', hourCycle: 'h23' });
    }
    fmts.set(tz, f);
  }
  return f;
}

/** Per zone, the last second asked and its hour: the consumer asks for the same second over and over (Intl's formatting was 2–3 % of its CPU). */
const lastHour = new Map<string, { sec: number; hour: string }>();

/** The site-local hour of `ms` in `tz`, as `YYYY-MM-DDTHH`. */
export function localHour(ms: number, tz: string): string {
  const sec = Math.floor(ms / 1000);
  const last = lastHour.get(tz);
  if (last?.sec === sec) return last.hour;
  const p = Object.fromEntries(formatter(tz).formatToParts(ms).map((x) => [x.type, x.value]));
  const hour = `${p.year}-${p.month}-${p.day}T${p.hour}`;
  // Bounded like `fmts`: one entry per zone a site has.
  lastHour.set(tz, { sec, hour });
  return hour;
}

const minuteFmts = new Map<string, Intl.DateTimeFormat>();
/** `ms` as `YYYY-MM-DD HH:MM` in `tz`. */
export function localMinute(ms: number, tz: string): string {
  let f = minuteFmts.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone: formatter(tz).resolvedOptions().timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    minuteFmts.set(tz, f);
  }
  const p = Object.fromEntries(f.formatToParts(ms).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

/** The instant (ms) the site-local day `day` (YYYY-MM-DD) starts in `tz` (its first minute, DST included). */
export function zonedDayStart(day: string, tz: string): number {
  const wall = (ms: number) => {
    const m = localMinute(ms, tz);
    return Date.UTC(Number(m.slice(0, 4)), Number(m.slice(5, 7)) - 1, Number(m.slice(8, 10)), Number(m.slice(11, 13)), Number(m.slice(14, 16)));
  };
  const target = dayMs(day);
  let t = target - (wall(target) - target);
  // Once more where the offset differs at the first guess (a DST change that day).
  t -= wall(t) - target;
  return t;
}

const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;
function dayMs(day: string): number {
  return Date.UTC(Number(day.slice(0, 4)), Number(day.slice(5, 7)) - 1, Number(day.slice(8, 10)));
}
function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
/** Days from `from` to `to`, both included. */
function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = dayMs(from); t <= dayMs(to); t += 86_400_000) out.push(dayOf(t));
  return out;
}

function quantile(bins: number[], q: number): number | null {
  const n = bins.reduce((a, b) => a + b, 0);
  if (n === 0) return null;
  const want = q * n;
  let seen = 0;
  for (let i = 0; i < bins.length; i++) {
    const c = bins[i] ?? 0;
    if (seen + c >= want && c > 0) {
      const lo = i === 0 ? 0 : (DURATION_BINS_S[i - 1] ?? 0);
      const hi = DURATION_BINS_S[i] ?? lo * 2;
      return Math.round((lo + ((want - seen) / c) * (hi - lo)) * 1000);
    }
    seen += c;
  }
  return null;
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const v = xs.slice().sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? (v[m] as number) : ((v[m - 1] as number) + (v[m] as number)) / 2;
}

interface Acc {
  c: Record<Counter, number>;
  frt: number[];
  res: number[];
}
const emptyAcc = (): Acc => ({ c: Object.fromEntries(COUNTERS.map((k) => [k, 0])) as Record<Counter, number>, frt: Array(NBINS).fill(0), res: Array(NBINS).fill(0) });

function fieldsFor(scope: string): string[] {
  const out: string[] = COUNTERS.map((c) => `${scope}|${c}`);
  for (let i = 0; i < NBINS; i++) out.push(`${scope}|frt:${i}`);
  for (let i = 0; i < NBINS; i++) out.push(`${scope}|res:${i}`);
  return out;
}
function addRow(a: Acc, row: number[]): void {
  COUNTERS.forEach((c, i) => {
    a.c[c] += row[i] ?? 0;
  });
  for (let i = 0; i < NBINS; i++) {
    a.frt[i] = (a.frt[i] ?? 0) + (row[COUNTERS.length + i] ?? 0);
    a.res[i] = (a.res[i] ?? 0) + (row[COUNTERS.length + NBINS + i] ?? 0);
  }
}
function numbers(a: Acc): ReportNumbers {
  const rated = a.c.good + a.c.bad;
  return {
    conversations: a.c.in,
    missed: a.c.missed,
    offlineMessages: a.c.off,
    messages: a.c.msg,
    messagesPerChat: a.c.in ? Math.round((a.c.msg / a.c.in) * 10) / 10 : null,
    firstResponseMedianMs: quantile(a.frt, 0.5),
    firstResponseP90Ms: quantile(a.frt, 0.9),
    resolutionMedianMs: quantile(a.res, 0.5),
    resolutionP90Ms: quantile(a.res, 0.9),
    good: a.c.good,
    bad: a.c.bad,
    goodPct: rated ? Math.round((a.c.good / rated) * 1000) / 10 : null,
    withComment: a.c.cmt,
    transfers: a.c.xfer,
    operatorHoursOnline: Math.round((a.c.onl / 3_600_000) * 1000) / 1000,
  };
}


export class Reports {
  private readonly tzs = new Map<string, { tz: string; at: number }>();
  constructor(private readonly d: Deps) {}

  private async tzOf(site: string): Promise<string> {
    const c = this.tzs.get(site);
    if (c && Date.now() - c.at < TZ_CACHE_MS) return c.tz;
    const tz = (await getSite(this.d.c.cmd, site))?.hours?.tz || 'UTC';
    this.tzs.set(site, { tz, at: Date.now() });
    return tz;
  }

  consumer(): SideEffectConsumer {
    return {
      name: 'reports',
      // A read at a time (event-consumers.ts): each site's counts in one script, once past a watermark
      // per site and partition (countBatch); operators' online time one event at a time, once per event id.
      batch: true,
      types: ['conversation.created', 'conversation.answered', 'conversation.resolved', 'conversation.rated', 'conversation.transferred', 'offline_message.created', 'message.created', 'operator.status_changed'],
      handle: (e) => this.count(e),
      handleBatch: (events, partition) => this.countRead(events, partition),
    };
  }

  /** Counts one event into its site's hour buckets (once per event id). */
  async count(e: DomainEvent): Promise<void> {
    if (e.type === 'operator.status_changed') return this.presence(e.op, e.status, e.at, e.site, e.id);
    const c = await this.incsOf(e);
    if (c) await countOnce(this.d.c.cmd, c.site, e.id, c.incs);
  }

  /**
   * Counts a read of the event log (one partition's events, in stream order): the operators' status
   * changes one at a time and in order, as `count` does; the rest with their increments worked out
   * EVENT_BATCH_CONCURRENCY at a time, then one script per site (store/reports.ts countBatch), each
   * event once however often the read is delivered. Where there was one script and one `seen` key
   * (kept two days) per event, a message now costs neither.
   */
  async countRead(events: readonly LoggedEvent[], partition: number): Promise<void> {
    const rest: LoggedEvent[] = [];
    for (const x of events) {
      if (x.event.type === 'operator.status_changed') await this.count(x.event);
      else rest.push(x);
    }
    const out = await mapLimit(rest, EVENT_BATCH_CONCURRENCY, (x) => this.incsOf(x.event));
    const bySite = new Map<string, { streamId: string; incs: Incs }[]>();
    out.forEach((c, i) => {
      if (!c?.incs.size) return;
      const list = bySite.get(c.site) ?? [];
      list.push({ streamId: (rest[i] as LoggedEvent).streamId, incs: c.incs });
      bySite.set(c.site, list);
    });
    await Promise.all([...bySite].map(([site, list]) => countBatch(this.d.c.cmd, site, partition, list)));
  }

  /** An event's increments (site-local day -> field -> by), and its site; null for one that counts nothing here. */
  private async incsOf(e: DomainEvent): Promise<{ site: string; incs: Incs } | null> {
    const r = this.d.c.cmd;
    if (e.type === 'operator.status_changed' || !e.site) return null;
    const site = e.site;
    const tz = await this.tzOf(site);
    // Only these two of the conversation's record (not its last message and the rest): this runs for every message.
    const m = 'conv' in e && e.conv ? await getMetaFields(r, e.conv, ['team', 'firstResponseAt'] as const) : null;
    const meta = m ? { team: m.team || undefined, firstResponseAt: optNum(m.firstResponseAt) } : null;
    const teams = async (op?: string): Promise<string[]> => {
      if (meta?.team) return [meta.team];
      if (!op) return [];
      return (await getOperator(r, op))?.teams ?? [];
    };
    const incs = new Map<string, Map<string, number>>();
    const add = (at: number, scopes: string[], field: string, by = 1) => addTo(incs, localHour(at, tz), scopes, field, by);
    const ts = (xs: string[]) => xs.map((t) => `t:${t}`);
    switch (e.type) {
      case 'conversation.created':
        add(e.at, ['all', ...ts(await teams())], 'in');
        break;
      case 'conversation.answered': {
        const scopes = ['all', `o:${e.op}`, ...ts(await teams(e.op))];
        add(e.at, [`o:${e.op}`], 'in');
        if (e.firstResponseMs !== undefined) {
          add(e.at, scopes, `frt:${binOf(e.firstResponseMs)}`);
          add(e.at, scopes, 'frt_n');
          add(e.at, scopes, 'frt_sum', e.firstResponseMs);
        }
        break;
      }
      case 'conversation.resolved': {
        const scopes = ['all', ...(e.op ? [`o:${e.op}`] : []), ...ts(await teams(e.op))];
        if (e.durationMs !== undefined) {
          add(e.at, scopes, `res:${binOf(e.durationMs)}`);
          add(e.at, scopes, 'res_n');
          add(e.at, scopes, 'res_sum', e.durationMs);
        }
        if (meta && !meta.firstResponseAt) add(e.at, ['all', ...ts(await teams())], 'missed');
        break;
      }
      case 'conversation.rated': {
        const scopes = ['all', ...(e.op ? [`o:${e.op}`] : []), ...ts(await teams(e.op))];
        add(e.at, scopes, e.rating);
        if (e.comment.trim()) add(e.at, scopes, 'cmt');
        break;
      }
      case 'conversation.transferred':
        add(e.at, ['all', ...(e.from ? [`o:${e.from}`] : []), ...ts(await teams(e.from))], 'xfer');
        break;
      case 'offline_message.created':
        add(e.at, ['all', ...ts(await teams())], 'off');
        break;
      case 'message.created':
        add(e.at, ['all', ...(e.by === 'operator' && e.op ? [`o:${e.op}`] : []), ...ts(await teams(e.by === 'operator' ? e.op : undefined))], 'msg');
        break;
      default:
        return null;
    }
    return { site, incs };
  }

  /** Online time: from an operator going online to their next other status, split into the hours it spans. */
  private async presence(op: string, status: string, at: number, site: string | undefined, id: string): Promise<void> {
    const r = this.d.c.cmd;
    const sites = site ? [site] : ((await getOperator(r, op))?.sites ?? []);
    for (const s of sites) {
      const since = await onlineSince(r, s, op);
      if (status === 'online') {
        if (since === null) await setOnlineSince(r, s, op, at);
        continue;
      }
      if (since === null) continue;
      const tz = await this.tzOf(s);
      const incs = new Map<string, Map<string, number>>();
      // At most a week of one stretch is counted (a lost "offline" must not fill the heat-map).
      for (let t = since; t < Math.min(at, since + 7 * 86_400_000); ) {
        const next = Math.min(at, (Math.floor(t / 3_600_000) + 1) * 3_600_000);
        addTo(incs, localHour(t, tz), ['all', `o:${op}`], 'onl', next - t);
        t = next;
      }
      await countOnce(r, s, `${id}:${s}`, incs);
      await setOnlineSince(r, s, op, null);
    }
  }

  /** Checks the range and who may see which scope (the report and its conversations alike). */
  private async scopeFor(me: Operator, q: ReportQuery): Promise<{ days: string[]; scope: Report['scope']; key: string }> {
    const r = this.d.c.cmd;
    if (!DAY_RE.test(q.from) || !DAY_RE.test(q.to) || Number.isNaN(dayMs(q.from)) || Number.isNaN(dayMs(q.to)) || dayMs(q.from) > dayMs(q.to)) throw new HarkError('REPORT_BAD_RANGE');
    const days = daysBetween(q.from, q.to);
    if (days.length > MAX_REPORT_DAYS) throw new HarkError('REPORT_RANGE_TOO_LONG');
    if (!canSeeSite(me, q.site) || !(await getSite(r, q.site))) throw new HarkError('NOT_FOUND');
    const sup = isSupervisor(me);
    let scope: Report['scope'];
    if (q.operator && q.operator !== me.id) {
      const other = await getOperator(r, q.operator);
      if (!sup || !other || !oversees(me, other)) throw new HarkError('FORBIDDEN', 'Only supervisors see another operator’s numbers, of operators they oversee.');
      scope = { kind: 'operator', id: q.operator };
    } else if (q.operator === me.id || !sup) {
      scope = { kind: 'operator', id: me.id };
    } else if (q.team) {
      scope = { kind: 'team', id: q.team };
    } else {
      scope = { kind: 'site', id: q.site };
    }
    const key = scope.kind === 'site' ? 'all' : scope.kind === 'team' ? `t:${scope.id}` : `o:${scope.id}`;
    return { days, scope, key };
  }

  async report(me: Operator, q: ReportQuery): Promise<Report> {
    const { days, scope, key } = await this.scopeFor(me, q);
    const tz = await this.tzOf(q.site);
    const prevTo = dayOf(dayMs(q.from) - 86_400_000);
    const prevFrom = dayOf(dayMs(q.from) - days.length * 86_400_000);
    const [cur, prev] = await Promise.all([this.read(q.site, key, days, true), this.read(q.site, key, daysBetween(prevFrom, prevTo), false)]);
    // The online hours beside incoming chats are the whole site's (who was there to answer), whatever the scope.
    const onl = key === 'all' ? cur.onl : (await this.read(q.site, 'all', days, true)).onl;
    const heat = { incoming: Array.from({ length: 7 }, () => Array(24).fill(0) as number[]), online: Array.from({ length: 7 }, () => Array(24).fill(0) as number[]) };
    for (const [i, day] of days.entries()) {
      const wd = new Date(dayMs(day)).getUTCDay();
      const inc = heat.incoming[wd] as number[];
      const on = heat.online[wd] as number[];
      for (let h = 0; h < 24; h++) {
        inc[h] = (inc[h] ?? 0) + (cur.inc[i]?.[h] ?? 0);
        on[h] = (on[h] ?? 0) + (onl[i]?.[h] ?? 0);
      }
    }
    // Operator-milliseconds → operator-hours.
    heat.online = heat.online.map((row) => row.map((ms) => Math.round((ms / 3_600_000) * 10_000) / 10_000));
    const out: Report = {
      site: q.site,
      tz,
      scope,
      from: q.from,
      to: q.to,
      totals: numbers(cur.total),
      previous: { from: prevFrom, to: prevTo, totals: numbers(prev.total) },
      days: days.map((day, i) => ({ day, numbers: numbers(cur.days[i] as Acc) })),
      heat,
    };
    if (scope.kind === 'operator' && scope.id === me.id) out.teamMedian = await this.teamMedian(me, q.site, days);
    return out;
  }

  private async read(site: string, scope: string, days: string[], hourly: boolean): Promise<{ total: Acc; days: Acc[]; inc: number[][]; onl: number[][] }> {
    const base = fieldsFor(scope);
    const hours = Array.from({ length: 24 }, (_, h) => String(h).padStart(2, '0'));
    const fields = hourly ? [...base, ...hours.map((h) => `${scope}|in@${h}`), ...hours.map((h) => `${scope}|onl@${h}`)] : base;
    const rows = await readDays(this.d.c.cmd, site, days, fields);
    const total = emptyAcc();
    const perDay = rows.map((row) => {
      const a = emptyAcc();
      addRow(a, row);
      addRow(total, row);
      return a;
    });
    const inc = hourly ? rows.map((row) => row.slice(base.length, base.length + 24)) : [];
    const onl = hourly ? rows.map((row) => row.slice(base.length + 24, base.length + 48)) : [];
    return { total, days: perDay, inc, onl };
  }

  /**
   * The conversations behind a report (`GET /v1/reports/conversations.csv`): checked like the
   * report (range, scope, who may see it), then `lines()` streams them as CSV, REPORT_CONV_PAGE
   * records at a time, never the whole list in memory. Those started within the range's
   * site-local days, of the scope (a team's: routed to it; an operator's: assigned to them):
   * the unresolved from the site's open set by start, then the resolved from its resolved set
   * from the range's start on (a conversation is resolved after it started), by the resolution's
   * time, so each page is a range read and the ones started outside are left out.
   */
  async conversations(me: Operator, q: ReportQuery): Promise<{ scope: Report['scope']; tz: string; lines: () => AsyncGenerator<string> }> {
    const { scope } = await this.scopeFor(me, q);
    const tz = await this.tzOf(q.site);
    const start = zonedDayStart(q.from, tz);
    const end = zonedDayStart(dayOf(dayMs(q.to) + 86_400_000), tz);
    const r = this.d.c.cmd;
    const mine = (m: ConvMeta | null): m is ConvMeta =>
      !!m && m.visitor !== '-' && m.site === q.site && m.createdAt >= start && m.createdAt < end && (scope.kind === 'site' || (scope.kind === 'team' ? m.team === scope.id : m.op === scope.id));
    const site = q.site;
    return {
      scope,
      tz,
      lines: async function* () {
        yield `${CONV_CSV_COLUMNS.join(',')}\n`;
        const seen = new Set<string>();
        for await (const ids of pagesByScore(r, K.siteOpen(site), start, end - 1, REPORT_CONV_PAGE)) {
          const metas = await Promise.all(ids.map((id) => getMeta(r, id)));
          let out = '';
          for (const m of metas) {
            if (!mine(m)) continue;
            seen.add(m.id);
            out += convCsvLine(m, tz);
          }
          if (out) yield out;
        }
        for await (const ids of pagesByScore(r, K.siteResolved(site), start, Number.POSITIVE_INFINITY, REPORT_CONV_PAGE)) {
          const metas = await Promise.all(ids.map((id) => getMeta(r, id)));
          let out = '';
          // One resolved while this ran was listed with the open ones.
          for (const m of metas) if (mine(m) && !seen.has(m.id)) out += convCsvLine(m, tz);
          if (out) yield out;
        }
      },
    };
  }

  /** The medians, over the operator's teammates on the site (themselves included), of their headline numbers. */
  private async teamMedian(me: Operator, site: string, days: string[]): Promise<Report['teamMedian']> {
    if (me.teams.length === 0) return null;
    const peers = (await listOperators(this.d.c.cmd)).filter((o) => o.active && canSeeSite(o, site) && o.teams.some((t) => me.teams.includes(t))).slice(0, MAX_TEAM_PEERS);
    if (peers.length < 2) return null;
    const all = await Promise.all(peers.map(async (o) => numbers((await this.read(site, `o:${o.id}`, days, false)).total)));
    const m = (f: (n: ReportNumbers) => number | null) => median(all.map(f).filter((x): x is number => x !== null));
    return { conversations: m((n) => n.conversations) ?? 0, firstResponseMedianMs: m((n) => n.firstResponseMedianMs), resolutionMedianMs: m((n) => n.resolutionMedianMs), goodPct: m((n) => n.goodPct) };
  }
}

export const REPORT_CSV_COLUMNS = [
  'day',
  'conversations',
  'missed',
  'offline_messages',
  'messages',
  'messages_per_chat',
  'first_response_median_s',
  'first_response_p90_s',
  'resolution_median_s',
  'resolution_p90_s',
  'good',
  'bad',
  'good_pct',
  'with_comment',
  'transfers',
  'operator_hours_online',
] as const;

/** The report as CSV lines (header first, a line per day, then the totals and the previous period's). */
export function* reportCsv(rep: Report): Generator<string> {
  const s = (ms: number | null) => (ms === null ? '' : String(Math.round(ms / 100) / 10));
  const v = (x: number | null) => (x === null ? '' : String(x));
  const line = (label: string, n: ReportNumbers) =>
    `${[label, n.conversations, n.missed, n.offlineMessages, n.messages, v(n.messagesPerChat), s(n.firstResponseMedianMs), s(n.firstResponseP90Ms), s(n.resolutionMedianMs), s(n.resolutionP90Ms), n.good, n.bad, v(n.goodPct), n.withComment, n.transfers, n.operatorHoursOnline].join(',')}\n`;
  yield `${REPORT_CSV_COLUMNS.join(',')}\n`;
  for (const d of rep.days) yield line(d.day, d.numbers);
  yield line('total', rep.totals);
  yield line(`previous ${rep.previous.from}..${rep.previous.to}`, rep.previous.totals);
}

export const CONV_CSV_COLUMNS = [
  'conversation',
  'started',
  'status',
  'operator',
  'operator_name',
  'team',
  'visitor',
  'first_response_s',
  'missed',
  'offline',
  'resolved',
  'resolution_s',
  'rating',
  'rating_comment',
] as const;

/** A CSV cell: quoted when it must be; a leading = + - @ (a spreadsheet formula) made text with a quote. */
export function csvCell(v: string | number | undefined | null): string {
  if (v === undefined || v === null) return '';
  let s = String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One conversation of the conversations CSV; times in the site's zone (`YYYY-MM-DD HH:MM`), durations in seconds. */
export function convCsvLine(m: ConvMeta, tz: string): string {
  const secs = (a?: number, b?: number) => (a !== undefined && b !== undefined ? String(Math.round((a - b) / 100) / 10) : '');
  const status = m.status === 'new' ? 'queued' : m.status;
  const missed = m.resolvedAt !== undefined && m.firstResponseAt === undefined ? '1' : '0';
  return `${[
    csvCell(m.id),
    localMinute(m.createdAt, tz),
    status,
    csvCell(m.op),
    csvCell(m.opName),
    csvCell(m.team),
    csvCell(m.visitor),
    secs(m.firstResponseAt, m.createdAt),
    missed,
    m.offline ? '1' : '0',
    m.resolvedAt !== undefined ? localMinute(m.resolvedAt, tz) : '',
    secs(m.resolvedAt, m.createdAt),
    csvCell(m.rating),
    csvCell(m.ratingComment),
  ].join(',')}\n`;
}
