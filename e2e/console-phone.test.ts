/**
 * The console on a phone (#13 "On a phone"), in real Chromium at 390 × 844 with touch: a
 * one-line header, the inbox full-width, list → conversation → visitor details as stacked
 * views with their own URLs (the in-app back button and the browser's back gesture both walk
 * them), the composer on screen even when the keyboard halves the viewport, and nothing that
 * scrolls sideways.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { PASSWORD, makeOperator, openVisitor, rowWith, setStatus, useConsoleStack, visitorSays, widgetText } from './console-stack';
import { watchCsp } from './src/harness';

const t = useConsoleStack();
const PHONE = { width: 390, height: 844 };

/** How far the page scrolls sideways (0: not at all). */
const sideways = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
const shown = (page: Page, sel: string) => page.locator(sel).isVisible();
const path = (page: Page) => new URL(page.url()).pathname;

describe('the console on a phone', () => {
  it('is a one-line header over stacked views: list → conversation → details → back → back, and answers', async () => {
    await makeOperator(t.stack, { email: 'pia@example.com', name: 'Pia Phone-Owner', role: 'admin' });
    const ctx = await t.browser.newContext({ locale: 'en-US', viewport: PHONE, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    ctx.setDefaultTimeout(20_000);
    const page = await ctx.newPage();
    const csp = await watchCsp(page);
    await page.goto(`${t.stack.base}/console/`);
    expect(await sideways(page)).toBe(0);
    await page.getByLabel('E-mail').fill('pia@example.com');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).tap();
    await expect.poll(() => page.getByTestId('connection').textContent(), { timeout: 20_000 }).toBe('Live');
    await setStatus(page, 'online');

    // The header is one line: its items share a row, and it is as tall as one control.
    const header = (await page.locator('.header').boundingBox())!;
    expect(header.height).toBeLessThan(56);
    const tops = await page.locator('.header .brand, .header .conn, .header .status select, .header .menu-btn').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().top + e.getBoundingClientRect().height / 2));
    expect(tops).toHaveLength(4);
    for (const y of tops) expect(Math.abs(y - tops[0]!)).toBeLessThan(8);
    // The rest is behind the menu: closed, the tabs and sign-out are not on screen; open, they are.
    expect(await page.getByRole('button', { name: 'Sign out' }).isVisible()).toBe(false);
    await page.getByRole('button', { name: 'Menu' }).tap();
    await expect.poll(() => page.getByRole('button', { name: 'Sign out' }).isVisible()).toBe(true);
    expect(await page.getByRole('button', { name: 'My numbers' }).isVisible()).toBe(true);
    expect(await sideways(page)).toBe(0);
    await page.getByRole('button', { name: 'Menu' }).tap();
    await expect.poll(() => page.getByRole('button', { name: 'Sign out' }).isVisible()).toBe(false);

    // A visitor writes; the inbox is the whole width of the phone.
    const v = await openVisitor(t.browser, t.stack.base);
    await visitorSays(v.page, 'Is the blue one in stock? phone-1');
    await expect.poll(() => rowWith(page, 'phone-1').count(), { timeout: 20_000 }).toBe(1);
    const id = (await rowWith(page, 'phone-1').getAttribute('data-conv')) as string;
    expect((await page.locator('.inbox').boundingBox())!.width).toBe(PHONE.width);
    expect((await rowWith(page, 'phone-1').boundingBox())!.width).toBeGreaterThan(PHONE.width - 10);
    expect(await sideways(page)).toBe(0);

    // List → conversation: full-screen, its own URL, the list gone.
    await rowWith(page, 'phone-1').tap();
    // Shown where the chat is now (Nia's), whichever view the link named.
    await expect.poll(() => path(page)).toBe(`/console/mine/${id}`);
    await expect.poll(() => shown(page, '.conversation')).toBe(true);
    expect(await shown(page, '.inbox')).toBe(false);
    expect(await shown(page, '.visitor')).toBe(false);
    expect((await page.locator('.conversation').boundingBox())!.width).toBe(PHONE.width);
    await expect.poll(() => page.locator('.conversation').textContent()).toContain('phone-1');
    expect(await sideways(page)).toBe(0);

    // Conversation → details: the visitor's data, with Export and Erase, on a view of its own.
    await page.getByRole('button', { name: 'Visitor details' }).tap();
    await expect.poll(() => path(page)).toBe(`/console/mine/${id}/visitor`);
    await expect.poll(() => shown(page, '.visitor')).toBe(true);
    expect(await shown(page, '.conversation')).toBe(false);
    expect(await page.getByRole('button', { name: 'Export data' }).isVisible()).toBe(true);
    expect(await page.getByRole('button', { name: 'Erase visitor' }).isVisible()).toBe(true);
    expect(await sideways(page)).toBe(0);

    // Back (the browser's gesture) → the conversation; back (the header's button) → the list.
    await page.goBack();
    // Shown where the chat is now (Nia's), whichever view the link named.
    await expect.poll(() => path(page)).toBe(`/console/mine/${id}`);
    await expect.poll(() => shown(page, '.conversation')).toBe(true);
    expect(await shown(page, '.visitor')).toBe(false);
    await page.getByRole('button', { name: 'Back to the list' }).tap();
    await expect.poll(() => path(page)).toBe('/console/');
    await expect.poll(() => shown(page, '.inbox')).toBe(true);
    expect(await shown(page, '.conversation')).toBe(false);
    // …and forward again; the details' own back button returns to the conversation.
    await page.goForward();
    await expect.poll(() => shown(page, '.conversation')).toBe(true);
    await page.getByRole('button', { name: 'Visitor details' }).tap();
    await expect.poll(() => shown(page, '.visitor')).toBe(true);
    await page.getByRole('button', { name: 'Back to the conversation' }).tap();
    // Shown where the chat is now (Nia's), whichever view the link named.
    await expect.poll(() => path(page)).toBe(`/console/mine/${id}`);
    await expect.poll(() => shown(page, '.conversation')).toBe(true);

    // A reload of the details' URL opens them again.
    await page.goto(`${t.stack.base}/console/mine/${id}/visitor`);
    await expect.poll(() => page.getByTestId('connection').textContent(), { timeout: 20_000 }).toBe('Live');
    await expect.poll(() => shown(page, '.visitor')).toBe(true);
    await page.getByRole('button', { name: 'Back to the conversation' }).tap();
    await expect.poll(() => path(page)).toBe(`/console/mine/${id}`);

    // The on-screen keyboard (interactive-widget=resizes-content) shrinks the viewport: the composer stays on screen.
    await page.setViewportSize({ width: PHONE.width, height: 420 });
    await page.locator('#composer').tap();
    await expect.poll(async () => {
      const box = (await page.locator('#composer').boundingBox())!;
      return box.y >= 0 && box.y + box.height <= 420;
    }).toBe(true);
    expect(await sideways(page)).toBe(0);

    // Answer: the visitor gets it.
    await page.locator('#composer').fill('Yes, two left. phone-2');
    await page.locator('#composer').press('Enter');
    await expect.poll(() => widgetText(v.page), { timeout: 20_000 }).toContain('phone-2');
    await page.setViewportSize(PHONE);
    expect(await sideways(page)).toBe(0);
    // Off shift, so the next tests' chats go to their own operators.
    await setStatus(page, 'offline');

    expect(await csp()).toEqual([]);
    await ctx.close();
    await v.ctx.close();
  });

  it('installs as an app: a linked, valid manifest with its icons, and a service worker that controls the page and opens the shell offline', async () => {
    const base = t.stack.base;
    const ctx = await t.browser.newContext({ locale: 'en-US', viewport: PHONE, isMobile: true, hasTouch: true });
    ctx.setDefaultTimeout(20_000);
    const page = await ctx.newPage();
    const csp = await watchCsp(page);
    await page.goto(`${base}/console/`);

    // The manifest: linked, served as one, and what an install needs.
    expect(await page.locator('link[rel=manifest]').getAttribute('href')).toBe('/console/manifest.webmanifest');
    const res = await fetch(`${base}/console/manifest.webmanifest`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/manifest+json');
    const m = (await res.json()) as { name: string; short_name: string; start_url: string; scope: string; display: string; theme_color: string; background_color: string; icons: { src: string; sizes: string; type: string; purpose: string }[] };
    expect(m).toMatchObject({ name: 'Hark console', short_name: 'Hark', start_url: '/console/', scope: '/console/', display: 'standalone' });
    expect(m.theme_color).toMatch(/^#[0-9a-f]{6}$/);
    expect(await page.locator('meta[name=theme-color]').getAttribute('content')).toBe(m.theme_color);
    const have = m.icons.map((i) => `${i.sizes} ${i.purpose}`).sort();
    expect(have).toEqual(['192x192 any', '512x512 any', '512x512 maskable']);
    for (const i of m.icons) {
      const r = await fetch(new URL(i.src, base));
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('image/png');
      const png = Buffer.from(await r.arrayBuffer());
      // A real PNG of the size it claims (IHDR width and height).
      expect(png.subarray(1, 4).toString('ascii')).toBe('PNG');
      expect(`${png.readUInt32BE(16)}x${png.readUInt32BE(20)}`).toBe(i.sizes);
    }

    // The service worker registers, and controls the page after a reload.
    expect(await page.evaluate(() => navigator.serviceWorker.ready.then((r) => r.scope))).toBe(`${base}/console/`);
    await page.reload();
    await expect.poll(() => page.evaluate(() => navigator.serviceWorker.controller?.scriptURL ?? null)).toBe(`${base}/console/sw.js`);

    // Signed in and live: the API's answers went through, and none was stored.
    await page.getByLabel('E-mail').fill(t.stack.admin.email);
    await page.getByLabel('Password').fill(t.stack.admin.password);
    await page.getByRole('button', { name: 'Sign in' }).tap();
    await expect.poll(() => page.getByTestId('connection').textContent(), { timeout: 20_000 }).toBe('Live');
    const cached = await page.evaluate(async () => {
      const out: string[] = [];
      for (const k of await caches.keys()) for (const r of await (await caches.open(k)).keys()) out.push(`${k} ${new URL(r.url).pathname}`);
      return out;
    });
    const sw = await (await fetch(`${base}/console/sw.js`)).text();
    const version = /const VERSION = "([0-9a-f]{16})"/.exec(sw)?.[1];
    expect(version).toBeTruthy();
    // One cache, named by this build; the shell in it and nothing else.
    expect(new Set(cached.map((c) => c.split(' ')[0]))).toEqual(new Set([`hark-console-${version}`]));
    const paths = cached.map((c) => c.split(' ')[1] as string);
    expect(paths).toContain('/console/');
    expect(paths.some((p) => /^\/console\/assets\/.+\.js$/.test(p))).toBe(true);
    for (const p of paths) expect(p.startsWith('/console/') && !p.includes('/v1/')).toBe(true);

    await setStatus(page, 'offline');

    // The network goes (for the worker too), and the console still opens: its own shell, styled and running.
    await ctx.setOffline(true);
    const worker = ctx.serviceWorkers()[0] ?? (await ctx.waitForEvent('serviceworker'));
    expect(await worker.evaluate(() => fetch('/console/sw.js', { cache: 'no-store' }).then(() => 'online', () => 'offline'))).toBe('offline');
    await page.goto(`${base}/console/queue`);
    await expect.poll(() => page.locator('#app').evaluate((el) => el.childElementCount)).toBeGreaterThan(0);
    // Styled: the page's background is its own, the one the manifest gives the splash screen.
    const [r, g, b] = [1, 3, 5].map((i) => Number.parseInt(m.background_color.slice(i, i + 2), 16));
    expect(await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor)).toBe(`rgb(${r}, ${g}, ${b})`);
    expect(await page.evaluate(() => fetch('/v1/me').then(() => 'online', () => 'offline'))).toBe('offline');
    await ctx.setOffline(false);

    expect(await csp()).toEqual([]);
    await ctx.close();
  });

  it('knocks for a new chat unless muted, and notifies through the service worker in the background; the click opens that chat', async () => {
    const base = t.stack.base;
    await makeOperator(t.stack, { email: 'nia@example.com', name: 'Nia', capacity: 5 });
    const ctx = await t.browser.newContext({ locale: 'en-US', viewport: PHONE, isMobile: true, hasTouch: true });
    ctx.setDefaultTimeout(20_000);
    await ctx.grantPermissions(['notifications'], { origin: base });
    const page = await ctx.newPage();
    const csp = await watchCsp(page);
    await page.addInitScript(() => {
      const w = window as unknown as { __knocks: number; __background: boolean };
      // Each tap of the knock is one oscillator started.
      w.__knocks = 0;
      const osc = AudioContext.prototype.createOscillator;
      AudioContext.prototype.createOscillator = function (this: AudioContext) {
        w.__knocks++;
        return osc.call(this);
      };
      // "In the background": another app is in front, so the page has no focus.
      w.__background = false;
      const hasFocus = Document.prototype.hasFocus;
      Document.prototype.hasFocus = function (this: Document) {
        return w.__background ? false : hasFocus.call(this);
      };
    });
    const knocks = () => page.evaluate(() => (window as unknown as { __knocks: number }).__knocks);
    const background = (on: boolean) => page.evaluate((v) => void ((window as unknown as { __background: boolean }).__background = v), on);
    const notes = () => page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => ({ title: n.title, body: n.body, path: (n.data as { path?: string } | null)?.path ?? '' })));
    await page.goto(`${base}/console/`);
    await page.getByLabel('E-mail').fill('nia@example.com');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).tap();
    await expect.poll(() => page.getByTestId('connection').textContent(), { timeout: 20_000 }).toBe('Live');
    await expect.poll(() => page.evaluate(() => navigator.serviceWorker.controller !== null), { timeout: 20_000 }).toBe(true);
    await setStatus(page, 'online');
    await background(true);

    // A new chat: the knock (two taps), and the worker's notification naming its URL.
    expect(await knocks()).toBe(0);
    const v1 = await openVisitor(t.browser, base);
    await visitorSays(v1.page, 'Hello from the bus knock-1');
    await expect.poll(() => rowWith(page, 'knock-1').count(), { timeout: 20_000 }).toBe(1);
    const id = (await rowWith(page, 'knock-1').getAttribute('data-conv')) as string;
    await expect.poll(knocks).toBe(2);
    // Its link names the chat where it was when it arrived: still queued, or already routed to Nia.
    await expect.poll(notes, { timeout: 20_000 }).toContainEqual(expect.objectContaining({ title: 'New chat', path: expect.stringMatching(new RegExp(`^/console/(mine|queue)/${id}$`)) }));
    expect((await notes()).find((n) => n.title === 'New chat')?.body).toContain('knock-1');

    // Its click (sw.js notificationclick) brings the console to that conversation.
    const worker = ctx.serviceWorkers()[0] ?? (await ctx.waitForEvent('serviceworker'));
    await worker.evaluate(async () => {
      // The worker's own types (WebWorker lib) are not this file's: name what is used.
      type Scope = { registration: ServiceWorkerRegistration; dispatchEvent(e: Event): boolean; NotificationEvent: new (type: string, init: { notification: Notification }) => Event };
      const sw = self as unknown as Scope;
      const [n] = await sw.registration.getNotifications();
      if (!n) throw new Error('no notification');
      sw.dispatchEvent(new sw.NotificationEvent('notificationclick', { notification: n }));
    });
    // Shown where the chat is now (Nia's), whichever view the link named.
    await expect.poll(() => path(page)).toBe(`/console/mine/${id}`);
    await expect.poll(() => shown(page, '.conversation')).toBe(true);
    // The click closed it.
    expect((await notes()).some((n) => n.title === 'New chat')).toBe(false);
    await page.goBack();
    await expect.poll(() => path(page)).toBe('/console/');

    // Muted (the header's menu): the next chat still notifies, without a knock; the setting stays after a reload.
    await background(false);
    await page.getByRole('button', { name: 'Menu' }).tap();
    await page.getByLabel('Sound').uncheck();
    await page.getByRole('button', { name: 'Menu' }).tap();
    await page.reload();
    await expect.poll(() => page.getByTestId('connection').textContent(), { timeout: 20_000 }).toBe('Live');
    await page.getByRole('button', { name: 'Menu' }).tap();
    expect(await page.getByLabel('Sound').isChecked()).toBe(false);
    await page.getByRole('button', { name: 'Menu' }).tap();
    await background(true);
    const before = await knocks();
    const v2 = await openVisitor(t.browser, base);
    await visitorSays(v2.page, 'Me too knock-2');
    await expect.poll(() => rowWith(page, 'knock-2').count(), { timeout: 20_000 }).toBe(1);
    await expect.poll(async () => (await notes()).some((n) => n.title === 'New chat' && n.body.includes('knock-2')), { timeout: 20_000 }).toBe(true);
    expect(await knocks()).toBe(before);

    expect(await csp()).toEqual([]);
    await ctx.close();
    await v1.ctx.close();
    await v2.ctx.close();
  });
});
