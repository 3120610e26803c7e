/**
 * An operator's photo reaches the visitor (issue #13, item 4), in real Chromium against the real
 * gateway: the operator picks a photo under Account in the console; the gateway stores it as an
 * image; a visitor on another origin, under a strict CSP that allows images only from the
 * gateway, sees it in the chat's header, loaded, with zero CSP violations on either page.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { crc32, deflateSync } from 'node:zlib';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openChat, say, widget } from './src/fixtures';
import { createOp, launchBrowser, type Stack, startStack, watchCsp } from './src/harness';

let stack: Stack;
let browser: Browser;
let fixtures: Server;
let origin = '';

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
}

/** A real 200 × 150 PNG in one colour (the console crops and shrinks it to 96 px before upload). */
function png(w: number, h: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(w * 3, 0x30)]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(Array.from({ length: h }, () => row)))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

beforeAll(async () => {
  stack = await startStack();
  browser = await launchBrowser();
  const ws = stack.base.replace(/^http/, 'ws');
  // Script, style, socket and images only from the gateway; nothing inline.
  const csp = `default-src 'none'; script-src ${stack.base}; style-src ${stack.base}; connect-src ${ws} ${stack.base}; img-src ${stack.base}; base-uri 'none'; object-src 'none'`;
  fixtures = createServer((_req, res) => {
    res
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': csp })
      .end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head><body><main><h1>Shop</h1></main><script async src="${stack.base}/widget.js" data-site="demo"></script></body></html>`);
  });
  await new Promise<void>((r) => fixtures.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(fixtures.address() as AddressInfo).port}`;
  expect((await stack.adminHttp.req('PATCH', '/v1/sites/demo', { origins: [origin, stack.base] })).status).toBe(200);
});
afterAll(async () => {
  await browser?.close();
  fixtures?.close();
  await stack?.close();
});

describe('operator photo', () => {
  it('uploaded in the console, shown in the visitor widget on another origin under a strict CSP', async () => {
    const op = await createOp(stack.adminHttp, { email: 'mila@example.com', name: 'Mila Horvat' });
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const consoleCsp = await watchCsp(page);
    await page.goto(`${stack.base}/console/`);
    await page.getByLabel('E-mail').fill('mila@example.com');
    await page.getByLabel('Password').fill('long enough password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Account' }).click();
    const card = page.getByTestId('my-photo');
    await card.getByLabel('Your photo').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: png(200, 150) });
    await expect.poll(() => card.getByRole('alert').textContent()).toMatch(/Photo saved/);
    // The console shows the served image (same origin), not a data: URL.
    const mine = card.locator('img.avatar');
    await mine.waitFor();
    const path = (await mine.getAttribute('src')) ?? '';
    expect(path).toMatch(new RegExp(`^/v1/avatars/${op.id}/[0-9a-f]{16}\\.jpeg$`));
    expect(await mine.evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth)).toBe(96);
    expect(await consoleCsp()).toEqual([]);

    // A visitor on the shop's origin writes; Mila (online in her console) gets the chat.
    const vctx = await browser.newContext();
    const vpage = await vctx.newPage();
    const visitorCsp = await watchCsp(vpage);
    await vpage.goto(`${origin}/shop`);
    await openChat(vpage);
    await say(vpage, 'Hello, is anyone there?');
    const img = widget(vpage).locator('.hd .av img');
    await img.waitFor({ state: 'attached', timeout: 15_000 });
    expect(await img.getAttribute('src')).toBe(stack.base + path);
    // Loaded across origins (Cross-Origin-Resource-Policy: cross-origin) and shown over the initials.
    await expect.poll(() => img.evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth), { timeout: 10_000 }).toBe(96);
    expect(await img.isVisible()).toBe(true);
    expect(await visitorCsp()).toEqual([]);
    // Nothing the visitor received copies the photo: the messages' bubbles carry none.
    expect(await widget(vpage).locator('.ls img').count()).toBe(0);
    await vctx.close();
    await ctx.close();
  });
});
