/**
 * Delivery under gateway faults, checked by the accounting checker: 200 visitors
 * (20 of them with a second tab) and 5 operators on two gateway processes.
 */
import { OFFLINE_GRACE_MS, PRESENCE_TTL_MS, compareStreamIds } from '@hark/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { K } from '../src/store/keys';
import { sleep } from '../test/harness';
import { SimVisitor, isClean, settle, spawnGateway } from './accounting';
import { type Fleet, cohort, endScenario, startFleet, traffic, waitFor } from './fleet';
import { note, record } from './report';

const VISITORS = 200;
/** "Offline for minutes": long enough for every time-based path of the gateways to run meanwhile (presence renewals and sweeps every 5 s, an operator's lease lapsing and the 30 s offline grace, heartbeats every 25 s). */
const OFFLINE_FOR_MS = 120_000;
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

  it('a visitor offline for minutes typing five messages, then reloading: five messages, once each, in order', async () => {
    const t0 = Date.now();
    // The rest of the fleet: 100 visitors (10 with a second tab) who keep chatting while the 20 below are away.
    const rest = await cohort(f, 100);
    // 20 visitors, 5 of them with a second tab that stays open throughout.
    const c = await cohort(f, 20, 4);
    const all = { visitors: [...rest.visitors, ...c.visitors], tabs: [...rest.tabs, ...c.tabs], stop() {} };
    await traffic(f, all, 2000);
    const before = await settle(f.r, all.visitors, all.tabs, f.ops);
    expect(before.problems).toEqual([]);
    // 1. They go offline (the socket dies, the page stays) and write five messages each into the outbox.
    const offline = new Map<SimVisitor, string[]>();
    for (const v of c.visitors) {
      v.stop();
      offline.set(v, [1, 2, 3, 4, 5].map((i) => v.say(`offline message ${i}`)));
    }
    // 2. Minutes pass with the rest of the fleet chatting; the operators keep answering in every chat of
    // theirs, these included. Meanwhile one operator closes the console until the sweeper has set them
    // offline (lease lapsed, grace over) and given their chats to the others, then comes back.
    const away = f.ops[4];
    if (!away) throw new Error('no fifth operator');
    let lapsedAfter = 0;
    let handedOver = 0;
    let released = 0;
    let awayHad: string[] = [];
    let sentAsClosing: string | undefined;
    let typedAway: string | undefined;
    let cameBack = 0;
    await traffic(f, rest, OFFLINE_FOR_MS, {
      visitorEveryMs: 5000,
      during: async () => {
        await sleep(5000);
        // The gateways let go of the visitors with no tab left open: their visitor channels are unsubscribed everywhere.
        const tabbed = new Set(c.tabs.map((t) => t.token));
        for (const v of c.visitors) {
          if (tabbed.has(v.token)) continue;
          for (const conv of v.convs) {
            const vid = await f.r.hget(K.conv(conv), 'visitor');
            if (vid && Number(((await f.r.call('PUBSUB', 'NUMSUB', K.visitorChannel(vid))) as [string, number])[1]) === 0) released++;
          }
        }
        const had = [...away.mine];
        awayHad = had;
        // As the console closes, an answer has just gone out (its ack dies with the socket), and one more
        // is typed while it is away; the console keeps both pending and sends them again when it is back.
        const [first, second] = had;
        if (first) sentAsClosing = away.answer(first, 'sent as the console closed');
        away.stop();
        if (second ?? first) typedAway = away.answer((second ?? first) as string, 'typed while away');
        const t1 = Date.now();
        const until = t1 + OFFLINE_GRACE_MS + PRESENCE_TTL_MS + 30_000;
        while ((await f.r.hget(K.operator(away.id), 'status')) !== 'offline') {
          if (Date.now() > until) throw new Error('the sweeper did not set the operator offline');
          await sleep(250);
        }
        lapsedAfter = Date.now() - t1;
        // The same sweep then gives its chats back to the queue, and routing to the operators still online.
        const mine = async () => (await Promise.all(had.map((conv) => f.r.hget(K.conv(conv), 'op')))).filter((op) => op === away.id).length;
        while ((await mine()) > 0) {
          if (Date.now() > until) throw new Error('the sweeper did not give the chats of the operator away');
          await sleep(250);
        }
        handedOver = had.length;
        cameBack = Date.now();
        away.start();
      },
    });
    // 3. The page reloads: a new client with the same token and the outbox it kept (same cids), nothing cached.
    const reloaded: SimVisitor[] = [];
    for (const v of c.visitors) {
      const n = new SimVisitor(f.targets, v.token, true);
      n.outbox.push(...v.outbox.map((o) => ({ ...o, sentAt: 0 })));
      n.order.push(...v.order.filter((cid) => !v.acked.has(cid)));
      reloaded.push(n);
      n.start();
    }
    const visitors = [...rest.visitors, ...reloaded];
    const rep = await settle(f.r, visitors, all.tabs, f.ops, 60_000);
    record('offline-minutes-five-then-reload', rep, Date.now() - t0);
    const fate = (cid: string | undefined) => (cid ? (away.acked.has(cid) ? 'acknowledged' : away.refused.some((x) => x.cid === cid) ? 'refused' : 'pending') : 'not written');
    note(
      `offline-minutes-five-then-reload: 20 visitors offline ${OFFLINE_FOR_MS / 1000} s while 110 clients chatted on; operator ${away.id} away until the sweeper set it offline ${(lapsedAfter / 1000).toFixed(1)} s after its console closed, ${handedOver} of its chats given to others; its answer sent as the console closed ${fate(sentAsClosing)}, the one typed while away ${fate(typedAway)}; refused for good: ${JSON.stringify(away.refused)}; ${released} visitor channels of visitors with no tab left unsubscribed`,
    );
    expect(rep.problems).toEqual([]);
    expect(isClean(rep)).toBe(true);
    expect(lapsedAfter).toBeGreaterThanOrEqual(OFFLINE_GRACE_MS);
    expect(handedOver).toBeGreaterThan(0);
    // Refused for good, and only these: answers the operator who was away had written before it came back
    // (the one typed while away among them) into chats handed to a colleague meanwhile, none of them stored.
    // Every other message was acknowledged: no chat was resolved, and after its return the operator answers
    // only in chats that are its own.
    expect(rep.queued - rep.acked).toBe(rep.refused);
    expect([...visitors, ...all.tabs, ...f.ops].filter((x) => x !== away).flatMap((x) => x.refused)).toEqual([]);
    expect(away.refused.map((x) => x.cid)).toContain(typedAway);
    for (const x of away.refused) {
      expect(x.code).toBe('CONVERSATION_NOT_FOUND');
      expect(x.queuedAt).toBeLessThan(cameBack);
      expect(awayHad).toContain(x.conv);
      const heir = await f.r.hget(K.conv(x.conv as string), 'op');
      expect(heir && heir !== away.id && f.ops.some((o) => o.id === heir)).toBe(true);
      expect(await f.r.hget(K.convCids(x.conv as string), x.cid)).toBeNull();
    }
    // The answer that went out as the console closed was either stored (and then acknowledged on the resend,
    // though the chat is a colleague's by then) or never arrived (and then refused): never both, never lost.
    expect(['acknowledged', 'refused']).toContain(fate(sentAsClosing));
    expect(released).toBe(c.visitors.filter((v) => !c.tabs.some((t) => t.token === v.token)).reduce((k, v) => k + v.convs.size, 0));
    // Every offline message stored once, in the order written, and acknowledged to the reloaded page.
    for (const [v, cids] of offline) {
      const n = reloaded[c.visitors.indexOf(v)] as SimVisitor;
      const ids = cids.map((cid) => n.acked.get(cid)?.id);
      expect(ids.every((id) => id !== undefined)).toBe(true);
      expect([...ids].sort((a, b) => compareStreamIds(a as string, b as string))).toEqual(ids);
    }
    expect(reloaded.reduce((k, n) => k + n.acked.size, 0)).toBe(20 * 5);
    // The chats handed over are no longer the returning operator's to resolve.
    for (const conv of [...away.mine]) if ((await f.r.hget(K.conv(conv), 'op')) !== away.id) away.mine.delete(conv);
    await endScenario(f, {
      visitors,
      tabs: all.tabs,
      stop() {
        rest.stop();
        for (const x of [...reloaded, ...c.tabs]) x.stop();
      },
    });
  });
});
