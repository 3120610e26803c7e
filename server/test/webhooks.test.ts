/**
 * Webhooks end to end: real Redis, real gateways, a real HTTP receiver on 127.0.0.1.
 * Signatures are checked by `verify` below, written from the Standard Webhooks spec
 * (not with the gateway's own signing code).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomId } from '@hark/shared';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EventInput } from '../src/domain/events';
import { type WebhookSettings, postWebhook } from '../src/domain/webhooks';
import { ADMIN, Http, type TestGateway, type TestRedis, cid, createOp, onlineOperator, sleep, testGateway, testRedis, visitor, waitFor } from './harness';

// ---------------------------------------------------------------- the receiver

interface Got {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}
type Handler = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;
const received: Got[] = [];
const handlers = new Map<string, Handler>();
const hanging: http.ServerResponse[] = [];
let receiver: http.Server;
let rport = 0;
const target = (path: string) => `http://127.0.0.1:${rport}${path}`;
const at = (path: string) => received.filter((g) => g.path === path);

/** Checks `webhook-signature` against a secret, from the spec: v1,base64(HMAC-SHA256(base64-decoded secret, id.ts.body)). */
function verify(secret: string, g: Got): boolean {
  expect(secret.startsWith('whsec_')).toBe(true);
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const id = String(g.headers['webhook-id']);
  const ts = String(g.headers['webhook-timestamp']);
  if (!/^\d+$/.test(ts) || Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false;
  const expected = createHmac('sha256', key).update(`${id}.${ts}.${g.body}`).digest();
  return String(g.headers['webhook-signature'])
    .split(' ')
    .some((part) => {
      const [v, sig] = part.split(',');
      if (v !== 'v1' || !sig) return false;
      const got = Buffer.from(sig, 'base64');
      return got.length === expected.length && timingSafeEqual(got, expected);
    });
}

/** The same check by the reference library (npm `standardwebhooks`): throws unless a signature verifies. */
function libVerifies(secret: string, g: Got): boolean {
  const h = { 'webhook-id': String(g.headers['webhook-id']), 'webhook-timestamp': String(g.headers['webhook-timestamp']), 'webhook-signature': String(g.headers['webhook-signature']) };
  try {
    new Webhook(secret).verify(g.body, h);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- the stack

const FAST: Partial<WebhookSettings> = { pollMs: 100, retryBaseMs: 100, retryCapMs: 400, timeoutMs: 1500 };
let redis: TestRedis;
let gw: TestGateway;
let gw2: TestGateway;
let admin: Http;

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      const h = handlers.get(path);
      if (h) h(req, res, at(path).length);
      else res.end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  rport = (receiver.address() as AddressInfo).port;
  redis = await testRedis();
  const opts = { config: { webhooksAllowPrivate: true }, testLimits: { webhooks: FAST } };
  gw = await testGateway(redis.url, opts);
  gw2 = await testGateway(redis.url, opts);
  admin = new Http(gw.base);
  await admin.login(ADMIN.email, ADMIN.password);
});

afterAll(async () => {
  for (const r of hanging) r.destroy();
  await gw?.close();
  await gw2?.close();
  await redis?.cleanup();
  receiver?.closeAllConnections();
  await new Promise((r) => receiver?.close(r));
});

interface Hook {
  id: string;
  url: string;
  enabled: boolean;
  secret?: string;
  events: string[] | 'all';
  disabledReason: string | null;
}
interface DeliveryRow {
  id: string;
  eventId: string;
  type: string;
  state: string;
  attempts: number;
  lastStatus: number | null;
  responseExcerpt: string | null;
  durationMs: number | null;
  nextRetryAt: number | null;
  error: string | null;
  truncated: boolean;
}

const created: string[] = [];
let api: () => Http = () => admin;

async function hook(path: string, events: string[] | 'all' = 'all'): Promise<Hook & { secret: string }> {
  const r = await api().req<Hook & { secret: string }>('POST', '/v1/sites/demo/webhooks', { url: target(path), events, description: path });
  expect(r.status).toBe(201);
  created.push(r.body.id);
  return r.body;
}
async function deliveries(id: string): Promise<DeliveryRow[]> {
  const r = await api().req<{ deliveries: DeliveryRow[] }>('GET', `/v1/sites/demo/webhooks/${id}/deliveries`);
  expect(r.status).toBe(200);
  return r.body.deliveries;
}
const emit = (g: TestGateway, e: EventInput, id = `t_${randomId(12)}`) => g.ctx.domain.deps.emit(e, id).then(() => id);

afterEach(async () => {
  // Each test's endpoints go away with it, so later tests' events do not reach them.
  for (const id of created.splice(0)) await api().req('DELETE', `/v1/sites/demo/webhooks/${id}`);
});

// ---------------------------------------------------------------- tests

describe('webhooks', () => {
  it('admins manage endpoints; the secret shows once; limits and access are enforced', async () => {
    const h = await hook('/crud', ['conversation.resolved']);
    expect(h.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(h.secret.slice(6), 'base64').length).toBeGreaterThanOrEqual(24);
    const got = await admin.req<Hook>('GET', `/v1/sites/demo/webhooks/${h.id}`);
    expect(got.status).toBe(200);
    expect(got.body).not.toHaveProperty('secret');
    expect(got.body.events).toEqual(['conversation.resolved']);
    const list = await admin.req<{ webhooks: Hook[]; disabled: unknown[] }>('GET', '/v1/sites/demo/webhooks');
    expect(list.body.webhooks.map((w) => w.id)).toContain(h.id);
    expect(list.body.webhooks.every((w) => !('secret' in w))).toBe(true);
    const upd = await admin.req<Hook>('PATCH', `/v1/sites/demo/webhooks/${h.id}`, { events: 'all', enabled: false });
    expect(upd.body).toMatchObject({ events: 'all', enabled: false });
    expect((await admin.req('POST', '/v1/sites/demo/webhooks', { url: target('/x'), events: ['no.such'] })).status).toBe(400);
    expect((await admin.req('POST', '/v1/sites/demo/webhooks', { url: 'ftp://example.com/' })).status).toBe(400);
    expect((await admin.req('GET', '/v1/sites/nope/webhooks')).status).toBe(404);

    // The per-site limit (MAX_WEBHOOKS_PER_SITE = 20).
    const more: string[] = [];
    for (let i = 1; i < 20; i++) more.push((await hook(`/n${i}`)).id);
    const over = await admin.req<{ code: string }>('POST', '/v1/sites/demo/webhooks', { url: target('/over') });
    expect(over.status).toBe(409);
    expect(over.body.code).toBe('TOO_MANY_WEBHOOKS');

    // Only admins.
    const op = await createOp(admin, { email: 'wh-op@example.com', name: 'Op', role: 'supervisor' });
    expect((await op.http.req('GET', '/v1/sites/demo/webhooks')).status).toBe(403);
    expect((await op.http.req('POST', '/v1/sites/demo/webhooks', { url: target('/z') })).status).toBe(403);

    expect((await admin.req('DELETE', `/v1/sites/demo/webhooks/${h.id}`)).status).toBe(200);
    expect((await admin.req('GET', `/v1/sites/demo/webhooks/${h.id}`)).status).toBe(404);
  });

  it('an operator resolves a chat: the receiver gets conversation.resolved, signed per the spec', async () => {
    const h = await hook('/resolved', ['conversation.resolved']);
    const ana = await createOp(admin, { email: 'wh-ana@example.com', name: 'Ana' });
    const op = await onlineOperator(gw, ana.http);
    const v = await visitor(gw);
    await v.next('synced');
    v.send({ type: 'send', cid: cid(), text: 'hello' });
    const ack = await v.next('ack');
    await op.next('conv', (f) => f.conv.id === ack.conv && f.conv.status === 'open');
    op.send({ type: 'resolve', conv: ack.conv });
    const g = await waitFor('the resolved webhook', () => at('/resolved')[0]);
    expect(g.headers['content-type']).toBe('application/json');
    expect(verify(h.secret, g)).toBe(true);
    expect(verify(`whsec_${Buffer.alloc(32).toString('base64')}`, g)).toBe(false);
    expect(libVerifies(h.secret, g)).toBe(true);
    expect(libVerifies(`whsec_${Buffer.alloc(32).toString('base64')}`, g)).toBe(false);
    const body = JSON.parse(g.body) as { type: string; timestamp: string; data: { conv: string; site: string; op?: string } };
    expect(body.type).toBe('conversation.resolved');
    expect(new Date(body.timestamp).toISOString()).toBe(body.timestamp);
    expect(body.data).toMatchObject({ conv: ack.conv, site: 'demo', op: ana.id });
    // Only the types it asked for: the messages and the assignment were not sent.
    await sleep(300);
    expect(at('/resolved').length).toBe(1);
    const log = await waitFor('delivered in the log', async () => (await deliveries(h.id)).find((d) => d.state === 'delivered'));
    expect(log).toMatchObject({ eventId: g.headers['webhook-id'], type: 'conversation.resolved', attempts: 1, lastStatus: 200, responseExcerpt: 'ok', nextRetryAt: null });
    v.close();
    op.close();
  });

  it('retries after 500s with the same webhook-id, then delivers', async () => {
    const h = await hook('/flaky');
    handlers.set('/flaky', (_req, res, n) => {
      res.statusCode = n <= 2 ? 500 : 200;
      res.end(n <= 2 ? 'boom' : 'fine');
    });
    const id = await emit(gw, { type: 'conversation.resolved', site: 'demo', conv: `c${randomId(8)}` });
    const d = await waitFor('delivered after retries', async () => (await deliveries(h.id)).find((x) => x.state === 'delivered'));
    const got = at('/flaky');
    expect(got.length).toBe(3);
    expect(new Set(got.map((g) => g.headers['webhook-id']))).toEqual(new Set([id]));
    for (const g of got) expect(verify(h.secret, g)).toBe(true);
    expect(got.map((g) => g.body).every((b) => b === got[0]?.body)).toBe(true);
    expect(d).toMatchObject({ eventId: id, attempts: 3, lastStatus: 200 });
  });

  it('keeps order per conversation: a failing delivery holds up its conversation only', async () => {
    const h = await hook('/order');
    let failX = true;
    const convX = `cx${randomId(8)}`;
    const convY = `cy${randomId(8)}`;
    handlers.set('/order', (req, res) => {
      void req;
      const last = at('/order').at(-1);
      const conv = (JSON.parse(last?.body ?? '{}') as { data?: { conv?: string } }).data?.conv;
      res.statusCode = conv === convX && failX ? 500 : 200;
      res.end();
    });
    const x1 = await emit(gw, { type: 'conversation.queued', site: 'demo', conv: convX });
    const x2 = await emit(gw, { type: 'conversation.resolved', site: 'demo', conv: convX });
    const y1 = await emit(gw2, { type: 'conversation.queued', site: 'demo', conv: convY });
    await waitFor('the other conversation delivered', () => at('/order').find((g) => g.headers['webhook-id'] === y1));
    await waitFor('x1 tried twice', () => at('/order').filter((g) => g.headers['webhook-id'] === x1).length >= 2);
    // x2 waits behind x1.
    expect(at('/order').some((g) => g.headers['webhook-id'] === x2)).toBe(false);
    failX = false;
    await waitFor('x2 delivered', () => at('/order').find((g) => g.headers['webhook-id'] === x2));
    const ids = at('/order').map((g) => g.headers['webhook-id']).filter((i) => i === x1 || i === x2);
    expect(ids.lastIndexOf(x1)).toBeLessThan(ids.indexOf(x2));
    expect(ids.filter((i) => i === x2).length).toBe(1);
    const rows = await deliveries(h.id);
    expect(rows.filter((r) => r.state === 'delivered').length).toBe(3);
  });

  it('a hanging receiver times out and a redirect is not followed, while others are delivered', async () => {
    const hang = await hook('/hang');
    const redir = await hook('/redirect');
    const ok = await hook('/ok');
    handlers.set('/hang', (_req, res) => void hanging.push(res));
    handlers.set('/redirect', (_req, res) => {
      res.statusCode = 302;
      res.setHeader('location', `http://127.0.0.1:${rport}/redirected`);
      res.end();
    });
    const t0 = Date.now();
    const ev = await emit(gw, { type: 'conversation.queued', site: 'demo', conv: `c${randomId(8)}` });
    // The good endpoint gets it well before the hanging one times out.
    const g = await waitFor('delivered to /ok', () => at('/ok').find((x) => x.headers['webhook-id'] === ev));
    const hung = await waitFor('the hanging request', () => at('/hang')[0]);
    // Delivered before the hanging attempt timed out: it did not wait behind it.
    expect(g.at).toBeLessThan(hung.at + 1500);
    expect(g.at - t0).toBeLessThan(5000);
    const hrow = await waitFor('the timeout recorded', async () => (await deliveries(hang.id)).find((d) => d.attempts >= 1));
    expect(hrow.state).toBe('pending');
    expect(hrow.error).toMatch(/timed out/);
    expect(hrow.lastStatus).toBeNull();
    expect(hrow.durationMs).toBeGreaterThanOrEqual(1400);
    expect(hrow.nextRetryAt).not.toBeNull();
    const rrow = await waitFor('the redirect recorded', async () => (await deliveries(redir.id)).find((d) => d.attempts >= 1));
    expect(rrow).toMatchObject({ state: 'pending', lastStatus: 302, error: 'redirect 302 not followed' });
    expect(at('/redirected').length).toBe(0);
    expect((await deliveries(ok.id))[0]).toMatchObject({ state: 'delivered', attempts: 1 });
  });

  it('a huge answer is read up to the cap, then cut', async () => {
    const h = await hook('/huge');
    let written = 0;
    handlers.set('/huge', (_req, res) => {
      res.statusCode = 200;
      const chunk = Buffer.alloc(64 * 1024, 'a');
      const pump = () => {
        while (written < 50 * 1024 * 1024 && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('error', () => {});
      pump();
    });
    await emit(gw, { type: 'conversation.queued', site: 'demo', conv: `c${randomId(8)}` });
    const d = await waitFor('the huge answer recorded', async () => (await deliveries(h.id)).find((x) => x.attempts >= 1));
    expect(d).toMatchObject({ state: 'delivered', lastStatus: 200, truncated: true });
    expect(Buffer.byteLength(d.responseExcerpt ?? '')).toBeLessThanOrEqual(1024);
    expect(written).toBeLessThan(50 * 1024 * 1024);
  });

  it('rotating the secret signs with both secrets during the overlap', async () => {
    const h = await hook('/rot');
    const rot = await admin.req<Hook & { secret: string; previousSecretUntil: number }>('POST', `/v1/sites/demo/webhooks/${h.id}/rotate`);
    expect(rot.status).toBe(200);
    expect(rot.body.secret).not.toBe(h.secret);
    expect(rot.body.previousSecretUntil).toBeGreaterThan(Date.now() + 23 * 3600_000);
    const t = await admin.req<{ eventId: string }>('POST', `/v1/sites/demo/webhooks/${h.id}/test`);
    expect(t.status).toBe(202);
    const g = await waitFor('the test event', () => at('/rot').find((x) => x.headers['webhook-id'] === t.body.eventId));
    expect(JSON.parse(g.body).type).toBe('webhook.test');
    const sigs = String(g.headers['webhook-signature']).split(' ');
    expect(sigs.length).toBe(2);
    expect(sigs.every((s) => s.startsWith('v1,'))).toBe(true);
    expect(verify(rot.body.secret, g)).toBe(true);
    expect(verify(h.secret, g)).toBe(true);
    expect(libVerifies(rot.body.secret, g)).toBe(true);
    expect(libVerifies(h.secret, g)).toBe(true);
    // Each signature matches exactly one of the secrets.
    expect(verify(rot.body.secret, { ...g, headers: { ...g.headers, 'webhook-signature': sigs[0] } })).toBe(true);
    expect(verify(h.secret, { ...g, headers: { ...g.headers, 'webhook-signature': sigs[1] } })).toBe(true);
  });

  it('an endpoint failing continuously is disabled, with a notice; a failed delivery can be sent again', async () => {
    // Test-only windows (the product's are a day each), set on both gateways (either may run the job).
    const set = (s: Partial<WebhookSettings>) => {
      for (const g of [gw, gw2]) g.ctx.domain.webhooks.configure(s);
    };
    set({ disableAfterMs: 600 });
    try {
      const h = await hook('/down');
      let up = false;
      handlers.set('/down', (_req, res) => {
        res.statusCode = up ? 204 : 503;
        res.end();
      });
      const ev = await emit(gw, { type: 'conversation.queued', site: 'demo', conv: `c${randomId(8)}` });
      const off = await waitFor('disabled', async () => {
        const r = await admin.req<Hook>('GET', `/v1/sites/demo/webhooks/${h.id}`);
        return r.body.enabled ? null : r.body;
      });
      expect(off.disabledReason).toMatch(/failed/);
      const list = await admin.req<{ disabled: { endpoint: string; reason: string }[] }>('GET', '/v1/sites/demo/webhooks');
      expect(list.body.disabled.some((n) => n.endpoint === h.id)).toBe(true);
      // While disabled: nothing is sent, and new events are not queued for it.
      const tries = at('/down').length;
      expect(tries).toBeGreaterThanOrEqual(2);
      await emit(gw, { type: 'conversation.queued', site: 'demo', conv: `c${randomId(8)}` });
      await sleep(400);
      expect(at('/down').length).toBe(tries);
      expect((await deliveries(h.id)).length).toBe(1);

      // Past the retry window, the delivery is marked failed (the endpoint, enabled again, stays enabled: its streak starts over).
      set({ disableAfterMs: 24 * 3600_000, retryForMs: 200 });
      const on = await admin.req<Hook>('PATCH', `/v1/sites/demo/webhooks/${h.id}`, { enabled: true });
      expect(on.body).toMatchObject({ enabled: true, disabledReason: null });
      const d = await waitFor('failed for good', async () => (await deliveries(h.id)).find((x) => x.state === 'failed'));
      expect(d).toMatchObject({ eventId: ev, lastStatus: 503, nextRetryAt: null });

      up = true;
      set({ retryForMs: 24 * 3600_000 });
      const again = await admin.req<DeliveryRow>('POST', `/v1/sites/demo/webhooks/${h.id}/deliveries/${d.id}/retry`);
      expect(again.status).toBe(202);
      expect(again.body.state).toBe('pending');
      const done = await waitFor('sent again', async () => (await deliveries(h.id)).find((x) => x.id === d.id && x.state === 'delivered'));
      expect(done.lastStatus).toBe(204);
      expect(at('/down').every((g) => g.headers['webhook-id'] === ev)).toBe(true);
    } finally {
      set({ disableAfterMs: 24 * 3600_000, retryForMs: 24 * 3600_000 });
    }
  });

  it('a delivery in retry survives its gateway closing: another gateway finishes it, same id', async () => {
    const h = await hook('/durable');
    let up = false;
    handlers.set('/durable', (_req, res) => {
      res.statusCode = up ? 200 : 500;
      res.end();
    });
    const ev = await emit(gw, { type: 'conversation.resolved', site: 'demo', conv: `c${randomId(8)}` });
    await waitFor('a failed attempt', () => at('/durable').length >= 1);
    const holder = await waitFor('the job holder', () => (gw.jobs.holds('webhook-delivery') ? gw : gw2.jobs.holds('webhook-delivery') ? gw2 : null));
    const other = holder === gw ? gw2 : gw;
    const otherAdmin = new Http(other.base);
    await otherAdmin.login(ADMIN.email, ADMIN.password);
    api = () => otherAdmin;
    await holder.close();
    const before = at('/durable').length;
    up = true;
    const d = await waitFor('delivered by the other gateway', async () => (await deliveries(h.id)).find((x) => x.state === 'delivered'));
    expect(other.jobs.holds('webhook-delivery')).toBe(true);
    expect(at('/durable').length).toBeGreaterThan(before);
    expect(new Set(at('/durable').map((g) => g.headers['webhook-id']))).toEqual(new Set([ev]));
    expect(d.attempts).toBeGreaterThanOrEqual(2);
    for (const g of at('/durable')) expect(verify(h.secret, g)).toBe(true);
  });

  it('SSRF: without WEBHOOKS_ALLOW_PRIVATE, loopback targets are refused when saved and after resolution', async () => {
    // Delivery-time check, directly: a literal loopback address, and a name that resolves to one.
    const opts = { timeoutMs: 1000, maxResponseBytes: 1024, allowPrivate: false };
    const lit = await postWebhook(new URL(target('/ssrf-direct')), {}, '{}', { ...opts, resolve: async () => [] });
    expect(lit.error).toMatch(/^WEBHOOK_TARGET_FORBIDDEN/);
    const named = await postWebhook(new URL(`http://hooks.example.test:${rport}/ssrf-direct`), {}, '{}', { ...opts, resolve: async () => [{ address: '127.0.0.1', family: 4 }] });
    expect(named.error).toMatch(/^WEBHOOK_TARGET_FORBIDDEN/);
    for (const address of ['10.1.2.3', '169.254.169.254', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '224.0.0.1', '0.0.0.0']) {
      const r = await postWebhook(new URL(`http://hooks.example.test:${rport}/ssrf-direct`), {}, '{}', { ...opts, resolve: async () => [{ address, family: address.includes(':') ? 6 : 4 }] });
      expect(r.error, address).toMatch(/^WEBHOOK_TARGET_FORBIDDEN/);
    }
    expect(at('/ssrf-direct').length).toBe(0);

    // End to end on a gateway without the setting, whose DNS maps hooks.example.test to 127.0.0.1.
    const strict = await testGateway(redis.url, { testLimits: { webhooks: { ...FAST, resolve: async () => [{ address: '127.0.0.1', family: 4 }] } } });
    try {
      for (const g of [gw, gw2]) await g.jobs.stop(); // the strict gateway takes the delivery job
      const sa = new Http(strict.base);
      await sa.login(ADMIN.email, ADMIN.password);
      api = () => sa;
      for (const url of [target('/x'), `http://localhost:${rport}/x`, 'http://[::1]:9/x', 'http://169.254.169.254/latest', 'http://10.0.0.1/']) {
        const r = await sa.req<{ code: string }>('POST', '/v1/sites/demo/webhooks', { url });
        expect(r.status, url).toBe(400);
        expect(r.body.code).toBe('WEBHOOK_TARGET_FORBIDDEN');
      }
      const r = await sa.req<Hook>('POST', '/v1/sites/demo/webhooks', { url: `http://hooks.example.test:${rport}/ssrf` });
      expect(r.status).toBe(201);
      created.push(r.body.id);
      await emit(strict, { type: 'conversation.queued', site: 'demo', conv: `c${randomId(8)}` });
      const d = await waitFor('the refusal recorded', async () => (await deliveries(r.body.id)).find((x) => x.attempts >= 1));
      expect(d.state).toBe('pending');
      expect(d.error).toMatch(/^WEBHOOK_TARGET_FORBIDDEN/);
      expect(d.lastStatus).toBeNull();
      expect(at('/ssrf').length).toBe(0);
      for (const c of created.splice(0)) await sa.req('DELETE', `/v1/sites/demo/webhooks/${c}`);
    } finally {
      await strict.close();
    }
  });
  it("a busy conversation's events drain in one pass of the job, in order, not one per pass", async () => {
    // The other gateways' jobs are stopped (above); this one's runs once an hour, so only the pass called here sends.
    const g = await testGateway(redis.url, { config: { webhooksAllowPrivate: true }, testLimits: { webhooks: { ...FAST, pollMs: 3_600_000 } } });
    try {
      for (const x of [gw, gw2]) await x.jobs.stop();
      const ga = new Http(g.base);
      await ga.login(ADMIN.email, ADMIN.password);
      const r = await ga.req<Hook>('POST', '/v1/sites/demo/webhooks', { url: target('/burst') });
      expect(r.status).toBe(201);
      const conv = `cb${randomId(8)}`;
      const ids: string[] = [];
      for (let i = 0; i < 40; i++) ids.push(await emit(g, { type: 'conversation.queued', site: 'demo', conv }));
      const queued = async () => (await ga.req<{ deliveries: DeliveryRow[] }>('GET', `/v1/sites/demo/webhooks/${r.body.id}/deliveries?limit=100`)).body.deliveries;
      await waitFor('40 deliveries queued', async () => ((await queued()).length >= 40 ? true : null));
      await g.ctx.domain.webhooks.deliverDue();
      // One pass: the lane's head, then each next one as soon as the one before was delivered.
      await waitFor('all 40 delivered', () => (at('/burst').length >= 40 ? true : null));
      expect(at('/burst').map((x) => x.headers['webhook-id'])).toEqual(ids);
      await ga.req('DELETE', `/v1/sites/demo/webhooks/${r.body.id}`);
    } finally {
      await g.close();
    }
  });
});
