/**
 * Search (domain/search.ts): `GET /v1/search?q=…&site=&status=&operator=&team=&rating=&from=&to=&limit=`
 * and the same as a JSON body to `POST /v1/search` (for long queries: a URL is cut at Node's header
 * limit). Any operator; each sees only the conversations policy.ts lets them list.
 */
import { Type as T } from '@sinclair/typebox';
import { requireOperator } from './auth';
import type { Routes } from './plugin';

/** The schema's own bound (beyond it: BAD_REQUEST); the domain refuses past SEARCH_MAX_QUERY_CHARS with its code. */
const SCHEMA_MAX_Q = 40_000;

const Query = T.Object({
  q: T.Optional(T.String({ maxLength: SCHEMA_MAX_Q })),
  site: T.Optional(T.String({ maxLength: 64 })),
  status: T.Optional(T.Union([T.Literal('queued'), T.Literal('open'), T.Literal('resolved')])),
  operator: T.Optional(T.String({ maxLength: 64 })),
  team: T.Optional(T.String({ maxLength: 64 })),
  rating: T.Optional(T.Union([T.Literal('good'), T.Literal('bad')])),
  from: T.Optional(T.Integer({ minimum: 0, maximum: 8.64e15 })),
  to: T.Optional(T.Integer({ minimum: 0, maximum: 8.64e15 })),
  limit: T.Optional(T.Integer({ minimum: 1, maximum: 50 })),
});

export const searchRoutes: Routes = async (app, { ctx }) => {
  const { search } = ctx.domain;
  app.get('/v1/search', { schema: { querystring: Query } }, async (req) => search.search(await requireOperator(ctx, req), req.query));
  app.post('/v1/search', { schema: { body: Query } }, async (req) => search.search(await requireOperator(ctx, req), req.body));
  /** Saved replies that fit the visitor's latest message (domain/search.ts rankReplies). */
  app.get('/v1/conversations/:id/suggestions', { schema: { params: T.Object({ id: T.String({ minLength: 1, maxLength: 64 }) }) } }, async (req) =>
    search.suggest(await requireOperator(ctx, req), req.params.id),
  );
};
