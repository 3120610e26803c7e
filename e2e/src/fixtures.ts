/**
 * Fixture host pages for the widget tests: a tiny HTTP server on another origin
 * than the gateway, serving pages that carry the real `<script async src=…/widget.js
 * data-site>` tag. The origin is added to the demo site's allowed origins.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserContext, Frame, Locator, Page } from 'playwright-core';
import type { Stack } from './harness';

export interface FixturePage {
  /** Extra markup in <head> and before the tag. */
  head?: string;
  body?: string;
  /** Replaces the default tag. */
  tag?: string;
  /** Served with `cache-control: max-age=3600`, so it loads from the cache while the browser is offline. */
  cache?: boolean;
  /** Response headers of the page (a CSP, COEP…). */
  headers?: Record<string, string>;
}

export interface Fixtures {
  origin: string;
  /** Registers a page (served at `/name` and at any path under `/name/`, for SPA routes) and returns its URL. */
  page(name: string, opts?: FixturePage): string;
  close(): Promise<void>;
}

export async function startFixtures(stack: Stack): Promise<Fixtures> {
  const pages = new Map<string, FixturePage>();
  let origin = '';
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', origin);
    const name = url.pathname.slice(1).split('/')[0] ?? '';
    const p = pages.get(name);
    if (!p) {
      res.writeHead(404).end();
      return;
    }
    const tag = p.tag ?? `<script async src="${stack.base}/widget.js" data-site="demo"></script>`;
    const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Fixture ${name}</title>${p.head ?? ''}</head><body><main><h1>Fixture ${name}</h1>${p.body ?? ''}</main>${tag}</body></html>`;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...(p.cache ? { 'cache-control': 'max-age=3600' } : { 'cache-control': 'no-store' }), ...p.headers }).end(html);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const r = await stack.adminHttp.req('PATCH', '/v1/sites/demo', { origins: [origin, stack.base] });
  if (r.status !== 200) throw new Error(`PATCH /v1/sites/demo: ${r.status}`);
  return {
    origin,
    page(name, opts = {}) {
      pages.set(name, opts);
      return `${origin}/${name}`;
    },
    close: () =>
      new Promise<void>((res) => {
        server.closeAllConnections();
        server.close(() => res());
      }),
  };
}

/** The widget inside a page (its shadow root is open, so Playwright's locators pierce it). */
export const widget = (p: Page | Frame): Locator => p.locator('hark-chat');
export const launcher = (p: Page | Frame): Locator => p.locator('hark-chat .lc');
export const composer = (p: Page | Frame): Locator => widget(p).getByRole('textbox', { name: 'Message' });

/** Opens a page in the context and waits for the launcher. */
export async function openPage(ctx: BrowserContext, url: string): Promise<Page> {
  const p = await ctx.newPage();
  await p.goto(url);
  await launcher(p).waitFor();
  return p;
}

/** Opens the panel (if closed) and waits for the composer. */
export async function openChat(p: Page): Promise<Locator> {
  if ((await launcher(p).getAttribute('aria-expanded')) !== 'true') await launcher(p).click();
  const box = composer(p);
  await box.waitFor();
  return box;
}

/** Types a message into the widget and sends it with Enter. */
export async function say(p: Page, text: string): Promise<void> {
  const box = await openChat(p);
  await box.fill(text);
  await box.press('Enter');
}

/** Texts of the message bubbles shown in the widget, in order. */
export const bubbles = (p: Page): Promise<string[]> => widget(p).locator('.ls .bu').allTextContents();
