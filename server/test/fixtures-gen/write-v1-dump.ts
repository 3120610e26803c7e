/**
 * Writes server/test/fixtures/v1-dump.{rdb,json}: a Redis written by the PREVIOUS gateway
 * (schema version 1, before migrations existed), through its real APIs, for
 * migrations.test.ts to migrate and read with the current code.
 *
 * Run it with the old code, from a worktree of the commit that wrote version-1 data:
 *
 *   git worktree add /tmp/hark-prev 1ff6fb2 && (cd /tmp/hark-prev && pnpm install --frozen-lockfile)
 *   cd /tmp/hark-prev/server && HARK_PREV=/tmp/hark-prev npx tsx /work/main/server/test/fixtures-gen/write-v1-dump.ts /work/main/server/test/fixtures
 *   git worktree remove --force /tmp/hark-prev
 *
 * HARK_PREV (or `--prev DIR`) is the old tree's root: buildApp, bootstrap, the Redis
 * supervisor, compactResolved and the test clients all come from there, never from this
 * tree. It starts a private redis-server, a gateway on port 0, writes through REST and both
 * WebSockets, adds two visitor records by HSET that only a migration can fix, SAVEs and
 * copies dump.rdb. The manifest lists everything created, with every conversation's
 * entries exactly as the old code read them back.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

// ---------------------------------------------------------------- the old code's shapes (what this script uses of them)

type Frame = { type: string; [k: string]: unknown };
interface Client {
  frames: Frame[];
  send(f: object): void;
  next(type: string, pred?: (f: Frame) => boolean, timeoutMs?: number, from?: number): Promise<Frame>;
  close(): void;
}
interface Http {
  base: string;
  cookie: string;
  req<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  login(email: string, password: string): Promise<{ id: string }>;
}
interface OldRedis {
  hset(key: string, h: Record<string, string>): Promise<number>;
  hget(key: string, f: string): Promise<string | null>;
  hgetall(key: string): Promise<Record<string, string>>;
  exists(key: string): Promise<number>;
}
interface OldEntry {
  id: string;
  kind: string;
  from?: string;
  text?: string;
  event?: string;
  [k: string]: unknown;
}
interface OldModules {
  app: { buildApp(o: { redis: { url: string } }): Promise<{ app: { listen(o: object): Promise<string>; server: { address(): unknown } }; conns: { cmd: OldRedis }; close(): Promise<void> }> };
  bootstrap: { bootstrap(c: unknown, env: { adminEmail: string; adminPassword: string }): Promise<unknown> };
  supervisor: { startRedis(o: { dir: string }): Promise<{ url: string; port: number; stop(): Promise<void> }> };
  conversations: {
    compactResolved(r: OldRedis, site: string, olderThanMs: number, limit?: number, now?: number): Promise<number>;
    readEntries(r: OldRedis, conv: string, after: string, count?: number): Promise<OldEntry[]>;
  };
  keys: { K: { visitor(v: string): string; conv(c: string): string; convPacked(c: string): string } };
  harness: {
    Http: new (base: string) => Http;
    visitor(gw: { wsBase: string; base: string }, o: { site?: string; token?: string; isNew?: boolean; hello?: object | false }): Promise<Client & { token: string }>;
    onlineOperator(gw: { wsBase: string; base: string }, http: Http): Promise<Client>;
  };
}

async function loadOld(prev: string): Promise<OldModules> {
  const imp = (rel: string) => import(pathToFileURL(join(prev, 'server', rel)).href);
  const [app, bootstrap, supervisor, conversations, keys, harness] = await Promise.all([
    imp('src/app.ts'),
    imp('src/bootstrap.ts'),
    imp('src/redis/supervisor.ts'),
    imp('src/store/conversations.ts'),
    imp('src/store/keys.ts'),
    imp('test/harness.ts'),
  ]);
  return { app, bootstrap, supervisor, conversations, keys, harness } as OldModules;
}

// ---------------------------------------------------------------- what it writes

const ADMIN = { email: 'admin@example.com', password: 'correct horse battery', name: 'Admin' };
const OPS = {
  ana: { email: 'ana@example.com', name: 'Ana Kovač', password: 'ana-password-2024', role: 'operator', sites: ['demo'] },
  bo: { email: 'bo@example.com', name: 'Bo Lind', password: 'bo-password-2024', role: 'operator', sites: ['demo', 'shop2'] },
  sue: { email: 'sue@example.com', name: 'Sue Park', password: 'sue-password-2024', role: 'supervisor', sites: ['demo', 'shop2'] },
} as const;
/** A 1×1 PNG: an avatar is copied into the conversations its operator takes (opAvatar). */
const AVATAR = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

