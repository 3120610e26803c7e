/** `pnpm start`: Redis (our own unless REDIS_URL is set), first-run setup, one port for everything. */
import { resolve } from 'node:path';
import { LISTEN_BACKLOG, buildApp } from './app';
import { bootstrap } from './bootstrap';
import { readConfig } from './config';
import { startMetricsServer } from './http/health';
import { loggerOptions } from './http/logging';
import { type RedisProcess, startRedis } from './redis/supervisor';

async function main(): Promise<void> {
  const config = readConfig();
  let stopping = false;
  let redis: RedisProcess | undefined;
  let url = config.redisUrl;
  if (!url && !config.clusterNodes) {
    const dir = resolve(config.dataDir, 'redis');
    redis = await startRedis({ dir, autoInstall: true, appendfsync: config.durability === 'always' ? 'always' : 'everysec' });
    url = redis.url;
    // Never leave our redis-server behind, however this process ends.
    const own = redis;
    process.once('exit', () => {
      if (own.child.exitCode === null) own.child.kill('SIGTERM');
    });
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
  const hark = await buildApp({
    config,
    redis: config.clusterNodes ? { clusterNodes: config.clusterNodes } : { url: url as string },
    // Serializers and redaction that keep every secret out of the log (http/logging.ts; buildApp applies them to any logger).
    logger: loggerOptions({ level: config.logLevel }),
  });
  const first = await bootstrap(hark.conns, config);
  await hark.app.listen({ port: config.port, host: config.host, backlog: LISTEN_BACKLOG });
  const addr = hark.app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  // Start-up time (BENCHMARKS.md): from this process's start to its port accepting.
  console.log(`hark: listening on ${config.host}:${port} ${Math.round(performance.now())} ms after start`);
  const metricsServer = config.metricsPort !== undefined ? await startMetricsServer(hark.ctx, config.metricsPort, config.host) : undefined;
  const base = `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}`;
  console.log(`\nHark is running:\n  demo page  ${base}/\n  console    ${base}/console/\n`);
  if (metricsServer) console.log(`  metrics    http://${config.host}:${config.metricsPort}/metrics${config.metricsToken ? ' (Bearer METRICS_TOKEN)' : ''}\n`);
  if (first.admin) {
    console.log(`First run: admin account ${first.admin.email}${first.admin.generated ? ` with password ${first.admin.password} (shown once; change it in the console)` : ' (password from ADMIN_PASSWORD)'}\n`);
  }
  const stop = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`hark: ${sig}, shutting down`);
    metricsServer?.close();
    await hark.close();
    await redis?.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((e) => {
  console.error(`hark: ${e instanceof Error ? e.message : e}`);
  process.exitCode = 1;
  process.exit();
});
