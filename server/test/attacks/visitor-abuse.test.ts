/**
 * What one anonymous party can store, send and make others wait for (SECURITY.md items 1, 5,
 * 6, 8): each case fails on the code before its fix.
 */
import { MAX_ATTR_VALUE, MAX_ATTRS, MAX_SOCKET_BUFFER_BYTES, UNUSED_TOKEN_TTL_MS, VISITOR_BURST } from '@hark/shared';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityHash } from '../../src/domain/identity';
import { K } from '../../src/store/keys';
import { tokenHash } from '../../src/store/visitors';
import { ADMIN, Http, type TestGateway, type TestRedis, cid, createOp, operator, sleep, testGateway, testRedis, visitor } from '../harness';

let redis: TestRedis;
let gw: TestGateway;
let gw2: TestGateway;
let admin: Http;

/** Lowered per-address and per-site buckets so a test can reach them quickly (the product's are in shared/src/limits.ts). */
const TEST_LIMITS = { convsPerAddressPerHour: 3, tokensPerAddressPerMin: 5 };

beforeAll(async () => {
  redis = await testRedis();
  gw = await testGateway(redis.url, { testLimits: { visitors: TEST_LIMITS } });
  gw2 = await testGateway(redis.url);
  admin = new Http(gw.base);
  await admin.login(ADMIN.email, ADMIN.password);
  await admin.req('POST', '/v1/sites', { id: 'other', name: 'Other shop', origins: ['self'] });
});
afterAll(async () => {
  await gw?.close();
  await gw2?.close();
  await redis?.cleanup();
});

let addr = 10;
/** A fresh loopback source address per use, so one test's per-address buckets do not touch another's. */
const nextAddr = () => `127.0.4.${addr++}`;

async function acceptedOf(v: Awaited<ReturnType<typeof visitor>>, cids: string[], ms = 1500): Promise<number> {
  await sleep(ms);
  return v.of('ack').filter((a) => cids.includes(a.cid)).length;
}

describe('what one visitor can store', () => {
  it('attributes are capped in total, not per frame: a new key past MAX_ATTRS is refused and nothing beyond is stored', async () => {
    const v = await visitor(gw, { localAddress: nextAddr() });
    await v.next('synced');
    const frame = (from: number) => Object.fromEntries(Array.from({ length: MAX_ATTRS }, (_, i) => [`k${from + i}`, 'x'.repeat(MAX_ATTR_VALUE)]));
    v.send({ type: 'attrs', attrs: frame(0) });
    v.send({ type: 'attrs', attrs: frame(MAX_ATTRS) });
    const err = await v.next('error', (e) => e.code === 'TOO_MANY_ATTRIBUTES');
    expect(err.code).toBe('TOO_MANY_ATTRIBUTES');
    // Updating keys it has is fine.
    v.send({ type: 'attrs', attrs: { k0: 'changed' } });
    await sleep(200);
    const visitorId = (await v.next('welcome')).visitorId;
    const attrs = JSON.parse((await gw.conns.cmd.hget(K.visitor(visitorId), 'attrs')) ?? '{}') as Record<string, string>;
    expect(Object.keys(attrs).length).toBe(MAX_ATTRS);
    expect(attrs.k0).toBe('changed');
    expect(v.closed).toBeNull();
    v.close();
  });

  it('an operator connects however large their inbox is: the welcome comes in pieces, never SLOW_CONSUMER', async () => {
    const op = await createOp(admin, { email: 'big-inbox@example.com', name: 'Bea', capacity: 100, sites: ['demo'] });
    const o = await operator(gw, op.http);
    o.send({ type: 'status', status: 'online' });
    await o.next('status', (f) => f.status === 'online');
    // 45 visitors at the attribute cap with the longest values, each with an open chat: ~1.3 MB of inbox.
    const full = Object.fromEntries(Array.from({ length: MAX_ATTRS }, (_, i) => [`attribute_${i}`, 'y'.repeat(MAX_ATTR_VALUE)]));
    const vs = [];
    for (let i = 0; i < 45; i++) {
      const v = await visitor(gw, { localAddress: `127.0.5.${i + 1}`, hello: { attrs: full } });
      await v.next('synced');
      const c = cid();
      v.send({ type: 'send', cid: c, text: 'hello' });
      await v.next('ack', (a) => a.cid === c);
      vs.push(v);
    }
    o.close();
    const again = await operator(gw, op.http);
    await again.next('synced', () => true, 15_000);
    const inbox = new Set([...again.of('welcome').flatMap((w) => w.convs.map((c) => c.id)), ...again.of('conv').map((c) => c.conv.id)]);
    expect(inbox.size).toBeGreaterThanOrEqual(45);
    expect(JSON.stringify(again.of('welcome')[0]).length).toBeLessThan(MAX_SOCKET_BUFFER_BYTES);
    expect(again.closed).toBeNull();
    again.send({ type: 'status', status: 'offline' });
    await again.next('status', (f) => f.status === 'offline');
    again.close();
    for (const v of vs) v.close();
  });
});

