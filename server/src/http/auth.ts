import {
  ERRORS,
  HarkError,
  LOGIN_ATTEMPTS,
  LOGIN_ATTEMPTS_PER_ADDRESS,
  LOGIN_DELAY_MAX_MS,
  LOGIN_DELAY_MS,
  LOGIN_WINDOW_MS,
  SESSION_TTL_MS,
} from '@hark/shared';
import { Type as T } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiKey } from '../domain/api-keys';
import { BUSY_RETRY_AFTER_S, type LoginLimits, SESSION_COOKIE } from '../domain/auth';
import type { Operator } from '../domain/operators';
import { type OperatorRecord, publicOperator, toMe } from '../domain/operators';
import type { Ctx } from '../realtime/context';
import { addressKey } from './conn-limits';
import type { Routes } from './plugin';

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in operator, once requireOperator has read the session (decorated in app.ts). */
    operator: OperatorRecord | null;
    sessionHash: string | null;
    /** The API key of a `Authorization: Bearer` request, once requireApiKey has checked it (decorated in app.ts). */
    apiKey: ApiKey | null;
  }
}

/** The secret of an `Authorization: Bearer <key>` header, or null. */
export function bearerOf(req: FastifyRequest): string | null {
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '');
  return m ? (m[1] as string) : null;
}

/**
 * Whether a request is exempt from the CSRF Origin check: it authenticates with a bearer key and
 * carries no session cookie (a browser adds cookies on its own; it cannot add a bearer header
 * cross-site without a CORS preflight the gateway never grants). A request with both is checked.
 */
export function csrfExempt(req: FastifyRequest): boolean {
  // A visitor's upload (Authorization: Visitor TOKEN) comes from the site's page, another origin;
  // its token is no cookie a browser would add by itself, so it is no CSRF either.
  const visitor = (req.headers.authorization ?? '').startsWith('Visitor ');
  return (bearerOf(req) !== null || visitor) && req.cookies?.[SESSION_COOKIE] === undefined && !(req.headers.cookie ?? '').includes(`${SESSION_COOKIE}=`);
}

/** The principal of an API request: the key, and the bot it acts as (a supervisor of the key's sites, for the policy). */
export interface KeyPrincipal {
  key: ApiKey;
  actor: Operator;
}

/**
 * Checks the bearer key of an API request, read from Redis on every request (a revoked key fails on
 * its next request, on every gateway): 401 API_KEY_INVALID when missing or unknown, 403
 * API_KEY_READ_ONLY for a change with a read-only key, 429 RATE_LIMITED with Retry-After past the
 * key's API_KEY_REQUESTS_PER_MIN or the address's API_KEY_FAILURES_PER_ADDRESS (domain/api-keys.ts).
 */
export async function requireApiKey(ctx: Ctx, req: FastifyRequest, access: 'read' | 'write'): Promise<KeyPrincipal> {
  const secret = bearerOf(req);
  const key = secret ? await ctx.domain.apiKeys.authenticate(secret, addressKey(req.ip)) : null;
  if (!key) throw new HarkError('API_KEY_INVALID');
  if (access === 'write' && key.access !== 'write') throw new HarkError('API_KEY_READ_ONLY');
  req.apiKey = key;
  return { key, actor: await ctx.domain.apiKeys.actor(key) };
}

/** Loads the signed-in operator from the session cookie, or answers 401/403. */
export async function requireOperator(ctx: Ctx, req: FastifyRequest): Promise<OperatorRecord> {
  if (req.operator) return req.operator;
  const s = await ctx.domain.auth.session(req.cookies[SESSION_COOKIE]);
  if (!s) throw new HarkError('NOT_AUTHENTICATED');
  const op = await ctx.domain.operators.get(s.op);
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

/** Test-only overrides of the sign-in limits (AppOptions.testLimits); the product's are in shared/src/limits.ts. */
export interface LoginTestLimits {
  loginAttempts?: number;
  loginAttemptsPerAddress?: number;
  loginDelayMs?: number;
}

function setCookie(req: FastifyRequest, reply: FastifyReply, token: string): void {
  reply.setCookie(SESSION_COOKIE, token, {
    path: '/',
    httpOnly: true,
    sameSite: 'strict',
    // req.protocol honours X-Forwarded-Proto only with TRUST_PROXY=1.
    secure: req.protocol === 'https',
    maxAge: Math.floor(SESSION_TTL_MS / 1000),
  });
}

function refuse(reply: FastifyReply, code: 'LOGIN_RATE_LIMITED' | 'BUSY', retryAfterS: number) {
  return reply.code(ERRORS[code].status).header('retry-after', String(retryAfterS)).send({ code, message: ERRORS[code].message });
}

/** REST body schemas, exported for the fuzzer (server/test/fuzz.test.ts). */
export const LoginBody = T.Object({ email: T.String({ maxLength: 320 }), password: T.String({ maxLength: 1024 }) });
export const PasswordBody = T.Object({ current: T.String({ maxLength: 1024 }), next: T.String({ minLength: 10, maxLength: 1024 }) });

export const authRoutes: Routes<{ test?: LoginTestLimits }> = async (app, { ctx, test = {} }) => {
  const limits: LoginLimits = {
    attempts: test.loginAttempts ?? LOGIN_ATTEMPTS,
    delayMs: test.loginDelayMs ?? LOGIN_DELAY_MS,
    maxDelayMs: LOGIN_DELAY_MAX_MS,
    windowMs: LOGIN_WINDOW_MS,
    perAddress: test.loginAttemptsPerAddress ?? LOGIN_ATTEMPTS_PER_ADDRESS,
  };
  const { auth } = ctx.domain;

  app.post('/v1/auth/login', { schema: { body: LoginBody } }, async (req, reply) => {
    const { email, password } = req.body;
    // Slow an attacker down per (address, account) and per address, never per account alone:
    // wrong passwords from one address must not lock the owner out everywhere (SECURITY.md).
    const r = await auth.signIn(addressKey(req.ip), email, password, limits);
    if (!r.ok && r.code === 'LOGIN_RATE_LIMITED') {
      ctx.metrics.signinRefused.inc({ reason: 'rate_limited' });
      return refuse(reply, 'LOGIN_RATE_LIMITED', Math.ceil(r.waitMs / 1000));
    }
    if (!r.ok) {
      ctx.metrics.signinRefused.inc({ reason: 'busy' });
      return refuse(reply, 'BUSY', BUSY_RETRY_AFTER_S);
    }
    setCookie(req, reply, r.token);
    return { me: { ...toMe(r.op), status: 'online' as const } };
  });

  app.post('/v1/auth/logout', async (req, reply) => {
    await auth.signOut(req.cookies[SESSION_COOKIE]);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return { ok: true };
  });

  app.get('/v1/auth/me', async (req) => ({ me: toMe(await requireOperator(ctx, req)) }));

  app.post('/v1/auth/password', { schema: { body: PasswordBody } }, async (req, reply) => {
    const op = await requireOperator(ctx, req);
    const { current, next } = req.body;
    try {
      await auth.changePassword(op, current, next, req.sessionHash ?? undefined);
    } catch (e) {
      // Two hashes (check, then the new one): either may find the hashing queue full.
      if (e instanceof HarkError && e.code === 'BUSY') return refuse(reply, 'BUSY', BUSY_RETRY_AFTER_S);
      throw e;
    }
    return { ok: true, me: publicOperator(op).id };
  });
};
