import { ERRORS, HarkError } from '@hark/shared';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';

/** One error shape for every REST answer: `{ code, message }` with the code's status. */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | HarkError, req, reply) => {
    if (err instanceof HarkError) {
      if (err.retryAfterS !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(err.retryAfterS))));
      return reply.code(err.status).send({ code: err.code, message: err.message });
    }
    if ((err as FastifyError).validation) return reply.code(400).send({ code: 'BAD_REQUEST', message: err.message });
    if ((err as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ code: 'BODY_TOO_LARGE', message: ERRORS.BODY_TOO_LARGE.message });
    if ((err as FastifyError).code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return reply.code(415).send({ code: 'UNSUPPORTED_MEDIA_TYPE', message: ERRORS.UNSUPPORTED_MEDIA_TYPE.message });
    const status = (err as FastifyError).statusCode;
    if (status && status >= 400 && status < 500) return reply.code(status).send({ code: 'BAD_REQUEST', message: err.message });
    req.log.error({ err }, 'request failed');
    return reply.code(500).send({ code: 'INTERNAL', message: ERRORS.INTERNAL.message });
  });
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ code: 'NOT_FOUND', message: ERRORS.NOT_FOUND.message }));
}

/**
 * Fastify's refusals before a route is found (its `frameworkErrors` option, app.ts): a path with a
 * malformed escape or a parameter longer than Fastify's maxParamLength. Same shape as every other
 * error answer, instead of Fastify's own body.
 */
export function frameworkErrors(err: FastifyError, _req: unknown, reply: FastifyReply): void {
  const message = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'A path parameter is too long.' : 'The URL is malformed.';
  void reply.code(400).send({ code: 'BAD_REQUEST', message });
}
