/**
 * Attachments end to end, in real Chromium against the real gateway (local disk store): a visitor
 * pastes a screenshot and drops a PDF into the widget; the operator receives both and downloads the
 * PDF byte for byte; the operator replies with a file the visitor downloads from its card; the
 * visitor's screenshot shows as a thumbnail loaded from the gateway; a second visitor cannot get a
 * URL for either file. Once on a plain page and once under a strict CSP (no inline anything,
 * images only from the gateway): zero violations.
 */
import { createHash } from 'node:crypto';
import type { FileRef } from '@hark/shared/protocol';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pdf, pngWithLocation } from '../server/test/file-fixtures';
import { signIn } from './console-stack';
import { type Fixtures, openPage, say, startFixtures, widget } from './src/fixtures';
import { type Http, type OperatorClient, createOp, launchBrowser, operator, type Stack, startStack, watchCsp } from './src/harness';

let stack: Stack;
let browser: Browser;
let fx: Fixtures;
let op: OperatorClient;
let opHttp: Http;
let seq = 0;

beforeAll(async () => {
  stack = await startStack();
  browser = await launchBrowser();
  fx = await startFixtures(stack);
  const ana = await createOp(stack.adminHttp, { email: 'ana@example.com', name: 'Ana Kovač', capacity: 20 });
  opHttp = ana.http;
  op = await operator(stack.gw, ana.http);
});
afterAll(async () => {
  op?.close();
  await browser?.close();
  await fx?.close();
  await stack?.close();
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Dispatches a paste of `file` on the composer, or a drop of it on the panel, as the browser would. */
async function give(p: Page, how: 'paste' | 'drop', name: string, type: string, bytes: Buffer): Promise<void> {
  await widget(p).locator(how === 'paste' ? 'textarea' : '.p').evaluate(
    (el, [how, name, type, b64]) => {
      const bin = Uint8Array.from(atob(b64 as string), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bin], name as string, { type: type as string }));
      const init = { bubbles: true, composed: true, cancelable: true };
      if (how === 'paste') el.dispatchEvent(new ClipboardEvent('paste', { ...init, clipboardData: dt }));
      else {
        el.dispatchEvent(new DragEvent('dragover', { ...init, dataTransfer: dt }));
        el.dispatchEvent(new DragEvent('drop', { ...init, dataTransfer: dt }));
      }
    },
    [how, name, type, bytes.toString('base64')],
  );
}

