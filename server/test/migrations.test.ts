/**
 * Data migrations, on a Redis written by the previous gateway (fixtures/v1-dump.rdb, made by
 * fixtures-gen/write-v1-dump.ts from the code before migrations existed; v1-dump.json lists
 * what it holds): migrate() brings it to SCHEMA_VERSION and trims what the caps forbid; every
 * record reads back with the current store; several gateways migrating at once run each
 * migration once; a newer Redis is refused; and a gateway built on the result works.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAX_ATTR_KEY, MAX_ATTR_VALUE, MAX_ATTRS, MAX_VISITOR_EMAIL, MAX_VISITOR_NAME, SITE_MSGS_PER_SEC, type Entry, toVisitorEntry } from '@hark/shared';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Connections, connect } from '../src/redis/client';
import { type RedisProcess, startRedis } from '../src/redis/supervisor';
import { getAvatar } from '../src/store/avatars';
import { getMeta, readEntries, readEntriesBefore } from '../src/store/conversations';
import { BACKFILL_KEY } from '../src/store/search';
import { K } from '../src/store/keys';
import {
  MAX_PAGE_TITLE,
  MAX_PAGE_URL,
  MIGRATIONS,
  type Migration,
  type MigrationLog,
  SCHEMA_KEY,
  SCHEMA_LOCK_KEY,
  SCHEMA_VERSION,
  capAttrs,
  capPage,
  cut,
  migrate,
  migrationsStatus,
  rewriteHash,
} from '../src/store/migrations';
import { getOperator } from '../src/store/operators';
import { listReplies } from '../src/store/replies';
import { getSite } from '../src/store/sites';
import { getTeam } from '../src/store/teams';
import { getVisitor, tokenHash } from '../src/store/visitors';
import { startCluster } from './cluster-harness';
import type { TestGateway } from './harness';

/** Entries as readers give them now: without the operator photo copies old entries carry in `op` / `to`. */
function withoutAvatars(entries: Entry[]): Entry[] {
  return entries.map((e) => {
    const c = JSON.parse(JSON.stringify(e)) as Entry;
    if (c.op) delete c.op.avatar;
    if (c.to) delete c.to.avatar;
    return c;
  });
}

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

interface ManifestConv {
  id: string;
  site: string;
  visitor: string;
  status: 'queued' | 'open' | 'resolved';
  op?: string;
  rating?: { rating: string; comment: string };
  compacted?: boolean;
  transferredFrom?: string;
  messages: { from: string; text: string }[];
  notes: string[];
  entries: Entry[];
}
interface Manifest {
  commit: string;
  admin: { id: string; email: string; password: string; name: string };
  sites: { id: string; name: string }[];
  team: { id: string; name: string };
  operators: Record<'ana' | 'bo' | 'sue', { id: string; email: string; name: string; password: string; role: string; sites: string[]; teams?: string[]; avatar?: string }>;
  replies: { id: string; as: string; site?: string; owner?: string; shortcut: string; text: string }[];
  visitors: Record<string, { id: string; token: string; site: string; name?: string; email?: string; conv?: string }>;
  conversations: Record<'open' | 'rated' | 'note' | 'transferred' | 'compacted' | 'queued', ManifestConv>;
  direct: { oversized: string; garbled: string };
}
const manifest = JSON.parse(readFileSync(join(FIXTURES, 'v1-dump.json'), 'utf8')) as Manifest;
const M = manifest;

interface FixtureRedis extends RedisProcess {
  cleanup(): Promise<void>;
}

/**
 * A private redis-server on a copy of the fixture. Redis loads `dump.rdb` from its `--dir`;
 * with AOF on and no AOF there yet (what startRedis asks for), Redis 7 would start empty
 * and ignore it, so this one runs with AOF off.
 */
