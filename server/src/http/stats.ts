/**
 * "My numbers": today and the last 7 days, kept by the operator-stats consumer
 * of the event log (domain/consumers.ts). Supervisors and admins may ask for
 * everyone they oversee with `?operator=all` (admins: all operators; supervisors:
 * operators sharing a site with them) or for one `?operator=ID`.
 */
import { HarkError } from '@hark/shared';
import { Type as T } from '@sinclair/typebox';
import type { Operator } from '../domain/operators';
import { isSupervisor, oversees } from '../domain/policy';
import { requireOperator } from './auth';
import type { Routes } from './plugin';

export const statsRoutes: Routes = async (app, { ctx }) => {
  const { operators, stats } = ctx.domain;

  app.get('/v1/stats', { schema: { querystring: T.Object({ operator: T.Optional(T.String({ maxLength: 64 })) }) } }, async (req) => {
    const me = await requireOperator(ctx, req);
    const want = req.query.operator;
    let who: Pick<Operator, 'id' | 'name'>[] = [me];
    if (want && want !== me.id) {
      if (!isSupervisor(me)) throw new HarkError('FORBIDDEN', 'Only supervisors and admins see other operators’ numbers.');
      const overseen = (await operators.list()).filter((o) => oversees(me, o));
      who = want === 'all' ? overseen : overseen.filter((o) => o.id === want);
      if (who.length === 0) throw new HarkError('NOT_FOUND');
    }
    const now = Date.now();
    return Promise.all(who.map(async (o) => ({ operator: { id: o.id, name: o.name }, ...(await stats.numbers(o.id, now)) })));
  });
};
