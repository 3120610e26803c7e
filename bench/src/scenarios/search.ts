/**
 * `pnpm bench search`: the search index (server/src/domain/search.ts) at size.
 *
 * Generates `conversations` conversations of `messagesPer` messages each (100,000 × 20 =
 * 2,000,000 by default) of chat text in English (half), Croatian and Russian (a quarter each),
 * spread over the last 90 days, written as the gateway stores them (visitor record, conversation
 * record, stream entries with their real ids, the site's indexes). Each batch of conversations is
 * then indexed exactly as the `search-index` consumer does it, event by event
 * (`Search.index`: conversation.created, every message.created, conversation.resolved), and only
 * that phase is measured: wall time, this process's CPU and Redis's CPU per message, Redis
 * `used_memory` growth per message.
 *
 * The same events are then counted by the reports consumer (`Reports.count`, timed apart), and
 * site reports over 7, 30 and 366 days are timed after the searches.
 *
 * Then `queries` searches one after the other as an admin (every conversation visible), through
 * `Search.search` (shard scripts, the records re-checked, snippets): two words taken from one
 * generated message (the target: p95 under 100 ms), the two most common words, and a word plus
 * a three-letter prefix.
 *
 * Bounded: generation stops after `maxSeconds` (the size reached is reported), every query loop
 * has its count. `--load` writes into the Redis `pnpm start` uses (DATA_DIR/redis, or REDIS_URL)
 * and keeps it, with the demo site and an admin (its password printed on the first run).
 */
import { buildApp } from '@hark/server/src/app';
import { DEMO_SITE, bootstrap } from '@hark/server/src/bootstrap';
import type { DomainEvent } from '@hark/server/src/domain/events';
import { K } from '@hark/server/src/store/keys';
import { parseQuery } from '@hark/server/src/domain/search-text';
import { SEARCH_DEFAULT_LIMIT } from '@hark/server/src/domain/search';
import { SEARCH_SHARDS, queryShard } from '@hark/server/src/store/search';
import { loadavg } from 'node:os';
import { commandStats } from '../lib/env';
import { sleep } from '../lib/pace';

/** The queries wait at most this long for a background rewrite of Redis's data to finish. */
const REWRITE_WAIT_MS = 300_000;

export interface SearchBenchOptions {
  redisUrl: string;
  conversations: number;
  messagesPer: number;
  /** Conversations written and indexed per batch (in parallel within it). */
  batch?: number;
  maxSeconds: number;
  queries: number;
  /** Keep the data (flush nothing first). */
  keep: boolean;
  log?: (s: string) => void;
}

export interface Percentiles {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  /** p99.9: with a few hundred samples this is the largest but one or two. */
  p999: number;
  max: number;
}

export interface SearchBenchResult {
  conversations: number;
  messages: number;
  /** Generation stopped at maxSeconds before the asked size. */
  cutShort: boolean;
  asked: { conversations: number; messages: number };
  indexWallSeconds: number;
  /** Messages indexed per second of wall time (the consumer's loop, `batch` conversations at once). */
  indexMsgsPerSec: number;
  /** CPU of this process (the consumer's side) per message indexed, µs. */
  indexClientCpuUsPerMsg: number;
  /** Redis CPU (user + sys) per message indexed, µs. */
  indexRedisCpuUsPerMsg: number;
  /** Redis used_memory growth over the indexing phases, per message, bytes. */
  indexBytesPerMsg: number;
  /** Redis used_memory at the end (data and index), MiB. */
  usedMemoryMiB: number;
  queries: { twoWords: Percentiles; commonPair: Percentiles; prefix: Percentiles };
  /**
   * Where a query's time goes: the same queries' shard scripts alone (all SEARCH_SHARDS at once, as
   * search() sends them), timed separately right after each search; the rest of a search is reading
   * the page's records and snippets.
   */
  shardScripts: { twoWords: Percentiles; commonPair: Percentiles; prefix: Percentiles };
  /** The same events counted by the reports consumer (`Reports.count`): wall µs per message. */
  reportsCountUsPerMsg: number;
  /** Site reports (supervisor scope) over 7, 30 and 366 days ending today, timed one after the other. */
  reports: { days7: Percentiles; days30: Percentiles; days366: Percentiles };
  /** Results per two-word query (how selective they were): median. */
  twoWordsMedianResults: number;
  /** How long the queries waited for a background rewrite of Redis's data (AOF) to finish first, ms. */
  waitedForRewriteMs: number;
  /** Background rewrites that ran (at least in part) during the queries and reports: their figures are then not the query's alone. */
  rewritesDuringQueries: number;
  /** The machine's 1-minute load average, sampled every progress line (the machine may be shared). */
  loadAvg: { min: number; max: number; samples: number[] };
}

