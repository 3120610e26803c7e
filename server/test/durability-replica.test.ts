/**
 * HARK_DURABILITY=replica: a message is acknowledged only after WAIT saw a replica
 * take it; with the replica down the client gets OVERLOADED, resends the same cid
 * once it is back, and the message is stored once.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestGateway, type TestRedis, cid, testGateway, testRedis, visitor } from './harness';

let primary: TestRedis;
let replica: TestRedis;
let gw: TestGateway;

beforeAll(async () => {
  primary = await testRedis();
  replica = await testRedis(['--replicaof', '127.0.0.1', String(primary.port)]);
  gw = await testGateway(primary.url, { config: { durability: 'replica' } });
  await linked();
});

/** Until the replica finished its first sync, WAIT has nobody to count. */
async function linked(): Promise<void> {
  const p = new Redis(primary.url);
  for (let i = 0; i < 100 && !/slave0:.*state=online/.test(await p.info('replication')); i++) await new Promise((r) => setTimeout(r, 100));
  p.disconnect();
}
afterAll(async () => {
  await gw?.close();
  await replica?.cleanup();
  await primary?.cleanup();
});

describe('replicated durability', () => {
  it('acks only what a replica has; without one, OVERLOADED, and the resend stores once', async () => {
    const r = new Redis(replica.url);
    const v = await visitor(gw);
    await v.next('synced');
    const c1 = cid();
    v.send({ type: 'send', cid: c1, text: 'on two machines' });
    const ack = await v.next('ack', (f) => f.cid === c1);
    // 1. The replica holds it the moment the ack arrives.
    const rows = await r.xrange(`{conv:${ack.conv}}:s`, ack.id, ack.id);
    expect(rows).toHaveLength(1);
    r.disconnect();
    // Routing the new conversation appends an event, which waits for the replica too: let it finish first.
    await v.next('conv', (f) => f.conv.id === ack.conv && f.conv.status === 'queued');
    // 2. No replica: the client is told to retry, not acked.
    await replica.stop('SIGKILL');
    const c2 = cid();
    v.send({ type: 'send', cid: c2, text: 'waiting for a replica' });
    expect((await v.next('error', (f) => f.cid === c2, 10_000)).code).toBe('OVERLOADED');
    // The socket closes (1013) so nothing sent behind the failed message overtakes it.
    expect((await v.waitClose()).code).toBe(1013);
    // 3. The replica is back: the client reconnects and resends the same cid: acked, stored once.
    await replica.restart();
    await linked();
    let ack2: { id: string } | undefined;
    for (let i = 0; i < 20 && !ack2; i++) {
      const again = await visitor(gw, { token: v.token, hello: { lastIds: { [ack.conv]: ack.id } } });
      again.send({ type: 'send', cid: c2, text: 'waiting for a replica' });
      ack2 = await again.next('ack', (x) => x.cid === c2, 2_000).catch(() => undefined);
      again.close();
    }
    expect(ack2).toBeDefined();
    const p = new Redis(primary.url);
    const all = await p.xrange(`{conv:${ack.conv}}:s`, '-', '+');
    expect(all.filter(([, f]) => (f[1] ?? '').includes(c2))).toHaveLength(1);
    p.disconnect();
    v.close();
  }, 60_000);
});
