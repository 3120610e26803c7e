/**
 * Reports (domain/reports.ts): `GET /v1/reports?site=&from=YYYY-MM-DD&to=YYYY-MM-DD&team=&operator=`
 * as JSON, and `GET /v1/reports.csv` with the same query as CSV (streamed, a line per day). Any
 * operator; an operator gets their own numbers (with their teams' medians), supervisors and admins
 * any scope they oversee.
 */
import { Readable } from 'node:stream';
import { Type as T } from '@sinclair/typebox';
import { reportCsv } from '../domain/reports';
import { requireOperator } from './auth';
import type { Routes } from './plugin';

const Query = T.Object({
  site: T.String({ minLength: 1, maxLength: 64 }),
  from: T.String({ maxLength: 10 }),
  to: T.String({ maxLength: 10 }),
  team: T.Optional(T.String({ maxLength: 64 })),
  operator: T.Optional(T.String({ maxLength: 64 })),
});

export const reportRoutes: Routes = async (app, { ctx }) => {
  const { reports } = ctx.domain;
  app.get('/v1/reports', { schema: { querystring: Query } }, async (req) => reports.report(await requireOperator(ctx, req), req.query));
  app.get('/v1/reports.csv', { schema: { querystring: Query } }, async (req, reply) => {
    const rep = await reports.report(await requireOperator(ctx, req), req.query);
    const name = `hark-report-${rep.site}-${rep.scope.kind}-${rep.from}-${rep.to}.csv`.replace(/[^A-Za-z0-9._-]/g, '_');
    reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${name}"`).header('cache-control', 'no-store');
    return reply.send(Readable.from(reportCsv(rep)));
  });
};
