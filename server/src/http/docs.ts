/**
 * The API reference: `GET /v1/openapi.json` (the OpenAPI 3.1 document @fastify/swagger generates from
 * the routes' TypeBox schemas) and a small page at `/docs` that renders it. The page is three files
 * served from here under the console's strict CSP: no inline script or style, nothing from elsewhere.
 *
 * The document's top-level `webhooks` (OpenAPI 3.1) comes from `openapiWebhooks()` below, passed to
 * @fastify/swagger as its `openapi.webhooks` option (app.ts): one entry per type a webhook can carry,
 * its body the TypeBox schema the delivery code builds it with (domain/webhook-payloads.ts), and the
 * three Standard Webhooks headers.
 */
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { WEBHOOK_BODIES, WEBHOOK_TEST_TYPE, WEBHOOK_TYPES } from '../domain/webhook-payloads';
import { WEBHOOK_RETRY_FOR_MS, WEBHOOK_TIMEOUT_MS } from '../domain/webhooks';
import { CONSOLE_CSP } from './static';

/** The three Standard Webhooks headers every delivery carries (https://www.standardwebhooks.com/). */
export const WEBHOOK_HEADERS = [
  {
    name: 'webhook-id',
    in: 'header',
    required: true,
    description: 'The event id: the same on every retry of the event. Keep the ids you handled (a day is enough) and drop a repeat.',
    schema: { type: 'string', minLength: 1, maxLength: 256 },
  },
  {
    name: 'webhook-timestamp',
    in: 'header',
    required: true,
    description: 'When this attempt was sent, in unix seconds. Refuse one too far from your clock (the Standard Webhooks libraries allow 5 minutes).',
    schema: { type: 'string', pattern: '^[0-9]+$' },
  },
  {
    name: 'webhook-signature',
    in: 'header',
    required: true,
    description:
      'Space-separated `v1,<signature>`: base64 of HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<raw body>`, keyed with the bytes of the endpoint secret after `whsec_` (base64-decoded). Two during the overlap after a secret rotation: accept the request if any one matches.',
    schema: { type: 'string', pattern: '^v1,[A-Za-z0-9+/]+={0,2}( v1,[A-Za-z0-9+/]+={0,2})*$' },
  },
] as const;

/** A schema as plain JSON (TypeBox's own symbol keys dropped). */
const plain = (s: unknown): Record<string, unknown> => JSON.parse(JSON.stringify(s)) as Record<string, unknown>;

/** The type of @fastify/swagger's `openapi.webhooks` option (OpenAPI 3.1's Webhooks Object). */
type WebhooksOption = NonNullable<FastifyDynamicSwaggerOptions['openapi']> extends infer O ? (O extends { webhooks?: infer W } ? NonNullable<W> : never) : never;

/** The OpenAPI 3.1 `webhooks` object: one POST per type a webhook endpoint can receive. */
export function openapiWebhooks(): WebhooksOption {
  const out: Record<string, { post: Record<string, unknown> }> = {};
  for (const type of WEBHOOK_TYPES) {
    const schema = plain(WEBHOOK_BODIES[type]);
    const what = typeof schema.description === 'string' ? schema.description : type;
    out[type] = {
      post: {
        operationId: `webhook_${type.replace(/[^A-Za-z0-9]+/g, '_')}`,
        tags: ['Webhooks'],
        summary: `${type}: ${what}`,
        description:
          type === WEBHOOK_TEST_TYPE
            ? 'Sent to one endpoint when an admin asks for a test event (`POST /v1/sites/{site}/webhooks/{id}/test`), whatever events it chose.'
            : `Sent to each enabled endpoint of the event's site that chose \`${type}\` (or \`all\`). At least once, with the same \`webhook-id\` on every retry; in order per conversation (the next event of a conversation waits until this one is delivered).`,
        parameters: WEBHOOK_HEADERS,
        requestBody: { required: true, content: { 'application/json': { schema } } },
        responses: {
          '2XX': { description: 'Delivered: any 2xx answer, within the time limit. The answer body is kept (its first KiB) in the delivery log.' },
          default: {
            description: `Any other status, a redirect (never followed), or no answer within ${WEBHOOK_TIMEOUT_MS / 1000} s: retried with exponential backoff for ${WEBHOOK_RETRY_FOR_MS / 3_600_000} h, same \`webhook-id\`; an endpoint whose every attempt fails for a day is disabled.`,
          },
        },
      },
    };
  }
  return out as WebhooksOption;
}

