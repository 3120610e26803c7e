/**
 * `pnpm start`: Redis (our own unless REDIS_URL is set), first-run setup, one port for everything,
 * served by HARK_WORKERS gateway processes (default: one per core). The primary process starts and
 * supervises Redis and the workers (node:cluster: the workers share the listening port, the
 * primary hands out connections round-robin) and replaces a worker that dies; with one worker the
 * gateway runs in the primary itself. With several, one more worker (HARK_CONSUMER_WORKER, on by
 * default) handles the event log and the jobs at a lower scheduling priority and serves no
 * socket, so that on a busy core the chat path runs first.
 */
import cluster, { type Worker } from 'node:cluster';
import { readdirSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import type { Server } from 'node:http';
import { join, resolve } from 'node:path';
import { AggregatorRegistry } from 'prom-client';
import { type AppRole, type HarkApp, LISTEN_BACKLOG, buildApp } from './app';
import { bootstrap } from './bootstrap';
import { CONSUMER_WORKER_NICE, type Config, WORKER_FAST_EXIT_MS, WORKER_RESPAWN_BASE_MS, WORKER_RESPAWN_CAP_MS, WORKER_STOP_TIMEOUT_MS, readConfig } from './config';
import { startMetricsServer } from './http/health';
import { warmSchemas } from './http/lazy-schemas';
import { prettyStream } from './http/log-format';
import { loggerOptions } from './http/logging';
import { type RedisProcess, startRedis } from './redis/supervisor';

/** Message a worker sends the primary for /metrics summed over all workers, and the answer. */
interface MetricsAsk {
  hark: 'metrics?';
  id: number;
}
interface MetricsAnswer {
  hark: 'metrics';
  id: number;
  text?: string;
  error?: string;
}

async function main(): Promise<void> {
  const config = readConfig();
  if (cluster.isWorker) {
    const role = workerRole(process.env.HARK_ROLE);
    if (role === 'consumers') lowerPriority(CONSUMER_WORKER_NICE);
    return gateway(config, { bootstrap: process.env.HARK_BOOTSTRAP === '1', worker: true, role });
  }

  let redis: RedisProcess | undefined;
  let stopping = false;
  if (!config.redisUrl && !config.clusterNodes) {
    const dir = resolve(config.dataDir, 'redis');
    redis = await startRedis({ dir, autoInstall: true, appendfsync: config.durability === 'always' ? 'always' : 'everysec' });
    config.redisUrl = redis.url;
    // Never leave our redis-server behind, however this process ends.
    const own = redis;
    process.once('exit', () => {
      if (own.child.exitCode === null) own.child.kill('SIGTERM');
    });
    // For `pnpm backup` (scripts/redis-backup.mjs), which finds this Redis by it.
    writeFileSync(join(dir, 'redis.url'), `${redis.url}\n`);
    console.log(`hark: started redis-server on 127.0.0.1:${redis.port} (data in ${dir}, AOF on)`);
    redis.child.on('exit', (code, sig) => {
      if (!stopping) {
        console.error(`hark: redis-server exited (${code ?? sig}); restarting`);
        void redis?.restart().catch((e) => {
          console.error(`hark: could not restart redis-server: ${e.message}`);
          process.exit(1);
        });
      }
    });
  }
  // Local mode (our own Redis, no SMTP_URL): the reply listener is on, on a free loopback port, so
  // the whole e-mail flow works on one machine (SMTP_INBOUND_PORT=off turns it off). Workers read it
  // from the environment; node:cluster gives every worker's listen(0) the same port.
  if (redis && !config.smtpUrl && process.env.SMTP_INBOUND_PORT === undefined) {
    process.env.SMTP_INBOUND_PORT = '0';
    config.smtpInboundPort = 0;
  }
  const stopRedis = async () => {
    stopping = true;
    await redis?.stop();
  };
  if (config.workers === 1) return gateway(config, { bootstrap: true, worker: false, onStop: stopRedis });
  supervise(config, stopRedis);
}

/** The primary of several workers: forks them, replaces any that dies, sums their metrics, stops them all. */
function supervise(config: Config, stopRedis: () => Promise<void>): void {
  let stopping = false;
  let fastExits = 0;
  let listening = 0;
  const startedAt = new Map<number, number>();
  const roles = new Map<number, AppRole>();
  const gatewayRole: AppRole = config.consumerWorker ? 'gateway' : 'all';
  // Workers inherit this environment; they reach the Redis this process started by its URL.
  const fork = (role: AppRole, first = false): Worker => {
    const w = cluster.fork({ ...(config.redisUrl ? { REDIS_URL: config.redisUrl } : {}), LOG_FORMAT: config.logFormat, HARK_BOOTSTRAP: first ? '1' : '', HARK_ROLE: role });
    startedAt.set(w.id, performance.now());
    roles.set(w.id, role);
    return w;
  };
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (w, msg: MetricsAsk) => {
    if (msg?.hark !== 'metrics?') return;
    const answer = (a: Omit<MetricsAnswer, 'hark' | 'id'>) => w.isConnected() && w.send({ hark: 'metrics', id: msg.id, ...a } satisfies MetricsAnswer);
    aggregator.clusterMetrics().then(
      (text) => answer({ text }),
      (e: Error) => answer({ error: e.message }),
    );
  });
  cluster.on('listening', (_w, addr) => {
    if (++listening === config.workers) {
      console.log(`hark: ${config.workers} workers listening on ${config.host}:${addr.port} ${Math.round(performance.now())} ms after start`);
    }
  });
  cluster.on('exit', (w, code, signal) => {
    const lived = performance.now() - (startedAt.get(w.id) ?? 0);
    const role = roles.get(w.id) ?? gatewayRole;
    startedAt.delete(w.id);
    roles.delete(w.id);
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) void stopRedis().then(() => process.exit(0));
      return;
    }
    fastExits = lived < WORKER_FAST_EXIT_MS ? fastExits + 1 : 0;
    const wait = fastExits === 0 ? 0 : Math.min(WORKER_RESPAWN_CAP_MS, WORKER_RESPAWN_BASE_MS * 2 ** (fastExits - 1));
    console.error(`hark: ${role === 'consumers' ? 'consumer ' : ''}worker ${w.process.pid} exited (${code ?? signal}); starting another${wait ? ` in ${wait} ms` : ''}`);
    setTimeout(() => {
      if (!stopping) fork(role);
    }, wait);
  });
  for (let i = 0; i < config.workers; i++) fork(gatewayRole, i === 0);
  if (config.consumerWorker) fork('consumers');

  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`hark: ${sig}, stopping ${Object.keys(cluster.workers ?? {}).length} workers`);
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    setTimeout(() => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
    }, WORKER_STOP_TIMEOUT_MS).unref();
    if (Object.keys(cluster.workers ?? {}).length === 0) void stopRedis().then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

