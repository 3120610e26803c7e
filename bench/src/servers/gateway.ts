/** Ours: the real gateway (buildApp), one per process, on Redis or a Redis Cluster. */
import { type AppRole, LISTEN_BACKLOG, buildApp } from '@hark/server/src/app';
import { serveChild } from '../lib/child';

const nodes = process.env.REDIS_CLUSTER_NODES?.split(',').filter(Boolean);
// HARK_BENCH_LOG=info|warn|…: the gateway's own logger (to stderr), to see why sockets close.
const level = process.env.HARK_BENCH_LOG;
// HARK_ROLE=gateway|consumers: as `pnpm start`'s workers with a consumer worker (server/src/main.ts).
const role = (['all', 'gateway', 'consumers'] as const).find((r) => r === process.env.HARK_ROLE) as AppRole | undefined;
const hark = await buildApp({ redis: nodes?.length ? { clusterNodes: nodes } : { url: process.env.REDIS_URL as string }, ...(level ? { logger: { level } } : {}), ...(role ? { role } : {}) });
// HARK_BENCH_CONSUMERS=off: the event log's consumers (search index, reports, stats, mail, webhooks)
// stop right after the start, so a run shows what the real-time path alone costs (attribution only:
// events pile up in the log unhandled; never a product configuration).
if (process.env.HARK_BENCH_CONSUMERS === 'off') await hark.consumers.stop();
await hark.app.listen({ port: Number(process.env.PORT ?? 0), host: '0.0.0.0', backlog: LISTEN_BACKLOG });
const addr = hark.app.server.address();
serveChild(typeof addr === 'object' && addr ? addr.port : 0, () => hark.close());
