/**
 * The core loop in real Chromium: the demo page with the real script tag, a
 * visitor and an operator (in the real console) exchange messages both ways,
 * the visitor reloads and sees the history, the operator's name shows in the widget.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Stack, consoleLogin, createOp, launchBrowser, startStack } from './src/harness';

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

it('visitor and named operator chat both ways; history survives a reload of either side', async () => {
  await createOp(stack.adminHttp, { email: 'mia@example.com', name: 'Mia Horvat' });
  // 1. Mia signs in to the console: signing in puts her online.
  const { page: op } = await consoleLogin(browser, stack.base, 'mia@example.com', 'long enough password');
  await expect.poll(() => op.getByText('Mia Horvat').first().isVisible(), { timeout: 10_000 }).toBe(true);

  // 2. A visitor opens the demo page (real script tag), clicks the launcher and writes.
  const vctx = await browser.newContext();
  const v = await vctx.newPage();
  await v.goto(`${stack.base}/`);
  expect(await v.locator('script[src="/widget.js"][data-site="demo"]').count()).toBe(1);
  await v.locator('hark-chat').getByRole('button', { name: /chat/i }).click();
  const box = v.locator('hark-chat').getByRole('textbox', { name: /message/i });
  await box.fill('Do you ship to Zagreb?');
  await box.press('Enter');

  // 3. It arrives in Mia's console at once, assigned to her; she opens it and answers.
  const item = op.getByText('Do you ship to Zagreb?').first();
  await item.waitFor({ timeout: 10_000 });
  await item.click();
  const composer = op.getByRole('textbox').last();
  await composer.fill('Yes, in two days.');
  await composer.press('Enter');

  // 4. The visitor sees the answer and Mia's name.
  await v.locator('hark-chat').getByText('Yes, in two days.').first().waitFor({ timeout: 10_000 });
  expect(await v.locator('hark-chat').getByText('Mia Horvat').first().isVisible()).toBe(true);

  // 5. The visitor reloads: the whole history is back.
  await v.reload();
  if (!(await v.locator('hark-chat').getByRole('textbox', { name: /message/i }).isVisible())) {
    await v.locator('hark-chat').getByRole('button', { name: /chat/i }).click();
  }
  await v.locator('hark-chat').getByText('Yes, in two days.').first().waitFor({ timeout: 10_000 });
  expect(await v.locator('hark-chat').getByText('Do you ship to Zagreb?').count()).toBeGreaterThan(0);

  // 6. The visitor writes again; the operator reloads the console and sees everything.
  const box2 = v.locator('hark-chat').getByRole('textbox', { name: /message/i });
  await box2.fill('Great, thanks!');
  await box2.press('Enter');
  await op.getByText('Great, thanks!').first().waitFor({ timeout: 10_000 });
  await op.reload();
  // The inbox shows the latest message as the preview.
  await op.getByText('Great, thanks!').first().click({ timeout: 10_000 });
  await op.getByText('Do you ship to Zagreb?').first().waitFor({ timeout: 10_000 });
  await op.getByText('Yes, in two days.').first().waitFor({ timeout: 10_000 });

  // 7. A second tab of the visitor shows the same conversation.
  const tab2 = await vctx.newPage();
  await tab2.goto(`${stack.base}/?page=2`);
  await tab2.locator('hark-chat').getByRole('button', { name: /chat/i }).click();
  await tab2.locator('hark-chat').getByText('Great, thanks!').first().waitFor({ timeout: 10_000 });

  // 8. Nothing secret reached the gateway's log: not this visitor's token, not Mia's session.
  const token = await v.evaluate(() => localStorage.getItem('hark:demo:token'));
  const session = (await op.context().cookies()).find((c) => c.name === 'hark_session')?.value;
  expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
  expect(session).toBeTruthy();
  const log = stack.log();
  expect(log).toContain('/v1/visitor');
  expect(log.includes(token as string)).toBe(false);
  expect(log.includes(session as string)).toBe(false);
});
