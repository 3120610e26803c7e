/** The one port serves the demo page, the widget's files and the console, with their security headers. */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { type IncomingHttpHeaders, get } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_CSP, IMMUTABLE, LOADER_CACHE, acceptedEncodings } from '../src/http/static';
import { type TestGateway, testGateway } from './harness';
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

/** One GET with the raw bytes as they travel (node:http does not decode), headers as sent. */
function raw(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((res, rej) => {
    get({ host: '127.0.0.1', port: s.gw.port, path, headers, agent: false }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => res({ status: r.statusCode ?? 0, headers: r.headers, body: Buffer.concat(chunks) }));
    }).on('error', rej);
  });
}

const widgetDist = resolve(import.meta.dirname, '../../widget/dist');
const consoleDist = resolve(import.meta.dirname, '../../console/dist');

describe('static files as they travel', () => {
  it('sends the loader brotli, gzip or plain as Accept-Encoding allows, with Vary, strong ETags and a 5-minute cache', async () => {
    const plain = readFileSync(join(widgetDist, 'widget.js'));
    const br = await raw('/widget.js', { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.status).toBe(200);
    expect(br.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(br.body).equals(plain)).toBe(true);
    expect(br.body.length).toBeLessThan(2560);
    const gz = await raw('/widget.js', { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).equals(plain)).toBe(true);
    const none = await raw('/widget.js', { 'accept-encoding': 'br;q=0, gzip;q=0' });
    expect(none.headers['content-encoding']).toBeUndefined();
    expect(none.body.equals(plain)).toBe(true);
    expect(acceptedEncodings('gzip;q=0.5, br;q=0, *')).toEqual(new Set(['gzip', '*']));
    for (const r of [br, gz, none]) {
      expect(r.headers.vary).toBe('accept-encoding');
      expect(r.headers['cache-control']).toBe(LOADER_CACHE);
      expect(r.headers.etag).toMatch(/^"[\w-]{22}(-br|-gz)?"$/);
      expect(r.headers['content-type']).toContain('javascript');
    }
    // One ETag per representation (they are strong), all from the same bytes.
    expect(new Set([br.headers.etag, gz.headers.etag, none.headers.etag]).size).toBe(3);
    // Precompressed at build time: the bytes sent are the .br file's.
    expect(br.body.equals(readFileSync(join(widgetDist, 'widget.js.br')))).toBe(true);
  });

  it('answers 304 to If-None-Match with any of the file\'s ETags, and 200 once the file changed', async () => {
    const first = await raw('/widget.js', { 'accept-encoding': 'br' });
    const again = await raw('/widget.js', { 'accept-encoding': 'br', 'if-none-match': first.headers.etag as string });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    expect(again.headers.etag).toBe(first.headers.etag);
    expect(again.headers['cache-control']).toBe(LOADER_CACHE);
    // A cache that stored the gzip form revalidating with a brotli-capable request: still the same bytes.
    const gz = await raw('/widget.js', { 'accept-encoding': 'gzip' });
    expect((await raw('/widget.js', { 'accept-encoding': 'br', 'if-none-match': `"nope", ${gz.headers.etag}` })).status).toBe(304);
    expect((await raw('/widget.js', { 'accept-encoding': 'br', 'if-none-match': '"other"' })).status).toBe(200);
  });

  it('loads the chat under the content-hashed name the loader was built with, cached as immutable', async () => {
    const loader = readFileSync(join(widgetDist, 'widget.js'), 'utf8');
    const { v } = JSON.parse(readFileSync(join(widgetDist, 'wire.json'), 'utf8')) as { v: string };
    expect(v).toMatch(/^[0-9a-f]{10}$/);
    expect(loader).toContain(v);
    for (const name of [`chat.en.${v}.js`, `chat.ru.${v}.js`, `i18n.hr.${v}.js`]) {
      const r = await raw(`/${name}`, { 'accept-encoding': 'br' });
      expect(r.status).toBe(200);
      expect(r.headers['cache-control']).toBe(IMMUTABLE);
      expect(r.headers['content-encoding']).toBe('br');
      expect(brotliDecompressSync(r.body).equals(readFileSync(join(widgetDist, name)))).toBe(true);
    }
    // The plain name stays for a loader cached from the build before: a short cache.
    expect((await raw('/chat.en.js')).headers['cache-control']).toBe(LOADER_CACHE);
    expect((await raw('/chat.en.0000000000.js')).status).toBe(404);
  });

  it('lets any site and any cross-origin isolated page load the widget files (CORS, CORP)', async () => {
    const { v } = JSON.parse(readFileSync(join(widgetDist, 'wire.json'), 'utf8')) as { v: string };
    for (const path of ['/widget.js', `/chat.en.${v}.js`, `/widget/chat.hr.${v}.js`]) {
      const r = await raw(path);
      expect(r.status).toBe(200);
      expect(r.headers['cross-origin-resource-policy']).toBe('cross-origin');
      expect(r.headers['access-control-allow-origin']).toBe('*');
    }
  });

  it('sends the console compressed too: hashed assets immutable, index.html revalidated', async () => {
    const assets = readdirSync(join(consoleDist, 'assets')).filter((f) => f.endsWith('.js'));
    expect(assets.length).toBeGreaterThan(0);
    const a = await raw(`/console/assets/${assets[0]}`, { 'accept-encoding': 'br, gzip' });
    expect(a.headers['content-encoding']).toBe('br');
    expect(a.headers['cache-control']).toBe(IMMUTABLE);
    expect(brotliDecompressSync(a.body).equals(readFileSync(join(consoleDist, 'assets', assets[0] as string)))).toBe(true);
    const index = await raw('/console/', { 'accept-encoding': 'gzip' });
    expect(index.headers['cache-control']).toBe('no-cache');
    expect(index.headers['content-security-policy']).toBe(CONSOLE_CSP);
    const again = await raw('/console/', { 'accept-encoding': 'gzip', 'if-none-match': index.headers.etag as string });
    expect(again.status).toBe(304);
  });
});

describe('files without a precompressed sibling', () => {
  let dir = '';
  let gw: TestGateway;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hark-static-'));
    mkdirSync(join(dir, 'widget'));
    mkdirSync(join(dir, 'console'));
    writeFileSync(join(dir, 'widget', 'widget.js'), `/* loader */ ${'console.log("hark");'.repeat(100)}`);
    gw = await testGateway(s.redis.url, { widgetDir: join(dir, 'widget'), consoleDir: join(dir, 'console') });
  });
  afterAll(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('are compressed by the gateway once, and a rebuilt file is served at once with a new ETag', async () => {
    const get1 = await fetch(`${gw.base}/widget.js`, { headers: { 'accept-encoding': 'gzip' } });
    expect(get1.headers.get('content-encoding')).toBe('gzip');
    expect(await get1.text()).toContain('hark');
    const tag1 = get1.headers.get('etag');
    // A rebuild: different bytes (and mtime) under the same name.
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(join(dir, 'widget', 'widget.js'), `/* loader v2 */ ${'console.log("hark2");'.repeat(100)}`);
    const get2 = await fetch(`${gw.base}/widget.js`, { headers: { 'if-none-match': tag1 as string } });
    expect(get2.status).toBe(200);
    expect(await get2.text()).toContain('hark2');
    expect(get2.headers.get('etag')).not.toBe(tag1);
  });
});
