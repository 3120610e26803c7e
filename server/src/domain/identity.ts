import { createHmac, timingSafeEqual } from 'node:crypto';

/** The hash a site owner's server computes for a signed-in user: hex HMAC-SHA256 of the user id with the site's secret. */
export function identityHash(secret: string, userId: string): string {
  return createHmac('sha256', secret).update(userId).digest('hex');
}

/** Constant-time check of a visitor-supplied identity hash. */
export function verifyIdentity(secret: string, userId: string, hash: string | undefined): boolean {
  if (!hash) return false;
  const want = Buffer.from(identityHash(secret, userId), 'utf8');
  const got = Buffer.from(hash.toLowerCase(), 'utf8');
  return want.length === got.length && timingSafeEqual(want, got);
}
