/**
 * The OpenAPI document (GET /v1/openapi.json) is valid OpenAPI 3.1, generated from the routes'
 * TypeBox schemas, and names every /v1 REST route the gateway serves; its `webhooks` section has an
 * entry for every type the webhook consumer delivers, and bodies really delivered to a receiver
 * validate against the schemas it publishes; /docs renders it under the console's strict CSP, with
 * no inline script or style.
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../src/domain/events';
import { WEBHOOK_TEST_TYPE } from '../src/domain/webhooks';
import { CONSOLE_CSP } from '../src/http/static';
import { ADMIN, Http, type TestGateway, type TestRedis, cid, createOp, onlineOperator, sleep, testGateway, testRedis, visitor } from './harness';

// ---------------------------------------------------------------- a JSON Schema 2020-12 validator

/** Ajv as the OpenAPI validator package uses it (its own dependency: OpenAPI 3.1 schemas are JSON Schema 2020-12). */
interface AjvLike {
  compile(schema: object): ((data: unknown) => boolean) & { errors?: unknown[] | null };
}
const fromValidator = createRequire(createRequire(import.meta.url).resolve('@seriousme/openapi-schema-validator'));
const Ajv2020 = fromValidator('ajv/dist/2020') as new (o: object) => AjvLike;
const addFormats = fromValidator('ajv-formats') as (a: AjvLike) => void;
const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);

// ---------------------------------------------------------------- the stack, with a webhook receiver on 127.0.0.1

interface Got {
  headers: http.IncomingHttpHeaders;
  body: string;
}
const received: Got[] = [];
let receiver: http.Server;
const s = {} as { redis: TestRedis; gw: TestGateway; admin: Http };

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  s.redis = await testRedis();
  // The receiver is on loopback: allowed for this gateway only (WEBHOOKS_ALLOW_PRIVATE); deliveries polled fast.
  s.gw = await testGateway(s.redis.url, { config: { webhooksAllowPrivate: true }, testLimits: { webhooks: { pollMs: 100, retryBaseMs: 100, retryCapMs: 400 } } });
  s.admin = new Http(s.gw.base);
  await s.admin.login(ADMIN.email, ADMIN.password);
});

afterAll(async () => {
  await s.gw?.close();
  await s.redis?.cleanup();
  receiver?.closeAllConnections();
  await new Promise((r) => receiver?.close(r));
});

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

type WebhookOp = {
  post: {
    parameters: { name: string; in: string; required?: boolean; schema: object }[];
    requestBody: { required?: boolean; content: Record<string, { schema: { properties: { type: { const: string }; data: object } } }> };
    responses: Record<string, unknown>;
  };
};
const getDoc = async () => (await (await fetch(`${s.gw.base}/v1/openapi.json`)).json()) as { webhooks?: Record<string, WebhookOp> };

