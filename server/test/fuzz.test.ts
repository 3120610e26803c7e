/**
 * Property-based fuzzing (fast-check) of every input the gateway parses: frames at both
 * WebSocket endpoints and every REST body. Frames are built from the real schemas in
 * shared/src/protocol.ts (REST bodies from the route schemas in server/src/http), then
 * mutated: wrong types, missing and extra fields, prototype keys (`__proto__`,
 * `constructor`), huge strings, unicode, deep nesting, numbers as strings, invalid JSON.
 *
 * The properties: the process never crashes (no uncaught error, no unhandled rejection,
 * /healthz answers at the end); every frame the server sends matches ServerToVisitor /
 * ServerToOperator and every `error` frame carries a code from ERRORS (never INTERNAL);
 * every REST answer is 2xx, or a status with `{ code }` from ERRORS at that code's status;
 * a socket is only ever closed with a documented close code; Object.prototype is untouched;
 * the heap after GC at the end is within a small bound of the heap after a warm-up, and
 * every socket, subscription and gauge is released.
 *
 * The integration surface is fuzzed too, from the OpenAPI document's own description of it: the
 * public API (`/v1/api/…`, with a valid key) and the API-key and webhook admin routes get random and
 * mutated bodies, path parameters and queries (API_FUZZ requests); every answer is 2xx or a 4xx with
 * its code, never a 5xx, and the gateway stays healthy.
 *
 * The product's per-socket frame limit (FRAMES_BURST) is respected, not loosened: each
 * socket carries one batch of BATCH frames, and a new socket is opened for the next batch.
 * The run is reproducible: FUZZ_SEED (printed) seeds every batch.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ERRORS, FRAMES_BURST, MAX_FRAME_BYTES, isErrorCode, randomId } from '@hark/shared';
import { OperatorToServer, ServerToOperator, ServerToVisitor, VisitorToServer } from '@hark/shared/protocol';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { OperatorBody, OperatorPatch, SiteCreate, SitePatch } from '../src/http/admin';
import { LoginBody, PasswordBody } from '../src/http/auth';
import { ReplyBody, ReplyPatch } from '../src/http/replies';
import { TeamBody, TeamPatch } from '../src/http/teams';
import { ADMIN, Http, type TestGateway, type TestRedis, cid, createOp, sleep, testGateway, testRedis, visitor } from './harness';

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_123);
/** Frames per socket endpoint (visitor, operator); the REST bodies come on top. */
const FRAMES_PER_ENDPOINT = Number(process.env.FUZZ_FRAMES ?? 50_000);
const REST_BODIES = Number(process.env.FUZZ_REST ?? 1_500);
/** Requests at the public API and the API-key and webhook admin routes. */
const API_FUZZ = Number(process.env.FUZZ_API ?? 1_000);
/** Fuzz frames per socket: with the hello and the sentinel, under FRAMES_BURST. */
const BATCH = 100;
// Visitors write on their own site (fuzzsite) so the operators' welcome and site view stay small.
const CONCURRENCY = Number(process.env.FUZZ_CONC ?? 16);
/** Valid bodies of routes that hash a password (scrypt N=2^17, tenths of a second each) are capped. */
const SCRYPT_BUDGET = 3;
/** Heap growth allowed between the warm-up and the end (after GC). */
const HEAP_BOUND_BYTES = 24 * 1024 * 1024;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let redis: TestRedis;
let gw: TestGateway;
let admin: Http;
const known = { convs: [] as string[], streamIds: [] as string[], ops: [] as string[], sites: ['demo', 'fuzzsite'], teams: [] as string[] };
let supervisorCookie = '';
let operatorCookie = '';

// ---------------------------------------------------------------- generators from schemas

const ID_PATTERN = '^[A-Za-z0-9_-]+$';
type Json = Record<string, unknown>;

function stringArb(s: Json): fc.Arbitrary<string> {
  const min = (s.minLength as number | undefined) ?? 0;
  const max = Math.min((s.maxLength as number | undefined) ?? 80, 80);
  if (typeof s.pattern === 'string') {
    const re = new RegExp(s.pattern);
    const base = fc.stringMatching(re, { size: 'small' }).filter((x) => x.length >= min && x.length <= ((s.maxLength as number | undefined) ?? 1e9));
    if (s.pattern === ID_PATTERN) {
      // Real ids too, so valid frames reach the handlers' deeper paths (authorisation, state).
      const real = [...known.convs, ...known.ops, ...known.sites, ...known.teams];
      return real.length ? fc.oneof(base, fc.constantFrom(...real)) : base;
    }
    if (s.pattern.startsWith('^\\d{1,20}-') && known.streamIds.length) return fc.oneof(base, fc.constantFrom(...known.streamIds));
    return base;
  }
  return fc.oneof(
    fc.string({ minLength: min, maxLength: Math.max(min, max) }),
    fc.string({ minLength: min, maxLength: Math.max(min, max), unit: 'grapheme' }),
    fc.constantFrom('<img src=x onerror=alert(1)>', 'javascript:alert(1)', '\u202e\u0000\ud83d\ude00', 'a@b.example'),
  ).filter((x) => x.length >= min && x.length <= ((s.maxLength as number | undefined) ?? 1e9));
}

