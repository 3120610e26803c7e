/**
 * The same chat traffic against three servers: V visitors on gateway A, O
 * operators on gateway B, each conversation owned by one operator. A visitor
 * message carries a marker ("v<seq>"); the operator answers it at once with
 * "o<seq>". The fleets differ only in how they speak to their server.
 */
import { randomId } from '@hark/shared';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { sourceAddress } from './addrs';
import { pool, until } from './pace';
import type { SeededOp } from './seed';

export interface Hooks {
  /** At an operator: a visitor's message arrived; return the answer's text (or null). */
  atOperator(text: string): string | null;
  /** At a visitor: an operator's message arrived. */
  atVisitor(text: string): void;
}

export interface Fleet {
  name: string;
  visitors: number;
  /** Close codes seen by the fleet's sockets while it ran (code → count): a server that closes sockets shows here. */
  closes: Map<number, number>;
  /** Frames received by type, and error frames by code ("op:entry", "v:error:RATE_LIMITED", …); ours only. */
  frames?: Map<string, number>;
  send(i: number, text: string): void;
  close(): void;
}

const GREETING = 'Hi, how can I help?';
/** Connections opened at once while building a fleet. */
const CONNECT_CONCURRENCY = 100;
/** Setting a fleet up (connect, route) must finish within this. */
const SETUP_TIMEOUT_MS = 180_000;

const ws = (url: string, i: number, headers: Record<string, string> = {}) =>
  new WebSocket(url, { headers, localAddress: sourceAddress(i), perMessageDeflate: false });

/** Counts close codes (until the fleet itself closes its sockets). */
function closeCounter(): { closes: Map<number, number>; watch(w: { on(ev: 'close', f: (code: number) => void): unknown }): void; stop(): void } {
  const closes = new Map<number, number>();
  let on = true;
  return {
    closes,
    watch: (w) => void w.on('close', (code: number) => on && closes.set(code, (closes.get(code) ?? 0) + 1)),
    stop: () => {
      on = false;
    },
  };
}

function opened(w: WebSocket): Promise<void> {
  return new Promise((res, rej) => {
    w.once('open', () => res());
    w.once('error', rej);
    w.once('unexpected-response', (_q, r) => rej(new Error(`upgrade refused: ${r.statusCode}`)));
  });
}

// ------------------------------------------------------------------ ours
/** `greet`: operators answer each new conversation once during setup (chat load); off where one operator holds thousands (idle), as its frame limit would end its socket. */
export async function oursFleet(a: number, b: number, sites: string[], ops: SeededOp[], visitors: number, hooks: Hooks, greet = true, addrBase = 0): Promise<Fleet> {
  const origin = (p: number) => `http://127.0.0.1:${p}`;
  const cc = closeCounter();
  const frames = new Map<string, number>();
  const count = (side: string, f: { type: string; code?: string }) => {
    const k = f.type === 'error' ? `${side}:error:${f.code}` : `${side}:${f.type}`;
    frames.set(k, (frames.get(k) ?? 0) + 1);
  };
  const opSockets: WebSocket[] = [];
  await pool(ops, CONNECT_CONCURRENCY, async (op, j) => {
    const s = ws(`ws://127.0.0.1:${b}/v1/operator?v=1`, j, { origin: origin(b), cookie: op.cookie });
    cc.watch(s);
    let n = 0;
    const greeted = new Set<string>();
    s.on('message', (d: Buffer) => {
      const f = JSON.parse(d.toString());
      count('op', f);
      // Warm-up: the operator greets each conversation they get, so its first response (a one-off
      // burst of doorbells and stats) happens during setup, not in the first measured step.
      if (greet && f.type === 'conv' && f.conv.status === 'open' && f.conv.operator?.id === op.id && !greeted.has(f.conv.id)) {
        greeted.add(f.conv.id);
        s.send(JSON.stringify({ type: 'send', conv: f.conv.id, cid: `g${j}x${n++}xxxxxx`, text: GREETING }));
        return;
      }
      if (f.type !== 'entry' || f.entry.from !== 'visitor' || f.entry.kind !== 'msg') return;
      const reply = hooks.atOperator(f.entry.text);
      if (reply !== null) s.send(JSON.stringify({ type: 'send', conv: f.entry.conv, cid: `r${j}x${n++}xxxxxx`, text: reply }));
    });
    await opened(s);
    const welcome = new Promise<void>((res) => s.once('message', () => res()));
    s.send(JSON.stringify({ type: 'hello', lastIds: {} }));
    await welcome;
    opSockets.push(s);
  });
  const vSockets: WebSocket[] = new Array(visitors);
  let assigned = 0;
  let greeted = 0;
  await pool(Array.from({ length: visitors }, (_, i) => i), CONNECT_CONCURRENCY, async (_x, i) => {
    const site = sites[i % sites.length];
    // addrBase: a further fleet on the same gateway takes the next source addresses (the gateway caps connections per address).
    const s = ws(`ws://127.0.0.1:${a}/v1/visitor?site=${site}&token=${randomId(32)}&v=1&new=1`, addrBase + i, { origin: origin(a) });
    cc.watch(s);
    let open = false;
    const ready = new Promise<void>((res) => {
      s.on('message', (d: Buffer) => {
        const f = JSON.parse(d.toString());
        count('v', f);
        if (f.type === 'entry') {
          if (f.entry.from === 'operator' && f.entry.kind === 'msg') {
            if (f.entry.text === GREETING) greeted++;
            else hooks.atVisitor(f.entry.text);
          }
        } else if (f.type === 'conv' && f.conv.status === 'open' && !open) {
          open = true;
          assigned++;
          res();
        } else if (f.type === 'synced' && !open) s.send(JSON.stringify({ type: 'send', cid: randomId(12), text: 'hello' }));
      });
    });
    await opened(s);
    s.send(JSON.stringify({ type: 'hello', lastIds: {} }));
    vSockets[i] = s;
    // Bounded: a conversation never assigned (seen once under load 21: assigned, then requeued 59 ms later and left
    // queued) must fail the setup with a reason, not hang the run.
    let done = false;
    void ready.then(() => {
      done = true;
    });
    if (!(await until(() => done, SETUP_TIMEOUT_MS))) throw new Error(`visitor ${i}: no conversation assigned within ${SETUP_TIMEOUT_MS} ms`);
  });
  if (!(await until(() => assigned === visitors, SETUP_TIMEOUT_MS))) throw new Error(`only ${assigned}/${visitors} conversations assigned`);
  if (greet && !(await until(() => greeted >= visitors, SETUP_TIMEOUT_MS))) throw new Error(`only ${greeted}/${visitors} visitors greeted`);
  let n = 0;
  return {
    name: 'ours',
    visitors,
    closes: cc.closes,
    frames,
    send(i, text) {
      vSockets[i]?.send(JSON.stringify({ type: 'send', cid: `v${i}x${n++}xxxxxx`, text }));
    },
    close() {
      cc.stop();
      for (const s of [...opSockets, ...vSockets]) s?.terminate();
    },
  };
}

