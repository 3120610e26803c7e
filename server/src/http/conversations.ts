import { type ConvSummary, type Entry, HarkError, toVisitorEntry } from '@hark/shared';
import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../realtime/context';
import { canRead } from '../realtime/operator-socket';
import { getMeta, readEntriesBefore, summary } from '../store/conversations';
import { K } from '../store/keys';
import { isSupervisor } from '../store/operators';
import { getSite, listSites } from '../store/sites';
import { visitorForToken } from '../store/visitors';
import { requireOperator } from './auth';

const LIST_LIMIT = 200;

export function conversationRoutes(app: FastifyInstance, ctx: Ctx): void {
  const r = ctx.c.cmd;

  app.get('/v1/conversations', async (req) => {
    const me = await requireOperator(ctx, req);
    const q = req.query as { status?: string; q?: string; site?: string; visitor?: string };
    const sites = (await listSites(r)).map((s) => s.id).filter((s) => (me.role === 'admin' || me.sites.includes(s)) && (!q.site || q.site === s));
    const ids: string[] = [];
    for (const s of sites) {
      if (q.visitor) continue;
      if (q.status === 'resolved') ids.push(...(await r.zrevrange(K.siteResolved(s), 0, 999)));
      else ids.push(...(await r.zrange(K.siteOpen(s), 0, -1)));
    }
    if (q.visitor) {
      const vsite = await r.hget(K.visitor(q.visitor), 'site');
      if (vsite && sites.includes(vsite)) ids.push(...(await r.zrevrange(K.visitorConvs(q.visitor), 0, 99)));
    }
    const needle = (q.q ?? '').trim().toLowerCase();
    const out: ConvSummary[] = [];
    for (const id of ids) {
      const m = await getMeta(r, id);
      if (!m || !canRead(me, m)) continue;
      if (!isSupervisor(me) && m.status === 'resolved' && m.op !== me.id) continue;
      const s = await summary(r, m);
      if (q.status && q.status !== 'resolved' && s.status !== q.status) continue;
      if (needle && !`${s.visitor.name ?? ''} ${s.visitor.email ?? ''}`.toLowerCase().includes(needle)) continue;
      out.push(s);
      if (out.length >= LIST_LIMIT) break;
    }
    return out;
  });

  app.get('/v1/conversations/:id', async (req) => {
    const me = await requireOperator(ctx, req);
    const m = await getMeta(r, (req.params as { id: string }).id);
    if (!m || !canRead(me, m)) throw new HarkError('CONVERSATION_NOT_FOUND');
    const { entries } = await readEntriesBefore(r, m.id, '', 5000);
    return { conv: await summary(r, m), entries };
  });

  /** A visitor's own history over REST: the same rule and the same visitor filter as the socket. */
  app.get('/v1/visitor/conversations/:id', async (req) => {
    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Visitor ') ? auth.slice(8).trim() : '';
    const site = (req.query as { site?: string }).site ?? '';
    if (!token) throw new HarkError('VISITOR_TOKEN_MISSING');
    if (!(await getSite(r, site))) throw new HarkError('UNKNOWN_SITE');
    const visitor = await visitorForToken(r, site, token, false);
    if (!visitor) throw new HarkError('VISITOR_TOKEN_INVALID');
    const m = await getMeta(r, (req.params as { id: string }).id);
    if (!m || m.visitor !== visitor || m.site !== site) throw new HarkError('CONVERSATION_NOT_FOUND');
    const { entries } = await readEntriesBefore(r, m.id, '', 5000);
    return { entries: entries.map(toVisitorEntry).filter((e): e is Entry => e !== null) };
  });
}
