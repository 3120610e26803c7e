import { createHash, timingSafeEqual } from 'node:crypto';
import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import { ERRORS, type ErrorCode, HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS } from '@hark/shared';
import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../realtime/context';
import { isLoopback } from './conn-limits';

/** Headers a proxy adds: a request carrying one came through a proxy, even when the proxy itself is on this machine. */
const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-real-ip'];

function sameToken(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Who may read /metrics (it names sites and shows load): with METRICS_TOKEN set, whoever sends
 * `Authorization: Bearer <token>`; without it, only a client on this machine that did not come
 * through a proxy (the TCP peer is loopback and no forwarding header is present, so a proxy on the
 * same host that forwards public requests does not open it). Returns null when allowed.
 */
export function metricsRefusal(token: string | undefined, peer: string | undefined, headers: IncomingHttpHeaders): ErrorCode | null {
  if (token) {
    const auth = headers.authorization ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(auth);
    return m?.[1] && sameToken(m[1].trim(), token) ? null : 'NOT_AUTHENTICATED';
  }
  if (!isLoopback(peer)) return 'FORBIDDEN';
  return FORWARDING_HEADERS.some((h) => headers[h] !== undefined) ? 'FORBIDDEN' : null;
}

const METRICS_REFUSED = {
  NOT_AUTHENTICATED: 'Send Authorization: Bearer <METRICS_TOKEN>.',
  FORBIDDEN: '/metrics answers loopback clients only; set METRICS_TOKEN or METRICS_PORT to scrape it from elsewhere.',
} as Partial<Record<ErrorCode, string>>;

async function scrape(ctx: Ctx): Promise<string> {
  const t0 = performance.now();
  await ctx.domain.auth.ping().then(
    () => ctx.metrics.redisRtt.set((performance.now() - t0) / 1000),
    () => {},
  );
  return ctx.metrics.collect();
}

export function healthRoutes(app: FastifyInstance, ctx: Ctx): void {
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (_req, reply) => {
    const t0 = performance.now();
    try {
      await ctx.domain.auth.ping();
      ctx.metrics.redisRtt.set((performance.now() - t0) / 1000);
      return { ok: true };
    } catch {
      return reply.code(503).send({ code: 'OVERLOADED', message: 'Redis is not reachable.' });
    }
  });
  app.get('/metrics', async (req, reply) => {
    // Served on its own listener instead (startMetricsServer): not here at all.
    if (ctx.config.metricsPort !== undefined) return reply.code(404).send({ code: 'NOT_FOUND', message: ERRORS.NOT_FOUND.message });
    const no = metricsRefusal(ctx.config.metricsToken, req.socket.remoteAddress, req.headers);
    if (no) {
      if (no === 'NOT_AUTHENTICATED') reply.header('www-authenticate', 'Bearer realm="metrics"');
      return reply.code(ERRORS[no].status).send({ code: no, message: METRICS_REFUSED[no] });
    }
    return reply.header('content-type', ctx.metrics.registry.contentType).send(await scrape(ctx));
  });
}

/**
 * METRICS_PORT: /metrics alone on its own listener (same HOST), for a port the public proxy does
 * not route to. METRICS_TOKEN, when set, is required here too.
 */
export async function startMetricsServer(ctx: Ctx, port: number, host: string): Promise<Server> {
  const server = createServer((req, res) => {
    const send = (status: number, type: string, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers });
      res.end(body);
    };
    const json = (code: ErrorCode, headers?: Record<string, string>) =>
      send(ERRORS[code].status, 'application/json; charset=utf-8', JSON.stringify({ code, message: ERRORS[code].message }), headers);
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') return json('NOT_FOUND');
    if (ctx.config.metricsToken && metricsRefusal(ctx.config.metricsToken, req.socket.remoteAddress, req.headers)) {
      return json('NOT_AUTHENTICATED', { 'www-authenticate': 'Bearer realm="metrics"' });
    }
    scrape(ctx).then(
      (text) => send(200, ctx.metrics.registry.contentType, text),
      () => json('INTERNAL'),
    );
  });
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(port, host, () => {
      server.off('error', rej);
      res();
    });
  });
  return server;
}