/** In a worker: /metrics answers the sum over every worker, asked of the primary. */
function askPrimaryForMetrics(): () => Promise<string> {
  // prom-client answers the primary's requests for this worker's registries (see AggregatorRegistry).
  new AggregatorRegistry();
  let next = 0;
  const waiting = new Map<number, { res: (t: string) => void; rej: (e: Error) => void }>();
  process.on('message', (m: MetricsAnswer) => {
    if (m?.hark !== 'metrics') return;
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.text !== undefined) w?.res(m.text);
    else w?.rej(new Error(m.error ?? 'no metrics'));
  });
  return () =>
    new Promise((res, rej) => {
      const id = next++;
      waiting.set(id, { res, rej });
      process.send?.({ hark: 'metrics?', id } satisfies MetricsAsk);
    });
}

function workerRole(v: string | undefined): AppRole {
  return v === 'gateway' || v === 'consumers' ? v : 'all';
}

/**
 * This process at nice `nice`, every thread of it: on Linux a nice value belongs to a thread, and
 * V8's and libuv's threads already started keep theirs (threads started later inherit the main
 * thread's). Elsewhere, the process's.
 */
function lowerPriority(nice: number): void {
  let tids: number[] = [];
  try {
    tids = readdirSync('/proc/self/task').map(Number).filter(Number.isInteger);
  } catch {
    // No /proc: not Linux.
  }
  try {
    if (!tids.length) setPriority(nice);
    for (const tid of tids) setPriority(tid, nice);
  } catch (e) {
    console.error(`hark: could not lower the consumer worker's priority: ${e instanceof Error ? e.message : e}`);
  }
}

