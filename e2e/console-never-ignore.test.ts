/**
 * "Never ignore" in real Chromium: a desktop notification (permission granted
 * through the browser's own permission controls) and a knock when the tab is
 * not focused, a counter in the tab title, and the "unanswered" flag once a
 * visitor has waited past the site's threshold.
 */
import { describe, expect, it } from 'vitest';
import { PASSWORD, makeOperator, openVisitor, rowWith, setStatus, useConsoleStack, visitorSays } from './console-stack';

const t = useConsoleStack();

type Spy = { __notes: string[]; __beeps: number; __focused: boolean };

describe('never ignore', () => {
  it('notifies, beeps and counts in the title when unfocused, and flags an unanswered chat past the threshold', async () => {
    // A short threshold keeps the test quick; the default is 60 s.
    expect((await t.stack.adminHttp.req('PATCH', '/v1/sites/demo', { unansweredMs: 3000, offlineForm: false })).status).toBe(200);
    await makeOperator(t.stack, { email: 'nia@example.com', name: 'Nia' });

    const ctx = await t.browser.newContext({ locale: 'en-US' });
    ctx.setDefaultTimeout(8000);
    await ctx.grantPermissions(['notifications'], { origin: t.stack.base });
    // Record notifications and beeps as they are made (the real constructors still run),
    // and let the test decide whether the tab "has focus" (headless pages always do).
    await ctx.addInitScript(() => {
      const w = window as unknown as Spy & { Notification: typeof Notification };
      w.__notes = [];
      w.__beeps = 0;
      w.__focused = true;
      const Real = w.Notification;
      w.Notification = class extends Real {
        constructor(title: string, opts?: NotificationOptions) {
          super(title, opts);
          w.__notes.push(`${title}|${opts?.body ?? ''}`);
        }
      } as typeof Notification;
      // With the service worker in control the console notifies through it (notify.ts): record those too.
      const show = ServiceWorkerRegistration.prototype.showNotification;
      ServiceWorkerRegistration.prototype.showNotification = function (this: ServiceWorkerRegistration, title: string, opts?: NotificationOptions) {
        w.__notes.push(`${title}|${opts?.body ?? ''}`);
        return show.call(this, title, opts);
      };
      const osc = AudioContext.prototype.createOscillator;
      AudioContext.prototype.createOscillator = function (this: AudioContext) {
        w.__beeps++;
        return osc.call(this);
      };
      document.hasFocus = () => w.__focused;
    });
    const page = await ctx.newPage();
    await page.goto(`${t.stack.base}/console/`);
    await page.getByLabel('E-mail').fill('nia@example.com');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByTestId('connection').textContent()).toBe('Live');
    // Permission was granted by the browser, so the console does not ask for it.
    expect(await page.getByRole('button', { name: 'Enable desktop notifications' }).count()).toBe(0);
    await setStatus(page, 'online');
    await page.evaluate(() => {
      (window as unknown as Spy).__focused = false;
    });
    const spy = () => page.evaluate(() => ({ notes: (window as unknown as Spy).__notes, beeps: (window as unknown as Spy).__beeps }));

    // 1. A new chat while the operator is elsewhere: notification, beep, title counter.
    const v = await openVisitor(t.browser, t.stack.base);
    await visitorSays(v.page, 'Anyone there? ping-1');
    await expect.poll(async () => (await spy()).notes.join('\n')).toContain('New chat');
    await expect.poll(async () => (await spy()).notes.join('\n')).toContain('ping-1');
    expect((await spy()).beeps).toBeGreaterThan(0);
    await expect.poll(() => page.title()).toMatch(/^\(\d+\) Hark console$/);

    // 2. Not answered yet, but under the threshold: not flagged.
    // Pin the row by conversation id: its preview text changes as the chat goes on.
    const row = page.locator(`.conv-row[data-conv="${await rowWith(page, 'ping-1').getAttribute('data-conv')}"]`);
    expect(await row.getAttribute('class')).not.toContain('overdue');
    // 3. Past the threshold: flagged, with the word, not only a colour.
    await expect.poll(() => row.getAttribute('class'), { timeout: 8000 }).toContain('overdue');
    expect(await row.textContent()).toContain('Unanswered');

    // 4. Opening it reads it, but a chat flagged unanswered still counts in the title until it is
    //    answered; answering clears the flag and the count.
    await page.evaluate(() => {
      (window as unknown as Spy).__focused = true;
    });
    await row.click();
    await expect.poll(() => row.getAttribute('class')).not.toContain('unread');
    expect(await page.title()).toBe('(1) Hark console');
    await page.locator('#composer').fill('Yes, Nia here!');
    await page.locator('#composer').press('Enter');
    await expect.poll(() => row.getAttribute('class')).not.toContain('overdue');
    await expect.poll(() => page.title()).toBe('Hark console');

    // 5. A focused operator looking at the chat gets no desktop notification for its next message.
    const before = (await spy()).notes.length;
    await visitorSays(v.page, 'thanks ping-2');
    await expect.poll(() => page.locator('.conversation').textContent()).toContain('ping-2');
    expect((await spy()).notes.length).toBe(before);
    await ctx.close();
    await v.ctx.close();
  });
});
