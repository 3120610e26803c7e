/**
 * The visitor's data on request (domain/privacy.ts, http/privacy.ts), on a real Redis and a
 * real gateway with a real webhook receiver:
 *
 * - export: one JSON document with the visitor's record, every conversation with every entry
 *   (internal notes marked), the rating, the events and the webhook deliveries naming them;
 * - erase: afterwards a SCAN of the whole Redis (every key's name and contents: strings, deflated
 *   ones inflated, hashes, lists, sets, sorted sets, streams) finds neither the visitor's id, token
 *   (nor its hash), name, e-mail, user id, attribute nor any text of theirs or about them; the
 *   same scan run before the erase finds each of them (so it would see what an erase left);
 *   their socket is closed, their token refused, the live conversation gone from the operator's
 *   inbox and load, the operator's numbers kept as anonymous counts;
 * - who may: admins and the site's supervisors export, admins erase; API keys in scope export,
 *   read-write ones erase (read-only: 403 API_KEY_READ_ONLY; another site's key: 404);
 * - retention: old conversations (by last activity) erased, recent ones kept, a visitor whose
 *   every conversation went erased with them (driven through the job's clock).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inflateRawSync } from 'node:zlib';
import { randomId } from '@hark/shared';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RETENTION_EVERY_MS } from '../src/domain/privacy';
import { compactConversation } from '../src/store/conversations';
import { K, SK } from '../src/store/keys';
import { dayOf } from '../src/store/stats';
import { tokenHash } from '../src/store/visitors';
import { ADMIN, Http, type OperatorClient, type TestGateway, type TestRedis, type VisitorClient, cid, createOp, onlineOperator, sleep, testGateway, testRedis, visitor, waitFor } from './harness';

const RETENTION_MS = 30 * 86_400_000;

let redis: TestRedis;
let gw: TestGateway;
let admin: Http;
let raw: Redis;
let receiver: http.Server;
let rport = 0;
const received: string[] = [];

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push(Buffer.concat(chunks).toString('utf8'));
      res.statusCode = req.url === '/fail' ? 500 : 200;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  rport = (receiver.address() as AddressInfo).port;
  redis = await testRedis();
  gw = await testGateway(redis.url, {
    config: { webhooksAllowPrivate: true, retentionMs: RETENTION_MS },
    testLimits: { webhooks: { pollMs: 100, retryBaseMs: 100, retryCapMs: 400, timeoutMs: 1500 } },
  });
  admin = new Http(gw.base);
  await admin.login(ADMIN.email, ADMIN.password);
  raw = new Redis(redis.url);
});

afterAll(async () => {
  await raw?.quit();
  await gw?.close();
  await redis?.cleanup();
  receiver?.closeAllConnections();
  await new Promise((r) => receiver?.close(r));
});

/** Every key of the Redis with everything it holds, as text: name, then contents (a deflated string inflated too). */
async function dumpRedis(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = await raw.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) {
      const type = await raw.type(k);
      let text = '';
      if (type === 'string') {
        const b = await raw.getBuffer(k);
        text = b?.toString('utf8') ?? '';
        try {
          if (b) text += `\n${inflateRawSync(b).toString('utf8')}`;
        } catch {
          // not deflated
        }
      } else if (type === 'hash') text = JSON.stringify(await raw.hgetall(k));
      else if (type === 'list') text = JSON.stringify(await raw.lrange(k, 0, -1));
      else if (type === 'set') text = JSON.stringify(await raw.smembers(k));
      else if (type === 'zset') text = JSON.stringify(await raw.zrange(k, 0, -1, 'WITHSCORES'));
      else if (type === 'stream') text = JSON.stringify(await raw.xrange(k, '-', '+'));
      else if (type !== 'none') text = `<unread type ${type}>`;
      out.set(k, `${k}\n${text}`);
    }
  } while (cursor !== '0');
  return out;
}

/** The keys whose name or contents hold `needle`. */
function holding(dump: Map<string, string>, needle: string): string[] {
  return [...dump].filter(([, t]) => t.includes(needle)).map(([k]) => k);
}

