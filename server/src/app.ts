/**
 * buildApp(): the whole gateway as a Fastify instance, without a port, so tests
 * build as many as they like. `listen()` happens only in main.ts.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import cookie from '@fastify/cookie';
import websocket from '@fastify/websocket';
import { HarkError, MAX_BODY_BYTES, MAX_CONNECTIONS_PER_IP, MAX_FRAME_BYTES } from '@hark/shared';
import Fastify, { type FastifyInstance } from 'fastify';
import { type Config, readConfig } from './config';
import { registerErrorHandler } from './http/errors';
import { adminRoutes } from './http/admin';
import { authRoutes } from './http/auth';
import { conversationRoutes } from './http/conversations';
import { healthRoutes } from './http/health';
import { ownOrigin } from './http/origin';
import { replyRoutes } from './http/replies';
import { statsRoutes } from './http/stats';
import { teamRoutes } from './http/teams';
import { socketRoutes } from './http/sockets';
import { staticRoutes } from './http/static';
import { createMetrics } from './metrics';
import { type Connections, type RedisTarget, connect } from './redis/client';
import type { Ctx, StatsHooks } from './realtime/context';
import { statsHooks } from './store/stats';
import { Gateway } from './realtime/gateway';
import { Hub } from './realtime/hub';
import { QueueWatches } from './realtime/queue-watch';
import { Router } from './routing/router';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');

export interface AppOptions {
  config?: Partial<Config>;
  redis: RedisTarget;
  logger?: boolean | object;
  widgetDir?: string;
  consoleDir?: string;
  hooks?: StatsHooks;
  /**
   * Test-only: lower a per-gateway limit so a test can reach it quickly. Production code never
   * sets this; the product limits are the constants in shared/src/limits.ts.
   */
  testLimits?: { maxConnectionsPerIp?: number };
}

export interface HarkApp {
  app: FastifyInstance;
  gateway: Gateway;
  ctx: Ctx;
  conns: Connections;
  /** Drains sockets (1012), closes the server and the Redis connections. */
  close(): Promise<void>;
}

/**
 * Pending connections the kernel queues for the gateway (listen backlog; Node's default is 511).
 * A reconnect storm opens thousands at once: past the backlog the kernel drops their SYNs and the
 * clients retry only after 1, 3, 7 s (BENCHMARKS.md, reconnect storm). Capped by the kernel's
 * net.core.somaxconn (4096 here).
 */
export const LISTEN_BACKLOG = 4096;

export async function buildApp(opts: AppOptions): Promise<HarkApp> {
  const config: Config = { ...readConfig({}), ...opts.config };
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: MAX_BODY_BYTES,
    trustProxy: process.env.TRUST_PROXY === '1',
    // Never log message text: request bodies are not logged, and redact cookies.
  });
  const conns = connect(opts.redis);
  conns.waitReplica = config.durability === 'replica';
  const metrics = createMetrics();
  const hub = new Hub(conns);
  const ctx: Ctx = { c: conns, hub, queues: new QueueWatches(conns, hub, (e) => app.log.warn({ err: e }, 'queue positions')), router: new Router(conns), metrics, log: app.log, config, hooks: opts.hooks ?? statsHooks(conns.cmd) };
  hub.onError = (e) => app.log.warn({ err: e }, 'pubsub');
  hub.onDeliver = (at) => metrics.fanout.observe(Math.max(0, Date.now() - at) / 1000);
  conns.cmd.on('error', (e) => app.log.warn({ err: e }, 'redis'));
  const gateway = new Gateway(ctx);

  await app.register(cookie);
  // clientTracking off: ws's own Set of every client and a 'close' listener per socket would
  // duplicate gateway.sockets, and close() drains every socket itself (1012) before app.close().
  await app.register(websocket, { options: { maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false, clientTracking: false } });
  registerErrorHandler(app);

  // CSRF: every state-changing REST call must come from the console's own origin.
  app.addHook('onRequest', async (req) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return;
    if (req.headers.origin !== ownOrigin(req, config.publicOrigin)) throw new HarkError('CSRF');
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    return payload;
  });

  healthRoutes(app, ctx);
  authRoutes(app, ctx, gateway);
  adminRoutes(app, ctx, gateway);
  conversationRoutes(app, ctx);
  // Console features register here (teams, saved replies, stats).
  teamRoutes(app, ctx, gateway);
  replyRoutes(app, ctx);
  statsRoutes(app, ctx);
  socketRoutes(app, ctx, gateway, opts.testLimits?.maxConnectionsPerIp ?? MAX_CONNECTIONS_PER_IP);
  staticRoutes(app, {
    widget: opts.widgetDir ?? resolve(repo, 'widget/dist'),
    console: opts.consoleDir ?? resolve(repo, 'console/dist'),
  });

  gateway.start();
  let closed = false;
  return {
    app,
    gateway,
    ctx,
    conns,
    async close() {
      if (closed) return;
      closed = true;
      // Stop accepting at once: a new connection is refused by the kernel (the client or a load
      // balancer moves on to another gateway) instead of waiting, unanswered, in the backlog of a
      // process that is busy closing its sockets. Fastify's close below tolerates the closed server.
      if (app.server.listening) app.server.close();
      await gateway.drain();
      gateway.stop();
      await app.close();
      await conns.close();
    },
  };
}
