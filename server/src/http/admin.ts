/** Operators and sites (admin). Teams, saved replies and stats live in their own files. */
import { HarkError, KNOWN_FILE_TYPES, MAX_BODY_BYTES, MAX_FILE_BYTES, MAX_MESSAGE_CHARS, MAX_SITE_MSGS_PER_SEC, MAX_VISITOR_EMAIL, randomId } from '@hark/shared';
import { MAIL_ADDRESS_PATTERN, MAIL_MAX_NOTIFY_ADDRESSES } from '../domain/mail';
import { Type as T } from '@sinclair/typebox';
import { publicOperator } from '../domain/operators';
import { canSeeSite } from '../domain/policy';
import type { Site } from '../domain/sites';
import { requireAdmin, requireOperator } from './auth';
import type { Routes } from './plugin';

const Role = T.Union([T.Literal('admin'), T.Literal('supervisor'), T.Literal('operator')]);
const Ids = T.Array(T.String({ maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }), { maxItems: 100 });
/** '' (none), the path the record has, or an upload as a `data:image/…;base64,` URL (checked in domain/operators.ts). */
const Avatar = T.String({ maxLength: MAX_BODY_BYTES });
export const OperatorBody = T.Object(
  {
    email: T.String({ maxLength: 320, pattern: '^[^\\s@]+@[^\\s@]+$' }),
    name: T.String({ minLength: 1, maxLength: 100 }),
    password: T.String({ minLength: 10, maxLength: 1024 }),
    role: T.Optional(Role),
    capacity: T.Optional(T.Integer({ minimum: 0, maximum: 100 })),
    sites: T.Optional(Ids),
    teams: T.Optional(Ids),
    avatar: T.Optional(Avatar),
  },
  { additionalProperties: false },
);
export const OperatorPatch = T.Partial(T.Object({ ...OperatorBody.properties, active: T.Boolean() }), { additionalProperties: false });

const Hours = T.Union([
  T.Null(),
  T.Object({ tz: T.String({ maxLength: 64 }), days: T.Record(T.String({ pattern: '^[0-6]$' }), T.Array(T.Tuple([T.String({ pattern: '^\\d\\d:\\d\\d$' }), T.String({ pattern: '^\\d\\d:\\d\\d$' })]), { maxItems: 8 })) }),
]);
const SiteFields = {
  name: T.String({ minLength: 1, maxLength: 100 }),
  origins: T.Array(T.String({ maxLength: 300 }), { maxItems: 50 }),
  color: T.String({ pattern: '^#[0-9a-fA-F]{6}$' }),
  position: T.Union([T.Literal('right'), T.Literal('left')]),
  label: T.String({ maxLength: 60 }),
  greeting: T.String({ maxLength: MAX_MESSAGE_CHARS }),
  /** Per language code (en, hr-HR…); an empty one is dropped (that language shows `greeting`). */
  // propertyNames, not a pattern key: the validator drops keys that match no pattern, and a bad code must be refused, not ignored.
  greetings: T.Record(T.String(), T.String({ maxLength: MAX_MESSAGE_CHARS }), { propertyNames: { pattern: '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$', maxLength: 10 }, maxProperties: 20 }),
  locales: T.Array(T.String({ maxLength: 10 }), { maxItems: 20 }),
  hours: Hours,
  prechat: T.Boolean(),
  offlineForm: T.Boolean(),
  unansweredMs: T.Integer({ minimum: 1000, maximum: 24 * 3600_000 }),
  team: T.String({ maxLength: 64 }),
  typingPreview: T.Boolean(),
  requeueOnOffline: T.Boolean(),
  msgsPerSec: T.Integer({ minimum: 1, maximum: MAX_SITE_MSGS_PER_SEC }),
  attachments: T.Boolean(),
  fileMaxBytes: T.Integer({ minimum: 1, maximum: MAX_FILE_BYTES }),
  fileTypes: T.Array(T.Union(KNOWN_FILE_TYPES.map((t) => T.Literal(t))), { maxItems: KNOWN_FILE_TYPES.length, uniqueItems: true }),
  notifyEmails: T.Array(T.String({ pattern: MAIL_ADDRESS_PATTERN, maxLength: MAX_VISITOR_EMAIL }), { maxItems: MAIL_MAX_NOTIFY_ADDRESSES }),
  mailLang: T.Union([T.Literal('en'), T.Literal('hr'), T.Literal('ru')]),
};
export const SitePatch = T.Partial(T.Object(SiteFields), { additionalProperties: false });
// One closed object (an Intersect let unknown keys through into the site's hash, `secret` and `createdAt` included).
export const SiteCreate = T.Object(
  { ...T.Partial(T.Object(SiteFields)).properties, name: SiteFields.name, id: T.Optional(T.String({ pattern: '^[A-Za-z0-9_-]{3,40}$' })) },
  { additionalProperties: false },
);

