/** Teams (departments): admins manage them; every operator can list them (transfer, filters). */
import { HarkError } from '@hark/shared';
import { Type as T } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../realtime/context';
import type { Gateway } from '../realtime/gateway';
import { canSeeSite, listOperators, updateOperator } from '../store/operators';
import { listSites, saveSite } from '../store/sites';
import { createTeam, deleteTeam, getTeam, listTeams, updateTeam } from '../store/teams';
import { requireAdmin, requireOperator } from './auth';

const Ids = T.Array(T.String({ maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }), { maxItems: 100 });
export const TeamBody = T.Object({ name: T.String({ minLength: 1, maxLength: 100 }), sites: T.Optional(Ids) }, { additionalProperties: false });
export const TeamPatch = T.Partial(TeamBody, { additionalProperties: false });

export function teamRoutes(app: FastifyInstance, ctx: Ctx, gw: Gateway): void {
  const r = ctx.c.cmd;

  app.get('/v1/teams', async (req) => {
    const me = await requireOperator(ctx, req);
    const teams = await listTeams(r);
    return teams.filter((t) => t.sites.length === 0 || t.sites.some((s) => canSeeSite(me, s)));
  });

  app.post('/v1/teams', { schema: { body: TeamBody } }, async (req, reply) => {
    await requireAdmin(ctx, req);
    return reply.code(201).send(await createTeam(r, req.body as { name: string; sites?: string[] }));
  });

  app.patch('/v1/teams/:id', { schema: { body: TeamPatch } }, async (req) => {
    await requireAdmin(ctx, req);
    return updateTeam(r, (req.params as { id: string }).id, req.body as { name?: string; sites?: string[] });
  });

  /** Deleting a team takes it off its operators (and their routing) and off sites that sent chats to it. */
  app.delete('/v1/teams/:id', async (req) => {
    await requireAdmin(ctx, req);
    const { id } = req.params as { id: string };
    if (!(await getTeam(r, id))) throw new HarkError('NOT_FOUND');
    for (const op of await listOperators(r)) {
      if (!op.teams.includes(id)) continue;
      await updateOperator(r, op.id, { teams: op.teams.filter((t) => t !== id) });
      await gw.refreshOperator(op.id);
    }
    for (const s of await listSites(r)) if (s.team === id) await saveSite(r, s.id, { team: '' });
    await deleteTeam(r, id);
    return { ok: true };
  });
}