describe('OpenAPI webhooks', () => {
  it('has one entry per type the webhook consumer delivers, each with the three headers and its body schema', async () => {
    const doc = await getDoc();
    expect(doc.webhooks).toBeDefined();
    const hooks = doc.webhooks as Record<string, WebhookOp>;
    // What the consumer takes from the log: its `types`, or every event type when it names none.
    const consumer = s.gw.ctx.domain.webhooks.consumer();
    const accepted = consumer.types ?? EVENT_TYPES;
    expect(accepted.length).toBeGreaterThan(10);
    // Every type it delivers, the hand-sent test event, and nothing else.
    expect(Object.keys(hooks).sort()).toEqual([...new Set([...accepted, ...EVENT_TYPES, WEBHOOK_TEST_TYPE])].sort());
    for (const [type, item] of Object.entries(hooks)) {
      const op = item.post;
      expect(op, type).toBeDefined();
      const headers = op.parameters.filter((p) => p.in === 'header' && p.required).map((p) => p.name);
      expect(headers, type).toEqual(['webhook-id', 'webhook-timestamp', 'webhook-signature']);
      const schema = op.requestBody.content['application/json']?.schema;
      expect(schema?.properties.type.const, type).toBe(type);
      expect(schema?.properties.data, type).toBeDefined();
      expect(Object.keys(op.responses)).toContain('2XX');
      // Each schema compiles as JSON Schema 2020-12 (strict: no unknown keywords).
      expect(() => ajv.compile(schema as object), type).not.toThrow();
    }
  });

  it('bodies really delivered to a receiver validate against the documented schemas (and a wrong one does not)', async () => {
    const doc = await getDoc();
    const hooks = doc.webhooks as Record<string, WebhookOp>;
    const validators = new Map(Object.entries(hooks).map(([type, item]) => [type, ajv.compile(item.post.requestBody.content['application/json']?.schema as object)]));
    const port = (receiver.address() as AddressInfo).port;
    const made = await s.admin.req<{ id: string; secret: string }>('POST', '/v1/sites/demo/webhooks', { url: `http://127.0.0.1:${port}/hook`, events: 'all' });
    expect(made.status).toBe(201);

    // Events of many types: a visitor identifies and writes; a bot (an API key) writes, assigns, transfers with a
    // note, resolves and reopens; the visitor rates; an operator goes online; and a test event.
    const key = await s.admin.req<{ secret: string }>('POST', '/v1/api-keys', { name: 'Docs bot', access: 'write', site: 'demo' });
    const api = (method: string, path: string, body?: unknown) =>
      fetch(s.gw.base + path, { method, headers: { authorization: `Bearer ${key.body.secret}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body !== undefined ? JSON.stringify(body) : null });
    const types = () => new Set(received.map((g) => (JSON.parse(g.body) as { type: string }).type));
    const v = await visitor(s.gw);
    await v.next('synced');
    v.send({ type: 'identify', user: { id: 'user-42', name: 'Ada' } });
    v.send({ type: 'send', cid: cid(), text: 'hello' });
    const ack = await v.next('ack');
    const ann = await createOp(s.admin, { email: 'docs-ann@example.com', name: 'Ann', sites: ['demo'] });
    const bob = await createOp(s.admin, { email: 'docs-bob@example.com', name: 'Bob', sites: ['demo'] });
    const desk = await onlineOperator(s.gw, ann.http);
    expect((await api('POST', `/v1/api/conversations/${ack.conv}/messages`, { text: 'A bot says hi.' })).status).toBe(201);
    expect((await api('POST', `/v1/api/conversations/${ack.conv}/assign`, { operator: ann.id })).status).toBe(200);
    expect((await api('POST', `/v1/api/conversations/${ack.conv}/transfer`, { operator: bob.id, note: 'for Bob' })).status).toBe(200);
    expect((await api('POST', `/v1/api/conversations/${ack.conv}/resolve`)).status).toBe(200);
    v.send({ type: 'rate', conv: ack.conv, rating: 'good', comment: 'thanks' });
    // Reopened only once the rating is in (a resolved conversation is what a visitor rates).
    for (const until = Date.now() + 10_000; !types().has('conversation.rated') && Date.now() < until; ) await sleep(50);
    expect((await api('POST', `/v1/api/conversations/${ack.conv}/reopen`, { operator: ann.id })).status).toBe(200);
    const test = await s.admin.req<{ eventId: string }>('POST', `/v1/sites/demo/webhooks/${made.body.id}/test`);
    expect(test.status).toBe(202);

    const want = ['conversation.created', 'conversation.queued', 'visitor.identified', 'message.created', 'conversation.rated', 'conversation.assigned', 'conversation.transferred', 'note.created', 'conversation.resolved', 'conversation.reopened', WEBHOOK_TEST_TYPE];
    for (const until = Date.now() + 15_000; !want.every((t) => types().has(t)) && Date.now() < until; ) await sleep(100);
    await sleep(300);
    expect([...types()]).toEqual(expect.arrayContaining(want));

    const wh = new Webhook(made.body.secret);
    const failures: string[] = [];
    for (const g of received) {
      const h = { 'webhook-id': String(g.headers['webhook-id']), 'webhook-timestamp': String(g.headers['webhook-timestamp']), 'webhook-signature': String(g.headers['webhook-signature']) };
      // The headers the document names, as it describes them, and a signature that verifies.
      for (const p of hooks[WEBHOOK_TEST_TYPE]?.post.parameters ?? []) expect(ajv.compile(p.schema)(h[p.name as keyof typeof h]), p.name).toBe(true);
      expect(() => wh.verify(g.body, h)).not.toThrow();
      const body = JSON.parse(g.body) as { type: string; data: Record<string, unknown> };
      const check = validators.get(body.type);
      if (!check) failures.push(`${body.type}: not documented`);
      else if (!check(body)) failures.push(`${body.type}: ${JSON.stringify(check.errors)} in ${g.body}`);
    }
    expect(failures).toEqual([]);
    expect(received.length).toBeGreaterThanOrEqual(want.length);

    // The schemas are strict: an extra field, a missing one or a wrong type is refused.
    const msg = JSON.parse(received.find((g) => JSON.parse(g.body).type === 'message.created')?.body ?? '{}') as { type: string; timestamp: string; data: Record<string, unknown> };
    const check = validators.get('message.created') as (d: unknown) => boolean;
    expect(check(msg)).toBe(true);
    expect(check({ ...msg, data: { ...msg.data, text: 'not sent' } })).toBe(false);
    const { entry: _entry, ...noEntry } = msg.data;
    expect(check({ ...msg, data: noEntry })).toBe(false);
    expect(check({ ...msg, timestamp: 'yesterday' })).toBe(false);
    expect(check({ ...msg, type: 'message.deleted' })).toBe(false);
    v.close();
    desk.close();
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
