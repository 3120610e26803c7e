/**
 * A chaos fleet: one private Redis, gateways in child processes, five operators
 * (capacity 100 each, so 200 visitors are all assigned), and cohorts of visitors.
 */
import { Redis } from 'ioredis';
import { ADMIN, Http, type TestRedis, createOp, sleep, testRedis } from '../test/harness';
import { type GatewayProc, SimOperator, type SimOptions, SimVisitor, Targets, every, spawnGateway } from './accounting';

export interface Fleet {
  redis: TestRedis;
  /** The URL gateways use (Redis itself, or a proxy in front of it). */
  redisUrl: string;
  gws: GatewayProc[];
  targets: Targets;
  admin: Http;
  ops: SimOperator[];
  /** A plain connection of the test's own, for XRANGE and faults. */
  r: Redis;
  close(): Promise<void>;
}

export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

export async function startFleet(opts: { gateways?: number; operators?: number; redis?: TestRedis; redisUrl?: string } = {}): Promise<Fleet> {
  const redis = opts.redis ?? (await testRedis());
  const redisUrl = opts.redisUrl ?? redis.url;
  const gws: GatewayProc[] = [];
  // One at a time: the first one's bootstrap creates the admin.
  for (let i = 0; i < (opts.gateways ?? 2); i++) gws.push(await spawnGateway(redisUrl));
  const targets = new Targets();
  targets.list = gws.map((g) => g.target);
  const admin = new Http((gws[0] as GatewayProc).target.base);
  await admin.login(ADMIN.email, ADMIN.password);
  const ops: SimOperator[] = [];
  for (let i = 0; i < (opts.operators ?? 5); i++) {
    const o = await createOp(admin, { email: `op${i}@chaos.example`, name: `Operator ${i}`, capacity: 100 });
    ops.push(new SimOperator(targets, o.http.cookie));
  }
  for (const o of ops) o.start();
  await waitFor(() => ops.every((o) => o.synced), 20_000, 'operators');
  await sleep(500);
  const r = new Redis(redis.url, { maxRetriesPerRequest: 3 });
  r.on('error', () => {});
  return {
    redis,
    redisUrl,
    gws,
    targets,
    admin,
    ops,
    r,
    async close() {
      for (const o of ops) o.stop();
      await Promise.all(gws.map((g) => g.kill('SIGKILL')));
      r.disconnect();
      if (!opts.redis) await redis.cleanup();
    },
  };
}

export interface Cohort {
  visitors: SimVisitor[];
  tabs: SimVisitor[];
  stop(): void;
}

/** `n` visitors (every `tabEvery`-th with a second tab) connected and welcomed. */
export async function cohort(f: Fleet, n: number, tabEvery = 10, opts: SimOptions = {}): Promise<Cohort> {
  for (const o of f.ops) o.resetStats();
  const visitors = Array.from({ length: n }, () => new SimVisitor(f.targets, undefined, false, opts));
  for (const v of visitors) v.start();
  await waitFor(() => visitors.every((v) => v.synced), 30_000, 'visitors to connect');
  const tabs = visitors.filter((_, i) => i % tabEvery === 0).map((v) => new SimVisitor(f.targets, v.token, true, opts));
  for (const t of tabs) t.start();
  await waitFor(() => tabs.every((t) => t.synced), 30_000, 'second tabs');
  return {
    visitors,
    tabs,
    stop() {
      for (const c of [...visitors, ...tabs]) c.stop();
    },
  };
}

/**
 * Chat traffic for `ms`: each visitor writes about one message per `visitorEveryMs`
 * (well under VISITOR_MSGS_PER_SEC), each operator answers about every `opEveryMs`.
 * Bounded: at most `maxPerVisitor` messages per visitor.
 */
export async function traffic(f: Fleet, c: Cohort, ms: number, o: { visitorEveryMs?: number; opEveryMs?: number; maxPerVisitor?: number; during?: (t: number) => Promise<void> | void } = {}): Promise<void> {
  const vEvery = o.visitorEveryMs ?? 2000;
  const opEvery = o.opEveryMs ?? 200;
  const max = o.maxPerVisitor ?? 40;
  const TICK = 100;
  let n = 0;
  const writers = [...c.visitors, ...c.tabs];
  const v = every(TICK, ms, () => {
    for (const w of writers) if (Math.random() < TICK / vEvery && w.order.length < max) w.say(`visitor message ${++n}`);
  });
  const op = every(opEvery, ms, () => {
    for (const s of f.ops) s.reply(`operator answer ${++n}`);
  });
  const ticker = every(500, ms + 60_000, () => {
    for (const x of [...writers, ...f.ops]) x.tick();
  });
  const t0 = Date.now();
  if (o.during) await o.during(t0);
  const left = ms - (Date.now() - t0);
  if (left > 0) await sleep(left);
  v.stop();
  op.stop();
  ticker.stop();
}

/**
 * Ends a scenario: operators resolve their chats (freeing capacity for the next one), visitors leave.
 * Waits until every operator saw its chats resolved (bounded): under load a fixed 1 s was too short,
 * and the next scenario's operators answered into chats still being resolved, hundreds of answers
 * refused (`CONVERSATION_RESOLVED`) instead of checked.
 */
export async function endScenario(f: Fleet, c: Cohort): Promise<void> {
  c.stop();
  for (const o of f.ops) o.resolveAll();
  const until = Date.now() + 15_000;
  await sleep(500);
  while (f.ops.some((o) => o.mine.size > 0) && Date.now() < until) {
    for (const o of f.ops) o.resolveAll();
    await sleep(500);
  }
}
