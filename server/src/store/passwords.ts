import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { HarkError, MAX_CONCURRENT_HASHES, MAX_QUEUED_HASHES } from '@hark/shared';

/**
 * scrypt parameters from OWASP's Password Storage Cheat Sheet (N = 2^17, r = 8,
 * p = 1: 128 MiB and roughly a few hundred ms per hash on one core).
 */
export const SCRYPT = { N: 2 ** 17, r: 8, p: 1, keylen: 32, maxmem: 256 * 1024 * 1024 } as const;

/** Seconds a caller refused with BUSY is told to wait (Retry-After): about one turn of the full queue. */
export const BUSY_RETRY_AFTER_S = 2;

/**
 * At most MAX_CONCURRENT_HASHES scrypt runs at once in this process and at most MAX_QUEUED_HASHES
 * waiting: each run holds one of libuv's 4 pool threads (which also read static files, resolve
 * names, and so on) and 128 MiB for ~0.5 s, so unbounded sign-ins would starve everything else.
 * Past the queue, HarkError BUSY at once (the caller answers 503 with Retry-After).
 */
let running = 0;
const waiting: (() => void)[] = [];
const limits = { concurrent: MAX_CONCURRENT_HASHES, queued: MAX_QUEUED_HASHES };

/**
 * Test-only: a shorter wait queue (or fewer slots), so a test reaches BUSY with few ~0.5 s hashes.
 * Applies to this process; returns what was set before. Production code never calls it.
 */
export function setHashLimitsForTest(l: { concurrent: number; queued: number }): { concurrent: number; queued: number } {
  const was = { ...limits };
  Object.assign(limits, l);
  return was;
}

async function withHashSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= limits.concurrent) {
    if (waiting.length >= limits.queued) throw new HarkError('BUSY', 'Too many sign-ins at once; retry in a moment.');
    await new Promise<void>((res) => waiting.push(res));
  } else running++;
  try {
    return await fn();
  } finally {
    // Hand the slot straight to the next in line (running stays the same), or free it.
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

function derive(password: string, salt: Buffer, p: { N: number; r: number; p: number; keylen: number }): Promise<Buffer> {
  return withHashSlot(
    () =>
      new Promise((res, rej) =>
        scrypt(password.normalize('NFKC'), salt, p.keylen, { N: p.N, r: p.r, p: p.p, maxmem: SCRYPT.maxmem }, (err, key) => (err ? rej(err) : res(key))),
      ),
  );
}

/** "scrypt$N$r$p$salt$hash", so stored hashes keep their parameters when the defaults move. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** A hash of a random password, verified against when the e-mail is unknown so timing does not tell. */
let dummy: Promise<string> | undefined;
export function dummyHash(): Promise<string> {
  // A failed first try (BUSY) is not kept: the next sign-in makes it again.
  dummy ??= hashPassword(randomBytes(16).toString('hex')).catch((e) => {
    dummy = undefined;
    throw e;
  });
  return dummy;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [alg, n, r, p, salt, hash] = stored.split('$');
  if (alg !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await derive(password, Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p), keylen: expected.length });
  return key.length === expected.length && timingSafeEqual(key, expected);
}
