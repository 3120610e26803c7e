/**
 * The site's greeting per language, from the console (#13 item 8) in real Chromium: Admin → Sites shows one field per
 * language under the one greeting (which shows through as the placeholder), saves what is filled, drops what is emptied.
 */
import { expect, it } from 'vitest';
import { signIn, useConsoleStack } from './console-stack';

const t = useConsoleStack();

it('sets a greeting for Croatian on an existing site, keeps the one greeting for the others, and clears it again', async () => {
  const admin = await signIn(t.browser, t.stack.base, t.stack.admin.email, t.stack.admin.password);
  const page = admin.page;
  const greetings = async () => (await t.stack.adminHttp.req<{ greeting: string; greetings: Record<string, string> }>('GET', '/v1/sites/demo')).body;
  const before = await greetings();
  expect(before.greetings).toEqual({});
  await page.getByRole('button', { name: 'Admin' }).click();
  await page.getByRole('tab', { name: 'Sites' }).click();
  const edit = () => page.locator('.site-card[data-site=demo]').getByRole('button', { name: 'Edit' }).click();
  await edit();
  const form = page.getByRole('form', { name: 'Edit site' });
  for (const l of ['en', 'hr', 'ru']) {
    const input = form.getByRole('textbox', { name: l, exact: true });
    expect(await input.inputValue()).toBe('');
    expect(await input.getAttribute('placeholder')).toBe(before.greeting);
  }
  await form.getByRole('textbox', { name: 'hr', exact: true }).fill('Bok! Kako vam možemo pomoći?');
  await form.getByRole('button', { name: 'Save' }).click();
  await expect.poll(() => page.getByRole('alert').textContent()).toContain('saved');
  await expect.poll(async () => (await greetings()).greetings).toEqual({ hr: 'Bok! Kako vam možemo pomoći?' });
  expect((await greetings()).greeting).toBe(before.greeting);

  // Emptied again: the language shows the one greeting.
  await edit();
  const again = page.getByRole('form', { name: 'Edit site' });
  expect(await again.getByRole('textbox', { name: 'hr', exact: true }).inputValue()).toBe('Bok! Kako vam možemo pomoći?');
  await again.getByRole('textbox', { name: 'hr', exact: true }).fill('');
  await again.getByRole('button', { name: 'Save' }).click();
  await expect.poll(async () => (await greetings()).greetings).toEqual({});
  await admin.ctx.close();
});