/** A call with a bearer key, as an integration makes it: no cookie, no Origin. */
async function api<T = unknown>(key: string, method: string, path: string): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(gw.base + path, { method, headers: { authorization: `Bearer ${key}` } });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T, headers: res.headers };
}

async function makeKey(access: 'read' | 'write', site?: string): Promise<string> {
  const r = await admin.req<{ secret: string }>('POST', '/v1/api-keys', { name: `privacy-${access}`, access, ...(site ? { site } : {}) });
  expect(r.status).toBe(201);
  return r.body.secret;
}

/** A visitor says `text`; returns the conversation it went into once the operator has it. */
async function say(v: VisitorClient, op: OperatorClient, text: string): Promise<string> {
  const c = cid();
  v.send({ type: 'send', cid: c, text });
  const ack = await v.next('ack', (f) => f.cid === c);
  await op.next('conv', (f) => f.conv.id === ack.conv && f.conv.status === 'open');
  return ack.conv;
}

async function answer(op: OperatorClient, conv: string, text: string, kind: 'send' | 'note' = 'send'): Promise<void> {
  const c = cid();
  op.send({ type: kind, conv, cid: c, text });
  await op.next('ack', (f) => f.cid === c);
}

type Export = {
  format: string;
  visitor: { id: string; site: string; name?: string; email?: string; userId?: string; attrs: Record<string, unknown>; openConversation?: string };
  conversations: { id: string; status: string; rating?: string; ratingComment?: string; entries: { kind: string; text?: string; internal?: boolean; from?: string }[] }[];
  ratings: { conversation: string; rating: string; comment?: string }[];
  events: { type: string; conv?: string }[];
  webhookDeliveries: { webhook: string; type: string; state: string }[];
};

let ana: { id: string; http: Http };
let sue: { id: string; http: Http };
let oz: { id: string; http: Http };
let anaOp: OperatorClient;

