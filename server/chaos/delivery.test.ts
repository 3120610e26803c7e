/**
 * Delivery under gateway faults, checked by the accounting checker: 200 visitors
 * (20 of them with a second tab) and 5 operators on two gateway processes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../test/harness';
import { SimVisitor, isClean, settle, spawnGateway } from './accounting';
import { type Fleet, cohort, endScenario, startFleet, traffic, waitFor } from './fleet';
import { record } from './report';

const VISITORS = 200;
let f: Fleet;

beforeAll(async () => {
  f = await startFleet({ gateways: 2, operators: 5 });
}, 120_000);
afterAll(async () => {
  await f?.close();
});

async function check(name: string, c: { visitors: SimVisitor[]; tabs: SimVisitor[] }, t0: number) {
  const rep = await settle(f.r, c.visitors, c.tabs, f.ops);
  record(name, rep, Date.now() - t0);
  expect(rep.problems).toEqual([]);
  expect(isClean(rep)).toBe(true);
  return rep;
}

describe('delivery under gateway faults', () => {
  it('duplicate sends: acks dropped and every send written three times are stored once', async () => {
    const t0 = Date.now();
    const c = await cohort(f, VISITORS, 10, { dropAcks: 0.5, copies: 3 });
    for (const o of f.ops) Object.assign(o, { opts: { dropAcks: 0.5, copies: 3 } });
    await traffic(f, c, 8000, { visitorEveryMs: 2500 });
    const rep = await check('duplicate-sends', c, t0);
    expect(rep.acksDropped).toBeGreaterThan(100);
    for (const o of f.ops) Object.assign(o, { opts: {} });
    await endScenario(f, c);
  });

  it('two reconnects in a row with no new traffic replay nothing', async () => {
    const t0 = Date.now();
    const c = await cohort(f, VISITORS);
    await traffic(f, c, 5000);
    await settle(f.r, c.visitors, c.tabs, f.ops);
    const all = [...c.visitors, ...c.tabs, ...f.ops];
    for (let round = 0; round < 2; round++) {
      const before = all.map((x) => x.connects);
      for (const x of all) x.cut();
      await waitFor(() => all.every((x, i) => x.connects > (before[i] ?? 0) && x.synced), 30_000, `reconnect round ${round + 1}`);
      await sleep(500);
    }
    await check('two-reconnects', c, t0);
    await endScenario(f, c);
  });

  it('a gateway killed with SIGKILL mid-traffic: its clients resume on the other one', async () => {
    const t0 = Date.now();
    const c = await cohort(f, VISITORS);
    await traffic(f, c, 12_000, {
      during: async () => {
        await sleep(4000);
        const victim = f.gws[1];
        if (!victim) throw new Error('no second gateway');
        f.targets.list = f.targets.list.filter((t) => t !== victim.target);
        await victim.kill('SIGKILL');
        await sleep(3000);
        const fresh = await spawnGateway(f.redisUrl, victim.port);
        f.gws[1] = fresh;
        f.targets.list.push(fresh.target);
      },
    });
    const rep = await check('gateway-sigkill', c, t0);
    expect(rep.reconnects).toBeGreaterThan(50);
    await endScenario(f, c);
  });

  it('a rolling restart (drain with 1012, clients reconnect with jittered backoff) loses nothing', async () => {
    const t0 = Date.now();
    const c = await cohort(f, VISITORS);
    await traffic(f, c, 14_000, {
      during: async () => {
        for (let i = 0; i < f.gws.length; i++) {
          await sleep(2000);
          const g = f.gws[i];
          if (!g) continue;
          f.targets.list = f.targets.list.filter((t) => t !== g.target);
          await g.kill('SIGTERM');
          const fresh = await spawnGateway(f.redisUrl, g.port);
          f.gws[i] = fresh;
          f.targets.list.push(fresh.target);
        }
      },
    });
    const rep = await check('rolling-restart', c, t0);
    expect(rep.closeCodes['1012']).toBeGreaterThan(50);
    await endScenario(f, c);
  });

  it('a visitor offline typing five messages, then reloading: five messages, once each, in order', async () => {
    const t0 = Date.now();
    const c = await cohort(f, 20, 1000);
    await traffic(f, c, 2000);
    await settle(f.r, c.visitors, [], f.ops);
    const reloaded: SimVisitor[] = [];
    for (const v of c.visitors) {
      v.stop();
      for (let i = 1; i <= 5; i++) v.say(`offline message ${i}`);
    }
    await sleep(3000);
    // 1. The page reloads: a new client with the same token and the outbox it kept (same cids), no entries cached.
    for (const v of c.visitors) {
      const n = new SimVisitor(f.targets, v.token, true);
      n.outbox.push(...v.outbox.map((o) => ({ ...o, sentAt: 0 })));
      n.order.push(...v.order.filter((cid) => !v.acked.has(cid)));
      reloaded.push(n);
      n.start();
    }
    const rep = await settle(f.r, reloaded, [], f.ops);
    record('offline-five-then-reload', rep, Date.now() - t0);
    expect(rep.problems).toEqual([]);
    expect(isClean(rep)).toBe(true);
    expect(reloaded.reduce((n, v) => n + v.acked.size, 0)).toBe(20 * 5);
    for (const n of reloaded) n.stop();
    await endScenario(f, c);
  });
});
