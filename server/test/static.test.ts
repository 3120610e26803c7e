/** The one port serves the demo page, the widget's files and the console, with their security headers. */
import { expect, it } from 'vitest';
import { useStack } from './stack';

const s = useStack(1);

it('serves the demo page with the real script tag under a strict CSP', async () => {
  const r = await fetch(`${s.gw.base}/`);
  expect(r.status).toBe(200);
  expect(await r.text()).toContain('<script async src="/widget.js" data-site="demo"></script>');
  expect(r.headers.get('content-security-policy')).toContain("script-src 'self'");
  expect(r.headers.get('content-security-policy')).not.toContain('unsafe-inline');
});

it('serves the widget loader and its chat bundle once each, and nothing outside the widget folder', async () => {
  const w = await fetch(`${s.gw.base}/widget.js`);
  expect(w.status).toBe(200);
  expect(w.headers.get('content-type')).toContain('javascript');
  const c = await fetch(`${s.gw.base}/chat.en.js?v=1`);
  expect(c.status).toBe(200);
  expect((await c.text()).length).toBeGreaterThan(1000);
  expect((await fetch(`${s.gw.base}/package.json`)).status).toBe(404);
  expect((await fetch(`${s.gw.base}/widget/..%2F..%2Fpackage.json`)).status).toBe(404);
});

it('serves the console SPA with strict security headers, falling back to index.html for client routes', async () => {
  for (const path of ['/console/', '/console/inbox/abc']) {
    const r = await fetch(`${s.gw.base}${path}`);
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('<div');
    const csp = r.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('referrer-policy')).toBeTruthy();
  }
});
