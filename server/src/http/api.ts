/**
 * The public REST API for integrations (`/v1/api/…`): every call authenticates with an API key
 * (`Authorization: Bearer hark_…`, http/auth.ts requireApiKey), is limited to the key's site(s)
 * (a conversation, visitor or operator elsewhere answers 404, as if missing), and changes need
 * a read-write key. Every body, query, path and answer is a TypeBox schema; the OpenAPI document
 * (`GET /v1/openapi.json`) is generated from them. Changes go through the same domain operations
 * as the console's; the key acts as a bot (`op: {id: 'bot:<key id>', name}`).
 */
import { HarkError, MAX_MESSAGE_CHARS, randomId } from '@hark/shared';
import { checkText } from '@hark/shared/parse';
import { ConvSummary, Entry, OperatorPresence, VisitorInfo } from '@hark/shared/protocol';
import { Type as T } from '@sinclair/typebox';
import { botId } from '../domain/api-keys';
import type { ConvMeta } from '../domain/conversations';
import { canSeeSite } from '../domain/policy';
import { visitorInfo } from '../domain/visitors';
import { ErrorBody } from './api-keys';
import { type KeyPrincipal, requireApiKey } from './auth';
import type { Routes } from './plugin';

/** Conversations one list page returns at most (and by default). */
export const API_PAGE_MAX = 100;
export const API_PAGE_DEFAULT = 50;
/** Entries one read of a conversation returns at most (and by default). */
export const API_ENTRIES_MAX = 500;
export const API_ENTRIES_DEFAULT = 100;

const tags = ['API'];
const security = [{ apiKey: [] }];
const Err = ErrorBody;
const Id = T.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_:-]+$' });
const ConvParams = T.Object({ id: T.String({ minLength: 1, maxLength: 64, description: 'Conversation id' }) });
const readErrors = { 400: Err, 401: Err, 404: Err };
const writeErrors = { 400: Err, 401: Err, 403: Err, 404: Err, 409: Err };
const Ok = T.Object({ ok: T.Boolean() });

export const ListQuery = T.Object(
  {
    site: T.Optional(T.String({ maxLength: 64, description: 'Only this site (must be in the key’s scope).' })),
    status: T.Optional(T.Union([T.Literal('queued'), T.Literal('open'), T.Literal('resolved')], { description: 'Omitted: every status (unresolved first, then resolved, per site).' })),
    operator: T.Optional(T.String({ maxLength: 64, description: 'Assigned to (or last handled by) this operator id.' })),
    team: T.Optional(T.String({ maxLength: 64, description: 'Routed to this team id.' })),
    visitor: T.Optional(T.String({ maxLength: 64, description: 'Only this visitor’s conversations.' })),
    from: T.Optional(T.Integer({ minimum: 0, description: 'Created at or after (ms since the epoch).' })),
    to: T.Optional(T.Integer({ minimum: 0, description: 'Created at or before (ms since the epoch).' })),
    cursor: T.Optional(T.String({ maxLength: 512, description: 'The `next` of the previous page.' })),
    limit: T.Optional(T.Integer({ minimum: 1, maximum: API_PAGE_MAX, default: API_PAGE_DEFAULT, description: 'Conversations per page.' })),
  },
  { additionalProperties: false },
);
export const ReadQuery = T.Object(
  {
    before: T.Optional(T.String({ maxLength: 64, pattern: '^\\d+-\\d+$', description: 'Entries before this entry id (a stream id); omitted = the newest.' })),
    limit: T.Optional(T.Integer({ minimum: 1, maximum: API_ENTRIES_MAX, default: API_ENTRIES_DEFAULT })),
  },
  { additionalProperties: false },
);
export const MessageBody = T.Object(
  {
    text: T.String({ minLength: 1, maxLength: MAX_MESSAGE_CHARS, description: 'Plain text, shown as text.' }),
    as: T.Optional(T.Object({ name: T.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false, description: 'The bot’s name shown with the message (default: the key’s name).' })),
    cid: T.Optional(T.String({ pattern: '^[A-Za-z0-9_-]{8,64}$', description: 'Idempotency key: a retry with the same cid stores nothing new and answers the first id.' })),
  },
  { additionalProperties: false },
);
export const AssignBody = T.Object({ operator: Id }, { additionalProperties: false, description: 'The operator to assign the conversation to (waiting or assigned).' });
export const TransferBody = T.Object(
  {
    operator: T.Optional(Id),
    team: T.Optional(T.String({ maxLength: 64, description: 'Route to a team (queued for it if nobody there is free).' })),
    note: T.Optional(T.String({ maxLength: MAX_MESSAGE_CHARS, description: 'An internal note left with the transfer.' })),
  },
  { additionalProperties: false, description: 'Exactly one of operator and team.' },
);
export const ReopenBody = T.Object(
  { operator: T.Optional(Id) },
  { additionalProperties: false, description: 'Who gets it; default: the operator who had it.' },
);

