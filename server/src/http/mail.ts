/**
 * E-mail (domain/mail.ts): the site's mail log for admins (every mail sent, kept in the local
 * mailbox or received, with its state, error and attempts) and resending a failed one; a
 * transcript sent by an operator who may read the conversation; the inbound hook of a mail
 * provider (raw MIME, authenticated by MAIL_INBOUND_SECRET).
 */
import { timingSafeEqual } from 'node:crypto';
import { HarkError } from '@hark/shared';
import { Type as T } from '@sinclair/typebox';
import { MAIL_MAX_INBOUND_BYTES } from '../domain/mail-inbound';
import { canRead } from '../domain/policy';
import { requireAdmin, requireOperator } from './auth';
import type { Routes } from './plugin';

const Id = T.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });
const SiteParams = T.Object({ site: Id });
const MailParams = T.Object({ site: Id, id: Id });
const LogQuery = T.Object({ limit: T.Optional(T.Integer({ minimum: 1, maximum: 1000 })) });

function secretMatches(given: string | undefined, want: string): boolean {
  if (!given?.startsWith('Bearer ')) return false;
  const a = Buffer.from(given.slice(7));
  const b = Buffer.from(want);
  return a.length === b.length && timingSafeEqual(a, b);
}

export const mailRoutes: Routes = async (app, { ctx }) => {
  const { mail, conversations } = ctx.domain;

  app.get('/v1/sites/:site/mail', { schema: { params: SiteParams, querystring: LogQuery } }, async (req) => {
    await requireAdmin(ctx, req);
    return mail.log(req.params.site, req.query.limit ?? 100);
  });

  app.post('/v1/sites/:site/mail/:id/resend', { schema: { params: MailParams } }, async (req) => {
    await requireAdmin(ctx, req);
    return mail.resend(req.params.site, req.params.id);
  });

  app.get('/v1/sites/:site/mail/bounced', { schema: { params: SiteParams } }, async (req) => {
    await requireAdmin(ctx, req);
    return mail.bounced(req.params.site);
  });

  app.get('/v1/conversations/:id/mail', { schema: { params: T.Object({ id: Id }) } }, async (req) => {
    const me = await requireOperator(ctx, req);
    const m = await conversations.meta(req.params.id);
    if (!m || !canRead(me, m)) throw new HarkError('CONVERSATION_NOT_FOUND');
    return mail.status(m.id);
  });

  // A transcript to the visitor's own known address, by an operator who may read the conversation.
  app.post('/v1/conversations/:id/transcript', { schema: { params: T.Object({ id: Id }) } }, async (req, reply) => {
    const me = await requireOperator(ctx, req);
    const m = await conversations.meta(req.params.id);
    if (!m || !canRead(me, m)) throw new HarkError('CONVERSATION_NOT_FOUND');
    return reply.code(202).send(await mail.queueTranscript(m.id, `op:${me.id}:${Math.floor(Date.now() / 60_000)}`));
  });

  // A mail provider's inbound hook: the raw message as the body. Off without MAIL_INBOUND_SECRET.
  app.register(async (sub) => {
    sub.removeAllContentTypeParsers();
    sub.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAIL_MAX_INBOUND_BYTES }, (_req, body, done) => done(null, body));
    sub.post('/v1/mail/inbound', async (req, reply) => {
      const secret = ctx.config.mailInboundSecret;
      if (!secret) throw new HarkError('NOT_FOUND', 'The inbound mail hook is off (MAIL_INBOUND_SECRET is not set).');
      if (!secretMatches(req.headers.authorization, secret)) throw new HarkError('NOT_AUTHENTICATED');
      const rcpt = typeof req.query === 'object' && req.query && 'to' in req.query ? String((req.query as { to: unknown }).to) : '';
      const res = await mail.inbound.receive(req.body as Buffer, { rcpt: rcpt || undefined, via: 'hook' });
      return reply.code(res.posted ? 200 : 202).send(res);
    });
  });
};
