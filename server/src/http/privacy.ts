/**
 * The visitor's data on request (domain/privacy.ts), for the console and for integrations:
 *
 *   GET    /v1/sites/:site/visitors/:visitor/export   admins and the site's supervisors (session)
 *   DELETE /v1/sites/:site/visitors/:visitor          admins (session)
 *   GET    /v1/api/visitors/:id/export                any API key whose scope has the visitor's site
 *   DELETE /v1/api/visitors/:id                       a read-write API key whose scope has it
 *
 * A visitor of a site the caller may not see answers 404 (as if missing), like every other route.
 * The export is a JSON attachment (`Content-Disposition`), never cached.
 */
import { HarkError } from '@hark/shared';
import { ConvStatus, Entry, OperatorRef, Rating, VisitorInfo } from '@hark/shared/protocol';
import { Type as T } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import { canSeeSite } from '../domain/policy';
import { EXPORT_FORMAT, type VisitorExport, mayEraseVisitor, mayExportVisitor } from '../domain/privacy';
import { ErrorBody } from './api-keys';
import { requireApiKey, requireOperator } from './auth';
import type { Routes } from './plugin';

const Err = ErrorBody;
const Id = T.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });

const ExportEntry = T.Composite([Entry, T.Object({ internal: T.Optional(T.Boolean({ description: 'true: an operators’ internal note (never shown to the visitor in the chat).' })) })]);
export const VisitorExportSchema = T.Object(
  {
    format: T.Literal(EXPORT_FORMAT),
    exportedAt: T.Number({ description: 'ms since the epoch' }),
    about: T.String({ description: 'What the document holds, in words.' }),
    visitor: T.Composite([VisitorInfo, T.Object({ site: T.String(), createdAt: T.Number(), openConversation: T.Optional(T.String({ description: 'Their unresolved conversation, if any.' })) })], {
      description: 'The visitor’s record: profile (name, e-mail, verified user id), attributes, current page, browser, language, time zone.',
    }),
    conversations: T.Array(
      T.Object({
        id: T.String(),
        status: ConvStatus,
        createdAt: T.Number(),
        queuedAt: T.Optional(T.Number()),
        assignedAt: T.Optional(T.Number()),
        firstResponseAt: T.Optional(T.Number()),
        resolvedAt: T.Optional(T.Number()),
        operator: T.Optional(T.Union([OperatorRef, T.Null()])),
        team: T.Optional(T.Union([T.String(), T.Null()])),
        rating: T.Optional(Rating),
        ratingComment: T.Optional(T.String()),
        entries: T.Array(ExportEntry, { description: 'Every entry in order: messages, events, and internal notes (`internal: true`).' }),
      }),
      { description: 'Every conversation of the visitor, oldest first.' },
    ),
    ratings: T.Array(T.Object({ conversation: T.String(), rating: Rating, comment: T.Optional(T.String()), at: T.Optional(T.Number()) })),
    events: T.Array(T.Object({ id: T.String(), type: T.String(), at: T.Number() }, { additionalProperties: true }), { description: 'Domain events naming the visitor or one of their conversations, as the event log holds them.' }),
    webhookDeliveries: T.Array(
      T.Object({ webhook: T.String(), id: T.String(), eventId: T.String(), type: T.String(), state: T.String(), createdAt: T.Number() }),
      { description: 'Webhook deliveries (queued or in the delivery log) whose body names them.' },
    ),
    mail: T.Array(
      T.Object({
        id: T.String(),
        kind: T.Union([T.Literal('notify'), T.Literal('reply'), T.Literal('transcript'), T.Literal('inbound')]),
        conv: T.String(),
        to: T.String({ description: 'Recipients (outbound) or the sender (inbound).' }),
        from: T.String(),
        subject: T.String(),
        text: T.String(),
        state: T.Union(['pending', 'sent', 'local', 'failed', 'skipped', 'received', 'refused'].map((x) => T.Literal(x))),
        attempts: T.Number(),
        error: T.Union([T.String(), T.Null()]),
        createdAt: T.Number(),
        lastAt: T.Union([T.Number(), T.Null()]),
        nextAt: T.Union([T.Number(), T.Null()]),
        sentAt: T.Union([T.Number(), T.Null()]),
      }),
      { description: 'The e-mail of their conversations still in the site’s mail log: team notifications, answers, transcripts, replies received.' },
    ),
  },
  { description: 'Everything the gateway holds about one visitor.' },
);