/** A generator of values valid against a TypeBox (JSON Schema) schema. */
function arbOf(schema: TSchema | Json): fc.Arbitrary<unknown> {
  const s = schema as Json;
  if ('const' in s) return fc.constant(s.const);
  if (Array.isArray(s.anyOf)) return fc.oneof(...(s.anyOf as Json[]).map(arbOf));
  if (Array.isArray(s.allOf)) return fc.tuple(...(s.allOf as Json[]).map(arbOf)).map((parts) => Object.assign({}, ...(parts as object[])));
  switch (s.type) {
    case 'string':
      return stringArb(s);
    case 'integer':
      return fc.integer({ min: (s.minimum as number | undefined) ?? -1e9, max: (s.maximum as number | undefined) ?? 1e9 });
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true, min: (s.minimum as number | undefined) ?? -1e12, max: (s.maximum as number | undefined) ?? 1e12 });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      if (Array.isArray(s.items)) return fc.tuple(...(s.items as Json[]).map(arbOf));
      return fc.array(arbOf(s.items as Json), { minLength: (s.minItems as number | undefined) ?? 0, maxLength: Math.min((s.maxItems as number | undefined) ?? 4, 4) });
    }
    case 'object': {
      if (s.patternProperties) {
        const [pattern, value] = Object.entries(s.patternProperties as Record<string, Json>)[0] as [string, Json];
        return fc.dictionary(stringArb({ type: 'string', pattern, maxLength: 64 }), arbOf(value), { maxKeys: Math.min((s.maxProperties as number | undefined) ?? 4, 4) });
      }
      const props = (s.properties ?? {}) as Record<string, Json>;
      const model = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, arbOf(v)]));
      return fc.record(model, { requiredKeys: (s.required as string[] | undefined) ?? [] });
    }
    default:
      return fc.anything();
  }
}

// ---------------------------------------------------------------- mutations

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'then'];
const deep = (n: number, obj: boolean): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < n; i++) v = obj ? { a: v } : [v];
  return v;
};
const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 30 }),
  fc.string({ maxLength: 30, unit: 'grapheme' }),
  fc.string({ maxLength: 30, unit: 'binary' }),
  fc.constantFrom('1', '0', '-1', '1e309', 'NaN', 'true', 'null', '', ' ', '12345678901234567890-1'),
  fc.constantFrom(1e308, -0, Number.MAX_SAFE_INTEGER + 2, 0.1),
  fc.array(fc.anything({ maxDepth: 2 }), { maxLength: 4 }),
  fc.object({ maxDepth: 2 }),
  fc.constantFrom(deep(200, true), deep(200, false)),
  fc.integer({ min: 1000, max: 6000 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 100, max: 2000 }).map((n) => '\u{1F600}\u0301\u202e'.repeat(n)),
);

type Mutation = (v: Json, raw: string) => string | Buffer;
const pickKey = (v: Json, r: number) => {
  const keys = Object.keys(v);
  return keys[r % Math.max(1, keys.length)];
};