const EN =
  'hello hi thanks thank you please order delivery package shipping refund invoice account password login card payment price discount coupon size color return exchange warehouse courier tracking number address street city phone email problem broken damaged missing late early today tomorrow yesterday monday friday week help question answer support team manager product laptop phone charger cable shoes jacket shirt bag book subscription plan upgrade cancel renew trial bill receipt bank transfer paypal wrong right fine great sorry unfortunately already still again maybe sure okay store online app website error page checkout cart'.split(
    ' ',
  );
const HR =
  'bok pozdrav hvala molim narudžba dostava paket pošiljka povrat račun lozinka prijava kartica plaćanje cijena popust kupon veličina boja zamjena skladište dostavljač praćenje broj adresa ulica grad telefon problem pokvareno oštećeno nedostaje kasni danas sutra jučer ponedjeljak petak tjedan pomoć pitanje odgovor podrška proizvod prijenosnik punjač kabel cipele jakna košulja torba knjiga pretplata otkazati obnoviti žao nažalost već još opet možda naravno trgovina aplikacija stranica greška košarica čokolada šalica kišobran žlica đak čarape'.split(
    ' ',
  );
const RU =
  'здравствуйте привет спасибо пожалуйста заказ доставка посылка возврат счёт пароль вход карта оплата цена скидка купон размер цвет обмен склад курьер отслеживание номер адрес улица город телефон проблема сломан повреждён потерялся опоздал сегодня завтра вчера понедельник пятница неделя помощь вопрос ответ поддержка товар ноутбук зарядка кабель обувь куртка рубашка сумка книга подписка отменить продлить извините к сожалению уже ещё снова может конечно магазин приложение сайт ошибка корзина ёлка чайник'.split(
    ' ',
  );
const NAMES = { en: ['Olivia', 'Liam', 'Emma', 'Noah', 'Ava', 'James', 'Mia', 'Lucas'], hr: ['Ivana', 'Marko', 'Ana', 'Luka', 'Petra', 'Ivan', 'Maja', 'Đuro'], ru: ['Ольга', 'Иван', 'Мария', 'Алексей', 'Анна', 'Дмитрий', 'Ёлена', 'Сергей'] };
const LAST = { en: ['Smith', 'Brown', 'Stone', 'Taylor'], hr: ['Horvat', 'Kovačević', 'Babić', 'Šarić'], ru: ['Иванова', 'Смирнов', 'Кузнецова', 'Попов'] };
type Lang = 'en' | 'hr' | 'ru';
const VOCAB: Record<Lang, string[]> = { en: EN, hr: HR, ru: RU };

/** A small deterministic generator (mulberry32): the same data on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Zipf-like pick: low indexes far more often (chat words are). */
function word(r: () => number, v: string[]): string {
  return v[Math.floor(v.length * r() ** 2.2)] as string;
}

function sentence(r: () => number, lang: Lang): string {
  const n = 4 + Math.floor(r() * 14);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(r() < 0.04 ? String(1000 + Math.floor(r() * 90_000)) : word(r, VOCAB[lang]));
  const s = out.join(' ');
  return `${s[0]?.toUpperCase() ?? ''}${s.slice(1)}${r() < 0.3 ? '?' : '.'}`;
}

function pct(xs: number[]): Percentiles {
  const v = xs.slice().sort((a, b) => a - b);
  const at = (p: number) => Math.round((v[Math.min(v.length - 1, Math.floor(p * v.length))] ?? 0) * 10) / 10;
  return { n: v.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), p999: at(0.999), max: at(1) };
}

function redisCpu(info: string): number {
  const u = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? 0);
  const s = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? 0);
  return u + s;
}

