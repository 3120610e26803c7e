/**
 * The widget in a live chat, in real Chromium against the real gateway, with an
 * operator online (a real operator socket): an SPA changing routes with pushState is
 * seen by the operator; unread count on the launcher and in the title while closed;
 * only http(s) links become links and no HTML is ever rendered; the rating after the
 * operator resolves reaches the operators; `identify` with a wrong hash is refused
 * when the site has a secret.
 */
import { createHmac } from 'node:crypto';
import type { ConvSummary, Entry, ServerToOperator } from '@hark/shared/protocol';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fixtures, bubbles, launcher, openChat, openPage, say, startFixtures, widget } from './src/fixtures';
import { createOp, launchBrowser, type OperatorClient, operator, type Stack, startStack } from './src/harness';

let stack: Stack;
let browser: Browser;
let fx: Fixtures;
let op: OperatorClient;
let seq = 0;

beforeAll(async () => {
  stack = await startStack();
  browser = await launchBrowser();
  fx = await startFixtures(stack);
  const ana = await createOp(stack.adminHttp, { email: 'ana@example.com', name: 'Ana Kovač', capacity: 20 });
  op = await operator(stack.gw, ana.http);
});
afterAll(async () => {
  op?.close();
  await browser?.close();
  await fx?.close();
  await stack?.close();
});

/** A visitor on a fresh fixture page who has written `first`; returns the page and the conversation id (assigned to Ana). */
async function visitorWith(first: string, page = `chat-${++seq}`): Promise<{ ctx: BrowserContext; p: Page; conv: string }> {
  const ctx = await browser.newContext();
  const p = await openPage(ctx, fx.page(page));
  await say(p, first);
  const f = await op.next('conv', (x) => x.conv.last?.text === first && x.conv.status === 'open', 10_000);
  return { ctx, p, conv: f.conv.id };
}

const opSay = (conv: string, text: string) => op.send({ type: 'send', conv, cid: `op-${++seq}-${Date.now()}`, text });
const convRest = (conv: string) => stack.adminHttp.req<{ conv: ConvSummary; entries: Entry[] }>('GET', `/v1/conversations/${conv}`).then((r) => r.body);

