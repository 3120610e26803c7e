import type { FastifyRequest } from 'fastify';

/**
 * Strict-Transport-Security for every response served over https (TLS here, or a trusted proxy's
 * X-Forwarded-Proto: https with TRUST_PROXY=1): a year, this host and its subdomains.
 */
export const HSTS = 'max-age=31536000; includeSubDomains';

/**
 * The gateway's own origin as the browser sees it (PUBLIC_ORIGIN when behind a proxy). Scheme and
 * host come from Fastify, which reads X-Forwarded-Proto/-Host only with TRUST_PROXY=1: without
 * it, anyone could send X-Forwarded-Proto: https and make an http page pass for https.
 */
export function ownOrigin(req: FastifyRequest, publicOrigin?: string): string {
  if (publicOrigin) return publicOrigin;
  return `${req.protocol}://${req.host}`;
}

/**
 * Whether a visitor socket from `origin` may open for a site. 'self' in a site's
 * list stands for the gateway's own origin (the demo page); '*' allows any.
 */
export function originAllowed(origin: string | undefined, allowed: string[], self: string): boolean {
  if (!origin) return false;
  return allowed.some((a) => a === '*' || a === origin || (a === 'self' && origin === self));
}
