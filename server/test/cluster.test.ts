/**
 * The whole conversation flow on a three-master Redis Cluster with two
 * gateways: routing (least load, then the queue), messages both ways across
 * gateways over sharded pub/sub, resume after a reconnect, and the queue
 * draining when capacity frees up.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendEntry } from '../src/store/conversations';
import { type TestCluster, startCluster } from './cluster-harness';
import { ADMIN, Http, type TestGateway, cid, createOp, operator, testGateway, visitor } from './harness';

let cluster: TestCluster;
let gw1: TestGateway;
let gw2: TestGateway;
let admin: Http;

beforeAll(async () => {
  cluster = await startCluster();
  const redis = { clusterNodes: cluster.addrs };
  gw1 = await testGateway('', { redis });
  gw2 = await testGateway('', { redis });
  admin = new Http(gw1.base);
  await admin.login(ADMIN.email, ADMIN.password);
});
afterAll(async () => {
  await gw1?.close();
  await gw2?.close();
  await cluster?.cleanup();
});

describe('Redis Cluster, two gateways', () => {
  it('uses sharded pub/sub', () => {
    expect(gw1.conns.sharded).toBe(true);
    expect(gw1.conns.publishCmd).toBe('SPUBLISH');
  });

  it('routes, relays both ways, resumes and drains the queue', async () => {
    // 1. Two operators with one seat each, on different gateways.
    const ana = await createOp(admin, { email: 'ana@cluster.test', name: 'Ana', capacity: 1 });
    const bob = await createOp(admin, { email: 'bob@cluster.test', name: 'Bob', capacity: 1 });
    const opA = await operator(gw1, ana.http);
    const opB = await operator(gw2, bob.http);
    opA.send({ type: 'status', status: 'online' });
    opB.send({ type: 'status', status: 'online' });
    await opA.next('status', (f) => f.status === 'online');
    await opB.next('status', (f) => f.status === 'online');

    // 2. A visitor on gateway 2 writes; the conversation goes to someone with the least load.
    const v1 = await visitor(gw2);
    await v1.next('synced');
    const c1 = cid();
    v1.send({ type: 'send', cid: c1, text: 'first visitor' });
    const ack1 = await v1.next('ack', (f) => f.cid === c1);
    const open1 = await v1.next('conv', (f) => f.conv.id === ack1.conv && f.conv.status === 'open');
    const first = open1.conv.operator?.id;
    expect([ana.id, bob.id]).toContain(first);

    // 3. A second visitor, on gateway 1, goes to the other operator (least load wins).
    const v2 = await visitor(gw1);
    await v2.next('synced');
    const c2 = cid();
    v2.send({ type: 'send', cid: c2, text: 'second visitor' });
    const ack2 = await v2.next('ack', (f) => f.cid === c2);
    const open2 = await v2.next('conv', (f) => f.conv.id === ack2.conv && f.conv.status === 'open');
    expect(open2.conv.operator?.id).toBe(first === ana.id ? bob.id : ana.id);

    // 4. A third visitor waits in the queue: both operators are at capacity.
    const v3 = await visitor(gw2);
    await v3.next('synced');
    const c3 = cid();
    v3.send({ type: 'send', cid: c3, text: 'third visitor' });
    const ack3 = await v3.next('ack', (f) => f.cid === c3);
    const queued = await v3.next('conv', (f) => f.conv.id === ack3.conv && f.conv.status === 'queued');
    expect(queued.conv.position).toBe(1);

    // 5. Messages both ways across gateways: a second tab of visitor 1 on the gateway that does not hold
    //    their operator's socket writes, the operator answers, and both tabs get the answer.
    const [opOf1, gwOfOp1] = first === ana.id ? [opA, gw1] : [opB, gw2];
    const far = gwOfOp1 === gw1 ? gw2 : gw1;
    const inbox = await opOf1.next('conv', (f) => f.conv.id === ack1.conv && f.conv.status === 'open');
    expect(inbox.conv.last?.text).toBe('first visitor');
    const tab = await visitor(far, { token: v1.token });
    await tab.next('synced');
    const c1b = cid();
    tab.send({ type: 'send', cid: c1b, text: 'visitor again' });
    await opOf1.next('entry', (f) => f.entry.cid === c1b && f.entry.text === 'visitor again');
    const r1 = cid();
    opOf1.send({ type: 'send', conv: ack1.conv, cid: r1, text: 'operator reply' });
    await opOf1.next('ack', (f) => f.cid === r1);
    for (const t of [v1, tab]) {
      const got = await t.next('entry', (f) => f.entry.from === 'operator' && f.entry.text === 'operator reply');
      expect(got.entry.op?.id).toBe(first);
    }
    tab.close();

    // 6. v1 drops; the operator writes twice; v1 comes back with its last id
    //    (again the far gateway) and gets exactly the two missed entries, then synced.
    const lastSeen = v1.of('entry').at(-1)?.entry.id as string;
    v1.close();
    await v1.waitClose();
    const missed = [cid(), cid()];
    for (const [i, m] of missed.entries()) {
      opOf1.send({ type: 'send', conv: ack1.conv, cid: m, text: `missed ${i}` });
      await opOf1.next('ack', (f) => f.cid === m);
    }
    const back = await visitor(far, { token: v1.token, hello: { lastIds: { [ack1.conv]: lastSeen } } });
    await back.next('synced');
    expect(back.of('entry').map((f) => f.entry.text)).toEqual(['missed 0', 'missed 1']);

    // 7. The operator of v2 resolves it; the queue drains into the freed seat.
    const opOf2 = first === ana.id ? opB : opA;
    opOf2.send({ type: 'resolve', conv: ack2.conv });
    const drained = await v3.next('conv', (f) => f.conv.id === ack3.conv && f.conv.status === 'open', 5000);
    expect(drained.conv.operator?.id).toBe(open2.conv.operator?.id);

    // 8. Keys and shard channels really are spread over the cluster: more than one master holds each.
    const perNode = await Promise.all(
      cluster.nodes.map(async (n) => {
        const r = new Redis(n.port, '127.0.0.1');
        try {
          return { keys: await r.dbsize(), channels: ((await r.call('PUBSUB', 'SHARDCHANNELS')) as string[]).length };
        } finally {
          r.disconnect();
        }
      }),
    );
    expect(perNode.filter((n) => n.keys > 0).length).toBeGreaterThan(1);
    expect(perNode.filter((n) => n.channels > 0).length).toBeGreaterThan(1);
    for (const c of [back, v2, v3, opA, opB]) c.close();
  });

  it('catches up after the sharded subscriber connections are cut', async () => {
    const cy = await createOp(admin, { email: 'cy@cluster.test', name: 'Cy', capacity: 5 });
    const op = await operator(gw1, cy.http);
    op.send({ type: 'status', status: 'online' });
    await op.next('status', (f) => f.status === 'online');
    const v = await visitor(gw2);
    await v.next('synced');
    const c = cid();
    v.send({ type: 'send', cid: c, text: 'hello from a visitor' });
    const ack = await v.next('ack', (f) => f.cid === c);
    await v.next('conv', (f) => f.conv.id === ack.conv && f.conv.operator?.id === cy.id);

    // 1. Every subscriber connection on every master is cut (what an output-buffer limit does),
    // 2. and an answer is stored at once, before ioredis has resubscribed: only the stream has it.
    const admins = cluster.nodes.map((n) => new Redis(n.port, '127.0.0.1'));
    await Promise.all(admins.map((a) => a.client('KILL', 'TYPE', 'pubsub')));
    await appendEntry(gw1.conns, { conv: ack.conv, at: Date.now(), kind: 'msg', from: 'operator', text: 'sent during the gap', cid: cid(), op: { id: cy.id, name: 'Cy' } }, 'operator');
    for (const a of admins) a.disconnect();
    // 3. Gateway 2 resubscribes, reads the gap from the stream, and the visitor gets it once.
    const got = await v.next('entry', (f) => f.entry.text === 'sent during the gap', 10_000);
    expect(got.entry.op?.id).toBe(cy.id);
    const r2 = cid();
    op.send({ type: 'send', conv: ack.conv, cid: r2, text: 'live again' });
    await v.next('entry', (f) => f.entry.text === 'live again', 10_000);
    expect(v.of('entry').filter((f) => f.entry.text === 'sent during the gap')).toHaveLength(1);
    v.close();
    op.close();
  });

  it('capacity is the operator\'s across sites in other slots: capacity 1 on two sites holds one chat, the other waits for it', async () => {
    // Two sites whose routing keys hash to slots on different masters, and the operator's ledger in a third slot.
    for (const id of ['clx', 'cly']) expect((await admin.req('POST', '/v1/sites', { id, name: id, origins: [gw1.base, gw2.base] })).status).toBe(201);
    const cleo = await createOp(admin, { email: 'cleo@cluster.test', name: 'Cleo', capacity: 1, sites: ['clx', 'cly'] });
    const slot = async (key: string) => Number(await gw1.conns.cmd.call('CLUSTER', 'KEYSLOT', key));
    const slots = await Promise.all(['{site:clx}:assign', '{site:cly}:assign', `{op:${cleo.id}}:seats`].map(slot));
    expect(new Set(slots).size).toBe(3);
    const op = await operator(gw1, cleo.http);
    op.send({ type: 'status', status: 'online' });
    await op.next('status', (f) => f.status === 'online');

    const chat = async (site: string, g: TestGateway) => {
      const v = await visitor(g, { site });
      await v.next('synced');
      const c = cid();
      v.send({ type: 'send', cid: c, text: `on ${site}` });
      return { v, conv: (await v.next('ack', (f) => f.cid === c)).conv };
    };
    // Both at once, from both gateways: exactly one is hers, the other waits.
    const [x, y] = await Promise.all([chat('clx', gw1), chat('cly', gw2)]);
    const first = await Promise.race([x, y].map((c) => c.v.next('conv', (f) => f.conv.id === c.conv && f.conv.status === 'open').then(() => c)));
    const other = first === x ? y : x;
    await other.v.next('conv', (f) => f.conv.id === other.conv && f.conv.status === 'queued');
    await new Promise((r) => setTimeout(r, 300));
    expect(other.v.of('conv').some((f) => f.conv.id === other.conv && f.conv.status === 'open')).toBe(false);

    // Resolved on one site, her seat takes the chat waiting on the other.
    op.send({ type: 'resolve', conv: first.conv });
    const got = await other.v.next('conv', (f) => f.conv.id === other.conv && f.conv.status === 'open');
    expect(got.conv.operator?.name).toBe('Cleo');
    expect(await gw1.conns.cmd.hlen(`{op:${cleo.id}}:seats`)).toBe(1);
    op.send({ type: 'resolve', conv: other.conv });
    await other.v.next('conv', (f) => f.conv.id === other.conv && f.conv.status === 'resolved');
    for (const c of [x.v, y.v, op]) c.close();
  });
});
