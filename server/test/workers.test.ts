/**
 * `pnpm start` with HARK_WORKERS=2: two gateway processes on one port (node:cluster), one Redis.
 * Sockets spread over both; /metrics sums them; a worker killed outright is replaced while the
 * visitors on the other keep chatting and the port keeps serving. A third process, the consumer
 * worker, handles the event log and the jobs at CONSUMER_WORKER_NICE and serves no socket.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { Redis } from 'ioredis';
import { createServer } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CONSUMER_WORKER_NICE, MAX_WORKERS, WORKER_RESPAWN_BASE_MS, readConfig } from '../src/config';
import { SERVING_MEMBERS } from '../src/domain/event-consumers';
import { EVK } from '../src/store/event-log';
import { type TestRedis, type VisitorClient, cid, testRedis, visitor, waitFor } from './harness';
import { COMPILED_MAIN, type GatewayProcess, startCompiled } from './process-harness';

let redis: TestRedis;
let gw: GatewayProcess;

beforeAll(async () => {
  redis = await testRedis();
  gw = await startCompiled({ REDIS_URL: redis.url, HARK_WORKERS: '2' }, { timeoutMs: 25_000 });
}, 30_000);
afterAll(async () => {
  await gw?.stop();
  await redis?.cleanup();
});

const workerPids = () => [...gw.out().matchAll(/hark: worker (\d+) listening/g)].map((m) => Number(m[1]));
const metric = async (name: string) => {
  const text = await (await fetch(`${gw.base}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
};

it('HARK_WORKERS: one per core by default, 1 to MAX_WORKERS, anything else refused', () => {
  expect(readConfig({}).workers).toBeGreaterThanOrEqual(1);
  expect(readConfig({ HARK_WORKERS: String(MAX_WORKERS) }).workers).toBe(MAX_WORKERS);
  for (const bad of ['0', String(MAX_WORKERS + 1), '1.5', 'all']) expect(() => readConfig({ HARK_WORKERS: bad })).toThrow(/HARK_WORKERS/);
});

it('spreads sockets over the workers, sums /metrics over them, and survives one being killed', async () => {
  // (Each worker prints its own line; the primary's "2 workers listening" may come first.)
  await waitFor('both workers’ lines', () => workerPids().length === 2);
  // Round-robin: six visitors, three on each worker.
  const vs: VisitorClient[] = [];
  for (let i = 0; i < 6; i++) {
    const v = await visitor(gw);
    await v.next('synced');
    vs.push(v);
  }
  // Summed over both workers (each holds three).
  expect(await waitFor('all six counted', async () => (await metric('hark_visitors_connected')) === 6)).toBe(true);

  const [victim] = workerPids();
  process.kill(victim as number, 'SIGKILL');
  // The victim's visitors lose their socket; the other worker's keep theirs.
  await waitFor('the victim’s sockets closed', () => vs.some((v) => v.closed));
  await new Promise((r) => setTimeout(r, 300));
  const alive = vs.filter((v) => !v.closed);
  const dropped = vs.filter((v) => v.closed);
  expect(alive.length).toBeGreaterThan(0);
  expect(dropped.length).toBeGreaterThan(0);
  for (const v of alive) {
    const c = cid();
    v.send({ type: 'send', cid: c, text: 'still here' });
    expect((await v.next('ack', (f) => f.cid === c)).cid).toBe(c);
  }
  // The port serves throughout, and a new worker takes the dead one's place.
  for (let i = 0; i < 5; i++) expect((await fetch(`${gw.base}/healthz`)).status).toBe(200);
  await waitFor('a replacement worker', () => /worker \d+ exited \(SIGKILL\); starting another/.test(gw.out()) && workerPids().length === 3, 20_000);
  // A dropped visitor reconnects (to either worker) with its token and chats on.
  const back = await visitor(gw, { token: (dropped[0] as VisitorClient & { token: string }).token });
  await back.next('synced');
  const c = cid();
  back.send({ type: 'send', cid: c, text: 'back again' });
  expect((await back.next('ack', (f) => f.cid === c)).cid).toBe(c);
  for (const v of [...alive, back]) v.close();
}, 60_000);

const consumerPids = () => [...gw.out().matchAll(/hark: consumer worker (\d+) running/g)].map((m) => Number(m[1]));
/** The nice value of every thread of a process (field 19 of /proc/PID/task/TID/stat; the name, field 2, may hold spaces). */
const niceOf = (pid: number) => readdirSync(`/proc/${pid}/task`).map((tid) => Number(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]?.split(' ')[16]));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
/** The pids in a membership (gateway ids are host:pid:random). */
const memberPids = async (r: Redis, name: string) => (await r.zrange(EVK.members(name), 0, -1)).map((id) => Number(id.split(':')[1])).sort();