// ------------------------------------------------------------------ floor
export async function floorFleet(a: number, b: number, operators: number, visitors: number, hooks: Hooks): Promise<Fleet> {
  const convsOf = (j: number) => Array.from({ length: visitors }, (_, i) => i).filter((i) => i % operators === j).map((i) => `c${i}`);
  const cc = closeCounter();
  const all: WebSocket[] = [];
  await pool(Array.from({ length: operators }, (_, j) => j), CONNECT_CONCURRENCY, async (j) => {
    const s = ws(`ws://127.0.0.1:${b}/?convs=${convsOf(j).join(',')}`, j);
    cc.watch(s);
    s.on('message', (d: Buffer) => {
      const str = d.toString();
      const nl = str.indexOf('\n');
      const text = str.slice(nl + 1);
      if (text[0] !== 'v') return;
      const reply = hooks.atOperator(text);
      if (reply !== null) s.send(`${str.slice(0, nl)}\n${reply}`);
    });
    await opened(s);
    all.push(s);
  });
  const vs: WebSocket[] = new Array(visitors);
  await pool(Array.from({ length: visitors }, (_, i) => i), CONNECT_CONCURRENCY, async (i) => {
    const s = ws(`ws://127.0.0.1:${a}/?convs=c${i}`, i);
    cc.watch(s);
    s.on('message', (d: Buffer) => {
      const str = d.toString();
      const text = str.slice(str.indexOf('\n') + 1);
      if (text[0] === 'o') hooks.atVisitor(text);
    });
    await opened(s);
    vs[i] = s;
  });
  return {
    name: 'floor',
    visitors,
    closes: cc.closes,
    send: (i, text) => vs[i]?.send(`c${i}\n${text}`),
    close() {
      cc.stop();
      for (const s of [...all, ...vs]) s?.terminate();
    },
  };
}

// ------------------------------------------------------------------ Socket.IO
export async function socketioFleet(a: number, b: number, operators: number, visitors: number, hooks: Hooks): Promise<Fleet> {
  const convsOf = (j: number) => Array.from({ length: visitors }, (_, i) => i).filter((i) => i % operators === j).map((i) => `c${i}`);
  const connect = (port: number, convs: string[]) =>
    new Promise<Socket>((res, rej) => {
      const s = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], query: { convs: convs.join(',') }, forceNew: true, reconnection: false });
      s.once('connect', () => res(s));
      s.once('connect_error', rej);
    });
  const all: Socket[] = [];
  await pool(Array.from({ length: operators }, (_, j) => j), CONNECT_CONCURRENCY, async (j) => {
    const s = await connect(b, convsOf(j));
    s.on('m', (conv: string, text: string) => {
      if (text[0] !== 'v') return;
      const reply = hooks.atOperator(text);
      if (reply !== null) s.emit('m', conv, reply);
    });
    all.push(s);
  });
  const vs: Socket[] = new Array(visitors);
  await pool(Array.from({ length: visitors }, (_, i) => i), CONNECT_CONCURRENCY, async (i) => {
    const s = await connect(a, [`c${i}`]);
    s.on('m', (_conv: string, text: string) => {
      if (text[0] === 'o') hooks.atVisitor(text);
    });
    vs[i] = s;
  });
  // Rooms are joined on the server after 'connect'; give the adapter a moment to subscribe.
  await new Promise((r) => setTimeout(r, 500));
  return {
    name: 'socketio',
    visitors,
    closes: new Map(),
    send: (i, text) => vs[i]?.emit('m', `c${i}`, text),
    close() {
      for (const s of [...all, ...vs]) s?.disconnect();
    },
  };
}
