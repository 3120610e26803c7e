/**
 * Supervisors in real Chromium: they see every live chat (All), watch one as it
 * happens and join it; plus the keyboard (shortcut list, moving between
 * conversations) and switching the console's language.
 */
import { describe, expect, it } from 'vitest';
import { makeOperator, openVisitor, rowWith, setStatus, signIn, useConsoleStack, visitorSays, widgetText } from './console-stack';

const t = useConsoleStack();

describe('supervisor', () => {
  it('sees all live chats, watches one live and joins it', async () => {
    await makeOperator(t.stack, { email: 'ana@example.com', name: 'Ana' });
    await makeOperator(t.stack, { email: 'sue@example.com', name: 'Sue Supervisor', role: 'supervisor' });
    const ana = await signIn(t.browser, t.stack.base, 'ana@example.com');
    const sue = await signIn(t.browser, t.stack.base, 'sue@example.com');
    await setStatus(ana.page, 'online');
    // Signing in puts an operator online; Sue supervises without taking chats.
    await setStatus(sue.page, 'away');
    // Operators get no All view; supervisors do.
    expect(await ana.page.locator('[data-view=all]').count()).toBe(0);

    const v = await openVisitor(t.browser, t.stack.base);
    await visitorSays(v.page, 'I need help with an order');
    await rowWith(ana.page, 'help with an order').click();

    // 1. Sue finds Ana's chat in All and watches it: new visitor messages appear live.
    await sue.page.locator('[data-view=all]').click();
    await rowWith(sue.page, 'help with an order').click();
    expect(await sue.page.locator('.conversation .conv-head').textContent()).toContain('Ana');
    await sue.page.getByRole('button', { name: 'Watch' }).click();
    await expect.poll(() => sue.page.locator('.conversation .pill.watching').count()).toBe(1);
    // Sue has not joined: she may only write notes.
    expect(await sue.page.getByRole('radio', { name: 'Reply' }).isDisabled()).toBe(true);
    await visitorSays(v.page, 'order number is 4411');
    await expect.poll(() => sue.page.locator('.conversation .entries').textContent()).toContain('order number is 4411');
    await ana.page.locator('#composer').fill('Looking it up now.');
    await ana.page.locator('#composer').press('Enter');
    await expect.poll(() => sue.page.locator('.conversation .entries').textContent()).toContain('Looking it up now.');

    // 2. Sue joins and answers; the visitor sees her by name.
    await sue.page.getByRole('button', { name: 'Join' }).click();
    await expect.poll(() => sue.page.locator('.conversation .entries').textContent()).toContain('Sue Supervisor joined');
    await expect.poll(() => sue.page.getByRole('radio', { name: 'Reply' }).isDisabled()).toBe(false);
    await sue.page.getByRole('radio', { name: 'Reply' }).check();
    await sue.page.locator('#composer').fill('Hi, Sue here too, I can approve the refund.');
    await sue.page.locator('#composer').press('Enter');
    await expect.poll(() => widgetText(v.page)).toContain('I can approve the refund');
    await expect.poll(() => widgetText(v.page)).toContain('Sue Supervisor');
    await expect.poll(() => ana.page.locator('.conversation .entries').textContent()).toContain('I can approve the refund');

    // Ana and Sue (signing in put them online) leave for the day, so the next test's chats go to its own operator.
    await setStatus(ana.page, 'offline');
    await setStatus(sue.page, 'offline');
    for (const c of [ana.ctx, sue.ctx, v.ctx]) await c.close();
  });

  it('has keyboard shortcuts and speaks Croatian and Russian', async () => {
    await makeOperator(t.stack, { email: 'kim@example.com', name: 'Kim' });
    const kim = await signIn(t.browser, t.stack.base, 'kim@example.com');
    await setStatus(kim.page, 'online');
    const v1 = await openVisitor(t.browser, t.stack.base);
    await visitorSays(v1.page, 'first visitor kb-1');
    const v2 = await openVisitor(t.browser, t.stack.base);
    await visitorSays(v2.page, 'second visitor kb-2');
    await expect.poll(() => kim.page.locator('.conv-row').count()).toBeGreaterThanOrEqual(2);

    // `?` shows the list; Escape closes it.
    await kim.page.locator('body').click();
    await kim.page.keyboard.press('?');
    await expect.poll(() => kim.page.getByRole('dialog', { name: 'Keyboard shortcuts' }).count()).toBe(1);
    await kim.page.keyboard.press('Escape');
    await expect.poll(() => kim.page.getByRole('dialog').count()).toBe(0);
    // j selects a conversation, j again the next one; r focuses the composer, where j is just a letter.
    await kim.page.keyboard.press('j');
    const first = await kim.page.locator('.conv-row.selected').getAttribute('data-conv');
    await kim.page.keyboard.press('j');
    const second = await kim.page.locator('.conv-row.selected').getAttribute('data-conv');
    expect(first).toBeTruthy();
    expect(second).not.toBe(first);
    // The second chat's pane renders after the key; only then does r have its composer to focus.
    await expect.poll(() => kim.page.locator('.conv-row.selected').getAttribute('data-conv')).toBe(second);
    await kim.page.locator('#composer').waitFor();
    await kim.page.keyboard.press('r');
    await expect.poll(() => kim.page.evaluate(() => document.activeElement?.id)).toBe('composer');
    await kim.page.keyboard.type('just jotting');
    expect(await kim.page.locator('#composer').inputValue()).toBe('just jotting');
    expect(await kim.page.locator('.conv-row.selected').getAttribute('data-conv')).toBe(second);
    // Alt+E resolves the selected conversation even from the composer.
    await kim.page.keyboard.press('Alt+e');
    await expect.poll(() => kim.page.locator(`.conv-row[data-conv="${second}"]`).count()).toBe(0);

    // Language: switch to Croatian, then Russian; the choice survives a reload.
    await kim.page.getByLabel('Language').first().selectOption('hr');
    await expect.poll(() => kim.page.locator('[data-view=mine]').textContent()).toContain('Moji');
    await kim.page.getByLabel('Jezik').first().selectOption('ru');
    await expect.poll(() => kim.page.locator('[data-view=queue]').textContent()).toContain('Очередь');
    // Status is the operator's choice and survives a reload too.
    await kim.page.getByTestId('my-status').locator('select').selectOption('away');
    await expect.poll(() => kim.page.getByTestId('my-status').getAttribute('data-status')).toBe('away');
    await kim.page.reload();
    await expect.poll(() => kim.page.getByTestId('connection').textContent()).toBe('На связи');
    expect(await kim.page.getByTestId('my-status').getAttribute('data-status')).toBe('away');
    for (const c of [kim.ctx, v1.ctx, v2.ctx]) await c.close();
  });
});
