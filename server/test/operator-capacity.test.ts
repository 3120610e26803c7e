/**
 * Capacity is the operator's, across every site they serve (issue #13, item 3): routing state is
 * per site (one slot each), the seat ledger per operator ({op:O}:seats, another slot), and an
 * assignment reserves a seat first. Two sites, two gateways on one Redis; what a gateway that died
 * between the two steps leaves behind is reconciled by the seat repair.
 */
import { describe, expect, it } from 'vitest';
import { SEAT_INFLIGHT_MS, SEAT_REPAIR_GRACE_MS } from '../src/domain/routing';
import { K } from '../src/store/keys';
import { releaseSeat, reserveSeat, routeOp, seatsOf } from '../src/store/routing';
import { type Http, type TestGateway, cid, createOp, newChat, operator, sleep, visitor, waitFor } from './harness';
import { useStack } from './stack';

const s = useStack(2);

async function online(http: Http, g: TestGateway = s.gw) {
  const o = await operator(g, http);
  o.send({ type: 'status', status: 'online' });
  await o.next('status', (f) => f.status === 'online');
  return o;
}

async function secondSite(id: string) {
  const r = await s.admin.req('POST', '/v1/sites', { id, name: id, origins: [s.gw.base, s.gw2.base] });
  expect(r.status).toBe(201);
}

const chatOn = async (site: string, g: TestGateway, text: string) => {
  const v = await visitor(g, { site });
  await v.next('synced');
  const c = cid();
  v.send({ type: 'send', cid: c, text });
  const ack = await v.next('ack', (f) => f.cid === c);
  return { v, conv: ack.conv };
};

const assignedTo = async (site: string, op: string) => Object.entries(await s.gw.conns.cmd.hgetall(K.siteAssign(site))).filter(([, o]) => o === op).map(([c]) => c);

