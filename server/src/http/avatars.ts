/**
 * Operators' photos as images: `GET /v1/avatars/:op/:version.(png|jpeg|webp)`, public (the
 * widget shows the operator's photo to visitors on other origins), versioned by the hash of the
 * bytes so a URL never changes what it names: cached for a year, `immutable`. The type is the
 * one decided from the bytes at upload; `nosniff` and a `default-src 'none'` policy keep a
 * browser from reading them as anything else; `Cross-Origin-Resource-Policy: cross-origin`
 * lets a site's page load them (the site's CSP allows the gateway in `img-src`).
 */
import { HarkError } from '@hark/shared';
import { Type as T } from '@sinclair/typebox';
import { AVATAR_CACHE_SECONDS } from '../domain/operators';
import type { Routes } from './plugin';

const Params = T.Object({
  op: T.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
  file: T.String({ pattern: '^[0-9a-f]{16}\\.(png|jpeg|webp)$' }),
});

export const avatarRoutes: Routes = async (app, { ctx }) => {
  app.get('/v1/avatars/:op/:file', { schema: { params: Params } }, async (req, reply) => {
    const [version = '', ext] = req.params.file.split('.');
    const img = await ctx.domain.operators.avatarImage(req.params.op, version);
    if (!img || img.type !== ext) throw new HarkError('NOT_FOUND', 'No such avatar.');
    return reply
      .header('content-type', img.mime)
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'; sandbox")
      .header('cross-origin-resource-policy', 'cross-origin')
      .header('cache-control', `public, max-age=${AVATAR_CACHE_SECONDS}, immutable`)
      .header('etag', `"${version}"`)
      .send(img.data);
  });
};
