/**
 * Behind a real TLS proxy (nginx or Caddy), configured with the README's own block, terminating
 * TLS (a certificate the test makes) in front of the compiled gateway (`pnpm start`'s build) run
 * with TRUST_PROXY=1 and PUBLIC_ORIGIN. In Chromium over https://: the console signs in (a Secure,
 * HttpOnly session cookie; HSTS), its socket and a visitor's socket are wss:// through the proxy,
 * the widget sits on a page of another origin, and a message goes both ways. Plain http:// on the
 * proxy is sent to https://.
 */
import { get } from 'node:http';
import { type Browser, type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { HSTS } from '../../server/src/http/origin';
import { freePort } from '../../server/src/redis/supervisor';
import { type TestRedis, testRedis } from '../../server/test/harness';
import { type GatewayProcess, startCompiled } from '../../server/test/process-harness';
import { type Fixtures, launcher, say, startFixtures, widget } from './fixtures';
import { ADMIN, CHROMIUM, CHROMIUM_ARGS, Http, type Stack } from './harness';
import type { TlsProxy } from './nginx';

/** The admin's REST calls made straight to the gateway, with the headers the proxy would add. */
class ProxiedHttp extends Http {
  constructor(
    base: string,
    readonly publicOrigin: string,
  ) {
    super(base);
  }
  override req<T = unknown>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const u = new URL(this.publicOrigin);
    return super.req<T>(method, path, body, { origin: this.publicOrigin, 'x-forwarded-proto': 'https', 'x-forwarded-host': u.host, 'x-forwarded-for': '127.0.0.1', ...headers });
  }
}

export interface ProxyCase {
  start(opts: { upstreamPort: number; httpsPort: number; httpPort: number }): Promise<TlsProxy>;
  /** Where the proxy sends a plain http:// request for /console/ (its status and Location). */
  redirect(httpsPort: number): { status: number; location: string };
}

export function proxySuite(c: ProxyCase): void {
  let redis: TestRedis;
  let gw: GatewayProcess;
  let proxy: TlsProxy;
  let fx: Fixtures;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    redis = await testRedis();
    const [httpsPort, httpPort] = [await freePort(), await freePort()];
    const publicOrigin = `https://localhost:${httpsPort}`;
    gw = await startCompiled({ REDIS_URL: redis.url, TRUST_PROXY: '1', PUBLIC_ORIGIN: publicOrigin });
    proxy = await c.start({ upstreamPort: gw.port, httpsPort, httpPort });
    const admin = new ProxiedHttp(gw.base, publicOrigin);
    await admin.login(ADMIN.email, ADMIN.password);
    fx = await startFixtures({ base: publicOrigin, adminHttp: admin } as unknown as Stack);
    // The test's own CA is not in Chromium's store: accept its certificate (https:// and wss:// alike).
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, '--ignore-certificate-errors'], headless: true });
  }, 60_000);
  afterAll(async () => {
    for (const ctx of contexts) await ctx.close().catch(() => {});
    await browser?.close();
    await fx?.close();
    await proxy?.stop();
    await gw?.stop();
    await redis?.cleanup();
  });

  it('console and widget over https:// through the proxy: sign-in, both sockets, HSTS, Secure cookie, a message both ways', async () => {
    // 1. The console over https: HSTS on the page, a Secure session cookie, its socket wss:// through the proxy.
    const opCtx = await browser.newContext();
    contexts.push(opCtx);
    const op = await opCtx.newPage();
    const opSockets: string[] = [];
    op.on('websocket', (ws) => opSockets.push(ws.url()));
    const res = await op.goto(`${proxy.origin}/console/`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['strict-transport-security']).toBe(HSTS);
    await op.getByLabel(/e-?mail/i).fill(ADMIN.email);
    await op.getByLabel(/password/i).fill(ADMIN.password);
    await op.getByRole('button', { name: /sign in/i }).click();
    await expect.poll(() => opSockets.find((u) => u.startsWith(`wss://localhost:${proxy.httpsPort}/v1/operator`)), { timeout: 15_000 }).toBeTruthy();
    const session = (await opCtx.cookies(proxy.origin)).find((ck) => ck.name === 'hark_session');
    expect(session).toMatchObject({ secure: true, httpOnly: true, sameSite: 'Strict' });

    // 2. A visitor on a page of another origin, the widget loaded from the proxy (brotli passed through).
    const vCtx = await browser.newContext();
    contexts.push(vCtx);
    const v = await vCtx.newPage();
    const vSockets: string[] = [];
    const encodings: Record<string, string> = {};
    v.on('websocket', (ws) => vSockets.push(ws.url()));
    v.on('response', async (r) => {
      if (r.url().startsWith(proxy.origin)) encodings[new URL(r.url()).pathname] = (await r.headerValue('content-encoding')) ?? 'identity';
    });
    await v.goto(fx.page('proxied'));
    await launcher(v).waitFor();
    await say(v, `Hello through ${proxy.name}`);
    await widget(v).getByText('Sent', { exact: true }).waitFor({ timeout: 15_000 });
    expect(vSockets[0]).toMatch(new RegExp(`^wss://localhost:${proxy.httpsPort}/v1/visitor\\?site=demo&`));
    expect(encodings['/widget.js']).toBe('br');

    // 3. The operator gets it in the console and answers; the visitor sees the answer.
    const item = op.getByText(`Hello through ${proxy.name}`).first();
    await item.waitFor({ timeout: 15_000 });
    await item.click();
    const composer = op.getByRole('textbox').last();
    await composer.fill('Answered from behind the proxy');
    await composer.press('Enter');
    await widget(v).getByText('Answered from behind the proxy').first().waitFor({ timeout: 15_000 });
    expect(proxy.errors()).toBe('');
  });

  it('plain http:// on the proxy is sent to https://', async () => {
    const r = await new Promise<{ status: number; location: string }>((res, rej) =>
      get({ host: '127.0.0.1', port: proxy.httpPort, path: '/console/', headers: { host: `localhost:${proxy.httpPort}` } }, (m) => {
        m.resume();
        res({ status: m.statusCode ?? 0, location: String(m.headers.location) });
      }).on('error', rej),
    );
    expect(r).toEqual(c.redirect(proxy.httpsPort));
  });
}
