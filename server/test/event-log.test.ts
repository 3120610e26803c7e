/**
 * The durable domain event log (store/event-log.ts) and its consumers
 * (domain/event-consumers.ts) on a private redis-server, and once on a three-master
 * cluster: per-conversation order with concurrent emitters, idempotent emit,
 * redelivery after a gateway dies mid-event, exactly-once handling across two
 * gateways, exactly-once effects of a transactional consumer, and the fences, a
 * Redis crash and restart (AOF), invalid records.
 */
import { type Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type DomainEvent, type EventInput, parseEvent } from '../src/domain/events';
import { EVENT_BATCH_CONCURRENCY, EventConsumers, type EventConsumersOptions, type EventLogger } from '../src/domain/event-consumers';
import { type Connections, connect } from '../src/redis/client';
import { EVENT_ID_TTL_MS, EVENT_PARTITIONS, EVK, PartitionTx, ackEntries, defineEventLogScripts, emit, fnv1a, partitionKey, partitionOf, prepare, readNew, takeLease } from '../src/store/event-log';
import { SCHEMA_KEY, SCHEMA_VERSION, migrate } from '../src/store/migrations';
import { startCluster } from './cluster-harness';
import { type TestRedis, sleep, testRedis } from './harness';

let redis: TestRedis;
let admin: Redis;
const opened: Connections[] = [];
const runners: EventConsumers[] = [];

function conn(): Connections {
  const c = connect({ url: redis.url });
  opened.push(c);
  return c;
}

const logs: { level: string; msg: string; obj: object }[] = [];
const logger: EventLogger = {
  warn: (obj, msg) => logs.push({ level: 'warn', msg, obj }),
  error: (obj, msg) => logs.push({ level: 'error', msg, obj }),
};
/** Short lease and poll so takeovers happen within a second. */
const FAST: EventConsumersOptions = { leaseMs: 600, pollMs: 20, retryBaseMs: 20, retryCapMs: 100, stopTimeoutMs: 1_000 };

function runner(c: Connections, opts: EventConsumersOptions = {}): EventConsumers {
  const r = new EventConsumers(c, logger, { ...FAST, ...opts });
  runners.push(r);
  return r;
}

