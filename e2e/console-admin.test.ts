/**
 * Admin screens in real Chromium, and the trust boundaries they set up: an
 * admin creates a site (snippet, identity secret shown once) and an operator;
 * the operator adds a personal saved reply; a deactivated operator cannot sign
 * in; an operator of site A never sees site B's conversations (socket or REST).
 */
import { describe, expect, it } from 'vitest';
import { visitor } from './src/harness';
import { PASSWORD, makeOperator, signIn, useConsoleStack } from './console-stack';

const t = useConsoleStack();

describe('admin', () => {
  it('creates a site and an operator from the console; the operator adds a saved reply; deactivation locks them out', async () => {
    const admin = await signIn(t.browser, t.stack.base, t.stack.admin.email, t.stack.admin.password);
    const page = admin.page;
    await page.getByRole('button', { name: 'Admin' }).click();

    // 1. A site: name, origins, threshold; then its snippet and a secret shown once.
    await page.getByRole('tab', { name: 'Sites' }).click();
    await page.getByRole('button', { name: 'New site' }).click();
    const siteForm = page.getByRole('form', { name: 'New site' });
    await siteForm.locator('input[name=name]').fill('Garden shop');
    await siteForm.locator('textarea[name=origins]').fill('https://garden.example\nnot-an-origin');
    await siteForm.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => siteForm.getByRole('alert').textContent()).toContain('not-an-origin');
    await siteForm.locator('textarea[name=origins]').fill('https://garden.example');
    await siteForm.locator('input[name=threshold]').fill('45');
    await siteForm.getByRole('button', { name: 'Save' }).click();
    const card = page.locator('.site-card', { hasText: 'Garden shop' });
    await card.waitFor();
    const siteId = (await card.getAttribute('data-site')) as string;
    expect(await card.locator('input.mono').first().inputValue()).toBe(`<script async src="${t.stack.base}/widget.js" data-site="${siteId}"></script>`);
    const sites = (await t.stack.adminHttp.req<{ id: string; origins: string[]; unansweredMs: number }[]>('GET', '/v1/sites')).body;
    expect(sites.find((s) => s.id === siteId)).toMatchObject({ origins: ['https://garden.example'], unansweredMs: 45_000 });
    page.once('dialog', (d) => void d.accept());
    await card.getByRole('button', { name: /secret/i }).click();
    const secret = await card.getByTestId('secret').inputValue();
    expect(secret.length).toBeGreaterThanOrEqual(32);
    await card.getByRole('button', { name: 'Close' }).click();
    await page.reload();
    await page.getByRole('button', { name: 'Admin' }).click();
    await page.getByRole('tab', { name: 'Sites' }).click();
    await expect.poll(() => page.locator('.site-card', { hasText: 'Garden shop' }).textContent()).toContain('Identity verification: on');
    expect(await page.content()).not.toContain(secret);

    // 2. An operator on both sites.
    await page.getByRole('tab', { name: 'Operators' }).click();
    await page.getByRole('button', { name: 'New operator' }).click();
    const opForm = page.getByRole('form', { name: 'New operator' });
    await opForm.locator('input[name=name]').fill('Lea Kovač');
    await opForm.locator('input[name=email]').fill('lea@example.com');
    await opForm.locator('input[name=password]').fill(PASSWORD);
    await opForm.locator('input[name=capacity]').fill('5');
    // An avatar picture is shrunk in the browser to a small data URL (a 1×1 PNG here) and uploaded as one.
    const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
    await opForm.locator('input[type=file]').setInputFiles({ name: 'lea.png', mimeType: 'image/png', buffer: png });
    await expect.poll(() => opForm.locator('img.avatar').getAttribute('src')).toMatch(/^data:image\/jpeg;base64,/);
    await opForm.locator('input[name=site-demo]').check();
    await opForm.locator(`input[name=site-${siteId}]`).check();
    await opForm.getByRole('button', { name: 'Save' }).click();
    const row = page.locator('tr[data-operator="lea@example.com"]');
    await expect.poll(() => row.textContent()).toContain('Lea Kovač');
    expect(await row.textContent()).toContain('Garden shop');
    // Saved, the gateway stores it as an image and the record names it by URL (served at /v1/avatars/…).
    expect(await row.locator('img.avatar').getAttribute('src')).toMatch(/^\/v1\/avatars\/[A-Za-z0-9_-]+\/[0-9a-f]{16}\.jpeg$/);
    await expect.poll(() => row.locator('img.avatar').evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth)).toBe(96);

    // 3. Lea signs in and adds a personal saved reply.
    const lea = await signIn(t.browser, t.stack.base, 'lea@example.com');
    await lea.page.getByRole('button', { name: 'Saved replies' }).click();
    await lea.page.getByRole('button', { name: 'New saved reply' }).click();
    await lea.page.locator('input[name=shortcut]').fill('thanks');
    await lea.page.locator('textarea[name=text]').fill('Thank you, {name}!');
    await lea.page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(() => lea.page.locator('tr[data-reply=thanks]').textContent()).toContain('Thank you, {name}!');
    expect((await t.stack.adminHttp.req<{ shortcut: string }[]>('GET', '/v1/replies')).body.map((r) => r.shortcut)).not.toContain('thanks');

    // 4. Deactivated: her open console is signed out and she cannot sign in again.
    await row.getByRole('button', { name: 'Edit' }).click();
    const edit = page.getByRole('form', { name: 'Edit operator' });
    await edit.locator('input[name=active]').uncheck();
    await edit.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => row.textContent()).toContain('deactivated');
    await expect.poll(() => lea.page.getByRole('button', { name: 'Sign in' }).count(), { timeout: 15_000 }).toBe(1);
    await lea.page.getByLabel('E-mail').fill('lea@example.com');
    await lea.page.getByLabel('Password').fill(PASSWORD);
    await lea.page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => lea.page.getByRole('alert').textContent()).toBe('This account is deactivated; ask an admin.');
    await admin.ctx.close();
    await lea.ctx.close();
  });

  it('changing the password ends the other sessions', async () => {
    await makeOperator(t.stack, { email: 'max@example.com', name: 'Max' });
    const here = await signIn(t.browser, t.stack.base, 'max@example.com');
    const there = await signIn(t.browser, t.stack.base, 'max@example.com');
    await here.page.getByRole('button', { name: 'Account' }).click();
    const form = here.page.getByRole('form', { name: 'Change password' });
    await form.locator('input[name=current]').fill(PASSWORD);
    await form.locator('input[name=next]').fill('a brand new password');
    await form.locator('input[name=again]').fill('a brand new password');
    await form.getByRole('button', { name: 'Change password' }).click();
    await expect.poll(() => form.getByRole('alert').textContent()).toContain('Password changed');
    // The other console is signed out; this one keeps working.
    await expect.poll(() => there.page.getByRole('button', { name: 'Sign in' }).count(), { timeout: 15_000 }).toBe(1);
    await here.page.reload();
    await expect.poll(() => here.page.getByTestId('connection').textContent()).toBe('Live');
    await there.page.getByLabel('E-mail').fill('max@example.com');
    await there.page.getByLabel('Password').fill('a brand new password');
    await there.page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => there.page.getByTestId('connection').textContent()).toBe('Live');
    await here.ctx.close();
    await there.ctx.close();
  });

  it("never shows an operator of site A the conversations of site B, on the socket or over REST", async () => {
    const b = await t.stack.adminHttp.req<{ id: string }>('POST', '/v1/sites', { name: 'Site B', origins: ['self'], offlineForm: false });
    expect(b.status).toBe(201);
    await makeOperator(t.stack, { email: 'amy@example.com', name: 'Amy A', sites: ['demo'] });
    await makeOperator(t.stack, { email: 'ben@example.com', name: 'Ben B', sites: [b.body.id] });
    const amy = await signIn(t.browser, t.stack.base, 'amy@example.com');
    const ben = await signIn(t.browser, t.stack.base, 'ben@example.com');

    // A visitor of site B writes (a socket client is enough: the widget is not under test here).
    const vb = await visitor(t.stack.gw, { site: b.body.id });
    await vb.next('synced');
    vb.send({ type: 'send', cid: 'site-b-msg-0001', text: 'SECRET-B: my card was charged twice' });
    const ack = await vb.next('ack');
    await expect.poll(() => ben.page.locator('.conv-row', { hasText: 'SECRET-B' }).count()).toBe(1);

    // Amy's console (socket state and screen) has no trace of it, and REST refuses it.
    await amy.page.reload();
    await expect.poll(() => amy.page.getByTestId('connection').textContent()).toBe('Live');
    for (const view of ['mine', 'queue', 'resolved']) {
      await amy.page.locator(`[data-view=${view}]`).click();
      expect(await amy.page.locator('.inbox').textContent()).not.toContain('SECRET-B');
    }
    const rest = await amy.page.evaluate(
      async ({ conv, site }) => {
        const one = await fetch(`/v1/conversations/${conv}`);
        const list = await fetch(`/v1/conversations?site=${site}`).then((r) => r.text());
        const all = await fetch('/v1/conversations').then((r) => r.text());
        return { one: one.status, list, all };
      },
      { conv: ack.conv, site: b.body.id },
    );
    expect(rest.one).toBe(404);
    expect(rest.all).not.toContain(ack.conv);
    expect(rest.list).not.toContain(ack.conv);
    vb.close();
    await amy.ctx.close();
    await ben.ctx.close();
  });
});