const consoleTags = ['Privacy'];
const apiTags = ['API'];
const security = [{ apiKey: [] }];

function attachment(reply: FastifyReply, doc: VisitorExport): VisitorExport {
  reply.header('content-disposition', `attachment; filename="hark-visitor-${doc.visitor.site}-${doc.visitor.id}.json"`);
  reply.header('cache-control', 'no-store');
  return doc;
}

export const privacyRoutes: Routes = async (app, { ctx }) => {
  const { privacy } = ctx.domain;

  app.get(
    '/v1/sites/:site/visitors/:visitor/export',
    {
      schema: {
        tags: consoleTags,
        summary: 'Export everything held about a visitor (admins, the site’s supervisors; session cookie)',
        description: 'One JSON document (an attachment): record, conversations with every entry (internal notes marked), ratings, events, webhook deliveries.',
        params: T.Object({ site: Id, visitor: Id }),
        response: { 200: VisitorExportSchema, 401: Err, 403: Err, 404: Err },
      },
    },
    async (req, reply) => {
      const me = await requireOperator(ctx, req);
      const { site, visitor } = req.params;
      if (!canSeeSite(me, site)) throw new HarkError('NOT_FOUND', 'No such visitor on this site.');
      if (!mayExportVisitor(me, site)) throw new HarkError('FORBIDDEN', 'Only admins and the site’s supervisors may export a visitor’s data.');
      return attachment(reply, await privacy.exportVisitor(site, visitor));
    },
  );

  app.delete(
    '/v1/sites/:site/visitors/:visitor',
    {
      schema: {
        tags: consoleTags,
        summary: 'Erase a visitor and everything naming them (admins; session cookie)',
        description: 'Cannot be undone. Their record, tokens, conversations, entries, ratings, event-log entries and webhook deliveries are deleted; their sockets closed; operators’ numbers stay as anonymous counts.',
        params: T.Object({ site: Id, visitor: Id }),
        response: { 204: T.Null({ description: 'Erased.' }), 401: Err, 403: Err, 404: Err },
      },
    },
    async (req, reply) => {
      const me = await requireOperator(ctx, req);
      const { site, visitor } = req.params;
      if (!canSeeSite(me, site)) throw new HarkError('NOT_FOUND', 'No such visitor on this site.');
      if (!mayEraseVisitor(me, site)) throw new HarkError('FORBIDDEN', 'Only admins may erase a visitor.');
      await privacy.eraseVisitor(site, visitor, me.id);
      return reply.code(204).send(null);
    },
  );

  /** The site of a visitor an API key may see, else 404 (another site's visitor is "missing"). */
  async function keySite(id: string, sites: (site: string) => boolean): Promise<string> {
    const site = await privacy.siteOf(id);
    if (!site || !sites(site)) throw new HarkError('NOT_FOUND', 'No such visitor.');
    return site;
  }

  app.get(
    '/v1/api/visitors/:id/export',
    {
      schema: {
        tags: apiTags,
        security,
        summary: 'Export everything held about a visitor',
        description: 'The same document as the console’s export. Any key whose scope has the visitor’s site.',
        params: T.Object({ id: Id }),
        response: { 200: VisitorExportSchema, 400: Err, 401: Err, 404: Err },
      },
    },
    async (req, reply) => {
      const p = await requireApiKey(ctx, req, 'read');
      const site = await keySite(req.params.id, (s) => canSeeSite(p.actor, s));
      return attachment(reply, await privacy.exportVisitor(site, req.params.id));
    },
  );

  app.delete(
    '/v1/api/visitors/:id',
    {
      schema: {
        tags: apiTags,
        security,
        summary: 'Erase a visitor and everything naming them',
        description: 'Cannot be undone (see the console’s erase). Needs a read-write key whose scope has the visitor’s site.',
        params: T.Object({ id: Id }),
        response: { 204: T.Null({ description: 'Erased.' }), 400: Err, 401: Err, 403: Err, 404: Err },
      },
    },
    async (req, reply) => {
      const p = await requireApiKey(ctx, req, 'write');
      const site = await keySite(req.params.id, (s) => canSeeSite(p.actor, s));
      await privacy.eraseVisitor(site, req.params.id, p.actor.id);
      return reply.code(204).send(null);
    },
  );
};