async function waitFor(what: string, pred: () => boolean, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const msg = (conv: string, seq: number, site = 'demo'): EventInput => ({ type: 'message.created', site, conv, by: 'visitor', entry: `${seq}-0` });
const seqOf = (e: DomainEvent) => (e.type === 'message.created' ? Number(e.entry.split('-')[0]) : -1);

beforeAll(async () => {
  redis = await testRedis();
  admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
});
beforeEach(async () => {
  await Promise.all(runners.splice(0).map((r) => r.stop({ abandon: true })));
  await admin.flushall();
  logs.length = 0;
});
afterAll(async () => {
  await Promise.all(runners.map((r) => r.stop({ abandon: true })));
  await Promise.all(opened.map((c) => c.close()));
  admin?.disconnect();
  await redis?.cleanup();
});

describe('domain events', () => {
  it('parses records instead of casting them', () => {
    const ok = { id: 'msg:c1:1-0', at: 1, type: 'message.created', site: 's', conv: 'c1', by: 'operator', entry: '1-0', op: 'o1', firstResponseMs: 12, junk: 1 };
    expect(parseEvent(JSON.stringify(ok))).toEqual({ id: 'msg:c1:1-0', at: 1, type: 'message.created', site: 's', conv: 'c1', by: 'operator', entry: '1-0', op: 'o1', firstResponseMs: 12 });
    expect(parseEvent({ ...ok, type: 'message.deleted' })).toBeNull();
    expect(parseEvent({ ...ok, conv: undefined })).toBeNull();
    expect(parseEvent({ ...ok, by: 'robot' })).toBeNull();
    expect(parseEvent({ ...ok, entry: 'x' })).toBeNull();
    expect(parseEvent({ ...ok, firstResponseMs: 'fast' })).toBeNull();
    expect(parseEvent({ ...ok, id: '' })).toBeNull();
    expect(parseEvent({ ...ok, at: undefined })).toBeNull();
    expect(parseEvent('{not json')).toBeNull();
    expect(parseEvent({ id: 'e', at: 1, type: 'conversation.rated', site: 's', conv: 'c', rating: 'meh', comment: '' })).toBeNull();
    expect(parseEvent({ id: 'e', at: 1, type: 'visitor.identified', site: 's', visitor: 'v', userId: 'u', verified: true })).not.toBeNull();
    expect(parseEvent({ id: 'e', at: 1, type: 'visitor.identified', site: 's', visitor: 'v', userId: 'u', verified: 'yes' })).toBeNull();
    expect(parseEvent({ id: 'e', at: 1, type: 'operator.status_changed', op: 'o', status: 'online' })).not.toBeNull();
    expect(parseEvent({ id: 'e', at: 1, type: 'operator.status_changed', op: 'o', status: 'asleep' })).toBeNull();
    expect(parseEvent({ id: 'e', at: 1, type: 'conversation.queued', site: 's', conv: 'c' })).toEqual({ id: 'e', at: 1, type: 'conversation.queued', site: 's', conv: 'c' });
  });
});

describe('event log on one Redis', () => {
  it('defines its scripts safely on a client that is already autopipelining', async () => {
    const { cmd } = conn();
    await cmd.ping();
    // An autopipeline opened before the log's scripts were defined on this client lacks them.
    const [got, emitted] = await Promise.all([cmd.get('x'), emit(cmd, msg('conv-s', 1)), cmd.get('y')]);
    expect(got).toBeNull();
    expect(emitted.stored).toBe(true);
  });

  it('(b) stores an id once, however often and concurrently it is emitted', async () => {
    const { cmd } = conn();
    const input = msg('conv-b', 1);
    const p = partitionOf(input);
    const first = await emit(cmd, input, 'msg:conv-b:1-0');
    expect(first).toMatchObject({ id: 'msg:conv-b:1-0', partition: p, stored: true });
    expect(first.streamId).toMatch(/^\d+-\d+$/);
    const again = await emit(cmd, input, 'msg:conv-b:1-0');
    expect(again).toMatchObject({ stored: false, streamId: null });
    const racing = await Promise.all([1, 2, 3, 4].map(() => emit(cmd, msg('conv-b', 2), 'msg:conv-b:2-0')));
    expect(racing.filter((r) => r.stored)).toHaveLength(1);
    expect(await admin.xlen(EVK.stream(p))).toBe(2);
    expect(await admin.pttl(EVK.id(p, 'msg:conv-b:1-0'))).toBeGreaterThan(EVENT_ID_TTL_MS - 60_000);
    // Without an id each emit is a new event.
    await emit(cmd, input);
    await emit(cmd, input);
    expect(await admin.xlen(EVK.stream(p))).toBe(4);
    // Bad input never reaches the log.
    await expect(emit(cmd, { type: 'message.created', site: 's', conv: 'c' } as unknown as EventInput)).rejects.toThrow(/invalid domain event/);
    await expect(emit(cmd, input, 'has space')).rejects.toThrow(/invalid event id/);
  });

  it('(a) 500 events of 50 conversations from 5 concurrent emitters reach a consumer in emit order per conversation', async () => {
    const seen = new Map<string, number[]>();
    let total = 0;
    const r = runner(conn());
    r.register({
      name: 'order',
      async handle(e) {
        if (e.type !== 'message.created') return;
        const l = seen.get(e.conv) ?? [];
        l.push(seqOf(e));
        seen.set(e.conv, l);
        total++;
      },
    });
    await r.start('gw-a');
    const convs = Array.from({ length: 50 }, (_, i) => `conv-a-${i}`);
    await Promise.all(
      [0, 1, 2, 3, 4].map(async (k) => {
        const { cmd } = conn();
        const mine = convs.filter((_, i) => i % 5 === k);
        for (let seq = 1; seq <= 10; seq++) for (const c of mine) await emit(cmd, msg(c, seq));
      }),
    );
    await waitFor('500 events handled', () => total >= 500);
    await r.idle();
    expect(total).toBe(500);
    for (const c of convs) expect(seen.get(c), c).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(new Set(convs.map((c) => partitionOf(msg(c, 1)))).size).toBeGreaterThan(8);
    expect(r.counters).toMatchObject({ handled: 500, redelivered: 0, failures: 0, invalid: 0 });
  });

  it('(c) a gateway killed mid-event: another takes over after the lease and handles it, nothing lost, order kept', async () => {
    const handled: { gw: string; id: string }[] = [];
    const started: string[] = [];
    const a = runner(conn());
    a.register({
      name: 'crashy',
      handle(e) {
        started.push(e.id);
        if (e.id === 'k:5') return new Promise<void>(() => {}); // hangs: the gateway "dies" here
        handled.push({ gw: 'a', id: e.id });
        return Promise.resolve();
      },
    });
    await a.start('gw-a');
    const { cmd } = conn();
    for (let i = 1; i <= 10; i++) await emit(cmd, msg('conv-k', i), `k:${i}`);
    await waitFor('A to reach k:5', () => started.includes('k:5'));
    await sleep(50);
    expect(handled.map((h) => h.id)).toEqual(['k:1', 'k:2', 'k:3', 'k:4']);

    await a.stop({ abandon: true });
    const b = runner(conn());
    b.register({
      name: 'crashy',
      async handle(e) {
        handled.push({ gw: 'b', id: e.id });
      },
    });
    const t0 = Date.now();
    await b.start('gw-b');
    await waitFor('B to handle k:10', () => handled.some((h) => h.id === 'k:10'), 5_000);
    expect(Date.now() - t0).toBeLessThan(3_000);
    await b.idle();
    expect(handled).toEqual([
      ...[1, 2, 3, 4].map((i) => ({ gw: 'a', id: `k:${i}` })),
      ...[5, 6, 7, 8, 9, 10].map((i) => ({ gw: 'b', id: `k:${i}` })),
    ]);
    expect(b.counters.redelivered).toBe(1); // k:5, the first after A's watermark
    expect(b.counters.handled).toBe(6);
    const p = partitionOf(msg('conv-k', 1));
    expect(await admin.get(EVK.done(p, 'crashy'))).toBe((await admin.xrevrange(EVK.stream(p), '+', '-', 'COUNT', 1))[0]?.[0]);
    // No consumer group, so nothing pending anywhere: the watermark is the whole of a consumer's state.
    expect(await admin.xinfo('GROUPS', EVK.stream(p))).toEqual([]);
  });

  it('(c) a handler that throws is retried with backoff, never skipped, and holds up its conversation only', async () => {
    const order: string[] = [];
    let fails = 2;
    const r = runner(conn());
    r.register({
      name: 'flaky',
      async handle(e) {
        if (e.id === 'f:2' && fails > 0) {
          fails--;
          throw new Error('downstream unavailable');
        }
        order.push(e.id);
      },
    });
    await r.start('gw-a');
    const { cmd } = conn();
    for (let i = 1; i <= 4; i++) await emit(cmd, msg('conv-f', i), `f:${i}`);
    await emit(cmd, msg('conv-g', 1), 'g:1');
    await waitFor('all handled', () => order.length === 5);
    expect(order.filter((id) => id.startsWith('f:'))).toEqual(['f:1', 'f:2', 'f:3', 'f:4']);
    expect(r.counters.failures).toBe(2);
    expect(logs.filter((l) => l.msg.includes('handler failed'))).toHaveLength(2);
  });

  it('(d) two gateways share 1,000 events, each handled exactly once, both holding partitions', async () => {
    const count = new Map<string, number>();
    const by = { a: 0, b: 0 };
    const make = (gw: 'a' | 'b') => {
      const r = runner(conn());
      r.register({
        name: 'shared',
        async handle(e) {
          count.set(e.id, (count.get(e.id) ?? 0) + 1);
          by[gw]++;
          if (Math.random() < 0.02) await sleep(1);
        },
      });
      return r;
    };
    const a = make('a');
    const b = make('b');
    await a.start('gw-a');
    const { cmd } = conn();
    const emitRange = (from: number, to: number) =>
      Promise.all(
        Array.from({ length: 4 }, async (_, k) => {
          for (let i = from + k; i < to; i += 4) await emit(cmd, msg(`conv-d-${i % 100}`, i), `d:${i}`);
        }),
      );
    await emitRange(0, 400);
    // B joins while events keep coming: A hands half the partitions over (each after the event in hand).
    await Promise.all([b.start('gw-b'), emitRange(400, 700)]);
    await waitFor('an even split', () => a.held().length === EVENT_PARTITIONS / 2 && b.held().length === EVENT_PARTITIONS / 2, 3_000);
    await emitRange(700, 1000);
    await waitFor('1,000 handled', () => count.size === 1000);
    await Promise.all([a.idle(), b.idle()]);
    await sleep(100);
    expect([...count.values()].every((n) => n === 1)).toBe(true);
    expect(by.a + by.b).toBe(1000);
    expect(by.a).toBeGreaterThan(0);
    expect(by.b).toBeGreaterThan(0);
    expect(a.held().length).toBe(EVENT_PARTITIONS / 2);
    expect(b.held().length).toBe(EVENT_PARTITIONS / 2);
    expect(new Set([...a.held(), ...b.held()].map((h) => h.partition)).size).toBe(EVENT_PARTITIONS);
    // A clean stop hands everything to B at once.
    await a.stop();
    await waitFor('B to hold every partition', () => b.held().length === EVENT_PARTITIONS, 3_000);
    await emit(cmd, msg('conv-d-0', 1000), 'd:1000');
    await waitFor('the last one', () => count.get('d:1000') === 1);
    expect(a.counters.redelivered + b.counters.redelivered).toBe(0);
  });

  it('(e) a transactional consumer takes effect exactly once when its gateway dies between handle and ack, and a late ack is fenced', async () => {
    const tally = (e: DomainEvent, tx: PartitionTx) => {
      tx.call('HINCRBY', [tx.key('tally')], e.id, 1);
    };
    let releaseA!: () => void;
    const gate = new Promise<void>((res) => {
      releaseA = res;
    });
    let aAt5 = false;
    const ca = conn();
    const a = runner(ca);
    a.register({
      name: 'tally',
      async handleTx(e, tx) {
        tally(e, tx);
        if (e.id === 't:5') {
          aAt5 = true;
          await gate; // the commands are in tx; the gateway dies before its ack
        }
      },
    });
    await a.start('gw-a');
    const { cmd } = conn();
    const streamIds: string[] = [];
    for (let i = 1; i <= 10; i++) streamIds.push((await emit(cmd, msg('conv-t', i), `t:${i}`)).streamId as string);
    await waitFor('A inside t:5', () => aAt5);
    await a.stop({ abandon: true });

    const b = runner(conn());
    b.register({ name: 'tally', handleTx: tally });
    await b.start('gw-b');
    const p = partitionOf(msg('conv-t', 1));
    const key = partitionKey(p, 'tally');
    await waitFor('B to finish', () => b.counters.handled === 6, 5_000);
    // A wakes up after B took over: its worker acks nothing, and an ack it sends is refused.
    releaseA();
    await sleep(50);
    const late = new PartitionTx(p).call('HINCRBY', [key], 't:5', 1);
    expect(await ackEntries(ca.cmd, p, 'tally', 'gw-a', [streamIds[4] as string], late)).toEqual({ status: 'lost', errors: [] });
    // The holder repeating an ack (a resend after a lost reply) changes nothing either.
    const again = new PartitionTx(p).call('HINCRBY', [key], 't:5', 1);
    expect((await ackEntries(ca.cmd, p, 'tally', 'gw-b', [streamIds[4] as string], again)).status).toBe('already');
    const counts = await admin.hgetall(key);
    expect(counts).toEqual(Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`t:${i + 1}`, '1'])));
    expect(b.counters.redelivered).toBe(1);
    expect(await admin.get(EVK.done(p, 'tally'))).toBe(streamIds[9]);
    // Keys outside the partition are refused before anything is sent.
    expect(() => new PartitionTx(p).call('INCR', ['elsewhere'])).toThrow(/not in event partition/);

    // The next holder starts after the watermark: an entry at or below it is never handled again.
    await b.stop();
    const extra = await emit(cmd, msg('conv-t', 11), 't:11');
    await admin.set(EVK.done(p, 'tally'), extra.streamId as string);
    const twelve = await emit(cmd, msg('conv-t', 12), 't:12');
    const c = runner(conn());
    c.register({ name: 'tally', handleTx: tally });
    await c.start('gw-c');
    await waitFor('C to handle t:12', () => c.counters.handled === 1);
    await c.idle();
    expect(c.counters).toMatchObject({ handled: 1, redelivered: 0 });
    expect(await admin.hget(key, 't:11')).toBeNull();
    expect(await admin.hget(key, 't:12')).toBe('1');
    expect(await admin.get(EVK.done(p, 'tally'))).toBe(twelve.streamId);
    await c.stop();
  });

  it('(g) a Redis crash and restart (AOF) loses no recorded event and keeps each conversation in order', async () => {
    const own = await testRedis(['--appendfsync', 'always']);
    const c = connect({ url: own.url });
    c.cmd.on('error', () => {});
    c.sub.on('error', () => {});
    const r = new EventConsumers(c, logger, FAST);
    try {
      const seen = new Map<string, number[]>();
      const times = new Map<string, number>();
      r.register({
        name: 'survivor',
        async handle(e) {
          times.set(e.id, (times.get(e.id) ?? 0) + 1);
          if (e.type === 'message.created') seen.set(e.conv, [...(seen.get(e.conv) ?? []), seqOf(e)]);
        },
      });
      await r.start('gw-a');
      // Emitting is idempotent by id, so an emit whose outcome a crash hid is simply repeated.
      const emitSure = async (i: number) => {
        for (let attempt = 0; ; attempt++) {
          try {
            return await emit(c.cmd, msg(`conv-r-${i % 4}`, i), `r:${i}`);
          } catch (err) {
            if (attempt > 100) throw err;
            await sleep(50);
          }
        }
      };
      for (let i = 1; i <= 20; i++) await emitSure(i);
      await own.stop('SIGKILL');
      await own.restart();
      for (let i = 21; i <= 40; i++) await emitSure(i);
      await waitFor('40 events after the restart', () => times.size === 40, 10_000);
      await r.idle();
      for (let k = 0; k < 4; k++) {
        const got = seen.get(`conv-r-${k}`) ?? [];
        // Each conversation's events, in order; an event repeats only if its handler finished but its ack was lost.
        expect([...new Set(got)]).toEqual(Array.from({ length: 40 }, (_, j) => j + 1).filter((i) => i % 4 === k));
        expect(got).toEqual([...got].sort((x, y) => x - y));
      }
      const repeats = [...times.values()].reduce((n, t) => n + t - 1, 0);
      expect(repeats).toBeLessThanOrEqual(r.counters.redelivered);
    } finally {
      await r.stop({ abandon: true });
      await c.close();
      await own.cleanup();
    }
  });

  it('invalid records and trimmed entries are logged and skipped, not retried forever', async () => {
    const got: string[] = [];
    const { cmd } = conn();
    const p = partitionOf(msg('conv-i', 1));
    await admin.xadd(EVK.stream(p), '*', 'e', JSON.stringify({ id: 'bad', at: 1, type: 'no.such', site: 's' }));
    await emit(cmd, msg('conv-i', 1), 'i:1');
    const r = runner(conn());
    r.register({
      name: 'strict',
      types: ['message.created'],
      async handle(e) {
        got.push(e.id);
      },
    });
    await r.start('gw-a');
    await emit(cmd, { type: 'conversation.queued', site: 'demo', conv: 'conv-i' });
    await emit(cmd, msg('conv-i', 2), 'i:2');
    await waitFor('both messages', () => got.length === 2);
    await r.idle();
    expect(got).toEqual(['i:1', 'i:2']);
    expect(r.counters.invalid).toBe(1);
    expect(logs.some((l) => l.level === 'error' && l.msg.includes('not a valid event'))).toBe(true);
    expect(await admin.get(EVK.done(p, 'strict'))).toBe((await admin.xrevrange(EVK.stream(p), '+', '-', 'COUNT', 1))[0]?.[0]);
  });
});

