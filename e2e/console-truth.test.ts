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
    await setStatus(a.page, 'offline');
    await a.ctx.close();
    await v.ctx.close();
  });
});

describe('the console follows the visitor and a handed-away chat', () => {
  it("shows the browser's language, the page after a page load and presence live; a chat handed away leaves the sender's console", async () => {
    await makeOperator(t.stack, { email: 'ana@example.com', name: 'Ana' });
    const boId = await makeOperator(t.stack, { email: 'bo@example.com', name: 'Bo' });
    const ana = await signIn(t.browser, t.stack.base, 'ana@example.com');
    const bo = await signIn(t.browser, t.stack.base, 'bo@example.com');
    // Only Ana takes chats for now (Ivo, of the test before, went offline).
    await setStatus(bo.page, 'away');
    await setStatus(ana.page, 'online');

    // A visitor whose browser speaks Austrian German: the widget has no German, so it speaks English.
    const vctx = await t.browser.newContext({ locale: 'de-AT' });
    vctx.setDefaultTimeout(8000);
    const v = await vctx.newPage();
    await v.goto(`${t.stack.base}/`);
    await v.locator('hark-chat button').first().click();
    await v.locator('hark-chat textarea').waitFor();
    await visitorSays(v, 'Hallo, truth-3');
    await expect.poll(() => rowWith(ana.page, 'truth-3').count()).toBe(1);
    const id = await rowWith(ana.page, 'truth-3').getAttribute('data-conv');
    // An anonymous visitor has a friendly name (adjective and animal), not an id.
    const name = ((await rowWith(ana.page, 'truth-3').locator('.row-name').textContent()) ?? '').trim();
    expect(name).toMatch(/^[A-Z][a-z]+ [A-Z][a-z]+$/);
    await rowWith(ana.page, 'truth-3').click();
    await expect.poll(() => ana.page.locator('.conversation h2').textContent()).toBe(name);
    const panel = ana.page.getByRole('complementary', { name: 'Visitor' });
    await expect.poll(() => panel.getByTestId('visitor-language').textContent()).toBe('de-AT');
    const presence = panel.getByTestId('visitor-presence');
    await expect.poll(() => presence.getAttribute('data-online')).toBe('yes');
    expect(await presence.getAttribute('aria-label')).toBe('On the site now');

    // A full page load to another page of the shop: the panel follows, and the visitor never left.
    await v.goto(`${t.stack.base}/?page=2`);
    await expect.poll(() => panel.getByTestId('visitor-page').textContent()).toContain('page=2');
    expect(await presence.getAttribute('data-online')).toBe('yes');

    // The visitor closes the shop: not on the site, without a reload.
    await v.close();
    await expect.poll(() => presence.getAttribute('data-online'), { timeout: 10_000 }).toBe('no');
    expect(await presence.getAttribute('aria-label')).toBe('Not on the site');

    // Ana hands the chat to Bo: it leaves her console, with a word of where it went.
    await setStatus(bo.page, 'online');
    await ana.page.getByRole('button', { name: 'Transfer' }).click();
    const form = ana.page.getByRole('form', { name: 'Transfer' });
    await form.getByRole('combobox').selectOption(`op:${boId}`);
    await form.getByRole('button', { name: 'Transfer' }).click();
    await expect.poll(() => ana.page.getByRole('alert').textContent()).toContain('Bo has this chat now');
    await expect.poll(() => ana.page.locator(`.conv-row[data-conv="${id}"]`).count()).toBe(0);
    expect(await ana.page.locator('.conversation').count()).toBe(0);

    // Bo resolves it; nothing of it is left open anywhere in Ana's console.
    await bo.page.locator(`.conv-row[data-conv="${id}"]`).click();
    await bo.page.getByRole('button', { name: 'Resolve' }).click();
    await expect.poll(() => bo.page.locator(`.conv-row[data-conv="${id}"][data-status=open]`).count()).toBe(0);
    for (const view of ['mine', 'queue']) {
      await ana.page.locator(`[data-view=${view}]`).click();
      expect(await ana.page.locator(`.conv-row[data-conv="${id}"]`).count()).toBe(0);
    }
    expect(await ana.csp()).toEqual([]);
    await ana.ctx.close();
    await bo.ctx.close();
    await vctx.close();
  });
});
