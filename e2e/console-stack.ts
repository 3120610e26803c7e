/** Shared setup of the console end-to-end tests: the e2e harness's stack, plus small helpers for the console and the widget. */
import { afterAll, beforeAll, expect } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { type Stack, type StackOptions, launchBrowser, startStack, watchCsp } from './src/harness';

export const PASSWORD = 'long enough password';

export interface ConsoleStack {
  stack: Stack;
  browser: Browser;
}

/** The e2e harness's stack and one Chromium for the tests of one file, started before them and stopped after them. */
export function useConsoleStack(opts?: StackOptions): ConsoleStack {
  const t = {} as ConsoleStack;
  beforeAll(async () => {
    t.stack = await startStack(opts);
    t.browser = await launchBrowser();
  });
  afterAll(async () => {
    await t.browser?.close();
    await t.stack?.close();
  });
  return t;
}

export async function makeOperator(stack: Stack, body: { email: string; name: string; role?: string; sites?: string[]; capacity?: number; teams?: string[] }): Promise<string> {
  const r = await stack.adminHttp.req<{ id: string }>('POST', '/v1/operators', { password: PASSWORD, sites: ['demo'], ...body });
  if (r.status !== 201) throw new Error(`create operator: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.id;
}

/** Signs in through the console's own form and waits until the socket is live. */
export async function signIn(browser: Browser, base: string, email: string, password = PASSWORD): Promise<{ ctx: BrowserContext; page: Page; csp: () => Promise<string[]> }> {
  const ctx = await browser.newContext({ locale: 'en-US' });
  ctx.setDefaultTimeout(8000);
  const page = await ctx.newPage();
  // Every console page is watched for CSP violations; tests assert there were none.
  const csp = await watchCsp(page);
  await page.goto(`${base}/console/`);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect.poll(() => page.getByTestId('connection').textContent(), { timeout: 10_000 }).toBe('Live');
  return { ctx, page, csp };
}

export async function setStatus(page: Page, status: 'online' | 'away' | 'offline'): Promise<void> {
  await page.getByLabel('Your status').selectOption(status);
  // The label carries the status the server confirmed, not the one just picked.
  await expect.poll(() => page.getByTestId('my-status').getAttribute('data-status')).toBe(status);
}

/** A visitor on the demo page, in their own browser context (own token). */
export async function openVisitor(browser: Browser, base: string): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext({ locale: 'en-US' });
  ctx.setDefaultTimeout(8000);
  const page = await ctx.newPage();
  await page.goto(`${base}/`);
  await page.locator('hark-chat button').first().click();
  await page.locator('hark-chat textarea').waitFor();
  return { ctx, page };
}

export async function visitorSays(page: Page, text: string): Promise<void> {
  const box = page.locator('hark-chat textarea');
  await box.fill(text);
  await box.press('Enter');
}

/** All text the visitor can see inside the widget's shadow root. */
export function widgetText(page: Page): Promise<string> {
  return page.evaluate(() => document.querySelector('hark-chat')?.shadowRoot?.textContent ?? '');
}

/** The inbox row of the conversation whose visitor said `text` last (or whose preview contains it). */
export function rowWith(page: Page, text: string) {
  return page.locator('.conv-row', { hasText: text });
}