/** One mutation of a valid value; the result is what goes on the wire (text or binary). */
function mutated(valid: fc.Arbitrary<unknown>, types: string[]): fc.Arbitrary<string | Buffer> {
  const m: fc.Arbitrary<Mutation> = fc.oneof(
    // a field of the wrong type (or a number as a string, …)
    fc.tuple(fc.nat(), junk).map(([r, j]): Mutation => (v) => {
      const k = pickKey(v, r);
      return JSON.stringify(k ? { ...v, [k]: j } : { ...v, x: j });
    }),
    // a nested field of the wrong type
    fc.tuple(fc.nat(), fc.nat(), junk).map(([r, r2, j]): Mutation => (v) => {
      const k = pickKey(v, r);
      const inner = k ? v[k] : undefined;
      if (!k || typeof inner !== 'object' || inner === null) return JSON.stringify(v);
      const ik = pickKey(inner as Json, r2) ?? 'x';
      return JSON.stringify({ ...v, [k]: Array.isArray(inner) ? [j, ...inner] : { ...(inner as Json), [ik]: j } });
    }),
    // a missing field
    fc.nat().map((r): Mutation => (v) => {
      const k = pickKey(v, r);
      const { [k ?? '']: _gone, ...rest } = v;
      return JSON.stringify(rest);
    }),
    // an extra field, prototype keys included (written into the JSON text, so they arrive as own keys)
    fc.tuple(fc.oneof(fc.constantFrom(...PROTO_KEYS), fc.string({ maxLength: 12 })), junk).map(([k, j]): Mutation => (_v, raw) => {
      const extra = `${JSON.stringify(k)}:${JSON.stringify(j) ?? 'null'}`;
      return raw === '{}' ? `{${extra}}` : `{${extra},${raw.slice(1)}`;
    }),
    // prototype pollution in a nested object (attrs, page, user, lastIds)
    fc.tuple(fc.nat(), fc.constantFrom('__proto__', 'constructor')).map(([r, pk]): Mutation => (v, raw) => {
      const k = pickKey(v, r);
      if (!k) return raw;
      return JSON.stringify({ ...v, [k]: null }).replace(`"${k}":null`, `"${k}":{"${pk}":{"polluted":"yes","type":"x"}}`);
    }),
    // another or a bogus type
    fc.oneof(fc.constantFrom(...types, 'Hello', 'error', 'welcome', ''), junk).map((t): Mutation => (v) => JSON.stringify({ ...v, type: t })),
    // numbers as strings, strings of digits as numbers
    fc.constant<Mutation>((v) => JSON.stringify(v, (_k, x) => (typeof x === 'number' ? String(x) : typeof x === 'string' && /^\d+$/.test(x) ? Number(x) : x))),
    // huge field: near, at and over MAX_FRAME_BYTES
    fc.tuple(fc.nat(), fc.constantFrom(4001, 16_001, MAX_FRAME_BYTES - 200, MAX_FRAME_BYTES + 10)).map(([r, n]): Mutation => (v) => {
      const k = pickKey(v, r) ?? 'text';
      return JSON.stringify({ ...v, [k]: 'y'.repeat(n) });
    }),
    // deep nesting, as deep as a frame allows
    fc.tuple(fc.nat(), fc.integer({ min: 100, max: 15_000 })).map(([r, n]): Mutation => (v, raw) => {
      const k = pickKey(v, r) ?? 'x';
      const open = '['.repeat(n);
      return JSON.stringify({ ...v, [k]: 0 }).replace(`"${k}":0`, `"${k}":${open}${']'.repeat(n)}`) || raw;
    }),
    // invalid JSON: truncated, a byte flipped, garbage, JSON that is not an object, binary
    fc.nat().map((r): Mutation => (_v, raw) => raw.slice(0, r % Math.max(1, raw.length))),
    fc.tuple(fc.nat(), fc.string({ minLength: 1, maxLength: 2, unit: 'binary' })).map(([r, c]): Mutation => (_v, raw) => {
      const i = r % Math.max(1, raw.length);
      return raw.slice(0, i) + c + raw.slice(i + 1);
    }),
    fc.constantFrom<Mutation>(
      () => '',
      () => 'null',
      () => '[]',
      () => '"hello"',
      () => '42',
      () => 'undefined',
      () => '{"type":"hello"',
      () => '{"type":"__proto__"}',
      () => '{"type":"constructor"}',
      () => '{"type":"toString"}',
      (_v, raw) => `${raw}${raw}`,
      (_v, raw) => Buffer.from(raw),
      () => Buffer.from([0xff, 0xfe, 0x00, 0x80]),
    ),
  );
  return fc.tuple(valid, m).map(([v, f]) => {
    const obj = (typeof v === 'object' && v !== null ? v : {}) as Json;
    return f(obj, JSON.stringify(obj));
  });
}

/** Valid frames (about a quarter), else mutated ones. */
function frames(union: TSchema): fc.Arbitrary<string | Buffer> {
  const members = (union as unknown as { anyOf: Json[] }).anyOf;
  const types = members.map((m) => (m.properties as { type: { const: string } }).type.const);
  const valid = fc.oneof(...members.map(arbOf));
  return fc.oneof({ weight: 1, arbitrary: valid.map((v) => JSON.stringify(v)) }, { weight: 3, arbitrary: mutated(valid, types) });
}

// ---------------------------------------------------------------- observation

interface Tally {
  frames: number;
  /** Frames over MAX_FRAME_BYTES sent (each ends its socket with 1009). */
  oversize: number;
  sockets: number;
  replies: number;
  types: Record<string, number>;
  codes: Record<string, number>;
  closes: Record<string, number>;
  bad: string[];
}
const tally = (): Tally => ({ frames: 0, oversize: 0, sockets: 0, replies: 0, types: {}, codes: {}, closes: {}, bad: [] });
const bump = (m: Record<string, number>, k: string) => {
  m[k] = (m[k] ?? 0) + 1;
};
/** Close codes a socket may end with under garbage: ERRORS' close codes, and a normal close. */
const CLOSES = new Set<number>([1000, 1005, ...Object.values(ERRORS).map((e) => e.close)]);

