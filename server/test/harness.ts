/**
 * Test harness: a private redis-server per test file on a free port (never one
 * already running), gateways on port 0, and small real clients for both sockets.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ServerToOperator, type ServerToVisitor, randomId } from '@hark/shared';
import WebSocket from 'ws';
import { type AppOptions, type HarkApp, buildApp } from '../src/app';
import { bootstrap } from '../src/bootstrap';
import { type RedisProcess, startRedis } from '../src/redis/supervisor';

export interface TestRedis extends RedisProcess {
  cleanup(): Promise<void>;
}

export async function testRedis(extraArgs: string[] = []): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'hark-redis-'));
  const r = await startRedis({ dir, extraArgs });
  return Object.assign(r, {
    async cleanup() {
      await r.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

export const ADMIN = { email: 'admin@example.com', password: 'correct horse battery' };

export interface TestGateway extends HarkApp {
  base: string;
  wsBase: string;
  port: number;
}

export async function testGateway(redisUrl: string, opts: Partial<AppOptions> = {}): Promise<TestGateway> {
  const hark = await buildApp({ redis: { url: redisUrl }, ...opts });
  await bootstrap(hark.conns, { adminEmail: ADMIN.email, adminPassword: ADMIN.password });
  await hark.app.listen({ port: 0, host: '127.0.0.1' });
  const addr = hark.app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return Object.assign(hark, { base: `http://127.0.0.1:${port}`, wsBase: `ws://127.0.0.1:${port}`, port });
}

/** A REST client that keeps the session cookie and sends the console's Origin, like a browser would. */
export class Http {
  cookie = '';
  constructor(readonly base: string) {}
  async req<T = unknown>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
    const res = await fetch(this.base + path, {
      method,
      headers: {
        origin: this.base,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(this.cookie ? { cookie: this.cookie } : {}),
        ...headers,
      },
      body: body !== undefined ? JSON.stringify(body) : null,
    });
    const set = res.headers.get('set-cookie');
    if (set) this.cookie = set.split(';')[0] ?? '';
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  }
  async login(email: string, password: string) {
    const r = await this.req<{ me: { id: string } }>('POST', '/v1/auth/login', { email, password });
    if (r.status !== 200) throw new Error(`login failed ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.me;
  }
}

/** Collects frames and lets a test wait for the one it expects. */
class FrameClient<F extends { type: string }> {
  readonly frames: F[] = [];
  private waiters: { pred: (f: F) => boolean; res: (f: F) => void }[] = [];
  closed: { code: number; reason: string } | null = null;
  readonly opened: Promise<void>;
  constructor(readonly ws: WebSocket) {
    this.opened = new Promise((res, rej) => {
      ws.once('open', () => res());
      ws.once('unexpected-response', (_req, resp) => rej(new Error(`upgrade refused: ${resp.statusCode}`)));
      ws.once('error', rej);
    });
    ws.on('message', (d) => {
      const f = JSON.parse(d.toString()) as F;
      this.frames.push(f);
      for (const w of [...this.waiters]) {
        if (w.pred(f)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.res(f);
        }
      }
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
    });
  }
  send(f: object) {
    this.ws.send(JSON.stringify(f));
  }
  /** Waits for a frame matching `pred`, including one that already arrived after index `from`. */
  next<T extends F['type']>(type: T, pred: (f: Extract<F, { type: T }>) => boolean = () => true, timeoutMs = 5000, from = 0): Promise<Extract<F, { type: T }>> {
    const match = (f: F) => f.type === type && pred(f as Extract<F, { type: T }>);
    const have = this.frames.slice(from).find(match);
    if (have) return Promise.resolve(have as Extract<F, { type: T }>);
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error(`timed out waiting for ${type}; got ${this.frames.map((f) => f.type).join(',')}`)), timeoutMs);
      this.waiters.push({ pred: match, res: (f) => { clearTimeout(t); res(f as Extract<F, { type: T }>); } });
    });
  }
  of<T extends F['type']>(type: T): Extract<F, { type: T }>[] {
    return this.frames.filter((f) => f.type === type) as Extract<F, { type: T }>[];
  }
  waitClose(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error('socket did not close')), timeoutMs);
      this.ws.once('close', (code, reason) => { clearTimeout(t); res({ code, reason: reason.toString() }); });
    });
  }
  close() {
    this.ws.close();
  }
}

export class VisitorClient extends FrameClient<ServerToVisitor> {}
export class OperatorClient extends FrameClient<ServerToOperator> {}

export async function visitor(gw: { wsBase: string; base: string }, opts: { site?: string; token?: string; isNew?: boolean; origin?: string; hello?: object | false; localAddress?: string } = {}): Promise<VisitorClient & { token: string }> {
  const token = opts.token ?? randomId(32);
  const isNew = opts.isNew ?? !opts.token;
  const url = `${gw.wsBase}/v1/visitor?site=${opts.site ?? 'demo'}&token=${token}&v=1${isNew ? '&new=1' : ''}`;
  const c = new VisitorClient(new WebSocket(url, { headers: { origin: opts.origin ?? gw.base }, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) }));
  await c.opened;
  if (opts.hello !== false) c.send({ type: 'hello', lastIds: {}, page: { url: `${gw.base}/`, title: 'Demo' }, locale: 'en', ...(opts.hello ?? {}) });
  return Object.assign(c, { token });
}

export async function operator(gw: { wsBase: string; base: string }, http: Http, lastIds: Record<string, string> = {}): Promise<OperatorClient> {
  const c = new OperatorClient(new WebSocket(`${gw.wsBase}/v1/operator?v=1`, { headers: { origin: gw.base, cookie: http.cookie } }));
  await c.opened;
  c.send({ type: 'hello', lastIds });
  await c.next('welcome');
  return c;
}

/** An operator socket that has said hello and gone online (what signing in to the console does). */
export async function onlineOperator(gw: { wsBase: string; base: string }, http: Http): Promise<OperatorClient> {
  const op = await operator(gw, http);
  op.send({ type: 'status', status: 'online' });
  await op.next('status', (f) => f.status === 'online');
  return op;
}

export async function createOp(admin: Http, body: { email: string; name: string; capacity?: number; sites?: string[]; role?: string; teams?: string[] }) {
  const r = await admin.req<{ id: string }>('POST', '/v1/operators', { password: 'long enough password', sites: ['demo'], ...body });
  if (r.status !== 201) throw new Error(`create operator failed: ${r.status} ${JSON.stringify(r.body)}`);
  const http = new Http(admin.base);
  await http.login(body.email, 'long enough password');
  return { id: r.body.id, http };
}

export const cid = () => randomId(21);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


/** A new visitor who says one thing; reports where the conversation went (open or queued). */
export async function newChat(g: { wsBase: string; base: string }, text = 'hi') {
  const v = await visitor(g);
  await v.next('synced');
  const c = cid();
  v.send({ type: 'send', cid: c, text });
  const ack = await v.next('ack', (f) => f.cid === c);
  const st = await v.next('conv', (f) => f.conv.id === ack.conv && (f.conv.status === 'open' || f.conv.status === 'queued'));
  return { v, conv: ack.conv, state: st.conv };
}

/** Polls `f` every 50 ms until it answers something truthy (returned), or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, f: () => T | Promise<T>, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