describe('a visitor’s data on request', () => {
  it('sets up operators, another site and two webhook endpoints (one answering, one failing)', async () => {
    expect((await admin.req('POST', '/v1/sites', { id: 'othersite', name: 'Other', origins: [gw.base] })).status).toBe(201);
    ana = await createOp(admin, { email: 'priv-ana@example.com', name: 'Ana', capacity: 10 });
    sue = await createOp(admin, { email: 'priv-sue@example.com', name: 'Sue', role: 'supervisor' });
    oz = await createOp(admin, { email: 'priv-oz@example.com', name: 'Oz', role: 'supervisor', sites: ['othersite'] });
    anaOp = await onlineOperator(gw, ana.http);
    for (const path of ['/ok', '/fail']) {
      const r = await admin.req('POST', '/v1/sites/demo/webhooks', { url: `http://127.0.0.1:${rport}${path}`, events: 'all' });
      expect(r.status).toBe(201);
    }
  });

  it('exports everything about a visitor, then erases it so that nothing in Redis names them', async () => {
    const tag = randomId(10).replace(/[^A-Za-z0-9]/g, 'x');
    const T = {
      name: `Mira${tag}`,
      email: `mira.${tag}@example.com`,
      userId: `user-${tag}`,
      attr: `plan-${tag}`,
      first: `first question ${tag}`,
      reply: `operator answer ${tag}`,
      note: `internal note about her ${tag}`,
      comment: `rating comment ${tag}`,
      second: `second chat ${tag}`,
      reply2: `second answer ${tag}`,
    };
    const v = await visitor(gw);
    await v.next('synced');
    const token = v.token;
    const vid = (v.of('welcome')[0] as { visitorId: string }).visitorId;
    expect(vid).toBeTruthy();
    // Identified before any conversation: the event names the visitor only (its own partition and webhook lane).
    v.send({ type: 'identify', user: { id: T.userId, name: T.name, email: T.email } });
    v.send({ type: 'attrs', attrs: { plan: T.attr } });
    await waitFor('the profile', async () => (await raw.hget(K.visitor(vid), 'attrs'))?.includes(T.attr));

    // Conversation 1: a message, an answer, a note; resolved and rated; compacted (its entries deflated in one key).
    const c1 = await say(v, anaOp, T.first);
    await answer(anaOp, c1, T.reply);
    await answer(anaOp, c1, T.note, 'note');
    anaOp.send({ type: 'resolve', conv: c1 });
    await v.next('conv', (f) => f.conv.id === c1 && f.conv.status === 'resolved');
    v.send({ type: 'rate', conv: c1, rating: 'good', comment: T.comment });
    // The numbers (stats consumer) and both endpoints' deliveries have it.
    await waitFor('the rating in Ana’s numbers', async () => JSON.stringify(await raw.hgetall(SK.rate(ana.id, dayOf(Date.now())))).includes(T.comment));
    await waitFor('the rating delivered', () => received.some((b) => b.includes(T.comment)));
    expect(await compactConversation(gw.conns.cmd, c1)).toBe(true);
    expect(await raw.exists(K.convPacked(c1))).toBe(1);

    // Conversation 2: live, assigned to Ana, answered.
    const c2 = await say(v, anaOp, T.second);
    await answer(anaOp, c2, T.reply2);
    // Every consumer done with what happened so far (an erase racing a consumer is the second pass's to clean).
    await settled(c2, 'conversation.answered');
    await waitFor('conversation 2 queued for the failing endpoint', async () => (await raw.llen(K.webhookLane((await endpointIds())[1] as string, `c:${c2}`))) > 0);
    expect(Number(await raw.hget(K.siteLoad('demo'), ana.id))).toBe(1);

    // ---- export (console, admin)
    const ex = await fetch(`${gw.base}/v1/sites/demo/visitors/${vid}/export`, { headers: { cookie: admin.cookie } });
    expect(ex.status).toBe(200);
    expect(ex.headers.get('content-disposition')).toBe(`attachment; filename="hark-visitor-demo-${vid}.json"`);
    expect(ex.headers.get('content-type')).toContain('application/json');
    expect(ex.headers.get('cache-control')).toBe('no-store');
    const doc = (await ex.json()) as Export;
    expect(doc.format).toBe('hark.visitor-export.v1');
    expect(doc.visitor).toMatchObject({ id: vid, site: 'demo', name: T.name, email: T.email, userId: T.userId, attrs: { plan: T.attr }, openConversation: c2 });
    expect(doc.conversations.map((c) => c.id)).toEqual([c1, c2]);
    const [x1, x2] = doc.conversations as [Export['conversations'][0], Export['conversations'][0]];
    expect(x1).toMatchObject({ status: 'resolved', rating: 'good', ratingComment: T.comment });
    expect(x1.entries.filter((e) => e.kind === 'msg').map((e) => e.text)).toEqual([T.first, T.reply]);
    expect(x1.entries.filter((e) => e.kind === 'note')).toEqual([expect.objectContaining({ text: T.note, internal: true })]);
    expect(x1.entries.filter((e) => e.internal).length).toBe(1);
    expect(x2.status).toBe('open');
    expect(x2.entries.filter((e) => e.kind === 'msg').map((e) => e.text)).toEqual([T.second, T.reply2]);
    expect(doc.ratings).toEqual([expect.objectContaining({ conversation: c1, rating: 'good', comment: T.comment })]);
    const types = new Set(doc.events.map((e) => e.type));
    for (const t of ['conversation.created', 'message.created', 'note.created', 'conversation.resolved', 'conversation.rated', 'visitor.identified']) expect(types).toContain(t);
    expect(doc.webhookDeliveries.some((d) => d.type === 'conversation.rated' && d.state === 'delivered')).toBe(true);
    expect(doc.webhookDeliveries.some((d) => d.type === 'visitor.identified')).toBe(true);
    expect(doc.webhookDeliveries.some((d) => d.state === 'pending')).toBe(true);

    // ---- who may export and erase
    expect((await sue.http.req('GET', `/v1/sites/demo/visitors/${vid}/export`)).status).toBe(200);
    const anaEx = await ana.http.req<{ code: string }>('GET', `/v1/sites/demo/visitors/${vid}/export`);
    expect([anaEx.status, anaEx.body.code]).toEqual([403, 'FORBIDDEN']);
    const ozEx = await oz.http.req<{ code: string }>('GET', `/v1/sites/demo/visitors/${vid}/export`);
    expect([ozEx.status, ozEx.body.code]).toEqual([404, 'NOT_FOUND']);
    expect((await admin.req<{ code: string }>('GET', `/v1/sites/othersite/visitors/${vid}/export`)).status).toBe(404);
    expect((await new Http(gw.base).req<{ code: string }>('GET', `/v1/sites/demo/visitors/${vid}/export`)).body.code).toBe('NOT_AUTHENTICATED');
    for (const who of [sue, ana]) {
      const r = await who.http.req<{ code: string }>('DELETE', `/v1/sites/demo/visitors/${vid}`);
      expect([r.status, r.body.code]).toEqual([403, 'FORBIDDEN']);
    }
    expect((await oz.http.req('DELETE', `/v1/sites/demo/visitors/${vid}`)).status).toBe(404);
    const readKey = await makeKey('read');
    const otherKey = await makeKey('write', 'othersite');
    const byKey = await api<Export>(readKey, 'GET', `/v1/api/visitors/${vid}/export`);
    expect(byKey.status).toBe(200);
    expect(byKey.body.visitor.id).toBe(vid);
    expect(byKey.body.conversations.length).toBe(2);
    expect(byKey.headers.get('content-disposition')).toContain('attachment');
    const ro = await api<{ code: string }>(readKey, 'DELETE', `/v1/api/visitors/${vid}`);
    expect([ro.status, ro.body.code]).toEqual([403, 'API_KEY_READ_ONLY']);
    for (const method of ['GET', 'DELETE']) {
      const r = await api<{ code: string }>(otherKey, method, method === 'GET' ? `/v1/api/visitors/${vid}/export` : `/v1/api/visitors/${vid}`);
      expect([r.status, r.body.code]).toEqual([404, 'NOT_FOUND']);
    }

    // The search index has both conversations, the visitor's words folded (domain/search.ts).
    const folded = tag.toLowerCase();
    await waitFor('both conversations in the search index', async () => {
      const r = await admin.req<{ results: { conv: { id: string } }[] }>('GET', `/v1/search?q=${folded}`);
      return r.body.results?.length === 2;
    });
    // ---- before: the scan sees every one of them (the raw token is never stored: only its hash)
    const needles = { id: vid, tokenHash: tokenHash(token), name: T.name, email: T.email, userId: T.userId, attr: T.attr, first: T.first, reply: T.reply, note: T.note, comment: T.comment, second: T.second, reply2: T.reply2 };
    const before = await dumpRedis();
    for (const [what, n] of Object.entries(needles)) expect(holding(before, n), `${what} before the erase`).not.toEqual([]);
    expect(holding(before, token)).toEqual([]);
    // …where an erase must reach: the event log, webhook deliveries (sent and queued), the numbers, the packed entries.
    expect(holding(before, vid).some((k) => k.startsWith('{hark:ev:'))).toBe(true);
    expect(holding(before, vid).some((k) => k.startsWith('{wh:'))).toBe(true);
    expect(holding(before, T.comment).some((k) => k.startsWith('{opstats:'))).toBe(true);
    expect(holding(before, T.comment).some((k) => k.startsWith('{wh:'))).toBe(true);
    expect(holding(before, T.first)).toContain(K.convPacked(c1));
    expect(holding(before, c1).some((k) => k.startsWith('{opstats:'))).toBe(true);
    expect(holding(before, c1).some((k) => k.startsWith('{srch:'))).toBe(true);
    expect(holding(before, folded).some((k) => k.startsWith('{srch:'))).toBe(true);

    // ---- erase (console, admin)
    const erased = await admin.req('DELETE', `/v1/sites/demo/visitors/${vid}`);
    expect(erased.status).toBe(204);

    // Their socket is closed; the live conversation leaves the operator's inbox and load.
    expect(await v.waitClose()).toEqual({ code: 1008, reason: 'VISITOR_TOKEN_INVALID' });
    await anaOp.next('conv', (f) => f.conv.id === c2 && f.conv.status === 'resolved');
    expect(Number(await raw.hget(K.siteLoad('demo'), ana.id))).toBe(0);

    // ---- after: nothing names them
    const after = await dumpRedis();
    const left = Object.fromEntries(Object.entries(needles).map(([what, n]) => [what, holding(after, n)]));
    expect(left).toEqual(Object.fromEntries(Object.keys(needles).map((w) => [w, []])));
    // The index's words of theirs (folded) are gone with them.
    expect(holding(after, folded)).toEqual([]);
    // Nor their conversations: the resolved one nowhere, the live one only in its expiring tombstone (status resolved, no visitor).
    expect(holding(after, c1)).toEqual([]);
    expect(holding(after, c2)).toEqual([K.conv(c2)]);
    expect(await raw.hgetall(K.conv(c2))).toMatchObject({ site: 'demo', status: 'resolved', visitor: '-' });
    expect(await raw.pttl(K.conv(c2))).toBeGreaterThan(0);

    // The token no longer works (socket and REST); the visitor is gone for every route.
    await expect(visitor(gw, { token, isNew: false })).rejects.toThrow(/401/);
    const rest = await fetch(`${gw.base}/v1/visitor/conversations/${c1}?site=demo`, { headers: { authorization: `Visitor ${token}` } });
    expect([rest.status, ((await rest.json()) as { code: string }).code]).toEqual([401, 'VISITOR_TOKEN_INVALID']);
    expect((await admin.req('GET', `/v1/sites/demo/visitors/${vid}/export`)).status).toBe(404);
    expect((await admin.req('DELETE', `/v1/sites/demo/visitors/${vid}`)).status).toBe(404);
    expect((await api(readKey, 'GET', `/v1/api/visitors/${vid}`)).status).toBe(404);

    // Ana's numbers stay, as anonymous counts: the chat handled, the good rating, without its comment or conversation.
    const stats = await admin.req<{ today: { handled: number; good: number }; ratings: { conv: string; comment?: string }[] }[]>('GET', `/v1/stats?operator=${ana.id}`);
    expect(stats.body[0]?.today).toMatchObject({ handled: 1, good: 1 });
    expect(stats.body[0]?.ratings).toEqual([expect.objectContaining({ rating: 'good' })]);
    expect(stats.body[0]?.ratings[0]?.comment).toBeUndefined();
    expect(stats.body[0]?.ratings[0]?.conv).not.toBe(c1);

    // The second pass (for writes racing the erase) leaves it so.
    await sleep(2_500);
    const later = await dumpRedis();
    for (const n of [...Object.values(needles), c1, folded]) expect(holding(later, n)).toEqual([]);
  });

  it('erases with a read-write API key; the visitor’s token stops working at once', async () => {
    const text = `api erase ${randomId(8)}`;
    const v = await visitor(gw);
    await v.next('synced');
    const vid = (v.of('welcome')[0] as { visitorId: string }).visitorId;
    const conv = await say(v, anaOp, text);
    anaOp.send({ type: 'resolve', conv });
    await v.next('conv', (f) => f.conv.id === conv && f.conv.status === 'resolved');
    await settled(conv, 'conversation.resolved');
    v.close();
    const key = await makeKey('write', 'demo');
    expect((await api(key, 'DELETE', `/v1/api/visitors/${randomId(16)}`)).status).toBe(404);
    expect((await api(key, 'DELETE', `/v1/api/visitors/${vid}`)).status).toBe(204);
    await expect(visitor(gw, { token: v.token, isNew: false })).rejects.toThrow(/401/);
    const dump = await dumpRedis();
    for (const n of [vid, text, tokenHash(v.token), conv]) expect(holding(dump, n)).toEqual([]);
  });

  it('retention erases conversations older than the setting (last activity) and keeps recent ones', async () => {
    const tag = randomId(8);
    // Old: X's only conversation, and Z's first one.
    const x = await visitor(gw);
    await x.next('synced');
    const xid = (x.of('welcome')[0] as { visitorId: string }).visitorId;
    const a1 = await say(x, anaOp, `x old ${tag}`);
    anaOp.send({ type: 'resolve', conv: a1 });
    await x.next('conv', (f) => f.conv.id === a1 && f.conv.status === 'resolved');
    const z = await visitor(gw);
    await z.next('synced');
    const zid = (z.of('welcome')[0] as { visitorId: string }).visitorId;
    const a2 = await say(z, anaOp, `z old ${tag}`);
    anaOp.send({ type: 'resolve', conv: a2 });
    await z.next('conv', (f) => f.conv.id === a2 && f.conv.status === 'resolved');
    await settled(a1, 'conversation.resolved');
    await settled(a2, 'conversation.resolved');
    await sleep(30);
    const cut = Date.now();
    await sleep(30);
    // Recent: Y's conversation, and Z's second one (both live).
    const y = await visitor(gw);
    await y.next('synced');
    const yid = (y.of('welcome')[0] as { visitorId: string }).visitorId;
    const b = await say(y, anaOp, `y recent ${tag}`);
    const c = await say(z, anaOp, `z recent ${tag}`);

    // The job with its clock moved on: everything last active before `cut` is older than the setting.
    const res = await gw.ctx.domain.privacy.retention(cut + RETENTION_MS);
    expect(res).toEqual({ conversations: 2, visitors: 1 });
    for (const conv of [a1, a2]) expect(await raw.exists(K.conv(conv), K.convStream(conv), K.convPacked(conv))).toBe(0);
    for (const conv of [b, c]) expect(await raw.exists(K.conv(conv))).toBe(1);
    const resolved = await raw.zrange(K.siteResolved('demo'), 0, -1);
    expect(resolved.includes(a1) || resolved.includes(a2)).toBe(false);
    // X had nothing else: erased whole (socket closed, token refused); Z keeps the recent conversation.
    expect(await raw.exists(K.visitor(xid))).toBe(0);
    expect(await x.waitClose()).toEqual({ code: 1008, reason: 'VISITOR_TOKEN_INVALID' });
    await expect(visitor(gw, { token: x.token, isNew: false })).rejects.toThrow(/401/);
    expect(await raw.zrange(K.visitorConvs(zid), 0, -1)).toEqual([c]);
    expect(await raw.exists(K.visitor(yid), K.visitor(zid))).toBe(2);
    const dump = await dumpRedis();
    for (const n of [`x old ${tag}`, `z old ${tag}`, xid, a1, a2]) expect(holding(dump, n), n).toEqual([]);
    for (const n of [`y recent ${tag}`, `z recent ${tag}`]) expect(holding(dump, n), n).not.toEqual([]);
    // Run again: nothing more is old. With the setting off (the default) the job erases nothing.
    expect(await gw.ctx.domain.privacy.retention(cut + RETENTION_MS)).toEqual({ conversations: 0, visitors: 0 });
    gw.ctx.domain.deps.config.retentionMs = 0;
    expect(await gw.ctx.domain.privacy.retention(Date.now() + 10 * RETENTION_MS)).toEqual({ conversations: 0, visitors: 0 });
    expect(await raw.exists(K.conv(b), K.conv(c))).toBe(2);
    gw.ctx.domain.deps.config.retentionMs = RETENTION_MS;
    // It runs as one of the gateway's leased jobs (one owner across gateways), every RETENTION_EVERY_MS.
    await waitFor('the retention job to be held', () => gw.jobs.holds('retention'));
    expect(RETENTION_EVERY_MS).toBeGreaterThan(0);
    y.close();
    z.close();
  });
});

/**
 * Waits until the event log's consumers are done with a conversation's events up to `type`: the
 * answering endpoint received it, and for a resolve or a first answer Ana's numbers have it.
 */
async function settled(conv: string, type: 'conversation.resolved' | 'conversation.answered'): Promise<void> {
  await waitFor(`${type} of ${conv} delivered`, () => received.some((b) => b.includes(`"${type}"`) && b.includes(conv)));
  const key = type === 'conversation.resolved' ? SK.res(ana.id, dayOf(Date.now())) : SK.frt(ana.id, dayOf(Date.now()));
  await waitFor(`${type} of ${conv} in Ana’s numbers`, async () => (await raw.zscore(key, conv)) !== null);
}

/** The demo site's webhook endpoint ids, in creation order ([ok, fail]). */
async function endpointIds(): Promise<string[]> {
  const r = await admin.req<{ webhooks: { id: string; url: string }[] }>('GET', '/v1/sites/demo/webhooks');
  return [...r.body.webhooks].sort((a, b) => (a.url.endsWith('/ok') ? -1 : b.url.endsWith('/ok') ? 1 : 0)).map((w) => w.id);
}
