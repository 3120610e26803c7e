/**
 * XSS corpus in real Chromium: markup and script URLs sent by visitors (messages, names
 * via identify and prechat, custom attributes, page title, URL and referrer) and by
 * operators (messages, display name) render as inert text in the widget and in the
 * console (under the console's own strict CSP): no dialog ever opens, no CSP violation
 * is reported, no element the payloads describe exists, and the text shows literally.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Stack, cid, consoleLogin, createOp, launchBrowser, startStack, visitor, watchCsp } from './src/harness';

const PAYLOADS = [
  '<img src=x onerror=alert(1)>',
  'javascript:alert(1)',
  '<svg onload=alert(2)>',
  '<a href="javascript:alert(3)">click me</a>',
  '"><script>alert(4)</script>',
  '<iframe srcdoc="<script>alert(5)</script>"></iframe>',
  '[link](javascript:alert(6))',
  "'\"><img src=x onerror=window.__xss=1>",
];
const OP_NAME = '<img src=x onerror=alert(7)>Mia';

let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  stack = await startStack();
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

/** Nothing the payloads describe exists in the page, its shadow roots included. */
async function inert(page: Page): Promise<{ imgs: number; scripts: number; svgs: number; iframes: number; jsLinks: number; xss: unknown }> {
  return page.evaluate(() => {
    const roots: (Document | ShadowRoot)[] = [document];
    for (const el of document.querySelectorAll('*')) if (el.shadowRoot) roots.push(el.shadowRoot);
    const count = (sel: string) => roots.reduce((n, r) => n + r.querySelectorAll(sel).length, 0);
    return {
      imgs: count('img[src="x"]'),
      scripts: roots.reduce((n, r) => n + [...r.querySelectorAll('script')].filter((s) => /alert/.test(s.textContent ?? '')).length, 0),
      svgs: count('svg[onload]'),
      iframes: count('iframe[srcdoc]'),
      jsLinks: roots.reduce((n, r) => n + [...r.querySelectorAll('a[href]')].filter((a) => /^\s*javascript:/i.test(a.getAttribute('href') ?? '')).length, 0),
      xss: (window as unknown as { __xss?: unknown }).__xss,
    };
  });
}

it('payloads from visitors and operators render as text in the widget and the console: no dialog, no CSP violation', async () => {
  const dialogs: string[] = [];
  await createOp(stack.adminHttp, { email: 'xss@example.com', name: OP_NAME });

  // 1. The operator's console, under its own CSP (watched from the reload after sign-in on).
  const { ctx, page: con } = await consoleLogin(browser, stack.base, 'xss@example.com', 'long enough password');
  con.on('dialog', (d) => {
    dialogs.push(`console: ${d.message()}`);
    void d.dismiss();
  });
  await con.getByText(OP_NAME).first().waitFor({ timeout: 15_000 });
  const consoleCsp = await watchCsp(con);
  await con.reload();
  await con.getByText(OP_NAME).first().waitFor({ timeout: 15_000 });

  // 2. A visitor in the widget: identify and attributes with markup, then every payload as a message.
  const vctx = await browser.newContext();
  const v = await vctx.newPage();
  v.on('dialog', (d) => {
    dialogs.push(`widget: ${d.message()}`);
    void d.dismiss();
  });
  const widgetCsp = await watchCsp(v);
  await v.goto(`${stack.base}/?q=${encodeURIComponent('<img src=x onerror=alert(8)>')}#"><svg onload=alert(9)>`);
  await v.evaluate(
    ([name, attr]) => {
      const w = window as unknown as { Hark: unknown[][] };
      w.Hark = w.Hark || [];
      w.Hark.push(['identify', { id: 'user-xss', name, email: 'xss@example.com' }]);
      w.Hark.push(['setAttributes', { plan: attr, 'note.x': 'javascript:alert(10)' }]);
    },
    [PAYLOADS[0] as string, PAYLOADS[2] as string],
  );
  await v.locator('hark-chat').getByRole('button', { name: /chat/i }).click();
  const box = v.locator('hark-chat').getByRole('textbox', { name: /message/i });
  for (const p of PAYLOADS) {
    await box.fill(p);
    await box.press('Enter');
  }
  await v.locator('hark-chat').getByText(PAYLOADS.at(-1) as string, { exact: true }).first().waitFor({ timeout: 10_000 });

  // 3. A hostile client (no browser): page title, URL and referrer, prechat name and attributes with markup.
  const raw = await visitor(stack.gw, {
    hello: { page: { url: 'javascript:alert(11)', title: '<img src=x onerror=alert(12)>title', referrer: 'javascript:alert(13)' }, attrs: { evil: '<svg onload=alert(14)>' } },
  });
  await raw.next('synced');
  raw.send({ type: 'prechat', name: '<script>alert(15)</script>Eve', email: 'eve@example.com' });
  raw.send({ type: 'send', cid: cid(), text: 'hostile client <b>bold</b>' });
  await raw.next('ack');

  // 4. The operator opens each conversation: every text shows literally.
  const first = con.getByText(PAYLOADS.at(-1) as string).first();
  await first.waitFor({ timeout: 15_000 });
  await first.click();
  for (const p of PAYLOADS) await con.getByText(p, { exact: true }).first().waitFor({ timeout: 10_000 });
  let body = (await con.locator('body').textContent()) ?? '';
  expect(body).toContain(PAYLOADS[0]); // the visitor's name (identify) and a message
  expect(body).toContain(PAYLOADS[2]); // an attribute value
  expect(body).toContain('javascript:alert(10)');
  // The operator answers with every payload; the widget shows them as text, with the operator's name.
  const composer = con.getByRole('textbox').last();
  for (const p of PAYLOADS) {
    await composer.fill(`op ${p}`);
    await composer.press('Enter');
  }
  for (const p of PAYLOADS) await v.locator('hark-chat').getByText(`op ${p}`, { exact: true }).first().waitFor({ timeout: 10_000 });
  expect(await v.locator('hark-chat').getByText(OP_NAME).first().isVisible()).toBe(true);

  const hostile = con.getByText('hostile client <b>bold</b>').first();
  await hostile.waitFor({ timeout: 10_000 });
  await hostile.click();
  await con.getByText('<img src=x onerror=alert(12)>title').first().waitFor({ timeout: 10_000 });
  body = (await con.locator('body').textContent()) ?? '';
  expect(body).toContain('<script>alert(15)</script>Eve');
  expect(body).toContain('<svg onload=alert(14)>');
  expect(body).toContain('javascript:alert(11)');

  // 5. Inert everywhere.
  await con.waitForTimeout(500);
  for (const page of [con, v]) expect(await inert(page)).toEqual({ imgs: 0, scripts: 0, svgs: 0, iframes: 0, jsLinks: 0, xss: undefined });
  expect(dialogs).toEqual([]);
  expect(await consoleCsp()).toEqual([]);
  expect(await widgetCsp()).toEqual([]);
  raw.close();
  await ctx.close();
  await vctx.close();
});
