/**
 * The widget when nobody answers yet, in real Chromium against the real gateway:
 * the leave-a-message form (validated) creates a conversation the operators find in
 * their queue; the optional pre-chat form; the waiting state with a queue position
 * that updates live, until an operator comes online and is assigned; outside the site's
 * business hours the form shows even with an operator online.
 * The tests run in order; between the first and the last, no operator is online.
 */
import type { ConvSummary } from '@hark/shared/protocol';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fixtures, openChat, openPage, say, startFixtures, widget } from './src/fixtures';
import { createOp, launchBrowser, type OperatorClient, operator, type Stack, startStack } from './src/harness';

let stack: Stack;
let browser: Browser;
let fx: Fixtures;
let ana: Awaited<ReturnType<typeof createOp>>;
let op: OperatorClient | undefined;

beforeAll(async () => {
  stack = await startStack();
  browser = await launchBrowser();
  fx = await startFixtures(stack);
  // Ana exists (and signed in) but has no console open: nobody is available.
  ana = await createOp(stack.adminHttp, { email: 'ana@example.com', name: 'Ana Kovač', capacity: 1 });
});
afterAll(async () => {
  op?.close();
  await browser?.close();
  await fx?.close();
  await stack?.close();
});

const site = (patch: object) => stack.adminHttp.req('PATCH', '/v1/sites/demo', patch).then((r) => expect(r.status).toBe(200));
const queued = () => stack.adminHttp.req<ConvSummary[]>('GET', '/v1/conversations?status=queued').then((r) => r.body);
const status = (p: Page) => widget(p).locator('.ls [role=status]');

