/**
 * The console in Russian and Croatian at a laptop's 1280 px (#13 item 9): the header stays on
 * one line (measured), and times are the locale's own (24-hour), whatever the browser's locale.
 */
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { ADMIN } from './src/harness';
import { openVisitor, signIn, useConsoleStack, visitorSays } from './console-stack';

const t = useConsoleStack();

/** The header's height and how far apart its items' vertical centres are (0: one line). */
function headerShape(page: Page) {
  return page.evaluate(() => {
    const h = document.querySelector('header.header') as HTMLElement;
    const centres = [...h.querySelectorAll<HTMLElement>(':scope > *, .nav > *')]
      .filter((e) => e.getBoundingClientRect().height > 0)
      .map((e) => {
        const r = e.getBoundingClientRect();
        return r.top + r.height / 2;
      });
    // A label that wrapped inside its button makes the button taller than one line.
    const tallest = Math.max(...[...h.querySelectorAll<HTMLElement>('button, select')].map((e) => e.getBoundingClientRect().height));
    // Nothing pushed out of sight either: the tabs fit, and the header does not overflow the window.
    const nav = h.querySelector('.nav') as HTMLElement;
    const hidden = nav.scrollWidth - nav.clientWidth + Math.max(0, h.scrollWidth - h.clientWidth);
    return { height: h.getBoundingClientRect().height, spread: Math.max(...centres) - Math.min(...centres), tallest, hidden };
  });
}

describe('console locale', () => {
  it('keeps the Russian header on one line at 1280 px and shows 24-hour times in ru and hr', async () => {
    // An admin sees every tab, and the notifications button (permission not decided yet): the widest header.
    const a = await signIn(t.browser, t.stack.base, ADMIN.email, ADMIN.password);
    const page = a.page;
    await page.setViewportSize({ width: 1280, height: 800 });
    const en = await headerShape(page);
    expect(en.spread).toBeLessThan(4);
    expect(en.hidden).toBeLessThanOrEqual(1);
    for (const lang of ['ru', 'hr']) {
      await page.getByRole('combobox').filter({ has: page.locator('option[value=ru]') }).first().selectOption(lang);
      await expect.poll(() => page.evaluate(() => document.documentElement.lang)).toBe(lang);
      const shape = await headerShape(page);
      expect(shape.spread, lang).toBeLessThan(4);
      expect(shape.height, lang).toBeLessThanOrEqual(en.height + 1);
      expect(shape.tallest, lang).toBeLessThanOrEqual(en.tallest + 1);
      expect(shape.hidden, lang).toBeLessThanOrEqual(1);
    }

    // Times: the browser says en-US (12-hour), the console speaks Russian: "14:05", never "2:05 PM".
    await page.getByRole('combobox').filter({ has: page.locator('option[value=ru]') }).first().selectOption('ru');
    await page.getByLabel('Ваш статус').selectOption('online');
    const v = await openVisitor(t.browser, t.stack.base);
    await visitorSays(v.page, 'Который час? time-1');
    const row = page.locator('.conv-row', { hasText: 'time-1' });
    await row.click();
    const msgTime = page.locator('.entry.msg time').first();
    await expect.poll(() => msgTime.textContent()).toMatch(/^\d{2}:\d{2}$/);
    await page.getByRole('combobox').filter({ has: page.locator('option[value=ru]') }).first().selectOption('hr');
    await expect.poll(() => msgTime.textContent()).toMatch(/^\d{2}:\d{2}$/);
    expect(await a.csp()).toEqual([]);
    await a.ctx.close();
    await v.ctx.close();
  });
});
