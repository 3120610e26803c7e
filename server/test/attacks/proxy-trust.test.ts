/**
 * Attack: trusting proxies that are not there. Without TRUST_PROXY, `X-Forwarded-Proto: https`
 * still made the session cookie Secure and the gateway's own origin https for the CSRF check (and
 * the operator socket's origin check). X-Forwarded-* now count only with TRUST_PROXY=1; responses
 * served over https carry Strict-Transport-Security. And /metrics, which names sites, was public:
 * now it needs METRICS_TOKEN (Bearer), or lives on METRICS_PORT, or answers loopback clients only.
 */
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricsRefusal, startMetricsServer } from '../../src/http/health';
import { HSTS } from '../../src/http/origin';
import { ADMIN, type TestGateway, type TestRedis, testGateway, testRedis } from '../harness';
import { httpReq } from './net';

let redis: TestRedis;
let plain: TestGateway;
let proxied: TestGateway;
let withToken: TestGateway;
let withPort: TestGateway;
let metricsServer: Server;
const TOKEN = 'a-long-random-metrics-token-0123456789';

beforeAll(async () => {
  redis = await testRedis();
  plain = await testGateway(redis.url);
  // TRUST_PROXY is read when the app is built.
  process.env.TRUST_PROXY = '1';
  try {
    proxied = await testGateway(redis.url);
  } finally {
    delete process.env.TRUST_PROXY;
  }
  withToken = await testGateway(redis.url, { config: { metricsToken: TOKEN } });
  withPort = await testGateway(redis.url, { config: { metricsPort: 0 } });
  metricsServer = await startMetricsServer(withPort.ctx, 0, '127.0.0.1');
});
afterAll(async () => {
  metricsServer?.close();
  for (const g of [plain, proxied, withToken, withPort]) await g?.close();
  await redis?.cleanup();
});

const login = (g: TestGateway, headers: Record<string, string>) =>
  httpReq(g.port, { method: 'POST', path: '/v1/auth/login', headers, body: { email: ADMIN.email, password: ADMIN.password } });
const setCookie = (h: Record<string, string | string[] | undefined>) => String(h['set-cookie'] ?? '');

describe('X-Forwarded-* without TRUST_PROXY', () => {
  it('X-Forwarded-Proto: https neither makes an https origin pass the CSRF check nor the cookie Secure; no HSTS', async () => {
    const https = plain.base.replace('http:', 'https:');
    const forged = await login(plain, { origin: https, 'x-forwarded-proto': 'https' });
    expect(forged.status).toBe(403);
    expect(forged.json.code).toBe('CSRF');
    const host = await login(plain, { origin: 'http://evil.example', 'x-forwarded-host': 'evil.example' });
    expect(host.json.code).toBe('CSRF');
    const ok = await login(plain, { origin: plain.base, 'x-forwarded-proto': 'https' });
    expect(ok.status).toBe(200);
    expect(setCookie(ok.headers)).toMatch(/HttpOnly/i);
    expect(setCookie(ok.headers)).not.toMatch(/;\s*Secure/i);
    expect(ok.headers['strict-transport-security']).toBeUndefined();
  });
});

describe('behind a trusted proxy (TRUST_PROXY=1)', () => {
  it('X-Forwarded-Proto: https gives the https origin, a Secure cookie and HSTS; plain http gets no HSTS', async () => {
    const https = proxied.base.replace('http:', 'https:');
    const ok = await login(proxied, { origin: https, 'x-forwarded-proto': 'https' });
    expect(ok.status).toBe(200);
    expect(setCookie(ok.headers)).toMatch(/;\s*Secure/i);
    expect(ok.headers['strict-transport-security']).toBe(HSTS);
    const page = await httpReq(proxied.port, { path: '/healthz', headers: { 'x-forwarded-proto': 'https' } });
    expect(page.headers['strict-transport-security']).toBe(HSTS);
    const http = await httpReq(proxied.port, { path: '/healthz' });
    expect(http.headers['strict-transport-security']).toBeUndefined();
    // The https origin is the only one: the http one is now cross-origin.
    expect((await login(proxied, { origin: proxied.base, 'x-forwarded-proto': 'https' })).json.code).toBe('CSRF');
  });
});

describe('/metrics', () => {
  it('without METRICS_TOKEN or METRICS_PORT: loopback clients only, and not through a proxy', async () => {
    const direct = await httpReq(plain.port, { path: '/metrics', localAddress: '127.0.0.9' });
    expect(direct.status).toBe(200);
    expect(direct.text).toContain('hark_visitors_connected');
    const viaProxy: Record<string, string>[] = [{ 'x-forwarded-for': '203.0.113.9' }, { forwarded: 'for=203.0.113.9' }, { 'x-real-ip': '203.0.113.9' }];
    for (const headers of viaProxy) {
      const r = await httpReq(plain.port, { path: '/metrics', headers });
      expect(r.status).toBe(403);
      expect(r.json.code).toBe('FORBIDDEN');
      expect(r.text).not.toContain('hark_');
    }
    // Behind a trusted proxy too: the client's address is not loopback.
    expect((await httpReq(proxied.port, { path: '/metrics', headers: { 'x-forwarded-for': '203.0.113.9' } })).status).toBe(403);
    // A client elsewhere on the network (tests only talk to loopback, so the rule itself).
    expect(metricsRefusal(undefined, '10.1.2.3', {})).toBe('FORBIDDEN');
    expect(metricsRefusal(undefined, '::ffff:192.0.2.1', {})).toBe('FORBIDDEN');
    expect(metricsRefusal(undefined, '::1', {})).toBeNull();
    expect(metricsRefusal(undefined, '::ffff:127.0.0.1', {})).toBeNull();
  });

  it('with METRICS_TOKEN: only with Authorization: Bearer <token>, from anywhere', async () => {
    const none = await httpReq(withToken.port, { path: '/metrics' });
    expect(none.status).toBe(401);
    expect(none.json.code).toBe('NOT_AUTHENTICATED');
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    expect((await httpReq(withToken.port, { path: '/metrics', headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await httpReq(withToken.port, { path: '/metrics', headers: { authorization: `Basic ${TOKEN}` } })).status).toBe(401);
    const ok = await httpReq(withToken.port, { path: '/metrics', headers: { authorization: `Bearer ${TOKEN}`, 'x-forwarded-for': '203.0.113.9' } });
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('hark_visitors_connected');
    expect(metricsRefusal(TOKEN, '10.1.2.3', { authorization: `Bearer ${TOKEN}` })).toBeNull();
  });

  it('with METRICS_PORT: not on the main port, served on its own listener', async () => {
    const main = await httpReq(withPort.port, { path: '/metrics' });
    expect(main.status).toBe(404);
    expect(main.text).not.toContain('hark_');
    const port = (metricsServer.address() as { port: number }).port;
    const own = await httpReq(port, { path: '/metrics' });
    expect(own.status).toBe(200);
    expect(own.text).toContain('hark_connections_open');
    expect((await httpReq(port, { path: '/v1/sites' })).status).toBe(404);
  });
});
