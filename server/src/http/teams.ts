/** Teams (departments): admins manage them; every operator can list them (transfer, filters). */
import { Type as T } from '@sinclair/typebox';
import { requireAdmin, requireOperator } from './auth';
import type { Routes } from './plugin';

const Ids = T.Array(T.String({ maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }), { maxItems: 100 });
export const TeamBody = T.Object({ name: T.String({ minLength: 1, maxLength: 100 }), sites: T.Optional(Ids) }, { additionalProperties: false });
export const TeamPatch = T.Partial(TeamBody, { additionalProperties: false });
const Params = T.Object({ id: T.String({ maxLength: 64 }) });

export const teamRoutes: Routes = async (app, { ctx }) => {
  const { teams } = ctx.domain;

  app.get('/v1/teams', async (req) => teams.listFor(await requireOperator(ctx, req)));

  app.post('/v1/teams', { schema: { body: TeamBody } }, async (req, reply) => {
    await requireAdmin(ctx, req);
    return reply.code(201).send(await teams.create(req.body));
  });

  app.patch('/v1/teams/:id', { schema: { body: TeamPatch, params: Params } }, async (req) => {
    await requireAdmin(ctx, req);
    return teams.update(req.params.id, req.body);
  });

  app.delete('/v1/teams/:id', { schema: { params: Params } }, async (req) => {
    await requireAdmin(ctx, req);
    await teams.delete(req.params.id);
    return { ok: true };
  });
};
