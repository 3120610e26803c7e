/**
 * The widget on a flaky network and in two tabs, in real Chromium against the real
 * gateway: messages typed offline wait in the outbox, survive a reload and are stored
 * once each, in order, when the network returns; two tabs of one visitor stay in step
 * without duplicates. The server's side is read back over REST (the stream itself).
 */
import type { Entry } from '@hark/shared/protocol';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bubbles, type Fixtures, openChat, openPage, say, startFixtures, widget } from './src/fixtures';
import { createOp, launchBrowser, type OperatorClient, operator, type Stack, startStack } from './src/harness';

let stack: Stack;
let browser: Browser;
let fx: Fixtures;
let op: OperatorClient;

beforeAll(async () => {
  stack = await startStack();
  browser = await launchBrowser();
  fx = await startFixtures(stack);
  const o = await createOp(stack.adminHttp, { email: 'ana@example.com', name: 'Ana Kovač', capacity: 10 });
  op = await operator(stack.gw, o.http);
});
afterAll(async () => {
  op?.close();
  await browser?.close();
  await fx?.close();
  await stack?.close();
});

/** The conversation's visitor messages as the server stores them (REST reads the stream). */
async function stored(conv: string): Promise<string[]> {
  const r = await stack.adminHttp.req<{ entries: Entry[] }>('GET', `/v1/conversations/${conv}`);
  expect(r.status).toBe(200);
  return r.body.entries.filter((e) => e.kind === 'msg' && e.from === 'visitor').map((e) => e.text ?? '');
}

/** The conversation a visitor's first message went to, from the operator's socket (a new conversation arrives as a summary with its last message). */
async function convOf(text: string): Promise<string> {
  const f = await op.next('conv', (x) => x.conv.last?.text === text, 10_000);
  return f.conv.id;
}

describe('widget offline and in two tabs', () => {
  it('messages typed offline wait in the outbox, survive a reload, and are delivered once each, in order', async () => {
    const ctx = await browser.newContext();
    const url = fx.page('offline', { cache: true });
    const p = await openPage(ctx, url);
    await say(p, 'Before the tunnel');
    await widget(p).getByText('Sent', { exact: true }).waitFor({ timeout: 10_000 });
    const conv = await convOf('Before the tunnel');

    // 1. The network goes away (Chromium network emulation): the widget says so.
    await ctx.setOffline(true);
    await widget(p).locator('.bn').waitFor({ timeout: 15_000 });
    const texts = ['Offline one', 'Offline two', 'Offline three'];
    for (const t of texts) await say(p, t);
    await expect.poll(() => bubbles(p)).toEqual(['Before the tunnel', ...texts]);
    const outbox = () => p.evaluate(() => JSON.parse(localStorage.getItem('hark:demo:outbox') ?? '[]').map((x: { text: string }) => x.text));
    expect(await outbox()).toEqual(texts);
    await widget(p).getByText(/^(Sending…|Not sent\.)/).first().waitFor();

    // 2. A reload while still offline (the page and the widget come from the HTTP cache): the outbox is still there and shown.
    await p.goto(url);
    await openChat(p);
    await expect.poll(() => bubbles(p), { timeout: 10_000 }).toEqual(expect.arrayContaining(texts));
    expect(await outbox()).toEqual(texts);
    expect(await stored(conv)).toEqual(['Before the tunnel']);

    // 3. The network returns: each message is stored once, in order, and shown once.
    await ctx.setOffline(false);
    await expect.poll(() => stored(conv), { timeout: 20_000 }).toEqual(['Before the tunnel', ...texts]);
    await expect.poll(() => outbox(), { timeout: 10_000 }).toEqual([]);
    await expect.poll(() => bubbles(p), { timeout: 10_000 }).toEqual(['Before the tunnel', ...texts]);
    // Nothing more arrives later (no resend of an acked message).
    await p.waitForTimeout(3_000);
    expect(await stored(conv)).toEqual(['Before the tunnel', ...texts]);
    expect(op.of('entry').filter((f) => texts.includes(f.entry.text ?? '')).map((f) => f.entry.text)).toEqual(texts);
    await ctx.close();
  });

  it('two tabs stay in step: a message sent in one shows in the other, nothing twice', async () => {
    const ctx = await browser.newContext();
    const url = fx.page('tabs');
    const a = await openPage(ctx, url);
    await say(a, 'From tab A');
    await widget(a).getByText('Sent', { exact: true }).waitFor({ timeout: 10_000 });
    const conv = await convOf('From tab A');

    // 1. Tab B of the same visitor shows the conversation, then writes into it.
    const b = await openPage(ctx, `${url}?tab=b`);
    await openChat(b);
    await expect.poll(() => bubbles(b), { timeout: 10_000 }).toEqual(['From tab A']);
    await say(b, 'From tab B');
    await expect.poll(() => bubbles(a), { timeout: 10_000 }).toEqual(['From tab A', 'From tab B']);
    await expect.poll(() => bubbles(b), { timeout: 10_000 }).toEqual(['From tab A', 'From tab B']);

    // 2. The operator answers: both tabs show it once.
    op.send({ type: 'send', conv, cid: 'op-reply-tabs-1', text: 'Hello both tabs' });
    await expect.poll(() => bubbles(a), { timeout: 10_000 }).toEqual(['From tab A', 'From tab B', 'Hello both tabs']);
    await expect.poll(() => bubbles(b), { timeout: 10_000 }).toEqual(['From tab A', 'From tab B', 'Hello both tabs']);

    // 3. Quick alternating sends from both tabs: each stored once, both tabs agree on the order.
    for (let i = 1; i <= 3; i++) {
      await say(a, `A${i}`);
      await say(b, `B${i}`);
    }
    const want = ['From tab A', 'From tab B', 'A1', 'B1', 'A2', 'B2', 'A3', 'B3'];
    await expect.poll(() => stored(conv), { timeout: 15_000 }).toEqual(want);
    await expect.poll(() => bubbles(a), { timeout: 10_000 }).toEqual([...want.slice(0, 2), 'Hello both tabs', ...want.slice(2)]);
    await expect.poll(() => bubbles(b), { timeout: 10_000 }).toEqual([...want.slice(0, 2), 'Hello both tabs', ...want.slice(2)]);
    await a.waitForTimeout(2_000);
    expect(await stored(conv)).toEqual(want);
    await ctx.close();
  });
});
