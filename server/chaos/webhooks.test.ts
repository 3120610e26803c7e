/**
 * Webhooks under a gateway SIGKILL: three gateway processes on one Redis, a receiver on 127.0.0.1
 * that checks every signature (the `standardwebhooks` package) and records each `webhook-id`,
 * answering slowly (so deliveries are in flight) and now and then with a 500 (so some are retried).
 * Visitors and operators chat; the gateway running the delivery job is killed with SIGKILL while
 * the receiver holds requests of its in flight, and started again.
 *
 * Then, from the receiver's record and the event log itself (XRANGE of every partition):
 * - every acknowledged message's `message.created` was delivered at least once;
 * - every event of the site in the log (from the endpoint's creation on) was delivered;
 * - each event always came with its own id: every delivery of an event's body carried the
 *   event's id (retries, and redeliveries of attempts cut by the kill, included);
 * - per conversation, the first deliveries came in the log's order;
 * - every signature verified.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DomainEvent, parseEvent } from '../src/domain/events';
import { webhookPayload } from '../src/domain/webhooks';
import { EVENT_PARTITIONS, EVK } from '../src/store/event-log';
import { K } from '../src/store/keys';
import { sleep } from '../test/harness';
import { type GatewayProc, spawnGateway } from './accounting';
import { type Fleet, cohort, startFleet, traffic, waitFor } from './fleet';
import { note } from './report';

const VISITORS = 30;
/** The receiver answers each request after a delay in this range (ms)… */
const DELAY_MS: [number, number] = [20, 250];
/** …with a 500 for this share of them. */
const FAIL_RATE = 0.05;
/** The scenario's bound, start to checked (the fleet's start not counted). */
const BOUND_MS = 90_000;

interface Got {
  id: string;
  ts: string;
  body: string;
  at: number;
  verified: boolean;
  /** The status the receiver answered, or 0 when the connection was gone before it could. */
  answered: number;
}

const got: Got[] = [];
let inflight = 0;
let secret = '';
let receiver: http.Server;
let f: Fleet;
const env = { allow: process.env.WEBHOOKS_ALLOW_PRIVATE, settings: process.env.HARK_CHAOS_WEBHOOKS };

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const h = { 'webhook-id': String(req.headers['webhook-id'] ?? ''), 'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''), 'webhook-signature': String(req.headers['webhook-signature'] ?? '') };
      let verified = false;
      try {
        new Webhook(secret).verify(body, h);
        verified = true;
      } catch {}
      const g: Got = { id: h['webhook-id'], ts: h['webhook-timestamp'], body, at: Date.now(), verified, answered: 0 };
      got.push(g);
      inflight++;
      const status = Math.random() < FAIL_RATE ? 500 : 200;
      setTimeout(
        () => {
          inflight--;
          if (res.destroyed || req.socket.destroyed) return;
          res.statusCode = status;
          res.end(status === 200 ? 'ok' : 'try again', () => {
            g.answered = status;
          });
        },
        DELAY_MS[0] + Math.random() * (DELAY_MS[1] - DELAY_MS[0]),
      );
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  // The gateway processes read these (chaos/gateway-proc.ts): the receiver is on loopback, and the
  // delivery job polls every 100 ms (the product: every second), retries from 500 ms.
  process.env.WEBHOOKS_ALLOW_PRIVATE = '1';
  process.env.HARK_CHAOS_WEBHOOKS = JSON.stringify({ pollMs: 100, retryBaseMs: 500, retryCapMs: 2_000 });
  f = await startFleet({ gateways: 3, operators: 2 });
}, 120_000);

