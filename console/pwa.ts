/**
 * The console as an installable app (a PWA), made by the build (vite.config.ts):
 *
 * - icons drawn here (a white speech bubble on the accent colour), PNG 192 and 512 px, and a
 *   maskable 512 px one whose bubble sits inside the safe zone;
 * - manifest.webmanifest (start_url and scope /console/, display standalone);
 * - sw.js, the service worker: it precaches the app shell (index.html and every file of this
 *   build) under a cache named by a hash of the build, so a new build installs a new cache and
 *   deletes the old one. It never caches anything else: API answers (/v1), avatars and files
 *   are not in the list and are never stored, so nothing personal is kept. Navigations are
 *   network-first, with the cached shell when the network is gone; shell files cache-first.
 *   It also shows notifications for the page (notify.ts) and, when one is clicked, focuses a
 *   console window at that conversation's URL or opens one.
 */
import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import type { Plugin } from 'vite';

export const BASE = '/console/';
export const THEME = '#1f5fd6';
/** The page's own background (styles.css `--bg`, light theme): the splash screen matches it. */
export const BACKGROUND = '#f4f5f8';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
/** An RGBA PNG of `size` × `size` from a colour per pixel. */
export function png(size: number, pixel: (x: number, y: number) => [number, number, number, number]): Buffer {
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    const row = y * (size * 4 + 1);
    raw[row] = 0; // filter: none
    for (let x = 0; x < size; x++) raw.set(pixel(x, y), row + 1 + x * 4);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

const hex = (c: string): [number, number, number] => [Number.parseInt(c.slice(1, 3), 16), Number.parseInt(c.slice(3, 5), 16), Number.parseInt(c.slice(5, 7), 16)];

/**
 * The icon, in unit coordinates (0..1): a rounded square of the accent colour (the whole square
 * when maskable: the platform cuts its own shape) with a white speech bubble, smaller when maskable
 * so it stays inside the 80 % safe zone. Anti-aliased by 4 × 4 supersampling.
 */
export function icon(size: number, maskable: boolean): Buffer {
  const [r, g, b] = hex(THEME);
  const s = maskable ? 0.62 : 0.78;
  const inTile = (x: number, y: number) => {
    if (maskable) return true;
    const rad = 0.22;
    const dx = Math.max(rad - x, 0, x - (1 - rad));
    const dy = Math.max(rad - y, 0, y - (1 - rad));
    return dx * dx + dy * dy <= rad * rad;
  };
  const inBubble = (x: number, y: number) => {
    // Scaled about the centre: an ellipse, and a tail at its lower left.
    const u = (x - 0.5) / s + 0.5;
    const v = (y - 0.5) / s + 0.5;
    const ex = (u - 0.5) / 0.42;
    const ey = (v - 0.45) / 0.33;
    if (ex * ex + ey * ey <= 1) return true;
    // Tail: the triangle (0.28,0.62) (0.46,0.7) (0.2,0.9).
    const d = (ax: number, ay: number, bx: number, by: number) => (u - bx) * (ay - by) - (ax - bx) * (v - by);
    const d1 = d(0.28, 0.62, 0.46, 0.7);
    const d2 = d(0.46, 0.7, 0.2, 0.9);
    const d3 = d(0.2, 0.9, 0.28, 0.62);
    return !((d1 < 0 || d2 < 0 || d3 < 0) && (d1 > 0 || d2 > 0 || d3 > 0));
  };
  return png(size, (px, py) => {
    let tile = 0;
    let white = 0;
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 4; j++) {
        const x = (px + (i + 0.5) / 4) / size;
        const y = (py + (j + 0.5) / 4) / size;
        if (!inTile(x, y)) continue;
        tile++;
        if (inBubble(x, y)) white++;
      }
    if (tile === 0) return [0, 0, 0, 0];
    const w = white / tile;
    return [Math.round(r + (255 - r) * w), Math.round(g + (255 - g) * w), Math.round(b + (255 - b) * w), Math.round((tile / 16) * 255)];
  });
}

export const ICONS = [
  { file: 'icon-192.png', size: 192, maskable: false },
  { file: 'icon-512.png', size: 512, maskable: false },
  { file: 'icon-maskable-512.png', size: 512, maskable: true },
] as const;

