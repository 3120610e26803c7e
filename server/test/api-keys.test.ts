/**
 * API keys and the public API (/v1/api/…) over real REST against a real Redis, two gateways:
 * every route with a key, the key's scope (site, read-only), revocation on the next request on
 * the other gateway, last use, the CSRF exemption for bearer calls (and only for them), and the
 * rate limits: per key across gateways, and failed key attempts per address.
 */
import http from 'node:http';
import { API_KEY_FAILURES_PER_ADDRESS, API_KEY_FAILURE_WINDOW_MS, API_KEY_REQUESTS_PER_MIN, MAX_API_KEYS, randomId } from '@hark/shared';
import { describe, expect, it } from 'vitest';
import type { ApiKeyLimits } from '../src/domain/api-keys';
import { Http, cid, createOp, operator, sleep, visitor } from './harness';
import { useStack } from './stack';

const s = useStack(2);

type Key = { id: string; name: string; site: string | null; access: 'read' | 'write'; createdAt: number; lastUsedAt: number | null };
type Conv = { id: string; site: string; status: string; operator?: { id: string; name: string } | null; team?: string | null; visitor: { id: string } };
type Entry = { id: string; kind: string; from?: string; text?: string; op?: { id: string; name: string }; event?: string };

/** A call with a bearer key, as an integration makes it: no cookie, no Origin. */
async function api<T = unknown>(base: string, key: string | null, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
  const res = await fetch(base + path, {
    method,
    headers: { ...(key !== null ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body !== undefined ? JSON.stringify(body) : null,
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

async function makeKey(name: string, access: 'read' | 'write', site?: string): Promise<{ key: Key; secret: string }> {
  const r = await s.admin.req<{ key: Key; secret: string }>('POST', '/v1/api-keys', { name, access, ...(site ? { site } : {}) });
  expect(r.status).toBe(201);
  return r.body;
}

/** A visitor on `site` says something: their new conversation's id. */
async function newConversation(site = 'demo', text = 'hello'): Promise<{ conv: string; v: Awaited<ReturnType<typeof visitor>> }> {
  const v = await visitor(s.gw, { site });
  await v.next('synced');
  const c = cid();
  v.send({ type: 'send', cid: c, text });
  const ack = await v.next('ack', (f) => f.cid === c);
  return { conv: ack.conv, v };
}

describe('API keys (admin)', () => {
  it('creates a key shown once, lists it without the secret, refuses non-admins and bad input', async () => {
    const { key, secret } = await makeKey('CRM sync', 'read');
    expect(secret).toMatch(/^hark_[A-Za-z0-9_-]{43}$/);
    expect(key).toMatchObject({ name: 'CRM sync', site: null, access: 'read', lastUsedAt: null });
    const list = await s.admin.req<Key[]>('GET', '/v1/api-keys');
    expect(list.body.find((k) => k.id === key.id)).toEqual(key);
    expect(JSON.stringify(list.body)).not.toContain(secret);
    expect(JSON.stringify(list.body)).not.toMatch(/hash/);

    const bo = await createOp(s.admin, { email: 'keys-bo@example.com', name: 'Bo', role: 'supervisor' });
    expect((await bo.http.req<{ code: string }>('POST', '/v1/api-keys', { name: 'x', access: 'write' })).body.code).toBe('FORBIDDEN');
    expect((await bo.http.req('GET', '/v1/api-keys')).status).toBe(403);
    expect((await s.admin.req<{ code: string }>('POST', '/v1/api-keys', { name: 'x', access: 'admin' })).status).toBe(400);
    expect((await s.admin.req<{ code: string }>('POST', '/v1/api-keys', { name: 'x', access: 'read', site: 'nope' })).status).toBe(404);
    // A key cannot manage keys: the admin routes take the session cookie only.
    const rw = await makeKey('rw', 'write');
    expect((await api(s.gw.base, rw.secret, 'GET', '/v1/api-keys')).status).toBe(401);
    expect((await api(s.gw.base, rw.secret, 'POST', '/v1/api-keys', { name: 'y', access: 'write' })).status).toBe(401);
    expect((await s.admin.req('DELETE', '/v1/api-keys/nope')).status).toBe(404);
  });

  it('refuses missing, garbled and unknown keys with 401 API_KEY_INVALID', async () => {
    for (const auth of [null, 'garbage', `hark_${'A'.repeat(43)}`, '']) {
      const r = await api<{ code: string }>(s.gw.base, auth, 'GET', '/v1/api/conversations');
      expect(r.status).toBe(401);
      expect(r.body.code).toBe('API_KEY_INVALID');
    }
    const basic = await api<{ code: string }>(s.gw.base, null, 'GET', '/v1/api/operators', undefined, { authorization: 'Basic abc' });
    expect(basic.body.code).toBe('API_KEY_INVALID');
  });

  it('a revoked key fails on its next request, on the other gateway too', async () => {
    const { key, secret } = await makeKey('short-lived', 'write');
    expect((await api(s.gw2.base, secret, 'GET', '/v1/api/operators')).status).toBe(200);
    expect((await s.admin.req('DELETE', `/v1/api-keys/${key.id}`)).status).toBe(200);
    const r = await api<{ code: string }>(s.gw2.base, secret, 'GET', '/v1/api/operators');
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('API_KEY_INVALID');
    expect((await api(s.gw.base, secret, 'GET', '/v1/api/conversations')).status).toBe(401);
    expect((await s.admin.req<Key[]>('GET', '/v1/api-keys')).body.some((k) => k.id === key.id)).toBe(false);
  });

  it('records the last use (at most once a minute)', async () => {
    const { key, secret } = await makeKey('usage', 'read');
    const before = Date.now();
    expect((await api(s.gw.base, secret, 'GET', '/v1/api/operators')).status).toBe(200);
    const used = (await s.admin.req<Key[]>('GET', '/v1/api-keys')).body.find((k) => k.id === key.id);
    expect(used?.lastUsedAt).toBeGreaterThanOrEqual(before);
    expect((await api(s.gw.base, secret, 'GET', '/v1/api/operators')).status).toBe(200);
    const again = (await s.admin.req<Key[]>('GET', '/v1/api-keys')).body.find((k) => k.id === key.id);
    expect(again?.lastUsedAt).toBe(used?.lastUsedAt);
  });
});

describe('the API with a key', () => {
  it('lists, filters and pages conversations within the key’s scope', async () => {
    const made = await s.admin.req('POST', '/v1/sites', { id: 'othersite', name: 'Other', origins: [s.gw.base] });
    expect(made.status).toBe(201);
    const mine: string[] = [];
    for (let i = 0; i < 3; i++) mine.push((await newConversation('demo', `hi ${i}`)).conv);
    const elsewhere = (await newConversation('othersite')).conv;
    const demo = await makeKey('demo reader', 'read', 'demo');
    const all = await makeKey('all reader', 'read');

    const list = await api<{ items: Conv[]; next: string | null }>(s.gw.base, demo.secret, 'GET', '/v1/api/conversations');
    expect(list.status).toBe(200);
    const ids = list.body.items.map((c) => c.id);
    expect(ids).toEqual(expect.arrayContaining(mine));
    expect(ids).not.toContain(elsewhere);
    expect(list.body.items.every((c) => c.site === 'demo')).toBe(true);
    // Another site is out of scope: nothing (as if it had none).
    expect((await api<{ items: Conv[] }>(s.gw.base, demo.secret, 'GET', '/v1/api/conversations?site=othersite')).body.items).toEqual([]);
    expect((await api<{ items: Conv[] }>(s.gw.base, all.secret, 'GET', '/v1/api/conversations?site=othersite')).body.items.map((c) => c.id)).toEqual([elsewhere]);
    // Filters.
    const queued = await api<{ items: Conv[] }>(s.gw.base, demo.secret, 'GET', '/v1/api/conversations?status=queued');
    expect(queued.body.items.every((c) => c.status === 'queued')).toBe(true);
    expect((await api<{ items: Conv[] }>(s.gw.base, demo.secret, 'GET', '/v1/api/conversations?status=resolved')).body.items.some((c) => mine.includes(c.id))).toBe(false);
    expect((await api<{ items: Conv[] }>(s.gw.base, demo.secret, `GET`, `/v1/api/conversations?from=${Date.now() + 60_000}`)).body.items).toEqual([]);
    const first = list.body.items.find((c) => c.id === mine[0]) as Conv;
    const byVisitor = await api<{ items: Conv[] }>(s.gw.base, demo.secret, 'GET', `/v1/api/conversations?visitor=${first.visitor.id}`);
    expect(byVisitor.body.items.map((c) => c.id)).toEqual([mine[0]]);
    expect((await api<{ items: Conv[] }>(s.gw.base, demo.secret, 'GET', '/v1/api/conversations?operator=nobody')).body.items).toEqual([]);
    // Paging one at a time visits every conversation once, newest first.
    const seen: string[] = [];
    let cursor: string | null = '';
    for (let n = 0; cursor !== null && n < 50; n++) {
      const page: { status: number; body: { items: Conv[]; next: string | null } } = await api(s.gw.base, all.secret, 'GET', `/v1/api/conversations?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((c) => c.id));
      cursor = page.body.next;
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining([...mine, elsewhere]));
    const demoOrder = seen.filter((id) => mine.includes(id));
    expect(demoOrder).toEqual([...mine].reverse());
    expect((await api<{ code: string }>(s.gw.base, all.secret, 'GET', '/v1/api/conversations?cursor=notacursor')).status).toBe(400);
    expect((await api(s.gw.base, all.secret, 'GET', '/v1/api/conversations?limit=1000')).status).toBe(400);
  });

  it('reads a conversation with paged entries; another site’s is 404', async () => {
    const { conv, v } = await newConversation('demo', 'first');
    for (const t of ['second', 'third']) {
      const c = cid();
      v.send({ type: 'send', cid: c, text: t });
      await v.next('ack', (f) => f.cid === c);
    }
    const key = await makeKey('reader', 'read', 'demo');
    const r = await api<{ conv: Conv; entries: Entry[]; more: boolean }>(s.gw.base, key.secret, 'GET', `/v1/api/conversations/${conv}?limit=2`);
    expect(r.status).toBe(200);
    expect(r.body.conv.id).toBe(conv);
    expect(r.body.entries.map((e) => e.text).filter(Boolean)).toEqual(['second', 'third'].slice(-r.body.entries.filter((e) => e.text).length));
    expect(r.body.more).toBe(true);
    const older = await api<{ entries: Entry[]; more: boolean }>(s.gw.base, key.secret, 'GET', `/v1/api/conversations/${conv}?before=${r.body.entries[0]?.id}&limit=500`);
    expect(older.body.entries.some((e) => e.text === 'first')).toBe(true);
    expect(older.body.more).toBe(false);
    const other = await makeKey('other reader', 'read', 'othersite');
    const refused = await api<{ code: string }>(s.gw.base, other.secret, 'GET', `/v1/api/conversations/${conv}`);
    expect(refused.status).toBe(404);
    expect(refused.body.code).toBe('CONVERSATION_NOT_FOUND');
    expect((await api(s.gw.base, key.secret, 'GET', '/v1/api/conversations/nope')).status).toBe(404);
  });

  it('posts a bot message the visitor sees; once per cid; read-only and other-site keys are refused', async () => {
    const { conv, v } = await newConversation('demo', 'is anyone there?');
    const { key, secret } = await makeKey('Helpbot', 'write', 'demo');
    // The admin's console watches (signing in made them online): with no free seat, it cannot take
    // the queued chat while we look, so 'queued' below is the bot's doing or nobody's.
    const me = (await s.admin.req<{ me: { id: string; capacity: number } }>('GET', '/v1/auth/me')).body.me;
    expect((await s.admin.req('PATCH', `/v1/operators/${me.id}`, { capacity: 0 })).status).toBe(200);
    const desk = await operator(s.gw2, s.admin);
    const c = cid();
    const r = await api<{ id: string; stored: boolean }>(s.gw.base, secret, 'POST', `/v1/api/conversations/${conv}/messages`, { text: 'We will be right with you.', cid: c });
    expect(r.status).toBe(201);
    expect(r.body.stored).toBe(true);
    const seen = await v.next('entry', (f) => f.entry.id === r.body.id);
    expect(seen.entry).toMatchObject({ kind: 'msg', from: 'operator', text: 'We will be right with you.', op: { id: `bot:${key.id}`, name: 'Helpbot' } });
    // The console (an admin's socket, on the other gateway) gets it live, as an operator message by the bot.
    const live = await desk.next('entry', (f) => f.entry.id === r.body.id);
    expect(live.entry).toMatchObject({ from: 'operator', op: { id: `bot:${key.id}`, name: 'Helpbot' } });
    desk.close();
    const again = await api<{ id: string; stored: boolean }>(s.gw.base, secret, 'POST', `/v1/api/conversations/${conv}/messages`, { text: 'We will be right with you.', cid: c });
    expect(again.body).toEqual({ id: r.body.id, stored: false });
    const named = await api<{ id: string }>(s.gw2.base, secret, 'POST', `/v1/api/conversations/${conv}/messages`, { text: 'Order #12 shipped.', as: { name: 'Shop bot' } });
    expect(named.status).toBe(201);
    const read = await api<{ conv: Conv; entries: Entry[] }>(s.gw.base, secret, 'GET', `/v1/api/conversations/${conv}`);
    expect(read.body.entries.find((e) => e.id === named.body.id)?.op).toEqual({ id: `bot:${key.id}`, name: 'Shop bot' });
    // A bot message neither takes the conversation nor answers it for the people.
    expect(read.body.conv.status).toBe('queued');
    expect((await s.admin.req('PATCH', `/v1/operators/${me.id}`, { capacity: me.capacity })).status).toBe(200);

    const ro = await makeKey('ro', 'read', 'demo');
    const refused = await api<{ code: string }>(s.gw.base, ro.secret, 'POST', `/v1/api/conversations/${conv}/messages`, { text: 'no' });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('API_KEY_READ_ONLY');
    const other = await makeKey('other writer', 'write', 'othersite');
    expect((await api(s.gw.base, other.secret, 'POST', `/v1/api/conversations/${conv}/messages`, { text: 'no' })).status).toBe(404);
    expect((await api<{ code: string }>(s.gw.base, secret, 'POST', `/v1/api/conversations/${conv}/messages`, { text: '   ' })).body.code).toBe('EMPTY_MESSAGE');
    expect((await api(s.gw.base, secret, 'POST', `/v1/api/conversations/${conv}/messages`, { text: 'x', cid: 'bad id!' })).status).toBe(400);
  });

  it('assigns, transfers, resolves and reopens; read-only keys may not', async () => {
    const { conv } = await newConversation('demo', 'help me');
    const { secret } = await makeKey('router', 'write', 'demo');
    const ro = await makeKey('ro2', 'read', 'demo');
    const ann = await createOp(s.admin, { email: 'api-ann@example.com', name: 'Ann', sites: ['demo'] });
    const ben = await createOp(s.admin, { email: 'api-ben@example.com', name: 'Ben', sites: ['demo'] });
    const team = await s.admin.req<{ id: string }>('POST', '/v1/teams', { name: 'Sales', sites: ['demo'] });
    const get = async () => (await api<{ conv: Conv }>(s.gw.base, secret, 'GET', `/v1/api/conversations/${conv}`)).body.conv;

    for (const [path, body] of [['assign', { operator: ann.id }], ['transfer', { team: team.body.id }], ['resolve', undefined], ['reopen', {}]] as const) {
      const r = await api<{ code: string }>(s.gw.base, ro.secret, 'POST', `/v1/api/conversations/${conv}/${path}`, body);
      expect(r.status).toBe(403);
      expect(r.body.code).toBe('API_KEY_READ_ONLY');
    }

    expect((await api(s.gw.base, secret, 'POST', `/v1/api/conversations/${conv}/assign`, { operator: ann.id })).status).toBe(200);
    expect(await get()).toMatchObject({ status: 'open', operator: { id: ann.id } });
    expect((await api(s.gw.base, secret, 'POST', `/v1/api/conversations/${conv}/assign`, { operator: 'nobody' })).status).toBe(404);

    expect((await api(s.gw.base, secret, 'POST', `/v1/api/conversations/${conv}/transfer`, { operator: ben.id, note: 'VIP' })).status).toBe(200);
    expect(await get()).toMatchObject({ status: 'open', operator: { id: ben.id } });
    expect((await api(s.gw.base, secret, 'POST', `/v1/api/conversations/${conv}/transfer`, {})).status).toBe(400);
    expect((await api(s.gw.base, secret, 'POST', `/v1/api/conversations/${conv}/transfer`, { team: team.body.id })).status).toBe(200);
    expect((await get()).team).toBe(team.body.id);

    const byOp = await api<{ items: Conv[] }>(s.gw.base, secret, 'GET', `/v1/api/conversations?team=${team.body.id}`);
    expect(byOp.body.items.map((c) => c.id)).toContain(conv);

    expect((await api(s.gw.base, secret, 'POST', `/v1/api/conversations/${conv}/resolve`)).status).toBe(200);
    expect((await get()).status).toBe('resolved');
    expect((await api(s.gw.base, secret, 'POST', `/v1/api/conversations/${conv}/resolve`)).status).toBe(200);
    const resolved = await api<{ items: Conv[] }>(s.gw.base, secret, 'GET', '/v1/api/conversations?status=resolved');
    expect(resolved.body.items.map((c) => c.id)).toContain(conv);

    expect((await api(s.gw.base, secret, 'POST', `/v1/api/conversations/${conv}/reopen`, { operator: ann.id })).status).toBe(200);
    expect(await get()).toMatchObject({ status: 'open', operator: { id: ann.id } });
    // The console still sees it as before: Ann has it.
    const annSees = await ann.http.req<{ conv: Conv }>('GET', `/v1/conversations/${conv}`);
    expect(annSees.body.conv.operator?.id).toBe(ann.id);

    // Without a body: back to the operator who had it (Ann).
    expect((await api(s.gw.base, secret, 'POST', `/v1/api/conversations/${conv}/resolve`)).status).toBe(200);
    expect((await api(s.gw.base, secret, 'POST', `/v1/api/conversations/${conv}/reopen`)).status).toBe(200);
    expect(await get()).toMatchObject({ status: 'open', operator: { id: ann.id } });

    const other = await makeKey('other router', 'write', 'othersite');
    expect((await api(s.gw.base, other.secret, 'POST', `/v1/api/conversations/${conv}/resolve`)).status).toBe(404);
  });

  it('reads a visitor and lists operators with their status', async () => {
    const { conv } = await newConversation('demo', 'who am i');
    const key = await makeKey('people', 'read', 'demo');
    const c = (await api<{ conv: Conv }>(s.gw.base, key.secret, 'GET', `/v1/api/conversations/${conv}`)).body.conv;
    const v = await api<{ visitor: { id: string }; site: string; conversations: string[] }>(s.gw.base, key.secret, 'GET', `/v1/api/visitors/${c.visitor.id}`);
    expect(v.status).toBe(200);
    expect(v.body).toMatchObject({ visitor: { id: c.visitor.id }, site: 'demo', conversations: [conv] });
    const other = await makeKey('other people', 'read', 'othersite');
    expect((await api(s.gw.base, other.secret, 'GET', `/v1/api/visitors/${c.visitor.id}`)).status).toBe(404);
    expect((await api(s.gw.base, key.secret, 'GET', '/v1/api/visitors/nope')).status).toBe(404);

    const ops = await api<{ id: string; name: string; status: string; load: number; capacity: number }[]>(s.gw.base, key.secret, 'GET', '/v1/api/operators');
    expect(ops.status).toBe(200);
    const ann = ops.body.find((o) => o.name === 'Ann');
    expect(ann).toMatchObject({ status: expect.stringMatching(/^(online|away|offline)$/), capacity: expect.any(Number), load: expect.any(Number) });
    // Operators of other sites only are not listed.
    await createOp(s.admin, { email: 'api-olga@example.com', name: 'Olga', sites: ['othersite'] });
    expect((await api<{ name: string }[]>(s.gw.base, key.secret, 'GET', '/v1/api/operators')).body.some((o) => o.name === 'Olga')).toBe(false);
  });
});

describe('CSRF and bearer calls', () => {
  it('exempts bearer calls without a session cookie only', async () => {
    const { conv } = await newConversation('demo', 'csrf');
    const { secret } = await makeKey('csrf', 'write', 'demo');
    // No Origin, bearer only: accepted.
    expect((await api(s.gw.base, secret, 'POST', `/v1/api/conversations/${conv}/messages`, { text: 'ok' })).status).toBe(201);
    // Bearer plus the session cookie, from elsewhere: the Origin check applies.
    const both = await api<{ code: string }>(s.gw.base, secret, 'POST', `/v1/api/conversations/${conv}/messages`, { text: 'no' }, { cookie: s.admin.cookie, origin: 'https://evil.example' });
    expect(both.status).toBe(403);
    expect(both.body.code).toBe('CSRF');
    // A console route with a bearer header and no cookie passes CSRF but is not signed in.
    expect((await api<{ code: string }>(s.gw.base, secret, 'POST', '/v1/teams', { name: 'x' })).body.code).toBe('NOT_AUTHENTICATED');
    // The console keeps working with its cookie and Origin, and without Origin it is still refused.
    const cookieOnly = new Http(s.gw.base);
    cookieOnly.cookie = s.admin.cookie;
    expect((await cookieOnly.req('POST', '/v1/teams', { name: 'Console team' })).status).toBe(201);
    expect((await cookieOnly.req<{ code: string }>('POST', '/v1/teams', { name: 'y' }, { origin: 'https://evil.example' })).body.code).toBe('CSRF');
  });
});

/** A GET with a bearer secret from one loopback address (the gateway counts failed keys per address). */
function fromAddress(base: string, localAddress: string, secret: string, path = '/v1/api/operators'): Promise<{ status: number; retryAfter: number | null; code?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(base + path, { localAddress, agent: false, headers: { authorization: `Bearer ${secret}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        const ra = res.headers['retry-after'];
        resolve({ status: res.statusCode ?? 0, retryAfter: ra === undefined ? null : Number(ra), code: text ? (JSON.parse(text) as { code?: string }).code : undefined });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('rate limits', () => {
  /** Test-only limits on both gateways (either may serve a request); the product's are restored after. */
  const limit = (l: Partial<ApiKeyLimits>) => {
    for (const g of [s.gw, s.gw2]) g.ctx.domain.apiKeys.configure(l);
  };
  const restore = () => limit({ requestsPerMin: API_KEY_REQUESTS_PER_MIN, failuresPerAddress: API_KEY_FAILURES_PER_ADDRESS, failureWindowMs: API_KEY_FAILURE_WINDOW_MS });

  it('the product limits are the named constants', () => {
    expect(s.gw.ctx.domain.apiKeys.limits).toEqual({ requestsPerMin: API_KEY_REQUESTS_PER_MIN, failuresPerAddress: API_KEY_FAILURES_PER_ADDRESS, failureWindowMs: API_KEY_FAILURE_WINDOW_MS });
    expect(API_KEY_REQUESTS_PER_MIN).toBeGreaterThanOrEqual(600);
  });

  it('a key past its requests per minute gets 429 RATE_LIMITED with Retry-After on every gateway (one bucket in Redis); other keys go on; it refills', async () => {
    // 30 a minute: a burst of 30, then one every 2 s.
    limit({ requestsPerMin: 30 });
    try {
      const busy = await makeKey('busy', 'read');
      const calm = await makeKey('calm', 'read');
      // The budget is shared: half the requests on each gateway.
      for (let i = 0; i < 30; i++) expect((await api((i % 2 ? s.gw2 : s.gw).base, busy.secret, 'GET', '/v1/api/operators')).status).toBe(200);
      let retryAfter = 0;
      for (const g of [s.gw, s.gw2]) {
        const res = await fetch(`${g.base}/v1/api/conversations`, { headers: { authorization: `Bearer ${busy.secret}` } });
        expect(res.status).toBe(429);
        expect(((await res.json()) as { code: string }).code).toBe('RATE_LIMITED');
        retryAfter = Number(res.headers.get('retry-after'));
        expect(retryAfter).toBeGreaterThanOrEqual(1);
        expect(retryAfter).toBeLessThanOrEqual(2);
      }
      // Writes count too, and are refused the same way (nothing is done).
      expect((await api<{ code: string }>(s.gw.base, busy.secret, 'POST', '/v1/api/conversations/nope/resolve')).status).toBe(429);
      // Another key has its own bucket.
      expect((await api(s.gw2.base, calm.secret, 'GET', '/v1/api/operators')).status).toBe(200);
      // After Retry-After, the key may go on.
      await sleep(retryAfter * 1000 + 100);
      expect((await api(s.gw2.base, busy.secret, 'GET', '/v1/api/operators')).status).toBe(200);
    } finally {
      restore();
    }
  });

  it('an address past its failed key attempts is refused on every gateway, with a valid key too, until its window ends; other addresses are not', async () => {
    limit({ failuresPerAddress: 5, failureWindowMs: 2_000 });
    try {
      const good = await makeKey('good', 'read');
      const guesser = '127.0.0.77';
      // Guesses (well formed and not) from one address, spread over both gateways: 401 each, until the limit.
      for (let i = 0; i < 5; i++) {
        const r = await fromAddress((i % 2 ? s.gw2 : s.gw).base, guesser, i === 0 ? 'garbage' : `hark_${randomId(43)}`);
        expect(r.status).toBe(401);
        expect(r.code).toBe('API_KEY_INVALID');
      }
      // Then every key from there is refused, a valid one too: a guess can no longer tell right from wrong.
      for (const [g, secret] of [[s.gw, `hark_${randomId(43)}`], [s.gw2, good.secret], [s.gw, good.secret]] as const) {
        const r = await fromAddress(g.base, guesser, secret);
        expect(r.status).toBe(429);
        expect(r.code).toBe('RATE_LIMITED');
        expect(r.retryAfter).toBeGreaterThanOrEqual(1);
        expect(r.retryAfter).toBeLessThanOrEqual(2);
      }
      // Another address with the same key is not affected.
      expect((await fromAddress(s.gw.base, '127.0.0.78', good.secret)).status).toBe(200);
      expect((await api(s.gw2.base, good.secret, 'GET', '/v1/api/operators')).status).toBe(200);
      // A request without any key is not a guess: 401, as always.
      expect((await api<{ code: string }>(s.gw.base, null, 'GET', '/v1/api/operators')).body.code).toBe('API_KEY_INVALID');
      // The window (from the first failure) ends: the address may try again.
      await sleep(2_100);
      expect((await fromAddress(s.gw2.base, guesser, good.secret)).status).toBe(200);
    } finally {
      restore();
    }
  });
});

describe('the number of keys', () => {
  it('is limited to MAX_API_KEYS per installation (409 past it); revoking makes room', async () => {
    let have = (await s.admin.req<Key[]>('GET', '/v1/api-keys')).body.length;
    while (have < MAX_API_KEYS) {
      expect((await s.admin.req('POST', '/v1/api-keys', { name: `k${have}`, access: 'read' })).status).toBe(201);
      have++;
    }
    const over = await s.admin.req<{ code: string }>('POST', '/v1/api-keys', { name: 'one too many', access: 'read' });
    expect(over.status).toBe(409);
    expect(over.body.code).toBe('CONFLICT');
    const list = (await s.admin.req<Key[]>('GET', '/v1/api-keys')).body;
    expect(list).toHaveLength(MAX_API_KEYS);
    expect((await s.admin.req('DELETE', `/v1/api-keys/${list[0]?.id}`)).status).toBe(200);
    expect((await s.admin.req('POST', '/v1/api-keys', { name: 'room again', access: 'read' })).status).toBe(201);
  });
});
