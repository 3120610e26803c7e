import { HarkError, LOGIN_ATTEMPTS, LOGIN_WINDOW_MS } from '@hark/shared';
import { Type as T } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Ctx } from '../realtime/context';
import type { Gateway } from '../realtime/gateway';
import { K } from '../store/keys';
import { type OperatorRecord, getOperator, getOperatorByEmail, publicOperator, toMe, updateOperator } from '../store/operators';
import { dummyHash, verifyPassword } from '../store/passwords';
import { SESSION_COOKIE, createSession, destroyAllSessions, destroySession, sessionOperator } from '../store/sessions';
import { SESSION_TTL_MS } from '@hark/shared';

declare module 'fastify' {
  interface FastifyRequest {
    operator?: OperatorRecord;
    sessionHash?: string;
  }
}

/** Loads the signed-in operator from the session cookie, or answers 401/403. */
export async function requireOperator(ctx: Ctx, req: FastifyRequest): Promise<OperatorRecord> {
  if (req.operator) return req.operator;
  const s = await sessionOperator(ctx.c.cmd, req.cookies[SESSION_COOKIE]);
  if (!s) throw new HarkError('NOT_AUTHENTICATED');
  const op = await getOperator(ctx.c.cmd, s.op);
  if (!op) throw new HarkError('NOT_AUTHENTICATED');
  if (!op.active) throw new HarkError('ACCOUNT_DISABLED');
  req.operator = op;
  req.sessionHash = s.hash;
  return op;
}

export async function requireAdmin(ctx: Ctx, req: FastifyRequest): Promise<OperatorRecord> {
  const op = await requireOperator(ctx, req);
  if (op.role !== 'admin') throw new HarkError('FORBIDDEN', 'Only admins can do this.');
  return op;
}

async function countAttempt(ctx: Ctx, key: string): Promise<number> {
  const k = K.loginAttempts(key);
  const n = await ctx.c.cmd.incr(k);
  if (n === 1) await ctx.c.cmd.pexpire(k, LOGIN_WINDOW_MS);
  return n;
}

function setCookie(req: FastifyRequest, reply: FastifyReply, token: string): void {
  reply.setCookie(SESSION_COOKIE, token, {
    path: '/',
    httpOnly: true,
    sameSite: 'strict',
    secure: req.protocol === 'https' || req.headers['x-forwarded-proto'] === 'https',
    maxAge: Math.floor(SESSION_TTL_MS / 1000),
  });
}

/** REST body schemas, exported for the fuzzer (server/test/fuzz.test.ts). */
export const LoginBody = T.Object({ email: T.String({ maxLength: 320 }), password: T.String({ maxLength: 1024 }) });
export const PasswordBody = T.Object({ current: T.String({ maxLength: 1024 }), next: T.String({ minLength: 10, maxLength: 1024 }) });

export function authRoutes(app: FastifyInstance, ctx: Ctx, gw: Gateway): void {
  app.post(
    '/v1/auth/login',
    { schema: { body: LoginBody } },
    async (req, reply) => {
      const { email, password } = req.body as { email: string; password: string };
      const byIp = await countAttempt(ctx, `ip:${req.ip}`);
      const byEmail = await countAttempt(ctx, `email:${email.trim().toLowerCase()}`);
      if (byIp > LOGIN_ATTEMPTS * 5 || byEmail > LOGIN_ATTEMPTS) throw new HarkError('LOGIN_RATE_LIMITED');
      const op = await getOperatorByEmail(ctx.c.cmd, email);
      // Verify against a dummy hash when the e-mail is unknown, so the time taken does not tell.
      const ok = await verifyPassword(password, op?.passhash || (await dummyHash()));
      if (!op || !ok) throw new HarkError('BAD_CREDENTIALS');
      if (!op.active) throw new HarkError('ACCOUNT_DISABLED');
      setCookie(req, reply, await createSession(ctx.c.cmd, op.id));
      // Signing in starts a shift: the operator is online until they choose otherwise
      // (the choice is kept across reloads) or every console tab has been closed a while.
      if (op.status !== 'online') await gw.setStatus(op.id, 'online');
      return { me: { ...toMe(op), status: 'online' as const } };
    },
  );

  app.post('/v1/auth/logout', async (req, reply) => {
    const s = await sessionOperator(ctx.c.cmd, req.cookies[SESSION_COOKIE]);
    if (s) {
      await destroySession(ctx.c.cmd, s.op, s.hash);
      await gw.endSessions(s.op, [s.hash]);
    }
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return { ok: true };
  });

  app.get('/v1/auth/me', async (req) => ({ me: toMe(await requireOperator(ctx, req)) }));

  app.post(
    '/v1/auth/password',
    { schema: { body: PasswordBody } },
    async (req) => {
      const op = await requireOperator(ctx, req);
      const { current, next } = req.body as { current: string; next: string };
      if (!(await verifyPassword(current, op.passhash))) throw new HarkError('BAD_CREDENTIALS');
      await updateOperator(ctx.c.cmd, op.id, { password: next });
      const ended = await destroyAllSessions(ctx.c.cmd, op.id, req.sessionHash);
      if (ended.length) await gw.endSessions(op.id, ended);
      return { ok: true, me: publicOperator(op).id };
    },
  );
}