const checkToVisitor = TypeCompiler.Compile(ServerToVisitor);
const checkToOperator = TypeCompiler.Compile(ServerToOperator);

/** One socket: hello, BATCH fuzz frames, then a sentinel whose answer (an error carrying its cid) marks the end. */
async function runBatch(kind: 'visitor' | 'operator', batch: (string | Buffer)[], t: Tally): Promise<void> {
  const url = kind === 'visitor' ? `${gw.wsBase}/v1/visitor?site=fuzzsite&token=${randomId(32)}&v=1&new=1` : `${gw.wsBase}/v1/operator?v=1`;
  const cookie = kind === 'operator' ? (t.sockets % 2 ? supervisorCookie : operatorCookie) : undefined;
  // Each batch from its own loopback address, as many visitors on the internet would be (the gateway
  // limits new visitors per address: TOKENS_PER_ADDRESS_PER_MIN).
  const localAddress = `127.0.3.${1 + (t.sockets % 250)}`;
  const ws = new WebSocket(url, { headers: { origin: gw.base, ...(cookie ? { cookie } : {}) }, localAddress });
  const check = kind === 'visitor' ? checkToVisitor : checkToOperator;
  const sentinel = cid();
  const size = (f: string | Buffer) => (typeof f === 'string' ? Buffer.byteLength(f) : f.length);
  const fits = batch.filter((f) => size(f) <= MAX_FRAME_BYTES);
  const oversize = batch.filter((f) => size(f) > MAX_FRAME_BYTES);
  t.sockets++;
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`${kind} batch did not finish: ${JSON.stringify(batch.slice(0, 3).map(String))}…`)), 20_000);
    const done = () => {
      clearTimeout(timer);
      res();
    };
    ws.once('unexpected-response', (_q, resp) => rej(new Error(`upgrade refused ${resp.statusCode}`)));
    ws.on('error', () => {});
    ws.on('message', (d, isBinary) => {
      t.replies++;
      let f: { type?: string; code?: string; cid?: string };
      try {
        f = JSON.parse(d.toString()) as typeof f;
      } catch {
        f = {};
      }
      if (isBinary || !check.Check(f)) {
        if (t.bad.length < 10) t.bad.push(`${kind}: reply does not match the schema: ${d.toString().slice(0, 300)}`);
      }
      bump(t.types, String(f.type));
      if (f.type === 'error') {
        bump(t.codes, String(f.code));
        if (!isErrorCode(f.code) && t.bad.length < 10) t.bad.push(`${kind}: unknown error code ${f.code}`);
        if (f.cid === sentinel) {
          // Everything before it was answered; now one frame over MAX_FRAME_BYTES, if the batch made one: it must close with 1009.
          const big = oversize[0];
          if (big === undefined) ws.close();
          else {
            ws.send(big);
            t.frames++;
            t.oversize++;
          }
        }
      }
    });
    ws.on('close', (code) => {
      bump(t.closes, String(code));
      if (!CLOSES.has(code) && t.bad.length < 10) t.bad.push(`${kind}: closed with ${code}`);
      if (t.oversize && oversize.length && code !== 1009 && code !== 1000 && t.bad.length < 10) t.bad.push(`${kind}: an oversize frame closed with ${code}`);
      done();
    });
    ws.once('open', () => {
      ws.send(JSON.stringify(kind === 'visitor' ? { type: 'hello', lastIds: {}, page: { url: `${gw.base}/`, title: 'Fuzz' } } : { type: 'hello', lastIds: {} }));
      for (const f of fits) {
        if (ws.readyState !== WebSocket.OPEN) break;
        ws.send(f, { binary: typeof f !== 'string' });
        t.frames++;
      }
      if (ws.readyState === WebSocket.OPEN) {
        ws.send(JSON.stringify(kind === 'visitor' ? { type: 'send', cid: sentinel, text: '   ' } : { type: 'send', conv: 'sentinel-conv', cid: sentinel, text: '   ' }));
      }
    });
  });
}

async function pool(n: number, total: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      for (let i = next++; i < total; i = next++) await job(i);
    }),
  );
}

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond() && Date.now() < until) await sleep(20);
}

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

// ---------------------------------------------------------------- setup

const crashes: unknown[] = [];
const onCrash = (e: unknown) => crashes.push(e);

