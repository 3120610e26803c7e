/**
 * Scenario 2, chat load: visitors on gateway A, operators on gateway B, one Redis
 * (or a Redis Cluster). Each visitor message is answered by its operator at once.
 * Rates are total messages per second (half visitor → operator, half back),
 * stepped up until p99 passes the give-up bound.
 */
import { loadavg } from 'node:os';
import { Redis } from 'ioredis';
import { type LoopStats, loopStats } from '../lib/child';
import { type Fleet, type Hooks, floorFleet, oursFleet, socketioFleet } from '../lib/fleets';
import { type Percentiles, histogram, record, summary } from '../lib/hist';
import { pace, sleep, until } from '../lib/pace';
import { compiled } from '../lib/bundle';
import { type Server, procCpuMs, startServer } from '../lib/proc';
import { seed } from '../lib/seed';
import { aofStats, commandStats } from '../lib/env';
import { settle } from '../lib/settle';
import { CONSUMER_WORKER_NICE } from '@hark/server/src/config';

export interface ChatOptions {
  systems: ('floor' | 'socketio' | 'ours')[];
  rates: number[];
  stepMs: number;
  visitors: number;
  operators: number;
  sites: number;
  redisUrl: string;
  /** redis-server processes whose CPU is counted (one, or every cluster master). */
  redisPids: number[];
  /** Gateways talk to this cluster instead (ours only). */
  clusterNodes?: string[];
  label?: string;
}

export interface ChatStep {
  system: string;
  rate: number;
  sent: number;
  delivered: number;
  lost: number;
  achievedRate: number;
  v2o: Percentiles;
  o2v: Percentiles;
  /** Gateway CPU (both processes) per 1,000 delivered messages, ms. */
  cpuPer1k: number;
  redisCpuPer1k: number;
  /** Of cpuPer1k, the consumer worker's (C) share. */
  consumersCpuPer1k?: number;
  senderLagMs: number;
  /** Close codes the load clients saw up to the end of this step (code → sockets). */
  closes: Record<string, number>;
  /** Each gateway's event-loop delay and GC pauses over the step, and its RSS at the end (A: visitors, B: operators). */
  /** Event loop, GC and RSS of gateway A, B and (with the consumer worker) C. */
  loop: { a: LoopStats; b: LoopStats; c?: LoopStats; client?: LoopStats };
  /** Redis's latency monitor over the step (events over REDIS_LATENCY_THRESHOLD_MS: fork, aof-write, command…): event → [times seen in LATENCY HISTORY, max ms]. */
  redisLatency?: Record<string, [number, number, number]>;
  /** The SLOW_BUCKET_MS spans of the step (by due time, ms from its start) whose worst message took SLOW_MS or more, either way. */
  slowBuckets?: { atMs: number; ms: number }[];
  /** Redis's busiest commands over the step (INFO commandstats): µs of Redis CPU per 1,000 delivered messages, and calls per message (one Redis only). */
  redisTop?: { cmd: string; usPer1k: number; callsPerMsg: number }[];
  /** Redis forks (AOF rewrites) started during the step, and the last fork's µs: latency spikes line up with them. */
  aofRewrites?: number;
  lastForkUs?: number;
  /** The AOF's growth per 1,000 delivered messages over the step, bytes (absent when a rewrite ran in it). */
  aofBytesPer1k?: number;
  /** 1-minute load average of the machine at the end of the step (other jobs share it). */
  loadAvg: number;
}

/**
 * Stop stepping up once the median passes this: the system is past saturation (a descending
 * sweep goes on down). (Not
 * p99: on a machine shared with other jobs, p99 jumps with their load long before the
 * server itself saturates.)
 */
const GIVE_UP_P50_MS = 100;
/** An unrecorded first step at the lowest rate, so JIT warm-up and the setup's after-effects are not measured. */
const WARMUP_MS = 2_000;
/** After the last send of a step, wait at most this for the answers still in flight. */
const DRAIN_MS = 3_000;
const MAX_SEQ = 2_000_000;
/** Redis's latency monitor threshold during a run (ms): what stalled Redis itself, by cause. */
const REDIS_LATENCY_THRESHOLD_MS = 5;

/** LATENCY LATEST as event → [samples in its history, max ms, when the latest was (ms after `from`, a wall-clock time; second resolution)]. */
async function redisLatency(r: Redis, from: number): Promise<Record<string, [number, number, number]>> {
  const out: Record<string, [number, number, number]> = {};
  for (const row of (await r.call('LATENCY', 'LATEST')) as [string, number, number, number][]) {
    const hist = (await r.call('LATENCY', 'HISTORY', row[0])) as unknown[];
    out[row[0]] = [hist.length, Number(row[3]), Number(row[1]) * 1000 - from];
  }
  return out;
}
/** The step's timeline: spans of this many ms… */
const SLOW_BUCKET_MS = 100;
/** …listed when a message due in them took this long (either way). */
const SLOW_MS = 20;

