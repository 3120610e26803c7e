/**
 * Attack: visitor tokens in the log. The visitor socket's URL carries its token, and the request
 * line was logged at info level. No secret may reach the log: visitor tokens (query string and
 * Authorization), session cookies (Cookie and Set-Cookie), passwords, the metrics token, and the raw
 * bytes of a malformed request. Everything runs at level trace, the most Fastify ever logs.
 */
import { Writable } from 'node:stream';
import { randomId } from '@hark/shared';
import WebSocket from 'ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { logUrl } from '../../src/http/logging';
import { ADMIN, Http, type TestGateway, type TestRedis, cid, operator, testGateway, testRedis, visitor } from '../harness';
import { httpReq, openRaw } from './net';

const METRICS_TOKEN = `mtok-${randomId(32)}`;
let redis: TestRedis;
let gw: TestGateway;
const lines: string[] = [];

beforeAll(async () => {
  redis = await testRedis();
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  gw = await testGateway(redis.url, { logger: { level: 'trace', stream }, config: { metricsToken: METRICS_TOKEN } });
});
afterAll(async () => {
  await gw?.close();
  await redis?.cleanup();
});

it('logUrl keeps the path and drops the query string and fragment', () => {
  expect(logUrl('/v1/visitor?site=demo&token=abc')).toBe('/v1/visitor?…');
  expect(logUrl('/console/#x')).toBe('/console/?…');
  expect(logUrl('/healthz')).toBe('/healthz');
});

it('a visitor, an operator signing in and working, and malformed requests leave no secret in the log', async () => {
  const secrets: Record<string, string> = {};
  // A visitor: registers its token (new=1), writes, comes back with the same token, reads over REST.
  const v = await visitor(gw);
  secrets.visitorToken = v.token;
  await v.next('synced');
  const c = cid();
  v.send({ type: 'send', cid: c, text: 'hello' });
  const ack = await v.next('ack', (f) => f.cid === c);
  const again = await visitor(gw, { token: v.token });
  await again.next('synced');
  const rest = await fetch(`${gw.base}/v1/visitor/conversations/${ack.conv}?site=demo`, { headers: { authorization: `Visitor ${v.token}` } });
  expect(rest.status).toBe(200);
  // A refused upgrade with a token in its URL (wrong origin).
  const other = randomId(32);
  secrets.refusedToken = other;
  await new Promise<void>((res) => {
    const ws = new WebSocket(`${gw.wsBase}/v1/visitor?v=1&site=demo&token=${other}&new=1`, { headers: { origin: 'https://evil.example' } });
    ws.once('unexpected-response', () => {
      ws.terminate();
      res();
    });
    ws.once('error', () => res());
  });

  // An operator: signs in (the Set-Cookie), opens the console socket (the Cookie), calls REST.
  const admin = new Http(gw.base);
  await admin.login(ADMIN.email, ADMIN.password);
  secrets.adminSession = admin.cookie.split('=')[1] as string;
  secrets.adminPassword = ADMIN.password;
  const op = await operator(gw, admin);
  expect((await admin.req('GET', '/v1/auth/me')).status).toBe(200);
  expect((await admin.req('GET', '/v1/sites')).status).toBe(200);
  const wrong = await new Http(gw.base).req('POST', '/v1/auth/login', { email: ADMIN.email, password: 'a wrong password 123' });
  expect(wrong.status).toBe(401);
  secrets.wrongPassword = 'a wrong password 123';
  expect((await admin.req('PATCH', '/v1/sites/demo', { name: 'Demo shop' })).status).toBe(200);

  // Metrics with its bearer token.
  const m = await httpReq(gw.port, { path: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(m.status).toBe(200);
  secrets.metricsToken = METRICS_TOKEN;

  // A malformed request whose raw bytes carry a token and a cookie (logged by the client-error path).
  const rawToken = randomId(32);
  const rawCookie = randomId(40);
  secrets.rawToken = rawToken;
  secrets.rawCookie = rawCookie;
  const raw = await openRaw(gw.port, '127.0.0.1', `GET /v1/visitor?site=demo&token=${rawToken} HTTP/1.1\r\nHost: x\r\nCookie: hark_session=${rawCookie}\r\nBad Header Line\r\n\r\n`);
  await raw.closed;

  op.close();
  v.close();
  again.close();
  await new Promise((r) => setTimeout(r, 100));

  const log = lines.join('');
  const found = Object.entries(secrets).filter(([, value]) => log.includes(value));
  expect(found.map(([name]) => name)).toEqual([]);
  // Nor the raw bytes of a malformed request (pino would write them as a Buffer's byte array).
  expect(log).not.toContain('rawPacket');
  // The log is really there, at trace: requests are logged by path.
  expect(lines.length).toBeGreaterThan(20);
  expect(log).toContain('"url":"/v1/visitor?…"');
  expect(log).toContain('/v1/auth/login');
  expect(log).toContain('client error');
});
