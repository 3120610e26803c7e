/**
 * Scenario 3, routing storm: 1,000 new conversations within one second for 50
 * operators (capacity 20, so exactly full), then 100 more that must queue, then
 * seats freed one at a time: the queue must drain oldest first.
 * Scenario 4, reconnect storm, is in reconnect.ts.
 */
import { K } from '@hark/server/src/store/keys';
import { randomId } from '@hark/shared';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { sourceAddress } from '../lib/addrs';
import { type Percentiles, histogram, record, summary } from '../lib/hist';
import { pace, pool, until } from '../lib/pace';
import { startServer } from '../lib/proc';
import { seed } from '../lib/seed';

export interface StormResult {
  conversations: number;
  operators: number;
  capacity: number;
  assignLatency: Percentiles;
  allAssignedMs: number;
  loadMin: number;
  loadMax: number;
  overCapacity: number;
  queued: number;
  drainedInOrder: boolean;
  drainOrderMismatches: number;
}

const OPS = 50;
const CAP = 20;
const EXTRA = 100;
const LIMIT_MS = 60_000;

interface V {
  ws: WebSocket;
  due: number;
  openAt: number;
  conv: string;
}

export async function storm(o: { redisUrl: string; conversations?: number }): Promise<StormResult> {
  const N = o.conversations ?? OPS * CAP;
  const seeded = await seed(o.redisUrl, 1, OPS, CAP);
  const site = seeded.sites[0] as string;
  const a = await startServer('storm-A', 'src/servers/gateway.ts', { REDIS_URL: o.redisUrl });
  const b = await startServer('storm-B', 'src/servers/gateway.ts', { REDIS_URL: o.redisUrl });
  const r = new Redis(o.redisUrl);
  const sockets: WebSocket[] = [];
  try {
    const opWs: WebSocket[] = [];
    await pool(seeded.ops, 50, async (op, j) => {
      const s = new WebSocket(`ws://127.0.0.1:${b.port}/v1/operator?v=1`, { headers: { origin: `http://127.0.0.1:${b.port}`, cookie: op.cookie }, localAddress: sourceAddress(j) });
      await new Promise((res, rej) => s.once('open', res).once('error', rej));
      const welcome = new Promise((res) => s.once('message', res));
      s.send(JSON.stringify({ type: 'hello', lastIds: {} }));
      await welcome;
      opWs[j] = s;
      sockets.push(s);
    });
    // 1. Visitors connect and say hello first; only their first message (the storm) is timed.
    const vs: V[] = [];
    await pool(Array.from({ length: N + EXTRA }, (_, i) => i), 100, async (i) => {
      const s = new WebSocket(`ws://127.0.0.1:${a.port}/v1/visitor?site=${site}&token=${randomId(32)}&v=1&new=1`, { headers: { origin: `http://127.0.0.1:${a.port}` }, localAddress: sourceAddress(i) });
      const v: V = { ws: s, due: 0, openAt: 0, conv: '' };
      const synced = new Promise<void>((res) => {
        s.on('message', (d: Buffer) => {
          const f = JSON.parse(d.toString());
          if (f.type === 'synced') res();
          else if (f.type === 'ack') v.conv = f.conv;
          else if (f.type === 'conv' && f.conv.status === 'open' && !v.openAt) v.openAt = performance.now();
        });
      });
      await new Promise((res, rej) => s.once('open', res).once('error', rej));
      s.send(JSON.stringify({ type: 'hello', lastIds: {} }));
      await synced;
      vs[i] = v;
      sockets.push(s);
    });
    // 2. The storm: N first messages in one second, open loop.
    const h = histogram();
    const t0 = performance.now();
    await pace(N, N, LIMIT_MS, (i, due) => {
      const v = vs[i] as V;
      v.due = due;
      v.ws.send(JSON.stringify({ type: 'send', cid: randomId(12), text: 'hello' }));
    });
    await until(() => vs.slice(0, N).every((v) => v.openAt > 0), LIMIT_MS);
    const allAssignedMs = Math.round(performance.now() - t0);
    for (const v of vs.slice(0, N)) if (v.openAt) record(h, v.openAt - v.due);
    const loads = Object.values(await r.hgetall(K.siteLoad(site))).map(Number);
    // 3. Everyone is full: the extra conversations queue, in the order they were sent.
    for (const v of vs.slice(N)) {
      v.ws.send(JSON.stringify({ type: 'send', cid: randomId(12), text: 'hello' }));
      await until(() => v.conv !== '', 5_000);
      await until(() => false, 2);
    }
    await until(() => false, 300);
    const queue = await r.zrange(K.siteQueue(site), 0, -1);
    const expected = vs.slice(N).map((v) => v.conv);
    // 4. Free one seat at a time; each must go to the head of the queue.
    const order: string[] = [];
    const assign = await r.hgetall(K.siteAssign(site));
    const byOp = new Map<string, string[]>();
    for (const [conv, op] of Object.entries(assign)) byOp.set(op, [...(byOp.get(op) ?? []), conv]);
    const opIndex = new Map(seeded.ops.map((op, j) => [op.id, j]));
    const extra = vs.slice(N);
    for (let k = 0; k < Math.min(EXTRA, queue.length); k++) {
      const opId = seeded.ops[k % OPS]?.id as string;
      const conv = byOp.get(opId)?.shift();
      if (!conv) break;
      opWs[opIndex.get(opId) as number]?.send(JSON.stringify({ type: 'resolve', conv }));
      const before = new Set(order);
      await until(() => extra.some((v) => v.openAt > 0 && !before.has(v.conv)), 5_000);
      for (const v of extra) if (v.openAt > 0 && !before.has(v.conv)) order.push(v.conv);
    }
    let mismatches = 0;
    order.forEach((c, i) => {
      if (c !== expected[i]) mismatches++;
    });
    return {
      conversations: N,
      operators: OPS,
      capacity: CAP,
      assignLatency: summary(h),
      allAssignedMs,
      loadMin: Math.min(...loads),
      loadMax: Math.max(...loads),
      overCapacity: loads.filter((l) => l > CAP).length,
      queued: queue.length,
      drainedInOrder: mismatches === 0 && order.length === expected.length && queue.join() === expected.join(),
      drainOrderMismatches: mismatches,
    };
  } finally {
    for (const s of sockets) s.terminate();
    r.disconnect();
    await Promise.all([a.stop(), b.stop()]);
  }
}
