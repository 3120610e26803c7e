/**
 * Saved replies: per site (shared by its operators; admins and the site's
 * supervisors edit them) and personal (each operator their own).
 */
import { Type as T } from '@sinclair/typebox';
import { requireOperator } from './auth';
import type { Routes } from './plugin';

/** Saved replies are meant to be short; a long one is a document, not a reply. */
const MAX_REPLY_CHARS = 4000;
const Shortcut = T.String({ minLength: 1, maxLength: 40, pattern: '^[A-Za-z0-9_.-]+$' });
const Text = T.String({ minLength: 1, maxLength: MAX_REPLY_CHARS });
export const ReplyBody = T.Object({ shortcut: Shortcut, text: Text, site: T.Optional(T.String({ maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' })) }, { additionalProperties: false });
export const ReplyPatch = T.Partial(T.Object({ shortcut: Shortcut, text: Text }), { additionalProperties: false });
const Params = T.Object({ id: T.String({ maxLength: 64 }) });

export const replyRoutes: Routes = async (app, { ctx }) => {
  const { replies } = ctx.domain;

  app.get('/v1/replies', async (req) => replies.listFor(await requireOperator(ctx, req)));

  app.post('/v1/replies', { schema: { body: ReplyBody } }, async (req, reply) => {
    const me = await requireOperator(ctx, req);
    return reply.code(201).send(await replies.create(me, req.body));
  });

  app.patch('/v1/replies/:id', { schema: { body: ReplyPatch, params: Params } }, async (req) => {
    return replies.update(await requireOperator(ctx, req), req.params.id, req.body);
  });

  app.delete('/v1/replies/:id', { schema: { params: Params } }, async (req) => {
    await replies.delete(await requireOperator(ctx, req), req.params.id);
    return { ok: true };
  });
};