beforeAll(async () => {
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  redis = await testRedis();
  // Webhook targets never resolve (the API fuzz below may save one): no request leaves the machine.
  gw = await testGateway(redis.url, { testLimits: { webhooks: { resolve: async () => [] } } });
  admin = new Http(gw.base);
  await admin.login(ADMIN.email, ADMIN.password);
  expect((await admin.req('POST', '/v1/sites', { id: 'fuzzsite', name: 'Fuzz site', origins: ['self'] })).status).toBe(201);
  const team = await admin.req<{ id: string }>('POST', '/v1/teams', { name: 'Fuzzers', sites: ['demo'] });
  known.teams.push(team.body.id);
  const sup = await createOp(admin, { email: 'sup@fuzz.example', name: 'Sup', role: 'supervisor', capacity: 50 });
  const op = await createOp(admin, { email: 'op@fuzz.example', name: 'Op', capacity: 50 });
  const victim = await createOp(admin, { email: 'victim@fuzz.example', name: 'Victim' });
  known.ops.push(sup.id, op.id, victim.id);
  supervisorCookie = sup.http.cookie;
  operatorCookie = op.http.cookie;
  // A few real conversations, so valid frames name ids that exist.
  for (let i = 0; i < 4; i++) {
    const v = await visitor(gw);
    await v.next('synced');
    const c = cid();
    v.send({ type: 'send', cid: c, text: `seed ${i}` });
    const ack = await v.next('ack');
    known.convs.push(ack.conv);
    known.streamIds.push(ack.id);
    v.close();
  }
}, 60_000);

afterAll(async () => {
  process.off('uncaughtException', onCrash);
  process.off('unhandledRejection', onCrash);
  await gw?.close();
  await redis?.cleanup();
});

