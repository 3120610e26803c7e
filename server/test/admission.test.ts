/**
 * Admission of visitor sockets (realtime/admission.ts): a visitor's upgrade and first hello hold
 * one of a bounded number of turns, a bounded number wait for one, and the rest are refused at
 * once with 503 BUSY and Retry-After, before anything is read from Redis, so that in a reconnect
 * storm a refused client goes to another gateway. The gateway's numbers are lowered with the
 * test-only option (the product's are HELLOS_IN_FLIGHT, HELLOS_WAITING, HELLO_WAIT_MS).
 */
import { HELLO_RETRY_AFTER_S, HELLO_WAIT_MS, HELLOS_IN_FLIGHT, HELLOS_WAITING, randomId } from '@hark/shared';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestGateway, type TestRedis, VisitorClient, sleep, testGateway, testRedis, visitor } from './harness';

let redis: TestRedis;
let gw: TestGateway;
const WAIT_MS = 1_500;

beforeAll(async () => {
  redis = await testRedis();
  gw = await testGateway(redis.url, { testLimits: { admission: { inFlight: 2, waiting: 1, waitMs: WAIT_MS } } });
});
afterAll(async () => {
  await gw?.close();
  await redis?.cleanup();
});

interface Upgrade {
  ws: WebSocket;
  /** Settles when the upgrade is answered: opened, or refused with its status, code and Retry-After. */
  result: Promise<{ open: true } | { status: number; code: string; retryAfter: string | undefined }>;
}

function upgrade(token = randomId(32)): Upgrade {
  const ws = new WebSocket(`${gw.wsBase}/v1/visitor?v=1&site=demo&token=${token}&new=1`, { headers: { origin: gw.base } });
  const result = new Promise<{ open: true } | { status: number; code: string; retryAfter: string | undefined }>((res) => {
    ws.once('open', () => res({ open: true }));
    ws.once('unexpected-response', (_req, resp) => {
      let body = '';
      resp.on('data', (b: Buffer) => {
        body += b.toString();
      });
      resp.on('end', () => res({ status: resp.statusCode ?? 0, code: (JSON.parse(body || '{}') as { code?: string }).code ?? '', retryAfter: resp.headers['retry-after'] as string | undefined }));
    });
    ws.once('error', () => {});
  });
  return { ws, result };
}

const settled = (p: Promise<unknown>, ms: number) => Promise.race([p.then(() => true), sleep(ms).then(() => false)]);

const refusals = async () => Number(/^hark_admission_refused_total (\d+)$/m.exec(await (await fetch(`${gw.base}/metrics`)).text())?.[1]);

describe('admission of visitor sockets', () => {
  it('the product numbers', () => {
    expect([HELLOS_IN_FLIGHT, HELLOS_WAITING, HELLO_WAIT_MS, HELLO_RETRY_AFTER_S]).toEqual([256, 1_024, 2_000, 1]);
  });

  it('holds a turn from the upgrade to the first hello; one more waits; past that 503 BUSY at once; a hello answered lets the waiting one in', async () => {
    const before = await refusals();
    // Two upgrades that have not said hello yet hold both turns.
    const a = await visitor(gw, { hello: false });
    const b = await visitor(gw, { hello: false });
    // The third waits for a turn: not answered yet.
    const c = upgrade();
    expect(await settled(c.result, 300)).toBe(false);
    // The fourth finds the wait full: refused at once, with the code and Retry-After.
    const t0 = performance.now();
    const d = upgrade();
    expect(await d.result).toEqual({ status: 503, code: 'BUSY', retryAfter: String(HELLO_RETRY_AFTER_S) });
    expect(performance.now() - t0).toBeLessThan(WAIT_MS);
    expect(await refusals()).toBe(before + 1);
    // a's hello is answered: its turn goes to the waiting upgrade, which opens and works.
    a.send({ type: 'hello', lastIds: {} });
    await a.next('synced');
    expect(await c.result).toEqual({ open: true });
    const cc = new VisitorClient(c.ws);
    cc.send({ type: 'hello', lastIds: {} });
    await cc.next('synced');
    // b never says hello, but closing gives its turn back: two new visitors get in (turns are free again).
    b.close();
    await b.waitClose();
    await sleep(100);
    const e = await visitor(gw);
    await e.next('synced');
    const f = await visitor(gw);
    await f.next('synced');
    // Sockets already admitted are not limited (the turns are only for upgrade and hello): a says hello again.
    a.send({ type: 'hello', lastIds: {} });
    await a.next('synced', () => true, 5000, a.frames.findIndex((x) => x.type === 'synced') + 1);
    for (const x of [a, cc, e, f]) x.close();
  });

  it('an upgrade that waits longer than its wait is refused BUSY, and the turn is not lost', async () => {
    const a = await visitor(gw, { hello: false });
    const b = await visitor(gw, { hello: false });
    const before = await refusals();
    const t0 = performance.now();
    const c = upgrade();
    expect(await c.result).toMatchObject({ status: 503, code: 'BUSY' });
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(WAIT_MS - 50);
    expect(waited).toBeLessThan(WAIT_MS + 2_000);
    expect(await refusals()).toBe(before + 1);
    a.close();
    b.close();
    await Promise.all([a.waitClose(), b.waitClose()]);
    await sleep(100);
    const d = await visitor(gw);
    await d.next('synced');
    d.close();
  });

  it('a refused upgrade (unknown site) gives its turn back at once', async () => {
    for (let i = 0; i < 5; i++) {
      const ws = new WebSocket(`${gw.wsBase}/v1/visitor?v=1&site=nope&token=${randomId(32)}&new=1`, { headers: { origin: gw.base } });
      const status = await new Promise<number>((res) => {
        ws.once('unexpected-response', (_q, r) => res(r.statusCode ?? 0));
        ws.once('open', () => res(101));
        ws.once('error', () => {});
      });
      expect(status).toBe(404);
    }
    const a = await visitor(gw);
    const b = await visitor(gw);
    await Promise.all([a.next('synced'), b.next('synced')]);
    a.close();
    b.close();
  });
});