async function scenario(csp: false | 'strict' | 'nonce'): Promise<void> {
  const name = `files-${++seq}`;
  const nonce = 'n0nce4files';
  const scripts = csp === 'nonce' ? `'nonce-${nonce}'` : stack.base;
  const styles = csp === 'nonce' ? `'none'` : stack.base;
  const policy = `default-src 'none'; script-src ${scripts}; style-src ${styles}; connect-src ${stack.base.replace(/^http/, 'ws')} ${stack.base}; img-src ${stack.base}; base-uri 'none'; object-src 'none'`;
  const ctx: BrowserContext = await browser.newContext();
  const p = await ctx.newPage();
  const violations = await watchCsp(p);
  const tag = csp === 'nonce' ? { tag: `<script async nonce="${nonce}" src="${stack.base}/widget.js" data-site="demo"></script>` } : {};
  await p.goto(fx.page(name, csp ? { head: `<meta http-equiv="Content-Security-Policy" content="${policy}">`, ...tag } : {}));
  await widget(p).locator('.lc').waitFor();
  const first = `Hello with files ${seq}`;
  await say(p, first);
  const conv = (await op.next('conv', (x) => x.conv.last?.text === first && x.conv.status === 'open', 10_000)).conv.id;
  // The attachment code (chat-files.js) loads apart from the first chat; its paperclip appears.
  await widget(p).getByRole('button', { name: /Attach a file/ }).waitFor();

  // 1. The visitor pastes a screenshot and drops a PDF.
  const png = pngWithLocation(40, 30);
  const doc = pdf(30_000);
  const from = op.frames.length;
  await give(p, 'paste', 'image.png', 'image/png', png);
  const img = await op.next('entry', (x) => x.entry.conv === conv && x.entry.files?.[0]?.type === 'image/png', 10_000, from);
  await give(p, 'drop', 'invoice.pdf', 'application/pdf', doc);
  const pdfEntry = await op.next('entry', (x) => x.entry.conv === conv && x.entry.files?.[0]?.type === 'application/pdf', 10_000, from);
  // In order, as given.
  expect(img.entry.id < pdfEntry.entry.id || img.entry.id.length < pdfEntry.entry.id.length).toBe(true);
  const imgFile = img.entry.files?.[0] as FileRef;
  const pdfFile = pdfEntry.entry.files?.[0] as FileRef;
  expect(imgFile).toMatchObject({ name: 'image.png', w: 40, h: 30 });

  // 2. The operator gets the thumbnail (an inline image) and downloads the PDF byte for byte.
  const thumb = await fetch(`${stack.base}/v1/conversations/${conv}/files/${imgFile.id}`, { headers: { cookie: opHttp.cookie } });
  expect(thumb.status).toBe(200);
  expect(thumb.headers.get('content-disposition')).toMatch(/^inline/);
  expect(thumb.headers.get('content-type')).toBe('image/png');
  const got = Buffer.from(await (await fetch(`${stack.base}/v1/conversations/${conv}/files/${pdfFile.id}`, { headers: { cookie: opHttp.cookie } })).arrayBuffer());
  expect(sha(got)).toBe(sha(doc));

  // The visitor sees their screenshot as a thumbnail loaded from the gateway, linking to the full size.
  const th = widget(p).locator('.th img').first();
  await th.waitFor();
  await expect.poll(() => th.evaluate((i: HTMLImageElement) => i.naturalWidth), { timeout: 10_000 }).toBe(40);
  expect(await widget(p).locator('.th').first().getAttribute('href')).toMatch(new RegExp(`^${stack.base}/v1/files/${conv}/${imgFile.id}\\?e=`));

  // 3. The operator replies with a file; the visitor downloads it from its card.
  const reply = pdf(12_345);
  const up = await fetch(`${stack.base}/v1/conversations/${conv}/files?name=terms.pdf`, { method: 'POST', headers: { origin: stack.base, cookie: opHttp.cookie, 'content-type': 'application/pdf' }, body: new Uint8Array(reply) });
  expect(up.status).toBe(201);
  const replyFile = ((await up.json()) as { file: FileRef }).file;
  const c = `op-files-${seq}-${Date.now()}`;
  op.send({ type: 'send', conv, cid: c, text: 'Our terms', files: [replyFile.id] });
  await op.next('ack', (x) => x.cid === c);
  const card = widget(p).locator('a.fc', { hasText: 'terms.pdf' });
  await card.waitFor({ timeout: 10_000 });
  const href = (await card.getAttribute('href')) ?? '';
  const dl = await ctx.request.get(href);
  expect(dl.status()).toBe(200);
  expect(dl.headers()['content-disposition']).toMatch(/^attachment; filename="terms.pdf"/);
  expect(sha(Buffer.from(await dl.body()))).toBe(sha(reply));

  // 4. A second visitor can get no URL for either file.
  const other = await browser.newContext();
  const p2 = await openPage(other, fx.page(`${name}-other`));
  await say(p2, 'I am someone else');
  await p2.waitForFunction(() => localStorage.getItem('hark:demo:token'));
  const raw = await p2.evaluate(() => localStorage.getItem('hark:demo:token') as string);
  const token = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
  expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
  for (const f of [imgFile, pdfFile]) {
    const r = await fetch(`${stack.base}/v1/visitor/files/${conv}/${f.id}?site=demo`, { headers: { authorization: `Visitor ${token}` } });
    expect(r.status).toBe(404);
  }
  await other.close();

  expect(await violations()).toEqual([]);
  await ctx.close();
}

