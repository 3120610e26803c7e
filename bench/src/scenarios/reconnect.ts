/**
 * Scenario 4, reconnect storm: V visitors with a conversation each on gateway A,
 * their operators on gateway B writing to them all the time. Gateway A is
 * restarted (graceful drain: every socket gets 1012); clients reconnect with
 * jittered backoff, say hello with the last id they hold, and must end up with
 * every message the operators stored, exactly once.
 */
import { randomId } from '@hark/shared';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { sourceAddress } from '../lib/addrs';
import { CONSUMER_WORKER_NICE } from '@hark/server/src/config';
import { compiled } from '../lib/bundle';
import { pace, pool, sleep, until } from '../lib/pace';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';
import { type Server, procCpuMs, startServer } from '../lib/proc';
import { seed } from '../lib/seed';
import { settle } from '../lib/settle';

export interface ReconnectResult {
  /** Whether a visitor refused by the restarting gateway could go to the other one (a load balancer in front of both). */
  failover: boolean;
  /** With failover, how the balancer picks (see Balancer): `nginx` (passive health checks) or `each` (every visitor tries A first). */
  lb: 'nginx' | 'each';
  visitors: number;
  operatorRate: number;
  resumedAllMs: number;
  /** When half, 90 % and 99 % of the visitors had resumed (ms after the restart began). */
  resumedP50Ms: number;
  resumedP90Ms: number;
  resumedP99Ms: number;
  /** Of which: until the restarted gateway listened again (drain, process start). */
  newGatewayUpMs: number;
  /** Of which: until the old process had drained and exited. */
  oldGatewayStoppedMs: number;
  resumed: number;
  acked: number;
  lost: number;
  duplicates: number;
  peakRedisOps: number;
  reconnectAttempts: number;
  /** Visitors whose chat was not assigned before the storm (the operators wrote to the others only). */
  unassigned: number;
  /** The setup: every visitor connected with a first message, until every chat was assigned (or none more for 20 s). */
  setupMs: number;
  /** Then until the event consumers had caught up with the setup's events (search index, reports…), and how many were still behind if they had not. */
  settleMs: number;
  behindAtStorm: number;
  /** Where the storm's time went (restart to all resumed). */
  storm: StormProfile;
  /** Redis commands during the storm (restart to all resumed): the 12 most frequent, and the UNSUBSCRIBEs. */
  redisCommands: Record<string, number>;
  unsubscribes: number;
}

/**
 * The storm's processes: old A (until it exits), B, the new A2 (from its start), the consumer worker C, Redis and this
 * load client; their CPU over the storm (ms) and per second (ms of CPU in each second since the
 * restart began); when the visitors' sockets were closed by the drain; where they resumed; and
 * the load client's own event-loop delay over the storm (a saturated client would set the pace).
 */
export interface StormProfile {
  cpuMs: Record<string, number>;
  perSecond: Record<string, number>[];
  closedP50Ms: number;
  closedLastMs: number;
  resumedOnA2: number;
  resumedOnB: number;
  loadLoopP99Ms: number;
  loadLoopMaxMs: number;
  /** The load client's garbage collection over the storm: total and longest pause (ms). */
  loadGcMs: number;
  loadGcMaxMs: number;
  /** The load client's loop stalls of LOAD_STALL_MS or more: when (ms after the restart began) and how long. */
  loadStalls: { atMs: number; ms: number }[];
}

const LOAD_STALL_MS = 200;

/** Starts a CPU profile of this process; the function returned stops it and writes it to a file. */
async function profileSelf(): Promise<(file: string) => Promise<void>> {
  const s = new Session();
  s.connect();
  const post = (m: string) => new Promise<unknown>((res, rej) => s.post(m, (e, r) => (e ? rej(e) : res(r))));
  await post('Profiler.enable');
  await post('Profiler.start');
  return async (file) => {
    const r = (await post('Profiler.stop')) as { profile: unknown };
    writeFileSync(file, JSON.stringify(r.profile));
    s.disconnect();
  };
}

