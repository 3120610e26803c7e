import { createHash, randomBytes } from 'node:crypto';
import { SESSION_TTL_MS } from '@hark/shared';
import { K } from './keys';
import type { ScriptedRedis } from './scripts';

export const SESSION_COOKIE = 'hark_session';

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** Creates a session; the raw token goes only into the cookie, Redis keeps its hash. */
export async function createSession(r: ScriptedRedis, op: string): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  const h = hashToken(token);
  await r.set(K.session(h), op, 'PX', SESSION_TTL_MS);
  await r.sadd(K.operatorSessions(op), h);
  return token;
}

export async function sessionOperator(r: ScriptedRedis, token: string | undefined): Promise<{ op: string; hash: string } | null> {
  if (!token || token.length > 100) return null;
  const h = hashToken(token);
  const op = await r.get(K.session(h));
  return op ? { op, hash: h } : null;
}

export async function destroySession(r: ScriptedRedis, op: string, hash: string): Promise<void> {
  await r.del(K.session(hash));
  await r.srem(K.operatorSessions(op), hash);
}

/** Ends every session of an operator but `keep` (a hash); returns the hashes ended. */
export async function destroyAllSessions(r: ScriptedRedis, op: string, keep?: string): Promise<string[]> {
  const all = await r.smembers(K.operatorSessions(op));
  const gone = all.filter((h) => h !== keep);
  for (const h of gone) {
    await r.del(K.session(h));
    await r.srem(K.operatorSessions(op), h);
  }
  return gone;
}
