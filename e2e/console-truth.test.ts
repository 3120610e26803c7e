/**
 * "Nothing the console shows is out of date" (#13), in real Chromium against a real gateway:
 * the unanswered flag in every open console, a chat handed away, the visitor's page, presence
 * and browser language, live.
 */
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { makeOperator, openVisitor, rowWith, setStatus, signIn, useConsoleStack, visitorSays } from './console-stack';

const t = useConsoleStack();
const THRESHOLD_MS = 2000;

async function live(page: Page): Promise<void> {
  await expect.poll(() => page.getByTestId('connection').textContent(), { timeout: 10_000 }).toBe('Live');
}

describe('the console tells the truth', () => {
  it('flags a follow-up to an answered chat past the threshold in every open console, and clears it everywhere on the answer', async () => {
    // A short threshold keeps the test quick (the site setting's minimum is 1 s).
    expect((await t.stack.adminHttp.req('PATCH', '/v1/sites/demo', { unansweredMs: THRESHOLD_MS, offlineForm: false })).status).toBe(200);
    await makeOperator(t.stack, { email: 'ivo@example.com', name: 'Ivo' });
    const a = await signIn(t.browser, t.stack.base, 'ivo@example.com');
    await setStatus(a.page, 'online');
    // The same operator's second tab: a console that only watches.
    const b = await a.ctx.newPage();
    await b.goto(`${t.stack.base}/console/`);
    await live(b);

    const v = await openVisitor(t.browser, t.stack.base);
    await visitorSays(v.page, 'Is this in stock? truth-1');
    await expect.poll(() => rowWith(a.page, 'truth-1').count()).toBe(1);
    const id = await rowWith(a.page, 'truth-1').getAttribute('data-conv');
    const rowA = a.page.locator(`.conv-row[data-conv="${id}"]`);
    const rowB = b.locator(`.conv-row[data-conv="${id}"]`);
    await rowA.click();
    await a.page.locator('#composer').fill('Yes, it is.');
    await a.page.locator('#composer').press('Enter');
    await expect.poll(() => rowB.getAttribute('class')).not.toContain('overdue');

    // Answered, and longer than the threshold ago: no flag anywhere.
    await new Promise((r) => setTimeout(r, THRESHOLD_MS + 500));
    expect(await rowA.getAttribute('class')).not.toContain('overdue');
    expect(await rowB.getAttribute('class')).not.toContain('overdue');

    // A follow-up from the answered visitor: flagged in both consoles once it has waited past the threshold.
    await visitorSays(v.page, 'And in blue? truth-2');
    await expect.poll(() => rowB.textContent()).toContain('truth-2');
    expect(await rowB.getAttribute('class')).not.toContain('overdue');
    await expect.poll(() => rowA.getAttribute('class'), { timeout: THRESHOLD_MS + 4000 }).toContain('overdue');
    await expect.poll(() => rowB.getAttribute('class'), { timeout: 4000 }).toContain('overdue');
    expect(await rowB.textContent()).toContain('Unanswered');
    expect(await b.title()).toBe('(1) Hark console');

    // The answer, written in the first tab: the second clears its flag and its title without a reload.
    await a.page.locator('#composer').fill('Blue too.');
    await a.page.locator('#composer').press('Enter');
    await expect.poll(() => rowB.getAttribute('class')).not.toContain('overdue');
    await expect.poll(() => b.title()).toBe('Hark console');
    await expect.poll(() => rowA.getAttribute('class')).not.toContain('overdue');
    expect(await a.csp()).toEqual([]);
    await a.ctx.close();
    await v.ctx.close();
  });
});
