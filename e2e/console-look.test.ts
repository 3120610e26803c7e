/**
 * The console's look and feel (#13), in real Chromium against a real gateway:
 * - axe-core finds no violations on any console view, nor on the open widget, in the light and the dark theme;
 * - the connection indicator tells the truth: Live, then Offline (with Retry now) when the network goes, then Live again;
 * - links in messages are clickable, and only safe ones.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { openVisitor, rowWith, useConsoleStack, visitorSays } from './console-stack';
import { watchCsp } from './src/harness';

const t = useConsoleStack();
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
type Theme = 'light' | 'dark';
/** Polls wait this long: the machine running the suite may be busy. */
const SLOW = { timeout: 20_000 };

/** axe's violations on the page (or inside `include`), one line each: rule, impact, where, why. */
async function axe(page: Page, include?: string): Promise<string[]> {
  // The console's CSP forbids inline scripts, so axe is evaluated (DevTools protocol), not added as a tag.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE);
  const violations = await page.evaluate(async (sel) => {
    const w = window as unknown as { axe: { run(ctx: unknown, opts: object): Promise<{ violations: { id: string; impact: string; nodes: { target: unknown[]; failureSummary?: string }[] }[] }> } };
    const r = await w.axe.run(sel ? { include: [[sel]] } : document, { resultTypes: ['violations'] });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => `${JSON.stringify(n.target)} ${n.failureSummary ?? ''}`.replace(/\s+/g, ' ')).join(' | ')}`);
  }, include ?? null);
  return violations;
}

async function context(browser: Browser, theme: Theme, viewport = { width: 1280, height: 800 }): Promise<BrowserContext> {
  const ctx = await browser.newContext({ locale: 'en-US', colorScheme: theme, viewport });
  ctx.setDefaultTimeout(10_000);
  return ctx;
}

async function setStatus(page: Page, status: 'online' | 'offline'): Promise<void> {
  await page.getByLabel('Your status').selectOption(status);
  await expect.poll(() => page.getByTestId('my-status').getAttribute('data-status'), SLOW).toBe(status);
}

async function signInAs(page: Page, email: string, password: string): Promise<void> {
  await page.goto(`${t.stack.base}/console/`);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect.poll(() => page.getByTestId('connection').textContent(), { timeout: 30_000 }).toBe('Live');
}

describe('console look', () => {
  it('the connection indicator says Offline with Retry now when the network goes, and Live again when it is back', async () => {
    const ctx = await context(t.browser, 'light');
    const page = await ctx.newPage();
    await signInAs(page, t.stack.admin.email, t.stack.admin.password);
    const conn = page.getByTestId('connection');
    expect(await conn.getAttribute('class')).toContain('conn-live');
    await ctx.setOffline(true);
    await expect.poll(() => conn.textContent(), SLOW).toBe('Offline, reconnecting…');
    expect(await conn.getAttribute('class')).toContain('conn-offline');
    // While the network is gone it stays offline (the backoff waits for it), and says how to retry.
    await page.waitForTimeout(1500);
    expect(await conn.textContent()).toBe('Offline, reconnecting…');
    await page.getByTestId('reconnect').waitFor();
    await ctx.setOffline(false);
    await expect.poll(() => conn.textContent(), { timeout: 30_000 }).toBe('Live');
    expect(await page.getByTestId('reconnect').count()).toBe(0);
    await ctx.close();
  });

  it('links in messages are clickable (http, https, mailto), open in a new tab without a referrer; javascript: and HTML stay text', async () => {
    const ctx = await context(t.browser, 'light');
    const page = await ctx.newPage();
    const csp = await watchCsp(page);
    await signInAs(page, t.stack.admin.email, t.stack.admin.password);
    await setStatus(page, 'online');
    const v = await openVisitor(t.browser, t.stack.base);
    await visitorSays(v.page, 'links-1 see https://example.com/shop?x=1, write to help@example.com; javascript:alert(1) <a href="javascript:alert(2)">x</a>');
    await expect.poll(() => rowWith(page, 'links-1').count(), SLOW).toBe(1);
    await rowWith(page, 'links-1').click();
    const text = page.locator('.entry.msg .text', { hasText: 'links-1' });
    await text.waitFor();
    const anchors = await text.locator('a').evaluateAll((as) => as.map((a) => ({ href: a.getAttribute('href'), rel: a.getAttribute('rel'), target: a.getAttribute('target'), text: a.textContent })));
    expect(anchors).toEqual([
      { href: 'https://example.com/shop?x=1', rel: 'noopener noreferrer nofollow', target: '_blank', text: 'https://example.com/shop?x=1' },
      { href: 'mailto:help@example.com', rel: 'noopener noreferrer nofollow', target: '_blank', text: 'help@example.com' },
    ]);
    expect(await text.textContent()).toContain('<a href="javascript:alert(2)">x</a>');
    expect(await csp()).toEqual([]);
    await setStatus(page, 'offline');
    await v.ctx.close();
    await ctx.close();
  });

  for (const theme of ['light', 'dark'] as const) {
    it(`axe finds no violations on any console view, ${theme} theme`, async () => {
      const ctx = await context(t.browser, theme);
      const page = await ctx.newPage();
      const csp = await watchCsp(page);
      const found: Record<string, string[]> = {};
      const check = async (view: string) => {
        found[view] = await axe(page);
      };
      await page.goto(`${t.stack.base}/console/`);
      await page.getByLabel('E-mail').waitFor();
      await check('sign-in');
      await signInAs(page, t.stack.admin.email, t.stack.admin.password);
      await setStatus(page, 'online');

      // Inbox views, empty and not, then a conversation with its visitor panel (1280 px shows both).
      for (const view of ['Mine', 'Queue', 'All', 'Resolved']) {
        await page.getByRole('tab', { name: view, exact: false }).first().click();
        await check(`inbox ${view}`);
      }
      const v = await openVisitor(t.browser, t.stack.base);
      await visitorSays(v.page, `axe-${theme} Hello, is the blue one at https://example.com/blue in stock?`);
      await page.getByRole('tab', { name: 'Mine' }).click();
      await expect.poll(() => rowWith(page, `axe-${theme}`).count(), SLOW).toBe(1);
      await rowWith(page, `axe-${theme}`).click();
      await page.locator('#composer').fill('Yes, it ships tomorrow.');
      await page.locator('#composer').press('Enter');
      await page.locator('.entry.msg.out').first().waitFor();
      await page.locator('.visitor').waitFor();
      await check('inbox with a conversation and the visitor panel');

      // Search: results, then none.
      const search = page.getByPlaceholder('Search messages, notes, visitors…');
      await search.fill('blue');
      await search.press('Enter');
      await page.locator('.search-results .conv-row').first().waitFor();
      await check('search results');
      await search.fill('zzqqxx');
      await search.press('Enter');
      await page.getByTestId('search-empty').waitFor();
      await check('search, nothing found');
      await search.fill('');
      await search.press('Escape');

      await page.getByRole('button', { name: 'My numbers' }).click();
      await page.locator('.stats').waitFor();
      await check('my numbers');
      await page.getByRole('button', { name: 'Reports' }).click();
      await page.locator('section.reports').waitFor();
      await page.locator('section.reports .report-table, section.reports .chart').first().waitFor();
      await check('reports');
      await page.getByRole('button', { name: 'Admin' }).click();
      for (const tab of ['Operators', 'Sites', 'Teams', 'Saved replies', 'Integrations', 'Mail']) {
        await page.getByRole('tab', { name: tab }).click();
        await page.locator('.admin .empty-state.loading').waitFor({ state: 'detached' });
        await check(`admin ${tab}`);
      }
      await page.getByRole('button', { name: 'Account' }).click();
      await page.locator('.account').waitFor();
      await check('account');

      // The widget, open, in the same theme (reported here; its code is the widget's).
      const vctx = await context(t.browser, theme);
      const w = await vctx.newPage();
      await w.goto(`${t.stack.base}/`);
      await w.locator('hark-chat button').first().click();
      await w.locator('hark-chat textarea').waitFor();
      found['widget (open)'] = await axe(w, 'hark-chat');

      const bad = Object.entries(found).filter(([, list]) => list.length > 0);
      expect(bad, JSON.stringify(Object.fromEntries(bad), null, 2)).toEqual([]);
      expect(Object.keys(found).length).toBe(18);
      expect(await csp()).toEqual([]);
      await setStatus(page, 'offline');
      await vctx.close();
      await v.ctx.close();
      await ctx.close();
      // Twenty views and two browsers: longer than the default under a loaded machine.
    }, 240_000);
  }
});
