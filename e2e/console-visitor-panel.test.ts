/**
 * The visitor panel and the Resolved search in real Chromium: the page the
 * visitor is on (live as they navigate), browser and OS, language, local time,
 * attributes, the verified badge, previous conversations; then finding the
 * resolved chat by the visitor's name or e-mail.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cid, visitor } from './src/harness';
import { makeOperator, setStatus, signIn, useConsoleStack } from './console-stack';

const t = useConsoleStack();

describe('visitor panel', () => {
  it('shows who the visitor is and where they are, live; resolved chats are found by name or e-mail', async () => {
    const { secret } = (await t.stack.adminHttp.req<{ secret: string }>('POST', '/v1/sites/demo/secret', {})).body;
    await makeOperator(t.stack, { email: 'ivo@example.com', name: 'Ivo' });
    const ivo = await signIn(t.browser, t.stack.base, 'ivo@example.com');
    await setStatus(ivo.page, 'online');

    // A signed-in shop customer (identity signed with the site's secret), with attributes, in Tokyo.
    const user = { id: 'cust-42', name: 'Mara Marić', email: 'mara@example.com', hash: createHmac('sha256', secret).update('cust-42').digest('hex') };
    const v = await visitor(t.stack.gw, {
      hello: {
        page: { url: `${t.stack.base}/shoes`, title: 'Red shoes', referrer: 'https://search.example/?q=shoes' },
        locale: 'hr-HR',
        tz: 'Asia/Tokyo',
        user,
        attrs: { plan: 'gold', orders: 7 },
      },
    });
    await v.next('synced');
    v.send({ type: 'send', cid: cid(), text: 'Do you have size 38?' });
    const { conv } = await v.next('ack');
    const row = ivo.page.locator(`.conv-row[data-conv="${conv}"]`);
    await row.click();
    const panel = ivo.page.getByRole('complementary', { name: 'Visitor' });
    await expect.poll(() => panel.textContent()).toContain('Mara Marić');
    const text = (await panel.textContent()) ?? '';
    expect(text).toContain('Verified');
    expect(text).toContain('mara@example.com');
    expect(text).toContain('Red shoes');
    expect(text).toContain('https://search.example/?q=shoes');
    expect(text).toContain('hr-HR');
    expect(text).toContain('Asia/Tokyo');
    expect(text).toContain('plan');
    expect(text).toContain('gold');
    expect(text).toMatch(/Chrome|Firefox|Safari|\?/);
    // Local time is the visitor's, not the operator's.
    const tokyo = new Intl.DateTimeFormat('en', { hour: '2-digit', minute: '2-digit', timeZone: 'Asia/Tokyo', timeZoneName: 'short' }).format(new Date());
    expect(text).toContain(tokyo.slice(0, 2));

    // The visitor navigates: the panel follows without a reload.
    v.send({ type: 'page', page: { url: `${t.stack.base}/checkout`, title: 'Checkout' } });
    await expect.poll(() => panel.getByTestId('visitor-page').textContent()).toContain('Checkout');

    // Resolve; the next conversation of the same visitor lists it as previous.
    await ivo.page.getByRole('button', { name: 'Resolve' }).click();
    await expect.poll(() => row.count()).toBe(0);
    v.send({ type: 'send', cid: cid(), text: 'One more question' });
    const second = await v.next('ack', (f) => f.conv !== conv, 5000, v.frames.length);
    await ivo.page.locator(`.conv-row[data-conv="${second.conv}"]`).click();
    await expect.poll(() => panel.locator('.previous li').count()).toBe(1);

    // Resolved view: search by name, then by e-mail; a non-matching query finds nothing.
    await ivo.page.locator('[data-view=resolved]').click();
    const search = ivo.page.getByRole('searchbox');
    for (const q of ['marić', 'MARA@example']) {
      await search.fill(q);
      await search.press('Enter');
      await expect.poll(() => ivo.page.locator(`.conv-row[data-conv="${conv}"]`).count()).toBe(1);
    }
    await search.fill('nobody-like-this');
    await search.press('Enter');
    await expect.poll(() => ivo.page.locator('.conv-list .conv-row').count()).toBe(0);
    v.close();
    await ivo.ctx.close();
  });
});
