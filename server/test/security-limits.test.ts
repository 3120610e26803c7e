/**
 * Security checks not covered by security.test.ts: connections per IP, sign-in timing
 * for known and unknown e-mails, and the session cookie's flags behind a TLS-terminating
 * proxy (TRUST_PROXY=1, X-Forwarded-Proto: https) and over plain HTTP.
 * Its own Redis and gateway, so the sign-in counters of other files do not interfere.
 */
import { MAX_CONNECTIONS_PER_IP, randomId } from '@hark/shared';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, Http, type TestGateway, type TestRedis, createOp, testGateway, testRedis, visitor } from './harness';

/** The per-IP limit of the gateway under test, lowered with the test-only option (the product's stays MAX_CONNECTIONS_PER_IP). */
const PER_IP = 20;

let redis: TestRedis;
let gw: TestGateway;
let admin: Http;

beforeAll(async () => {
  redis = await testRedis();
  gw = await testGateway(redis.url, { testLimits: { maxConnectionsPerIp: PER_IP } });
  admin = new Http(gw.base);
  await admin.login(ADMIN.email, ADMIN.password);
});
afterAll(async () => {
  await gw?.close();
  await redis?.cleanup();
});

function upgrade(url: string, headers: Record<string, string>): Promise<{ ws?: WebSocket; status?: number; code?: string }> {
  return new Promise((res) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => res({ ws }));
    ws.once('unexpected-response', (_req, resp) => {
      let body = '';
      resp.on('data', (b: Buffer) => {
        body += b.toString();
      });
      resp.on('end', () => res({ status: resp.statusCode ?? 0, code: (JSON.parse(body || '{}') as { code?: string }).code ?? '' }));
    });
    ws.once('error', () => {});
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

describe('security limits', () => {
  it('connections per IP: past the limit the upgrade is refused with 429 TOO_MANY_CONNECTIONS, on both endpoints; a closed one frees a slot', async () => {
    expect(MAX_CONNECTIONS_PER_IP).toBe(2000);
    const open: WebSocket[] = [];
    for (let i = 0; i < PER_IP; i++) {
      const r = await upgrade(`${gw.wsBase}/v1/visitor?v=1&site=demo&token=${randomId(32)}&new=1`, { origin: gw.base });
      expect(r.ws).toBeDefined();
      open.push(r.ws as WebSocket);
    }
    const refusedV = await upgrade(`${gw.wsBase}/v1/visitor?v=1&site=demo&token=${randomId(32)}&new=1`, { origin: gw.base });
    expect(refusedV).toEqual({ status: 429, code: 'TOO_MANY_CONNECTIONS' });
    const refusedO = await upgrade(`${gw.wsBase}/v1/operator?v=1`, { origin: gw.base, cookie: admin.cookie });
    expect(refusedO).toEqual({ status: 429, code: 'TOO_MANY_CONNECTIONS' });
    // REST is not counted: the gateway still answers.
    expect((await fetch(`${gw.base}/healthz`)).status).toBe(200);
    // One socket closes: one new one may open.
    const first = open.shift() as WebSocket;
    await new Promise<void>((res) => {
      first.once('close', () => res());
      first.close();
    });
    await new Promise((r) => setTimeout(r, 100));
    const again = await visitor(gw);
    await again.next('synced');
    open.push(again.ws);
    for (const ws of open) ws.terminate();
  });

  it('sign-in timing does not tell whether an e-mail exists (median of wrong-password attempts, known vs unknown e-mail)', async () => {
    await createOp(admin, { email: 'timing@example.com', name: 'Timing' });
    const h = new Http(gw.base);
    const known: number[] = [];
    const unknown: number[] = [];
    // Interleaved, so load on the machine hits both alike; under LOGIN_ATTEMPTS per e-mail (createOp signed in once).
    for (let i = 0; i < 7; i++) {
      for (const [email, into] of [
        ['timing@example.com', known],
        [`nobody-${i}@example.com`, unknown],
      ] as const) {
        const t0 = performance.now();
        const r = await h.req<{ code: string }>('POST', '/v1/auth/login', { email, password: `wrong password ${i}` });
        into.push(performance.now() - t0);
        expect(r.status).toBe(401);
        expect(r.body.code).toBe('BAD_CREDENTIALS');
      }
    }
    const ratio = median(known) / median(unknown);
    console.log(`sign-in timing: known e-mail median ${median(known).toFixed(0)} ms, unknown ${median(unknown).toFixed(0)} ms, ratio ${ratio.toFixed(2)}`);
    // Both run one scrypt (a dummy hash for unknown e-mails); without it an unknown e-mail answers in ~1 ms.
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  }, 90_000);
});

describe('session cookie flags', () => {
  let proxied: TestGateway;
  beforeAll(async () => {
    // TRUST_PROXY is read when the app is built.
    process.env.TRUST_PROXY = '1';
    try {
      proxied = await testGateway(redis.url);
    } finally {
      delete process.env.TRUST_PROXY;
    }
  });
  afterAll(async () => {
    await proxied?.close();
  });

  const login = (g: TestGateway, headers: Record<string, string>) =>
    fetch(`${g.base}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ email: ADMIN.email, password: ADMIN.password }),
    });

  it('behind a TLS-terminating proxy (TRUST_PROXY=1, X-Forwarded-Proto: https): HttpOnly, SameSite=Strict, Secure', async () => {
    const httpsOrigin = proxied.base.replace('http:', 'https:');
    const res = await login(proxied, { origin: httpsOrigin, 'x-forwarded-proto': 'https' });
    expect(res.status).toBe(200);
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^hark_session=/);
    expect(cookie).toMatch(/;\s*HttpOnly/i);
    expect(cookie).toMatch(/;\s*SameSite=Strict/i);
    expect(cookie).toMatch(/;\s*Secure/i);
    // The session works on the https origin (the operator socket checks the same origin).
    const me = await fetch(`${proxied.base}/v1/auth/me`, { headers: { cookie: cookie.split(';')[0] as string, 'x-forwarded-proto': 'https' } });
    expect(me.status).toBe(200);
  });

  it('over plain HTTP (a local first run): HttpOnly and SameSite=Strict, not Secure (the browser would drop it)', async () => {
    const res = await login(gw, { origin: gw.base });
    expect(res.status).toBe(200);
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/;\s*HttpOnly/i);
    expect(cookie).toMatch(/;\s*SameSite=Strict/i);
    expect(cookie).not.toMatch(/;\s*Secure/i);
  });
});