describe('a batch consumer', () => {
  /** Conversation ids that fall in one partition, so that one read holds all their events. */
  const samePartition = (prefix: string, n: number): string[] => {
    const p0 = partitionOf(msg(`${prefix}-0`, 1));
    const out: string[] = [];
    for (let i = 0; out.length < n; i++) if (partitionOf(msg(`${prefix}-${i}`, 1)) === p0) out.push(`${prefix}-${i}`);
    return out;
  };
  /** Counts the acks (the ack script without a transaction's keys) sent through `c`. */
  const countAcks = (c: Connections) => {
    const cmd = defineEventLogScripts(c.cmd) as unknown as Record<string, (...a: string[]) => Promise<unknown>>;
    let n = 0;
    const ack = cmd.harkEvAck2 as (...a: string[]) => Promise<unknown>;
    // An autopipeline copies the client's script functions and calls them on itself: count the client's calls only.
    cmd.harkEvAck2 = function (this: unknown, ...a: string[]) {
      if (this === cmd) n++;
      return ack.apply(this, a);
    };
    return () => n;
  };
  const of = (conv: string, ids: string[]) => ids.filter((id) => id.startsWith(`${conv}:`));

  it('gets a read as one batch: in order per conversation, the conversations at once, one ack', async () => {
    const convs = samePartition('bc', 3);
    const { cmd } = conn();
    for (let i = 1; i <= 5; i++) for (const c of convs) await emit(cmd, msg(c, i), `${c}:${i}`);
    const seen: string[] = [];
    let now = 0;
    let most = 0;
    const rc = conn();
    const acks = countAcks(rc);
    const r = runner(rc);
    r.register({
      name: 'batchy',
      batch: true,
      async handle(e) {
        most = Math.max(most, ++now);
        await sleep(5);
        seen.push(e.id);
        now--;
      },
    });
    await r.start('gw-a');
    await waitFor('all handled', () => seen.length === 15);
    await r.idle();
    for (const c of convs) expect(of(c, seen)).toEqual([1, 2, 3, 4, 5].map((i) => `${c}:${i}`));
    expect(most).toBe(3);
    expect(r.counters.handled).toBe(15);
    // One ack for the read, where a consumer without `batch` acks each of the 15 events.
    expect(acks()).toBe(1);
  });

  it('hands a read whole to handleBatch: in stream order, with stream ids and the partition, one ack', async () => {
    const convs = samePartition('hb', 3);
    const { cmd } = conn();
    const ids: string[] = [];
    for (let i = 1; i <= 4; i++) for (const c of convs) ids.push((await emit(cmd, msg(c, i), `${c}:${i}`)).streamId as string);
    const calls: { ids: string[]; streamIds: string[]; partition: number }[] = [];
    const rc = conn();
    const acks = countAcks(rc);
    const r = runner(rc);
    r.register({
      name: 'whole',
      batch: true,
      async handle() {
        throw new Error('not called when handleBatch is there');
      },
      async handleBatch(events, partition) {
        // Only this test's conversations (the partition may hold earlier tests' events too).
        const ours = events.filter((x) => x.event.id.startsWith('hb-'));
        if (ours.length) calls.push({ ids: ours.map((x) => x.event.id), streamIds: ours.map((x) => x.streamId), partition });
      },
    });
    await r.start('gw-a');
    const p = partitionOf(msg(convs[0] as string, 1));
    await waitFor('the read', () => calls.some((c) => c.partition === p));
    await r.idle();
    const mine = calls.filter((c) => c.partition === p);
    expect(mine).toHaveLength(1);
    expect(mine[0]?.streamIds).toEqual(ids);
    expect(mine[0]?.ids).toEqual([1, 2, 3, 4].flatMap((i) => convs.map((c) => `${c}:${i}`)));
    expect(r.counters.failures).toBe(0);
    expect(acks()).toBeGreaterThanOrEqual(1);
  });

  it(`handles at most EVENT_BATCH_CONCURRENCY (${EVENT_BATCH_CONCURRENCY}) conversations of a batch at once`, async () => {
    const convs = samePartition('bn', EVENT_BATCH_CONCURRENCY + 5);
    const { cmd } = conn();
    for (const c of convs) await emit(cmd, msg(c, 1), `${c}:1`);
    let now = 0;
    let most = 0;
    let handled = 0;
    const r = runner(conn());
    r.register({
      name: 'batchn',
      batch: true,
      async handle() {
        most = Math.max(most, ++now);
        await sleep(5);
        now--;
        handled++;
      },
    });
    await r.start('gw-a');
    await waitFor('all handled', () => handled === convs.length);
    expect(most).toBe(EVENT_BATCH_CONCURRENCY);
  });

  it('starts no more of a batch\'s handlers once its lease is someone else\'s, and counts that as no failure', async () => {
    const conv = 'bl-1';
    const p = partitionOf(msg(conv, 1));
    const { cmd } = conn();
    for (let i = 1; i <= 10; i++) await emit(cmd, msg(conv, i), `${conv}:${i}`);
    const started: string[] = [];
    const r = runner(conn());
    r.register({
      name: 'batchl',
      batch: true,
      async handle(e) {
        started.push(e.id);
        if (e.id === `${conv}:2`) {
          // Another gateway takes the partition over (its lease), and this one's renewal finds out.
          await admin.set(EVK.lease(p, 'batchl'), 'gw-other', 'PX', 30_000);
          await waitFor('the renewal to find the lease gone', () => r.counters.leaseLosses > 0, 5_000);
          second = true;
        }
      },
    });
    let second = false;
    await r.start('gw-a');
    await waitFor('the second event to end', () => second, 8_000);
    await sleep(300);
    expect(started).toEqual([`${conv}:1`, `${conv}:2`]);
    expect(r.counters.failures).toBe(0);
    expect(r.counters.handled).toBe(0);
  });

  it('a stop while a batch waits to be retried leaves its lease to lapse: not a clean release', async () => {
    const conv = 'bs-1';
    const p = partitionOf(msg(conv, 1));
    const { cmd } = conn();
    for (let i = 1; i <= 3; i++) await emit(cmd, msg(conv, i), `${conv}:${i}`);
    const r = runner(conn(), { retryBaseMs: 2_000, retryCapMs: 2_000 });
    r.register({
      name: 'batchs',
      batch: true,
      async handle(e) {
        if (e.id === `${conv}:2`) throw new Error('downstream unavailable');
      },
    });
    await r.start('gw-a');
    await waitFor('the first failure', () => r.counters.failures > 0);
    await r.stop();
    // Event 1 was handled and not acked: the next holder must take the batch over as a redelivery.
    expect(await admin.get(EVK.lease(p, 'batchs'))).toBe('gw-a');
    expect(await admin.exists(EVK.clean(p, 'batchs'))).toBe(0);
    expect(logs.some((l) => l.msg.includes('stopped with a batch in hand'))).toBe(true);
  });

  it('a failure runs the whole batch again after the backoff: nothing skipped, order kept per conversation', async () => {
    const [c0, c1] = samePartition('bf', 2) as [string, string];
    const { cmd } = conn();
    for (let i = 1; i <= 3; i++) for (const c of [c0, c1]) await emit(cmd, msg(c, i), `${c}:${i}`);
    let fails = 1;
    const runs: string[] = [];
    const r = runner(conn());
    r.register({
      name: 'batchf',
      batch: true,
      async handle(e) {
        runs.push(e.id);
        if (e.id === `${c1}:2` && fails > 0) {
          fails--;
          throw new Error('downstream unavailable');
        }
      },
    });
    await r.start('gw-a');
    await waitFor('the batch handled', () => r.counters.handled === 6);
    expect(r.counters.failures).toBe(1);
    expect(of(c1, runs)).toEqual([`${c1}:1`, `${c1}:2`, `${c1}:1`, `${c1}:2`, `${c1}:3`]);
    expect(of(c0, runs)).toEqual([1, 2, 3, 1, 2, 3].map((i) => `${c0}:${i}`));
  });

  it('a gateway killed mid-batch: the next holder handles the whole batch again, nothing lost', async () => {
    const [c0, c1] = samePartition('bk', 2) as [string, string];
    const { cmd } = conn();
    for (let i = 1; i <= 3; i++) for (const c of [c0, c1]) await emit(cmd, msg(c, i), `${c}:${i}`);
    const started: string[] = [];
    const a = runner(conn());
    a.register({
      name: 'batchk',
      batch: true,
      handle(e) {
        started.push(e.id);
        if (e.id === `${c1}:2`) return new Promise<void>(() => {}); // hangs: the gateway "dies" here
        return Promise.resolve();
      },
    });
    await a.start('gw-a');
    await waitFor('A to reach the hanging event', () => started.includes(`${c1}:2`));
    await sleep(50);
    await a.stop({ abandon: true });
    const got: string[] = [];
    const b = runner(conn());
    b.register({
      name: 'batchk',
      batch: true,
      async handle(e) {
        got.push(e.id);
      },
    });
    await b.start('gw-b');
    await waitFor('B to handle the batch', () => got.length === 6, 5_000);
    await b.idle();
    for (const c of [c0, c1]) expect(of(c, got)).toEqual([1, 2, 3].map((i) => `${c}:${i}`));
    expect(b.counters.redelivered).toBe(6);
    const p = partitionOf(msg(c0, 1));
    expect(await admin.get(EVK.done(p, 'batchk'))).toBe((await admin.xrevrange(EVK.stream(p), '+', '-', 'COUNT', 1))[0]?.[0]);
  });
});

