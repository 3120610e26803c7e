/**
 * The demo page, the widget's files and the console SPA, with the security
 * headers each needs. Files are read from the packages' dist folders.
 */
import { readFile } from 'node:fs/promises';
import { extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
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

/**
 * Sends a file below `root`; false when there is none. (Returns a boolean, not the
 * reply: a Fastify reply is a thenable, and awaiting it yields undefined.)
 */
async function sendFile(reply: FastifyReply, root: string, rel: string, cache: string): Promise<boolean> {
  const base = resolve(root);
  const path = resolve(join(base, rel));
  if (!isInside(base, path)) return false;
  let body: Buffer;
  try {
    body = await readFile(path);
  } catch {
    return false;
  }
  reply.header('content-type', TYPES[extname(path)] ?? 'application/octet-stream').header('cache-control', cache).send(body);
  return true;
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
  app.get('/widget.js', async (_req, reply) => {
    if (await sendFile(reply.header('access-control-allow-origin', '*'), dirs.widget, 'widget.js', 'public, max-age=300')) return reply;
    return reply.code(503).send({ code: 'NOT_FOUND', message: 'The widget is not built; run `pnpm build`.' });
  });
  // Everything else the loader loads sits beside it.
  app.get('/widget/:file', async (req, reply) => {
    if (await sendFile(reply.header('access-control-allow-origin', '*'), dirs.widget, (req.params as { file: string }).file, 'public, max-age=300')) return reply;
    return reply.code(404).send({ code: 'NOT_FOUND', message: 'Not found.' });
  });
  // The chat bundle and its language catalogues, loaded from beside /widget.js.
  app.get('/:file', async (req, reply) => {
    const file = (req.params as { file: string }).file;
    if (!WIDGET_FILE_RE.test(file)) return reply.code(404).send({ code: 'NOT_FOUND', message: 'Not found.' });
    if (await sendFile(reply.header('access-control-allow-origin', '*'), dirs.widget, file, 'public, max-age=300')) return reply;
    return reply.code(404).send({ code: 'NOT_FOUND', message: 'Not found.' });
  });

  app.get('/console', async (_req, reply) => reply.redirect('/console/'));
  app.get('/console/*', async (req, reply) => {
    const rel = (req.params as { '*': string })['*'] || 'index.html';
    secure(reply, CONSOLE_CSP);
    const immutable = rel.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
    if (await sendFile(reply, dirs.console, rel, immutable)) return reply;
    // SPA fallback: any other path is a client-side route.
    if (await sendFile(reply, dirs.console, 'index.html', 'no-cache')) return reply;
    return reply.code(503).send({ code: 'NOT_FOUND', message: 'The console is not built; run `pnpm build`.' });
  });
}