describe('limits that cannot be sidestepped', () => {
  it('offline-form messages count against the same limits as chat messages', async () => {
    const v = await visitor(gw2, { localAddress: nextAddr() });
    await v.next('synced');
    for (let i = 0; i < VISITOR_BURST + 10; i++) v.send({ type: 'offline', cid: cid(), text: `offline ${i}`, email: 'a@example.com' });
    expect(await v.waitClose()).toEqual({ code: 1013, reason: 'RATE_LIMITED' });
  });

  it('the per-visitor limit holds across the visitor’s sockets and gateways: reconnecting or spreading does not reset it', async () => {
    const first = await visitor(gw, { localAddress: nextAddr() });
    await first.next('synced');
    const token = first.token;
    const tabs = [first, await visitor(gw, { token, localAddress: nextAddr() }), await visitor(gw2, { token, localAddress: nextAddr() }), await visitor(gw2, { token, localAddress: nextAddr() })];
    for (const t of tabs.slice(1)) await t.next('synced');
    const sent: string[][] = tabs.map(() => []);
    // Each socket alone stays under VISITOR_BURST; together they are twice over it.
    const each = Math.ceil((VISITOR_BURST * 2) / tabs.length);
    for (let i = 0; i < each; i++) {
      tabs.forEach((t, k) => {
        const c = cid();
        sent[k]?.push(c);
        t.send({ type: 'send', cid: c, text: `m${i}` });
      });
    }
    let accepted = 0;
    for (const [k, t] of tabs.entries()) accepted += await acceptedOf(t, sent[k] ?? [], k === 0 ? 1500 : 0);
    // The bucket refills VISITOR_MSGS_PER_SEC a second meanwhile: a little over the burst, far from twice it.
    expect(accepted).toBeLessThanOrEqual(VISITOR_BURST + 10);
    expect(accepted).toBeGreaterThanOrEqual(VISITOR_BURST - 1);
    for (const t of tabs) t.close();
  });

  it('new visitors per source address are limited; an unused token expires, a used one is kept', async () => {
    const from = nextAddr();
    const made = [];
    for (let i = 0; i < TEST_LIMITS.tokensPerAddressPerMin; i++) made.push(await visitor(gw, { localAddress: from }));
    await expect(visitor(gw, { localAddress: from })).rejects.toThrow(/429/);
    // Another address is not affected.
    const other = await visitor(gw, { localAddress: nextAddr() });
    await other.next('synced');
    const ttl = await gw.conns.cmd.pttl(K.visitorToken(tokenHash(other.token)));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(UNUSED_TOKEN_TTL_MS);
    const c = cid();
    other.send({ type: 'send', cid: c, text: 'now I am a real visitor' });
    await other.next('ack', (a) => a.cid === c);
    expect(await gw.conns.cmd.pttl(K.visitorToken(tokenHash(other.token)))).toBe(-1);
    const visitorId = (await other.next('welcome')).visitorId;
    expect(await gw.conns.cmd.pttl(K.visitor(visitorId))).toBe(-1);
    for (const v of [...made, other]) v.close();
  });

  it('conversations per source address are limited, and a visitor holds one open conversation at a time', async () => {
    const from = nextAddr();
    const convs = new Set<string>();
    const vs = [];
    for (let i = 0; i < TEST_LIMITS.convsPerAddressPerHour; i++) {
      const v = await visitor(gw, { localAddress: from });
      await v.next('synced');
      const c = cid();
      v.send({ type: 'send', cid: c, text: `chat ${i}` });
      convs.add((await v.next('ack', (a) => a.cid === c)).conv);
      // A second message, and one from a second tab of the same visitor, stay in that one conversation.
      const c2 = cid();
      v.send({ type: 'send', cid: c2, text: 'again' });
      expect((await v.next('ack', (a) => a.cid === c2)).conv).toBe([...convs].at(-1));
      vs.push(v);
    }
    expect(convs.size).toBe(TEST_LIMITS.convsPerAddressPerHour);
    const over = await visitor(gw, { localAddress: from });
    await over.next('synced');
    over.send({ type: 'send', cid: cid(), text: 'one too many' });
    expect(await over.waitClose()).toEqual({ code: 1013, reason: 'RATE_LIMITED' });
    for (const v of vs) v.close();
  });

  it("one address flooding a site cannot spend the site's budget: another address's visitor still gets through", async () => {
    // A site whose limit is small (its own setting, msgsPerSec) and a gateway whose per-address limit is
    // out of the way, so only the site's fairness stands between the flood and everyone else.
    await admin.req('POST', '/v1/sites', { id: 'small', name: 'Small shop', origins: ['self'], msgsPerSec: 100 });
    const g = await testGateway(redis.url, { testLimits: { visitors: { siteBurstSeconds: 1, addressPerSec: 10_000, addressBurst: 10_000 } } });
    try {
      const flood = nextAddr();
      const tokens: string[] = [];
      for (let i = 0; i < 30; i++) {
        const v = await visitor(g, { site: 'small', localAddress: flood });
        await v.next('synced');
        tokens.push(v.token);
        v.close();
      }
      // For 2.5 s, 30 visitors from one address send as fast as they may, reconnecting whenever a
      // refusal closes their socket: together three times over the site's 100 a second.
      const until = Date.now() + 2_500;
      let floodAcked = 0;
      const attack = async (token: string) => {
        while (Date.now() < until) {
          const v = await visitor(g, { site: 'small', token, localAddress: flood });
          await v.next('synced').catch(() => {});
          while (!v.closed && Date.now() < until) {
            v.send({ type: 'send', cid: cid(), text: 'spam' });
            await sleep(20);
          }
          floodAcked += v.of('ack').length;
          v.close();
          await sleep(20);
        }
      };
      const flooding = Promise.all(tokens.map(attack));
      await sleep(500);
      // Meanwhile a visitor from another address writes one message every 150 ms.
      const real = await visitor(g, { site: 'small', localAddress: nextAddr() });
      await real.next('synced');
      const mine: string[] = [];
      for (let i = 0; i < 10; i++) {
        const c = cid();
        mine.push(c);
        real.send({ type: 'send', cid: c, text: `real ${i}` });
        await sleep(150);
      }
      await flooding;
      expect(await acceptedOf(real, mine, 500)).toBe(10);
      expect(real.closed).toBeNull();
      // The flood itself got about the site's budget: 100 a second (and the first burst), far from all it sent.
      expect(floodAcked).toBeLessThan(500);
      real.close();
    } finally {
      await g.close();
    }
  }, 60_000);
});