it('HARK_CONSUMER_WORKER: on by default with several workers, 0 turns it off, never with one worker', () => {
  expect(readConfig({ HARK_WORKERS: '2' }).consumerWorker).toBe(true);
  expect(readConfig({ HARK_WORKERS: '2', HARK_CONSUMER_WORKER: '0' }).consumerWorker).toBe(false);
  expect(readConfig({ HARK_WORKERS: '1', HARK_CONSUMER_WORKER: '1' }).consumerWorker).toBe(false);
  expect(() => readConfig({ HARK_WORKERS: '2', HARK_CONSUMER_WORKER: 'yes' })).toThrow(/HARK_CONSUMER_WORKER/);
});

it('handles the event log in a consumer worker at a lower priority, counts only the gateways as serving, and replaces it when killed', async () => {
  await waitFor('the consumer worker’s line', () => consumerPids().length === 1);
  const [consumer] = consumerPids() as [number];
  // Every thread of it at CONSUMER_WORKER_NICE; the gateways' at 0.
  expect(new Set(niceOf(consumer))).toEqual(new Set([CONSUMER_WORKER_NICE]));
  const live = workerPids().filter(alive);
  for (const pid of live) expect(new Set(niceOf(pid))).toEqual(new Set([0]));
  const r = new Redis(redis.url);
  try {
    // It alone shares the consumers' work; the gateways alone count as serving (the per-site limit's share).
    for (const name of ['search-index', 'reports', 'operator-stats', 'mail', 'webhooks']) expect(await memberPids(r, name)).toEqual([consumer]);
    // (The gateway killed above stays a member until its heartbeat lapses.)
    const serving = await memberPids(r, SERVING_MEMBERS);
    for (const pid of live) expect(serving).toContain(pid);
    expect(serving).not.toContain(consumer);
    // A message's events are handled there (the gateways handle none).
    const handled = () => metric('hark_events_total\\{outcome="handled"\\}');
    const before = await handled();
    const v = await visitor(gw);
    await v.next('synced');
    const c = cid();
    v.send({ type: 'send', cid: c, text: 'indexed elsewhere' });
    await v.next('ack', (f) => f.cid === c);
    expect(await waitFor('events handled', async () => (await handled()) > before)).toBe(true);
    v.close();
    // Killed, it is replaced by another consumer worker, which takes the work over.
    process.kill(consumer, 'SIGKILL');
    await waitFor('a new consumer worker', () => /consumer worker \d+ exited \(SIGKILL\); starting another/.test(gw.out()) && consumerPids().length === 2, 20_000);
    const next = consumerPids()[1] as number;
    await waitFor('the new one shares the work', async () => (await memberPids(r, 'search-index')).includes(next), 20_000);
  } finally {
    r.disconnect();
  }
}, 60_000);

it('stops every worker on SIGTERM and exits 0', async () => {
  expect(await gw.stop()).toBe(0);
  for (const pid of [...workerPids(), ...consumerPids()]) expect(() => process.kill(pid, 0)).toThrow();
});

it('backs off when workers keep dying at start: the wait doubles from WORKER_RESPAWN_BASE_MS', async () => {
  // The port is taken by another program: every worker fails to listen and exits at once.
  const squatter = createServer();
  await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
  const port = (squatter.address() as { port: number }).port;
  const child = spawn(process.execPath, [COMPILED_MAIN], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), REDIS_URL: redis.url, LOG_LEVEL: 'warn', HARK_WORKERS: '2' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  try {
    const waits = () => [...out.matchAll(/exited \(1\); starting another in (\d+) ms/g)].map((m) => Number(m[1]));
    await waitFor('four respawns', () => waits().length >= 4, 20_000);
    const w = waits();
    expect(w[0]).toBe(WORKER_RESPAWN_BASE_MS);
    for (let i = 1; i < w.length; i++) expect(w[i]).toBe((w[i - 1] as number) * 2);
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    squatter.close();
  }
}, 30_000);