describe('widget in a live chat', () => {
  it('an SPA changing routes with pushState: the operator sees the new page (URL and title)', async () => {
    const { ctx, p, conv } = await visitorWith('Browsing your shop', 'spa');
    let from = op.frames.length;
    /** The next `visitor` frame for this conversation showing `path` (only frames after the last step count). */
    const seen = async (path: string) => {
      const f = await op.next('visitor', (x) => x.conv === conv && !!x.visitor.page?.url.endsWith(path), 10_000, from);
      from = op.frames.indexOf(f) + 1;
      return f;
    };
    // 1. Client-side navigation: no page load, no event the page would fire for it.
    await p.evaluate(() => {
      document.title = 'Pricing – Fixture';
      history.pushState({}, '', '/spa/pricing');
    });
    const v1 = (await seen('/spa/pricing')) as Extract<ServerToOperator, { type: 'visitor' }>;
    expect(v1.visitor.page?.title).toBe('Pricing – Fixture');
    expect(v1.visitor.page?.url).toBe(`${fx.origin}/spa/pricing`);
    // 2. Another route, then Back (popstate).
    await p.evaluate(() => {
      document.title = 'Checkout – Fixture';
      history.pushState({}, '', '/spa/checkout?step=2');
    });
    expect((await seen('/spa/checkout?step=2')).visitor.page?.title).toBe('Checkout – Fixture');
    await p.evaluate(() => {
      document.title = 'Pricing again';
      history.back();
    });
    expect((await seen('/spa/pricing')).visitor.page?.title).toBe('Pricing again');
    // The visitor's chat is unaffected by the route changes.
    expect(await bubbles(p)).toEqual(['Browsing your shop']);
    await ctx.close();
  });

  it('unread count on the launcher and in the title while closed; cleared on open', async () => {
    const { ctx, p, conv } = await visitorWith('Ping me when you know');
    await p.evaluate(() => {
      const w = window as unknown as { Hark: { on(e: string, f: (n: number) => void): void }; __unread: number[] };
      w.__unread = [];
      w.Hark.on('unread', (n) => w.__unread.push(n));
    });
    await widget(p).getByRole('button', { name: 'Close chat' }).first().click();
    expect(await launcher(p).getAttribute('aria-expanded')).toBe('false');
    const title = await p.title();
    opSay(conv, 'Checking with the warehouse');
    await expect.poll(() => p.locator('hark-chat .bd').textContent(), { timeout: 10_000 }).toBe('1');
    await expect.poll(() => p.title()).toBe(`(1) ${title}`);
    opSay(conv, 'Yes, we have it');
    await expect.poll(() => p.locator('hark-chat .bd').textContent(), { timeout: 10_000 }).toBe('2');
    await expect.poll(() => p.title()).toBe(`(2) ${title}`);
    // The accessible name: the site's visible launcher label first, then the count.
    expect(await launcher(p).getAttribute('aria-label')).toBe('Chat with us – 2 unread messages');
    // The page changing its own title meanwhile is respected.
    await p.evaluate(() => {
      document.title = 'Cart (3 items)';
    });
    opSay(conv, 'Shall I reserve it?');
    await expect.poll(() => p.title(), { timeout: 10_000 }).toBe('(3) Cart (3 items)');
    // Opening reads them: badge and title clear.
    await launcher(p).click();
    await expect.poll(() => p.locator('hark-chat .bd').textContent()).toBe('');
    await expect.poll(() => p.title()).toBe('Cart (3 items)');
    expect(await p.evaluate(() => (window as unknown as { __unread: number[] }).__unread)).toEqual([1, 2, 3, 0]);
    // A reload with nothing new shows no badge.
    await p.reload();
    await launcher(p).waitFor();
    await p.waitForTimeout(1_000);
    expect(await p.locator('hark-chat .bd').textContent()).toBe('');
    await ctx.close();
  });

  it('only http(s) URLs become links; javascript: and HTML stay text', async () => {
    const { ctx, p, conv } = await visitorWith('Where are the docs? see http://example.org/faq.');
    const dialogs: string[] = [];
    p.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const evil = 'Docs: https://example.com/docs?a=1&b=2. Not these: javascript:alert(1) <img src=x onerror=alert(2)> <b>bold</b> <a href="javascript:alert(3)">x</a> [y](javascript:alert(4))';
    opSay(conv, evil);
    const bubble = widget(p).locator('.bu', { hasText: 'Docs:' });
    await bubble.waitFor({ timeout: 10_000 });
    // 1. Exactly one link, to the https URL (without the sentence's full stop), opening safely.
    const links = await bubble.locator('a').evaluateAll((as) => as.map((a) => [a.getAttribute('href'), a.getAttribute('target'), a.getAttribute('rel'), a.textContent]));
    expect(links).toEqual([['https://example.com/docs?a=1&b=2', '_blank', 'noopener noreferrer', 'https://example.com/docs?a=1&b=2']]);
    // 2. The rest is text, character for character; no element was made from it.
    expect(await bubble.textContent()).toBe(evil);
    expect(await bubble.locator('img, b').count()).toBe(0);
    expect(await widget(p).locator('a[href^="javascript"], img:not(.av img)').count()).toBe(0);
    // 3. The visitor's own message: its http link too.
    const own = widget(p).locator('.me .bu', { hasText: 'Where are the docs?' });
    expect(await own.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href')))).toEqual(['http://example.org/faq']);
    await p.waitForTimeout(300);
    expect(dialogs).toEqual([]);
    await ctx.close();
  });

  it('after the operator resolves: a rating (good/bad plus comment) the operators see', async () => {
    const { ctx, p, conv } = await visitorWith('Can I return the shoes?');
    opSay(conv, 'Yes, within 30 days.');
    await widget(p).locator('.bu', { hasText: 'Yes, within 30 days.' }).waitFor({ timeout: 10_000 });
    op.send({ type: 'resolve', conv });
    const w = widget(p);
    await w.getByText('How was this chat?').waitFor({ timeout: 10_000 });
    await w.getByText('The chat has ended').waitFor();
    const good = w.getByRole('button', { name: 'Good' });
    expect(await good.getAttribute('aria-pressed')).toBe('false');
    await good.click();
    expect(await good.getAttribute('aria-pressed')).toBe('true');
    await w.getByRole('textbox', { name: 'Comment' }).fill('Quick and clear, thanks!');
    await w.locator('.fm').getByRole('button', { name: 'Send' }).click();
    await w.getByText('Thank you for your feedback!').waitFor({ timeout: 10_000 });
    await expect.poll(async () => (await convRest(conv)).conv, { timeout: 10_000 }).toMatchObject({ rating: 'good', ratingComment: 'Quick and clear, thanks!' });
    expect((await convRest(conv)).entries.some((e) => e.event === 'rated' && e.rating === 'good')).toBe(true);

    // 2. The visitor writes again: a new chat; once resolved it is rated afresh (nothing pre-chosen), bad without a comment.
    await say(p, 'One more question');
    const conv2 = (await op.next('conv', (x) => x.conv.last?.text === 'One more question' && x.conv.status === 'open', 10_000)).conv.id;
    expect(conv2).not.toBe(conv);
    op.send({ type: 'resolve', conv: conv2 });
    await w.getByText('How was this chat?').waitFor({ timeout: 10_000 });
    expect(await w.getByRole('button', { name: 'Good' }).getAttribute('aria-pressed')).toBe('false');
    expect(await w.getByRole('button', { name: 'Bad' }).getAttribute('aria-pressed')).toBe('false');
    await w.getByRole('button', { name: 'Bad' }).click();
    await w.locator('.fm').getByRole('button', { name: 'Send' }).click();
    await expect.poll(async () => (await convRest(conv2)).conv.rating, { timeout: 10_000 }).toBe('bad');
    expect((await convRest(conv2)).conv.ratingComment ?? '').toBe('');
    expect((await convRest(conv)).conv.rating).toBe('good');
    // After a reload the rating is remembered (no second form).
    await w.getByText('Thank you for your feedback!').waitFor({ timeout: 10_000 });
    await p.reload();
    await openChat(p);
    await w.getByText('Thank you for your feedback!').waitFor({ timeout: 10_000 });
    expect(await w.getByText('How was this chat?').count()).toBe(0);
    await ctx.close();
  });

  it('identify with a wrong hash is refused when the site has a secret; the right one verifies', async () => {
    const r = await stack.adminHttp.req<{ secret: string }>('POST', '/v1/sites/demo/secret');
    expect(r.status).toBe(200);
    const secret = r.body.secret;
    const identified = async (id: string, hash: string, text: string) => {
      const ctx = await browser.newContext();
      const p = await ctx.newPage();
      const errors: string[] = [];
      p.on('websocket', (ws) => ws.on('framereceived', (f) => typeof f.payload === 'string' && f.payload.includes('"error"') && errors.push(f.payload)));
      await p.goto(fx.page(`identify-${++seq}`));
      await launcher(p).waitFor();
      await p.evaluate(([id, hash]) => (window as unknown as { Hark: { identify(u: object): void } }).Hark.identify({ id, name: 'Eve Admin', email: 'eve@example.com', hash }), [id, hash]);
      await say(p, text);
      const f = await op.next('conv', (x) => x.conv.last?.text === text, 10_000);
      return { ctx, p, conv: f.conv.id, errors };
    };
    // 1. Wrong hash (someone claiming user-42): refused, the visitor is neither verified nor linked to the user.
    const bad = await identified('user-42', 'ab'.repeat(32), 'I am user 42, honest');
    await expect.poll(() => bad.errors.join(), { timeout: 10_000 }).toContain('IDENTITY_INVALID');
    const v = (await convRest(bad.conv)).conv.visitor;
    expect(v.verified).toBe(false);
    expect(v.userId).toBeUndefined();
    expect(v.name).toBeUndefined();
    // The chat itself works.
    await widget(bad.p).getByText('Sent', { exact: true }).waitFor({ timeout: 10_000 });
    await bad.ctx.close();
    // 2. The right hash (the site owner's HMAC of the id): verified.
    const good = await identified('user-43', createHmac('sha256', secret).update('user-43').digest('hex'), 'I really am user 43');
    await expect.poll(async () => (await convRest(good.conv)).conv.visitor, { timeout: 10_000 }).toMatchObject({ verified: true, userId: 'user-43', name: 'Eve Admin' });
    expect(good.errors).toEqual([]);
    await good.ctx.close();
  });
});
