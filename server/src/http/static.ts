/**
 * The demo page, the widget's files and the console SPA, with the security
 * headers each needs. Files are read from the packages' dist folders, kept in memory,
 * and sent precompressed (brotli or gzip) with strong ETags.
 */
import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

/** The console's own strict policy: nothing inline, nothing from elsewhere, never framed. */
export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; media-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/** The demo page runs under the same kind of strict policy a careful site owner would use. */
export const DEMO_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

function secure(reply: FastifyReply, csp: string): FastifyReply {
  return reply
    .header('content-security-policy', csp)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'strict-origin-when-cross-origin')
    .header('x-frame-options', 'DENY')
    .header('cross-origin-opener-policy', 'same-origin');
}

/**
 * Whether `path` lies strictly below the folder `base` (both absolute and resolved). Compared by
 * path segments: a plain prefix check would let `dist` serve its sibling `dist-private`.
 */
export function isInside(base: string, path: string): boolean {
  const rel = relative(base, path);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/** The cache a content-hashed file gets (chat.en.<hash>.js, console/assets/…): its bytes never change under that name. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';
/** widget.js sits under a stable URL on every page of every site: a short cache, then a revalidation (304), so fixes reach pages soon. */
export const LOADER_CACHE = 'public, max-age=300';
/** A widget file under a content-hashed name: `chat.en.0123456789.js` (widget/build.mjs). */
const HASHED_RE = /\.[0-9a-f]{10}\.js$/;

interface Entry {
  mtimeMs: number;
  size: number;
  type: string;
  /** Strong validator of the bytes (sha-256, base64url, 22 chars); each encoding gets its own ETag (`"<tag>"`, `"<tag>-br"`, `"<tag>-gz"`). */
  tag: string;
  raw: Buffer;
  br: Buffer | undefined;
  gz: Buffer | undefined;
}
/**
 * Files kept in memory, by path: only files that exist in the dist folders (the build's own,
 * so bounded by it), each validated against its size and mtime on every request, so a
 * rebuild is served at once.
 */
const cache = new Map<string, Entry>();

/** A precompressed sibling (`file.br`) if it is at least as new as the file; otherwise compressed here, once. */
async function variant(path: string, raw: Buffer, mtimeMs: number, ext: 'br' | 'gz'): Promise<Buffer | undefined> {
  try {
    const st = await stat(`${path}.${ext}`);
    if (st.mtimeMs >= mtimeMs) return await readFile(`${path}.${ext}`);
  } catch {
    // none built: compress below
  }
  if (!COMPRESSIBLE.has(extname(path)) || raw.length < 256) return undefined;
  const out =
    ext === 'br'
      ? await brotli(raw, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length } })
      : await gzip(raw, { level: 9 });
  return out.length < raw.length ? out : undefined;
}
const COMPRESSIBLE = new Set(['.js', '.mjs', '.css', '.html', '.svg', '.json', '.webmanifest', '.map']);
const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);

async function load(path: string): Promise<Entry | undefined> {
  let st: Stats;
  try {
    st = await stat(path);
  } catch {
    return undefined;
  }
  if (!st.isFile()) return undefined;
  const have = cache.get(path);
  if (have && have.mtimeMs === st.mtimeMs && have.size === st.size) return have;
  const raw = await readFile(path);
  const [br, gz] = await Promise.all([variant(path, raw, st.mtimeMs, 'br'), variant(path, raw, st.mtimeMs, 'gz')]);
  const e: Entry = { mtimeMs: st.mtimeMs, size: st.size, type: TYPES[extname(path)] ?? 'application/octet-stream', tag: createHash('sha256').update(raw).digest('base64url').slice(0, 22), raw, br, gz };
  cache.set(path, e);
  return e;
}

/** The encodings `accept-encoding` allows (q > 0), e.g. `gzip, deflate, br;q=0.9`. */
export function acceptedEncodings(header: string | undefined): Set<string> {
  const out = new Set<string>();
  for (const part of (header ?? '').toLowerCase().split(',')) {
    const [name, ...params] = part.split(';').map((x) => x.trim());
    if (!name) continue;
    const q = params.find((p) => p.startsWith('q='));
    if (q && !(Number(q.slice(2)) > 0)) continue;
    out.add(name);
  }
  return out;
}