afterAll(async () => {
  await f?.close();
  receiver?.closeAllConnections();
  await new Promise((r) => receiver?.close(r));
  for (const [k, v] of [['WEBHOOKS_ALLOW_PRIVATE', env.allow], ['HARK_CHAOS_WEBHOOKS', env.settings]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

/** Every event in the log, per partition in the log's order. */
async function readLog(): Promise<DomainEvent[]> {
  const out: DomainEvent[] = [];
  for (let p = 0; p < EVENT_PARTITIONS; p++) {
    for (const [, fields] of await f.r.xrange(EVK.stream(p), '-', '+')) {
      const i = fields.indexOf('e');
      const e = i >= 0 ? parseEvent(fields[i + 1]) : null;
      if (e) out.push(e);
    }
  }
  return out;
}

describe('webhooks under a gateway SIGKILL', () => {
  it('every event delivered at least once, the same id on every redelivery, in order per conversation, every signature valid', async () => {
    const t0 = Date.now();
    const port = (receiver.address() as AddressInfo).port;
    const made = await f.admin.req<{ id: string; secret: string; createdAt: number }>('POST', '/v1/sites/demo/webhooks', { url: `http://127.0.0.1:${port}/hooks`, events: 'all' });
    expect(made.status).toBe(201);
    secret = made.body.secret;
    const since = made.body.createdAt;
    // The consumer learns there is an endpoint on its next read (domain/webhooks.ts: until then it acks events unread).
    await sleep(1_000);

    const c = await cohort(f, VISITORS, 10);
    let killed: { at: number; inflight: number; port: number; pid: number } | null = null;
    await traffic(f, c, 15_000, {
      visitorEveryMs: 1_500,
      opEveryMs: 400,
      maxPerVisitor: 8,
      during: async () => {
        await sleep(4_000);
        // The gateway running the delivery job (its lease names it: host:pid:…), killed while the receiver holds requests of its.
        const owner = await f.r.get(K.jobLease('webhook-delivery'));
        const pid = Number(owner?.split(':')[1]);
        const i = f.gws.findIndex((g) => g.child.pid === pid);
        const victim = f.gws[i] as GatewayProc;
        expect(i).toBeGreaterThanOrEqual(0);
        await waitFor(() => inflight > 0, 10_000, 'a delivery in flight');
        f.targets.list = f.targets.list.filter((t) => t !== victim.target);
        killed = { at: Date.now(), inflight, port: victim.port, pid };
        await victim.kill('SIGKILL');
        await sleep(2_000);
        const fresh = await spawnGateway(f.redisUrl, victim.port);
        f.gws[i] = fresh;
        f.targets.list.push(fresh.target);
      },
    });
    expect(killed).not.toBeNull();
    const kill = killed as unknown as { at: number; inflight: number; port: number; pid: number };

    // Unacknowledged messages are sent again until acknowledged (as the clients do), then every event is awaited.
    const clients = [...c.visitors, ...c.tabs, ...f.ops];
    for (const until = Date.now() + 20_000; clients.some((x) => x.outbox.length > 0) && Date.now() < until; ) {
      for (const x of clients) x.tick();
      await sleep(250);
    }
    const unacked = clients.reduce((n, x) => n + x.outbox.length, 0);
    let log: DomainEvent[] = [];
    let wanted: DomainEvent[] = [];
    const delivered = () => new Set(got.map((g) => g.id));
    const drainUntil = t0 + BOUND_MS - 5_000;
    for (;;) {
      log = await readLog();
      wanted = log.filter((e) => e.site === 'demo' && e.at >= since);
      const ids = delivered();
      if (wanted.every((e) => ids.has(e.id)) && inflight === 0) break;
      if (Date.now() > drainUntil) break;
      await sleep(500);
    }
    c.stop();
    const ms = Date.now() - t0;

    // 1. Every acknowledged message's event, delivered.
    const acked = clients.flatMap((x) => [...x.acked.values()]);
    const msgBodies = new Set(got.map((g) => JSON.parse(g.body) as { type: string; data: { conv?: string; entry?: string } }).filter((b) => b.type === 'message.created').map((b) => `${b.data.conv}/${b.data.entry}`));
    const ackedMissing = acked.filter((a) => !msgBodies.has(`${a.conv}/${a.id}`));

    // 2. Every event of the site in the log, delivered.
    const ids = delivered();
    const logMissing = wanted.filter((e) => !ids.has(e.id));

    // 3. An event's body always came with the event's id, and every id received is an event of the log.
    const byBody = new Map(wanted.map((e) => [webhookPayload(e), e.id]));
    const known = new Set(log.map((e) => e.id));
    const wrongId = got.filter((g) => byBody.has(g.body) && byBody.get(g.body) !== g.id);
    const unknownId = got.filter((g) => !known.has(g.id));
    const bodiesPerId = new Map<string, Set<string>>();
    for (const g of got) bodiesPerId.set(g.id, (bodiesPerId.get(g.id) ?? new Set()).add(g.body));
    const idWithTwoBodies = [...bodiesPerId].filter(([, b]) => b.size > 1).map(([id]) => id);

    // 4. Per conversation, first deliveries in the log's order.
    const first = new Map<string, number>();
    got.forEach((g, i) => {
      if (!first.has(g.id)) first.set(g.id, i);
    });
    const perConv = new Map<string, string[]>();
    for (const e of wanted) if ('conv' in e && e.conv) perConv.set(e.conv, [...(perConv.get(e.conv) ?? []), e.id]);
    const outOfOrder: string[] = [];
    for (const [conv, order] of perConv) {
      const seen = order.filter((id) => first.has(id)).sort((a, b) => (first.get(a) as number) - (first.get(b) as number));
      const expected = order.filter((id) => first.has(id));
      if (seen.join() !== expected.join()) outOfOrder.push(conv);
    }

    // 5. Signatures.
    const badSig = got.filter((g) => !g.verified);

    const counts = new Map<string, number>();
    for (const g of got) counts.set(g.id, (counts.get(g.id) ?? 0) + 1);
    const again = [...counts.values()].filter((n) => n > 1).length;
    const afterOk = got.filter((g, i) => got.findIndex((x, j) => j < i && x.id === g.id && x.answered === 200) >= 0).length;
    const cutByKill = got.filter((g) => g.answered === 0 && g.at <= kill.at).length;
    const resumed = got.find((g) => g.at > kill.at + 100)?.at ?? 0;
    const summary = {
      ms,
      visitors: VISITORS,
      ackedMessages: acked.length,
      unacked,
      events: wanted.length,
      deliveries: got.length,
      distinctIds: counts.size,
      idsDeliveredMoreThanOnce: again,
      redeliveredAfter200: afterOk,
      answered500: got.filter((g) => g.answered === 500).length,
      inFlightAtKill: kill.inflight,
      cutByKill,
      firstDeliveryAfterKillMs: resumed ? resumed - kill.at : null,
      ackedMissing: ackedMissing.length,
      logMissing: logMissing.length,
      wrongId: wrongId.length,
      unknownId: unknownId.length,
      idWithTwoBodies: idWithTwoBodies.length,
      outOfOrder: outOfOrder.length,
      badSignatures: badSig.length,
    };
    note(`webhooks-sigkill ${JSON.stringify(summary)}`);

    expect(acked.length).toBeGreaterThan(VISITORS);
    expect(kill.inflight).toBeGreaterThan(0);
    expect(ackedMissing).toEqual([]);
    expect(logMissing.map((e) => `${e.type} ${e.id}`)).toEqual([]);
    expect(wrongId.map((g) => g.id)).toEqual([]);
    expect(unknownId.map((g) => g.id)).toEqual([]);
    expect(idWithTwoBodies).toEqual([]);
    expect(outOfOrder).toEqual([]);
    expect(badSig.length).toBe(0);
    expect(got.length).toBeGreaterThanOrEqual(counts.size);
    expect(ms).toBeLessThan(BOUND_MS);
  }, 150_000);
});