export function manifest(): string {
  return JSON.stringify(
    {
      name: 'Hark console',
      short_name: 'Hark',
      description: 'Answer your visitors from anywhere.',
      id: BASE,
      start_url: BASE,
      scope: BASE,
      display: 'standalone',
      theme_color: THEME,
      background_color: BACKGROUND,
      icons: ICONS.map((i) => ({ src: `${BASE}${i.file}`, sizes: `${i.size}x${i.size}`, type: 'image/png', purpose: i.maskable ? 'maskable' : 'any' })),
    },
    null,
    2,
  );
}

/** The service worker's source: the shell's URLs and the build's version filled in. */
export function serviceWorker(version: string, shell: string[]): string {
  return `// Hark console service worker, written by the build (console/pwa.ts). Version ${version}.
const VERSION = ${JSON.stringify(version)};
const CACHE = 'hark-console-' + VERSION;
const BASE = ${JSON.stringify(BASE)};
const SHELL = ${JSON.stringify(shell)};
const SHELL_SET = new Set(SHELL);

self.addEventListener('install', (ev) => {
  ev.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (ev) => {
  ev.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('hark-console-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (ev) => {
  const req = ev.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin || !url.pathname.startsWith(BASE)) return;
  if (req.mode === 'navigate') {
    // Fresh when online; the cached shell (it routes any /console/ path itself) when not.
    ev.respondWith(fetch(req).catch(() => caches.match(BASE, { cacheName: CACHE }).then((r) => r || Response.error())));
    return;
  }
  if (SHELL_SET.has(url.pathname)) ev.respondWith(caches.match(url.pathname, { cacheName: CACHE }).then((r) => r || fetch(req)));
  // Anything else (API answers, avatars, files) goes to the network and is never stored.
});

// A click on a notification: the console window already open comes forward at that conversation, or one opens.
self.addEventListener('notificationclick', (ev) => {
  ev.notification.close();
  const path = (ev.notification.data && ev.notification.data.path) || BASE;
  const target = new URL(path.startsWith(BASE) ? path : BASE, self.location.origin).href;
  const done = self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((list) => {
    const win = list.find((c) => new URL(c.url).pathname.startsWith(BASE));
    if (!win) return self.clients.openWindow(target);
    win.postMessage({ type: 'hark:open', path: new URL(target).pathname });
    return win.focus().catch(() => win);
  });
  try {
    ev.waitUntil(done);
  } catch {
    // Only a click the browser dispatched may extend the worker's life; the work above runs anyway.
  }
});
`;
}

/** The Vite plugin: icons, manifest and service worker into the build, and the manifest linked from index.html. */
export function pwa(): Plugin {
  return {
    name: 'hark-pwa',
    apply: 'build',
    enforce: 'post',
    transformIndexHtml() {
      return [
        { tag: 'link', attrs: { rel: 'manifest', href: `${BASE}manifest.webmanifest` }, injectTo: 'head' },
        { tag: 'meta', attrs: { name: 'theme-color', content: THEME }, injectTo: 'head' },
        { tag: 'link', attrs: { rel: 'icon', type: 'image/png', href: `${BASE}icon-192.png` }, injectTo: 'head' },
        { tag: 'link', attrs: { rel: 'apple-touch-icon', href: `${BASE}icon-192.png` }, injectTo: 'head' },
      ];
    },
    generateBundle(_opts, bundle) {
      for (const i of ICONS) this.emitFile({ type: 'asset', fileName: i.file, source: icon(i.size, i.maskable) });
      this.emitFile({ type: 'asset', fileName: 'manifest.webmanifest', source: manifest() });
      const files = Object.keys(bundle).filter((f) => !f.endsWith('.map'));
      const all = [...new Set([...files, ...ICONS.map((i) => i.file), 'manifest.webmanifest'])].sort();
      // The version: a hash of every shell file's bytes, so any change to the build is a new cache.
      const h = createHash('sha256');
      for (const f of all) {
        const out = bundle[f];
        h.update(f);
        if (out) h.update(out.type === 'chunk' ? out.code : typeof out.source === 'string' ? out.source : Buffer.from(out.source));
      }
      const shell = [BASE, ...all.filter((f) => f !== 'index.html').map((f) => BASE + f)];
      this.emitFile({ type: 'asset', fileName: 'sw.js', source: serviceWorker(h.digest('hex').slice(0, 16), shell) });
    },
  };
}
