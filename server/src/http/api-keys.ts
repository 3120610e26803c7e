/** API keys (admin): create one (its secret shown in that answer only), list them with their last use, revoke one. */
import { HarkError } from '@hark/shared';
import { Type as T } from '@sinclair/typebox';
import type { ApiKey } from '../domain/api-keys';
import { requireAdmin } from './auth';
import type { Routes } from './plugin';

const tags = ['API keys'];
export const ErrorBody = T.Object({ code: T.String({ description: 'Stable error code (shared/src/errors.ts).' }), message: T.String() }, { description: 'Every error answer.' });
const Err = ErrorBody;

export const ApiKeyView = T.Object(
  {
    id: T.String({ description: 'The key id (not the secret).' }),
    name: T.String(),
    site: T.Union([T.String(), T.Null()], { description: 'The one site the key may see; null = every site.' }),
    access: T.Union([T.Literal('read'), T.Literal('write')], { description: '`read`: GET routes only; `write`: every route.' }),
    createdAt: T.Number({ description: 'ms since the epoch' }),
    lastUsedAt: T.Union([T.Number(), T.Null()], { description: 'ms since the epoch, recorded at most once a minute; null = never used.' }),
  },
  { description: 'An API key (never its secret).' },
);

export const ApiKeyBody = T.Object(
  {
    name: T.String({ minLength: 1, maxLength: 100, description: 'What the key is for; also the default name its messages show.' }),
    site: T.Optional(T.Union([T.String({ minLength: 1, maxLength: 64 }), T.Null()], { description: 'Limit the key to one site; omitted or null = every site.' })),
    access: T.Union([T.Literal('read'), T.Literal('write')], { description: 'read-only or read-write' }),
  },
  { additionalProperties: false },
);

export function apiKeyView(k: ApiKey) {
  return { id: k.id, name: k.name, site: k.site || null, access: k.access, createdAt: k.createdAt, lastUsedAt: k.lastUsedAt || null };
}

export const apiKeyRoutes: Routes = async (app, { ctx }) => {
  const { apiKeys, sites } = ctx.domain;
  const Key = ApiKeyView;

  app.post(
    '/v1/api-keys',
    {
      schema: {
        tags,
        summary: 'Create an API key (admin, session cookie)',
        description: 'The secret (`hark_…`) is in this answer only; the gateway keeps its SHA-256.',
        body: ApiKeyBody,
        response: { 201: T.Object({ key: Key, secret: T.String({ description: 'Send as `Authorization: Bearer <secret>`. Shown once.' }) }), 400: Err, 401: Err, 403: Err, 404: Err, 409: Err },
      },
    },
    async (req, reply) => {
      await requireAdmin(ctx, req);
      const site = req.body.site ?? '';
      if (site && !(await sites.get(site))) throw new HarkError('NOT_FOUND', 'No such site.');
      const { key, secret } = await apiKeys.create({ name: req.body.name, site, access: req.body.access });
      return reply.code(201).send({ key: apiKeyView(key), secret });
    },
  );

  app.get('/v1/api-keys', { schema: { tags, summary: 'List API keys (admin)', response: { 200: T.Array(Key), 401: Err, 403: Err } } }, async (req) => {
    await requireAdmin(ctx, req);
    return (await apiKeys.list()).map(apiKeyView);
  });

  app.delete(
    '/v1/api-keys/:id',
    { schema: { tags, summary: 'Revoke an API key (admin)', description: 'Its next request fails with 401, on every gateway.', params: T.Object({ id: T.String({ maxLength: 64 }) }), response: { 200: T.Object({ ok: T.Boolean() }), 401: Err, 403: Err, 404: Err } } },
    async (req) => {
      await requireAdmin(ctx, req);
      if (!(await apiKeys.revoke(req.params.id))) throw new HarkError('NOT_FOUND');
      return { ok: true };
    },
  );
};