describe('widget while nobody answers', () => {
  it('waiting: the queue position updates live; an operator coming online is assigned', async () => {
    // The leave-a-message form is off, so with nobody online visitors queue.
    await site({ offlineForm: false });
    const c1 = await browser.newContext();
    const v1 = await openPage(c1, fx.page('wait-1'));
    await say(v1, 'First in line');
    await expect.poll(() => status(v1).textContent(), { timeout: 10_000 }).toBe('Waiting for an operator. You are next.');
    expect(await widget(v1).getByText('We are away right now').count()).toBe(1);
    const c2 = await browser.newContext();
    const v2 = await openPage(c2, fx.page('wait-2'));
    await say(v2, 'Second in line');
    await expect.poll(() => status(v2).textContent(), { timeout: 10_000 }).toBe('Waiting for an operator. 1 person ahead of you.');
    const c3 = await browser.newContext();
    const v3 = await openPage(c3, fx.page('wait-3'));
    await say(v3, 'Third in line');
    await expect.poll(() => status(v3).textContent(), { timeout: 10_000 }).toBe('Waiting for an operator. 2 people ahead of you.');
    expect((await queued()).map((c) => [c.last?.text, c.position])).toEqual([
      ['First in line', 1],
      ['Second in line', 2],
      ['Third in line', 3],
    ]);

    // 1. Ana opens the console (capacity 1): the first visitor gets her; the others move up, live.
    op = await operator(stack.gw, ana.http);
    await widget(v1).getByText('Ana Kovač joined the chat').waitFor({ timeout: 10_000 });
    expect(await status(v1).count()).toBe(0);
    expect(await widget(v1).locator('.hd h2').textContent()).toBe('Ana Kovač');
    await expect.poll(() => status(v2).textContent(), { timeout: 10_000 }).toBe('Waiting for an operator. You are next.');
    await expect.poll(() => status(v3).textContent(), { timeout: 10_000 }).toBe('Waiting for an operator. 1 person ahead of you.');

    // 2. Ana resolves the first chat: the next visitor is hers.
    const conv = (await op.next('conv', (f) => f.conv.last?.text === 'First in line' && f.conv.status === 'open', 10_000)).conv.id;
    op.send({ type: 'resolve', conv });
    await widget(v2).getByText('Ana Kovač joined the chat').waitFor({ timeout: 10_000 });
    await expect.poll(() => status(v3).textContent(), { timeout: 10_000 }).toBe('Waiting for an operator. You are next.');

    // Ana signs off for the tests below: nobody is available again.
    op.send({ type: 'status', status: 'offline' });
    await op.next('status', (f) => f.status === 'offline');
    op.close();
    op = undefined;
    await site({ offlineForm: true });
    for (const c of [c1, c2, c3]) await c.close();
  });

  it('nobody available: a validated leave-a-message form creates a conversation in the queue', async () => {
    const ctx = await browser.newContext();
    const p = await openPage(ctx, fx.page('offline-form'));
    await p.locator('hark-chat .lc').click();
    const w = widget(p);
    await w.getByRole('heading', { name: 'Leave us a message' }).waitFor({ timeout: 10_000 });
    expect(await w.getByRole('textbox', { name: 'Message', exact: true }).count()).toBe(1);
    const send = w.getByRole('button', { name: 'Send message' });

    // 1. Empty: both fields are refused, next to the fields, and marked invalid.
    await send.click();
    await w.getByText('Write a message.').waitFor();
    await w.getByText('Enter a valid e-mail address.').waitFor();
    expect(await w.locator('[aria-invalid=true]').count()).toBe(2);
    // 2. A message but a malformed e-mail: still refused, nothing reached the server.
    await w.locator('textarea[name=text]').fill('Do you deliver to Split on Sundays?');
    await w.locator('input[name=email]').fill('mia@');
    await send.click();
    await w.getByText('Enter a valid e-mail address.').waitFor();
    expect(await w.getByText('Write a message.').count()).toBe(0);
    expect((await queued()).some((c) => c.visitor.email === 'mia@example.com')).toBe(false);
    // 3. Valid: a thank-you naming the address, and a conversation in the operators' queue.
    await w.locator('input[name=email]').fill('mia@example.com');
    await send.click();
    await w.getByText('Thank you! We will reply to mia@example.com.').waitFor({ timeout: 10_000 });
    const mine = async () => (await queued()).find((c) => c.visitor.email === 'mia@example.com');
    await expect.poll(async () => [(await mine())?.last?.text, (await mine())?.status], { timeout: 10_000 }).toEqual(['Do you deliver to Split on Sundays?', 'queued']);
    const conv = (await mine()) as ConvSummary;
    const full = await stack.adminHttp.req<{ entries: { kind: string; event?: string; email?: string }[] }>('GET', `/v1/conversations/${conv.id}`);
    expect(full.body.entries.some((e) => e.event === 'offline-message' && e.email === 'mia@example.com')).toBe(true);
    // 4. Back later: the message is there, waiting, not the form again.
    await p.reload();
    await openChat(p);
    await w.getByText('Do you deliver to Split on Sundays?').waitFor({ timeout: 10_000 });
    expect(await w.getByRole('heading', { name: 'Leave us a message' }).count()).toBe(0);
    await ctx.close();
  });

  it('pre-chat form: name and e-mail before the first message, and the operators see them', async () => {
    await site({ prechat: true, offlineForm: false });
    const ctx = await browser.newContext();
    const p = await openPage(ctx, fx.page('prechat'));
    await p.locator('hark-chat .lc').click();
    const w = widget(p);
    await w.getByRole('heading', { name: 'Before we start' }).waitFor({ timeout: 10_000 });
    expect(await w.getByRole('textbox', { name: 'Message' }).count()).toBe(0);
    await w.getByRole('button', { name: 'Start chat' }).click();
    await w.getByText('Enter your name.').waitFor();
    await w.getByRole('textbox', { name: 'Your name' }).fill('Ivo Ivić');
    await w.getByRole('textbox', { name: 'Your e-mail' }).fill('ivo@example.com');
    await w.getByRole('button', { name: 'Start chat' }).click();
    await say(p, 'Hello, is the blue one in stock?');
    await expect
      .poll(async () => (await queued()).find((c) => c.last?.text === 'Hello, is the blue one in stock?')?.visitor, { timeout: 10_000 })
      .toMatchObject({ name: 'Ivo Ivić', email: 'ivo@example.com' });
    // A reload does not ask again.
    await p.reload();
    await openChat(p);
    expect(await w.getByRole('heading', { name: 'Before we start' }).count()).toBe(0);
    await ctx.close();
    await site({ prechat: false });
  });

  it('outside business hours the form shows even with an operator online; inside, the chat', async () => {
    op = await operator(stack.gw, ana.http);
    op.send({ type: 'status', status: 'online' });
    await op.next('status', (f) => f.status === 'online');
    // Open only on a day that is not today.
    const now = new Date();
    await site({ offlineForm: true, hours: { tz: 'UTC', days: { [String((now.getUTCDay() + 3) % 7)]: [['09:00', '17:00']] } } });
    // A visitor in Tokyo (UTC+9, no daylight saving): 09:00 UTC that day is 18:00 there.
    const ctx = await browser.newContext({ timezoneId: 'Asia/Tokyo' });
    const p = await openPage(ctx, fx.page('closed'));
    await p.locator('hark-chat .lc').click();
    await widget(p).getByRole('heading', { name: 'Leave us a message' }).waitFor({ timeout: 10_000 });
    expect(await widget(p).getByText('We are away right now').count()).toBe(1);
    const opens = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 3, 9);
    const weekday = new Date(opens).toLocaleDateString('en', { weekday: 'long', timeZone: 'Asia/Tokyo' });
    await widget(p).getByText(`We are back on ${weekday} at 6:00 PM (your time).`, { exact: true }).waitFor({ timeout: 10_000 });
    // In Croatian and Russian: the 24-hour clock, the weekday in the language.
    const wd = (l: string) => new Date(opens).toLocaleDateString(l, { weekday: 'long', timeZone: 'Asia/Tokyo' });
    for (const [l, text] of [
      ['hr', `Vraćamo se: ${wd('hr')} u 18:00 (po vašem vremenu).`],
      ['ru', `Вернёмся: ${wd('ru')}, 18:00 (по вашему времени).`],
    ] as const) {
      const pl = await openPage(ctx, fx.page(`closed-${l}`, { tag: `<script async src="${stack.base}/widget.js" data-site="demo" data-lang="${l}"></script>` }));
      await pl.locator('hark-chat .lc').click();
      await widget(pl).getByText(text, { exact: true }).waitFor({ timeout: 10_000 });
    }
    await ctx.close();

    // Opening later today (in the visitor's zone): the time alone. The hour after next, in UTC, in a zone where it is still the visitor's today.
    const at = new Date(Math.ceil(Date.now() / 3_600_000) * 3_600_000 + 3_600_000);
    const hh = (h: number) => `${String(h).padStart(2, '0')}:00`;
    await site({ hours: { tz: 'UTC', days: { [String(at.getUTCDay())]: [[hh(at.getUTCHours()), hh(at.getUTCHours() + 1)]] } } });
    const day = (t: Date, timeZone: string) => t.toLocaleDateString('en', { timeZone });
    const zone = ['UTC', 'Pacific/Pago_Pago', 'Pacific/Kiritimati'].find((z) => day(new Date(), z) === day(at, z)) as string;
    const ctx3 = await browser.newContext({ timezoneId: zone });
    const p3 = await openPage(ctx3, fx.page('closed-today'));
    await p3.locator('hark-chat .lc').click();
    const time = at.toLocaleTimeString('en', { hour: 'numeric', minute: '2-digit', timeZone: zone });
    await widget(p3).getByText(`We are back at ${time} (your time).`, { exact: true }).waitFor({ timeout: 10_000 });
    await ctx3.close();

    // Closed every day: the form says nothing of when.
    await site({ hours: { tz: 'UTC', days: { 1: [] } } });
    const ctx4 = await browser.newContext();
    const p4 = await openPage(ctx4, fx.page('closed-always'));
    await p4.locator('hark-chat .lc').click();
    await widget(p4).getByRole('heading', { name: 'Leave us a message' }).waitFor({ timeout: 10_000 });
    await p4.waitForTimeout(1_000);
    expect(await widget(p4).getByText('We are back').count()).toBe(0);
    await ctx4.close();
    // Back to always open: a new visitor gets the chat with Ana online.
    await site({ hours: null });
    const ctx2 = await browser.newContext();
    const p2 = await openPage(ctx2, fx.page('open-hours'));
    await openChat(p2);
    await widget(p2).getByText('We reply in a few minutes').waitFor({ timeout: 10_000 });
    expect(await widget(p2).getByRole('heading', { name: 'Leave us a message' }).count()).toBe(0);
    await ctx2.close();
  });

  it('greets the visitor in the chat\'s language when the site has a greeting for it, else with its one greeting', async () => {
    await site({ greetings: { hr: 'Bok! Pitajte nas bilo što o trgovini.' } });
    const ctx = await browser.newContext();
    const tag = (l: string) => `<script async src="${stack.base}/widget.js" data-site="demo" data-lang="${l}"></script>`;
    const hr = await openPage(ctx, fx.page('greet-hr', { tag: tag('hr') }));
    await hr.locator('hark-chat .lc').click();
    await widget(hr).getByText('Bok! Pitajte nas bilo što o trgovini.', { exact: true }).waitFor({ timeout: 10_000 });
    expect(await widget(hr).getByText('Hi! Ask us anything about the demo shop.').count()).toBe(0);
    // Russian has none: the site's one greeting.
    const ru = await openPage(ctx, fx.page('greet-ru', { tag: tag('ru') }));
    await ru.locator('hark-chat .lc').click();
    await widget(ru).getByText('Hi! Ask us anything about the demo shop.', { exact: true }).waitFor({ timeout: 10_000 });
    await ctx.close();
    await site({ greetings: {} });
  });

});
