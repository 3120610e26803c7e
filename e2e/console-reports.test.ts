/**
 * The Reports view (loaded on demand): a supervisor reads the week's numbers for the site, with
 * the charts and the weekday × hour heat-map drawn as SVG under the console's strict CSP, and
 * exports the CSV and the conversations behind it; the view's code is a chunk of its own, fetched only when the view opens.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cid, visitor } from './src/harness';
import { makeOperator, setStatus, signIn, useConsoleStack } from './console-stack';

const t = useConsoleStack();

describe('console reports', () => {
  it('shows the week with its heat-map, loaded only when opened, and exports it', async () => {
    await makeOperator(t.stack, { email: 'rita@example.com', name: 'Rita', role: 'supervisor' });
    const rita = await signIn(t.browser, t.stack.base, 'rita@example.com');
    const scripts: string[] = [];
    rita.page.on('request', (r) => {
      if (r.resourceType() === 'script') scripts.push(r.url());
    });
    await setStatus(rita.page, 'online');
    for (const text of ['first chat', 'second chat']) {
      const v = await visitor(t.stack.gw);
      await v.next('synced');
      v.send({ type: 'send', cid: cid(), text });
      await v.next('ack');
      v.close();
    }
    // Counted by the reports consumer (asked over three UTC days: "today" is the site zone's).
    const prev = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const next = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    await expect
      .poll(async () => (await t.stack.adminHttp.req<{ totals: { conversations: number } }>('GET', `/v1/reports?site=demo&from=${prev}&to=${next}`)).body.totals.conversations, { timeout: 15_000 })
      .toBe(2);
    expect(scripts.some((u) => /Reports-.*\.js$/.test(u))).toBe(false);
    await rita.page.getByRole('button', { name: 'Reports' }).click();
    await rita.page.locator('.report-table').waitFor();
    expect(scripts.some((u) => /Reports-.*\.js$/.test(u))).toBe(true);
    const conversations = rita.page.locator('.report-table tr[data-metric="conversations"] td').first();
    await expect.poll(() => conversations.textContent(), { timeout: 10_000 }).toBe('2');
    await rita.page.getByRole('img', { name: 'Incoming chats by weekday and hour' }).waitFor();
    expect(await rita.page.locator('svg.heat').first().locator('rect').count()).toBe(7 * 24);
    expect(await rita.page.getByRole('img', { name: 'Conversations per day' }).locator('rect').count()).toBe(7);
    const [download] = await Promise.all([rita.page.waitForEvent('download'), rita.page.getByRole('link', { name: 'Export CSV' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^hark-report-demo-site-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.csv$/);
    // The conversations behind it: the two chats, a line each after the header.
    const [list] = await Promise.all([rita.page.waitForEvent('download'), rita.page.getByRole('link', { name: 'Export conversations' }).click()]);
    expect(list.suggestedFilename()).toMatch(/^hark-conversations-demo-site-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.csv$/);
    const lines = readFileSync(await list.path(), 'utf8').trim().split('\n');
    expect(lines[0]).toMatch(/^conversation,started,status,/);
    expect(lines).toHaveLength(3);
    expect(await rita.csp()).toEqual([]);
    await rita.ctx.close();
  });
});