async function fixtureRedis(): Promise<FixtureRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'hark-migrate-'));
  copyFileSync(join(FIXTURES, 'v1-dump.rdb'), join(dir, 'dump.rdb'));
  const r = await startRedis({ dir, extraArgs: ['--appendonly', 'no'] });
  return Object.assign(r, {
    async cleanup() {
      await r.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

/** A log that keeps its lines. */
function memLog(): MigrationLog & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(m), warn: (m) => lines.push(`WARN ${m}`) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every visitor record, raw. */
async function visitorHashes(r: Redis): Promise<Map<string, Record<string, string>>> {
  const out = new Map<string, Record<string, string>>();
  for (const id of Object.values(M.visitors).map((v) => v.id)) out.set(id, await r.hgetall(K.visitor(id)));
  return out;
}

describe('cut and the caps (unit)', () => {
  it('cuts strings by UTF-16 code units without splitting a surrogate pair', () => {
    expect(cut('abc', 5)).toBe('abc');
    expect(cut('abcdef', 3)).toBe('abc');
    expect(cut('ab🙂cd', 3)).toBe('ab');
    expect(cut('ab🙂cd', 4)).toBe('ab🙂');
  });
  it('capAttrs: null within the caps, {} for garbage, first keys kept in order, keys and values cut', () => {
    expect(capAttrs('{"a":1,"b":"x","c":true,"d":null}')).toBeNull();
    expect(capAttrs('not json')).toBe('{}');
    expect(capAttrs('[1,2]')).toBe('{}');
    expect(capAttrs('null')).toBe('{}');
    const big: Record<string, string> = {};
    for (let i = 0; i < 55; i++) big[`k${i}`] = `v${i}`;
    const capped = JSON.parse(capAttrs(JSON.stringify(big)) as string);
    expect(Object.keys(capped)).toEqual(Object.keys(big).slice(0, MAX_ATTRS));
    const long = JSON.parse(capAttrs(JSON.stringify({ [`${'k'.repeat(70)}1`]: 'a', [`${'k'.repeat(70)}2`]: 'b', v: 'z'.repeat(600), o: { nested: 1 } })) as string);
    expect(long).toEqual({ ['k'.repeat(MAX_ATTR_KEY)]: 'a', v: 'z'.repeat(MAX_ATTR_VALUE), o: '{"nested":1}' });
  });
  it('capPage: null within the caps, removed when garbage, url/title/referrer cut', () => {
    expect(capPage('{"url":"https://a.example/","title":"A"}')).toBeNull();
    expect(capPage('{oops')).toBe('del');
    expect(capPage('"a string"')).toBe('del');
    const p = JSON.parse(capPage(JSON.stringify({ url: 'u'.repeat(3000), title: 't'.repeat(400), referrer: 'r'.repeat(2100) })) as string);
    expect([p.url.length, p.title.length, p.referrer.length]).toEqual([MAX_PAGE_URL, MAX_PAGE_TITLE, MAX_PAGE_URL]);
  });
  it('SCHEMA_VERSION is the last migration', () => {
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.at(-1)?.to);
    expect(MIGRATIONS.map((m) => [m.to, m.name])).toEqual([[2, 'visitor-record-caps'], [3, 'operator-seats'], [4, 'operator-avatars'], [5, 'search-backfill'], [6, 'event-log-cursors']]);
  });
});

describe('a Redis written by the previous gateway (fixtures/v1-dump.rdb)', () => {
  let redis: FixtureRedis;
  let c: Connections;
  let raw: Redis;
  let before: Map<string, Record<string, string>>;
  let gw: TestGateway | undefined;

  beforeAll(async () => {
    redis = await fixtureRedis();
    c = connect({ url: redis.url });
    raw = new Redis(redis.url);
  });
  afterAll(async () => {
    await gw?.close();
    await c?.close();
    raw?.disconnect();
    await redis?.cleanup();
  });

  it('loads as version 1, as the old code left it', async () => {
    expect(await raw.get(SCHEMA_KEY)).toBeNull();
    expect(await migrationsStatus(c.cmd)).toEqual({ version: 1, target: SCHEMA_VERSION, pending: [{ to: 2, name: 'visitor-record-caps' }, { to: 3, name: 'operator-seats' }, { to: 4, name: 'operator-avatars' }, { to: 5, name: 'search-backfill' }, { to: 6, name: 'event-log-cursors' }], newer: false, lock: null });
    const big = await raw.hgetall(K.visitor(M.direct.oversized));
    expect(Object.keys(JSON.parse(big.attrs as string))).toHaveLength(61);
    before = await visitorHashes(raw);
  });

  it('(a) migrate() brings it to SCHEMA_VERSION and trims the oversized visitor to the caps', async () => {
    const log = memLog();
    const res = await migrate(c.cmd, log);
    expect(res).toMatchObject({ from: 1, to: SCHEMA_VERSION, ran: ['visitor-record-caps', 'operator-seats', 'operator-avatars', 'search-backfill', 'event-log-cursors'] });
    expect(await raw.hgetall(BACKFILL_KEY)).toEqual(Object.fromEntries(M.sites.flatMap((s) => [[`${s.id}|open`, ''], [`${s.id}|resolved`, '']])));
    expect(await raw.get(SCHEMA_KEY)).toBe(String(SCHEMA_VERSION));
    expect(await raw.exists(SCHEMA_LOCK_KEY)).toBe(0);
    expect(log.lines.join('\n')).toMatch(/visitor-record-caps: 8 visitor records scanned, 2 trimmed/);
    expect(await migrationsStatus(c.cmd)).toMatchObject({ version: SCHEMA_VERSION, pending: [], newer: false, lock: null });

    // The oversized record: first 50 attributes in their order, each within its caps; name, e-mail, page cut.
    const v = await getVisitor(c.cmd, M.direct.oversized);
    const orig = JSON.parse(before.get(M.direct.oversized)?.attrs as string) as Record<string, unknown>;
    expect(Object.keys(v?.attrs ?? {})).toEqual(Object.keys(orig).slice(0, MAX_ATTRS));
    for (const [k, val] of Object.entries(v?.attrs ?? {})) {
      expect(k.length).toBeLessThanOrEqual(MAX_ATTR_KEY);
      if (typeof val === 'string') expect(val.length).toBeLessThanOrEqual(MAX_ATTR_VALUE);
    }
    expect(v?.attrs.attr_05).toBe('x'.repeat(MAX_ATTR_VALUE));
    expect(v?.attrs.attr_03).toBe(3);
    expect(v?.name).toBe('N'.repeat(MAX_VISITOR_NAME));
    expect(v?.email?.length).toBe(MAX_VISITOR_EMAIL);
    expect(v?.page?.url.length).toBe(MAX_PAGE_URL);
    expect(v?.page?.title).toBe('T'.repeat(MAX_PAGE_TITLE));
    expect(v?.page?.referrer).toBe('https://search.example/');
    expect(v?.site).toBe('demo');
    // The garbled record: unparseable attrs become {}, an unparseable page is removed.
    const g = await raw.hgetall(K.visitor(M.direct.garbled));
    expect(g.attrs).toBe('{}');
    expect(g.page).toBeUndefined();
    expect(g.site).toBe('demo');
    // Every other record is untouched, byte for byte.
    const after = await visitorHashes(raw);
    for (const [id, h] of before) if (id !== M.direct.oversized && id !== M.direct.garbled) expect(after.get(id)).toEqual(h);

    // Idempotent: migrate() again does nothing; the migration itself run again changes nothing.
    expect(await migrate(c.cmd, memLog())).toMatchObject({ from: SCHEMA_VERSION, to: SCHEMA_VERSION, ran: [] });
    const again = memLog();
    await (MIGRATIONS[0] as Migration).run(c.cmd, again, { check() {} });
    expect(again.lines.join('\n')).toMatch(/8 visitor records scanned, 0 trimmed/);
    expect(await visitorHashes(raw)).toEqual(after);
  });

  it('(a) operator-seats: every operator ledger holds a seat per chat the old code assigned them, on every site', async () => {
    // Written by the old code: Ana holds 'open' and 'note', Bo 'transferred' (demo); nothing queued or resolved holds one.
    const held = (op: string) => Object.values(M.conversations).filter((x) => x.status === 'open' && x.op === op).map((x) => x.id).sort();
    expect(held(M.operators.ana.id)).toHaveLength(2);
    for (const o of Object.values(M.operators)) {
      const ledger = await raw.hgetall(K.opSeats(o.id));
      const convs = Object.values(ledger).map((v) => (JSON.parse(v) as { c: string }).c).sort();
      expect(convs, o.name).toEqual(held(o.id));
      for (const [token, v] of Object.entries(ledger)) {
        const { s: site, c: conv } = JSON.parse(v) as { s: string; c: string };
        expect(await raw.hget(K.siteSeat(site), conv)).toBe(token);
        expect(await raw.hget(K.siteAssign(site), conv)).toBe(o.id);
      }
    }
    // Run again: nothing added, nothing changed.
    const before = await raw.hgetall(K.opSeats(M.operators.ana.id));
    const again = memLog();
    await (MIGRATIONS.find((m) => m.name === 'operator-seats') as Migration).run(c.cmd, again, { check() {} });
    expect(again.lines.join('\n')).toMatch(/operator-seats: 1 sites, 3 assignments, 0 seats added/);
    expect(await raw.hgetall(K.opSeats(M.operators.ana.id))).toEqual(before);
  });

  it('(b) everything the old code wrote reads back with the current store, the compacted conversation included', async () => {
    // A site saved before `msgsPerSec` existed reads with the default (no migration needed for it).
    for (const s of M.sites) expect(await getSite(c.cmd, s.id)).toMatchObject({ id: s.id, name: s.name, msgsPerSec: SITE_MSGS_PER_SEC });
    expect(await getTeam(c.cmd, M.team.id)).toMatchObject({ id: M.team.id, name: M.team.name, sites: ['demo'] });
    expect(await getOperator(c.cmd, M.admin.id)).toMatchObject({ email: M.admin.email, role: 'admin', active: true });
    for (const o of Object.values(M.operators)) {
      const op = await getOperator(c.cmd, o.id);
      expect(op).toMatchObject({ id: o.id, email: o.email, name: o.name, role: o.role, sites: o.sites, teams: o.teams ?? [], active: true });
      // operator-avatars: a data: photo became an image served by the gateway, the record holds its path.
      if (o.avatar) {
        expect(op?.avatar).toMatch(new RegExp(`^/v1/avatars/${o.id}/[0-9a-f]{16}\\.png$`));
        const img = await getAvatar(c.cmd, o.id, (op?.avatar ?? '').split('/')[4]?.split('.')[0] as string);
        expect(img?.data).toEqual(Buffer.from(o.avatar.split(',')[1] as string, 'base64'));
      } else expect(op?.avatar).toBeUndefined();
      expect(op?.passhash).toBeTruthy();
    }
    for (const rep of M.replies) {
      const scope = rep.site ? { site: rep.site } : { owner: rep.owner as string };
      expect(await listReplies(c.cmd, scope)).toContainEqual(expect.objectContaining({ id: rep.id, shortcut: rep.shortcut, text: rep.text }));
    }
    for (const v of Object.values(M.visitors)) {
      const rec = await getVisitor(c.cmd, v.id);
      expect(rec).toMatchObject({ id: v.id, site: v.site });
      if (v.name) expect(rec?.name).toBe(v.name);
      if (v.email) expect(rec?.email).toBe(v.email);
      // The widget's token still finds its visitor.
      expect(await c.cmd.get(K.visitorToken(tokenHash(v.token)))).toBe(`${v.site}:${v.id}`);
    }
    for (const [name, conv] of Object.entries(M.conversations)) {
      const m = await getMeta(c.cmd, conv.id);
      expect(m, name).toMatchObject({ id: conv.id, site: conv.site, visitor: conv.visitor });
      expect(m?.status === 'new' ? 'queued' : m?.status, name).toBe(conv.status);
      expect(m?.op, name).toBe(conv.op);
      // The conversation record names the photo by its path now (it held a copy of the data: URL).
      if (conv.op === M.operators.ana.id) expect(m?.opAvatar).toBe((await getOperator(c.cmd, M.operators.ana.id))?.avatar);
      expect(m?.opAvatar ?? '', name).not.toMatch(/^data:/);
      if (conv.rating) expect([m?.rating, m?.ratingComment]).toEqual([conv.rating.rating, conv.rating.comment]);
      // Every entry, forwards and backwards, as the old code read it but for the photo copies, which are no longer sent.
      const stripped = withoutAvatars(conv.entries);
      expect(conv.entries.some((e) => e.op?.avatar?.startsWith('data:')) || conv.op !== M.operators.ana.id, name).toBe(true);
      expect(await readEntries(c.cmd, conv.id, '', 10_000), name).toEqual(stripped);
      expect((await readEntriesBefore(c.cmd, conv.id, '', 10_000)).entries, name).toEqual(stripped);
      const msgs = conv.entries.filter((e) => e.kind === 'msg').map((e) => ({ from: e.from, text: e.text }));
      expect(msgs, name).toEqual(conv.messages);
      expect(conv.entries.filter((e) => e.kind === 'note').map((e) => e.text), name).toEqual(conv.notes);
    }
    const packed = M.conversations.compacted;
    expect(packed.compacted).toBe(true);
    expect(await c.cmd.exists(K.convPacked(packed.id))).toBe(1);
    expect(await c.cmd.xlen(K.convStream(packed.id))).toBe(0);
    expect(M.conversations.transferred.entries.some((e) => e.event === 'transferred')).toBe(true);
    expect(M.conversations.rated.entries.some((e) => e.event === 'rated')).toBe(true);
  });

  it('(e) a gateway built on the migrated data works: sign-ins, a visitor token, its history, a new message to its operator', async () => {
    // Loaded here, not at the top: the migration tests above need only the store, not the whole gateway.
    const { Http, cid, onlineOperator, testGateway, visitor } = await import('./harness');
    // Until buildApp migrates by itself: migrate first (a no-op when (a) ran), then build the gateway.
    expect((await migrate(c.cmd, memLog())).to).toBe(SCHEMA_VERSION);
    gw = await testGateway(redis.url);
    // What buildApp will hand migrate() as its log: Fastify's logger fits MigrationLog.
    const appLog: MigrationLog = gw.app.log;
    expect(await migrate(gw.conns.cmd, appLog)).toMatchObject({ to: SCHEMA_VERSION, ran: [] });

    const admin = new Http(gw.base);
    expect((await admin.login(M.admin.email, M.admin.password)).id).toBe(M.admin.id);
    // The compacted conversation through REST, as the console reads it.
    const packed = await admin.req<{ entries: Entry[] }>('GET', `/v1/conversations/${M.conversations.compacted.id}`);
    expect(packed.status).toBe(200);
    expect(packed.body.entries.map((e) => e.id)).toEqual(M.conversations.compacted.entries.map((e) => e.id));

    const ana = new Http(gw.base);
    expect((await ana.login(M.operators.ana.email, M.operators.ana.password)).id).toBe(M.operators.ana.id);
    const sue = new Http(gw.base);
    expect((await sue.login(M.operators.sue.email, M.operators.sue.password)).id).toBe(M.operators.sue.id);
    const wrong = await new Http(gw.base).req('POST', '/v1/auth/login', { email: M.operators.bo.email, password: 'not bo password' });
    expect(wrong.status).toBe(401);

    const op = await onlineOperator(gw, ana);
    const open = M.conversations.open;
    // Ana's presence lease lapsed with the old gateway: the new one may requeue her chats before
    // she is back, then give them back to her when she comes online ('assigned' again).
    const anas = (s: { id: string; status: string; operator?: { id: string } | null }) => s.id === open.id && s.status === 'open' && s.operator?.id === M.operators.ana.id;
    if (!(await op.next('welcome')).convs.some(anas)) await op.next('conv', (f) => anas(f.conv));
    const v = await visitor(gw, { site: 'demo', token: M.visitors.open?.token });
    const welcome = await v.next('welcome');
    expect(welcome.visitorId).toBe(open.visitor);
    expect(welcome.convs).toContainEqual(expect.objectContaining({ id: open.id, status: 'open', operator: expect.objectContaining({ id: M.operators.ana.id }) }));
    // Ana's migrated photo reaches the visitor as a URL the gateway serves.
    const photo = welcome.convs.find((x) => x.id === open.id)?.operator?.avatar as string;
    expect(photo).toMatch(/^\/v1\/avatars\//);
    const res = await fetch(gw.base + photo);
    expect([res.status, res.headers.get('content-type')]).toEqual([200, 'image/png']);
    await v.next('synced');
    // The history the old code stored, then at most the new gateway's own events.
    const visible = withoutAvatars(open.entries).map(toVisitorEntry).filter((e): e is Entry => e !== null);
    const caught = v.of('entry').map((f) => f.entry);
    expect(caught.slice(0, visible.length)).toEqual(visible);
    for (const e of caught.slice(visible.length)) expect(e).toMatchObject({ kind: 'event', from: 'system' });
    expect(caught.filter((e) => e.kind === 'msg').map((e) => e.text)).toEqual(open.messages.map((m) => m.text));

    const c1 = cid();
    v.send({ type: 'send', cid: c1, text: 'Back again after the upgrade.' });
    expect((await v.next('ack', (f) => f.cid === c1)).conv).toBe(open.id);
    const got = await op.next('entry', (f) => f.entry.cid === c1);
    expect(got.entry).toMatchObject({ conv: open.id, kind: 'msg', from: 'visitor', text: 'Back again after the upgrade.' });
    // And the operator's answer reaches the visitor.
    const c2 = cid();
    op.send({ type: 'send', conv: open.id, cid: c2, text: 'Welcome back, Marta!' });
    await op.next('ack', (f) => f.cid === c2);
    const reply = await v.next('entry', (f) => f.entry.kind === 'msg' && f.entry.from === 'operator' && f.entry.text === 'Welcome back, Marta!');
    expect(reply.entry).toMatchObject({ conv: open.id, op: { id: M.operators.ana.id, name: M.operators.ana.name } });

    // The compacted conversation's visitor (second site) gets its history from the packed key.
    const v5 = await visitor(gw, { site: 'shop2', token: M.visitors.compacted?.token });
    await v5.next('synced');
    expect(v5.of('entry').filter((f) => f.entry.kind === 'msg').map((f) => f.entry.text)).toEqual(M.conversations.compacted.messages.map((m) => m.text));
    v.close();
    v5.close();
    op.close();
  });

  it('(f) search-backfill: the search-backfill job indexes what the old code wrote (no index then): every conversation found by a word from its middle, notes and the compacted one too', async () => {
    if (!gw) throw new Error('needs the gateway of (e)');
    const { Http, waitFor } = await import('./harness');
    const admin = new Http(gw.base);
    await admin.login(M.admin.email, M.admin.password);
    const find = async (q: string) => (await admin.req<{ results: { conv: { id: string } }[] }>('GET', `/v1/search?q=${encodeURIComponent(q)}`)).body.results.map((r) => r.conv.id);
    await waitFor('the backfill done', async () => (await raw.exists(BACKFILL_KEY)) === 0, 30_000);
    for (const [name, conv] of Object.entries(M.conversations)) {
      const texts = [...conv.messages.map((m) => m.text), ...conv.notes];
      const text = texts[texts.length >> 1] as string;
      const words = text.split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 3);
      const word = words[words.length >> 1] as string;
      expect(await find(word), `${name}: "${word}" of "${text}"`).toContain(conv.id);
    }
    for (const conv of Object.values(M.conversations)) for (const note of conv.notes) expect(await find(note.split(' ').slice(0, 3).join(' ')), note).toContain(conv.id);
  });
});

describe('several gateways, locks and versions', () => {
  let redis: FixtureRedis;
  const clients: Redis[] = [];
  /** A fresh connection; db N is an empty keyspace at version 1 for the synthetic migrations. */
  const conn = (db = 0) => {
    const r = new Redis(`${redis.url}/${db}`);
    clients.push(r);
    return r;
  };
  beforeAll(async () => {
    redis = await fixtureRedis();
  });
  afterAll(async () => {
    for (const r of clients) r.disconnect();
    await redis?.cleanup();
  });

  it('(c) two gateways migrating the fixture at once: the migration runs once, both return at SCHEMA_VERSION', async () => {
    const [l1, l2] = [memLog(), memLog()];
    const [r1, r2] = await Promise.all([migrate(conn(), l1, { pollMs: 10 }), migrate(conn(), l2, { pollMs: 10 })]);
    expect([r1.to, r2.to]).toEqual([SCHEMA_VERSION, SCHEMA_VERSION]);
    expect([...r1.ran, ...r2.ran]).toEqual(['visitor-record-caps', 'operator-seats', 'operator-avatars', 'search-backfill', 'event-log-cursors']);
    const all = [...l1.lines, ...l2.lines];
    expect(all.filter((l) => l.includes('migration 2 (visitor-record-caps) running'))).toHaveLength(1);
    expect(all.filter((l) => l.includes('visitor records scanned'))).toHaveLength(1);
    expect(await conn().get(SCHEMA_KEY)).toBe(String(SCHEMA_VERSION));
    expect(Object.keys((await getVisitor(conn(), M.direct.oversized))?.attrs ?? {})).toHaveLength(MAX_ATTRS);
  });

  it('(c) three at once with a migration that outlasts the lock: the holder renews it, the others wait, it runs once', async () => {
    let runs = 0;
    const slow: Migration = {
      to: 2,
      name: 'slow',
      async run(cmd, _log, guard) {
        runs++;
        for (let i = 0; i < 10; i++) {
          await sleep(80);
          guard.check();
          await cmd.incr('slow:steps');
        }
      },
    };
    const opts = { migrations: [slow], lockMs: 300, pollMs: 20 };
    const logs = [memLog(), memLog(), memLog()];
    const res = await Promise.all(logs.map((l) => migrate(conn(1), l, opts)));
    expect(runs).toBe(1);
    expect(await conn(1).get('slow:steps')).toBe('10');
    expect(res.map((r) => r.to)).toEqual([2, 2, 2]);
    expect(res.flatMap((r) => r.ran)).toEqual(['slow']);
    const waiters = res.filter((r) => r.ran.length === 0);
    expect(waiters).toHaveLength(2);
    for (const w of waiters) expect(w.waitedMs).toBeGreaterThan(500);
    expect(logs.flatMap((l) => l.lines).filter((l) => l.includes('waiting for'))).toHaveLength(2);
    expect(await migrationsStatus(conn(1), [slow])).toMatchObject({ version: 2, pending: [], lock: null });
  });

  it('a migration that fails leaves the version where it was and the lock free; the next start runs it again', async () => {
    let calls = 0;
    const flaky: Migration = {
      to: 2,
      name: 'flaky',
      async run(cmd) {
        calls++;
        await cmd.set('flaky:half', 'done');
        if (calls === 1) throw new Error('connection lost mid-way');
        await cmd.set('flaky:all', 'done');
      },
    };
    const r = conn(2);
    await expect(migrate(r, memLog(), { migrations: [flaky] })).rejects.toThrow(/migration 2 \(flaky\) failed; Redis stays at version 1 .*connection lost mid-way/);
    expect(await migrationsStatus(r, [flaky])).toMatchObject({ version: 1, pending: [{ to: 2, name: 'flaky' }], lock: null });
    expect(await migrate(r, memLog(), { migrations: [flaky] })).toMatchObject({ from: 1, to: 2, ran: ['flaky'] });
    expect(await r.mget('flaky:half', 'flaky:all')).toEqual(['done', 'done']);
  });

  it('a migration list that goes 2, 3 runs in order and records each version as it goes', async () => {
    const seen: number[] = [];
    const r = conn(3);
    const step = (to: number): Migration => ({
      to,
      name: `step${to}`,
      async run(cmd) {
        seen.push(Number((await cmd.get(SCHEMA_KEY)) ?? 1));
      },
    });
    expect(await migrate(r, memLog(), { migrations: [step(2), step(3)] })).toMatchObject({ from: 1, to: 3, ran: ['step2', 'step3'] });
    expect(seen).toEqual([1, 2]);
    expect(await r.get(SCHEMA_KEY)).toBe('3');
    await expect(migrate(r, memLog(), { migrations: [step(3)] })).rejects.toThrow(/out of order/);
  });

  it('the lock of a gateway that died lapses, and the next one migrates', async () => {
    const r = conn(4);
    await r.set(SCHEMA_LOCK_KEY, 'dead-host/123/x', 'PX', 200);
    const noop: Migration = { to: 2, name: 'noop', async run() {} };
    const res = await migrate(r, memLog(), { migrations: [noop], pollMs: 20 });
    expect(res).toMatchObject({ to: 2, ran: ['noop'] });
    expect(res.waitedMs).toBeGreaterThanOrEqual(150);
  });

  it('gives up with a clear error after waitMs while another gateway holds the lock', async () => {
    const r = conn(5);
    await r.set(SCHEMA_LOCK_KEY, 'other-host/456/y', 'PX', 60_000);
    const noop: Migration = { to: 2, name: 'noop', async run() {} };
    expect(await migrationsStatus(r, [noop])).toMatchObject({ version: 1, lock: { holder: 'other-host/456/y' } });
    await expect(migrate(r, memLog(), { migrations: [noop], waitMs: 200, pollMs: 20 })).rejects.toThrow(
      /Gave up after \d+ ms waiting for another gateway \(other-host\/456\/y\) to migrate Redis from schema version 1 to 2/,
    );
    expect(await r.get(SCHEMA_KEY)).toBeNull();
  });

  it('rewriteHash writes only over what it read: a concurrent write makes it read again; it may add and remove fields', async () => {
    const r = conn(7);
    await r.hset('h', { a: 'long value', b: 'x' });
    let calls = 0;
    const wrote = await rewriteHash(r, 'h', ['a', 'b', 'c'], (h) => {
      calls++;
      // A writer of the previous version changes the record between our read and our write, once.
      if (calls === 1) void r.hset('h', 'a', 'even longer value');
      return { set: { a: (h.a ?? '').slice(0, 4), c: 'new' }, del: ['b'] };
    });
    expect([wrote, calls]).toEqual([true, 2]);
    expect(await r.hgetall('h')).toEqual({ a: 'even', c: 'new' });
    // Within the caps already: nothing written.
    expect(await rewriteHash(r, 'h', ['a'], () => null)).toBe(false);
    // A record that never stops changing: it gives up (null) rather than overwrite.
    const restless = (h: Record<string, string | undefined>) => {
      void r.hset('h', 'a', `${h.a}!`);
      return { set: { a: 'x' }, del: [] };
    };
    expect(await rewriteHash(r, 'h', ['a'], restless, 3)).toBeNull();
    expect(await r.hget('h', 'a')).toBe('even!!!');
  });

  it('(d) a Redis at a newer version than SCHEMA_VERSION is refused; so is a version that is not one', async () => {
    const r = conn(6);
    await r.set(SCHEMA_KEY, String(SCHEMA_VERSION + 1));
    await expect(migrate(r, memLog())).rejects.toThrow(new RegExp(`schema version ${SCHEMA_VERSION + 1}, newer than this gateway's ${SCHEMA_VERSION}.*never downgrades`));
    expect(await migrationsStatus(r)).toMatchObject({ version: SCHEMA_VERSION + 1, newer: true, pending: [] });
    expect(await r.get(SCHEMA_KEY)).toBe(String(SCHEMA_VERSION + 1));
    expect(await r.exists(SCHEMA_LOCK_KEY)).toBe(0);
    await r.set(SCHEMA_KEY, 'two');
    await expect(migrate(r, memLog())).rejects.toThrow(/hark:schema holds 'two', not a schema version/);
  });
});

describe('on a Redis Cluster', () => {
  it('scans every master: oversized visitor records on all three are trimmed, by one of two gateways', async () => {
    const cluster = await startCluster();
    const nodes = cluster.addrs.map((a) => ({ host: a.split(':')[0] as string, port: Number(a.split(':')[1]) }));
    const clients = [new Cluster(nodes), new Cluster(nodes), new Cluster(nodes)];
    try {
      const [a, g1, g2] = clients as [Cluster, Cluster, Cluster];
      const big = JSON.stringify(Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`k${i}`, 'v'.repeat(600)])));
      for (let i = 0; i < 30; i++) await a.hset(K.visitor(`cv${i}`), { site: 'demo', verified: '0', attrs: i % 3 === 0 ? big : '{"plan":"pro"}' });
      // The records are spread over the masters (a scan of one node would miss some).
      const perNode = await Promise.all(a.nodes('master').map(async (n) => (await n.keys('{vis:*')).length));
      expect(perNode.filter((x) => x > 0).length).toBeGreaterThan(1);
      // Assignments the previous code made on six sites (spread over the masters too), for operator-seats.
      for (let i = 0; i < 6; i++) await a.hset(K.siteAssign(`cs${i}`), { [`conv${i}a`]: 'opx', [`conv${i}b`]: i % 2 ? 'opx' : 'opy' });
      // Two gateways booting at once, on clients that have not connected yet.
      const logs = [memLog(), memLog()];
      const res = await Promise.all([migrate(g1, logs[0] as MigrationLog, { pollMs: 10 }), migrate(g2, logs[1] as MigrationLog, { pollMs: 10 })]);
      expect(res.map((r) => r.to)).toEqual([SCHEMA_VERSION, SCHEMA_VERSION]);
      expect(res.flatMap((r) => r.ran)).toEqual(['visitor-record-caps', 'operator-seats', 'operator-avatars', 'search-backfill', 'event-log-cursors']);
      expect(logs.flatMap((l) => l.lines).join('\n')).toMatch(/30 visitor records scanned, 10 trimmed/);
      expect(logs.flatMap((l) => l.lines).join('\n')).toMatch(/operator-seats: 6 sites, 12 assignments, 12 seats added/);
      expect(await a.hlen(K.opSeats('opx'))).toBe(9);
      expect(await a.hlen(K.opSeats('opy'))).toBe(3);
      for (let i = 0; i < 30; i++) {
        const attrs = (await getVisitor(a, `cv${i}`))?.attrs ?? {};
        expect(Object.keys(attrs)).toHaveLength(i % 3 === 0 ? MAX_ATTRS : 1);
        if (i % 3 === 0) expect(attrs.k0).toBe('v'.repeat(MAX_ATTR_VALUE));
      }
    } finally {
      for (const c of clients) c.disconnect();
      await cluster.cleanup();
    }
  });
});