/** Readable, valid (32 url-safe chars) visitor tokens. */
/** A `conv` frame's conversation (ConvSummary or VisitorConv: the fields both have). */
const convOf = (f: Frame) => f.conv as { id: string; status: string; operator?: { id: string } | null };

const token = (name: string) => `fixture_${name}`.padEnd(32, '0').slice(0, 32);

interface ConvOut {
  id: string;
  site: string;
  visitor: string;
  /** The state the old code left it in. */
  status: 'queued' | 'open' | 'resolved';
  op?: string;
  team?: string;
  rating?: { rating: string; comment: string };
  compacted?: boolean;
  transferredFrom?: string;
  /** Chat messages in order: who wrote what. */
  messages: { from: string; text: string }[];
  notes: string[];
  /** Every entry, exactly as the old code's readEntries returned it. */
  entries: OldEntry[];
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const pi = args.indexOf('--prev');
  const prevArg = pi >= 0 ? args.splice(pi, 2)[1] : process.env.HARK_PREV;
  const outDir = resolve(args[0] ?? '');
  if (!prevArg || !args[0]) throw new Error('usage: HARK_PREV=<old tree> tsx write-v1-dump.ts <outdir>  (or --prev <old tree>)');
  const prev = resolve(prevArg);
  const commit = execFileSync('git', ['-C', prev, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  const old = await loadOld(prev);
  const { Http, visitor, onlineOperator } = old.harness;

  const dir = mkdtempSync(join(tmpdir(), 'hark-v1-'));
  const redis = await old.supervisor.startRedis({ dir });
  const hark = await old.app.buildApp({ redis: { url: redis.url } });
  await old.bootstrap.bootstrap(hark.conns, { adminEmail: ADMIN.email, adminPassword: ADMIN.password });
  await hark.app.listen({ port: 0, host: '127.0.0.1' });
  const addr = hark.app.server.address() as { port: number };
  const gw = { base: `http://127.0.0.1:${addr.port}`, wsBase: `ws://127.0.0.1:${addr.port}` };
  const r = hark.conns.cmd;
  const sockets: Client[] = [];
  const ok = <T>(res: { status: number; body: T }, what: string): T => {
    if (res.status < 200 || res.status > 299) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };

  // ------------------------------------------------ REST, as the admin: a second site, a team, operators, replies
  const admin = new Http(gw.base);
  const adminMe = await admin.login(ADMIN.email, ADMIN.password);
  ok(await admin.req('POST', '/v1/sites', { id: 'shop2', name: 'Second shop', origins: ['self'], greeting: 'Welcome to the second shop.', color: '#0a7d4f' }), 'site');
  const team = ok(await admin.req<{ id: string; name: string }>('POST', '/v1/teams', { name: 'Billing', sites: ['demo'] }), 'team');
  const ops: Record<keyof typeof OPS, { id: string; http: Http }> = {} as never;
  for (const [k, o] of Object.entries(OPS) as [keyof typeof OPS, (typeof OPS)[keyof typeof OPS]][]) {
    const body = { ...o, sites: [...o.sites], ...(k === 'ana' ? { teams: [team.id], avatar: AVATAR } : {}) };
    const created = ok(await admin.req<{ id: string }>('POST', '/v1/operators', body), `operator ${k}`);
    const http = new Http(gw.base);
    await http.login(o.email, o.password);
    ops[k] = { id: created.id, http };
  }
  const replies = [
    { as: 'admin', ...ok(await admin.req<{ id: string }>('POST', '/v1/replies', { shortcut: 'hello', text: 'Hi! How can I help you today?', site: 'demo' }), 'reply') },
    { as: 'sue', ...ok(await ops.sue.http.req<{ id: string }>('POST', '/v1/replies', { shortcut: 'hours', text: 'We answer 9–17 CET, Monday to Friday.', site: 'shop2' }), 'reply') },
    { as: 'ana', ...ok(await ops.ana.http.req<{ id: string }>('POST', '/v1/replies', { shortcut: 'thanks', text: 'Thank you for your patience!' }), 'reply') },
  ];

  // ------------------------------------------------ chats through both sockets
  const convs: Record<string, ConvOut> = {};
  const visitors: Record<string, { id: string; token: string; site: string; name?: string; email?: string; conv?: string }> = {};
  let n = 0;
  const cid = () => `fixture-cid-${String(++n).padStart(4, '0')}`;

  async function newVisitor(key: string, site: string, hello: object = {}) {
    const v = await visitor(gw, { site, token: token(key), isNew: true, hello: { lastIds: {}, page: { url: `https://shop.example/${key}`, title: `Shop: ${key}` }, locale: 'en', ...hello } });
    sockets.push(v);
    const w = await v.next('welcome');
    await v.next('synced');
    visitors[key] = { id: w.visitorId as string, token: v.token, site };
    return v;
  }
  async function visitorSays(key: string, v: Client, text: string): Promise<string> {
    const c = cid();
    v.send({ type: 'send', cid: c, text });
    const ack = await v.next('ack', (f) => f.cid === c);
    const conv = ack.conv as string;
    const vis = visitors[key];
    if (!vis) throw new Error(key);
    vis.conv = conv;
    convs[key] ??= { id: conv, site: vis.site, visitor: vis.id, status: 'queued', messages: [], notes: [], entries: [] };
    convs[key].messages.push({ from: 'visitor', text });
    return conv;
  }
  async function opSays(key: string, op: Client, text: string, kind: 'send' | 'note' = 'send') {
    const conv = convs[key];
    if (!conv) throw new Error(key);
    const c = cid();
    op.send({ type: kind, conv: conv.id, cid: c, text });
    await op.next('ack', (f) => f.cid === c);
    if (kind === 'note') conv.notes.push(text);
    else conv.messages.push({ from: 'operator', text });
  }
  const assignedTo = (op: Client, conv: string, opId: string) =>
    op.next('conv', (f) => {
      const s = convOf(f);
      return s.id === conv && s.status === 'open' && s.operator?.id === opId;
    });
  async function ratingStored(conv: string) {
    for (let i = 0; i < 100 && !(await r.hget(old.keys.K.conv(conv), 'rating')); i++) await new Promise((res) => setTimeout(res, 20));
  }

  const ana = await onlineOperator(gw, ops.ana.http);
  sockets.push(ana);

  // 1. open, messages both ways (the visitor filled in the pre-chat form, sent attributes)
  const v1 = await newVisitor('open', 'demo', { attrs: { plan: 'pro', orders: 3, vip: true } });
  v1.send({ type: 'prechat', name: 'Marta Horvat', email: 'marta@example.com' });
  Object.assign(visitors.open ?? {}, { name: 'Marta Horvat', email: 'marta@example.com' });
  const c1 = await visitorSays('open', v1, 'Hi, my order #1001 has not arrived yet.');
  await assignedTo(ana, c1, ops.ana.id);
  await opSays('open', ana, 'Hello Marta! Let me check order #1001 for you.');
  await visitorSays('open', v1, 'Thank you! Narudžba je plaćena 3. svibnja 🙂');
  await opSays('open', ana, 'It left the warehouse yesterday; tracking: HR123456789.');

  // 2. resolved and rated
  const v2 = await newVisitor('rated', 'demo');
  const c2 = await visitorSays('rated', v2, 'Can I change my delivery address?');
  await assignedTo(ana, c2, ops.ana.id);
  await opSays('rated', ana, 'Yes, until the parcel ships. What is the new address?');
  await visitorSays('rated', v2, 'Ilica 1, Zagreb.');
  await opSays('rated', ana, 'Done, the address is updated.');
  ana.send({ type: 'resolve', conv: c2 });
  await v2.next('conv', (f) => convOf(f).id === c2 && convOf(f).status === 'resolved');
  v2.send({ type: 'rate', conv: c2, rating: 'good', comment: 'Quick and friendly' });
  await ratingStored(c2);

  // 3. open, with an internal note
  const v3 = await newVisitor('note', 'demo');
  v3.send({ type: 'identify', user: { id: 'user-42', name: 'Ivan Novak', email: 'ivan@example.com' } });
  Object.assign(visitors.note ?? {}, { name: 'Ivan Novak', email: 'ivan@example.com' });
  const c3 = await visitorSays('note', v3, 'I was charged twice for one order.');
  await assignedTo(ana, c3, ops.ana.id);
  await opSays('note', ana, 'Refund request opened in the billing tool, ticket B-77.', 'note');
  await opSays('note', ana, 'Sorry about that! I have asked for a refund of the second charge.');

  // 4. transferred from Ana to Bo (with a note), answered by Bo
  const v4 = await newVisitor('transferred', 'demo');
  const c4 = await visitorSays('transferred', v4, 'Do you ship to Norway?');
  await assignedTo(ana, c4, ops.ana.id);
  const bo = await onlineOperator(gw, ops.bo.http);
  sockets.push(bo);
  ana.send({ type: 'transfer', conv: c4, to: ops.bo.id, note: 'Bo handles shipping outside the EU.' });
  await assignedTo(bo, c4, ops.bo.id);
  if (convs.transferred) {
    convs.transferred.notes.push('Bo handles shipping outside the EU.');
    convs.transferred.transferredFrom = ops.ana.id;
  }
  await opSays('transferred', bo, 'Hi, Bo here: yes, we ship to Norway in 5–7 days.');

  // 5. second site: resolved, then compacted by the old code
  const v5 = await newVisitor('compacted', 'shop2');
  const c5 = await visitorSays('compacted', v5, 'Is the green jacket available in size M?');
  await assignedTo(bo, c5, ops.bo.id);
  await opSays('compacted', bo, 'It is, 4 left in stock.');
  await visitorSays('compacted', v5, 'Great, ordering now.');
  bo.send({ type: 'resolve', conv: c5 });
  await v5.next('conv', (f) => convOf(f).id === c5 && convOf(f).status === 'resolved');
  const compacted = await old.conversations.compactResolved(r, 'shop2', 0, 50, Date.now() + 1);
  if (compacted !== 1) throw new Error(`compactResolved compacted ${compacted} conversations, expected 1`);

  // 6. second site: queued (its only operator there went offline)
  bo.send({ type: 'status', status: 'offline' });
  await bo.next('status', (f) => f.status === 'offline');
  const v6 = await newVisitor('queued', 'shop2');
  const c6 = await visitorSays('queued', v6, 'Hello? Anyone there?');
  await v6.next('conv', (f) => convOf(f).id === c6 && convOf(f).status === 'queued');

  // 7. records only a migration fixes, written directly (a gateway never wrote them this big, but nothing stopped it)
  await newVisitor('oversized', 'demo');
  await newVisitor('garbled', 'demo');
  const bigAttrs: Record<string, string | number | boolean> = {};
  for (let i = 0; i < 60; i++) bigAttrs[`attr_${String(i).padStart(2, '0')}`] = i % 3 === 0 ? i : `value ${i}`;
  bigAttrs.attr_05 = 'x'.repeat(5000);
  bigAttrs[`k${'y'.repeat(99)}`] = 'a key of 100 characters';
  const oversizedId = visitors.oversized?.id as string;
  await r.hset(old.keys.K.visitor(oversizedId), {
    name: 'N'.repeat(150),
    email: `${'e'.repeat(395)}@example.com`,
    attrs: JSON.stringify(bigAttrs),
    page: JSON.stringify({ url: `https://shop.example/?q=${'u'.repeat(3000)}`, title: 'T'.repeat(500), referrer: 'https://search.example/' }),
  });
  const garbledId = visitors.garbled?.id as string;
  await r.hset(old.keys.K.visitor(garbledId), { attrs: '{"plan": "pro", oops', page: 'not json' });

  // ------------------------------------------------ read everything back with the old code, then stop and SAVE
  for (const c of Object.values(convs)) {
    const meta = await r.hgetall(old.keys.K.conv(c.id));
    c.status = meta.status === 'new' ? 'queued' : (meta.status as ConvOut['status']);
    if (meta.op) c.op = meta.op;
    if (meta.team) c.team = meta.team;
    if (meta.rating) c.rating = { rating: meta.rating, comment: meta.ratingComment ?? '' };
    if (await r.exists(old.keys.K.convPacked(c.id))) c.compacted = true;
    c.entries = await old.conversations.readEntries(r, c.id, '', 10_000);
  }
  const must = (k: string, status: string) => {
    if (convs[k]?.status !== status) throw new Error(`${k}: ${convs[k]?.status}, expected ${status}`);
  };
  must('open', 'open');
  must('rated', 'resolved');
  must('note', 'open');
  must('transferred', 'open');
  must('compacted', 'resolved');
  must('queued', 'queued');
  if (convs.transferred?.op !== ops.bo.id || !convs.compacted?.compacted || convs.rated?.compacted) throw new Error('unexpected fixture state');

  for (const s of sockets) s.close();
  await hark.close();
  execFileSync('redis-cli', ['-p', String(redis.port), 'SAVE']);
  const redisVersion = /redis_version:(\S+)/.exec(execFileSync('redis-cli', ['-p', String(redis.port), 'INFO', 'server'], { encoding: 'utf8' }))?.[1] ?? '?';
  await redis.stop();

  mkdirSync(outDir, { recursive: true });
  copyFileSync(join(dir, 'dump.rdb'), join(outDir, 'v1-dump.rdb'));
  rmSync(dir, { recursive: true, force: true });
  const manifest = {
    about: 'Redis written by the Hark gateway before data migrations (schema version 1), through its real APIs; see server/test/fixtures-gen/write-v1-dump.ts.',
    schemaVersion: 1,
    commit,
    redisVersion,
    generatedAt: new Date().toISOString(),
    admin: { id: adminMe.id, ...ADMIN },
    sites: [
      { id: 'demo', name: 'Demo shop' },
      { id: 'shop2', name: 'Second shop' },
    ],
    team,
    operators: Object.fromEntries(Object.entries(OPS).map(([k, o]) => [k, { id: ops[k as keyof typeof OPS].id, ...o, ...(k === 'ana' ? { teams: [team.id], avatar: AVATAR } : {}) }])),
    replies,
    visitors,
    conversations: convs,
    /** Visitor records written by HSET beyond every cap (oversized) and with unparseable JSON (garbled). */
    direct: { oversized: oversizedId, garbled: garbledId },
  };
  writeFileSync(join(outDir, 'v1-dump.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(`wrote ${join(outDir, 'v1-dump.rdb')} (${statSync(join(outDir, 'v1-dump.rdb')).size} B) and v1-dump.json from ${commit} (redis ${redisVersion})`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
