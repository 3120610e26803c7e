import { ERRORS, HarkError } from '@hark/shared';
import type { FastifyError, FastifyInstance } from 'fastify';

/** One error shape for every REST answer: `{ code, message }` with the code's status. */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | HarkError, req, reply) => {
    if (err instanceof HarkError) return reply.code(err.status).send({ code: err.code, message: err.message });
    if ((err as FastifyError).validation) return reply.code(400).send({ code: 'BAD_REQUEST', message: err.message });
    if ((err as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ code: 'BODY_TOO_LARGE', message: ERRORS.BODY_TOO_LARGE.message });
    const status = (err as FastifyError).statusCode;
    if (status && status >= 400 && status < 500) return reply.code(status).send({ code: 'BAD_REQUEST', message: err.message });
    req.log.error({ err }, 'request failed');
    return reply.code(500).send({ code: 'INTERNAL', message: ERRORS.INTERNAL.message });
  });
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ code: 'NOT_FOUND', message: ERRORS.NOT_FOUND.message }));
}