/** Samples the CPU time of named processes every STORM_SAMPLE_MS (a process that exited keeps its last reading). */
const STORM_SAMPLE_MS = 250;
function cpuSampler(pids: () => Record<string, number | undefined>) {
  const last: Record<string, number> = {};
  const first: Record<string, number> = {};
  const samples: { t: number; cpu: Record<string, number> }[] = [];
  let t0 = -1;
  const read = () => {
    const now = performance.now();
    if (t0 < 0) t0 = now;
    for (const [name, pid] of Object.entries(pids())) {
      if (!pid) continue;
      try {
        const v = pid === process.pid ? (process.cpuUsage().user + process.cpuUsage().system) / 1000 : procCpuMs(pid);
        if (first[name] === undefined) first[name] = v;
        last[name] = v;
      } catch {} // exited: its last reading stands
    }
    samples.push({ t: now - t0, cpu: { ...last } });
  };
  read();
  const timer = setInterval(read, STORM_SAMPLE_MS);
  return {
    stop() {
      clearInterval(timer);
      read();
      const cpuMs = Object.fromEntries(Object.entries(last).map(([k, v]) => [k, Math.round(v - (first[k] ?? v))]));
      const perSecond: Record<string, number>[] = [];
      for (let s = 1; ; s++) {
        const end = samples.findLast((x) => x.t <= s * 1000);
        const start = samples.findLast((x) => x.t <= (s - 1) * 1000);
        if (!end || !start) break;
        // A second with no reading at its end (the load client stalled through it) counts nothing; the next takes its CPU.
        perSecond.push(Object.fromEntries(Object.keys(end.cpu).map((k) => [k, Math.round((end.cpu[k] ?? 0) - (start.cpu[k] ?? first[k] ?? end.cpu[k] ?? 0))])));
        if (end === samples.at(-1)) break;
      }
      return { cpuMs, perSecond };
    },
  };
}

/**
 * The load balancer in front of the gateways, as the client sees it. `each`: every connection
 * tries the ports in order, the restarting gateway first, and a refused one goes on to the next
 * (a balancer with no memory of failures). `nginx`: what nginx does with its defaults
 * (`max_fails=1 fail_timeout=10s`, and `proxy_next_upstream error`): a refused connection goes on
 * to the next server, and the server that refused is skipped for LB_FAIL_TIMEOUT_MS. The refused
 * attempts cost the load client (it runs every visitor on one core), not the gateways.
 */
export const LB_FAIL_TIMEOUT_MS = 10_000;
class Balancer {
  private readonly downUntil = new Map<number, number>();
  constructor(
    private readonly ports: number[],
    private readonly kind: 'nginx' | 'each',
  ) {}

  order(): number[] {
    if (this.kind === 'each') return this.ports;
    const now = performance.now();
    const up = this.ports.filter((p) => (this.downUntil.get(p) ?? 0) <= now);
    // Every server marked down: nginx tries them all again rather than failing.
    return up.length ? up : this.ports;
  }

  failed(port: number): void {
    if (this.kind === 'nginx') this.downUntil.set(port, performance.now() + LB_FAIL_TIMEOUT_MS);
  }
}

const OPS = 100;
const pct = (xs: number[], q: number) => Math.round([...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? 0);
const LIMIT_MS = 120_000;
/** Client backoff after a drop: first try within 0–1 s, then doubling to a 5 s cap, with jitter (what the widget does). */
const backoff = (n: number) => Math.min(5_000, 250 * 2 ** n) * (0.5 + Math.random()) + (n === 0 ? Math.random() * 1_000 : 0);

class Vis {
  ws!: WebSocket;
  conv = '';
  op = '';
  lastId = '';
  got = new Set<string>();
  dups = 0;
  synced = false;
  attempts = 0;
  /** The port of the gateway it last synced on. */
  port = 0;
  constructor(
    readonly i: number,
    readonly token: string,
    readonly site: string,
  ) {}

  connect(port: number, isNew: boolean): Promise<void> {
    this.synced = false;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/visitor?site=${this.site}&token=${this.token}&v=1${isNew ? '&new=1' : ''}`, {
      headers: { origin: `http://127.0.0.1:${port}` },
      localAddress: sourceAddress(this.i),
    });
    this.ws = ws;
    return new Promise((res, rej) => {
      ws.on('message', (d: Buffer) => {
        const f = JSON.parse(d.toString());
        if (f.type === 'entry') {
          this.lastId = f.entry.id;
          if (f.entry.from === 'operator' && f.entry.kind === 'msg') {
            if (this.got.has(f.entry.text)) this.dups++;
            this.got.add(f.entry.text);
          }
        } else if (f.type === 'ack') this.conv = f.conv;
        else if (f.type === 'conv' && f.conv.status === 'open') this.op = f.conv.operator?.id ?? '';
        else if (f.type === 'synced') {
          this.synced = true;
          this.port = port;
          res();
        }
      });
      ws.once('open', () => ws.send(JSON.stringify({ type: 'hello', lastIds: this.conv && this.lastId ? { [this.conv]: this.lastId } : {} })));
      ws.once('error', rej);
      ws.once('unexpected-response', (_q, r) => rej(new Error(`refused ${r.statusCode}`)));
    });
  }

  /**
   * Reconnects until it is synced again (bounded by LIMIT_MS). With a balancer over two ports
   * (`failover`), an attempt the first one refuses goes on at once to the other, as a load
   * balancer in front of both gateways would send it to a healthy one.
   */
  async resume(lb: Balancer, deadline: number): Promise<void> {
    for (let n = 0; performance.now() < deadline; n++) {
      await sleep(backoff(n));
      for (const port of lb.order()) {
        this.attempts++;
        try {
          await this.connect(port, false);
          return;
        } catch {
          lb.failed(port);
        }
      }
    }
  }
}

