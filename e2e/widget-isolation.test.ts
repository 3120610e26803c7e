/**
 * The widget on the strictest host pages, in real Chromium against the real gateway:
 * a page that enforces Trusted Types (`require-trusted-types-for 'script'`, allowing the one
 * policy name the widget uses: `trusted-types hark`), and a cross-origin isolated page
 * (COEP `require-corp`, COOP `same-origin`: every subresource needs CORP or CORS). On both
 * the visitor chats, with zero CSP violations and no page error.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fixtures, bubbles, launcher, say, startFixtures, widget } from './src/fixtures';
import { createOp, launchBrowser, operator, type Stack, startStack, watchCsp } from './src/harness';

let stack: Stack;
let browser: Browser;
let fx: Fixtures;

beforeAll(async () => {
  stack = await startStack();
  browser = await launchBrowser();
  fx = await startFixtures(stack);
  // An operator online, so the visitor gets the chat rather than the leave-a-message form.
  const op = await createOp(stack.adminHttp, { email: 'ana@example.com', name: 'Ana Kovač' });
  await operator(stack.gw, op.http);
});
afterAll(async () => {
  await browser?.close();
  await fx?.close();
  await stack?.close();
});

async function chat(url: string): Promise<{ p: Page; csp: () => Promise<string[]>; errors: string[] }> {
  const ctx = await browser.newContext();
  const p = await ctx.newPage();
  const errors: string[] = [];
  p.on('pageerror', (e) => errors.push(e.message));
  p.on('console', (m) => {
    // (The fixture server has no favicon: its 404 is the browser's, not the widget's.)
    if (m.type() === 'error' && !m.location().url.endsWith('/favicon.ico')) errors.push(`${m.text()} ${m.location().url}`);
  });
  const csp = await watchCsp(p);
  await p.goto(url);
  await launcher(p).waitFor();
  await say(p, 'Hello from a strict page');
  await widget(p).getByText('Sent', { exact: true }).waitFor({ timeout: 15_000 });
  expect(await bubbles(p)).toContain('Hello from a strict page');
  return { p, csp, errors };
}

describe('widget on pages that lock down scripts', () => {
  it("chats on a page enforcing Trusted Types that allows the policy 'hark', with zero violations", async () => {
    const gw = stack.base;
    const ws = gw.replace(/^http/, 'ws');
    const url = fx.page('trusted-types', {
      headers: {
        'content-security-policy': `require-trusted-types-for 'script'; trusted-types hark; default-src 'none'; script-src ${gw}; connect-src ${ws} ${gw}; img-src ${gw} data:; base-uri 'none'; object-src 'none'`,
      },
    });
    const { p, csp, errors } = await chat(url);
    expect(await csp()).toEqual([]);
    expect(errors).toEqual([]);
    // The enforcement is real: a plain string into a script sink is refused on this page.
    const refused = await p.evaluate(() => {
      try {
        document.createElement('script').src = '/x.js';
        return false;
      } catch {
        return true;
      }
    });
    expect(refused).toBe(true);
    await p.context().close();
  });

  it('chats on a cross-origin isolated page (COEP require-corp), with zero violations', async () => {
    const url = fx.page('isolated', { headers: { 'cross-origin-embedder-policy': 'require-corp', 'cross-origin-opener-policy': 'same-origin' } });
    const { p, csp, errors } = await chat(url);
    expect(await p.evaluate(() => self.crossOriginIsolated)).toBe(true);
    expect(await csp()).toEqual([]);
    expect(errors).toEqual([]);
    // A reload: the conversation is back, its chat bundle from the browser's cache (immutable, content-hashed).
    await p.reload();
    await launcher(p).waitFor();
    await launcher(p).click();
    await expect.poll(() => bubbles(p)).toContain('Hello from a strict page');
    await p.context().close();
  });
});