describe('a consumer of rare events', () => {
  it('partitions by FNV-1a of the UTF-8 bytes, the same for ASCII and other keys', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(fnv1a('foobar')).toBe(0xbf9cf968);
    // 'ž' is two bytes in UTF-8 (0xC5 0xBE): hashed as bytes, not as one code unit.
    let h = 0x811c9dc5;
    for (const b of [0x61, 0xc5, 0xbe]) h = Math.imul(h ^ b, 0x01000193) >>> 0;
    expect(fnv1a('až')).toBe(h);
  });

  it('passes over unwanted events in Redis, keeping its watermark at the head of the log, then gets the wanted one', async () => {
    const c = conn();
    const p = partitionOf(msg('conv-r', 1));
    const rc = conn();
    const r = runner(rc);
    const got: string[] = [];
    const reads: number[] = [];
    const cmd = defineEventLogScripts(rc.cmd) as unknown as Record<string, (...a: string[]) => Promise<unknown[]>>;
    const read = cmd.harkEvRead as (...a: string[]) => Promise<unknown[]>;
    cmd.harkEvRead = async function (this: unknown, ...a: string[]) {
      const out = await read.apply(this, a);
      if (this === cmd && a[0] === EVK.stream(p)) reads.push((out[1] as unknown[]).length);
      return out;
    };
    r.register({
      name: 'rare',
      types: ['conversation.rated'],
      async handle(e) {
        got.push(e.id);
      },
    });
    await r.start('gw-a');
    for (let i = 1; i <= 150; i++) await emit(c.cmd, msg('conv-r', i), `r:${i}`);
    const last = (await admin.xrevrange(EVK.stream(p), '+', '-', 'COUNT', 1))[0]?.[0] as string;
    const deadline = Date.now() + 8_000;
    while ((await admin.get(EVK.done(p, 'rare'))) !== last && Date.now() < deadline) await sleep(20);
    expect(await admin.get(EVK.done(p, 'rare'))).toBe(last);
    // Not one of the 150 messages was sent to the gateway.
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.every((n) => n === 0)).toBe(true);
    await emit(c.cmd, { type: 'conversation.rated', site: 'demo', conv: 'conv-r', rating: 'good', comment: '' }, 'rated:conv-r');
    await waitFor('the rating', () => got.length === 1);
    expect(got).toEqual(['rated:conv-r']);
  });

  it('gets only the messages of the authors it asks for (messagesBy): the others are passed over in Redis', async () => {
    const c = conn();
    const p = partitionOf(msg('conv-by', 1));
    const r = runner(c);
    const got: string[] = [];
    r.register({
      name: 'by-op',
      types: ['message.created', 'conversation.rated'],
      messagesBy: ['operator'],
      async handle(e) {
        got.push(e.id);
      },
    });
    await r.start('gw-a');
    const op = (i: number): EventInput => ({ type: 'message.created', site: 'demo', conv: 'conv-by', by: 'operator', op: 'op-1', entry: `${i}-0` });
    // A visitor whose client id reads like the author field must not pass for an operator.
    await emit(c.cmd, { type: 'message.created', site: 'demo', conv: 'conv-by', by: 'visitor', entry: '1-0', cid: '","by":"operator' }, 'by:1');
    await emit(c.cmd, op(2), 'by:2');
    for (let i = 3; i <= 120; i++) await emit(c.cmd, msg('conv-by', i), `by:${i}`);
    await emit(c.cmd, op(121), 'by:121');
    await emit(c.cmd, { type: 'conversation.rated', site: 'demo', conv: 'conv-by', rating: 'good', comment: '' }, 'by:rated');
    await waitFor('the operator messages and the rating', () => got.length === 3);
    await sleep(300);
    expect(got).toEqual(['by:2', 'by:121', 'by:rated']);
    expect(r.counters.handled).toBe(3);
    await r.stop();
    // The read script itself leaves the visitor's messages out: a direct read returns only the operator's.
    expect(await takeLease(c.cmd, p, 'by-op-direct', 'gw-b')).toBe('acquired');
    await prepare(c.cmd, p, 'by-op-direct', 'gw-b');
    const read = await readNew(c.cmd, p, 'by-op-direct', 'gw-b', '0-0', 200, 'message.created/operator,conversation.rated');
    expect(read.read).toBe(122);
    expect(read.entries.map((e) => e.event?.id)).toEqual(['by:2', 'by:121', 'by:rated']);
  });

  it('moves the watermark over passed-over events only up to the first wanted one, and never back', async () => {
    const c = conn();
    const p = partitionOf(msg('conv-w', 1));
    const ids: string[] = [];
    for (let i = 1; i <= 3; i++) ids.push((await emit(c.cmd, msg('conv-w', i), `w:${i}`)).streamId as string);
    ids.push((await emit(c.cmd, { type: 'conversation.rated', site: 'demo', conv: 'conv-w', rating: 'bad', comment: '' }, 'rated:conv-w')).streamId as string);
    for (let i = 5; i <= 6; i++) ids.push((await emit(c.cmd, msg('conv-w', i), `w:${i}`)).streamId as string);
    expect(await takeLease(c.cmd, p, 'rare2', 'gw-a')).toBe('acquired');
    expect(await prepare(c.cmd, p, 'rare2', 'gw-a')).toEqual({ done: null, clean: false });
    const r = await readNew(c.cmd, p, 'rare2', 'gw-a', '0-0', 100, 'conversation.rated');
    expect(r).toMatchObject({ read: 6, last: ids[5], gone: false });
    expect(r.entries.map((e) => e.event?.id)).toEqual(['rated:conv-w']);
    // Up to the message before the rating: the rating is in hand until it is acked.
    expect(await admin.get(EVK.done(p, 'rare2'))).toBe(ids[2]);
    // Read again from the start (a resent read): the watermark does not move back.
    await admin.set(EVK.done(p, 'rare2'), ids[4] as string);
    await readNew(c.cmd, p, 'rare2', 'gw-a', '0-0', 100, 'conversation.rated');
    expect(await admin.get(EVK.done(p, 'rare2'))).toBe(ids[4]);
    // The next read (the rating acked meanwhile) takes it to where the last one ended, over w:5 and w:6.
    expect((await readNew(c.cmd, p, 'rare2', 'gw-a', ids[5] as string, 100, 'conversation.rated')).read).toBe(0);
    expect(await admin.get(EVK.done(p, 'rare2'))).toBe(ids[5]);
    // Only the lease holder reads.
    await expect(readNew(c.cmd, p, 'rare2', 'gw-b', '0-0', 100, 'conversation.rated')).rejects.toThrow(/not ours/);
  });

  it('says when entries it had not read were trimmed from the log, and goes on from the oldest left', async () => {
    const c = conn();
    const p = partitionOf(msg('conv-x', 1));
    const first = await emit(c.cmd, msg('conv-x', 1), 'x:1');
    expect(await takeLease(c.cmd, p, 'trim', 'gw-a')).toBe('acquired');
    expect((await readNew(c.cmd, p, 'trim', 'gw-a', first.streamId as string, 10)).gone).toBe(false);
    for (let i = 2; i <= 5; i++) await emit(c.cmd, msg('conv-x', i), `x:${i}`);
    const kept = (await admin.xrange(EVK.stream(p), '-', '+')).map((e) => e[0]);
    // Everything up to x:3 is trimmed (exact MAXLEN, as the approximate one does by whole nodes).
    await admin.xtrim(EVK.stream(p), 'MAXLEN', 2);
    const r = await readNew(c.cmd, p, 'trim', 'gw-a', first.streamId as string, 10);
    expect(r.gone).toBe(true);
    expect(r.entries.map((e) => e.event?.id)).toEqual(['x:4', 'x:5']);
    expect(r.last).toBe(kept[kept.length - 1]);
  });
});