const ConvPage = T.Object({ items: T.Array(ConvSummary), next: T.Union([T.String(), T.Null()], { description: 'Cursor of the next page; null at the end.' }) });
const ConvRead = T.Object({ conv: ConvSummary, entries: T.Array(Entry, { description: 'In stream order, notes included.' }), more: T.Boolean({ description: 'Older entries exist: ask again with `before` = the first id.' }) });
const VisitorRead = T.Object({ visitor: VisitorInfo, site: T.String(), conversations: T.Array(T.String(), { description: 'Their conversation ids, newest first (at most 100).' }) });

export const apiRoutes: Routes = async (app, { ctx }) => {
  const { conversations: convs, operators, visitors } = ctx.domain;

  /** A conversation the key may see, else 404 (a conversation of another site is "missing"). */
  async function conv(id: string, p: KeyPrincipal): Promise<ConvMeta> {
    const m = await convs.meta(id);
    if (!m || !canSeeSite(p.actor, m.site)) throw new HarkError('CONVERSATION_NOT_FOUND');
    return m;
  }
  async function target(m: ConvMeta, id: string) {
    const op = await operators.get(id);
    if (!op?.active || !canSeeSite(op, m.site)) throw new HarkError('NOT_FOUND', 'No such operator on this site.');
    return op;
  }

  app.get(
    '/v1/api/conversations',
    { schema: { tags, security, summary: 'List conversations', description: 'Newest first per source (each site’s unresolved ones by creation, then its resolved ones by resolution; or one visitor’s), paged with a stable cursor.', querystring: ListQuery, response: { 200: ConvPage, ...readErrors } } },
    async (req) => {
      const p = await requireApiKey(ctx, req, 'read');
      const q = req.query;
      if (q.site && !canSeeSite(p.actor, q.site)) return { items: [], next: null };
      return convs.page({ ...q, sites: p.actor.sites, limit: q.limit ?? API_PAGE_DEFAULT });
    },
  );

  app.get(
    '/v1/api/conversations/:id',
    { schema: { tags, security, summary: 'Read a conversation and its entries', params: ConvParams, querystring: ReadQuery, response: { 200: ConvRead, ...readErrors } } },
    async (req) => {
      const p = await requireApiKey(ctx, req, 'read');
      const m = await conv(req.params.id, p);
      const { entries, more } = await convs.entriesBefore(m.id, req.query.before ?? '', req.query.limit ?? API_ENTRIES_DEFAULT);
      return { conv: await convs.summary(m), entries, more };
    },
  );

  app.post(
    '/v1/api/conversations/:id/messages',
    {
      schema: {
        tags,
        security,
        summary: 'Post a message as a bot',
        description: 'Shown to the visitor and operators like an operator’s message, with `op: {id: "bot:<key id>", name}`. Does not take the conversation, count as its first response or stop its unanswered timer.',
        params: ConvParams,
        body: MessageBody,
        response: { 201: T.Object({ id: T.String({ description: 'The entry id (stream id).' }), stored: T.Boolean({ description: 'false: a retry of a cid already stored.' }) }), ...writeErrors, 413: Err },
      },
    },
    async (req, reply) => {
      const p = await requireApiKey(ctx, req, 'write');
      const m = await conv(req.params.id, p);
      const text = checkText(req.body.text);
      const r = await convs.postBotMessage({ id: botId(p.key), name: req.body.as?.name ?? p.key.name }, m, req.body.cid ?? `api-${randomId(20)}`, text);
      return reply.code(201).send({ id: r.id, stored: r.stored });
    },
  );

  app.post(
    '/v1/api/conversations/:id/assign',
    { schema: { tags, security, summary: 'Assign to an operator', description: 'A waiting or assigned conversation goes to this operator (they must serve its site).', params: ConvParams, body: AssignBody, response: { 200: Ok, ...writeErrors } } },
    async (req) => {
      const p = await requireApiKey(ctx, req, 'write');
      const m = await conv(req.params.id, p);
      await convs.transfer(p.actor, m, { op: await target(m, req.body.operator) });
      return { ok: true };
    },
  );

  app.post(
    '/v1/api/conversations/:id/transfer',
    { schema: { tags, security, summary: 'Transfer to an operator or a team', params: ConvParams, body: TransferBody, response: { 200: Ok, ...writeErrors } } },
    async (req) => {
      const p = await requireApiKey(ctx, req, 'write');
      const m = await conv(req.params.id, p);
      const { operator, team, note } = req.body;
      if ((operator === undefined) === (team === undefined)) throw new HarkError('BAD_REQUEST', 'Name exactly one of operator and team.');
      const to = operator !== undefined ? { op: await target(m, operator) } : { team: team ?? '' };
      await convs.transfer(p.actor, m, to, note);
      return { ok: true };
    },
  );

  app.post(
    '/v1/api/conversations/:id/resolve',
    { schema: { tags, security, summary: 'Resolve', description: 'Does nothing if resolved already.', params: ConvParams, response: { 200: Ok, ...writeErrors } } },
    async (req) => {
      const p = await requireApiKey(ctx, req, 'write');
      await convs.resolveBy(p.actor, await conv(req.params.id, p));
      return { ok: true };
    },
  );

  app.post(
    '/v1/api/conversations/:id/reopen',
    { schema: { tags, security, summary: 'Reopen a resolved conversation', description: 'Assigned to `operator`, by default to the operator who had it; does nothing if it is not resolved.', params: ConvParams, body: ReopenBody, response: { 200: Ok, ...writeErrors } },
      // The body is optional: none reads as `{}`.
      preValidation: async (req) => {
        req.body ??= {};
      },
    },
    async (req) => {
      const p = await requireApiKey(ctx, req, 'write');
      const m = await conv(req.params.id, p);
      const to = req.body.operator ?? m.op;
      if (!to) throw new HarkError('CONFLICT', 'Nobody had this conversation; name an operator.');
      if (m.status === 'resolved') await target(m, to);
      await convs.reopen(p.actor, m, to);
      return { ok: true };
    },
  );

  app.get(
    '/v1/api/visitors/:id',
    { schema: { tags, security, summary: 'Read a visitor', params: T.Object({ id: T.String({ minLength: 1, maxLength: 64 }) }), response: { 200: VisitorRead, ...readErrors } } },
    async (req) => {
      const p = await requireApiKey(ctx, req, 'read');
      const v = await visitors.get(req.params.id);
      if (!v || !canSeeSite(p.actor, v.site)) throw new HarkError('NOT_FOUND');
      return { visitor: visitorInfo(v), site: v.site, conversations: await convs.visitorConvs(v.id, 100) };
    },
  );

  app.get(
    '/v1/api/operators',
    { schema: { tags, security, summary: 'List operators and their status', description: 'Active operators of the key’s sites: status, open chats (summed over those sites) and capacity.', response: { 200: T.Array(OperatorPresence), 401: Err } } },
    async (req) => {
      const p = await requireApiKey(ctx, req, 'read');
      return (await operators.presenceFor(p.actor)).filter((o) => o.id !== p.actor.id);
    },
  );
};
