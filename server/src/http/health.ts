import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../realtime/context';

export function healthRoutes(app: FastifyInstance, ctx: Ctx): void {
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (_req, reply) => {
    const t0 = performance.now();
    try {
      await ctx.c.cmd.ping();
      ctx.metrics.redisRtt.set((performance.now() - t0) / 1000);
      return { ok: true };
    } catch {
      return reply.code(503).send({ code: 'OVERLOADED', message: 'Redis is not reachable.' });
    }
  });
  app.get('/metrics', async (_req, reply) => {
    const t0 = performance.now();
    await ctx.c.cmd.ping().then(
      () => ctx.metrics.redisRtt.set((performance.now() - t0) / 1000),
      () => {},
    );
    return reply.header('content-type', ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
  });
}
