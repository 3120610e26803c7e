/**
 * buildApp(): the whole gateway as a Fastify instance, without a port, so tests
 * build as many as they like. `listen()` happens only in main.ts.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import websocket from '@fastify/websocket';
import { HarkError, MAX_BODY_BYTES, MAX_CONNECTIONS_PER_IP, MAX_FRAME_BYTES } from '@hark/shared';
import Fastify, { type FastifyInstance } from 'fastify';
import { type Config, readConfig } from './config';
import { type ConnectionTestLimits, connectionLimits, limitConnections, timeoutOptions } from './http/conn-limits';
import { frameworkErrors, registerErrorHandler } from './http/errors';
import { adminRoutes } from './http/admin';
import { avatarRoutes } from './http/avatars';
import { apiRoutes } from './http/api';
import { apiKeyRoutes } from './http/api-keys';
import { type LoginTestLimits, authRoutes, csrfExempt } from './http/auth';
import { docsRoutes, openapiWebhooks } from './http/docs';
import { conversationRoutes } from './http/conversations';
import { fileRoutes } from './http/files';
import { healthRoutes } from './http/health';
import { loggerOptions } from './http/logging';
import { LAZY_SCHEMAS } from './http/lazy-schemas';
import { HSTS, ownOrigin } from './http/origin';
import { privacyRoutes } from './http/privacy';
import { replyRoutes } from './http/replies';
import { reportRoutes } from './http/reports';
import { searchRoutes } from './http/search';
import { statsRoutes } from './http/stats';
import { teamRoutes } from './http/teams';
import { webhookRoutes } from './http/webhooks';
import { mailRoutes } from './http/mail';
import { type InboundListener, startInboundSmtp } from './http/smtp-inbound';
import { socketRoutes } from './http/sockets';
import { staticRoutes } from './http/static';
import { createMetrics } from './metrics';
import { type Connections, type RedisTarget, connect } from './redis/client';
import { hostname } from 'node:os';
import { randomId } from '@hark/shared';
import { Domain } from './domain';
import { defaultConsumers } from './domain/consumers';
import type { WebhookSettings } from './domain/webhooks';
import type { MailSettings } from './domain/mail';
import { type Consumer, EventConsumers } from './domain/event-consumers';
import { Jobs } from './jobs/jobs';
import type { Ctx } from './realtime/context';
import type { LimitSettings } from './realtime/limits';
import { Gateway } from './realtime/gateway';
import { QueueWatches } from './realtime/queue-watch';
import { defineEmitScript } from './store/event-log';
import type { BlobStore } from './store/blobs';
import { Hub } from './store/hub';
import { migrate } from './store/migrations';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');

export interface AppOptions {
  config?: Partial<Config>;
  redis: RedisTarget;
  logger?: boolean | object;
  widgetDir?: string;
  consoleDir?: string;
  /** Consumers of the event log besides the product's own (domain/consumers.ts): tests add counting ones. */
  consumers?: Consumer[];
  /**
   * What this process does (`pnpm start` with a consumer worker, main.ts): `all` (the default)
   * serves sockets and handles the event log; `gateway` serves and only records events;
   * `consumers` handles the event log (and the jobs) and serves nobody (it is never listened on).
   */
  role?: AppRole;
  /** Where attachments' bytes go, instead of the store the config chooses (tests: one that fails mid-upload). */
  blobs?: BlobStore;
  /**
   * Test-only: lower a per-gateway limit so a test can reach it quickly. Production code never
   * sets this; the product limits are the constants in shared/src/limits.ts.
   */
  testLimits?: { maxConnectionsPerIp?: number; visitors?: Partial<LimitSettings> } & ConnectionTestLimits & LoginTestLimits & { webhooks?: Partial<WebhookSettings>; mail?: Partial<MailSettings> };
}

export type AppRole = 'all' | 'gateway' | 'consumers';

