import { createHash, randomBytes } from 'node:crypto';
import { SESSION_TTL_MS } from '@hark/shared';
import { K } from './keys';
import type { ScriptedRedis } from '../redis/scripts';
import { evalScript } from '../redis/eval';

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

/** The sign-in limits (shared/src/limits.ts; tests may lower them). */
export interface LoginLimits {
  /** Attempts per (address, account) before each further one waits. */
  attempts: number;
  delayMs: number;
  maxDelayMs: number;
  windowMs: number;
  /** Attempts per address across accounts in windowMs. */
  perAddress: number;
}

/**
 * One step that checks and takes a sign-in attempt, for one account (KEYS[1], a hash: n = attempts
 * taken, t = not before, ms) from one address (KEYS[2], a counter over the window). Both keys share
 * the address's hash tag, so this is one slot on a cluster. ARGV: now, attempts before delays,
 * first delay, longest delay, window, attempts per address. Returns {0, 0} when the attempt may go
 * on, else {1 = this pair must wait | 2 = this address is over its limit, ms to wait}. Refused
 * attempts are not counted, so hammering does not push the wait further out. From the
 * LOGIN_ATTEMPTS-th attempt on, taking it already sets the pair's wait, so attempts sent at once
 * do not all get through while the first is being checked; FAILED then counts the wait from the
 * answer.
 */
const TAKE_ATTEMPT = `
local now = tonumber(ARGV[1])
local t = tonumber(redis.call('HGET', KEYS[1], 't') or '0')
if now < t then return {1, t - now} end
local a = tonumber(redis.call('GET', KEYS[2]) or '0')
if a >= tonumber(ARGV[6]) then return {2, math.max(redis.call('PTTL', KEYS[2]), 1000)} end
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
local free = tonumber(ARGV[2])
local d = 0
if n >= free then
  d = math.min(tonumber(ARGV[3]) * 2 ^ (n - free), tonumber(ARGV[4]))
  redis.call('HSET', KEYS[1], 't', string.format('%.0f', now + d))
end
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', tonumber(ARGV[5]) + d))
if redis.call('INCR', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[5]) end
return {0, 0}
`;
/** A wrong password: the pair's wait (when it has one) counts from now. KEYS: pair. ARGV as TAKE_ATTEMPT's first five. */
const FAILED = `
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
local free = tonumber(ARGV[2])
if n < free then return 0 end
local d = math.min(tonumber(ARGV[3]) * 2 ^ (n - free), tonumber(ARGV[4]))
local t = math.max(tonumber(redis.call('HGET', KEYS[1], 't') or '0'), tonumber(ARGV[1]) + d)
redis.call('HSET', KEYS[1], 't', string.format('%.0f', t))
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', tonumber(ARGV[5]) + d))
return 0
`;
/** A successful sign-in (or one refused BUSY before its password was checked): the pair starts over (or gets its attempt back), the address gets its attempt back. */
const GIVE_BACK = `
if ARGV[1] == 'clear' then redis.call('DEL', KEYS[1]) elseif redis.call('HINCRBY', KEYS[1], 'n', -1) < 0 then redis.call('DEL', KEYS[1]) end
if redis.call('DECR', KEYS[2]) <= 0 then redis.call('DEL', KEYS[2]) end
return 0
`;

/**
 * One sign-in attempt's bookkeeping, per (address, account) and per address; never per account
 * alone, so wrong passwords from one address cannot lock the owner out from another (SECURITY.md).
 * `addr` is the client's address as counted (http/conn-limits.ts addressKey: IPv6 by its /64); the
 * account is keyed by a hash of the e-mail, known or not.
 */
export function loginAttempt(addr: string, email: string, l: LoginLimits) {
  const account = createHash('sha256').update(email.trim().toLowerCase()).digest('base64url').slice(0, 22);
  const pair = K.loginAttempts(`{${addr}}:acct:${account}`);
  const address = K.loginAttempts(`{${addr}}:addr`);
  const args = () => [Date.now(), l.attempts, l.delayMs, l.maxDelayMs, l.windowMs];
  return {
    /** Takes the attempt: 0 when it may go on, else the ms to wait before the next one may. */
    async take(r: ScriptedRedis): Promise<number> {
      const [refused, waitMs] = (await evalScript(r, TAKE_ATTEMPT, 2, pair, address, ...args(), l.perAddress)) as [number, number];
      return refused ? Math.max(1, waitMs) : 0;
    },
    /** A wrong password (or unknown e-mail): a pair past `attempts` waits from now. */
    async failed(r: ScriptedRedis): Promise<void> {
      await evalScript(r, FAILED, 1, pair, ...args());
    },
    /** The right password: the pair starts over, the address gets its attempt back. */
    async succeeded(r: ScriptedRedis): Promise<void> {
      await evalScript(r, GIVE_BACK, 2, pair, address, 'clear');
    },
    /** The password was never checked (BUSY): the attempt is given back. */
    async giveBack(r: ScriptedRedis): Promise<void> {
      await evalScript(r, GIVE_BACK, 2, pair, address, 'one');
    },
  };
}
