/**
 * End-to-end harness: a real Redis and a real gateway on port 0 (serving the
 * built widget and console), and a real Chromium driven by playwright-core.
 * `pnpm test` builds the widget and console before any test runs.
 */
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { ADMIN, Http, type TestGateway, type TestRedis, testGateway, testRedis } from '../../server/test/harness';
import type { AppOptions } from '../../server/src/app';

export { ADMIN, Http, createOp, visitor, operator, cid, sleep } from '../../server/test/harness';
export type { OperatorClient, VisitorClient } from '../../server/test/harness';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export interface Stack {
  redis: TestRedis;
  gw: TestGateway;
  /** Everything the gateway logged (level info, as in production), one JSON line each. */
  log(): string;
  /** http://127.0.0.1:PORT */
  base: string;
  admin: typeof ADMIN;
  /** A REST client signed in as the admin. */
  adminHttp: Http;
  close(): Promise<void>;
}

/**
 * What must never be in a log (SECURITY.md): a visitor token in a URL, a session cookie, an
 * authorization header's value, a password. Every end-to-end file's gateway log is checked for
 * them when its stack closes, so a full e2e run greps every log line the product wrote.
 */
export const SECRET_IN_LOG = [/token=[A-Za-z0-9_-]{16}/, /hark_session=[A-Za-z0-9_-]/, /Visitor [A-Za-z0-9_-]{16}/, /long enough password/, new RegExp(ADMIN.password)];

/** Gateway options a test file may set for its stack (e.g. `config.webhooksAllowPrivate`, `testLimits.webhooks`). */
export type StackOptions = Pick<Partial<AppOptions>, 'config' | 'testLimits'>;

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const redis = await testRedis();
  const lines: string[] = [];
  const stream = { write: (line: string) => void lines.push(line) };
  const gw = await testGateway(redis.url, { ...opts, logger: { level: 'info', stream } });
  const adminHttp = new Http(gw.base);
  await adminHttp.login(ADMIN.email, ADMIN.password);
  return {
    redis,
    gw,
    base: gw.base,
    admin: ADMIN,
    adminHttp,
    log: () => lines.join(''),
    async close() {
      await gw.close();
      await redis.cleanup();
      const log = lines.join('');
      const found = SECRET_IN_LOG.filter((re) => re.test(log)).map(String);
      if (found.length) throw new Error(`the gateway log holds secrets matching ${found.join(', ')}`);
    },
  };
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/** Signs in to the console in a fresh browser context and waits for the workspace. */
export async function consoleLogin(browser: Browser, base: string, email: string, password: string): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${base}/console/`);
  await page.getByLabel(/e-?mail/i).fill(email);
  await page.getByLabel(/password/i).fill(password);
  await page.getByRole('button', { name: /sign in/i }).click();
  return { ctx, page };
}

/** Collects CSP violations reported on a page (securitypolicyviolation events). */
export async function watchCsp(page: Page): Promise<() => Promise<string[]>> {
  await page.addInitScript(() => {
    const w = window as unknown as { __csp: string[] };
    w.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => w.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return () => page.evaluate(() => (window as unknown as { __csp: string[] }).__csp);
}
