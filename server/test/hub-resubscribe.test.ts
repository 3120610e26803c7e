/**
 * The hub's subscriptions when Redis refuses a SUBSCRIBE. A real Redis does so while a
 * script runs past `busy-reply-threshold` (-BUSY); ioredis then never resubscribes that
 * channel (it only resubscribes channels whose SUBSCRIBE succeeded). The hub must issue
 * it again for the next follower of the channel, and after its subscriber reconnects for
 * a listener that is still there, instead of keeping the rejection for good.
 */
import { type Entry, randomId } from '@hark/shared';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hub } from '../src/store/hub';
import type { SiteSignal } from '../src/store/signals';
import { type Connections, connect } from '../src/redis/client';
import { appendEntry } from '../src/store/conversations';
import { K } from '../src/store/keys';
import { type TestRedis, sleep, testRedis } from './harness';

/** Redis answers BUSY to other clients once a script has run this long. */
const BUSY_THRESHOLD_MS = 50;
/** How long the spinning script runs. */
const BUSY_FOR_MS = 1_200;

let redis: TestRedis;
let c: Connections;
let admin: Redis;
let blocker: Redis;

beforeAll(async () => {
  redis = await testRedis();
  c = connect({ url: redis.url });
  admin = new Redis(redis.url);
  blocker = new Redis(redis.url);
  await admin.config('SET', 'busy-reply-threshold', String(BUSY_THRESHOLD_MS));
});
afterAll(async () => {
  admin?.disconnect();
  blocker?.disconnect();
  await c?.close();
  await redis?.cleanup();
});

/** Runs `fn` while Redis is busy in a script (every other client is answered -BUSY), then waits for the script to end. */
async function whileBusy(fn: () => Promise<void>): Promise<void> {
  const script = `local t0 = redis.call('TIME') local s0 = t0[1] * 1000 + math.floor(t0[2] / 1000)
while true do local t = redis.call('TIME') if t[1] * 1000 + math.floor(t[2] / 1000) - s0 >= ${BUSY_FOR_MS} then break end end
return 1`;
  const spinning = blocker.eval(script, 0);
  await sleep(BUSY_THRESHOLD_MS * 2);
  await expect(admin.ping()).rejects.toThrow(/BUSY/);
  try {
    await fn();
  } finally {
    await spinning;
  }
}

async function waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) return false;
    await sleep(20);
  }
  return true;
}

/** The site id of a site channel (the hub listens by kind and id). */
function sid(ch: string): string {
  return ch.slice(6, ch.indexOf('}'));
}

/** Records what each signal names: the messages published below are visitor-changed signals ('v' + a name). */
function channelListener() {
  const got: string[] = [];
  return { got, onSignal: (s: SiteSignal) => void got.push('conv' in s ? s.conv : s.t) };
}

async function numsub(ch: string): Promise<number> {
  const r = (await admin.call('PUBSUB', 'NUMSUB', ch)) as [string, number];
  return Number(r[1]);
}

