/**
 * The OpenAPI document (GET /v1/openapi.json) is valid OpenAPI 3.1, generated from the routes'
 * TypeBox schemas, and names every /v1 REST route the gateway serves; /docs renders it under the
 * console's strict CSP, with no inline script or style.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { CONSOLE_CSP } from '../src/http/static';
import { useStack } from './stack';

const s = useStack();

/** Every route the gateway registered, as `METHOD path`, read from Fastify's own route tree. */
function registeredRoutes(tree: string): string[] {
  const out: string[] = [];
  const stack: { depth: number; path: string }[] = [];
  for (const line of tree.split('\n')) {
    const m = /^([│ ]*)(?:[├└]── )(.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = (m[1] as string).length;
    while (stack.length && (stack.at(-1) as { depth: number }).depth >= depth) stack.pop();
    const path = (stack.at(-1)?.path ?? '') + (m[2] as string);
    stack.push({ depth, path });
    for (const method of (m[3] ?? '').split(',').map((x) => x.trim()).filter(Boolean)) out.push(`${method} ${path}`);
  }
  return out;
}

/**
 * A path with its parameters' names dropped: `/v1/x/:id` and OpenAPI's `/v1/x/{id}` both become
 * `/v1/x/{}`. (Fastify prints `:id|:site` where two routes name the same segment differently.)
 */
const shape = (p: string) => p.replace(/\{[^}/]+\}/g, '{}').replace(/:[A-Za-z0-9_]+(?:\|:[A-Za-z0-9_]+)*/g, '{}');
/** The two WebSocket endpoints are not REST: PROTOCOL.md describes them. */
const SOCKETS = ['GET /v1/visitor', 'GET /v1/operator'];

describe('OpenAPI document', () => {
  it('is valid OpenAPI 3.1 and has every /v1 REST route', async () => {
    const res = await fetch(`${s.gw.base}/v1/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(doc as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);

    const routes = registeredRoutes(s.gw.app.printRoutes({ commonPrefix: false })).filter((r) => / \/v1\//.test(r) && !r.startsWith('HEAD ') && !r.startsWith('OPTIONS '));
    // Sanity: the parser found the API's routes.
    expect(routes).toContain('POST /v1/api/conversations/:id/messages');
    expect(routes).toContain('GET /v1/api-keys');
    expect(routes.length).toBeGreaterThan(30);
    const documented = new Set(Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${shape(path)}`)));
    const missing = routes.filter((r) => !SOCKETS.includes(r)).filter((r) => {
      const [method, path] = r.split(' ') as [string, string];
      return !documented.has(`${method} ${shape(path)}`);
    });
    expect(missing).toEqual([]);
  });

  it('describes the API routes with their schemas and the bearer scheme', async () => {
    type Op = { security?: unknown; parameters?: { name: string }[]; requestBody: { content: Record<string, { schema: { properties: Record<string, { maxLength?: number }> } }> }; responses: Record<string, unknown> };
    const doc = (await (await fetch(`${s.gw.base}/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, Op>>; components: { securitySchemes: Record<string, unknown> } };
    const post = doc.paths['/v1/api/conversations/{id}/messages']?.post as Op;
    expect(post.security).toEqual([{ apiKey: [] }]);
    expect(post.requestBody.content['application/json']?.schema.properties.text?.maxLength).toBeGreaterThan(0);
    expect(post.responses['201']).toBeDefined();
    expect(post.responses['403']).toBeDefined();
    const list = doc.paths['/v1/api/conversations']?.get as Op;
    expect((list.parameters ?? []).map((p) => p.name)).toEqual(expect.arrayContaining(['site', 'status', 'operator', 'team', 'visitor', 'from', 'to', 'cursor', 'limit']));
    expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    // The demo page, the widget's and the console's files are not API.
    expect(Object.keys(doc.paths).every((p) => p.startsWith('/v1/'))).toBe(true);
  });
});

describe('/docs', () => {
  it('is served with the strict CSP and no inline script or style', async () => {
    const res = await fetch(`${s.gw.base}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const html = await res.text();
    // Every script has a src (none inline), no style element or attribute, no inline handler.
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/\bsrc="\/docs\/docs\.js"/);
      expect((body as string).trim()).toBe('');
    }
    expect(html).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=/i);
    expect(html).not.toMatch(/https?:\/\//);
    for (const [path, type] of [['/docs/docs.js', 'text/javascript'], ['/docs/docs.css', 'text/css']] as const) {
      const r = await fetch(`${s.gw.base}${path}`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toContain(type);
      expect(r.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
      const text = await r.text();
      // Self-contained: nothing fetched from elsewhere; the script builds the page with DOM calls, not innerHTML.
      expect(text).not.toMatch(/https?:\/\//);
      if (path.endsWith('.js')) {
        expect(text).toContain("fetch('/v1/openapi.json')");
        expect(text).not.toMatch(/innerHTML|eval\(|new Function/);
      }
    }
  });
});
