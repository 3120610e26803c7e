/**
 * The console's search box (Inbox.tsx) over the index the event log keeps (domain/search.ts): an
 * operator finds a conversation by words from its middle, typed without diacritics and the last
 * one unfinished; the hit shows the words marked; opening it scrolls the conversation to that
 * message, marked, although newer messages followed it; the team and date-range filters narrow it.
 */
import { describe, expect, it } from 'vitest';
import { K } from '../server/src/store/keys';
import { cid, visitor } from './src/harness';
import { makeOperator, setStatus, signIn, useConsoleStack } from './console-stack';

const t = useConsoleStack();

describe('console search', () => {
  it('finds a conversation by a word from its middle and opens it at that message', async () => {
    await makeOperator(t.stack, { email: 'iva@example.com', name: 'Iva' });
    const iva = await signIn(t.browser, t.stack.base, 'iva@example.com');
    await setStatus(iva.page, 'online');
    const v = await visitor(t.stack.gw);
    await v.next('synced');
    const said = 'Dobar dan, moj kofer 7781 stigao je oštećen.';
    v.send({ type: 'send', cid: cid(), text: said });
    const { conv, id } = await v.next('ack');
    await iva.page.locator(`.conv-row[data-conv="${conv}"]`).waitFor();
    // Many newer messages after it (written straight into the stream): the one found is far above the latest.
    const p = t.stack.gw.conns.cmd.pipeline();
    for (let i = 1; i <= 80; i++) p.xadd(K.convStream(conv), '*', 'd', JSON.stringify({ at: Date.now(), kind: 'msg', from: i % 2 ? 'visitor' : 'operator', text: `later line ${i}`, cid: `fill${String(i).padStart(8, '0')}` }));
    await p.exec();
    await expect.poll(async () => (await t.stack.adminHttp.req<{ results: unknown[] }>('GET', '/v1/search?q=kofer')).body.results.length, { timeout: 10_000 }).toBe(1);

    await iva.page.reload();
    await expect.poll(() => iva.page.getByTestId('connection').textContent(), { timeout: 10_000 }).toBe('Live');
    const box = iva.page.getByRole('searchbox', { name: 'Search messages, notes, visitors…' });
    await box.fill('OSTECEN kof');
    const hit = iva.page.locator(`.search-results .conv-row[data-conv="${conv}"]`);
    await hit.waitFor();
    expect(await hit.getAttribute('data-entry')).toBe(id);
    expect(await hit.locator('mark').allTextContents()).toEqual(['kofer', 'oštećen']);
    await hit.click();
    const jumped = iva.page.locator(`.conversation .entry.jumped[data-id="${id}"]`);
    await jumped.waitFor();
    expect(await jumped.locator('.text').textContent()).toBe(said);
    const visible = await iva.page.locator('.conversation .entries').evaluate((el, want) => {
      const box = el.getBoundingClientRect();
      const r = el.querySelector(`[data-id="${want}"]`)?.getBoundingClientRect();
      return !!r && r.bottom > box.top && r.top < box.bottom;
    }, id);
    expect(visible).toBe(true);
    // Nothing matches: said so; Escape clears the box and brings the inbox back.
    await box.fill('zzzqqq');
    await iva.page.getByText('Nothing matches.').waitFor();
    await box.press('Escape');
    await iva.page.locator('.views').waitFor();
    expect(await iva.csp()).toEqual([]);
    v.close();
    await iva.ctx.close();
  });

  it('offers saved replies that fit the visitor’s message; Alt+1 inserts the first to edit', async () => {
    for (const [shortcut, text] of [
      ['password', 'To reset your password, open the sign-in page and choose "Forgot password".'],
      ['refund', 'Refunds reach your card within 5 working days.'],
    ]) expect((await t.stack.adminHttp.req('POST', '/v1/replies', { shortcut, text, site: 'demo' })).status).toBe(201);
    await makeOperator(t.stack, { email: 'ema@example.com', name: 'Ema' });
    const ema = await signIn(t.browser, t.stack.base, 'ema@example.com');
    await setStatus(ema.page, 'online');
    // Iva (the first test's operator) may still count as online, with one open chat: the least loaded, Ema, gets this one.
    const v = await visitor(t.stack.gw);
    await v.next('synced');
    v.send({ type: 'send', cid: cid(), text: 'Hello, I forgot my password' });
    const { conv } = await v.next('ack');
    await ema.page.reload();
    await expect.poll(() => ema.page.getByTestId('connection').textContent(), { timeout: 10_000 }).toBe('Live');
    await ema.page.locator(`.conv-row[data-conv="${conv}"]`).click();
    const first = ema.page.locator('.suggested button').first();
    await first.waitFor();
    expect(await first.getAttribute('data-shortcut')).toBe('password');
    await ema.page.locator('#composer').focus();
    await ema.page.keyboard.press('Alt+1');
    await expect.poll(() => ema.page.locator('#composer').inputValue()).toBe('To reset your password, open the sign-in page and choose "Forgot password".');
    expect(await ema.csp()).toEqual([]);
    v.close();
    await ema.ctx.close();
  });
  it('narrows the results by team and by the days the conversation started', async () => {
    const team = await t.stack.adminHttp.req<{ id: string }>('POST', '/v1/teams', { name: 'Returns', sites: ['demo'] });
    expect(team.status).toBe(201);
    await makeOperator(t.stack, { email: 'noa@example.com', name: 'Noa', role: 'supervisor', teams: [team.body.id] });
    const v = await visitor(t.stack.gw);
    await v.next('synced');
    v.send({ type: 'send', cid: cid(), text: 'Paket 9931 je vraćen pošiljatelju.' });
    const { conv } = await v.next('ack');
    await expect.poll(async () => (await t.stack.adminHttp.req<{ results: unknown[] }>('GET', '/v1/search?q=vracen')).body.results.length, { timeout: 10_000 }).toBe(1);
    const noa = await signIn(t.browser, t.stack.base, 'noa@example.com');
    const page = noa.page;
    await page.getByRole('searchbox', { name: 'Search messages, notes, visitors…' }).fill('vracen');
    const hit = page.locator(`.search-results .conv-row[data-conv="${conv}"]`);
    await hit.waitFor();
    const day = (offset: number) => {
      const d = new Date(Date.now() + offset * 86_400_000);
      return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
    };
    const from = page.getByLabel('Started from');
    const to = page.getByLabel('to', { exact: true });
    const asked = () => page.waitForRequest((r) => r.url().includes('/v1/search?'));
    // Started from tomorrow: not this one.
    let req = asked();
    await from.fill(day(1));
    expect(new URL((await req).url()).searchParams.get('from')).toBe(String(new Date(`${day(1)}T00:00:00`).getTime()));
    await page.getByText('Nothing matches.').waitFor();
    // Today only (to: the start of the next day).
    req = asked();
    await from.fill(day(0));
    await req;
    req = asked();
    await to.fill(day(0));
    expect(new URL((await req).url()).searchParams.get('to')).toBe(String(new Date(`${day(1)}T00:00:00`).getTime()));
    await hit.waitFor();
    // Up to yesterday, from any day: not this one.
    req = asked();
    await from.fill('');
    await req;
    req = asked();
    await to.fill(day(-1));
    await req;
    await page.getByText('Nothing matches.').waitFor();
    await to.fill('');
    await hit.waitFor();
    // A team: this conversation was routed to none.
    const teamBox = page.getByRole('combobox', { name: 'Team' });
    req = asked();
    await teamBox.selectOption({ label: 'Returns' });
    expect(new URL((await req).url()).searchParams.get('team')).toBe(team.body.id);
    await page.getByText('Nothing matches.').waitFor();
    await teamBox.selectOption({ label: 'Any team' });
    await hit.waitFor();
    expect(await noa.csp()).toEqual([]);
    v.close();
    await noa.ctx.close();
  });
});