describe('event log on a three-master Redis Cluster', () => {
  it('(f) emits and consumes across partitions spread over the masters', async () => {
    const cluster = await startCluster();
    const c = connect({ clusterNodes: cluster.addrs });
    try {
      const cmd = c.cmd as Cluster;
      const seen = new Map<string, number[]>();
      let n = 0;
      const r = new EventConsumers(c, logger, FAST);
      r.register({
        name: 'seen',
        async handle(e) {
          if (e.type !== 'message.created') return;
          seen.set(e.conv, [...(seen.get(e.conv) ?? []), seqOf(e)]);
          n++;
        },
      });
      r.register({ name: 'count', handleTx: (_e, tx) => void tx.call('INCR', [tx.key('n')]) });
      await r.start('gw-cluster');
      const convs = Array.from({ length: 40 }, (_, i) => `conv-f-${i}`);
      await Promise.all(convs.map(async (conv) => {
        for (let seq = 1; seq <= 5; seq++) await r.emit(msg(conv, seq), `f:${conv}:${seq}`);
      }));
      await waitFor('200 events', () => n === 200, 8_000);
      await r.idle();
      for (const conv of convs) expect(seen.get(conv)).toEqual([1, 2, 3, 4, 5]);
      let total = 0;
      for (let p = 0; p < EVENT_PARTITIONS; p++) total += Number((await cmd.get(partitionKey(p, 'n'))) ?? 0);
      expect(total).toBe(200);
      // The partitions' slots are on more than one master.
      await cmd.cluster('SLOTS');
      const owners = new Set<string>();
      for (let p = 0; p < EVENT_PARTITIONS; p++) {
        const slot = Number(await cmd.cluster('KEYSLOT', EVK.stream(p)));
        owners.add(String(cmd.slots[slot]?.[0]));
      }
      expect(owners.size).toBeGreaterThan(1);
      await r.stop();
      expect(r.held()).toEqual([]);
    } finally {
      await c.close();
      await cluster.cleanup();
    }
  });
});