const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hark API reference</title>
<link rel="stylesheet" href="/docs/docs.css">
<script defer src="/docs/docs.js"></script>
</head>
<body>
<header><h1>Hark API reference</h1><p>Generated from <a href="/v1/openapi.json">/v1/openapi.json</a>. Authenticate with <code>Authorization: Bearer hark_…</code> (an API key an admin creates).</p><nav id="toc"></nav></header>
<main id="ops"><p>Loading…</p></main>
</body>
</html>
`;

const DOCS_CSS = `body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1a1a1a;background:#fafafa}
header,main{max-width:60rem;margin:0 auto;padding:1rem}
h1{margin:.5rem 0}h2{margin:2rem 0 .5rem;font-size:1.2rem;border-bottom:1px solid #ddd}
section.op{background:#fff;border:1px solid #e2e2e2;border-radius:6px;margin:1rem 0;padding:.75rem 1rem}
.m{display:inline-block;min-width:4.5rem;font:600 .8rem ui-monospace,monospace;text-transform:uppercase;padding:.1rem .4rem;border-radius:4px;background:#eee;text-align:center}
.m.get{background:#e3f1ff}.m.post{background:#e5f7e8}.m.patch{background:#fff4dc}.m.delete{background:#fde7e7}
.path{font:600 .95rem ui-monospace,monospace;margin-left:.5rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0;font-size:.9rem}td,th{border-top:1px solid #eee;padding:.25rem .5rem;text-align:left;vertical-align:top}
pre{background:#f4f4f5;padding:.5rem;overflow:auto;font-size:.8rem;max-height:24rem}
nav a{margin-right:1rem}.muted{color:#666}h3{font-size:1rem;margin:.75rem 0 .25rem}
`;

/** Renders the document with DOM calls only (text as text, no HTML from the document). */
const DOCS_JS = `'use strict';
(function () {
  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }
  function resolve(doc, s) { var n = 0; while (s && s.$ref && n++ < 20) { var parts = s.$ref.replace(/^#\\//, '').split('/'); var cur = doc; for (var i = 0; i < parts.length; i++) cur = cur && cur[parts[i]]; s = cur; } return s || {}; }
  function schemaBlock(doc, s) { return el('pre', '', JSON.stringify(resolve(doc, s), null, 2)); }
  function render(doc) {
    var main = document.getElementById('ops'); var toc = document.getElementById('toc');
    main.textContent = '';
    var groups = {};
    Object.keys(doc.paths || {}).sort().forEach(function (path) {
      var item = doc.paths[path];
      ['get', 'post', 'put', 'patch', 'delete'].forEach(function (method) {
        var op = item[method]; if (!op) return;
        var tag = (op.tags && op.tags[0]) || 'Other';
        (groups[tag] = groups[tag] || []).push({ path: path, method: method, op: op });
      });
    });
    Object.keys(groups).sort(function (a, b) { return a === 'Other' ? 1 : b === 'Other' ? -1 : a.localeCompare(b); }).forEach(function (tag, gi) {
      var h = el('h2', '', tag); h.id = 'g' + gi; main.appendChild(h);
      var a = el('a', '', tag); a.href = '#g' + gi; toc.appendChild(a);
      groups[tag].forEach(function (o) { main.appendChild(opSection(doc, o.method, o.path, o.op)); });
    });
    // OpenAPI 3.1 webhooks: what the gateway POSTs to the endpoints a site registers.
    var hooks = doc.webhooks || {};
    var names = Object.keys(hooks).sort();
    if (names.length) {
      var wh = el('h2', '', 'Webhooks'); wh.id = 'webhooks'; main.appendChild(wh);
      var wa = el('a', '', 'Webhooks'); wa.href = '#webhooks'; toc.appendChild(wa);
      main.appendChild(el('p', 'muted', 'Sent by the gateway to your endpoint (POST, JSON body), signed per the Standard Webhooks specification.'));
      names.forEach(function (name) { if (hooks[name].post) main.appendChild(opSection(doc, 'post', name, hooks[name].post)); });
    }
  }
  function opSection(doc, method, path, op) {
    var sec = el('section', 'op');
    var head = el('div'); head.appendChild(el('span', 'm ' + method, method)); head.appendChild(el('span', 'path', path)); sec.appendChild(head);
    if (op.summary) sec.appendChild(el('p', '', op.summary));
    if (op.description) sec.appendChild(el('p', 'muted', op.description));
    var params = op.parameters || [];
    if (params.length) {
      sec.appendChild(el('h3', '', 'Parameters'));
      var t = el('table'); var hr = el('tr'); ['name', 'in', 'type', 'required', 'description'].forEach(function (c) { hr.appendChild(el('th', '', c)); }); t.appendChild(hr);
      params.forEach(function (p) { var s = resolve(doc, p.schema); var r = el('tr'); [p.name, p.in, s.type || (s.anyOf ? 'one of' : ''), p.required ? 'yes' : '', p.description || s.description || ''].forEach(function (c) { r.appendChild(el('td', '', String(c))); }); t.appendChild(r); });
      sec.appendChild(t);
    }
    var body = op.requestBody && op.requestBody.content && op.requestBody.content['application/json'];
    if (body) { sec.appendChild(el('h3', '', 'Body')); sec.appendChild(schemaBlock(doc, body.schema)); }
    var res = op.responses || {};
    Object.keys(res).forEach(function (code) {
      var r = res[code]; var c = r.content && (r.content['application/json'] || r.content[Object.keys(r.content)[0]]);
      sec.appendChild(el('h3', '', 'Response ' + code + (r.description ? ' — ' + r.description : '')));
      if (c && c.schema) sec.appendChild(schemaBlock(doc, c.schema));
    });
    return sec;
  }
  fetch('/v1/openapi.json').then(function (r) { return r.json(); }).then(render).catch(function (e) { document.getElementById('ops').textContent = 'Could not load the API document: ' + e; });
})();
`;

function secure(reply: FastifyReply, type: string): FastifyReply {
  return reply
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'strict-origin-when-cross-origin')
    .header('x-frame-options', 'DENY')
    .header('cross-origin-opener-policy', 'same-origin')
    .header('cache-control', 'no-cache')
    .header('content-type', type);
}

export function docsRoutes(app: FastifyInstance): void {
  app.get('/v1/openapi.json', { schema: { summary: 'The OpenAPI 3.1 document of this API', tags: ['Reference'] } }, async () => app.swagger());
  app.get('/docs', async (_req, reply) => secure(reply, 'text/html; charset=utf-8').send(DOCS_HTML));
  app.get('/docs/docs.js', async (_req, reply) => secure(reply, 'text/javascript; charset=utf-8').send(DOCS_JS));
  app.get('/docs/docs.css', async (_req, reply) => secure(reply, 'text/css; charset=utf-8').send(DOCS_CSS));
}
