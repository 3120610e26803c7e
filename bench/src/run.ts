/**
 * `pnpm bench`: every scenario of BENCHMARKS.md, one after the other, on this
 * machine. `pnpm bench -- chat idle` runs only the named ones; `--quick` runs
 * small sizes (a smoke test of the harness itself).
 */
import { chat } from './scenarios/chat';
import { idle } from './scenarios/idle';
import { storm } from './scenarios/storm';
import { reconnectStorm } from './scenarios/reconnect';
import { storage } from './scenarios/storage';
import { searchBench } from './scenarios/search';
import { resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { readConfig } from '@hark/server/src/config';
import { startRedis } from '@hark/server/src/redis/supervisor';
import { startCluster } from '@hark/server/test/cluster-harness';
import { machine, privateRedis, writeResult } from './lib/env';
import { pinLoad } from './lib/proc';

const args = process.argv.slice(2).filter((a) => a !== '--');
const quick = args.includes('--quick');
const only = args.filter((a) => !a.startsWith('--'));
const want = (s: string) => only.length === 0 || only.includes(s);
/** `--name=a,b` options: override a scenario's sizes for a focused run (`--systems=ours --rates=1000,2000`). */
const opt = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const nums = (name: string): number[] | undefined => opt(name)?.split(',').map(Number);
const num = (name: string): number | undefined => nums(name)?.[0];
/** `--out=suffix` writes `<scenario>-<suffix>.json`, so a focused run does not overwrite the full one. */
const out = (name: string) => (opt('out') ? `${name}-${opt('out')}` : name);

/** The Redis a running `pnpm start` keeps in `dir` (it writes its URL to redis.url), if it answers PING. */
async function runningRedis(dir: string): Promise<string | null> {
  let url: string;
  try {
    url = readFileSync(resolve(dir, 'redis.url'), 'utf8').trim();
  } catch {
    return null;
  }
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  try {
    await r.connect();
    return (await r.ping()) === 'PONG' ? url : null;
  } catch {
    return null;
  } finally {
    r.disconnect();
  }
}

const pinning = process.env.HARK_BENCH_SERVER_CPUS ? { servers: process.env.HARK_BENCH_SERVER_CPUS, loadAndRedis: process.env.HARK_BENCH_LOAD_CPUS ?? 'any' } : null;
const meta = { date: new Date().toISOString().slice(0, 10), machine: machine(), command: `pnpm bench ${args.join(' ')}`.trim(), quick, pinning };
console.log(meta);

const redis = await privateRedis();
pinLoad([redis.child.pid as number]);
try {
  if (want('chat')) {
    const steps = await chat({
      systems: (opt('systems')?.split(',') as ('floor' | 'socketio' | 'ours')[] | undefined) ?? ['floor', 'socketio', 'ours'],
      rates: nums('rates') ?? (quick ? [500, 1000] : [1000, 2000, 4000, 6000, 8000]),
      stepMs: num('step') ?? (quick ? 2000 : 5000),
      visitors: num('visitors') ?? (quick ? 200 : 2000),
      operators: num('operators') ?? (quick ? 20 : 200),
      sites: num('sites') ?? (quick ? 2 : 20),
      redisUrl: redis.url,
      redisPids: [redis.child.pid as number],
    });
    console.log(`wrote ${writeResult(out(quick ? 'chat-quick' : 'chat'), { ...meta, steps })}`);
  }
  if (want('cluster')) {
    // The same chat load (ours only) on a three-master Redis Cluster started here, as server/test/cluster.test.ts does.
    const cluster = await startCluster();
    try {
      const steps = await chat({
        systems: ['ours'],
        label: 'ours-cluster',
        clusterNodes: cluster.addrs,
        rates: nums('rates') ?? (quick ? [500, 1000] : [1000, 2000, 4000, 6000, 8000]),
        stepMs: num('step') ?? (quick ? 2000 : 5000),
        visitors: num('visitors') ?? (quick ? 200 : 2000),
        operators: num('operators') ?? (quick ? 20 : 200),
        sites: num('sites') ?? (quick ? 2 : 20),
        redisUrl: redis.url,
        redisPids: cluster.nodes.map((n) => n.child.pid as number),
      });
      console.log(`wrote ${writeResult(out(quick ? 'chat-cluster-quick' : 'chat-cluster'), { ...meta, steps })}`);
    } finally {
      await cluster.cleanup();
    }
  }
  if (want('idle')) {
    // 18,000 is near the most this container allows: 20,000 open files per process (ulimit -Hn), and the load client holds as many sockets as the server.
    const points = await idle({ systems: opt('systems')?.split(',') ?? ['floor', 'socketio', 'ours'], steps: nums('steps') ?? (quick ? [200, 500] : [1000, 5000, 10000, 18000]), redisUrl: redis.url });
    console.log(`wrote ${writeResult(out(quick ? 'idle-quick' : 'idle'), { ...meta, points })}`);
  }
  if (want('storm')) {
    const result = await storm({ redisUrl: redis.url, ...(quick ? { conversations: 200 } : {}) });
    console.log(result);
    console.log(`wrote ${writeResult(out(quick ? 'storm-quick' : 'storm'), { ...meta, result })}`);
  }
  if (want('reconnect')) {
    // `--failover=1` (or 0): only that variant.
    for (const failover of opt('failover') ? [opt('failover') === '1'] : [false, true]) {
      // `--lb=each`: every visitor tries the restarting gateway first (before: no balancer's memory); default `nginx`.
      const lb = opt('lb') === 'each' ? 'each' : 'nginx';
      const result = await reconnectStorm({ redisUrl: redis.url, visitors: num('visitors') ?? (quick ? 300 : 10_000), operatorRate: quick ? 100 : 300, failover, lb });
      console.log(result);
      const name = failover ? 'reconnect-failover' : 'reconnect';
      console.log(`wrote ${writeResult(out(quick ? `${name}-quick` : name), { ...meta, result })}`);
    }
  }
  if (want('storage')) {
    const result = await storage({ redisUrl: redis.url, conversations: quick ? 50 : 500, messages: quick ? 20 : 40 });
    console.log(result);
    console.log(`wrote ${writeResult(out(quick ? 'storage-quick' : 'storage'), { ...meta, result })}`);
  }
  if (want('search')) {
    // HARK_BENCH_REDIS_CPUS=1 (with HARK_BENCH_LOAD_CPUS=0): Redis, which runs the index's scripts, on its own core, apart from this process (the consumer and the queries).
    if (process.env.HARK_BENCH_REDIS_CPUS) execFileSync('taskset', ['-a', '-pc', process.env.HARK_BENCH_REDIS_CPUS, String(redis.child.pid)], { stdio: 'ignore' });
    // `--load`: into the Redis `pnpm start` uses, kept: REDIS_URL; else the one a running `pnpm start`
    // wrote to DATA_DIR/redis/redis.url, if it answers; else DATA_DIR/redis, started here and stopped after.
    const load = args.includes('--load');
    const running = load && !process.env.REDIS_URL ? await runningRedis(resolve(readConfig().dataDir, 'redis')) : null;
    const own = load && !process.env.REDIS_URL && !running ? await startRedis({ dir: resolve(readConfig().dataDir, 'redis'), autoInstall: true }) : null;
    if (load) console.log(`search bench --load: into ${process.env.REDIS_URL ? 'REDIS_URL' : running ? `the running installation's Redis (${running})` : `DATA_DIR/redis, started here (${own?.url})`}`);
    try {
      const result = await searchBench({
        redisUrl: load ? (process.env.REDIS_URL ?? running ?? (own?.url as string)) : redis.url,
        keep: load,
        conversations: num('conversations') ?? (quick ? 2_000 : 100_000),
        messagesPer: num('messages') ?? 20,
        maxSeconds: num('max-seconds') ?? (quick ? 120 : 1_800),
        queries: num('queries') ?? (quick ? 50 : 200),
      });
      const { admin, ...shown } = result;
      console.log(shown);
      if (admin) console.log(`First run: admin account ${admin.email} with password ${admin.password} (shown once)`);
      console.log(`wrote ${writeResult(out(quick ? 'search-quick' : load ? 'search-load' : 'search'), { ...meta, result: shown })}`);
    } finally {
      await own?.stop();
    }
  }
} finally {
  await redis.cleanup();
}
process.exit(0);
