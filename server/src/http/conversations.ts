/** Conversations over REST: the console's lists and one conversation with its messages; a visitor's own history. */
import { type Entry, HarkError, toVisitorEntry } from '@hark/shared';
import { Type as T } from '@sinclair/typebox';
import { canRead, visitorOwns } from '../domain/policy';
import { requireOperator } from './auth';
import type { Routes } from './plugin';

const LIST_LIMIT = 200;
/** Entries one REST read of a conversation returns (its latest). */
const READ_LIMIT = 5000;

const Id = T.String({ minLength: 1, maxLength: 64 });
const ListQuery = T.Object({
  status: T.Optional(T.String({ maxLength: 16 })),
  q: T.Optional(T.String({ maxLength: 200 })),
  site: T.Optional(T.String({ maxLength: 64 })),
  visitor: T.Optional(T.String({ maxLength: 64 })),
});

export const conversationRoutes: Routes = async (app, { ctx }) => {
  const { conversations: convs, sites, visitors } = ctx.domain;

  app.get('/v1/conversations', { schema: { querystring: ListQuery } }, async (req) => {
    const me = await requireOperator(ctx, req);
    return convs.listFor(me, req.query, (await sites.list()).map((s) => s.id), LIST_LIMIT);
  });

  app.get('/v1/conversations/:id', { schema: { params: T.Object({ id: Id }) } }, async (req) => {
    const me = await requireOperator(ctx, req);
    const m = await convs.meta(req.params.id);
    if (!m || !canRead(me, m)) throw new HarkError('CONVERSATION_NOT_FOUND');
    const { entries } = await convs.entriesBefore(m.id, '', READ_LIMIT);
    return { conv: await convs.summary(m), entries };
  });

  /** A visitor's own history over REST: the same rule and the same visitor filter as the socket. */
  app.get('/v1/visitor/conversations/:id', { schema: { params: T.Object({ id: Id }), querystring: T.Object({ site: T.Optional(T.String({ maxLength: 64 })) }) } }, async (req) => {
    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Visitor ') ? auth.slice(8).trim() : '';
    const site = req.query.site ?? '';
    if (!token) throw new HarkError('VISITOR_TOKEN_MISSING');
    if (!(await sites.get(site))) throw new HarkError('UNKNOWN_SITE');
    const visitor = await visitors.forToken(site, token, false);
    if (!visitor) throw new HarkError('VISITOR_TOKEN_INVALID');
    const m = await convs.meta(req.params.id);
    if (!m || !visitorOwns({ id: visitor, site }, m)) throw new HarkError('CONVERSATION_NOT_FOUND');
    const { entries } = await convs.entriesBefore(m.id, '', READ_LIMIT);
    return { entries: entries.map(toVisitorEntry).filter((e): e is Entry => e !== null) };
  });
};
