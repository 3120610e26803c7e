/**
 * The widget's look and feel (issue 13) and the restored chat's page cost (issue 20), in real
 * Chromium against the real gateway with an operator online: axe finds nothing on the open
 * widget with a conversation in the light and in the dark scheme (the dark tokens apply, the
 * site's colour stays the accent); focus rings are drawn in the site's colour; messages carry
 * locale-formatted times; the rating prompt comes at the end of the log and leaves the last
 * message in view; a returning visitor's launcher is drawn as the site last had it, so nothing
 * shifts when the chat catches up (no layout-shift entry), and the collapsed chat still counts
 * unread replies.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fixtures, launcher, openPage, say, startFixtures, widget } from './src/fixtures';
import { createOp, launchBrowser, type OperatorClient, operator, type Stack, startStack } from './src/harness';

let stack: Stack;
let browser: Browser;
let fx: Fixtures;
let op: OperatorClient;
let seq = 0;
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
/** The demo site's colour in these tests: not the default, so a ring in it is the site's and not ours. */
const SITE_COLOR = '#0f766e';

beforeAll(async () => {
  stack = await startStack();
  browser = await launchBrowser();
  fx = await startFixtures(stack);
  expect((await stack.adminHttp.req('PATCH', '/v1/sites/demo', { color: SITE_COLOR })).status).toBe(200);
  const ana = await createOp(stack.adminHttp, { email: 'ana@example.com', name: 'Ana Kovač', capacity: 20 });
  op = await operator(stack.gw, ana.http);
});
afterAll(async () => {
  op?.close();
  await browser?.close();
  await fx?.close();
  await stack?.close();
});

/** A visitor (in the given colour scheme and language) who has written `first` and got a reply; returns the conversation id. */
async function chatting(scheme: 'light' | 'dark', first: string, locale = 'en-US'): Promise<{ ctx: BrowserContext; p: Page; conv: string }> {
  const ctx = await browser.newContext({ colorScheme: scheme, locale });
  const p = await openPage(ctx, fx.page(`look-${++seq}`));
  await say(p, first);
  const conv = (await op.next('conv', (x) => x.conv.last?.text === first && x.conv.status === 'open', 10_000)).conv.id;
  op.send({ type: 'send', conv, cid: `op-look-${seq}`, text: `Reply to: ${first}` });
  await widget(p).locator('.bu', { hasText: `Reply to: ${first}` }).waitFor({ timeout: 10_000 });
  return { ctx, p, conv };
}

async function axe(p: Page): Promise<string[]> {
  await p.addScriptTag({ content: AXE });
  return p.evaluate(async () => {
    const r = await (window as unknown as { axe: { run(ctx: object): Promise<{ violations: { id: string; nodes: { target: unknown }[] }[] }> } }).axe.run({ include: [['hark-chat']] });
    return r.violations.map((v) => `${v.id}: ${JSON.stringify(v.nodes.map((n) => n.target))}`);
  });
}