describe('upgrading from consumer groups (migration 6, event-log-cursors)', () => {
  it('removes the groups the code before left: a caught-up consumer goes on from its group, one with entries pending from its watermark', async () => {
    const c = conn();
    const p = partitionOf(msg('conv-u', 1));
    const stream = EVK.stream(p);
    const ids: string[] = [];
    for (let i = 1; i <= 6; i++) ids.push((await emit(c.cmd, msg('conv-u', i), `u:${i}`)).streamId as string);
    const before = (await admin.xrevrange(stream, ids[0] as string, '-', 'COUNT', 2))[1]?.[0] ?? '0';
    // As the code before left them. 'caught' had read u:1..u:4 and acked them (its watermark at
    // u:4), then its read script moved the group past u:5 and u:6, which it did not want (SETID).
    await admin.xgroup('CREATE', stream, 'caught', before);
    await admin.xreadgroup('GROUP', 'caught', 'gw-old', 'COUNT', 4, 'STREAMS', stream, '>');
    await admin.xack(stream, 'caught', ...ids.slice(0, 4));
    await admin.set(EVK.done(p, 'caught'), ids[3] as string);
    await admin.xgroup('SETID', stream, 'caught', ids[5] as string);
    // 'behind' had read u:1..u:3 and acked u:1 when its gateway stopped: u:2 and u:3 pending.
    await admin.xgroup('CREATE', stream, 'behind', before);
    await admin.xreadgroup('GROUP', 'behind', 'gw-old', 'COUNT', 3, 'STREAMS', stream, '>');
    await admin.xack(stream, 'behind', ids[0] as string);
    await admin.set(EVK.done(p, 'behind'), ids[0] as string);
    await admin.set(SCHEMA_KEY, '5');

    const lines: string[] = [];
    await migrate(c.cmd, { info: (m) => lines.push(m), warn: (m) => lines.push(m) });
    expect(await admin.get(SCHEMA_KEY)).toBe(String(SCHEMA_VERSION));
    expect(await admin.xinfo('GROUPS', stream)).toEqual([]);
    expect(await admin.get(EVK.done(p, 'caught'))).toBe(ids[5]);
    expect(await admin.get(EVK.done(p, 'behind'))).toBe(ids[0]);
    expect(lines.some((l) => /event-log-cursors: 2 consumer groups removed from the event log, 1 watermarks raised/.test(l))).toBe(true);

    const got: Record<string, string[]> = { caught: [], behind: [] };
    const r = runner(conn());
    for (const name of ['caught', 'behind'])
      r.register({
        name,
        async handle(e) {
          if (e.type === 'message.created' && e.conv === 'conv-u') got[name]?.push(e.id);
        },
      });
    await r.start('gw-new');
    await emit(c.cmd, msg('conv-u', 7), 'u:7');
    await waitFor('both consumers to reach u:7', () => got.caught?.at(-1) === 'u:7' && got.behind?.at(-1) === 'u:7');
    await r.stop();
    expect(got.caught).toEqual(['u:7']);
    expect(got.behind).toEqual([2, 3, 4, 5, 6, 7].map((i) => `u:${i}`));
  });
});
