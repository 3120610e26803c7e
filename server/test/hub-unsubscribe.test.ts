/**
 * The hub's UNSUBSCRIBEs: the channels whose last listener left in one turn of the event loop go
 * in one command per UNSUBSCRIBE_BATCH channels (a draining gateway closing 10,000 visitors sent
 * 20,000 commands), and a channel subscribed again before that command goes out stays subscribed.
 */
import { randomId } from '@hark/shared';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hub, UNSUBSCRIBE_BATCH } from '../src/store/hub';
import type { SiteSignal } from '../src/store/signals';
import { type Connections, connect } from '../src/redis/client';
import { type TestRedis, sleep, testRedis } from './harness';

let redis: TestRedis;
let c: Connections;
let admin: Redis;

beforeAll(async () => {
  redis = await testRedis();
  c = connect({ url: redis.url });
  admin = new Redis(redis.url);
});
afterAll(async () => {
  admin?.disconnect();
  await c?.close();
  await redis?.cleanup();
});

const channel = (site: string) => `{site:${site}}:ev`;

function listener() {
  const got: string[] = [];
  return { got, onSignal: (s: SiteSignal) => void got.push('conv' in s ? s.conv : s.t) };
}

async function unsubscribeCalls(): Promise<number> {
  const m = /cmdstat_unsubscribe:calls=(\d+)/.exec(await admin.info('commandstats'));
  return Number(m?.[1] ?? 0);
}

async function numsub(...chs: string[]): Promise<number[]> {
  const r = (await admin.call('PUBSUB', 'NUMSUB', ...chs)) as (string | number)[];
  return chs.map((_, i) => Number(r[2 * i + 1]));
}

async function waitUntil(cond: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) return false;
    await sleep(20);
  }
  return true;
}

describe('hub unsubscribes', () => {
  it('channels left together go in one UNSUBSCRIBE per UNSUBSCRIBE_BATCH, and none stays subscribed', async () => {
    const hub = new Hub(c);
    const n = 2 * UNSUBSCRIBE_BATCH + 100;
    const sites = Array.from({ length: n }, () => randomId(10));
    const ls = sites.map(() => listener());
    await Promise.all(sites.map((s, i) => hub.listen('site', s, ls[i] as ReturnType<typeof listener>)));
    expect((await numsub(...sites.map(channel))).every((x) => x === 1)).toBe(true);
    const before = await unsubscribeCalls();
    for (const [i, s] of sites.entries()) hub.unlisten('site', s, ls[i] as ReturnType<typeof listener>);
    expect(hub.subscriptionCount).toBe(0);
    expect(await waitUntil(async () => (await numsub(...sites.map(channel))).every((x) => x === 0), 3_000)).toBe(true);
    expect((await unsubscribeCalls()) - before).toBe(Math.ceil(n / UNSUBSCRIBE_BATCH));
  });

  it('a channel left and followed again in the same turn stays subscribed and keeps delivering', async () => {
    const hub = new Hub(c);
    const site = randomId(10);
    const first = listener();
    const second = listener();
    await hub.listen('site', site, first);
    hub.unlisten('site', site, first);
    const again = hub.listen('site', site, second);
    await again;
    await sleep(50);
    expect(await numsub(channel(site))).toEqual([1]);
    await c.cmd.publish(channel(site), 'vstill here');
    expect(await waitUntil(() => second.got.length > 0, 3_000)).toBe(true);
    expect(second.got).toEqual(['still here']);
    expect(first.got).toEqual([]);
    hub.unlisten('site', site, second);
    expect(await waitUntil(async () => (await numsub(channel(site)))[0] === 0, 3_000)).toBe(true);
  });

  it('left, followed again and left again in the same turn: not subscribed in the end', async () => {
    const hub = new Hub(c);
    const site = randomId(10);
    const a = listener();
    const b = listener();
    await hub.listen('site', site, a);
    hub.unlisten('site', site, a);
    const p = hub.listen('site', site, b);
    hub.unlisten('site', site, b);
    await p;
    await sleep(100);
    expect(await numsub(channel(site))).toEqual([0]);
    expect(hub.subscriptionCount).toBe(0);
  });

  it('followed again after its UNSUBSCRIBE went out: subscribed again', async () => {
    const hub = new Hub(c);
    const site = randomId(10);
    const a = listener();
    await hub.listen('site', site, a);
    hub.unlisten('site', site, a);
    await new Promise((r) => setImmediate(r));
    await sleep(20);
    expect(await numsub(channel(site))).toEqual([0]);
    await hub.listen('site', site, a);
    expect(await numsub(channel(site))).toEqual([1]);
    await c.cmd.publish(channel(site), 'vback');
    expect(await waitUntil(() => a.got.length > 0, 3_000)).toBe(true);
    hub.unlisten('site', site, a);
  });
});
