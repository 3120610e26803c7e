/**
 * Deep links (#13 item 5) in real Chromium: each view and conversation has its own URL
 * under /console/, a reload keeps the open chat (a resolved one too), back and forward walk
 * what was on screen, and the gateway answers a deep URL with the console itself.
 */
import { describe, expect, it } from 'vitest';
import { makeOperator, openVisitor, rowWith, setStatus, signIn, useConsoleStack, visitorSays } from './console-stack';

const t = useConsoleStack();

describe('deep links', () => {
  it('keeps the open chat across a reload, walks back and forward, and refuses a chat that is not there', async () => {
    // The gateway serves the console for any path below /console/ (the SPA routes it).
    const raw = await fetch(`${t.stack.base}/console/queue/some-chat`);
    expect(raw.status).toBe(200);
    expect(raw.headers.get('content-type')).toContain('text/html');
    expect(raw.headers.get('content-security-policy')).toContain("script-src 'self'");

    await makeOperator(t.stack, { email: 'lea@example.com', name: 'Lea' });
    const lea = await signIn(t.browser, t.stack.base, 'lea@example.com');
    const page = lea.page;
    await setStatus(page, 'online');
    const path = () => new URL(page.url()).pathname;
    expect(path()).toBe('/console/');

    const v = await openVisitor(t.browser, t.stack.base);
    await visitorSays(v.page, 'Where is my parcel? link-1');
    await expect.poll(() => rowWith(page, 'link-1').count()).toBe(1);
    const id = (await rowWith(page, 'link-1').getAttribute('data-conv')) as string;
    await rowWith(page, 'link-1').click();
    await expect.poll(path).toBe(`/console/mine/${id}`);

    // A reload keeps the chat open.
    await page.reload();
    await expect.poll(() => page.getByTestId('connection').textContent(), { timeout: 10_000 }).toBe('Live');
    await expect.poll(() => page.locator(`.conversation[data-conv="${id}"]`).count()).toBe(1);
    await expect.poll(() => page.locator('.conversation').textContent()).toContain('link-1');
    expect(path()).toBe(`/console/mine/${id}`);

    // Views and screens each get an entry; back and forward walk them.
    await page.locator('[data-view=queue]').click();
    await expect.poll(path).toBe(`/console/queue/${id}`);
    await page.getByRole('button', { name: 'My numbers' }).click();
    await expect.poll(path).toBe('/console/stats');
    await page.goBack();
    await expect.poll(path).toBe(`/console/queue/${id}`);
    await expect.poll(() => page.locator('[data-view=queue]').getAttribute('aria-selected')).toBe('true');
    await page.goBack();
    await expect.poll(path).toBe(`/console/mine/${id}`);
    await expect.poll(() => page.locator('[data-view=mine]').getAttribute('aria-selected')).toBe('true');
    await expect.poll(() => page.locator(`.conversation[data-conv="${id}"]`).count()).toBe(1);
    await page.goForward();
    await expect.poll(path).toBe(`/console/queue/${id}`);

    // A resolved chat opened by its URL: read over REST, shown as it is.
    await page.getByRole('button', { name: 'Resolve' }).click();
    await page.goto(`${t.stack.base}/console/resolved/${id}`);
    await expect.poll(() => page.getByTestId('connection').textContent(), { timeout: 10_000 }).toBe('Live');
    await expect.poll(() => page.locator(`.conversation[data-conv="${id}"]`).count()).toBe(1);
    await expect.poll(() => page.locator('.conversation').textContent()).toContain('link-1');

    // A chat that does not exist: said so, and the URL no longer names it.
    await page.goto(`${t.stack.base}/console/mine/no-such-chat`);
    await expect.poll(() => page.getByRole('alert').textContent(), { timeout: 10_000 }).toContain('cannot be opened');
    await expect.poll(path).toBe('/console/');

    // Screens are addressable directly.
    await page.goto(`${t.stack.base}/console/account`);
    await expect.poll(() => page.getByRole('button', { name: 'Account' }).getAttribute('aria-current')).toBe('page');
    expect(await lea.csp()).toEqual([]);
    await lea.ctx.close();
    await v.ctx.close();
  });
});
