/**
 * The two WebSocket endpoints. Every check happens in preValidation, before the
 * handshake completes, so a refused upgrade is an HTTP error with a code and no
 * socket is ever opened for it (cross-site WebSocket hijacking). The handlers
 * attach their message listeners synchronously, so no frame is dropped.
 */
import { ERRORS, type ErrorCode, HarkError, MAX_CONNECTIONS_PER_IP, PROTOCOL_VERSION, SITE_BURST, SITE_MSGS_PER_SEC, VISITOR_TOKEN_RE } from '@hark/shared';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Bucket } from '../realtime/bucket';
import type { Ctx } from '../realtime/context';
import type { Gateway } from '../realtime/gateway';
import { OperatorConn } from '../realtime/operator-socket';
import { VisitorConn } from '../realtime/visitor-socket';
import { type Site, getSite } from '../store/sites';
import { visitorForToken } from '../store/visitors';
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

export function socketRoutes(app: FastifyInstance, ctx: Ctx, gw: Gateway, maxPerIp = MAX_CONNECTIONS_PER_IP): void {
  const perIp = new Map<string, number>();
  const siteBuckets = new Map<string, Bucket>();
  const countIp = (req: FastifyRequest, ws: { once(ev: 'close', f: () => void): unknown }) => {
    perIp.set(req.ip, (perIp.get(req.ip) ?? 0) + 1);
    ws.once('close', () => {
      const n = (perIp.get(req.ip) ?? 1) - 1;
      if (n <= 0) perIp.delete(req.ip);
      else perIp.set(req.ip, n);
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
        const site = q.site ? await getSite(ctx.c.cmd, q.site) : null;
        if (!site) return refuse(reply, 'UNKNOWN_SITE');
        if (!originAllowed(req.headers.origin, site.origins, ownOrigin(req, ctx.config.publicOrigin))) return refuse(reply, 'ORIGIN_NOT_ALLOWED');
        if (!q.token) return refuse(reply, 'VISITOR_TOKEN_MISSING');
        if (!VISITOR_TOKEN_RE.test(q.token)) return refuse(reply, 'VISITOR_TOKEN_INVALID');
        const visitor = await visitorForToken(ctx.c.cmd, site.id, q.token, q.new === '1');
        if (!visitor) return refuse(reply, 'VISITOR_TOKEN_INVALID');
        req.harkSite = site;
        req.harkVisitor = visitor;
      },
    },
    (socket, req) => {
      const site = req.harkSite as Site;
      let bucket = siteBuckets.get(site.id);
      if (!bucket) {
        bucket = new Bucket(SITE_MSGS_PER_SEC, SITE_BURST);
        siteBuckets.set(site.id, bucket);
      }
      countIp(req, socket);
      const conn = new VisitorConn(ctx, socket, site, req.harkVisitor as string, String(req.headers['user-agent'] ?? ''), bucket);
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
      countIp(req, socket);
      const conn = new OperatorConn(ctx, gw, socket, req.operator as NonNullable<typeof req.operator>, req.sessionHash as string);
      gw.track(conn);
      void gw.addOperator(conn).catch((e) => conn.fail(e));
    },
  );
}
