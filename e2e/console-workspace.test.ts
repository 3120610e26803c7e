/**
 * The operator's day in real Chromium: two operators and two visitors at once.
 * Sign in; status changes steer routing; queue pickup; saved reply; internal
 * note that never reaches the widget; transfer with a note; resolve; the
 * visitor's rating shows up for the operator and in their numbers.
 */
import { describe, expect, it } from 'vitest';
import { makeOperator, openVisitor, rowWith, setStatus, signIn, useConsoleStack, visitorSays, widgetText } from './console-stack';

const t = useConsoleStack();

describe('console workspace', () => {
  it('routes by status, answers with a saved reply, keeps notes internal, transfers, resolves and shows the rating', async () => {
    await makeOperator(t.stack, { email: 'ana@example.com', name: 'Ana Horvat' });
    const boId = await makeOperator(t.stack, { email: 'bo@example.com', name: 'Bo Petrov' });
    const reply = await t.stack.adminHttp.req('POST', '/v1/replies', { shortcut: 'hello', text: 'Hello {name}, Ana here. How can I help?', site: 'demo' });
    expect(reply.status).toBe(201);
    // Without the offline form, a visitor who finds nobody available chats anyway and waits in the queue.
    expect((await t.stack.adminHttp.req('PATCH', '/v1/sites/demo', { offlineForm: false })).status).toBe(200);

    const ana = await signIn(t.browser, t.stack.base, 'ana@example.com');
    const bo = await signIn(t.browser, t.stack.base, 'bo@example.com');
    // 1. Ana online, Bo away: a new chat must go to Ana.
    await setStatus(ana.page, 'online');
    await setStatus(bo.page, 'away');

    const v1 = await openVisitor(t.browser, t.stack.base);
    await visitorSays(v1.page, 'Hi, where is my parcel?');
    await rowWith(ana.page, 'where is my parcel').click();
    await expect.poll(() => ana.page.locator('.conversation .entry.msg.in').first().textContent()).toContain('where is my parcel');
    expect(await bo.page.locator('.conv-row', { hasText: 'where is my parcel' }).count()).toBe(0);
    const conv1 = await ana.page.locator('.conv-row.selected').getAttribute('data-conv');

    // The visitor typing shows live in the console.
    await v1.page.locator('hark-chat textarea').pressSequentially('it was due on Mon');
    await expect.poll(() => ana.page.getByTestId('typing').textContent()).toContain('is typing');
    await v1.page.locator('hark-chat textarea').fill('');

    // 2. Saved reply: "/hel" offers it, Enter inserts it (placeholder dropped: no name yet), editable, Enter sends.
    const composer = ana.page.locator('#composer');
    await composer.click();
    await composer.pressSequentially('/hel');
    await expect.poll(() => ana.page.locator('.reply-menu').textContent()).toContain('/hello');
    await composer.press('Enter');
    await expect.poll(() => composer.inputValue()).toBe('Hello, Ana here. How can I help?');
    await composer.press('End');
    await composer.pressSequentially(' :)');
    await composer.press('Enter');
    await expect.poll(() => widgetText(v1.page)).toContain('Hello, Ana here. How can I help? :)');
    await expect.poll(() => widgetText(v1.page)).toContain('Ana Horvat');

    // 3. An internal note: styled as a note for operators, never in the widget.
    await ana.page.getByRole('radio', { name: 'Internal note' }).check();
    await composer.fill('NOTE-7f3: customer is a VIP');
    await composer.press('Enter');
    await expect.poll(() => ana.page.locator('.entry.note').last().textContent()).toContain('NOTE-7f3');
    expect(await ana.page.locator('.entry.note .note-tag').last().textContent()).toMatch(/only operators/);

    // 4. Empty replies are rejected in the UI.
    await ana.page.getByRole('radio', { name: 'Reply' }).check();
    await composer.fill('   ');
    await composer.press('Enter');
    await expect.poll(() => ana.page.locator('.composer [role=alert]').textContent()).toBe('Type something first.');

    // 5. Transfer to Bo with a note; Bo gets it in Mine and reads the note.
    await ana.page.getByRole('button', { name: 'Transfer' }).click();
    const form = ana.page.getByRole('form', { name: 'Transfer' });
    await form.getByRole('combobox').selectOption(`op:${boId}`);
    await form.getByRole('textbox').fill('TRANSFER-NOTE: he wants a refund');
    await form.getByRole('button', { name: 'Transfer' }).click();
    await bo.page.locator('[data-view=mine]').click();
    await bo.page.locator(`.conv-row[data-conv="${conv1}"]`).click();
    await expect.poll(() => bo.page.locator('.conversation').textContent()).toContain('TRANSFER-NOTE: he wants a refund');
    await expect.poll(() => bo.page.locator('.conversation').textContent()).toContain('NOTE-7f3');

    // The visitor has now received several operator messages and events; no note text among them.
    await bo.page.locator('#composer').fill('Bo here, taking over.');
    await bo.page.locator('#composer').press('Enter');
    await expect.poll(() => widgetText(v1.page)).toContain('Bo here, taking over.');
    const seen = await widgetText(v1.page);
    expect(seen).not.toContain('NOTE-7f3');
    expect(seen).not.toContain('TRANSFER-NOTE');

    // 6. Queue pickup: with both away, a second visitor waits in the queue; Ana takes it.
    await setStatus(ana.page, 'away');
    const v2 = await openVisitor(t.browser, t.stack.base);
    await visitorSays(v2.page, 'Second visitor needs help');
    await ana.page.locator('[data-view=queue]').click();
    const queued = rowWith(ana.page, 'Second visitor needs help');
    await expect.poll(() => queued.getAttribute('data-status')).toBe('queued');
    // The waiting-time counter is live.
    const first = await queued.getByTestId('wait').textContent();
    await expect.poll(() => queued.getByTestId('wait').textContent(), { timeout: 5000 }).not.toBe(first);
    await queued.click();
    await ana.page.getByRole('button', { name: 'Take' }).click();
    await ana.page.locator('[data-view=mine]').click();
    await expect.poll(() => rowWith(ana.page, 'Second visitor needs help').getAttribute('data-status')).toBe('open');
    await expect.poll(() => widgetText(v2.page)).toContain('Ana Horvat');

    // 7. Bo resolves the first chat; the visitor rates it; Bo sees the rating and his numbers.
    await bo.page.getByRole('button', { name: 'Resolve' }).click();
    await v1.page.locator('hark-chat').getByRole('button', { name: 'Good' }).click();
    await v1.page.locator('hark-chat textarea[name=comment]').fill('Quick and kind');
    await v1.page.locator('hark-chat form.fm button[type=submit]').click();
    await expect.poll(() => bo.page.getByTestId('rating').textContent(), { timeout: 10_000 }).toContain('Quick and kind');
    await bo.page.getByRole('button', { name: 'My numbers' }).click();
    const today = bo.page.locator('tr[data-period=today]');
    // The numbers come from the event log's stats consumer, a moment after the events; the view stays current.
    await expect.poll(() => today.locator('[data-stat=handled]').textContent(), { timeout: 10_000 }).toBe('1');
    await expect.poll(() => today.locator('[data-stat=ratings]').textContent(), { timeout: 10_000 }).toContain('Good 1');
    expect(await bo.page.locator('.ratings').textContent()).toContain('Quick and kind');

    // Nothing in all of this broke the console's strict CSP.
    expect(await ana.csp()).toEqual([]);
    expect(await bo.csp()).toEqual([]);
    for (const c of [ana.ctx, bo.ctx, v1.ctx, v2.ctx]) await c.close();
  });
});
