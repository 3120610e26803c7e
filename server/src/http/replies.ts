/**
 * Saved replies: per site (shared by its operators; admins and the site's
 * supervisors edit them) and personal (each operator their own).
 */
import { HarkError } from '@hark/shared';
import { Type as T } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../realtime/context';
import { type OperatorRecord, canSeeSite, isSupervisor } from '../store/operators';
import { type ReplyScope, type SavedReply, deleteReply, getReply, listReplies, saveReply } from '../store/replies';
import { listSites } from '../store/sites';
import { requireOperator } from './auth';

/** Saved replies are meant to be short; a long one is a document, not a reply. */
const MAX_REPLY_CHARS = 4000;
const Shortcut = T.String({ minLength: 1, maxLength: 40, pattern: '^[A-Za-z0-9_.-]+$' });
const Text = T.String({ minLength: 1, maxLength: MAX_REPLY_CHARS });
export const ReplyBody = T.Object({ shortcut: Shortcut, text: Text, site: T.Optional(T.String({ maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' })) }, { additionalProperties: false });
export const ReplyPatch = T.Partial(T.Object({ shortcut: Shortcut, text: Text }), { additionalProperties: false });

function mayEditSite(me: OperatorRecord, site: string): boolean {
  return me.role === 'admin' || (isSupervisor(me) && canSeeSite(me, site));
}

/** Finds a reply by id among the ones this operator may see: their own, then their sites'. */
async function findReply(ctx: Ctx, me: OperatorRecord, id: string): Promise<{ scope: ReplyScope; reply: SavedReply } | null> {
  const own: ReplyScope = { owner: me.id };
  const mine = await getReply(ctx.c.cmd, own, id);
  if (mine) return { scope: own, reply: mine };
  for (const s of await listSites(ctx.c.cmd)) {
    if (!canSeeSite(me, s.id)) continue;
    const scope: ReplyScope = { site: s.id };
    const reply = await getReply(ctx.c.cmd, scope, id);
    if (reply) return { scope, reply };
  }
  return null;
}

export function replyRoutes(app: FastifyInstance, ctx: Ctx): void {
  const r = ctx.c.cmd;

  app.get('/v1/replies', async (req) => {
    const me = await requireOperator(ctx, req);
    const out = await listReplies(r, { owner: me.id });
    for (const s of await listSites(r)) if (canSeeSite(me, s.id)) out.push(...(await listReplies(r, { site: s.id })));
    return out;
  });

  app.post('/v1/replies', { schema: { body: ReplyBody } }, async (req, reply) => {
    const me = await requireOperator(ctx, req);
    const body = req.body as { shortcut: string; text: string; site?: string };
    if (body.site && !mayEditSite(me, body.site)) throw new HarkError('FORBIDDEN', "Only admins and the site's supervisors can add site-wide replies; add a personal one instead.");
    if (body.site && !(await listSites(r)).some((s) => s.id === body.site)) throw new HarkError('NOT_FOUND');
    const scope: ReplyScope = body.site ? { site: body.site } : { owner: me.id };
    return reply.code(201).send(await saveReply(r, scope, { shortcut: body.shortcut, text: body.text }));
  });

  app.patch('/v1/replies/:id', { schema: { body: ReplyPatch } }, async (req) => {
    const me = await requireOperator(ctx, req);
    const found = await findReply(ctx, me, (req.params as { id: string }).id);
    if (!found) throw new HarkError('NOT_FOUND');
    if ('site' in found.scope && !mayEditSite(me, found.scope.site)) throw new HarkError('FORBIDDEN');
    const patch = req.body as { shortcut?: string; text?: string };
    return saveReply(r, found.scope, { id: found.reply.id, shortcut: patch.shortcut ?? found.reply.shortcut, text: patch.text ?? found.reply.text });
  });

  app.delete('/v1/replies/:id', async (req) => {
    const me = await requireOperator(ctx, req);
    const found = await findReply(ctx, me, (req.params as { id: string }).id);
    if (!found) throw new HarkError('NOT_FOUND');
    if ('site' in found.scope && !mayEditSite(me, found.scope.site)) throw new HarkError('FORBIDDEN');
    await deleteReply(r, found.scope, found.reply.id);
    return { ok: true };
  });
}