describe("a site at its message limit", () => {
  it("slows the senders with a retry hint and closes no well-behaved visitor's socket; every message arrives", async () => {
    // 6 visitors from 6 addresses, each well within its own limit, together over the site's 5 a second.
    await admin.req('POST', '/v1/sites', { id: 'tiny', name: 'Tiny shop', origins: ['self'], msgsPerSec: 5 });
    const log: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, cb) {
        log.push(chunk.toString());
        cb();
      },
    });
    const g = await testGateway(redis.url, { logger: { level: 'warn', stream }, testLimits: { visitors: { siteBurstSeconds: 1 } } });
    try {
      const before = await (await fetch(`${g.base}/metrics`)).text();
      expect(before).toMatch(/^hark_site_limited_total 0$/m);
      const vs = await Promise.all(Array.from({ length: 6 }, async () => {
        const v = await visitor(g, { site: 'tiny', localAddress: nextAddr() });
        await v.next('synced');
        return v;
      }));
      const sent = vs.map(() => [] as string[]);
      for (let round = 0; round < 3; round++) {
        for (const [k, v] of vs.entries()) {
          const c = cid();
          sent[k]?.push(c);
          v.send({ type: 'send', cid: c, text: `round ${round} from ${k}` });
        }
        await sleep(250);
      }
      // 18 messages in 0.75 s against 5 a second (burst 5): some were refused, with the hint, on open sockets.
      await sleep(200);
      const refusals = vs.flatMap((v) => v.of('error'));
      expect(refusals.length).toBeGreaterThan(0);
      for (const e of refusals) expect(e).toMatchObject({ code: 'RATE_LIMITED', retryMs: 1000 });
      for (const v of vs) expect(v.closed).toBeNull();
      // A client does what the widget does: sends each refused message again after the hint (re: true), until acked.
      const deadline = Date.now() + 15_000;
      for (;;) {
        const missing = vs.flatMap((v, k) => (sent[k] ?? []).filter((c) => !v.of('ack').some((a) => a.cid === c)).map((c) => ({ v, c })));
        if (missing.length === 0 || Date.now() > deadline) break;
        await sleep(1000);
        for (const { v, c } of missing.slice(0, 4)) v.send({ type: 'send', cid: c, text: 'again', re: true });
      }
      // Each message stored once (a resend of a stored one is acked again with the same id).
      for (const [k, v] of vs.entries()) expect(new Set(v.of('ack').filter((a) => (sent[k] ?? []).includes(a.cid)).map((a) => `${a.cid} ${a.id}`)).size).toBe(3);
      for (const v of vs) expect(v.closed).toBeNull();
      const after = await (await fetch(`${g.base}/metrics`)).text();
      expect(Number(/^hark_site_limited_total (\d+)$/m.exec(after)?.[1])).toBeGreaterThanOrEqual(refusals.length);
      // Logged once (at most once a minute per site), naming the site. Three gateways share this Redis
      // (the file's two and this one), so this one's share of the site's 5 a second was a third.
      const lines = log.filter((l) => l.includes('site at its message limit'));
      expect(lines.length).toBe(1);
      expect(JSON.parse(lines[0] as string)).toMatchObject({ site: 'tiny', gateways: 3 });
      for (const v of vs) v.close();
    } finally {
      await g.close();
    }
  }, 60_000);
});

