/**
 * The two WebSocket endpoints. Every check happens in preValidation, before the
 * handshake completes, so a refused upgrade is an HTTP error with a code and no
 * socket is ever opened for it (cross-site WebSocket hijacking). The handlers
 * attach their message listeners synchronously, so no frame is dropped.
 */
import { ERRORS, type ErrorCode, HarkError, MAX_CONNECTIONS_PER_IP, PROTOCOL_VERSION, VISITOR_TOKEN_RE } from '@hark/shared';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { Site } from '../domain/sites';
import { intern } from '@hark/shared/intern';
import type { Ctx } from '../realtime/context';
import type { Gateway } from '../realtime/gateway';
import { type LimitSettings, Limits } from '../realtime/limits';
import { OperatorConn } from '../realtime/operator-socket';
import { VisitorConn } from '../realtime/visitor-socket';
import { requireOperator } from './auth';
import { originAllowed, ownOrigin } from './origin';

declare module 'fastify' {
  interface FastifyRequest {
    harkSite?: Site;
    harkVisitor?: string;
  }
}

function refuse(reply: FastifyReply, code: ErrorCode, message?: string) {
  return reply.code(ERRORS[code].status).send({ code, message: message ?? ERRORS[code].message });
}

/**
 * Lets the upgrade request go once its socket is open. @fastify/websocket keeps it alive for
 * the socket's whole life (~3.4 KB of heap per idle socket: IncomingMessage, its headers and
 * read buffer, ServerResponse, Fastify's Request and Reply): the net.Socket still points at the
 * hijacked ServerResponse (`_httpMessage`, set by its assignSocket and never detached), and its
 * 'error' listener on the WebSocket closes over the request and reply. The listener is replaced
 * by one that does the same (log, terminate) without them.
 */
function releaseUpgrade(ws: WebSocket, req: FastifyRequest, onError: (this: WebSocket, err: Error) => void): void {
  const net = req.raw.socket as Socket & { _httpMessage?: ServerResponse | null };
  if (net._httpMessage) net._httpMessage.detachSocket(net);
  ws.removeAllListeners('error');
  ws.on('error', onError);
}

/** A site at its message limit is logged at most this often (per site, per gateway). */
const SITE_LIMIT_LOG_MS = 60_000;