describe('fuzzing every input', () => {
  it(`${FRAMES_PER_ENDPOINT} generated and mutated frames at each socket endpoint, then ${REST_BODIES} REST bodies: typed answers only, no crash, flat memory`, async () => {
    expect(BATCH + 2).toBeLessThan(FRAMES_BURST);
    const t0 = Date.now();
    const protoBefore = Object.getOwnPropertyNames(Object.prototype).join();
    const v = tally();
    const o = tally();
    const visitorFrames = frames(VisitorToServer);
    const operatorFrames = frames(OperatorToServer);
    const batches = Math.ceil(FRAMES_PER_ENDPOINT / BATCH);
    const warm = Math.ceil(batches / 20);
    const job = (i: number) =>
      Promise.all([
        runBatch('visitor', fc.sample(visitorFrames, { numRuns: BATCH, seed: SEED + i }), v),
        runBatch('operator', fc.sample(operatorFrames, { numRuns: BATCH, seed: SEED + 1_000_000 + i }), o),
      ]).then(() => undefined);
    // 1. Warm-up (JIT, compiled schemas, pools), then the baseline heap.
    await pool(CONCURRENCY / 2, warm, job);
    await waitFor(() => gw.gateway.sockets.size === 0);
    await sleep(200);
    const heap0 = heapAfterGc();
    const subs0 = gw.ctx.hub.subscriptionCount;
    await pool(CONCURRENCY / 2, batches, (i) => (i < warm ? Promise.resolve() : job(i)));
    const socketMs = Date.now() - t0;

    // 2. REST bodies, every POST/PATCH route with a body schema.
    const r = tally();
    const victim = known.ops[2] as string;
    const reply = await admin.req<{ id: string }>('POST', '/v1/replies', { shortcut: 'fuzz', text: 'fuzz reply' });
    const routes: { method: string; path: () => string; schema: TSchema; scrypt?: (b: Json) => boolean; hashed?: string }[] = [
      { method: 'POST', path: () => '/v1/auth/login', schema: LoginBody, scrypt: () => true, hashed: 'password' },
      { method: 'POST', path: () => '/v1/auth/password', schema: PasswordBody, scrypt: () => true, hashed: 'next' },
      { method: 'POST', path: () => '/v1/operators', schema: OperatorBody, scrypt: () => true, hashed: 'password' },
      { method: 'PATCH', path: () => `/v1/operators/${Math.random() < 0.7 ? victim : randomId(12)}`, schema: OperatorPatch, scrypt: (b) => 'password' in b, hashed: 'password' },
      { method: 'POST', path: () => '/v1/sites', schema: SiteCreate },
      { method: 'PATCH', path: () => `/v1/sites/${Math.random() < 0.7 ? 'fuzzsite' : randomId(12)}`, schema: SitePatch },
      { method: 'POST', path: () => '/v1/teams', schema: TeamBody },
      { method: 'PATCH', path: () => `/v1/teams/${Math.random() < 0.7 ? known.teams[0] : randomId(12)}`, schema: TeamPatch },
      { method: 'POST', path: () => '/v1/replies', schema: ReplyBody },
      { method: 'PATCH', path: () => `/v1/replies/${Math.random() < 0.7 ? reply.body.id : randomId(12)}`, schema: ReplyPatch },
    ];
    let scrypts = 0;
    const routeMs: Record<string, number> = {};
    const routeN: Record<string, number> = {};
    const perRoute = Math.ceil(REST_BODIES / routes.length);
    const bodyArbs = routes.map((rt) => {
      const valid = arbOf(rt.schema);
      return fc.oneof({ weight: 1, arbitrary: valid.map((x) => JSON.stringify(x)) }, { weight: 3, arbitrary: mutated(valid, []) });
    });
    const checks = routes.map((rt) => TypeCompiler.Compile(rt.schema));
    await pool(CONCURRENCY, routes.length * Math.ceil(perRoute / 50), async (i) => {
      const ri = i % routes.length;
      const rt = routes[ri] as (typeof routes)[number];
      const bodies = fc.sample(bodyArbs[ri] as fc.Arbitrary<string | Buffer>, { numRuns: 50, seed: SEED + 2_000_000 + i });
      for (let body of bodies) {
        if (rt.scrypt && rt.hashed) {
          let parsed: unknown;
          try {
            parsed = JSON.parse(body.toString());
          } catch {}
          const obj = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Json) : null;
          // Only SCRYPT_BUDGET valid bodies reach the hashing; in every other body the field that would be
          // hashed is made an object (the rest stays fuzzed), since Fastify's coercion accepts more than a strict check.
          const valid = (checks[ri] as { Check(v: unknown): boolean }).Check(parsed) && rt.scrypt(parsed as Json);
          if (valid && scrypts < SCRYPT_BUDGET) scrypts++;
          else if (obj && Object.hasOwn(obj, rt.hashed)) {
            try {
              body = JSON.stringify({ ...obj, [rt.hashed]: {} });
            } catch {
              // Nested too deep to write back (JSON.parse goes deeper than JSON.stringify): refused anyway.
            }
          }
        }
        const tq = Date.now();
        const res = await fetch(gw.base + rt.path(), {
          method: rt.method,
          headers: { origin: gw.base, cookie: admin.cookie, 'content-type': 'application/json' },
          body: typeof body === 'string' ? body : new Uint8Array(body),
        });
        r.frames++;
        const text = await res.text();
        bump(r.closes, String(res.status));
        const key = `${rt.method} ${rt.path().replace(/\/[^/]*$/, rt.path().startsWith('/v1/auth') ? rt.path().slice(rt.path().lastIndexOf('/')) : '/:id')}`;
        routeMs[key] = (routeMs[key] ?? 0) + Date.now() - tq;
        routeN[key] = (routeN[key] ?? 0) + 1;
        if (res.status >= 400) {
          let code: unknown;
          try {
            code = (JSON.parse(text) as { code?: unknown }).code;
          } catch {}
          bump(r.codes, String(code));
          if ((!isErrorCode(code) || ERRORS[code].status !== res.status || res.status >= 500) && r.bad.length < 10) r.bad.push(`${rt.method} ${rt.path()} ${res.status} ${text.slice(0, 200)} for ${body.toString().slice(0, 200)}`);
        }
      }
    });
    const restMs = Date.now() - t0 - socketMs;

    // 3. The properties.
    await waitFor(() => gw.gateway.sockets.size === 0);
    await sleep(300);
    const heap1 = heapAfterGc();
    const gauge = async (g: typeof gw.ctx.metrics.visitors) => (await g.get()).values[0]?.value ?? 0;
    const summary = {
      seed: SEED,
      visitor: { frames: v.frames, sockets: v.sockets, replies: v.replies, codes: v.codes, closes: v.closes, types: v.types },
      operator: { frames: o.frames, sockets: o.sockets, replies: o.replies, codes: o.codes, closes: o.closes, types: o.types },
      rest: { bodies: r.frames, statuses: r.closes, codes: r.codes, scryptValid: scrypts },
      heapMiB: { afterWarmup: +(heap0 / 1048576).toFixed(1), atEnd: +(heap1 / 1048576).toFixed(1) },
      ms: { sockets: socketMs, rest: restMs, routeMs, routeN },
      subs: { afterWarmup: subs0, atEnd: gw.ctx.hub.subscriptionCount, channels: [...(gw.ctx.hub as unknown as { subs: Map<string, unknown> }).subs.keys()] },
    };
    console.log(JSON.stringify(summary));
    expect(crashes).toEqual([]);
    expect([...v.bad, ...o.bad, ...r.bad]).toEqual([]);
    // Frames over MAX_FRAME_BYTES end their socket, so only one of them per batch goes out.
    expect(v.frames + o.frames).toBeGreaterThanOrEqual(2 * FRAMES_PER_ENDPOINT * 0.98);
    expect(v.frames + o.frames + r.frames).toBeGreaterThanOrEqual(Math.min(100_000, 2 * FRAMES_PER_ENDPOINT + REST_BODIES) * 0.99);
    expect(v.codes.INTERNAL ?? 0).toBe(0);
    expect(o.codes.INTERNAL ?? 0).toBe(0);
    expect(r.codes.INTERNAL ?? 0).toBe(0);
    expect(Object.getOwnPropertyNames(Object.prototype).join()).toBe(protoBefore);
    expect(({} as Json).polluted).toBeUndefined();
    expect((await fetch(`${gw.base}/healthz`)).status).toBe(200);
    expect(heap1 - heap0).toBeLessThan(HEAP_BOUND_BYTES);
    // Everything a socket held is released.
    expect(gw.gateway.sockets.size).toBe(0);
    expect(await gauge(gw.ctx.metrics.visitors)).toBe(0);
    expect(await gauge(gw.ctx.metrics.operators)).toBe(0);
    expect(gw.ctx.hub.subscriptionCount).toBeLessThanOrEqual(subs0);
  }, 240_000);

  it(`${API_FUZZ} random and mutated requests at the public API and the API-key and webhook admin routes: 2xx or a 4xx with its code, never a 5xx`, async () => {
    const t0 = Date.now();
    const t = tally();
    // The routes, as the OpenAPI document describes them (so routes added later are fuzzed too).
    type Param = { name: string; in: string; schema?: Json };
    type Op = { parameters?: Param[]; requestBody?: { content?: Record<string, { schema?: Json }> } };
    const doc = (await (await fetch(`${gw.base}/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, Op>> };
    const ops = Object.entries(doc.paths)
      .filter(([path]) => /^\/v1\/(api\/|api-keys|sites\/\{site\}\/webhooks)/.test(path))
      .flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ method: method.toUpperCase(), path, op })));
    expect(ops.some((o) => o.path === '/v1/api/conversations/{id}/messages')).toBe(true);
    expect(ops.some((o) => o.path === '/v1/api-keys' && o.method === 'POST')).toBe(true);
    expect(ops.some((o) => o.path.startsWith('/v1/sites/{site}/webhooks/{id}/deliveries'))).toBe(true);

    // Real ids, so valid requests reach the handlers: keys, a webhook and its delivery, conversations, visitors.
    // The per-key and per-address limits would turn the rest of the run into 429s (they have their own tests: api-keys.test.ts).
    gw.ctx.domain.apiKeys.configure({ requestsPerMin: 1_000_000, failuresPerAddress: 1_000_000 });
    const write = (await admin.req<{ secret: string }>('POST', '/v1/api-keys', { name: 'fuzz writer', access: 'write' })).body.secret;
    const read = (await admin.req<{ secret: string }>('POST', '/v1/api-keys', { name: 'fuzz reader', access: 'read', site: 'demo' })).body.secret;
    const hook = await admin.req<{ id: string }>('POST', '/v1/sites/demo/webhooks', { url: 'http://hooks.fuzz.invalid/x', events: 'all' });
    expect(hook.status).toBe(201);
    const test = await admin.req<{ delivery: string }>('POST', `/v1/sites/demo/webhooks/${hook.body.id}/test`);
    const list = await fetch(`${gw.base}/v1/api/conversations?limit=100`, { headers: { authorization: `Bearer ${write}` } });
    const visitors = ((await list.json()) as { items: { visitor: { id: string } }[] }).items.map((c) => c.visitor.id);
    const real = (path: string, name: string): string[] => {
      if (name === 'site') return known.sites;
      if (name === 'delivery') return [test.body.delivery];
      if (path.startsWith('/v1/sites/')) return [hook.body.id];
      if (path.startsWith('/v1/api/conversations')) return known.convs;
      if (path.startsWith('/v1/api/visitors')) return visitors;
      return []; // never a real API key id: revoking the fuzzer's own key would only end the run early
    };
    const junkParam = fc.oneof(
      fc.string({ minLength: 1, maxLength: 70 }),
      fc.string({ minLength: 1, maxLength: 20, unit: 'grapheme' }),
      fc.constantFrom('..', '%2e%2e', '__proto__', 'constructor', '0', '-1', ' ', '%00', '%ff%fe', 'a'.repeat(3000), 'bot:x', 'null'),
    );
    const queryArb = (params: Param[]): fc.Arbitrary<string> => {
      const q = params.filter((p) => p.in === 'query');
      const valid = fc.tuple(...q.map((p) => fc.option(p.schema ? arbOf(p.schema) : junk, { nil: undefined }))).map((vals) => {
        const u = new URLSearchParams();
        vals.forEach((v, i) => {
          if (v !== undefined) u.append((q[i] as Param).name, typeof v === 'string' ? v : JSON.stringify(v));
        });
        return u.toString();
      });
      const raw = fc.constantFrom('limit=0', 'limit=1&limit=2', 'limit=1e9', 'from=-1', 'to=abc', 'cursor=%ff', 'before=1-1-1', '__proto__[x]=1', 'status=closed', 'a'.repeat(5000), '%', '&&&=');
      const mutatedQ = fc.tuple(valid, fc.string({ maxLength: 12 }), junk).map(([v, k, j]) => `${v}&${encodeURIComponent(k)}=${encodeURIComponent(String(JSON.stringify(j)))}`);
      return fc.oneof(fc.constant(''), valid, raw, mutatedQ);
    };
    type Req = { method: string; url: string; body?: string | Buffer; type?: string; auth: 'write' | 'read' | 'bad' | 'admin' };
    const reqArb = fc.constantFrom(...ops).chain((o) => {
      const params = o.op.parameters ?? [];
      const names = [...o.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string);
      const paramArbs = names.map((n) => {
        const r = o.method === 'DELETE' && o.path.startsWith('/v1/api-keys') ? [] : real(o.path, n);
        return r.length ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...r) }, { weight: 1, arbitrary: junkParam }) : junkParam;
      });
      const schema = o.op.requestBody?.content?.['application/json']?.schema;
      const bodyArb: fc.Arbitrary<{ body?: string | Buffer; type?: string }> =
        o.method === 'GET'
          ? fc.constant({})
          : schema
            ? fc.oneof(
                { weight: 1, arbitrary: arbOf(schema).map((v) => ({ body: JSON.stringify(v), type: 'application/json' })) },
                { weight: 3, arbitrary: mutated(arbOf(schema), []).map((b) => ({ body: b, type: 'application/json' })) },
                { weight: 1, arbitrary: fc.constantFrom({}, { body: 'x=1', type: 'application/x-www-form-urlencoded' }, { body: '{"a":1}', type: 'text/plain' }, { body: '{}', type: 'application/json; charset=latin1' }) },
              )
            : fc.oneof(fc.constant({}), junk.map((j) => ({ body: JSON.stringify(j) ?? 'null', type: 'application/json' })));
      const isAdmin = !o.path.startsWith('/v1/api/');
      const authArb = isAdmin ? fc.constant<Req['auth']>('admin') : fc.constantFrom<Req['auth']>('write', 'write', 'write', 'read', 'bad');
      return fc.tuple(fc.tuple(...paramArbs), queryArb(params), bodyArb, authArb).map(([vals, query, b, auth]): Req => {
        let url = o.path;
        names.forEach((n, i) => {
          url = url.replace(`{${n}}`, encodeURIComponent(String(vals[i])));
        });
        // Under Node's header size limit (16 KiB with the headers): a longer request line is refused by Node itself (431), before the gateway sees it.
        return { method: o.method, url: (query ? `${url}?${query}` : url).slice(0, 8000), ...b, auth };
      });
    });
    const bad: string[] = [];
    const statuses: Record<string, number> = {};
    const codes: Record<string, number> = {};
    const batches = Math.ceil(API_FUZZ / 50);
    await pool(8, batches, async (i) => {
      for (const r of fc.sample(reqArb, { numRuns: 50, seed: SEED + 3_000_000 + i })) {
        const headers: Record<string, string> = r.type ? { 'content-type': r.type } : {};
        if (r.auth === 'admin') Object.assign(headers, { origin: gw.base, cookie: admin.cookie });
        else headers.authorization = `Bearer ${r.auth === 'write' ? write : r.auth === 'read' ? read : `hark_${randomId(43)}`}`;
        const res = await fetch(gw.base + r.url, { method: r.method, headers, ...(r.body !== undefined ? { body: typeof r.body === 'string' ? r.body : new Uint8Array(r.body) } : {}) });
        const text = await res.text();
        t.frames++;
        bump(statuses, String(res.status));
        if (res.status < 400) continue;
        let code: unknown;
        try {
          code = (JSON.parse(text) as { code?: unknown }).code;
        } catch {}
        bump(codes, String(code));
        if (res.status >= 500 || !isErrorCode(code) || ERRORS[code].status !== res.status) {
          if (bad.length < 10) bad.push(`${r.method} ${r.url.slice(0, 200)} -> ${res.status} ${text.slice(0, 200)} for ${String(r.body).slice(0, 200)}`);
        }
      }
    });
    console.log(JSON.stringify({ api: { requests: t.frames, ms: Date.now() - t0, statuses, codes, routes: ops.length } }));
    expect(crashes).toEqual([]);
    expect(bad).toEqual([]);
    expect(t.frames).toBeGreaterThanOrEqual(API_FUZZ);
    // Valid requests got through too (the fuzz reached the handlers, not only the schema checks).
    expect(Object.keys(statuses).some((st) => st.startsWith('2'))).toBe(true);
    expect((await fetch(`${gw.base}/healthz`)).status).toBe(200);
    // The gateway still serves the API with the same key.
    expect((await fetch(`${gw.base}/v1/api/operators`, { headers: { authorization: `Bearer ${write}` } })).status).toBe(200);
  }, 120_000);
});
