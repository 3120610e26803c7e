/**
 * Delivery under Redis faults, checked by the accounting checker: 200 visitors
 * (20 with a second tab) and 5 operators on two gateway processes, which reach
 * Redis through a TCP proxy the test controls.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestRedis, sleep, testRedis } from '../test/harness';
import { isClean, settle } from './accounting';
import { type Fleet, cohort, endScenario, startFleet, traffic } from './fleet';
import { record } from './report';
import { TcpProxy } from './tcp-proxy';

const VISITORS = 200;
let redis: TestRedis;
let proxy: TcpProxy;
let f: Fleet;

beforeAll(async () => {
  redis = await testRedis();
  proxy = new TcpProxy(redis.port);
  await proxy.start();
  f = await startFleet({ gateways: 2, operators: 5, redis, redisUrl: proxy.url });
}, 120_000);
afterAll(async () => {
  await f?.close();
  await proxy?.close();
  await redis?.cleanup();
});

async function scenario(name: string, ms: number, fault: () => Promise<void>) {
  const t0 = Date.now();
  const c = await cohort(f, VISITORS);
  await traffic(f, c, ms, { during: fault });
  const rep = await settle(f.r, c.visitors, c.tabs, f.ops, 45_000);
  record(name, rep, Date.now() - t0);
  expect(rep.problems).toEqual([]);
  expect(isClean(rep)).toBe(true);
  await endScenario(f, c);
  return rep;
}

describe('delivery under Redis faults', () => {
  it('the subscriber connections killed (CLIENT KILL TYPE pubsub) during a burst: every gap is closed from the stream', async () => {
    await scenario('client-kill-pubsub', 9000, async () => {
      await sleep(3000);
      for (let i = 0; i < 3; i++) {
        await f.r.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
        await sleep(700);
      }
    });
  });

  it('Redis killed with SIGKILL and restarted from its AOF', async () => {
    await scenario('redis-sigkill-aof', 12_000, async () => {
      await sleep(4000);
      await redis.stop('SIGKILL');
      await sleep(2000);
      await redis.restart();
    });
  });

  it('Redis frozen with SIGSTOP for 10 s', async () => {
    await scenario('redis-sigstop-10s', 16_000, async () => {
      await sleep(3000);
      process.kill(redis.child.pid as number, 'SIGSTOP');
      await sleep(10_000);
      process.kill(redis.child.pid as number, 'SIGCONT');
    });
  });

  it('a partition between gateways and Redis: replies lost, links cut, commands resent after reconnect never double-store', async () => {
    const rep = await scenario('tcp-partition', 12_000, async () => {
      await sleep(3000);
      // 1. Commands reach Redis but their answers vanish, so they are written and unanswered.
      proxy.dropReplies = true;
      await sleep(1500);
      // 2. The link goes down and stays down for 3 s.
      proxy.refuse = true;
      proxy.cut();
      proxy.dropReplies = false;
      await sleep(3000);
      proxy.refuse = false;
    });
    expect(proxy.repliesDropped).toBeGreaterThan(0);
    expect(rep.duplicated).toBe(0);
  });
});