/** `gateways`: how many gateways share each site's message limit now (each enforces its share). */
export function socketRoutes(app: FastifyInstance, ctx: Ctx, gw: Gateway, maxPerIp = MAX_CONNECTIONS_PER_IP, limitSettings: Partial<LimitSettings> = {}, gateways: () => number = () => 1): void {
  const perIp = new Map<string, number>();
  const limits = new Limits(limitSettings, gateways);
  const limitLogged = new Map<string, number>();
  limits.onSiteLimited = (site) => {
    ctx.metrics.siteLimited.inc();
    const now = Date.now();
    if (now - (limitLogged.get(site) ?? 0) < SITE_LIMIT_LOG_MS) return;
    limitLogged.set(site, now);
    if (limitLogged.size > 10_000) limitLogged.clear();
    ctx.log.warn({ site, gateways: Math.max(1, gateways()) }, "site at its message limit (msgsPerSec): the heaviest senders are asked to retry; raise the site's limit if this is real traffic");
  };
  app.addHook('onClose', async () => limits.stop());
  // One Site object per site (and version) for every socket of it: a visitor socket keeps the site its
  // upgrade read for life, and each read is its own copy (~0.5 KB per visitor). Sites are never mutated.
  const sharedSites = new Map<string, { json: string; site: Site }>();
  const shareSite = (site: Site): Site => {
    const json = JSON.stringify(site);
    const had = sharedSites.get(site.id);
    if (had?.json === json) return had.site;
    sharedSites.set(site.id, { json, site });
    return site;
  };
  // What @fastify/websocket's default error handler does, without holding the request.
  const onSocketError = function (this: WebSocket, err: Error) {
    app.log.error(err);
    this.terminate();
  };
  const countIp = (req: FastifyRequest, ws: WebSocket) => {
    // Only the address is kept (the closure held the whole request); ws emits 'close' once, so `on` (no once-wrapper).
    const ip = req.ip;
    perIp.set(ip, (perIp.get(ip) ?? 0) + 1);
    ws.on('close', () => {
      const n = (perIp.get(ip) ?? 1) - 1;
      if (n <= 0) perIp.delete(ip);
      else perIp.set(ip, n);
    });
  };
  const common = (req: FastifyRequest, reply: FastifyReply): boolean => {
    if (gw.draining) {
      refuse(reply, 'SHUTTING_DOWN');
      return false;
    }
    const q = req.query as Record<string, string | undefined>;
    if (q.v !== undefined && q.v !== String(PROTOCOL_VERSION)) {
      refuse(reply, 'PROTOCOL_VERSION');
      return false;
    }
    if ((perIp.get(req.ip) ?? 0) >= maxPerIp) {
      refuse(reply, 'TOO_MANY_CONNECTIONS');
      return false;
    }
    return true;
  };

  app.get(
    '/v1/visitor',
    {
      websocket: true,
      preValidation: async (req, reply) => {
        if (!common(req, reply)) return;
        const q = req.query as Record<string, string | undefined>;
        const site = q.site ? await ctx.domain.sites.get(q.site) : null;
        if (!site) return refuse(reply, 'UNKNOWN_SITE');
        if (!originAllowed(req.headers.origin, site.origins, ownOrigin(req, ctx.config.publicOrigin))) return refuse(reply, 'ORIGIN_NOT_ALLOWED');
        if (!q.token) return refuse(reply, 'VISITOR_TOKEN_MISSING');
        if (!VISITOR_TOKEN_RE.test(q.token)) return refuse(reply, 'VISITOR_TOKEN_INVALID');
        let visitor = await ctx.domain.visitors.forToken(site.id, q.token, false);
        if (!visitor && q.new === '1') {
          // Registering a new visitor is limited per source address (tokens expire unless used).
          if (!limits.mayRegister(req.ip)) return refuse(reply, 'RATE_LIMITED', 'Too many new visitors from this address; try again later.');
          visitor = await ctx.domain.visitors.forToken(site.id, q.token, true);
        }
        if (!visitor) return refuse(reply, 'VISITOR_TOKEN_INVALID');
        req.harkSite = shareSite(site);
        req.harkVisitor = visitor;
      },
    },
    (socket, req) => {
      const site = req.harkSite as Site;
      const visitor = req.harkVisitor as string;
      releaseUpgrade(socket, req, onSocketError);
      countIp(req, socket);
      const conn = new VisitorConn(ctx, socket, site, visitor, intern(String(req.headers['user-agent'] ?? '')), limits.forSocket(visitor, req.ip, site.id, site.msgsPerSec));
      gw.track(conn);
    },
  );

  app.get(
    '/v1/operator',
    {
      websocket: true,
      preValidation: async (req, reply) => {
        if (!common(req, reply)) return;
        if (req.headers.origin !== ownOrigin(req, ctx.config.publicOrigin)) return refuse(reply, 'ORIGIN_NOT_ALLOWED', 'The operator socket accepts only the console origin.');
        try {
          await requireOperator(ctx, req);
        } catch (e) {
          if (e instanceof HarkError) return refuse(reply, e.code);
          throw e;
        }
      },
    },
    (socket, req) => {
      releaseUpgrade(socket, req, onSocketError);
      countIp(req, socket);
      const conn = new OperatorConn(ctx, gw, socket, req.operator as NonNullable<typeof req.operator>, req.sessionHash as string);
      gw.track(conn);
      void gw.addOperator(conn).catch((e) => conn.fail(e));
    },
  );
}
