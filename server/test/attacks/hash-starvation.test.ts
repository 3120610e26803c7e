/**
 * Attack: sign-ins starve libuv's thread pool. Each scrypt holds a pool thread (and 128 MiB) for
 * ~0.5 s; with unbounded concurrent sign-ins every pool thread was hashing and static files (read
 * through the same pool) timed out. Now at most MAX_CONCURRENT_HASHES hash at once, at most
 * MAX_QUEUED_HASHES wait, and the rest are answered 503 BUSY with Retry-After at once; static
 * files, /healthz and sockets answer quickly throughout. The wait queue is shortened for the test
 * (QUEUED instead of MAX_QUEUED_HASHES) so it needs few ~0.5 s hashes; the hashes running at once,
 * what decides whether the thread pool is starved, stay at the product's MAX_CONCURRENT_HASHES.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_CONCURRENT_HASHES, MAX_QUEUED_HASHES, randomId } from '@hark/shared';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { dummyHash, setHashLimitsForTest } from '../../src/store/passwords';
import { type TestGateway, type TestRedis, testGateway, testRedis, visitor } from '../harness';
import { type Answer, httpReq } from './net';

const STORM = 10;
const QUEUED = 2;
let redis: TestRedis;
let gw: TestGateway;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hark-widget-'));
  writeFileSync(join(dir, 'widget.js'), `/* widget */${'x'.repeat(4096)}`);
  redis = await testRedis();
  gw = await testGateway(redis.url, { widgetDir: dir });
  setHashLimitsForTest({ concurrent: MAX_CONCURRENT_HASHES, queued: QUEUED });
  // The hash unknown e-mails are checked against, made once per process.
  await dummyHash();
});
afterAll(async () => {
  await gw?.close();
  await redis?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const signIn = (i: number) =>
  httpReq(gw.port, {
    method: 'POST',
    path: '/v1/auth/login',
    headers: { origin: gw.base },
    body: { email: `nobody-${i}-${randomId(6)}@example.com`, password: 'wrong password' },
    // Each from its own address: the sign-in limits per address are not what this test is about.
    localAddress: `127.0.1.${1 + i}`,
    timeoutMs: 20_000,
  });

async function timed<T>(f: () => Promise<T>): Promise<{ ms: number; r: T }> {
  const t0 = performance.now();
  const r = await f();
  return { ms: performance.now() - t0, r };
}

it(`${STORM} concurrent sign-ins: ${MAX_CONCURRENT_HASHES} hash at once, ${QUEUED} wait, the rest get 503 BUSY; static files, /healthz and sockets stay fast`, async () => {
  expect(MAX_CONCURRENT_HASHES).toBe(2);
  expect(MAX_QUEUED_HASHES).toBe(8);
  expect((await httpReq(gw.port, { path: '/widget.js' })).status).toBe(200);

  let storming = true;
  const storm = Promise.all(Array.from({ length: STORM }, (_, i) => signIn(i))).finally(() => {
    storming = false;
  });
  // While the storm runs: the widget loader, /healthz and a visitor socket, one after another.
  await new Promise((r) => setTimeout(r, 100));
  const during: { path: string; ms: number; status: number }[] = [];
  for (let i = 0; i < 40 && storming; i++) {
    for (const path of ['/widget.js', '/healthz']) {
      const { ms, r } = await timed(() => httpReq(gw.port, { path, localAddress: '127.0.0.40' }));
      during.push({ path, ms, status: r.status });
    }
    if (i === 2) {
      const { ms, r: v } = await timed(async () => {
        const v = await visitor(gw);
        await v.next('synced');
        return v;
      });
      during.push({ path: '/v1/visitor', ms, status: 101 });
      v.close();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const answers: Answer[] = await storm;
  const worst = Math.max(...during.map((d) => d.ms));
  console.log(`during ${STORM} sign-ins: ${during.length} requests, slowest ${worst.toFixed(0)} ms; answers ${answers.map((a) => a.status).join(',')}`);

  expect(during.length).toBeGreaterThanOrEqual(6);
  expect(during.every((d) => d.status === 200 || d.status === 101)).toBe(true);
  // Without the bound every pool thread is hashing and /widget.js waits seconds behind the queue.
  expect(worst).toBeLessThan(500);

  const busy = answers.filter((a) => a.status === 503);
  const checked = answers.filter((a) => a.status === 401);
  expect(checked.length).toBe(MAX_CONCURRENT_HASHES + QUEUED);
  expect(busy.length).toBe(STORM - MAX_CONCURRENT_HASHES - QUEUED);
  for (const b of busy) {
    expect(b.json.code).toBe('BUSY');
    expect(Number(b.headers['retry-after'])).toBeGreaterThan(0);
  }
  for (const c of checked) expect(c.json.code).toBe('BAD_CREDENTIALS');
  expect((await gw.ctx.metrics.signinRefused.get()).values.find((v) => v.labels.reason === 'busy')?.value).toBe(busy.length);
}, 30_000);
