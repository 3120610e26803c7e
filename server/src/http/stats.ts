/**
 * "My numbers": today and the last 7 days, read from the per-operator counters
 * that store/stats.ts keeps as events happen. Supervisors and admins may ask
 * for everyone they oversee with `?operator=all` (admins: all operators;
 * supervisors: operators sharing a site with them) or for one `?operator=ID`.
 */
import { HarkError } from '@hark/shared';
import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../realtime/context';
import { type Operator, isSupervisor, listOperators } from '../store/operators';
import { operatorNumbers } from '../store/stats';
import { requireOperator } from './auth';

export function statsRoutes(app: FastifyInstance, ctx: Ctx): void {
  const r = ctx.c.cmd;
  // The numbers are only as good as the events recorded: unless the app was built with its own
  // hooks (tests), install the Redis recorder the gateway calls on first response, resolve and rating.

  app.get('/v1/stats', async (req) => {
    const me = await requireOperator(ctx, req);
    const want = (req.query as { operator?: string }).operator;
    let who: Pick<Operator, 'id' | 'name'>[] = [me];
    if (want && want !== me.id) {
      if (!isSupervisor(me)) throw new HarkError('FORBIDDEN', 'Only supervisors and admins see other operators’ numbers.');
      const overseen = (await listOperators(r)).filter((o) => me.role === 'admin' || o.id === me.id || o.sites.some((s) => me.sites.includes(s)));
      who = want === 'all' ? overseen : overseen.filter((o) => o.id === want);
      if (who.length === 0) throw new HarkError('NOT_FOUND');
    }
    const now = Date.now();
    return Promise.all(who.map(async (o) => ({ operator: { id: o.id, name: o.name }, ...(await operatorNumbers(r, o.id, now)) })));
  });
}