/** Whether If-None-Match names this file in any of its encodings (or `*`); `W/` tags compare weakly, as RFC 9110 asks of If-None-Match. */
function notModified(header: string | undefined, tag: string): boolean {
  if (!header) return false;
  for (const raw of header.split(',')) {
    const t = raw.trim().replace(/^W\//, '');
    if (t === '*' || t === `"${tag}"` || t === `"${tag}-br"` || t === `"${tag}-gz"`) return true;
  }
  return false;
}

/**
 * Sends a file below `root`, brotli or gzip as the request's Accept-Encoding allows (built
 * beside it by scripts/precompress.mjs), with a strong ETag and a 304 to a matching
 * If-None-Match; false when there is none. (Returns a boolean, not the reply: a Fastify reply
 * is a thenable, and awaiting it yields undefined.)
 */
async function sendFile(req: FastifyRequest, reply: FastifyReply, root: string, rel: string, cacheControl: string): Promise<boolean> {
  const base = resolve(root);
  const path = resolve(join(base, rel));
  if (!isInside(base, path)) return false;
  const e = await load(path);
  if (!e) return false;
  const ok = acceptedEncodings(req.headers['accept-encoding']);
  const [body, enc] = e.br && ok.has('br') ? [e.br, 'br'] : e.gz && ok.has('gzip') ? [e.gz, 'gzip'] : [e.raw, undefined];
  reply
    .header('cache-control', cacheControl)
    .header('vary', 'accept-encoding')
    .header('etag', `"${e.tag}${enc === 'br' ? '-br' : enc === 'gzip' ? '-gz' : ''}"`);
  if (notModified(req.headers['if-none-match'], e.tag)) {
    reply.code(304).send();
    return true;
  }
  if (enc) reply.header('content-encoding', enc);
  reply.header('content-type', e.type).send(body);
  return true;
}

/**
 * Headers every widget file carries: any site may load it (CORS for a crossorigin script tag),
 * and so may a cross-origin isolated page (COEP require-corp asks for this CORP header).
 */
function widgetFile(reply: FastifyReply): FastifyReply {
  return reply.header('access-control-allow-origin', '*').header('cross-origin-resource-policy', 'cross-origin');
}

export const DEMO_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hark demo shop</title>
<link rel="stylesheet" href="/demo.css">
</head>
<body>
<main>
<h1>Hark demo shop</h1>
<p>This page embeds the Hark widget with the same one tag a site owner pastes:</p>
<pre>&lt;script async src="/widget.js" data-site="demo"&gt;&lt;/script&gt;</pre>
<p>Click the chat button in the corner and say hello. Operators answer from <a href="/console/">the console</a>.</p>
<p><a href="/?page=2">Another page of the shop</a>: the conversation follows you.</p>
</main>
<script async src="/widget.js" data-site="demo"></script>
</body>
</html>
`;
const DEMO_CSS = 'body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f7f7f8;color:#1a1a1a}main{max-width:40rem;margin:3rem auto;padding:0 1rem}pre{background:#fff;border:1px solid #ddd;padding:.75rem;overflow:auto}';

const WIDGET_FILE_RE = /^(chat|i18n)[.a-z0-9-]*\.js$/;

export function staticRoutes(app: FastifyInstance, dirs: { widget: string; console: string }): void {
  app.get('/', async (_req, reply) => secure(reply, DEMO_CSP).header('content-type', 'text/html; charset=utf-8').send(DEMO_PAGE));
  app.get('/demo.css', async (_req, reply) => reply.header('content-type', 'text/css; charset=utf-8').send(DEMO_CSS));

  // The loader is embedded by URL on every page of every site: a short cache so fixes reach pages soon.
  app.get('/widget.js', async (req, reply) => {
    if (await sendFile(req, widgetFile(reply), dirs.widget, 'widget.js', LOADER_CACHE)) return reply;
    return reply.code(503).send({ code: 'NOT_FOUND', message: 'The widget is not built; run `pnpm build`.' });
  });
  // Everything else the loader loads sits beside it.
  app.get('/widget/:file', async (req, reply) => {
    const file = (req.params as { file: string }).file;
    if (await sendFile(req, widgetFile(reply), dirs.widget, file, HASHED_RE.test(file) ? IMMUTABLE : LOADER_CACHE)) return reply;
    return reply.code(404).send({ code: 'NOT_FOUND', message: 'Not found.' });
  });
  // The chat bundle and its language catalogues, loaded from beside /widget.js: under their
  // content-hashed names (what the loader asks for) cached for good, under plain names briefly.
  app.get('/:file', async (req, reply) => {
    const file = (req.params as { file: string }).file;
    if (!WIDGET_FILE_RE.test(file)) return reply.code(404).send({ code: 'NOT_FOUND', message: 'Not found.' });
    if (await sendFile(req, widgetFile(reply), dirs.widget, file, HASHED_RE.test(file) ? IMMUTABLE : LOADER_CACHE)) return reply;
    return reply.code(404).send({ code: 'NOT_FOUND', message: 'Not found.' });
  });

  app.get('/console', async (_req, reply) => reply.redirect('/console/'));
  app.get('/console/*', async (req, reply) => {
    const rel = (req.params as { '*': string })['*'] || 'index.html';
    secure(reply, CONSOLE_CSP);
    const immutable = rel.startsWith('assets/') ? IMMUTABLE : 'no-cache';
    if (await sendFile(req, reply, dirs.console, rel, immutable)) return reply;
    // SPA fallback: any other path is a client-side route.
    if (await sendFile(req, reply, dirs.console, 'index.html', 'no-cache')) return reply;
    return reply.code(503).send({ code: 'NOT_FOUND', message: 'The console is not built; run `pnpm build`.' });
  });
}