async function servers(system: string, o: ChatOptions): Promise<Server[]> {
  // Ours as `pnpm start` runs it: compiled into one bundle on plain node (lib/bundle.ts; HARK_BENCH_GATEWAY=tsx for the sources).
  const file = system === 'ours' ? await compiled('src/servers/gateway.ts') : `peers/${system}/server.ts`;
  const env: Record<string, string> = o.clusterNodes && system === 'ours' ? { REDIS_CLUSTER_NODES: o.clusterNodes.join(',') } : { REDIS_URL: o.redisUrl };
  // HARK_BENCH_NODE_ARGS="--trace-gc": extra Node flags for the servers (their output goes to this one's).
  const args = process.env.HARK_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  // Ours as `pnpm start` runs it with several workers: the event consumers (search index, reports,
  // stats, mail, webhooks) and the jobs run in a third process at CONSUMER_WORKER_NICE on the same
  // cores, not in A and B (app.ts roles; its CPU is counted with A's and B's).
  // HARK_BENCH_SPLIT=0: every gateway runs them itself (HARK_CONSUMER_WORKER=0).
  if (system === 'ours' && process.env.HARK_BENCH_SPLIT !== '0') {
    const serving = { ...env, HARK_ROLE: 'gateway' };
    return [
      await startServer(`${system}-A`, file, serving, args),
      await startServer(`${system}-B`, file, serving, args),
      await startServer(`${system}-C`, file, { ...env, HARK_ROLE: 'consumers' }, args, CONSUMER_WORKER_NICE),
    ];
  }
  return [await startServer(`${system}-A`, file, env, args), await startServer(`${system}-B`, file, env, args)];
}

/** The most the chat steps wait for the event consumers to catch up with the setup. */
const SETTLE_MAX_MS = 60_000;

/** The commands that took most of Redis's time between two commandStats, per 1,000 messages. */
function topCommands(before: Map<string, [number, number]>, after: Map<string, [number, number]>, delivered: number, n = 6): { cmd: string; usPer1k: number; callsPerMsg: number }[] {
  const d = [...after].map(([cmd, [calls, us]]) => ({ cmd, calls: calls - (before.get(cmd)?.[0] ?? 0), us: us - (before.get(cmd)?.[1] ?? 0) }));
  d.sort((x, y) => y.us - x.us);
  const per = Math.max(1, delivered);
  return d.slice(0, n).map((x) => ({ cmd: x.cmd, usPer1k: Math.round((x.us / per) * 1000), callsPerMsg: Math.round((x.calls / per) * 100) / 100 }));
}

