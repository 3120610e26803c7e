/**
 * The widget is polite to its host page, in real Chromium against the real gateway:
 * no storage, socket or request before intent; zero CSP violations under a strict and
 * a nonce policy; hostile page CSS changes nothing; the tag twice gives one widget;
 * calls queued before the loader ran are replayed; a phone gets a full-screen panel;
 * axe finds nothing on the open widget. Fixture pages are served from another origin
 * by a tiny server here, each with the real `<script async src=…/widget.js data-site>` tag.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOp, launchBrowser, operator, type Stack, startStack, watchCsp } from './src/harness';

let stack: Stack;
let browser: Browser;
let fixtures: Server;
let origin = '';
const pages = new Map<string, { csp?: string; body: string }>();

const HOSTILE_CSS = `* { all: unset !important; box-sizing: content-box !important; }
html { font-size: 40px !important; }
body { transform: translateX(30px); filter: blur(0); }
div { display: none !important; }
hark-chat { display: none !important; position: static !important; transform: scale(0.2) !important; opacity: 0 !important; }
button { background: red !important; font-size: 50px !important; }`;

function page(name: string, opts: { csp?: string; head?: string; tag?: string; before?: string } = {}): string {
  const tag = opts.tag ?? `<script async src="${stack.base}/widget.js" data-site="demo"></script>`;
  pages.set(name, { csp: opts.csp, body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Fixture ${name}</title>${opts.head ?? ''}</head><body><main><h1>Fixture ${name}</h1><p>Host page text.</p></main>${opts.before ?? ''}${tag}</body></html>` });
  return `${origin}/${name}`;
}

beforeAll(async () => {
  stack = await startStack();
  browser = await launchBrowser();
  fixtures = createServer((req, res) => {
    const url = new URL(req.url ?? '/', origin);
    if (url.pathname === '/hostile.css') {
      res.writeHead(200, { 'content-type': 'text/css' }).end(HOSTILE_CSS);
      return;
    }
    if (url.pathname === '/setup.js') {
      // The host page's own script, run before the loader: a queue of calls and replaced globals.
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(
        `window.Hark = window.Hark || []; window.__events = [];
         Hark.push(['on', 'open', function () { __events.push('open'); }]);
         Hark.push(['on', 'ready', function () { __events.push('ready'); }]);
         Hark.push(['setAttributes', { plan: 'pro' }]);
         window.define = function () {}; window.define.amd = {}; window.module = {}; window.exports = {};
         Object.prototype.polluted = 'yes'; window.h = 'not preact'; window.render = 42;`,
      );
      return;
    }
    const p = pages.get(url.pathname.slice(1));
    if (!p) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...(p.csp ? { 'content-security-policy': p.csp } : {}) }).end(p.body);
  });
  await new Promise<void>((r) => fixtures.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(fixtures.address() as AddressInfo).port}`;
  const r = await stack.adminHttp.req('PATCH', '/v1/sites/demo', { origins: [origin, stack.base] });
  expect(r.status).toBe(200);
  // An operator online, so the visitor gets the chat rather than the leave-a-message form.
  const op = await createOp(stack.adminHttp, { email: 'ana@example.com', name: 'Ana Kovač' });
  await operator(stack.gw, op.http);
});
afterAll(async () => {
  await browser?.close();
  fixtures?.close();
  await stack?.close();
});

const gwOrigin = () => stack.base;
const gwWs = () => stack.base.replace(/^http/, 'ws');
/** Script, style and connect sources limited to the gateway; nothing inline, no eval. */
const strictCsp = () =>
  `default-src 'none'; script-src ${gwOrigin()}; style-src ${gwOrigin()}; connect-src ${gwWs()} ${gwOrigin()}; img-src ${gwOrigin()} data:; base-uri 'none'; object-src 'none'`;

