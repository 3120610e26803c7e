/**
 * Webhooks of a site (domain/webhooks.ts): admins create, list, read, change and delete
 * endpoints, rotate their secret, send a test event, read the delivery log and send a
 * delivery again. The secret is in the answers of create and rotate only.
 */
import { Type as T } from '@sinclair/typebox';
import { requireAdmin } from './auth';
import type { Routes } from './plugin';

const Id = T.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });
const Events = T.Union([T.Literal('all'), T.Array(T.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 32 })]);
export const WebhookBody = T.Object(
  {
    url: T.String({ minLength: 1, maxLength: 2048 }),
    events: T.Optional(Events),
    description: T.Optional(T.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
export const WebhookPatch = T.Object(
  {
    url: T.Optional(T.String({ minLength: 1, maxLength: 2048 })),
    events: T.Optional(Events),
    description: T.Optional(T.String({ maxLength: 500 })),
    enabled: T.Optional(T.Boolean()),
  },
  { additionalProperties: false },
);
const SiteParams = T.Object({ site: Id });
const HookParams = T.Object({ site: Id, id: Id });
const DeliveryParams = T.Object({ site: Id, id: Id, delivery: Id });
const DeliveriesQuery = T.Object({ limit: T.Optional(T.Integer({ minimum: 1, maximum: 1000 })) });

export const webhookRoutes: Routes = async (app, { ctx }) => {
  const { webhooks } = ctx.domain;
  const base = '/v1/sites/:site/webhooks';

  app.get(base, { schema: { params: SiteParams } }, async (req) => {
    await requireAdmin(ctx, req);
    return webhooks.list(req.params.site);
  });

  app.post(base, { schema: { params: SiteParams, body: WebhookBody } }, async (req, reply) => {
    await requireAdmin(ctx, req);
    return reply.code(201).send(await webhooks.create(req.params.site, req.body));
  });

  app.get(`${base}/:id`, { schema: { params: HookParams } }, async (req) => {
    await requireAdmin(ctx, req);
    return webhooks.get(req.params.site, req.params.id);
  });

  app.patch(`${base}/:id`, { schema: { params: HookParams, body: WebhookPatch } }, async (req) => {
    await requireAdmin(ctx, req);
    return webhooks.update(req.params.site, req.params.id, req.body);
  });

  app.delete(`${base}/:id`, { schema: { params: HookParams } }, async (req) => {
    await requireAdmin(ctx, req);
    await webhooks.delete(req.params.site, req.params.id);
    return { ok: true };
  });

  app.post(`${base}/:id/rotate`, { schema: { params: HookParams } }, async (req) => {
    await requireAdmin(ctx, req);
    return webhooks.rotate(req.params.site, req.params.id);
  });

  app.post(`${base}/:id/test`, { schema: { params: HookParams } }, async (req, reply) => {
    await requireAdmin(ctx, req);
    return reply.code(202).send(await webhooks.sendTest(req.params.site, req.params.id));
  });

  app.get(`${base}/:id/deliveries`, { schema: { params: HookParams, querystring: DeliveriesQuery } }, async (req) => {
    await requireAdmin(ctx, req);
    return { deliveries: await webhooks.deliveries(req.params.site, req.params.id, req.query.limit ?? 100) };
  });

  app.post(`${base}/:id/deliveries/:delivery/retry`, { schema: { params: DeliveryParams } }, async (req, reply) => {
    await requireAdmin(ctx, req);
    return reply.code(202).send(await webhooks.retry(req.params.site, req.params.id, req.params.delivery));
  });
};
