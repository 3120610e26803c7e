/**
 * Attack: a sibling folder served as static files. sendFile checked `path.startsWith(base)`, so
 * with the console in `…/dist`, `/console/../dist-private/secret.txt` read `…/dist-private/secret.txt`
 * (and the widget routes likewise). Containment is now by path segments (path.relative).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isInside } from '../../src/http/static';
import { type TestGateway, type TestRedis, testGateway, testRedis } from '../harness';
import { httpReq } from './net';

const SECRET = 'TOP-SECRET-sibling-file';
let redis: TestRedis;
let gw: TestGateway;
let root: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'hark-static-'));
  for (const pkg of ['console', 'widget']) {
    mkdirSync(join(root, pkg, 'dist', 'assets'), { recursive: true });
    mkdirSync(join(root, pkg, 'dist-private'), { recursive: true });
    writeFileSync(join(root, pkg, 'dist-private', 'secret.txt'), SECRET);
    writeFileSync(join(root, pkg, 'dist-private', 'chat.x.js'), SECRET);
  }
  writeFileSync(join(root, 'console', 'dist', 'index.html'), '<!doctype html><div id="app"></div>');
  writeFileSync(join(root, 'console', 'dist', 'assets', 'app.js'), 'console.log("app")');
  writeFileSync(join(root, 'widget', 'dist', 'widget.js'), '/* loader */');
  writeFileSync(join(root, 'widget', 'dist', 'chat.en.js'), '/* chat */');
  redis = await testRedis();
  gw = await testGateway(redis.url, { consoleDir: join(root, 'console', 'dist'), widgetDir: join(root, 'widget', 'dist') });
});
afterAll(async () => {
  await gw?.close();
  await redis?.cleanup();
  rmSync(root, { recursive: true, force: true });
});

it('isInside compares by path segments', () => {
  const base = resolve('/srv/app/dist');
  expect(isInside(base, resolve(base, 'index.html'))).toBe(true);
  expect(isInside(base, resolve(base, 'assets/a.js'))).toBe(true);
  expect(isInside(base, resolve(base, '..dotted-name.js'))).toBe(true);
  expect(isInside(base, resolve('/srv/app/dist-private/secret.txt'))).toBe(false);
  expect(isInside(base, resolve('/srv/app/dist'))).toBe(false);
  expect(isInside(base, resolve('/srv/app'))).toBe(false);
  expect(isInside(base, `${resolve('/srv/app')}${sep}distx`)).toBe(false);
});

it('no route serves a file of a sibling folder whose name starts with the served folder’s', async () => {
  const paths = [
    '/console/../dist-private/secret.txt',
    '/console/..%2Fdist-private%2Fsecret.txt',
    '/console/assets/..%2F..%2Fdist-private%2Fsecret.txt',
    '/console/%2E%2E/dist-private/secret.txt',
    '/widget/..%2Fdist-private%2Fsecret.txt',
    '/widget/..%2F..%2Fwidget%2Fdist-private%2Fsecret.txt',
  ];
  for (const path of paths) {
    const r = await httpReq(gw.port, { path });
    expect(r.text, path).not.toContain(SECRET);
  }
  // The console's own files and the SPA fallback still work, and so do the widget's.
  const asset = await httpReq(gw.port, { path: '/console/assets/app.js' });
  expect(asset.status).toBe(200);
  expect(asset.text).toContain('app');
  const spa = await httpReq(gw.port, { path: '/console/inbox/123' });
  expect(spa.status).toBe(200);
  expect(spa.text).toContain('<div id="app">');
  expect((await httpReq(gw.port, { path: '/widget.js' })).text).toBe('/* loader */');
  expect((await httpReq(gw.port, { path: '/chat.en.js' })).text).toBe('/* chat */');
  expect((await httpReq(gw.port, { path: '/widget/chat.en.js' })).text).toBe('/* chat */');
});