describe('attachments in the widget and for the operator', () => {
  it('files picked while offline wait (the visitor is told), then go once each, in order, when the network is back', async () => {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    await p.goto(fx.page(`offline-files-${++seq}`));
    const first = `Offline files ${seq}`;
    await say(p, first);
    const conv = (await op.next('conv', (x) => x.conv.last?.text === first && x.conv.status === 'open', 10_000)).conv.id;
    await widget(p).getByRole('button', { name: /Attach a file/ }).waitFor();
    const from = op.frames.length;
    await ctx.setOffline(true);
    await give(p, 'drop', 'one.pdf', 'application/pdf', pdf(1111));
    await give(p, 'drop', 'two.pdf', 'application/pdf', pdf(2222));
    await widget(p).getByText('Waiting for the network…').waitFor();
    expect(op.frames.slice(from).filter((f) => f.type === 'entry' && f.entry.conv === conv)).toEqual([]);
    await ctx.setOffline(false);
    await op.next('entry', (x) => x.entry.conv === conv && x.entry.files?.[0]?.name === 'two.pdf', 20_000, from);
    await p.waitForTimeout(500);
    const names = op.frames
      .slice(from)
      .filter((f) => f.type === 'entry' && f.entry.conv === conv && !!f.entry.files)
      .map((f) => (f.type === 'entry' ? f.entry.files?.[0]?.name : ''));
    expect(names).toEqual(['one.pdf', 'two.pdf']);
    // A refusal is told, not retried: a program is not a file this site takes.
    await give(p, 'drop', 'tool.exe', 'application/octet-stream', Buffer.from('MZ\x90\0\x03\0\0\0'));
    await widget(p).getByText('This type of file cannot be sent.').waitFor();
    await ctx.close();
  });

  it('in the console: the operator sees the thumbnail, downloads the PDF byte for byte, replies with a file from the composer', async () => {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    await p.goto(fx.page(`console-files-${++seq}`));
    const first = `Console files ${seq}`;
    await say(p, first);
    const conv = (await op.next('conv', (x) => x.conv.last?.text === first && x.conv.status === 'open', 10_000)).conv.id;
    await widget(p).getByRole('button', { name: /Attach a file/ }).waitFor();
    const from = op.frames.length;
    await give(p, 'paste', 'image.png', 'image/png', pngWithLocation(40, 30));
    await op.next('entry', (x) => x.entry.conv === conv && x.entry.files?.[0]?.type === 'image/png', 10_000, from);
    const doc = pdf(25_000);
    await give(p, 'drop', 'invoice.pdf', 'application/pdf', doc);
    await op.next('entry', (x) => x.entry.conv === conv && x.entry.files?.[0]?.type === 'application/pdf', 10_000, from);

    // Ana (the assignee) in the console.
    const ana = await signIn(browser, stack.base, 'ana@example.com');
    await ana.page.locator(`.conv-row[data-conv="${conv}"]`).click();
    const thumb = ana.page.locator('.conversation .file-thumb img').first();
    await thumb.waitFor();
    await expect.poll(() => thumb.evaluate((i: HTMLImageElement) => i.naturalWidth), { timeout: 10_000 }).toBe(40);
    const card = ana.page.locator('.conversation .file-card', { hasText: 'invoice.pdf' });
    const href = (await card.getAttribute('href')) ?? '';
    const digest = await ana.page.evaluate(async (h) => {
      const b = await (await fetch(h)).arrayBuffer();
      return Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', b)), (x) => x.toString(16).padStart(2, '0')).join('');
    }, href);
    expect(digest).toBe(sha(doc));

    // A reply with a file and text, from the composer.
    const reply = pdf(7_777);
    await ana.page.locator('.composer input[type=file]').setInputFiles({ name: 'terms.pdf', mimeType: 'application/pdf', buffer: reply });
    await ana.page.locator('.composer .upload .hint').waitFor();
    await ana.page.locator('#composer').fill('Our terms, attached');
    await ana.page.locator('#composer').press('Enter');
    const vcard = widget(p).locator('a.fc', { hasText: 'terms.pdf' });
    await vcard.waitFor({ timeout: 10_000 });
    const dl = await ctx.request.get((await vcard.getAttribute('href')) ?? '');
    expect(sha(Buffer.from(await dl.body()))).toBe(sha(reply));
    expect(await ana.csp()).toEqual([]);
    await ana.ctx.close();
    await ctx.close();
  });

  it('paste an image, drop a PDF, the operator downloads it; a reply file the visitor downloads; a second visitor cannot', async () => {
    await scenario(false);
  });
  it('the same under a strict CSP page: zero violations, thumbnails from the gateway', async () => {
    await scenario('strict');
  });
  it('the same under a nonce-based CSP page (chat-files.js gets the loader nonce): zero violations', async () => {
    await scenario('nonce');
  });
});