describe('rights and identity', () => {
  it('an operator taken off a site cannot write into its chats from an open socket, at once', async () => {
    const op = await createOp(admin, { email: 'removed@example.com', name: 'Rem', capacity: 5, sites: ['other'] });
    // Only Rem is online on 'other'.
    const o = await operator(gw, op.http);
    o.send({ type: 'status', status: 'online' });
    await o.next('status', (f) => f.status === 'online');
    const v = await visitor(gw, { site: 'other', localAddress: nextAddr() });
    await v.next('synced');
    const c = cid();
    v.send({ type: 'send', cid: c, text: 'help' });
    const { conv } = await v.next('ack', (a) => a.cid === c);
    await o.next('conv', (f) => f.conv.id === conv && f.conv.status === 'open');
    // The admin takes the site away; the operator's socket sends right after.
    expect((await admin.req('PATCH', `/v1/operators/${op.id}`, { sites: ['demo'] })).status).toBe(200);
    const sneaky = cid();
    o.send({ type: 'send', conv, cid: sneaky, text: 'still here' });
    expect((await o.waitClose()).reason).toBe('RIGHTS_CHANGED');
    await sleep(300);
    expect(v.of('entry').some((e) => e.entry.cid === sneaky)).toBe(false);
    const stored = await gw.conns.cmd.hget(K.convCids(conv), sneaky);
    expect(stored).toBeNull();
    // The chat goes back to the queue of the site they left.
    const back = await v.next('conv', (f) => f.conv.id === conv && f.conv.status === 'queued');
    expect(back.conv.status).toBe('queued');
    v.close();
  });

  it('a verified identity cannot be renamed by a pre-chat form or an unverified identify', async () => {
    const secret = (await admin.req<{ secret: string }>('POST', '/v1/sites/other/secret')).body.secret;
    const v = await visitor(gw, { site: 'other', localAddress: nextAddr() });
    await v.next('synced');
    const visitorId = (await v.next('welcome')).visitorId;
    v.send({ type: 'identify', user: { id: 'user-2', name: 'Real Name', email: 'real@example.com', hash: identityHash(secret, 'user-2') } });
    await sleep(200);
    v.send({ type: 'prechat', name: 'Fake Name', email: 'fake@example.com' });
    v.send({ type: 'identify', user: { id: 'user-2', name: 'Other Fake', email: 'other@example.com' } });
    await v.next('error', (e) => e.code === 'IDENTITY_INVALID');
    await sleep(200);
    const h = await gw.conns.cmd.hgetall(K.visitor(visitorId));
    expect({ name: h.name, email: h.email, userId: h.userId, verified: h.verified }).toEqual({ name: 'Real Name', email: 'real@example.com', userId: 'user-2', verified: '1' });
    v.close();
    await admin.req('DELETE', '/v1/sites/other/secret');
  });
});
