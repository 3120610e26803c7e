/**
 * Screenshots of the console's main views (#13): sign-in, inbox with a conversation, the visitor's
 * details, reports, admin; at 1280×800 and 390×844; light and dark. Starts the same stack as the
 * end-to-end tests (its own Redis, the gateway on a loopback port 0), seeds a realistic conversation
 * through the real widget in Chromium, and writes PNGs to docs/screenshots/ (linked from README.md).
 *
 *   pnpm screenshots
 */
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { createOp, launchBrowser, startStack } from './src/harness';

const OUT = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'screenshots');
const SIZES = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
] as const;
const THEMES = ['light', 'dark'] as const;
/** Every wait in here is bounded; a view that does not show within it fails the run. */
const STEP_MS = 20_000;

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + STEP_MS;
  while (Date.now() < end) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function signIn(page: Page, base: string, email: string, password: string): Promise<void> {
  await page.goto(`${base}/console/`);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await until('the console to be live', async () => (await page.getByTestId('connection').textContent()) === 'Live');
}

async function visitorChat(browser: Browser, base: string, lines: string[]): Promise<() => Promise<void>> {
  const ctx = await browser.newContext({ locale: 'en-US', serviceWorkers: 'block' });
  const page = await ctx.newPage();
  await page.goto(`${base}/`);
  await page.locator('hark-chat button').first().click();
  const box = page.locator('hark-chat textarea');
  await box.waitFor({ timeout: STEP_MS });
  for (const line of lines) {
    await box.fill(line);
    await box.press('Enter');
    await page.waitForTimeout(300);
  }
  return () => ctx.close();
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const stack = await startStack();
  const browser = await launchBrowser();
  const closers: (() => Promise<void>)[] = [];
  try {
    // Seed: a second operator and a team-wide saved reply; then three visitors, one of them answered.
    await createOp(stack.adminHttp, { email: 'lea@example.com', name: 'Lea Kovač', capacity: 4, sites: ['demo'] });
    await stack.adminHttp.req('POST', '/v1/replies', { shortcut: 'shipping', text: 'Orders placed before 2 pm ship the same day; delivery takes 1–3 working days.', site: 'demo' });
    const seedCtx = await browser.newContext({ locale: 'en-US', serviceWorkers: 'block', viewport: { width: 1280, height: 800 } });
    const op = await seedCtx.newPage();
    await signIn(op, stack.base, stack.admin.email, stack.admin.password);
    await op.getByLabel('Your status').selectOption('online');
    closers.push(await visitorChat(browser, stack.base, ['Hi! Does the Alder lamp come in a warm white?', 'The product page only lists 4000 K: https://demo.example/lamps/alder']));
    closers.push(await visitorChat(browser, stack.base, ['Can I change the delivery address on order 10482?']));
    closers.push(await visitorChat(browser, stack.base, ['Hello, do you ship to Croatia?']));
    await until('three chats in the inbox', async () => (await op.locator('.conv-row').count()) >= 3);
    const lamp = op.locator('.conv-row', { hasText: 'Alder' });
    await until('the lamp chat', async () => (await lamp.count()) === 1);
    const conv = (await lamp.getAttribute('data-conv')) as string;
    await lamp.click();
    await op.locator('#composer').fill('Hi! Yes: the Alder comes in 2700 K too, it is listed as "Alder Warm". Shall I send you the link?');
    await op.locator('#composer').press('Enter');
    await until('the answer', async () => (await op.locator('.entry.msg.out').count()) === 1);
    await seedCtx.close();

    for (const theme of THEMES) {
      for (const size of SIZES) {
        const ctx = await browser.newContext({ locale: 'en-US', colorScheme: theme, viewport: { width: size.width, height: size.height }, serviceWorkers: 'block' });
        ctx.setDefaultTimeout(STEP_MS);
        const page = await ctx.newPage();
        const shot = async (view: string) => {
          // Fonts and layout settle before the picture.
          await page.evaluate(() => document.fonts.ready.then(() => undefined));
          await page.screenshot({ path: join(OUT, `${view}-${size.name}-${theme}.png`) });
        };
        await page.goto(`${stack.base}/console/`);
        await page.getByLabel('E-mail').waitFor();
        await shot('sign-in');
        await signIn(page, stack.base, stack.admin.email, stack.admin.password);
        await page.goto(`${stack.base}/console/mine/${conv}`);
        await page.locator('.entry.msg.out').waitFor();
        await shot('inbox');
        await page.goto(`${stack.base}/console/mine/${conv}/visitor`);
        await page.locator('.visitor').waitFor();
        await shot('visitor');
        await page.goto(`${stack.base}/console/reports`);
        await page.locator('section.reports .report-table').waitFor();
        await shot('reports');
        await page.goto(`${stack.base}/console/admin/operators`);
        await page.locator('.admin table.list').waitFor();
        await shot('admin');
        await ctx.close();
      }
    }
    // Leave the admin offline again (the stack is thrown away anyway).
  } finally {
    for (const c of closers) await c().catch(() => undefined);
    await browser.close();
    await stack.close();
  }
  const files = readdirSync(OUT).filter((f) => f.endsWith('.png'));
  const total = files.reduce((n, f) => n + statSync(join(OUT, f)).size, 0);
  console.log(`${files.length} screenshots, ${(total / 1024).toFixed(0)} KiB, in ${OUT}`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