export interface HarkApp {
  app: FastifyInstance;
  gateway: Gateway;
  ctx: Ctx;
  conns: Connections;
  jobs: Jobs;
  consumers: EventConsumers;
  /** The SMTP listener for replies (SMTP_INBOUND_PORT), when on. */
  smtpInbound: InboundListener | null;
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
  const trustProxy = process.env.TRUST_PROXY === '1';
  const connLimits = connectionLimits(trustProxy, opts.testLimits);
  const app = Fastify({
    // Never log message text or a secret: bodies and headers are not logged, URLs lose their query (http/logging.ts).
    logger: loggerOptions(opts.logger),
    bodyLimit: MAX_BODY_BYTES,
    trustProxy,
    // Headers, request and keep-alive timeouts (http/conn-limits.ts).
    ...timeoutOptions(connLimits),
    // A malformed or over-long path parameter is answered `{ code, message }` like every error (http/errors.ts).
    frameworkErrors,
    // Route schemas compiled on first use (and warmed right after listen), not all before listen (http/lazy-schemas.ts).
    schemaController: LAZY_SCHEMAS,
  });
  const conns = connect(opts.redis);
  // Before any traffic: defining scripts on a busy autopipelined connection can throw (store/event-log.ts).
  defineEmitScript(conns.cmd);
  conns.waitReplica = config.durability === 'replica';
  const metrics = createMetrics();
  limitConnections(app.server, connLimits, metrics, app.log);
  const hub = new Hub(conns);
  const gatewayId = `${hostname()}:${process.pid}:${randomId(6)}`;
  const role = opts.role ?? 'all';
  const consumers = new EventConsumers(conns, app.log, { gatewayId, ownClient: true, consume: role !== 'gateway', serving: role !== 'consumers' });
  // Events go through the runner: recorded in the log, and the local holder of the partition woken at once.
  const domain = new Domain({ c: conns, config, metrics, log: app.log, gatewayId, emit: async (e, id) => void (await consumers.emit(e, id)), emitted: (p, t) => consumers.emitted(p, t), ...(opts.blobs ? { blobs: opts.blobs } : {}) });
  const ctx: Ctx = { domain, hub, queues: new QueueWatches(domain, hub, (e) => app.log.warn({ err: e }, 'queue positions')), metrics, log: app.log, config };
  if (opts.testLimits?.webhooks) domain.webhooks.configure(opts.testLimits.webhooks);
  if (opts.testLimits?.mail) domain.mail.configure(opts.testLimits.mail);
  const jobs = new Jobs(domain, gatewayId, app.log);
  for (const c of [...defaultConsumers(domain), ...(opts.consumers ?? [])]) consumers.register(c);
  metrics.setEventCounters(() => ({ ...consumers.counters }));
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
    // An API call with a bearer key and no session cookie is not a browser riding on a cookie (http/auth.ts).
    if (csrfExempt(req)) return;
    if (req.headers.origin !== ownOrigin(req, config.publicOrigin)) throw new HarkError('CSRF');
  });
  app.addHook('onSend', async (req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    if (req.protocol === 'https') reply.header('strict-transport-security', HSTS);
    return payload;
  });

  // The OpenAPI document is generated from the routes' TypeBox schemas (GET /v1/openapi.json, /docs: http/docs.ts).
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Hark API', version: '1', description: 'REST API of the Hark gateway. Integrations use /v1/api/… with an API key; the console uses the other routes with its session cookie.' },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key (`hark_…`) an admin created with POST /v1/api-keys.' } } },
      // What webhooks POST, one entry per type, from the schemas the delivery code builds the bodies with (http/docs.ts).
      webhooks: openapiWebhooks(),
    },
    // Only the /v1 REST routes: not the demo page, the widget's files or the console's.
    transform: ({ schema, url }) => ({ schema: url.startsWith('/v1/') ? schema : { ...(schema ?? {}), hide: true }, url }),
  });
  healthRoutes(app, ctx);
  // The signed-in operator, read once per request by requireOperator (http/auth.ts).
  app.decorateRequest('operator', null);
  app.decorateRequest('sessionHash', null);
  app.decorateRequest('apiKey', null);
  // REST route modules are plugins typed by their TypeBox schemas (http/plugin.ts).
  const routes = { ctx, gw: gateway };
  await app.register(authRoutes, { ...routes, ...(opts.testLimits ? { test: opts.testLimits } : {}) });
  await app.register(adminRoutes, routes);
  await app.register(avatarRoutes, routes);
  await app.register(conversationRoutes, routes);
  await app.register(teamRoutes, routes);
  await app.register(replyRoutes, routes);
  await app.register(statsRoutes, routes);
  await app.register(apiKeyRoutes, routes);
  await app.register(apiRoutes, routes);
  docsRoutes(app);
  await app.register(webhookRoutes, routes);
  await app.register(privacyRoutes, routes);
  await app.register(fileRoutes, routes);
  await app.register(mailRoutes, routes);
  await app.register(searchRoutes, routes);
  await app.register(reportRoutes, routes);
  socketRoutes(app, ctx, gateway, opts.testLimits?.maxConnectionsPerIp ?? MAX_CONNECTIONS_PER_IP, opts.testLimits?.visitors, () => consumers.liveGateways());
  staticRoutes(app, {
    widget: opts.widgetDir ?? resolve(repo, 'widget/dist'),
    console: opts.consoleDir ?? resolve(repo, 'console/dist'),
  });

  // The data model is versioned: one gateway migrates, the others wait (store/migrations.ts).
  await migrate(conns.cmd, app.log);
  gateway.start();
  // Background work goes where the event log is handled: a consumer worker's gateways run neither.
  if (role !== 'gateway') jobs.start();
  consumers.start();
  const smtpInbound =
    config.smtpInboundPort === undefined || role === 'consumers' ? null : await startInboundSmtp(domain.mail.inbound, { port: config.smtpInboundPort, host: config.host, name: domain.mail.domain, log: app.log });
  let closed = false;
  return {
    app,
    gateway,
    ctx,
    conns,
    jobs,
    consumers,
    smtpInbound,
    async close() {
      if (closed) return;
      closed = true;
      // Stop accepting at once: a new connection is refused by the kernel (the client or a load
      // balancer moves on to another gateway) instead of waiting, unanswered, in the backlog of a
      // process that is busy closing its sockets. Fastify's close below tolerates the closed server.
      if (app.server.listening) app.server.close();
      await smtpInbound?.close();
      await gateway.drain();
      gateway.stop();
      await jobs.stop();
      await consumers.stop();
      await app.close();
      await conns.close();
      metrics.stop();
    },
  };
}