export async function chat(o: ChatOptions): Promise<ChatStep[]> {
  const out: ChatStep[] = [];
  const sentAt = new Float64Array(MAX_SEQ);
  const opAt = new Float64Array(MAX_SEQ);
  for (const system of o.systems) {
    const target = o.clusterNodes ? { clusterNodes: o.clusterNodes } : { url: o.redisUrl };
    const seeded = system === 'ours' ? await seed(target, o.sites, o.operators, Math.ceil(o.visitors / o.operators) + 5) : null;
    const [a, b, bg] = (await servers(system, o)) as [Server, Server, Server?];
    const stats = o.clusterNodes ? null : new Redis(o.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1 });
    await stats?.config('SET', 'latency-monitor-threshold', String(REDIS_LATENCY_THRESHOLD_MS));
    /** CPU so far (ms): gateway A, gateway B with the consumers' process (HARK_BENCH_SPLIT), Redis. */
    const cpu = async (): Promise<[number, number, number, number]> => {
      const cc = bg ? await bg.cpuMs() : 0;
      return [await a.cpuMs(), (await b.cpuMs()) + cc, o.redisPids.reduce((n, p) => n + procCpuMs(p), 0), cc];
    };
    let v2o = histogram();
    let o2v = histogram();
    let got = 0;
    // The worst latency per SLOW_BUCKET_MS of the step, by when the message was due (a stall shows
    // as a run of bad buckets; spread-out slowness as none).
    let stepAt = 0;
    let buckets = new Float64Array(0);
    const mark = (due: number, ms: number) => {
      const i = Math.floor((due - stepAt) / SLOW_BUCKET_MS);
      if (i >= 0 && i < buckets.length && ms > (buckets[i] as number)) buckets[i] = ms;
    };
    const hooks: Hooks = {
      atOperator(text) {
        // Only the markers of this run ("v<seq>"); a conversation's first "hello" is not one.
        if (!/^v\d+$/.test(text)) return null;
        const seq = Number(text.slice(1));
        const now = performance.now();
        record(v2o, now - (sentAt[seq] as number));
        mark(sentAt[seq] as number, now - (sentAt[seq] as number));
        opAt[seq] = now;
        return `o${seq}`;
      },
      atVisitor(text) {
        if (!/^o\d+$/.test(text)) return;
        const seq = Number(text.slice(1));
        record(o2v, performance.now() - (opAt[seq] as number));
        mark(sentAt[seq] as number, performance.now() - (sentAt[seq] as number));
        got++;
      },
    };
    let fleet: Fleet | undefined;
    try {
      const t0 = performance.now();
      fleet =
        system === 'ours'
          ? await oursFleet(a.port, b.port, seeded?.sites ?? [], seeded?.ops ?? [], o.visitors, hooks)
          : system === 'floor'
            ? await floorFleet(a.port, b.port, o.operators, o.visitors, hooks)
            : await socketioFleet(a.port, b.port, o.operators, o.visitors, hooks);
      console.log(`${o.label ?? system}: ${o.visitors} visitors, ${o.operators} operators connected in ${Math.round(performance.now() - t0)} ms`);
      // Ours: the setup (2,000 conversations created, routed, assigned) leaves the event consumers
      // (search index, reports, stats…) a backlog; measured steps start once they have caught up,
      // so the first step measures chat, not the setup's tail.
      if (system === 'ours' && stats) {
        const s0 = performance.now();
        const behind = await settle(stats, SETTLE_MAX_MS);
        console.log(`${o.label ?? system}: event consumers ${behind === 0 ? 'caught up' : `still ${behind} events behind`} after ${Math.round(performance.now() - s0)} ms`);
      }
      let seq = 0;
      const lowest = Math.min(...o.rates);
      for (const [k, rate] of [lowest, ...o.rates].entries()) {
        const warmup = k === 0;
        v2o = histogram();
        o2v = histogram();
        got = 0;
        const first = seq;
        // HARK_BENCH_PROF=<dir>: a CPU profile of each server over each step (open in Chrome DevTools).
        const profDir = process.env.HARK_BENCH_PROF;
        if (profDir) await Promise.all([a.profStart(), b.profStart(), bg?.profStart()]);
        const [ca, cb, cr, cc] = await cpu();
        await Promise.all([a.loop(), b.loop(), bg?.loop()]); // from here
        loopStats();
        await stats?.call('LATENCY', 'RESET');
        const cs = stats ? await commandStats(stats) : null;
        const aof = stats ? await aofStats(stats) : null;
        stepAt = performance.now();
        const stepWall = Date.now();
        buckets = new Float64Array(Math.ceil((o.stepMs + 2_000) / SLOW_BUCKET_MS));
        const perSide = rate / 2;
        const count = Math.min(Math.round((perSide * (warmup ? WARMUP_MS : o.stepMs)) / 1000), MAX_SEQ - seq - 1);
        const f = fleet;
        const p = await pace(perSide, count, o.stepMs + 1000, (i, due) => {
          const s = first + i;
          sentAt[s] = due;
          f.send(s % o.visitors, `v${s}`);
        });
        seq = first + p.sent;
        await until(() => got >= p.sent, DRAIN_MS);
        if (warmup) {
          if (profDir) await Promise.all([a.profStop('/dev/null'), b.profStop('/dev/null'), bg?.profStop('/dev/null')]);
          await sleep(500);
          continue;
        }
        const [ca2, cb2, cr2, cc2] = await cpu();
        const [la, lb, lc] = await Promise.all([a.loop(), b.loop(), bg?.loop()]);
        const lclient = loopStats();
        const rlat = stats ? await redisLatency(stats, stepWall) : undefined;
        const slow = [...buckets].map((ms, i) => ({ atMs: i * SLOW_BUCKET_MS, ms: Math.round(ms * 10) / 10 })).filter((b) => b.ms >= SLOW_MS);
        const cs2 = stats && cs ? await commandStats(stats) : null;
        const aof2 = stats && aof ? await aofStats(stats) : null;
        if (profDir) await Promise.all([a.profStop(`${profDir}/${o.label ?? system}-A-${rate}.cpuprofile`), b.profStop(`${profDir}/${o.label ?? system}-B-${rate}.cpuprofile`), bg?.profStop(`${profDir}/${o.label ?? system}-C-${rate}.cpuprofile`)]);
        const delivered = v2o.totalCount + o2v.totalCount;
        const step: ChatStep = {
          system: o.label ?? system,
          rate,
          sent: p.sent * 2,
          delivered,
          lost: p.sent * 2 - delivered,
          achievedRate: Math.round((delivered / p.elapsedMs) * 1000),
          v2o: summary(v2o),
          o2v: summary(o2v),
          cpuPer1k: Math.round(((ca2 - ca + (cb2 - cb)) / Math.max(1, delivered)) * 1000 * 10) / 10,
          redisCpuPer1k: Math.round(((cr2 - cr) / Math.max(1, delivered)) * 1000 * 10) / 10,
          ...(bg ? { consumersCpuPer1k: Math.round(((cc2 - cc) / Math.max(1, delivered)) * 1000 * 10) / 10 } : {}),
          senderLagMs: Math.round(p.maxLagMs),
          closes: Object.fromEntries(fleet.closes),
          loop: { a: la, b: lb, ...(lc ? { c: lc } : {}), client: lclient },
          ...(rlat ? { redisLatency: rlat } : {}),
          slowBuckets: slow,
          ...(cs && cs2 ? { redisTop: topCommands(cs, cs2, v2o.totalCount + o2v.totalCount) } : {}),
          ...(aof && aof2 ? { aofRewrites: aof2.forks - aof.forks, lastForkUs: aof2.lastForkUs } : {}),
          // Bytes the AOF grew by per 1,000 messages delivered (not across a rewrite, which starts a new file).
          ...(aof && aof2 && aof2.forks === aof.forks ? { aofBytesPer1k: Math.round(((aof2.aofBytes - aof.aofBytes) / Math.max(1, delivered)) * 1000) } : {}),
          loadAvg: Math.round((loadavg()[0] ?? 0) * 10) / 10,
        };
        out.push(step);
        console.log(
          `  ${step.system} ${rate}/s: p50 ${step.v2o.p50}/${step.o2v.p50} ms, p99 ${step.v2o.p99}/${step.o2v.p99} ms, p99.9 ${step.v2o.p999}/${step.o2v.p999} ms, lost ${step.lost}, cpu/1k ${step.cpuPer1k} ms${step.consumersCpuPer1k !== undefined ? ` (C ${step.consumersCpuPer1k})` : ''}, redis ${step.redisCpuPer1k} ms, load ${step.loadAvg}, closes ${JSON.stringify(step.closes)}`,
        );
        const ls = (l: LoopStats) => `loop delay p99 ${l.delayP99} max ${l.delayMax} ms, GC ${l.gcCount}× ${l.gcMs} ms (longest ${l.gcMaxMs}; full ${l.gcMajorCount}× ${l.gcMajorMs} ms), RSS ${Math.round(l.rss / 1048576)} MiB`;
        console.log(`    A: ${ls(la)}\n    B: ${ls(lb)}${lc ? `\n    C (consumers): ${ls(lc)}` : ''}\n    load client: ${ls(lclient)}`);
        const stallsOf = (who: string, l?: LoopStats) => (l?.stalls ?? []).map((x) => `${who} ${x.what} +${x.at - stepWall} ${x.ms}`);
        const allStalls = [...stallsOf('A', la), ...stallsOf('B', lb), ...stallsOf('C', lc), ...stallsOf('client', lclient)];
        if (allStalls.length) console.log(`    stalls of ${'>'}= 15 ms (process, kind, +ms from the step's start, ms): ${allStalls.join(', ')}`);
        if (rlat && Object.keys(rlat).length) console.log(`    Redis latency events over ${REDIS_LATENCY_THRESHOLD_MS} ms: ${Object.entries(rlat).map(([e, [n, max, at]]) => `${e} ${n}× max ${max} ms (last at +${at} ms)`).join(', ')}`);
        if (slow.length) console.log(`    ${SLOW_BUCKET_MS} ms spans with a message over ${SLOW_MS} ms (from the step's start: worst ms): ${slow.map((b) => `+${b.atMs}: ${b.ms}`).join(', ')}`);
        if (step.aofRewrites) console.log(`    Redis forks (AOF rewrite) started during the step: ${step.aofRewrites} (last fork ${step.lastForkUs} µs)`);
        if (step.aofBytesPer1k !== undefined) console.log(`    AOF written per 1,000 messages: ${Math.round(step.aofBytesPer1k / 1024)} KiB`);
        if (step.redisTop) console.log(`    Redis µs per 1,000 msgs: ${step.redisTop.map((t) => `${t.cmd} ${t.usPer1k} (${t.callsPerMsg}/msg)`).join(', ')}`);
        if (fleet.frames) console.log(`  frames so far: ${JSON.stringify(Object.fromEntries(fleet.frames))}`);
        // Only a sweep that would go higher stops (a descending sweep, the second order, goes on down).
        const higher = o.rates.slice(k).some((r) => r > rate);
        if (higher && (Math.max(step.v2o.p50, step.o2v.p50) > GIVE_UP_P50_MS || step.lost > step.sent * 0.01)) break;
        await sleep(500);
      }
    } finally {
      fleet?.close();
      stats?.disconnect();
      await Promise.all([a.stop(), b.stop(), bg?.stop()]);
    }
  }
  return out;
}