/** A site as the console sees it: the secret is never sent back, only whether one is set. */
export function siteView(s: Site) {
  const { secret, ...rest } = s;
  return { ...rest, identitySecretSet: secret !== '' };
}

const Params = T.Object({ id: T.String({ maxLength: 64 }) });

export const adminRoutes: Routes = async (app, { ctx }) => {
  const { operators, sites } = ctx.domain;

  app.get('/v1/operators', async (req) => {
    const me = await requireOperator(ctx, req);
    const all = await operators.list();
    if (me.role === 'admin') return all;
    // Colleagues on shared sites, without e-mail unless supervisor.
    return all
      .filter((o) => o.sites.some((s) => me.sites.includes(s)) || o.id === me.id)
      .map((o) => (me.role === 'supervisor' || o.id === me.id ? o : { ...o, email: '' }));
  });

  app.post('/v1/operators', { schema: { body: OperatorBody } }, async (req, reply) => {
    await requireAdmin(ctx, req);
    return reply.code(201).send(await operators.create(req.body));
  });

  app.patch('/v1/operators/:id', { schema: { body: OperatorPatch, params: Params } }, async (req) => {
    const me = await requireOperator(ctx, req);
    const { id } = req.params;
    const body = req.body;
    // Operators may edit their own name and avatar; everything else is the admin's.
    const selfAllowed = Object.keys(body).every((k) => k === 'name' || k === 'avatar');
    if (me.role !== 'admin' && !(me.id === id && selfAllowed)) throw new HarkError('FORBIDDEN');
    return operators.update(id, body);
  });

  /** Deletes an operator (see Operators.remove: signed out, chats back to the queue, account gone). */
  app.delete('/v1/operators/:id', { schema: { params: Params } }, async (req) => {
    const me = await requireAdmin(ctx, req);
    await operators.remove(me, req.params.id);
    return { ok: true };
  });

  app.get('/v1/operators/:id', { schema: { params: Params } }, async (req) => {
    const me = await requireOperator(ctx, req);
    const op = await operators.get(req.params.id);
    if (!op || (me.role !== 'admin' && op.id !== me.id && !op.sites.some((s) => me.sites.includes(s)))) throw new HarkError('NOT_FOUND');
    return publicOperator(op);
  });

  app.get('/v1/sites', async (req) => {
    const me = await requireOperator(ctx, req);
    return (await sites.list()).filter((s) => canSeeSite(me, s.id)).map(siteView);
  });

  app.get('/v1/sites/:id', { schema: { params: Params } }, async (req) => {
    const me = await requireOperator(ctx, req);
    const s = await sites.get(req.params.id);
    if (!s || !canSeeSite(me, s.id)) throw new HarkError('NOT_FOUND');
    return siteView(s);
  });

  app.post('/v1/sites', { schema: { body: SiteCreate } }, async (req, reply) => {
    const me = await requireAdmin(ctx, req);
    const { id, name, ...rest } = req.body;
    const siteId = id ?? randomId(12);
    if (await sites.exists(siteId)) throw new HarkError('CONFLICT', 'A site with this id exists.');
    const site = await sites.create(siteId, name, rest as Partial<Site>);
    // The admin who made it serves it from now on: listed among its operators, and their open
    // consoles reconnect (RIGHTS_CHANGED) to follow its chats at once.
    if (!me.sites.includes(siteId)) await operators.update(me.id, { sites: [...me.sites, siteId] });
    return reply.code(201).send(siteView(site));
  });

  app.patch('/v1/sites/:id', { schema: { body: SitePatch, params: Params } }, async (req) => {
    await requireAdmin(ctx, req);
    if (!(await sites.get(req.params.id))) throw new HarkError('NOT_FOUND');
    return siteView(await sites.save(req.params.id, req.body as Partial<Site>));
  });

  /** Deletes a site that holds no conversation (domain/index.ts deleteSite). */
  app.delete('/v1/sites/:id', { schema: { params: Params } }, async (req) => {
    await requireAdmin(ctx, req);
    await ctx.domain.deleteSite(req.params.id);
    return { ok: true };
  });

  /** Makes a new identity-verification secret; it is shown in this answer only. */
  app.post('/v1/sites/:id/secret', { schema: { params: Params } }, async (req) => {
    await requireAdmin(ctx, req);
    if (!(await sites.get(req.params.id))) throw new HarkError('NOT_FOUND');
    const secret = sites.newSecret();
    await sites.save(req.params.id, { secret });
    return { secret };
  });

  app.delete('/v1/sites/:id/secret', { schema: { params: Params } }, async (req) => {
    await requireAdmin(ctx, req);
    if (!(await sites.get(req.params.id))) throw new HarkError('NOT_FOUND');
    await sites.save(req.params.id, { secret: '' });
    return { ok: true };
  });
};