/**
 * `failover: false`: gateway A alone serves the visitors, so they wait for its new process.
 * `failover: true`: the deployment the README recommends, several gateways behind a load
 * balancer: a visitor whose reconnect A refuses (draining, or not up yet) lands on B.
 */
export async function reconnectStorm(o: { redisUrl: string; visitors: number; operatorRate: number; failover?: boolean; lb?: 'nginx' | 'each' }): Promise<ReconnectResult> {
  const lbKind = o.lb ?? 'nginx';
  // The operators never answer the visitors' first messages: on a busy machine setting up 10,000
  // chats takes longer than a site's default unansweredMs (60 s), after which the presence sweep
  // sends a chat whose operator is not online back to the queue. Not what this bench measures.
  const seeded = await seed(o.redisUrl, 20, OPS, Math.ceil(o.visitors / OPS) + 5, { unansweredMs: 3_600_000 });
  // The gateway as `pnpm start` runs it: compiled into one bundle, on plain node (lib/bundle.ts).
  const gateway = await compiled('src/servers/gateway.ts');
  // As `pnpm start` runs it: the event consumers (search index, reports, stats, mail, webhooks) and
  // the jobs in a consumer worker at CONSUMER_WORKER_NICE, not in the gateways; with
  // HARK_BENCH_SPLIT=0 every gateway runs them itself (HARK_CONSUMER_WORKER=0).
  const split = process.env.HARK_BENCH_SPLIT !== '0';
  const serving = { REDIS_URL: o.redisUrl, ...(split ? { HARK_ROLE: 'gateway' } : {}) };
  let a: Server = await startServer('reconnect-A', gateway, serving);
  const b = await startServer('reconnect-B', gateway, serving);
  const c = split ? await startServer('reconnect-C', gateway, { REDIS_URL: o.redisUrl, HARK_ROLE: 'consumers' }, [], CONSUMER_WORKER_NICE) : null;
  const port = a.port;
  const r = new Redis(o.redisUrl);
  const opWs = new Map<string, WebSocket>();
  const vs: Vis[] = [];
  try {
    await pool(seeded.ops, 50, async (op, j) => {
      const s = new WebSocket(`ws://127.0.0.1:${b.port}/v1/operator?v=1`, { headers: { origin: `http://127.0.0.1:${b.port}`, cookie: op.cookie }, localAddress: sourceAddress(j) });
      await new Promise((res, rej) => s.once('open', res).once('error', rej));
      const welcome = new Promise((res) => s.once('message', res));
      s.send(JSON.stringify({ type: 'hello', lastIds: {} }));
      await welcome;
      // Online, as signing in to the console does: an operator who never says so is taken as away
      // once their presence lapses, and their conversations go back to the queue (requeueOnOffline).
      s.send(JSON.stringify({ type: 'status', status: 'online' }));
      opWs.set(op.id, s);
    });
    const setup0 = performance.now();
    await pool(Array.from({ length: o.visitors }, (_, i) => i), 100, async (i) => {
      const v = new Vis(i, randomId(32), seeded.sites[i % seeded.sites.length] as string);
      await v.connect(port, true);
      v.ws.send(JSON.stringify({ type: 'send', cid: randomId(12), text: 'hello' }));
      vs[i] = v;
    });
    // Every chat assigned, or none more for 20 s: on a machine busy with other work (load average
    // 20 on 2 cores) some stayed in the queue (a routing matter, not this bench's); the operators
    // write only to the assigned ones, and how many were not is reported.
    let assigned = 0;
    let progressAt = performance.now();
    await until(() => {
      const n = vs.filter((v) => v.op).length;
      if (n > assigned) {
        assigned = n;
        progressAt = performance.now();
      }
      return n === vs.length || performance.now() - progressAt > 20_000;
    }, LIMIT_MS);
    const setupMs = Math.round(performance.now() - setup0 - (assigned === vs.length ? 0 : 20_000));
    const writable = vs.filter((v) => v.op);
    // Every visitor still goes through the storm (it has a conversation, queued or open) and is checked for duplicates.
    if (writable.length === 0) throw new Error(`no conversation was assigned (of ${vs.length})`);
    // The setup left the event consumers a backlog (10,000 chats created, routed, assigned): the
    // storm starts once they have caught up, so it measures the reconnects, not the setup's tail.
    const settle0 = performance.now();
    const behindAtStorm = await settle(r, LIMIT_MS);
    const settleMs = Math.round(performance.now() - settle0);
    // 1. Operators write continuously; a message counts once its sender has the ack (it is stored).
    const acked: { v: Vis; text: string }[] = [];
    const pendingAcks = new Map<string, { v: Vis; text: string }>();
    for (const s of opWs.values())
      s.on('message', (d: Buffer) => {
        const f = JSON.parse(d.toString());
        if (f.type !== 'ack') return;
        const p = pendingAcks.get(f.cid);
        if (p) acked.push(p);
      });
    let stop = false;
    const load = (async () => {
      let k = 0;
      while (!stop) {
        await pace(o.operatorRate, o.operatorRate, 1_000, () => {
          const v = writable[k % writable.length] as Vis;
          const text = `m${k++}`;
          const cid = `c${text}xxxxxxxx`;
          pendingAcks.set(cid, { v, text });
          opWs.get(v.op)?.send(JSON.stringify({ type: 'send', conv: v.conv, cid, text }));
        });
      }
    })();
    // 2. Watch Redis while the storm runs.
    let peakOps = 0;
    const watch = setInterval(() => {
      void r.info('stats').then((s) => {
        const m = /instantaneous_ops_per_sec:(\d+)/.exec(s);
        if (m) peakOps = Math.max(peakOps, Number(m[1]));
      });
    }, 250);
    await sleep(2_000);
    const calls = async () => {
      const m = new Map<string, number>();
      for (const line of (await r.info('commandstats')).split('\n')) {
        const x = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
        if (x) m.set(x[1] as string, Number(x[2]));
      }
      return m;
    };
    const calls0 = await calls();
    // 3. Restart gateway A: drain (1012 to every socket), then a new process on the same port.
    const redisPid = Number(/process_id:(\d+)/.exec(await r.info('server'))?.[1]) || undefined;
    const oldA = a;
    const cpu = cpuSampler(() => ({ A: oldA.pid, B: b.pid, A2: a === oldA ? undefined : a.pid, C: c?.pid, redis: redisPid, load: process.pid }));
    const t0 = performance.now();
    const deadline = t0 + LIMIT_MS;
    const resumedAt: number[] = [];
    const closedAt: number[] = [];
    const loadLoop = monitorEventLoopDelay({ resolution: 10 });
    loadLoop.enable();
    const gcs: number[] = [];
    const gcObs = new PerformanceObserver((l) => {
      for (const e of l.getEntries()) gcs.push(e.duration);
    });
    gcObs.observe({ entryTypes: ['gc'] });
    const loadStalls: { atMs: number; ms: number }[] = [];
    let lastTick = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      if (now - lastTick >= LOAD_STALL_MS) loadStalls.push({ atMs: Math.round(lastTick - t0), ms: Math.round(now - lastTick) });
      lastTick = now;
    }, 10);
    const lb = new Balancer(o.failover ? [port, b.port] : [port], lbKind);
    const dropped = vs.map(
      (v) =>
        new Promise<void>((res) => {
          v.ws.once('close', () => {
            closedAt.push(performance.now() - t0);
            void v.resume(lb, deadline).then(() => {
              resumedAt.push(performance.now() - t0);
              res();
            });
          });
        }),
    );
    // HARK_BENCH_PROF=<dir>: CPU profiles over the storm of B (with failover most visitors resume
    // there) and of this load client from the restart on, and of the new gateway from its start.
    const profDir = process.env.HARK_BENCH_PROF;
    const loadProf = profDir ? await profileSelf() : null;
    if (profDir && o.failover) await b.profStart();
    await a.stop(profDir ? `${profDir}/reconnect${o.failover ? '-failover' : ''}-A-stop.cpuprofile` : undefined);
    const stoppedMs = Math.round(performance.now() - t0);
    a = await startServer('reconnect-A2', gateway, { ...serving, PORT: String(port) });
    if (profDir) await a.profStart();
    const startedMs = Math.round(performance.now() - t0);
    await Promise.all(dropped);
    const resumedAllMs = Math.round(performance.now() - t0);
    loadLoop.disable();
    gcObs.disconnect();
    clearInterval(ticker);
    const storm: StormProfile = {
      ...cpu.stop(),
      closedP50Ms: pct(closedAt, 0.5),
      closedLastMs: pct(closedAt, 1),
      resumedOnA2: vs.filter((v) => v.synced && v.port === port).length,
      resumedOnB: vs.filter((v) => v.synced && v.port === b.port).length,
      loadLoopP99Ms: Math.round(loadLoop.percentile(99) / 1e5) / 10,
      loadLoopMaxMs: Math.round(loadLoop.max / 1e5) / 10,
      loadGcMs: Math.round(gcs.reduce((n, d) => n + d, 0)),
      loadGcMaxMs: Math.round(Math.max(0, ...gcs)),
      loadStalls,
    };
    console.log('the storm', JSON.stringify(storm));
    const calls1 = await calls();
    // Redis commands during the storm (restart to all resumed), the most frequent first.
    const redisCommands = Object.fromEntries(
      [...calls1]
        .map(([k, v]) => [k, v - (calls0.get(k) ?? 0)] as const)
        .filter(([, v]) => v > 0)
        .sort((x, y) => y[1] - x[1])
        .slice(0, 12),
    );
    console.log('redis commands during the storm', redisCommands);
    if (profDir) await a.profStop(`${profDir}/reconnect${o.failover ? '-failover' : ''}-A2.cpuprofile`);
    if (profDir && o.failover) await b.profStop(`${profDir}/reconnect-failover-B.cpuprofile`);
    if (loadProf) await loadProf(`${profDir}/reconnect${o.failover ? '-failover' : ''}-load.cpuprofile`);
    await sleep(2_000);
    stop = true;
    await load;
    await sleep(3_000);
    clearInterval(watch);
    let lost = 0;
    for (const p of acked) if (!p.v.got.has(p.text)) lost++;
    return {
      failover: !!o.failover,
      lb: lbKind,
      visitors: o.visitors,
      operatorRate: o.operatorRate,
      resumedAllMs,
      resumedP50Ms: pct(resumedAt, 0.5),
      resumedP90Ms: pct(resumedAt, 0.9),
      resumedP99Ms: pct(resumedAt, 0.99),
      newGatewayUpMs: startedMs,
      oldGatewayStoppedMs: stoppedMs,
      resumed: vs.filter((v) => v.synced).length,
      acked: acked.length,
      lost,
      duplicates: vs.reduce((n, v) => n + v.dups, 0),
      peakRedisOps: peakOps,
      reconnectAttempts: vs.reduce((n, v) => n + v.attempts, 0),
      unassigned: vs.length - writable.length,
      setupMs,
      settleMs,
      behindAtStorm,
      storm,
      redisCommands,
      unsubscribes: (calls1.get('unsubscribe') ?? 0) - (calls0.get('unsubscribe') ?? 0),
    };
  } finally {
    for (const s of opWs.values()) s.terminate();
    for (const v of vs) v?.ws.terminate();
    r.disconnect();
    await Promise.all([a.stop(), b.stop(), c?.stop()]);
  }
}
