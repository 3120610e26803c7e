import type { FastifyRequest } from 'fastify';

/** The gateway's own origin as the browser sees it (PUBLIC_ORIGIN when behind a proxy). */
export function ownOrigin(req: FastifyRequest, publicOrigin?: string): string {
  if (publicOrigin) return publicOrigin;
  const proto = (req.headers['x-forwarded-proto'] as string | undefined)?.split(',')[0]?.trim() || req.protocol;
  return `${proto}://${req.headers.host ?? ''}`;
}

/**
 * Whether a visitor socket from `origin` may open for a site. 'self' in a site's
 * list stands for the gateway's own origin (the demo page); '*' allows any.
 */
export function originAllowed(origin: string | undefined, allowed: string[], self: string): boolean {
  if (!origin) return false;
  return allowed.some((a) => a === '*' || a === origin || (a === 'self' && origin === self));
}