export async function searchBench(o: SearchBenchOptions): Promise<SearchBenchResult & { admin?: { email: string; password: string } }> {
  const log = o.log ?? ((s: string) => console.log(s));
  const hark = await buildApp({ redis: { url: o.redisUrl }, logger: false });
  const r = hark.conns.cmd;
  try {
    if (!o.keep) await r.flushall();
    const first = await bootstrap(hark.conns, {});
    const search = hark.ctx.domain.search;
    const site = DEMO_SITE;
    const me = (await hark.ctx.domain.operators.list()).find((x) => x.role === 'admin');
    if (!me) throw new Error('no admin operator');
    const ops = [
      { id: 'bench-op-1', name: 'Ana Kovač' },
      { id: 'bench-op-2', name: 'Pavel Orlov' },
      { id: 'bench-op-3', name: 'Grace Hill' },
    ];
    const rand = rng(17);
    const now = Date.now();
    const span = 90 * 86_400_000;
    const batch = o.batch ?? 250;
    const start = Date.now();
    const mem = async () => Number(/used_memory:(\d+)/.exec(await r.info('memory'))?.[1] ?? 0);
    let convs = 0;
    let msgs = 0;
    let indexMs = 0;
    let clientCpuUs = 0;
    let redisCpuS = 0;
    let indexBytes = 0;
    let reportsMs = 0;
    const reports = hark.ctx.domain.reports;
    let cutShort = false;
    const loads: number[] = [];
    /** Two words of one message per sampled conversation, for the queries. */
    const samples: string[] = [];
    const base = await r.incrby('bench:search:seq', o.conversations);
    for (let b0 = 0; b0 < o.conversations; b0 += batch) {
      if ((Date.now() - start) / 1000 > o.maxSeconds) {
        cutShort = true;
        break;
      }
      const n = Math.min(batch, o.conversations - b0);
      const events: DomainEvent[][] = [];
      // Write: each conversation as the gateway stores it.
      const p = r.pipeline();
      for (let j = 0; j < n; j++) {
        const i = base - o.conversations + b0 + j;
        const lang: Lang = i % 4 < 2 ? 'en' : i % 4 === 2 ? 'hr' : 'ru';
        const conv = `bc${i.toString(36)}`;
        const vid = `bv${i.toString(36)}`;
        const first = NAMES[lang][Math.floor(rand() * 8)] as string;
        const last = LAST[lang][Math.floor(rand() * 4)] as string;
        const created = now - span + Math.floor((i / Math.max(1, base)) * span * 0.999) + Math.floor(rand() * 1000);
        const op = ops[i % ops.length] as (typeof ops)[0];
        const resolved = created + o.messagesPer * 30_000 + 1000;
        const open = created > now - 3_600_000;
        p.hset(K.visitor(vid), { site, createdAt: String(created), verified: '0', attrs: JSON.stringify({ plan: rand() < 0.2 ? 'Enterprise' : 'Basic', customer: `C-${10_000 + (i % 90_000)}` }), name: `${first} ${last}`, email: `${first.toLowerCase()}.${i}@example.com` });
        p.zadd(K.visitorConvs(vid), created, conv);
        const meta: Record<string, string> = { site, visitor: vid, status: open ? 'open' : 'resolved', createdAt: String(created), op: op.id, opName: op.name, assignedAt: String(created + 1000) };
        if (!open) meta.resolvedAt = String(resolved);
        if (!open && rand() < 0.5) meta.rating = rand() < 0.8 ? 'good' : 'bad';
        const ev: DomainEvent[] = [{ id: `created:${conv}`, at: created, type: 'conversation.created', site, conv, visitor: vid }];
        let lastId = '';
        for (let m = 0; m < o.messagesPer; m++) {
          const at = created + 2000 + m * 30_000;
          const from = m % 2 === 0 ? 'visitor' : 'operator';
          const text = sentence(rand, lang);
          if (m === Math.floor(o.messagesPer / 2) && j % 25 === 0) {
            const ws = text.replace(/[?.]$/, '').split(' ').filter((w) => w.length > 2);
            const a = ws[Math.floor(rand() * ws.length)];
            const bw = ws[Math.floor(rand() * ws.length)];
            if (a && bw && a !== bw) samples.push(`${a} ${bw}`);
          }
          const id = `${at}-0`;
          lastId = id;
          const entry = { at, kind: 'msg', from, text, cid: `b${i}m${m}`, ...(from === 'operator' ? { op: { id: op.id, name: op.name } } : {}) };
          p.xadd(K.convStream(conv), id, 'd', JSON.stringify(entry));
          ev.push({ id: `msg:${conv}:${id}`, at, type: 'message.created', site, conv, by: from, entry: id, ...(from === 'operator' ? { op: op.id } : {}) } as DomainEvent);
        }
        meta.lastId = lastId;
        p.hset(K.conv(conv), meta);
        if (open) p.zadd(K.siteOpen(site), created, conv);
        else p.zadd(K.siteResolved(site), resolved, conv);
        if (!open) ev.push({ id: `resolved:${conv}`, at: resolved, type: 'conversation.resolved', site, conv, op: op.id, durationMs: resolved - created });
        events.push(ev);
      }
      await p.exec();
      // Index, measured: each conversation's events in order, the batch's conversations at once.
      const m0 = await mem();
      const c0 = redisCpu(await r.info('cpu'));
      const u0 = process.cpuUsage();
      const t0 = performance.now();
      await Promise.all(
        events.map(async (evs) => {
          for (const e of evs) await search.index(e as Parameters<typeof search.index>[0]);
        }),
      );
      indexMs += performance.now() - t0;
      const u = process.cpuUsage(u0);
      clientCpuUs += u.user + u.system;
      redisCpuS += redisCpu(await r.info('cpu')) - c0;
      indexBytes += (await mem()) - m0;
      // The reports consumer's share, measured apart.
      const r0 = performance.now();
      await Promise.all(
        events.map(async (evs) => {
          for (const e of evs) await reports.count(e);
        }),
      );
      reportsMs += performance.now() - r0;
      convs += n;
      msgs += n * o.messagesPer;
      if ((b0 / batch) % 40 === 0) loads.push(Math.round((loadavg()[0] ?? 0) * 10) / 10);
      if ((b0 / batch) % 40 === 0) log(`search bench: ${convs} conversations, ${msgs} messages indexed (${Math.round((Date.now() - start) / 1000)} s, load ${loadavg()[0]?.toFixed(1)})`);
    }
    // Redis rewrites its append-only file in a forked child when the file has doubled, which
    // indexing 2,000,000 messages sets off; pinned with the bench (HARK_BENCH_REDIS_CPUS), the child
    // shares Redis's core and every query during it waits on that. The queries are what is measured
    // here, so they start once a rewrite in progress has finished (bounded); whether one started
    // during the queries anyway is reported.
    const persistence = async () => {
      const info = await r.info('persistence');
      const n = (f: string) => Number(new RegExp(`${f}:(\\d+)`).exec(info)?.[1] ?? 0);
      return { busy: n('aof_rewrite_in_progress') + n('rdb_bgsave_in_progress') > 0, rewrites: n('aof_rewrites') + n('rdb_saves') };
    };
    const w0 = performance.now();
    while ((await persistence()).busy && performance.now() - w0 < REWRITE_WAIT_MS) await sleep(250);
    const waitedForRewriteMs = Math.round(performance.now() - w0);
    if (waitedForRewriteMs > 250) log(`search bench: waited ${waitedForRewriteMs} ms for Redis's background rewrite before the queries`);
    const rewrites0 = (await persistence()).rewrites;
    // Queries, one at a time.
    const commonPairs: Record<Lang, string> = { en: `${EN[0]} ${EN[1]}`, hr: `${HR[0]} ${HR[1]}`, ru: `${RU[0]} ${RU[1]}` };
    const shardMs: Record<'two' | 'common' | 'prefix', number[]> = { two: [], common: [], prefix: [] };
    // HARK_BENCH_SEARCH_SLOW=N: print the N slowest queries of each kind, with their shard scripts'
    // time and how many intersections and unions Redis built for them (diagnosis, not a result).
    const slowN = Number(process.env.HARK_BENCH_SEARCH_SLOW ?? 0);
    const slow: Record<keyof typeof shardMs, { q: string; ms: number; shardMs: number; inter: number; union: number }[]> = { two: [], common: [], prefix: [] };
    const sets = async (): Promise<[number, number]> => {
      if (slowN === 0) return [0, 0];
      const stats = await commandStats(r);
      return [stats.get('zinterstore')?.[0] ?? 0, stats.get('zunionstore')?.[0] ?? 0];
    };
    const time = async (q: string, kind: keyof typeof shardMs): Promise<[number, number]> => {
      const t0 = performance.now();
      const a = await search.search(me, { q });
      const ms = performance.now() - t0;
      const pq = parseQuery(q);
      const [i0, u0] = await sets();
      const s0 = performance.now();
      await Promise.all(
        Array.from({ length: SEARCH_SHARDS }, (_, n) => queryShard(r, site, n, { terms: pq.terms, prefix: pq.prefix, limit: SEARCH_DEFAULT_LIMIT, me: me.id, supervisor: true, filters: {} })),
      );
      const sms = performance.now() - s0;
      shardMs[kind].push(sms);
      if (slowN > 0) {
        const [i1, u1] = await sets();
        slow[kind].push({ q, ms: Math.round(ms * 10) / 10, shardMs: Math.round(sms * 10) / 10, inter: i1 - i0, union: u1 - u0 });
      }
      return [ms, a.results.length];
    };
    const two: number[] = [];
    const twoResults: number[] = [];
    const common: number[] = [];
    const prefix: number[] = [];
    const qn = Math.min(o.queries, Math.max(1, samples.length));
    for (let k = 0; k < qn; k++) {
      const s = samples[Math.floor((k * samples.length) / qn)] ?? 'order delivery';
      const [ms, n] = await time(s, 'two');
      two.push(ms);
      twoResults.push(n);
      const lang = (['en', 'en', 'hr', 'ru'] as const)[k % 4] ?? 'en';
      common.push((await time(commonPairs[lang], 'common'))[0]);
      const w = s.split(' ');
      prefix.push((await time(`${w[0]} ${(w[1] ?? 'ord').slice(0, 3)}`, 'prefix'))[0]);
    }
    twoResults.sort((a, b) => a - b);
    for (const [kind, xs] of Object.entries(slow)) {
      for (const x of xs.sort((a, b) => b.ms - a.ms).slice(0, slowN)) log(`slow ${kind}: ${JSON.stringify(x)}`);
    }
    const today = new Date().toISOString().slice(0, 10);
    const back = (d: number) => new Date(Date.now() - (d - 1) * 86_400_000).toISOString().slice(0, 10);
    const timeReport = async (days: number, n: number): Promise<Percentiles> => {
      const xs: number[] = [];
      for (let k = 0; k < n; k++) {
        const t0 = performance.now();
        await reports.report(me, { site, from: back(days), to: today });
        xs.push(performance.now() - t0);
      }
      return pct(xs);
    };
    const reportTimes = { days7: await timeReport(7, 30), days30: await timeReport(30, 30), days366: await timeReport(366, 10) };
    const after = await persistence();
    const rewritesDuringQueries = after.rewrites - rewrites0 + (after.busy ? 1 : 0);
    return {
      conversations: convs,
      messages: msgs,
      cutShort,
      asked: { conversations: o.conversations, messages: o.conversations * o.messagesPer },
      indexWallSeconds: Math.round(indexMs / 100) / 10,
      indexMsgsPerSec: Math.round(msgs / (indexMs / 1000)),
      indexClientCpuUsPerMsg: Math.round((clientCpuUs / msgs) * 10) / 10,
      indexRedisCpuUsPerMsg: Math.round(((redisCpuS * 1e6) / msgs) * 10) / 10,
      indexBytesPerMsg: Math.round(indexBytes / msgs),
      usedMemoryMiB: Math.round((await mem()) / 2 ** 20),
      queries: { twoWords: pct(two), commonPair: pct(common), prefix: pct(prefix) },
      shardScripts: { twoWords: pct(shardMs.two), commonPair: pct(shardMs.common), prefix: pct(shardMs.prefix) },
      twoWordsMedianResults: twoResults[twoResults.length >> 1] ?? 0,
      reportsCountUsPerMsg: Math.round(((reportsMs * 1000) / msgs) * 10) / 10,
      reports: reportTimes,
      waitedForRewriteMs,
      rewritesDuringQueries,
      loadAvg: { min: Math.min(...loads, loadavg()[0] ?? 0), max: Math.max(...loads, loadavg()[0] ?? 0), samples: [...loads, Math.round((loadavg()[0] ?? 0) * 10) / 10] },
      ...(first.admin ? { admin: { email: first.admin.email, password: first.admin.password } } : {}),
    };
  } finally {
    await hark.close();
  }
}