describe('hub subscriptions refused by Redis', () => {
  it('a refused SUBSCRIBE is issued again by the next follower, which then gets live messages (channel and conversation)', async () => {
    const hub = new Hub(c);
    const errors: unknown[] = [];
    hub.onError = (e) => void errors.push(e);
    const ch = `{site:${randomId(8)}}:ev`;
    const conv = randomId(16);
    const first = channelListener();
    const convGot: [Entry[], Entry[]] = [[], []];
    const convListener = (i: 0 | 1) => ({ onEntry: (e: Entry) => void convGot[i].push(e), onConvSignal: () => {} });
    const c1 = convListener(0);
    const c2 = convListener(1);
    await whileBusy(async () => {
      await expect(hub.listen('site', sid(ch), first)).rejects.toThrow(/BUSY/);
      await expect(hub.followConv(conv, c1)).rejects.toThrow(/BUSY/);
    });
    expect(await numsub(ch)).toBe(0);

    // Redis answers again: the next follower of each channel subscribes it for real.
    const second = channelListener();
    await hub.listen('site', sid(ch), second);
    await hub.followConv(conv, c2);
    expect(await numsub(ch)).toBe(1);
    expect(await numsub(K.convChannel(conv))).toBe(1);
    await c.cmd.publish(ch, 'vhello');
    const { id } = await appendEntry(c, { conv, at: Date.now(), kind: 'msg', from: 'visitor', text: 'live after the refusal', cid: randomId(21) }, 'visitor');
    expect(await waitUntil(() => second.got.length > 0 && first.got.length > 0 && convGot[1].length > 0, 3_000)).toBe(true);
    expect(first.got).toEqual(['hello']);
    expect(second.got).toEqual(['hello']);
    expect(convGot[1].map((e) => e.id)).toEqual([id]);
    // The listener whose follow failed is still registered: it gets the entry too, once.
    expect(convGot[0].map((e) => e.id)).toEqual([id]);

    // Each caller unsubscribes once, whether its subscribe resolved or not: nothing is left.
    hub.unlisten('site', sid(ch), first);
    hub.unlisten('site', sid(ch), second);
    hub.unfollowConv(conv, c1);
    hub.unfollowConv(conv, c2);
    expect(hub.subscriptionCount).toBe(0);
    await sleep(100);
    expect(await numsub(ch)).toBe(0);
    expect(await numsub(K.convChannel(conv))).toBe(0);
  });

  it('a channel whose SUBSCRIBE was refused is subscribed again after the subscriber reconnects, with no new follower', async () => {
    const hub = new Hub(c);
    hub.onError = () => {};
    const ch = `{site:${randomId(8)}}:ev`;
    const l = channelListener();
    // Another channel subscribed first, as on any busy gateway (and CLIENT KILL TYPE pubsub needs one).
    const other = `{site:${randomId(8)}}:ev`;
    const ol = channelListener();
    await hub.listen('site', sid(other), ol);
    await whileBusy(async () => {
      await expect(hub.listen('site', sid(ch), l)).rejects.toThrow(/BUSY/);
    });
    // Still not subscribed: a refused SUBSCRIBE is not retried by ioredis on its own.
    await sleep(200);
    expect(await numsub(ch)).toBe(0);

    // The subscriber connection drops and reconnects (as after a Redis restart).
    const ready = new Promise<void>((res) => c.sub.once('ready', () => res()));
    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await ready;
    const live = await waitUntil(() => {
      void c.cmd.publish(ch, 'vafter reconnect');
      return l.got.length > 0;
    }, 5_000);
    expect(live).toBe(true);
    expect(await numsub(ch)).toBe(1);
    expect(await numsub(other)).toBe(1);
    hub.unlisten('site', sid(ch), l);
    hub.unlisten('site', sid(other), ol);
    expect(hub.subscriptionCount).toBe(0);
  });

  it('subscribes issued while the subscriber reconnects (queued, and written during its handshake) all end up live', async () => {
    // Its own connections: the test drives this subscriber's reconnect.
    const c2 = connect({ url: redis.url });
    const hub = new Hub(c2);
    const errors: string[] = [];
    hub.onError = (e) => void errors.push(String(e));
    try {
      const keep = `{site:${randomId(8)}}:ev`;
      const kl = channelListener();
      await hub.listen('site', sid(keep), kl);
      const queuedCh = `{site:${randomId(8)}}:ev`;
      const duringCh = `{site:${randomId(8)}}:ev`;
      const queued = channelListener();
      const during = channelListener();
      const outcomes: Promise<string>[] = [];
      const outcome = (p: Promise<void>) => outcomes.push(p.then(() => 'ok', (e: Error) => e.message));
      // While reconnecting: queued in ioredis's offline queue. Once the socket is up but before
      // 'ready' (ioredis writes SUBSCRIBE at once then, since Redis allows it while loading).
      c2.sub.once('reconnecting', () => outcome(hub.listen('site', sid(queuedCh), queued)));
      c2.sub.once('connect', () => outcome(hub.listen('site', sid(duringCh), during)));
      const ready = new Promise<void>((res) => c2.sub.once('ready', () => res()));
      await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      await ready;
      expect(await Promise.all(outcomes)).toEqual(['ok', 'ok']);
      const all = [kl, queued, during];
      const live = await waitUntil(() => {
        for (const ch of [keep, queuedCh, duringCh]) void c.cmd.publish(ch, 'vlive');
        return all.every((l) => l.got.length > 0);
      }, 5_000);
      expect({ live, got: all.map((l) => l.got.length > 0), errors }).toEqual({ live: true, got: [true, true, true], errors: [] });
      for (const ch of [keep, queuedCh, duringCh]) expect(await numsub(ch)).toBe(1);
      hub.unlisten('site', sid(keep), kl);
      hub.unlisten('site', sid(queuedCh), queued);
      hub.unlisten('site', sid(duringCh), during);
      expect(hub.subscriptionCount).toBe(0);
    } finally {
      await c2.close();
    }
  });
});
