/**
 * Setting up from the console (#13 item 7) in real Chromium: business hours start from a
 * working week in a zone picked from the real IANA list, Save says so, and an operator renames
 * themself from their account.
 */
import { describe, expect, it } from 'vitest';
import { makeOperator, signIn, useConsoleStack } from './console-stack';

const t = useConsoleStack();

describe('setup feedback', () => {
  it('ticks weekdays when hours are turned on, picks the zone from the IANA list, confirms the save, and lets an operator rename themself', async () => {
    const admin = await signIn(t.browser, t.stack.base, t.stack.admin.email, t.stack.admin.password);
    const page = admin.page;
    await page.getByRole('button', { name: 'Admin' }).click();
    await page.getByRole('tab', { name: 'Sites' }).click();
    await page.getByRole('button', { name: 'New site' }).click();
    const form = page.getByRole('form', { name: 'New site' });
    await form.locator('input[name=name]').fill('Setup shop');
    await form.locator('input[name=hoursOn]').check();
    const days = form.locator('table.hours input[type=checkbox]');
    expect(await days.count()).toBe(7);
    const ticked = [];
    for (let i = 0; i < 7; i++) ticked.push(await days.nth(i).isChecked());
    expect(ticked).toEqual([false, true, true, true, true, true, false]);
    // The zone is a choice from the runtime's list, not free text that can be misspelt.
    const tz = form.locator('select[name=tz]');
    expect(await tz.locator('option[value="Europe/Zagreb"]').count()).toBe(1);
    expect(await tz.locator('option[value="Europe/Zagrebb"]').count()).toBe(0);
    await tz.selectOption('Europe/Zagreb');
    await form.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('Site “Setup shop” saved.');
    const sites = (await t.stack.adminHttp.req<{ name: string; hours: { tz: string; days: Record<string, unknown> } | null }[]>('GET', '/v1/sites')).body;
    const made = sites.find((s) => s.name === 'Setup shop');
    expect(made?.hours?.tz).toBe('Europe/Zagreb');
    expect(Object.keys(made?.hours?.days ?? {}).sort()).toEqual(['1', '2', '3', '4', '5']);

    // A site made by mistake (no conversation yet) is deleted after a confirmation.
    const card = page.locator('.site-card', { hasText: 'Setup shop' });
    let siteAsked = '';
    page.once('dialog', (dlg) => {
      siteAsked = dlg.message();
      void dlg.accept();
    });
    await card.getByRole('button', { name: 'Delete site: Setup shop' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('Site “Setup shop” deleted.');
    expect(siteAsked).toContain('Only a site without conversations can be deleted');
    await expect.poll(() => card.count()).toBe(0);
    expect((await t.stack.adminHttp.req<{ name: string }[]>('GET', '/v1/sites')).body.map((x) => x.name)).not.toContain('Setup shop');
    await admin.ctx.close();

    // An operator renames themself; the header shows it at once.
    await makeOperator(t.stack, { email: 'mia@example.com', name: 'Mia' });
    const mia = await signIn(t.browser, t.stack.base, 'mia@example.com');
    await mia.page.getByRole('button', { name: 'Account' }).click();
    const nameForm = mia.page.getByRole('form', { name: 'Your name' });
    await nameForm.locator('input[name=name]').fill('Mia Novak');
    await nameForm.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => nameForm.getByRole('alert').textContent()).toBe('Name saved.');
    await expect.poll(() => mia.page.locator('.me-name').textContent()).toBe('Mia Novak');
    const ops = (await t.stack.adminHttp.req<{ email: string; name: string }[]>('GET', '/v1/operators')).body;
    expect(ops.find((o) => o.email === 'mia@example.com')?.name).toBe('Mia Novak');
    expect(await mia.csp()).toEqual([]);

    // The admin deletes Mia (after confirming): her console is signed out, she is gone from the list.
    const admin2 = await signIn(t.browser, t.stack.base, t.stack.admin.email, t.stack.admin.password);
    await admin2.page.getByRole('button', { name: 'Admin' }).click();
    await admin2.page.getByRole('tab', { name: 'Operators' }).click();
    const row = admin2.page.locator('tr[data-operator="mia@example.com"]');
    let asked = '';
    admin2.page.once('dialog', (d) => {
      asked = d.message();
      void d.accept();
    });
    await row.getByRole('button', { name: 'Delete operator: Mia Novak' }).click();
    await expect.poll(() => admin2.page.getByRole('alert').textContent()).toContain('Operator Mia Novak deleted.');
    expect(asked).toContain('their open chats go back to the queue');
    await expect.poll(() => row.count()).toBe(0);
    // No delete button for oneself.
    expect(await admin2.page.locator(`tr[data-operator="${t.stack.admin.email}"] button`, { hasText: 'Delete' }).count()).toBe(0);
    await expect.poll(() => mia.page.getByRole('button', { name: 'Sign in' }).count(), { timeout: 10_000 }).toBe(1);
    await admin2.ctx.close();
    await mia.ctx.close();
  });
});
