/**
 * Attack: half-open HTTP requests exhaust file descriptors. Requests stuck mid-header lived 60–90 s
 * (Node's headersTimeout, checked every 30 s), and ~21,000 of them from 127.1.x.y filled every fd.
 * Now: headers and request timeouts close them, a per-address cap closes the surplus at once, and a
 * per-process cap below the fd limit closes new connections (logged, counted) while /healthz keeps
 * answering other clients. WebSockets stay up long after the upgrade. Timeouts and caps are
 * lowered with AppOptions.testLimits; the product values are the constants checked first.
 */
import { Writable } from 'node:stream';
import {
  CONNECTION_FD_RESERVE,
  DEFAULT_MAX_CONNECTIONS,
  HEADERS_TIMEOUT_MS,
  KEEP_ALIVE_TIMEOUT_MS,
  MAX_CONNECTIONS_PER_IP,
  MAX_TCP_CONNECTIONS_PER_ADDRESS,
  REQUEST_TIMEOUT_MS,
} from '@hark/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONNECTION_CHECK_MS, REFUSAL_LOG_INTERVAL_MS, addressKey, connectionCap, openFileLimit } from '../../src/http/conn-limits';
import { type TestGateway, type TestRedis, cid, testGateway, testRedis, visitor } from '../harness';
import { type Raw, httpReq, metricValue, openRaw, until } from './net';

const HALF = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ';

let redis: TestRedis;
/** Short timeouts, product caps. */
let timeouts: TestGateway;
/** At most PER_ADDRESS connections per address. */
let perAddr: TestGateway;
/** At most MAX connections in all, with a captured log. */
let global: TestGateway;
const log: string[] = [];
const PER_ADDRESS = 10;
const MAX = 30;

beforeAll(async () => {
  redis = await testRedis();
  timeouts = await testGateway(redis.url, { testLimits: { headersTimeoutMs: 500, requestTimeoutMs: 1_000, keepAliveTimeoutMs: 500, connectionCheckMs: 100 } });
  perAddr = await testGateway(redis.url, { testLimits: { maxConnectionsPerAddress: PER_ADDRESS, headersTimeoutMs: 1_000, requestTimeoutMs: 1_000, connectionCheckMs: 100 } });
  const stream = new Writable({
    write(chunk, _enc, cb) {
      log.push(chunk.toString());
      cb();
    },
  });
  global = await testGateway(redis.url, {
    logger: { level: 'warn', stream },
    testLimits: { maxConnections: MAX, maxConnectionsPerAddress: PER_ADDRESS, headersTimeoutMs: 1_000, requestTimeoutMs: 1_000, connectionCheckMs: 100 },
  });
});
afterAll(async () => {
  await timeouts?.close();
  await perAddr?.close();
  await global?.close();
  await redis?.cleanup();
});

const closeAll = (rs: Raw[]) => {
  for (const r of rs) r.socket.destroy();
};