async function open(url: string, viewport = { width: 1280, height: 800 }): Promise<{ p: Page; requests: string[]; sockets: string[]; csp: () => Promise<string[]> }> {
  const ctx = await browser.newContext({ viewport });
  const p = await ctx.newPage();
  const requests: string[] = [];
  const sockets: string[] = [];
  p.on('request', (r) => requests.push(r.url()));
  p.on('websocket', (ws) => sockets.push(ws.url()));
  const csp = await watchCsp(p);
  await p.goto(url);
  await p.locator('hark-chat .lc').waitFor();
  return { p, requests, sockets, csp };
}

const storage = (p: Page) =>
  p.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length, cookie: document.cookie }));

describe('widget on a host page', () => {
  it('before intent: only widget.js is fetched; no socket, cookie or storage. After: chat.js and one socket', async () => {
    const { p, requests, sockets } = await open(page('privacy', { csp: strictCsp() }));
    await p.waitForTimeout(500);
    expect(requests.filter((u) => !u.startsWith(origin))).toEqual([`${stack.base}/widget.js`]);
    expect(sockets).toEqual([]);
    expect(await storage(p)).toEqual({ local: 0, session: 0, cookie: '' });
    // 1. Hovering the launcher is intent: the chat loads and one socket opens; still nothing stored.
    await p.locator('hark-chat .lc').hover();
    await expect.poll(() => sockets.length).toBe(1);
    expect(sockets[0]).toMatch(/\/v1\/visitor\?site=demo&token=[A-Za-z0-9_-]{32}&v=1&new=1$/);
    expect(requests.some((u) => /\/chat\.en\.[0-9a-f]{10}\.js$/.test(u))).toBe(true);
    expect(await storage(p)).toEqual({ local: 0, session: 0, cookie: '' });
    await p.context().close();
  });

  it('chats under a strict CSP with zero violations, and remembers the visitor after the first message', async () => {
    const { p, sockets, csp } = await open(page('strict', { csp: strictCsp() }));
    await p.locator('hark-chat .lc').click();
    const box = p.locator('hark-chat').getByRole('textbox', { name: 'Message' });
    await expect.poll(() => box.evaluate((el) => el === (el.getRootNode() as ShadowRoot).activeElement)).toBe(true);
    await box.fill('Hello from a strict page');
    await box.press('Enter');
    await p.locator('hark-chat').getByText('Hello from a strict page').waitFor();
    await p.locator('hark-chat').getByText('Sent', { exact: true }).waitFor({ timeout: 10_000 });
    expect(await p.evaluate(() => localStorage.getItem('hark:demo:token'))).toMatch(/^[A-Za-z0-9_-]{32}$/);
    // Escape closes and gives focus back to the launcher.
    await box.press('Escape');
    await expect.poll(() => p.locator('hark-chat .lc').evaluate((el) => el === (el.getRootNode() as ShadowRoot).activeElement)).toBe(true);
    expect(await csp()).toEqual([]);
    // 2. A reload connects at once (a conversation exists), without new=1, and shows the history.
    await p.reload();
    await expect.poll(() => sockets.length).toBe(2);
    expect(sockets[1]).not.toContain('new=1');
    await p.locator('hark-chat .lc').click();
    await p.locator('hark-chat').getByText('Hello from a strict page').waitFor();
    expect(await csp()).toEqual([]);
    await p.context().close();
  });

  it('works under a nonce-based CSP (the chat script gets the loader nonce)', async () => {
    const nonce = 'n0nce4hark';
    const url = page('nonce', {
      csp: `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'none'; connect-src ${gwWs()}; base-uri 'none'`,
      tag: `<script async nonce="${nonce}" src="${stack.base}/widget.js" data-site="demo"></script>`,
    });
    const { p, csp } = await open(url);
    await p.locator('hark-chat .lc').click();
    await p.locator('hark-chat').getByRole('textbox', { name: 'Message' }).waitFor();
    expect(await csp()).toEqual([]);
    await p.context().close();
  });

  it('hostile page CSS cannot hide, move or restyle it', async () => {
    const { p } = await open(page('hostile', { head: '<link rel="stylesheet" href="/hostile.css">' }));
    const lc = p.locator('hark-chat .lc');
    const box = await lc.boundingBox();
    expect(box).not.toBeNull();
    expect(box?.width).toBeGreaterThanOrEqual(56);
    expect(box?.height).toBe(56);
    // Bottom-right corner, 20px in, despite the transformed body.
    expect(Math.round((box?.x ?? 0) + (box?.width ?? 0))).toBe(1280 - 20);
    expect(Math.round((box?.y ?? 0) + (box?.height ?? 0))).toBe(800 - 20);
    expect(await lc.evaluate((el) => getComputedStyle(el).backgroundColor)).not.toBe('rgb(255, 0, 0)');
    await lc.click();
    const ta = p.locator('hark-chat').getByRole('textbox', { name: 'Message' });
    await ta.waitFor();
    expect(await ta.evaluate((el) => getComputedStyle(el).fontSize)).toBe('16px');
    const panel = await p.locator('hark-chat .p').boundingBox();
    expect(panel?.width).toBe(380);
    await p.context().close();
  });

  it('the tag twice gives one widget; calls queued before the loader are replayed; replaced globals do not matter', async () => {
    const tag = `<script async src="${stack.base}/widget.js" data-site="demo"></script>`;
    const { p } = await open(page('twice', { before: `<script src="/setup.js"></script>`, tag: tag + tag }));
    await p.waitForTimeout(300);
    expect(await p.locator('hark-chat').count()).toBe(1);
    expect(await p.evaluate(() => (window as unknown as { __events: string[] }).__events)).toEqual(['ready']);
    // 1. The API works after load: open, the 'open' event, and a language switch (its catalogue loads on demand).
    await p.evaluate(() => (window as unknown as { Hark: { open(): void } }).Hark.open());
    await p.locator('hark-chat').getByRole('textbox', { name: 'Message' }).waitFor();
    expect(await p.evaluate(() => (window as unknown as { __events: string[] }).__events)).toEqual(['ready', 'open']);
    await p.evaluate(() => (window as unknown as { Hark: { setLocale(l: string): void } }).Hark.setLocale('hr'));
    await p.locator('hark-chat').getByRole('textbox', { name: 'Poruka' }).waitFor();
    // 2. No globals but Hark.
    const globals = await p.evaluate(() => Object.keys(window).filter((k) => /hark|preact/i.test(k)));
    expect(globals).toEqual(['Hark']);
    await p.context().close();
  });

  it('on a phone the panel fills the screen and the input does not zoom', async () => {
    const { p } = await open(page('mobile'), { width: 375, height: 667 });
    await p.locator('hark-chat .lc').click();
    const ta = p.locator('hark-chat').getByRole('textbox', { name: 'Message' });
    await ta.waitFor();
    expect(await p.locator('hark-chat .p').boundingBox()).toEqual({ x: 0, y: 0, width: 375, height: 667 });
    expect(await ta.evaluate((el) => getComputedStyle(el).fontSize)).toBe('16px');
    await p.context().close();
  });

  it('axe finds no violations on the open widget', async () => {
    const { p } = await open(page('axe'));
    await p.locator('hark-chat .lc').click();
    await p.locator('hark-chat').getByRole('textbox', { name: 'Message' }).waitFor();
    const axe = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
    await p.addScriptTag({ content: axe });
    const violations = await p.evaluate(async () => {
      const r = await (window as unknown as { axe: { run(ctx: object): Promise<{ violations: { id: string; nodes: { target: unknown }[] }[] }> } }).axe.run({ include: [['hark-chat']] });
      return r.violations.map((v) => `${v.id}: ${JSON.stringify(v.nodes.map((n) => n.target))}`);
    });
    expect(violations).toEqual([]);
    await p.context().close();
  });
});
