/** `pnpm start` runs the compiled gateway (server/dist/main.js) with plain node: it starts and serves. */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ADMIN, Http, type TestRedis, newChat, testRedis } from './harness';
import { COMPILED_MAIN, type GatewayProcess, startCompiled } from './process-harness';

let redis: TestRedis;
let gw: GatewayProcess;

beforeAll(async () => {
  redis = await testRedis();
  gw = await startCompiled({ REDIS_URL: redis.url });
});
afterAll(async () => {
  await gw?.stop();
  await redis?.cleanup();
});

it('is JavaScript for plain node: no TypeScript loader, @hark/shared and every dependency bundled in', () => {
  const js = readFileSync(COMPILED_MAIN, 'utf8');
  expect(js).not.toMatch(/from ["']@hark\/shared/);
  expect(js).not.toMatch(/^import .* from ["'](fastify|ioredis|ws|prom-client)["']/m);
  expect(js).not.toMatch(/\btsx\b/);
  expect(gw.child.spawnargs.slice(1)).toEqual([COMPILED_MAIN]);
});

it('serves health, the widget, the console, sign-in and a visitor chat', async () => {
  expect((await fetch(`${gw.base}/healthz`)).status).toBe(200);
  expect((await fetch(`${gw.base}/widget.js`)).status).toBe(200);
  expect(await (await fetch(`${gw.base}/console/`)).text()).toContain('<div');
  // Every dependency is bundled in: the OpenAPI document (swagger), metrics (prom-client), errors (Ajv) all work from the one file.
  expect(((await (await fetch(`${gw.base}/v1/openapi.json`)).json()) as { openapi: string }).openapi).toMatch(/^3\.1/);
  expect(await (await fetch(`${gw.base}/metrics`)).text()).toContain('hark_visitors_connected');
  expect((await fetch(`${gw.base}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', origin: gw.base }, body: '{"email":1}' })).status).toBe(400);
  const admin = new Http(gw.base);
  await admin.login(ADMIN.email, ADMIN.password);
  const { v, state } = await newChat(gw, 'hello from the compiled build');
  expect(['open', 'queued']).toContain(state.status);
  v.close();
});

it('reports its start-up time, and stops cleanly on SIGTERM', async () => {
  // Recorded in BENCHMARKS.md; the bound here is loose (CI machines are busy), the target is 300 ms.
  expect(gw.startMs).toBeGreaterThan(0);
  expect(gw.startMs).toBeLessThan(5000);
  expect(await gw.stop()).toBe(0);
});