/**
 * One gateway: the app on the shared port; drains and exits on SIGTERM/SIGINT. The consumer
 * worker (`role` consumers) builds the same app but never listens.
 */
async function gateway(config: Config, opts: { bootstrap: boolean; worker: boolean; role?: AppRole; onStop?: () => Promise<void> }): Promise<void> {
  let stopping = false;
  let hark: HarkApp | undefined;
  let metricsServer: Server | undefined;
  // Set before anything else: a SIGTERM while the gateway is still starting must stop it too
  // (a handler some dependency installs would otherwise swallow it).
  const stop = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    if (!opts.worker) console.log(`hark: ${sig}, shutting down`);
    metricsServer?.close();
    await hark?.close();
    await opts.onStop?.();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  const role = opts.role ?? 'all';
  hark = await buildApp({
    role,
    config,
    redis: config.clusterNodes ? { clusterNodes: config.clusterNodes } : { url: config.redisUrl as string },
    // Serializers and redaction that keep every secret out of the log (http/logging.ts; buildApp applies them to any logger).
    logger: loggerOptions({ level: config.logLevel, ...(config.logFormat === 'pretty' ? { stream: prettyStream(process.stdout) } : {}) }),
  });
  if (opts.worker) {
    AggregatorRegistry.setRegistries([hark.ctx.metrics.registry]);
    hark.ctx.metrics.collect = askPrimaryForMetrics();
  }
  if (role === 'consumers') {
    const cpu = process.cpuUsage();
    console.log(`hark: consumer worker ${process.pid} running (event log and jobs, nice ${CONSUMER_WORKER_NICE}) ${Math.round(performance.now())} ms after start (cpu ${Math.round((cpu.user + cpu.system) / 1000)} ms)`);
    return;
  }
  const first = opts.bootstrap ? await bootstrap(hark.conns, config) : undefined;
  await hark.app.listen({ port: config.port, host: config.host, backlog: LISTEN_BACKLOG });
  const addr = hark.app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  // Start-up time (BENCHMARKS.md): from this process's start to its port accepting.
  // (CPU time too: on a busy machine wall time mostly measures the other processes.)
  const cpu = process.cpuUsage();
  console.log(`hark: ${opts.worker ? `worker ${process.pid} ` : ''}listening on ${config.host}:${port} ${Math.round(performance.now())} ms after start (cpu ${Math.round((cpu.user + cpu.system) / 1000)} ms)`);
  // The route schemas not compiled yet, in the background (http/lazy-schemas.ts).
  const log = hark.app.log;
  void warmSchemas((e) => log.error({ err: e }, 'a route schema does not compile'));
  metricsServer = config.metricsPort !== undefined ? await startMetricsServer(hark.ctx, config.metricsPort, config.host) : undefined;
  if (opts.bootstrap) {
    const base = `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}`;
    console.log(`\nHark is running${opts.worker ? ` (${config.workers} gateway processes)` : ''}:\n  demo page  ${base}/\n  console    ${base}/console/\n`);
    if (hark.smtpInbound) console.log(`  replies    smtp://${config.host}:${hark.smtpInbound.port} (reply addresses @${hark.ctx.domain.mail.domain})${config.smtpUrl ? '' : '; outgoing mail kept in the local mailbox (console: Admin → Mail)'}\n`);
    if (metricsServer) console.log(`  metrics    http://${config.host}:${config.metricsPort}/metrics${config.metricsToken ? ' (Bearer METRICS_TOKEN)' : ''}\n`);
    if (first?.admin) {
      console.log(`First run: admin account ${first.admin.email}${first.admin.generated ? ` with password ${first.admin.password} (shown once; change it in the console)` : ' (password from ADMIN_PASSWORD)'}\n`);
    }
  }
}

main().catch((e) => {
  console.error(`hark: ${e instanceof Error ? e.message : e}`);
  process.exitCode = 1;
  process.exit();
});