describe('widget look and feel', () => {
  for (const scheme of ['light', 'dark'] as const) {
    it(`axe finds no violations on the open widget with a conversation, ${scheme} scheme`, async () => {
      const { ctx, p } = await chatting(scheme, `Axe check ${scheme}`);
      const look = await widget(p)
        .locator('.p')
        .evaluate((el) => ({ bg: getComputedStyle(el).backgroundColor, header: getComputedStyle(el.querySelector('.hd') as Element).backgroundColor }));
      // The scheme's own background; the site's colour stays the accent in both.
      expect(look.bg).toBe(scheme === 'dark' ? 'rgb(28, 33, 40)' : 'rgb(255, 255, 255)');
      expect(look.header).toBe('rgb(15, 118, 110)');
      expect(await axe(p)).toEqual([]);
      await ctx.close();
    });
  }

  it("focus rings are drawn in the site's colour (on the header, in the text colour on it)", async () => {
    const { ctx, p } = await chatting('light', 'Focus check');
    const ring = (sel: string) =>
      widget(p)
        .locator(sel)
        .evaluate((el) => {
          (el as HTMLElement).focus();
          const s = getComputedStyle(el);
          return `${s.outlineStyle} ${s.outlineColor}`;
        });
    // Keyboard focus (focus-visible) on the send button and the header's close button.
    await p.keyboard.press('Tab');
    expect(await ring('.sb')).toBe('solid rgb(15, 118, 110)');
    expect(await ring('.hd .x')).toBe('solid rgb(255, 255, 255)');
    await ctx.close();
  });

  it("messages carry times in the chat's language", async () => {
    const { ctx, p } = await chatting('light', 'Time check');
    const stamps = async () => (await widget(p).locator('.ls > p.mt.ev').allTextContents()).filter((x) => /\d[:.]\d\d/.test(x));
    const fmt = (l: string) => p.evaluate((l) => new Intl.DateTimeFormat(l, { timeStyle: 'short' }).format(Date.now()), l);
    // One time line above the first message (the reply came within TIME_GAP_MS: no second one), as English writes it…
    await expect.poll(stamps).toEqual([await fmt('en')]);
    expect((await stamps())[0]).toMatch(/[AP]M/);
    // …and as Russian does, once the page switches the chat's language.
    await p.evaluate(() => (window as unknown as { Hark: { setLocale(l: string): void } }).Hark.setLocale('ru'));
    await expect.poll(stamps, { timeout: 10_000 }).toEqual([await fmt('ru')]);
    await ctx.close();
  });

  it('the rating prompt leaves the last message in view', async () => {
    const { ctx, p, conv } = await chatting('light', 'Rating check');
    // Enough messages to fill the log, so the prompt has something to push.
    for (let i = 1; i <= 3; i++) {
      op.send({ type: 'send', conv, cid: `op-fill-${i}`, text: `Part ${i} of a long answer:\n${'a line of it\n'.repeat(6)}` });
      await widget(p).locator('.bu', { hasText: `Part ${i} of` }).waitFor({ timeout: 10_000 });
    }
    op.send({ type: 'send', conv, cid: 'op-last-message', text: 'The very last message' });
    await widget(p).locator('.bu', { hasText: 'The very last message' }).waitFor({ timeout: 10_000 });
    // The log overflows: without care, a prompt below it would push the newest lines out of view.
    expect(await widget(p).locator('.ls').evaluate((el) => el.scrollHeight > el.clientHeight)).toBe(true);
    op.send({ type: 'resolve', conv });
    const w = widget(p);
    await w.getByText('How was this chat?').waitFor({ timeout: 10_000 });
    await p.waitForTimeout(300);
    // The last message's bubble is inside the log's visible box and is what is drawn at its centre (nothing covers it).
    const last = w.locator('.bu', { hasText: 'The very last message' });
    const inView = () =>
      last.evaluate((el) => {
        const ls = el.closest('.ls') as Element;
        const b = el.getBoundingClientRect();
        const v = ls.getBoundingClientRect();
        const top = (el.getRootNode() as ShadowRoot).elementFromPoint(b.x + b.width / 2, b.y + b.height / 2);
        return { inside: b.top >= v.top && b.bottom <= v.bottom, hit: !!top && el.contains(top) };
      });
    expect(await inView()).toEqual({ inside: true, hit: true });
    // Choosing a rating opens the comment field: the last message stays in view.
    await w.getByRole('button', { name: 'Good' }).click();
    await w.getByRole('textbox', { name: 'Comment' }).waitFor();
    expect(await inView()).toEqual({ inside: true, hit: true });
    // …and the prompt itself is in view too, in the same scroll area.
    expect(await w.locator('.ls .rf').isVisible()).toBe(true);
    await ctx.close();
  });

  it("a returning visitor's launcher does not move when the chat catches up, and the collapsed chat still counts replies", async () => {
    const { ctx, p, conv } = await chatting('light', 'Shift check');
    await launcher(p).click();
    expect(await launcher(p).getAttribute('aria-expanded')).toBe('false');
    // The site's launcher label came with the chat; the next page view draws it from the loader at once.
    await p.waitForTimeout(300);
    const p2 = await ctx.newPage();
    await p2.addInitScript(() => {
      const w = window as unknown as { __shifts: number[] };
      w.__shifts = [];
      new PerformanceObserver((l) => {
        for (const e of l.getEntries() as (PerformanceEntry & { value: number; hadRecentInput: boolean })[]) if (!e.hadRecentInput) w.__shifts.push(e.value);
      }).observe({ type: 'layout-shift', buffered: true });
    });
    await p2.goto(fx.page(`look-${seq}`));
    await launcher(p2).waitFor();
    const first = await launcher(p2).boundingBox();
    // The chat is up (it set aria-controls) and has the site (the theme is the site's colour).
    await expect.poll(() => launcher(p2).getAttribute('aria-controls'), { timeout: 10_000 }).toBe('hark-panel');
    await p2.waitForTimeout(1_000);
    expect(await launcher(p2).boundingBox()).toEqual(first);
    expect(await launcher(p2).textContent()).toContain('Chat with us');
    expect(await p2.evaluate(() => (window as unknown as { __shifts: number[] }).__shifts)).toEqual([]);
    // The panel is not drawn until opened; the socket is up all the same: a reply counts on the badge.
    expect(await widget(p2).locator('.p').count()).toBe(0);
    op.send({ type: 'send', conv, cid: 'op-after-reload', text: 'Still there?' });
    await expect.poll(() => p2.locator('hark-chat .bd').textContent(), { timeout: 10_000 }).toBe('1');
    await launcher(p2).click();
    await widget(p2).locator('.bu', { hasText: 'Still there?' }).waitFor({ timeout: 10_000 });
    await ctx.close();
  });
});
