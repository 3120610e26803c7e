/**
 * One gateway in its own process, so a chaos test can really SIGKILL it.
 * Env: REDIS_URL, PORT (0 = any). Prints `PORT <n>` once listening.
 * SIGTERM drains (every socket closed with 1012), then exits.
 */
import { buildApp } from '../src/app';
import { bootstrap } from '../src/bootstrap';
import { connect } from '../src/redis/client';
import { ADMIN } from '../test/harness';
import { chaosConsumers } from './event-count';

// The event log's witnesses (event-count.ts) on their own connection, as any consumer's reads would be.
const witness = connect({ url: process.env.REDIS_URL ?? '' });
// Redis restarts and partitions are the point of the suite: reconnects are expected, not news.
witness.cmd.on('error', () => {});
witness.sub.on('error', () => {});
const hark = await buildApp({ redis: { url: process.env.REDIS_URL ?? '' }, logger: process.env.HARK_CHAOS_LOG === '1' ? { level: 'warn' } : false, consumers: chaosConsumers(witness.cmd) });
await bootstrap(hark.conns, { adminEmail: ADMIN.email, adminPassword: ADMIN.password });
await hark.app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
const addr = hark.app.server.address();
process.stdout.write(`PORT ${typeof addr === 'object' && addr ? addr.port : 0}\n`);
process.on('SIGTERM', () => {
  void hark.close().finally(() => process.exit(0));
});
