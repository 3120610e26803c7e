/** Per-file setup for integration tests (vitest hooks; kept apart from harness.ts, which child processes import too). */
import { afterAll, beforeAll } from 'vitest';
import { ADMIN, Http, type TestGateway, type TestRedis, testGateway, testRedis } from './harness';

export interface TestStack {
  redis: TestRedis;
  /** The first gateway; `gw2` the second when asked for. */
  gw: TestGateway;
  gw2: TestGateway;
  /** A REST client signed in as the first admin. */
  admin: Http;
}

/**
 * One private Redis, `gateways` gateways on it and a signed-in admin for the
 * tests of one file, started before them and stopped after them.
 */
export function useStack(gateways: 1 | 2 = 1): TestStack {
  const s = {} as TestStack;
  beforeAll(async () => {
    s.redis = await testRedis();
    s.gw = await testGateway(s.redis.url);
    if (gateways === 2) s.gw2 = await testGateway(s.redis.url);
    s.admin = new Http(s.gw.base);
    await s.admin.login(ADMIN.email, ADMIN.password);
  });
  afterAll(async () => {
    await s.gw?.close();
    await s.gw2?.close();
    await s.redis?.cleanup();
  });
  return s;
}
