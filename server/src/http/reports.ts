/**
 * Reports (domain/reports.ts): `GET /v1/reports?site=&from=YYYY-MM-DD&to=YYYY-MM-DD&team=&operator=`
 * as JSON, `GET /v1/reports.csv` with the same query as CSV (streamed, a line per day), and
 * `GET /v1/reports/conversations.csv` the conversations behind it (streamed, a page at a time). Any
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
  /** The conversations behind the report, as CSV, streamed page by page (domain/reports.ts `conversations`). */
  app.get('/v1/reports/conversations.csv', { schema: { querystring: Query } }, async (req, reply) => {
    const q = req.query;
    const list = await reports.conversations(await requireOperator(ctx, req), q);
    const name = `hark-conversations-${q.site}-${list.scope.kind}-${q.from}-${q.to}.csv`.replace(/[^A-Za-z0-9._-]/g, '_');
    reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${name}"`).header('cache-control', 'no-store');
    return reply.send(Readable.from(list.lines()));
  });
};
