/** Background jobs have one owner across gateways, and move when it goes (jobs/jobs.ts). */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type TestGateway, type TestRedis, sleep, testGateway, testRedis } from './harness';

let redis: TestRedis;
const gws: TestGateway[] = [];

beforeAll(async () => {
  redis = await testRedis();
  gws.push(await testGateway(redis.url), await testGateway(redis.url), await testGateway(redis.url));
});
afterAll(async () => {
  for (const g of gws) await g.close();
  await redis?.cleanup();
});

async function holders(job: string, within = 8_000): Promise<TestGateway[]> {
  const until = Date.now() + within;
  for (;;) {
    const h = gws.filter((g) => g.jobs.holds(job));
    if (h.length > 0 || Date.now() > until) return h;
    await sleep(100);
  }
}

it('each job runs on exactly one of three gateways; when that one closes, another takes it over', async () => {
  for (const job of ['presence-sweep', 'compaction']) {
    const h = await holders(job);
    expect(h.length).toBe(1);
  }
  const first = (await holders('presence-sweep'))[0] as TestGateway;
  await first.close();
  gws.splice(gws.indexOf(first), 1);
  const next = await holders('presence-sweep');
  expect(next.length).toBe(1);
  expect(next[0]).not.toBe(first);
  // Still one owner a while later (no flapping between the two that are left).
  await sleep(1_000);
  expect(gws.filter((g) => g.jobs.holds('presence-sweep')).length).toBe(1);
}, 30_000);