describe('connection limits', () => {
  it('product values: timeouts sized for a chat gateway, caps below the fd limit, per-address cap above the WebSocket one', () => {
    expect(HEADERS_TIMEOUT_MS).toBe(10_000);
    expect(REQUEST_TIMEOUT_MS).toBe(30_000);
    expect(KEEP_ALIVE_TIMEOUT_MS).toBe(10_000);
    expect(CONNECTION_CHECK_MS).toBe(1_000);
    expect(REFUSAL_LOG_INTERVAL_MS).toBe(10_000);
    expect(MAX_TCP_CONNECTIONS_PER_ADDRESS).toBeGreaterThan(MAX_CONNECTIONS_PER_IP);
    expect(connectionCap(20_000)).toBe(20_000 - CONNECTION_FD_RESERVE);
    expect(connectionCap(1_024)).toBe(512);
    expect(connectionCap(undefined)).toBe(DEFAULT_MAX_CONNECTIONS);
    const nofile = openFileLimit();
    expect(nofile).toBeGreaterThan(0);
    // The live gateways (no maxConnections override) run below this process's limit.
    expect(timeouts.app.server.maxConnections).toBe(connectionCap(nofile));
    expect(timeouts.app.server.maxConnections).toBeLessThan(nofile as number);
    expect(addressKey('::ffff:127.0.0.4')).toBe('127.0.0.4');
    expect(addressKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
  });

  it('requests stuck mid-header, silent or dripping, and bodies that never finish are closed by the timeouts', async () => {
    const open: Raw[] = [];
    for (let i = 0; i < 6; i++) open.push(await openRaw(timeouts.port, '127.0.0.3', HALF));
    for (let i = 0; i < 2; i++) open.push(await openRaw(timeouts.port, '127.0.0.3'));
    const drip = await openRaw(timeouts.port, '127.0.0.3', HALF);
    const dripper = setInterval(() => drip.socket.write('a'), 100);
    open.push(drip);
    const body = await openRaw(timeouts.port, '127.0.0.3', 'POST /v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"email":');
    open.push(body);
    try {
      // headersTimeout 500 ms and requestTimeout 1 s, checked every 100 ms: all gone within ~1.2 s.
      expect(await until(() => open.every((r) => r.isClosed()), 2_500)).toBe(true);
      const ms = await Promise.all(open.map((r) => r.closed));
      expect(Math.max(...ms)).toBeLessThan(2_500);
      expect(open[0]?.received()).toMatch(/^HTTP\/1.1 408/);
    } finally {
      clearInterval(dripper);
      closeAll(open);
    }
    expect((await httpReq(timeouts.port, { path: '/healthz', localAddress: '127.0.0.3' })).status).toBe(200);
  });

  it('a WebSocket stays open and working long after the upgrade (past the headers, request and keep-alive timeouts)', async () => {
    const v = await visitor(timeouts);
    await v.next('synced');
    await new Promise((r) => setTimeout(r, 1_300));
    expect(v.closed).toBeNull();
    const c = cid();
    v.send({ type: 'send', cid: c, text: 'still here' });
    expect((await v.next('ack', (f) => f.cid === c)).cid).toBe(c);
    v.close();
  });

  it('past the per-address cap, connections from that address are closed at once; other addresses are served', async () => {
    const held: Raw[] = [];
    try {
      for (let i = 0; i < PER_ADDRESS + 5; i++) held.push(await openRaw(perAddr.port, '127.0.0.4', HALF));
      // The surplus is closed on arrival, long before the 1 s headers timeout.
      expect(await until(() => held.filter((r) => r.isClosed()).length === 5, 500)).toBe(true);
      expect(held.filter((r) => !r.isClosed()).length).toBe(PER_ADDRESS);
      await expect(httpReq(perAddr.port, { path: '/healthz', localAddress: '127.0.0.4', timeoutMs: 500 })).rejects.toThrow();
      // Another address is served while 127.0.0.4 holds its 10.
      const t0 = Date.now();
      const ok = await httpReq(perAddr.port, { path: '/healthz', localAddress: '127.0.0.7' });
      expect(ok.status).toBe(200);
      expect(Date.now() - t0).toBeLessThan(500);
      expect(await metricValue(perAddr.ctx.metrics.connectionsRefused, { reason: 'per_address' })).toBeGreaterThanOrEqual(6);
      // The held ones end at the headers timeout; the address is served again.
      expect(await until(() => held.every((r) => r.isClosed()), 2_500)).toBe(true);
      expect((await httpReq(perAddr.port, { path: '/healthz', localAddress: '127.0.0.4' })).status).toBe(200);
    } finally {
      closeAll(held);
    }
  });

  it('past the per-process cap, new connections are closed (logged once, counted) until some end', async () => {
    const held: Raw[] = [];
    try {
      for (let a = 0; a < MAX / PER_ADDRESS; a++) for (let i = 0; i < PER_ADDRESS; i++) held.push(await openRaw(global.port, `127.0.0.${10 + a}`, HALF));
      expect(held.every((r) => !r.isClosed())).toBe(true);
      await expect(httpReq(global.port, { path: '/healthz', localAddress: '127.0.0.20', timeoutMs: 500 })).rejects.toThrow();
      await expect(httpReq(global.port, { path: '/healthz', localAddress: '127.0.0.21', timeoutMs: 500 })).rejects.toThrow();
      expect(await metricValue(global.ctx.metrics.connectionsRefused, { reason: 'global' })).toBe(2);
      expect(await metricValue(global.ctx.metrics.connectionsMax)).toBe(MAX);
      expect(await metricValue(global.ctx.metrics.connectionsOpen)).toBe(MAX);
      const warned = log.filter((l) => l.includes('connection limit reached'));
      expect(warned.length).toBe(1);
      expect(JSON.parse(warned[0] as string)).toMatchObject({ level: 40, max: MAX, reason: 'global' });
      // The held ones time out; the gateway answers again.
      expect(await until(() => held.every((r) => r.isClosed()), 2_500)).toBe(true);
      expect((await httpReq(global.port, { path: '/healthz', localAddress: '127.0.0.20' })).status).toBe(200);
    } finally {
      closeAll(held);
    }
  });
});
