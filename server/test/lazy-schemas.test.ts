/** Route schemas compiled on first use (http/lazy-schemas.ts): nothing compiled before listen, the same validation and serialization after. */
import Fastify from 'fastify';
import { expect, it } from 'vitest';
import { LAZY_SCHEMAS, pendingSchemas, warmSchemas } from '../src/http/lazy-schemas';

it('compiles a route schema on first use or when warmed, and validates and serializes exactly as the stock compilers', async () => {
  const app = Fastify({ schemaController: LAZY_SCHEMAS });
  app.post(
    '/t',
    {
      schema: {
        body: { type: 'object', required: ['n'], properties: { n: { type: 'integer', minimum: 1 } }, additionalProperties: false },
        response: { 200: { type: 'object', properties: { n: { type: 'integer' } } } },
      },
    },
    async (req) => ({ n: (req.body as { n: number }).n, secret: 'not in the response schema' }),
  );
  app.get('/u', { schema: { querystring: { type: 'object', properties: { q: { type: 'string', maxLength: 3 } } } } }, async () => ({ ok: true }));
  await app.ready();
  const before = pendingSchemas();
  // Ready, and none compiled yet: /t's body and 200 response, /u's querystring.
  expect(before).toBeGreaterThanOrEqual(3);
  const bad = await app.inject({ method: 'POST', url: '/t', payload: { n: 0 } });
  expect(bad.statusCode).toBe(400);
  expect(bad.json().message).toMatch(/body\/n must be >= 1/);
  const good = await app.inject({ method: 'POST', url: '/t', payload: { n: 2 } });
  expect(good.json()).toEqual({ n: 2 });
  expect(pendingSchemas()).toBe(before - 2);
  await warmSchemas();
  expect(pendingSchemas()).toBe(0);
  expect((await app.inject({ method: 'GET', url: '/u?q=toolong' })).statusCode).toBe(400);
  await app.close();
});