describe('operator-wide capacity', () => {
  it('capacity 1 on two sites: one chat; the other site waits and gets them when the first is resolved', async () => {
    await secondSite('shop');
    const ana = await createOp(s.admin, { email: 'ana@cap.test', name: 'Ana', capacity: 1, sites: ['demo', 'shop'] });
    const o = await online(ana.http);

    const a = await chatOn('demo', s.gw, 'on demo');
    const openA = await a.v.next('conv', (f) => f.conv.id === a.conv && f.conv.status === 'open');
    expect(openA.conv.operator?.name).toBe('Ana');

    // The old per-site capacity gave her this one too (each site counted only its own chats).
    const b = await chatOn('shop', s.gw2, 'on shop');
    const waitB = await b.v.next('conv', (f) => f.conv.id === b.conv && f.conv.status === 'queued');
    expect(waitB.conv.position).toBe(1);
    await sleep(300);
    expect(await assignedTo('shop', ana.id)).toEqual([]);
    expect(await s.gw.conns.cmd.hlen(K.opSeats(ana.id))).toBe(1);
    // Her load as colleagues see it is hers, across sites.
    const me = await s.gw.ctx.domain.operators.get(ana.id);
    const seen = me && (await s.gw.ctx.domain.operators.presenceFor(me)).find((x) => x.id === ana.id);
    expect(seen).toMatchObject({ load: 1, capacity: 1 });

    // Resolving on demo frees her one seat: the chat waiting on shop is hers.
    o.send({ type: 'resolve', conv: a.conv });
    const openB = await b.v.next('conv', (f) => f.conv.id === b.conv && f.conv.status === 'open');
    expect(openB.conv.operator?.name).toBe('Ana');
    expect(await assignedTo('shop', ana.id)).toEqual([b.conv]);
    expect(await s.gw.conns.cmd.hlen(K.opSeats(ana.id))).toBe(1);

    o.send({ type: 'resolve', conv: b.conv });
    await b.v.next('conv', (f) => f.conv.id === b.conv && f.conv.status === 'resolved');
    await waitFor('her seat back', async () => (await s.gw.conns.cmd.hlen(K.opSeats(ana.id))) === 0);
    o.send({ type: 'status', status: 'offline' });
    await o.next('status', (f) => f.status === 'offline');
    for (const x of [a.v, b.v, o]) x.close();
  });

  it('two gateways and two sites racing for one operator never exceed their capacity, and every path gives the seat back', async () => {
    await secondSite('shop2');
    const bo = await createOp(s.admin, { email: 'bo@cap.test', name: 'Bo', capacity: 2, sites: ['demo', 'shop2'] });
    const o = await online(bo.http, s.gw2);
    const cmd = s.gw.conns.cmd;
    const racers = await Promise.all(Array.from({ length: 12 }, (_, i) => chatOn(i % 3 ? 'demo' : 'shop2', i % 2 ? s.gw2 : s.gw, `race ${i}`)));
    await waitFor('the drains to settle', async () => (await cmd.zcard(K.siteQueue('demo'))) + (await cmd.zcard(K.siteQueue('shop2'))) === 10);
    await sleep(300);
    const mine = [...(await assignedTo('demo', bo.id)), ...(await assignedTo('shop2', bo.id))];
    expect(mine).toHaveLength(2);
    expect(await cmd.hlen(K.opSeats(bo.id))).toBe(2);
    expect((await seatsOf(s.gw.conns, bo.id)).map((x) => x.conv).sort()).toEqual([...mine].sort());

    // A transfer to a colleague: the seat goes with the chat, and Bo's freed one takes the oldest waiting chat.
    const cat = await createOp(s.admin, { email: 'cat@cap.test', name: 'Cat', capacity: 5, sites: ['demo', 'shop2'] });
    const first = mine[0] as string;
    o.send({ type: 'transfer', conv: first, to: cat.id });
    await waitFor('the transfer', async () => (await cmd.hlen(K.opSeats(cat.id))) === 1);
    expect((await seatsOf(s.gw.conns, cat.id)).map((x) => x.conv)).toEqual([first]);
    await waitFor('the drain after the transfer', async () => (await cmd.hlen(K.opSeats(bo.id))) === 2);
    const now = [...(await assignedTo('demo', bo.id)), ...(await assignedTo('shop2', bo.id))];
    expect(now).toHaveLength(2);
    expect(now).not.toContain(first);

    // Resolving gives every seat back, and each freed seat takes the next waiting chat of either site.
    for (let round = 0; round < 12; round++) {
      const held = [...(await assignedTo('demo', bo.id)), ...(await assignedTo('shop2', bo.id))];
      if (!held.length) break;
      for (const c of held) o.send({ type: 'resolve', conv: c });
      await waitFor('resolved', async () => {
        const h = [...(await assignedTo('demo', bo.id)), ...(await assignedTo('shop2', bo.id))];
        return !held.some((c) => h.includes(c));
      });
      expect(await cmd.hlen(K.opSeats(bo.id))).toBeLessThanOrEqual(2);
    }
    expect(await cmd.zcard(K.siteQueue('demo')) + (await cmd.zcard(K.siteQueue('shop2')))).toBe(0);
    await waitFor('no seat left', async () => (await cmd.hlen(K.opSeats(bo.id))) === 0);
    // Cat's transferred chat, resolved by her through the API of the domain: her seat comes back too.
    const catOp = await s.gw.ctx.domain.operators.get(cat.id);
    const m = await s.gw.ctx.domain.conversations.meta(first);
    if (catOp && m) await s.gw.ctx.domain.conversations.resolveBy(catOp, m);
    expect(await cmd.hlen(K.opSeats(cat.id))).toBe(0);
    o.send({ type: 'status', status: 'offline' });
    await o.next('status', (f) => f.status === 'offline');
    o.close();
    for (const r of racers) r.v.close();
  });

  it('a gateway that died between reserving and assigning: the repair frees the seat and the waiting chat is assigned', async () => {
    const cy = await createOp(s.admin, { email: 'cy@cap.test', name: 'Cy', capacity: 1 });
    // The dead gateway's reservation: in the ledger, backing no assignment (it never committed).
    const at = Date.now();
    expect(await reserveSeat(s.gw.conns, cy.id, { token: 'dead-gw', site: 'demo', conv: 'never-committed', at }, 1)).toBe(true);
    const o = await online(cy.http);
    const c = await newChat(s.gw, 'anyone?');
    expect(c.state.status).toBe('queued');
    await sleep(200);
    expect(await assignedTo('demo', cy.id)).toEqual([]);

    // Within the grace the repair leaves it (it may still be in flight); after it, it is dropped.
    const presence = s.gw.ctx.domain.presence;
    expect((await presence.repairSeats(at + 1000)).dropped).toBe(0);
    expect((await presence.repairSeats(at + SEAT_REPAIR_GRACE_MS + 1)).dropped).toBe(1);
    const open = await c.v.next('conv', (f) => f.conv.id === c.conv && f.conv.status === 'open');
    expect(open.conv.operator?.name).toBe('Cy');
    const seats = await seatsOf(s.gw.conns, cy.id);
    expect(seats.map((x) => x.conv)).toEqual([c.conv]);

    // A lost ledger entry (a write lost in a failover): the repair puts it back from the site's truth.
    await releaseSeat(s.gw.conns, cy.id, seats[0]?.token as string);
    expect(await s.gw.conns.cmd.hlen(K.opSeats(cy.id))).toBe(0);
    expect((await presence.repairSeats()).added).toBe(1);
    expect((await seatsOf(s.gw.conns, cy.id)).map((x) => x.token)).toEqual([seats[0]?.token]);
    // An assignment with no seat token at all (as a gateway of the previous version makes one):
    // the repair gives it a token and the seat, and the old entry backing nothing goes after the grace.
    await s.gw.conns.cmd.hdel(K.siteSeat('demo'), c.conv);
    expect((await presence.repairSeats()).added).toBe(1);
    const token = await s.gw.conns.cmd.hget(K.siteSeat('demo'), c.conv);
    expect(token).toMatch(/^r/);
    expect((await presence.repairSeats(Date.now() + SEAT_REPAIR_GRACE_MS + 1)).dropped).toBe(1);
    expect((await seatsOf(s.gw.conns, cy.id)).map((x) => x.token)).toEqual([token]);
    // Nothing left to do: the repair is idempotent.
    expect(await presence.repairSeats(Date.now() + SEAT_REPAIR_GRACE_MS + 1)).toEqual({ added: 0, dropped: 0 });

    o.send({ type: 'resolve', conv: c.conv });
    await c.v.next('conv', (f) => f.conv.id === c.conv && f.conv.status === 'resolved');
    o.send({ type: 'status', status: 'offline' });
    await o.next('status', (f) => f.status === 'offline');
    o.close();
    c.v.close();
  });

  it('a reservation that lost its race made a drain see its operator full: the repair pass drains every site, so the chat is not forgotten', async () => {
    const eve = await createOp(s.admin, { email: 'eve@cap.test', name: 'Eve', capacity: 1 });
    const o = await online(eve.http);
    // Another gateway's reservation in flight (fresh: the repair keeps it) fills Eve's one seat…
    expect(await reserveSeat(s.gw.conns, eve.id, { token: 'in-flight', site: 'demo', conv: 'racing', at: Date.now() }, 1)).toBe(true);
    const c = await newChat(s.gw, 'waiting behind a race');
    expect(c.state.status).toBe('queued');
    // …then loses its commit and is given back, without a drain of this site (it raced elsewhere).
    await releaseSeat(s.gw.conns, eve.id, 'in-flight');
    await sleep(200);
    // Another drain (a job, a lease renewal) may already have given it to her under load (CI, once);
    // if none has, the repair pass must.
    if ((await assignedTo('demo', eve.id)).length === 0) expect(await s.gw.ctx.domain.presence.repairSeats()).toEqual({ added: 0, dropped: 0 });
    const open = await c.v.next('conv', (f) => f.conv.id === c.conv && f.conv.status === 'open');
    expect(open.conv.operator?.name).toBe('Eve');
    o.send({ type: 'resolve', conv: c.conv });
    await c.v.next('conv', (f) => f.conv.id === c.conv && f.conv.status === 'resolved');
    o.send({ type: 'status', status: 'offline' });
    await o.next('status', (f) => f.status === 'offline');
    o.close();
    c.v.close();
  });

  it('the site refuses to commit a reservation older than SEAT_INFLIGHT_MS (one the repair may already have dropped)', async () => {
    const dee = await createOp(s.admin, { email: 'dee@cap.test', name: 'Dee', capacity: 1 });
    const c = await newChat(s.gw, 'stale?');
    expect(c.state.status).toBe('queued');
    const o = await online(dee.http);
    await c.v.next('conv', (f) => f.conv.id === c.conv && f.conv.status === 'open');
    o.send({ type: 'status', status: 'away' });
    await o.next('status', (f) => f.status === 'away');
    const c2 = await newChat(s.gw, 'me next');
    expect(c2.state.status).toBe('queued');
    o.send({ type: 'status', status: 'online' });
    await o.next('status', (f) => f.status === 'online');
    // Straight at the script, for the waiting chat and an online operator: stale is refused whatever else holds.
    const now = Date.now();
    expect(await routeOp(s.gw.conns, 'demo', 'commit', c2.conv, dee.id, 'late', String(now - SEAT_INFLIGHT_MS - 1), String(SEAT_INFLIGHT_MS))).toEqual(['refused', 'stale']);
    // A chat that is not waiting is refused too (the other gateway's commit won).
    expect(await routeOp(s.gw.conns, 'demo', 'commit', c.conv, dee.id, 'late', String(now), String(SEAT_INFLIGHT_MS))).toEqual(['refused', 'conv']);
    expect(await assignedTo('demo', dee.id)).toEqual([c.conv]);
    o.send({ type: 'resolve', conv: c.conv });
    await c2.v.next('conv', (f) => f.conv.id === c2.conv && f.conv.status === 'open');
    o.send({ type: 'resolve', conv: c2.conv });
    await c2.v.next('conv', (f) => f.conv.id === c2.conv && f.conv.status === 'resolved');
    o.send({ type: 'status', status: 'offline' });
    await o.next('status', (f) => f.status === 'offline');
    o.close();
    c.v.close();
    c2.v.close();
  });
});
