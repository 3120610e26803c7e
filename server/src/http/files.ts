/**
 * Attachments over HTTP (domain/files.ts does the work):
 *
 * - `POST /v1/visitor/files?site&name[&conv]`, `Authorization: Visitor TOKEN`: a visitor's upload,
 *   the file's bytes as the body (streamed, never buffered whole). From the site's page: CORS for
 *   the site's allowed origins.
 * - `POST /v1/conversations/:id/files?name`: an operator's upload into a conversation they may read.
 * - `GET /v1/visitor/files/:conv/:file?site` (visitor token) → `{url, expiresAt}`;
 *   `GET /v1/conversations/:id/files/:file` (operator) → 302 to the signed URL (so an `<img>` or a
 *   link in the console works as it is), `…/url` → `{url, expiresAt}`.
 * - `GET /v1/files/:conv/:file?e&s`: the bytes, for whoever holds a signed, unexpired URL whose
 *   conversation the file belongs to (checked on every download).
 */
import type { Readable } from 'node:stream';
import { HarkError } from '@hark/shared';
import { Type as T } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Site } from '../domain/sites';
import { requireOperator } from './auth';
import { originAllowed, ownOrigin } from './origin';
import type { Routes } from './plugin';

const Id = T.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });
const Name = T.String({ maxLength: 1000 });

/** Content-Disposition for a file name: an ASCII fallback and the exact name (RFC 6266 / 5987). */
export function disposition(kind: 'inline' | 'attachment', name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\;]/g, '_');
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;
}

export const fileRoutes: Routes = async (app, { ctx }) => {
  const { files, sites, visitors } = ctx.domain;

  // Upload bodies are the file's bytes in any type, streamed to the domain as they come: no
  // parser of this scope reads them (and so no body limit applies; the site's size limit does).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

  /** The site's page may call the visitor routes: CORS for its allowed origins (never `*` with credentials). */
  function cors(req: FastifyRequest, reply: FastifyReply, site: Site): void {
    const origin = req.headers.origin;
    if (!origin) return;
    if (!originAllowed(origin, site.origins, ownOrigin(req, ctx.config.publicOrigin))) throw new HarkError('ORIGIN_NOT_ALLOWED');
    reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
  }

  async function visitorOf(req: FastifyRequest, reply: FastifyReply, siteId: string): Promise<{ id: string; site: string }> {
    const site = await sites.get(siteId);
    if (!site) throw new HarkError('UNKNOWN_SITE');
    cors(req, reply, site);
    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Visitor ') ? auth.slice(8).trim() : '';
    if (!token) throw new HarkError('VISITOR_TOKEN_MISSING');
    const visitor = await visitors.forToken(site.id, token, false);
    if (!visitor) throw new HarkError('VISITOR_TOKEN_INVALID');
    return { id: visitor, site: site.id };
  }

  function length(req: FastifyRequest): number | undefined {
    const n = Number(req.headers['content-length']);
    return Number.isFinite(n) && n >= 0 ? n : undefined;
  }

  /** A refused upload ends the connection after the answer: the rest of the body is not read (nothing more is kept). */
  function closeOnError(reply: FastifyReply): void {
    reply.header('connection', 'close');
  }

  const preflight = async (req: FastifyRequest<{ Querystring: { site?: string } }>, reply: FastifyReply) => {
    const site = await sites.get(req.query.site ?? '');
    if (!site) throw new HarkError('UNKNOWN_SITE');
    cors(req, reply, site);
    return reply
      .header('access-control-allow-methods', 'GET, POST')
      .header('access-control-allow-headers', 'authorization, content-type')
      .header('access-control-max-age', '600')
      .code(204)
      .send();
  };
  const SiteQuery = T.Object({ site: T.Optional(T.String({ maxLength: 64 })) });
  app.options('/v1/visitor/files', { schema: { querystring: SiteQuery, hide: true } }, preflight);
  app.options('/v1/visitor/files/:conv/:file', { schema: { querystring: SiteQuery, hide: true } }, preflight);

  app.post(
    '/v1/visitor/files',
    { schema: { querystring: T.Object({ site: T.String({ maxLength: 64 }), name: Name, conv: T.Optional(Id) }) } },
    async (req, reply) => {
      const len = length(req);
      try {
        const v = await visitorOf(req, reply, req.query.site);
        const file = await files.upload({ kind: 'visitor', id: v.id, site: v.site }, { site: v.site, name: req.query.name, declared: req.headers['content-type'] ?? '', body: req.body as Readable, ...(req.query.conv ? { conv: req.query.conv } : {}), ...(len !== undefined ? { length: len } : {}) });
        return reply.code(201).send({ file });
      } catch (e) {
        closeOnError(reply);
        throw e;
      }
    },
  );

  app.post('/v1/conversations/:id/files', { schema: { params: T.Object({ id: Id }), querystring: T.Object({ name: Name }) } }, async (req, reply) => {
    const len = length(req);
    try {
      const me = await requireOperator(ctx, req);
      const m = await ctx.domain.conversations.meta(req.params.id);
      if (!m) throw new HarkError('CONVERSATION_NOT_FOUND');
      const file = await files.upload({ kind: 'operator', op: me }, { site: m.site, conv: m.id, name: req.query.name, declared: req.headers['content-type'] ?? '', body: req.body as Readable, ...(len !== undefined ? { length: len } : {}) });
      return reply.code(201).send({ file });
    } catch (e) {
      closeOnError(reply);
      throw e;
    }
  });

  app.get('/v1/visitor/files/:conv/:file', { schema: { params: T.Object({ conv: Id, file: Id }), querystring: T.Object({ site: T.String({ maxLength: 64 }) }) } }, async (req, reply) => {
    const v = await visitorOf(req, reply, req.query.site);
    reply.header('cache-control', 'no-store');
    return files.urlForVisitor(v, req.params.conv, req.params.file);
  });

  app.get('/v1/conversations/:id/files/:file', { schema: { params: T.Object({ id: Id, file: Id }) } }, async (req, reply) => {
    const me = await requireOperator(ctx, req);
    const { url } = await files.urlForOperator(me, req.params.id, req.params.file);
    return reply.header('cache-control', 'no-store').redirect(url, 302);
  });
  app.get('/v1/conversations/:id/files/:file/url', { schema: { params: T.Object({ id: Id, file: Id }) } }, async (req, reply) => {
    const me = await requireOperator(ctx, req);
    reply.header('cache-control', 'no-store');
    return files.urlForOperator(me, req.params.id, req.params.file);
  });

  app.get(
    '/v1/files/:conv/:file',
    { schema: { params: T.Object({ conv: Id, file: Id }), querystring: T.Object({ e: T.String({ maxLength: 20 }), s: T.String({ maxLength: 100 }) }) } },
    async (req, reply) => {
      // Every answer from here, refusals too: nothing a browser may sniff, run or frame.
      reply.header('content-security-policy', 'sandbox').header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer');
      const d = await files.open(req.params.conv, req.params.file, Number(req.query.e), req.query.s);
      const f = d.file;
      const left = Math.max(0, Math.floor((Number(req.query.e) - Date.now()) / 1000));
      return reply
        .header('content-type', f.type === 'text/plain' ? 'text/plain; charset=utf-8' : f.type)
        .header('content-length', String(f.size))
        .header('content-disposition', disposition(d.inline ? 'inline' : 'attachment', f.name))
        .header('cache-control', `private, max-age=${left}`)
        // The widget shows thumbnails in the site's page, another origin.
        .header('cross-origin-resource-policy', 'cross-origin')
        .send(d.body);
    },
  );
};
