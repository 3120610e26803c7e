import type { SiteConfig } from '@hark/shared/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ACK_TIMEOUT_MS, Client, RETRY_TICK_MS, type SocketLike, TOKEN_FAILS_BEFORE_PROBE } from './client';
import type { KV } from './persist';

class MemKV implements KV {
  m = new Map<string, string>();
  writes = 0;
  getItem(k: string) {
    return this.m.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.writes++;
    this.m.set(k, v);
  }
  removeItem(k: string) {
    this.writes++;
    this.m.delete(k);
  }
  key(i: number) {
    return [...this.m.keys()][i] ?? null;
  }
  get length() {
    return this.m.size;
  }
}

class FakeWS implements SocketLike {
  static all: FakeWS[] = [];
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(readonly url: string) {
    FakeWS.all.push(this);
  }
  send(d: string) {
    this.sent.push(JSON.parse(d));
  }
  close() {
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  recv(f: object) {
    this.onmessage?.({ data: JSON.stringify(f) });
  }
  /** The server refused or the network dropped: the browser reports only a close. */
  fail(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
  types() {
    return this.sent.map((f) => f.type);
  }
}

const SITE: SiteConfig = {
  name: 'Shop',
  color: '#123456',
  position: 'right',
  label: '',
  greeting: '',
  prechat: false,
  offlineForm: true,
  available: true,
  inHours: true,
  locales: [],
  identityRequired: false,
};
const welcome = (convs: object[] = []) => ({ type: 'welcome', visitorId: 'v1', site: SITE, convs });
const last = () => FakeWS.all[FakeWS.all.length - 1] as FakeWS;
/** The gateway answers a hello with nothing to catch up on: `welcome`, then `synced`. */
function answered(ws: FakeWS, convs: object[] = []): void {
  ws.recv(welcome(convs));
  ws.recv({ type: 'synced' });
}

function client(kv: KV | null = new MemKV()) {
  return new Client({
    site: 'demo',
    gateway: 'wss://chat.example',
    kv,
    WebSocket: FakeWS,
    page: () => ({ url: 'https://shop.example/p', title: 'P' }),
    random: () => 0.5,
  });
}

beforeEach(() => {
  FakeWS.all = [];
  vi.useFakeTimers();
  // The browser's language, which the hello carries (Node 20 has no navigator).
  vi.stubGlobal('navigator', { language: 'de-AT' });
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('Client', () => {
  it('writes nothing to storage until the visitor has something to keep', () => {
    const kv = new MemKV();
    const c = client(kv);
    c.start();
    expect(last().url).toBe('wss://chat.example/v1/visitor?site=demo&token=' + last().url.split('token=')[1]?.split('&')[0] + '&v=1&new=1');
    last().open();
    expect(last().types()).toEqual(['hello']);
    // The hello names the browser's language, not the widget's.
    expect(last().sent[0]).toMatchObject({ type: 'hello', locale: 'de-AT' });
    answered(last());
    expect(kv.writes).toBe(0);
    // 1. The first message makes the visitor worth remembering: token and outbox are stored.
    c.send('hello');
    expect(kv.getItem('hark:demo:token')).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(JSON.parse(kv.getItem('hark:demo:outbox') ?? '[]')).toHaveLength(1);
  });

  it("keeps the site's launcher look for the loader only once the visitor is engaged, and writes it only when it changes", () => {
    const kv = new MemKV();
    const c = client(kv);
    c.start();
    last().open();
    answered(last());
    c.look('["Chat with us","right","#123456"]');
    expect(kv.writes).toBe(0);
    c.send('hello');
    const before = kv.writes;
    c.look('["Chat with us","right","#123456"]');
    expect(kv.getItem('hark:demo:s')).toBe('["Chat with us","right","#123456"]');
    c.look('["Chat with us","right","#123456"]');
    expect(kv.writes).toBe(before + 1);
  });

  it('rejects empty and whitespace-only messages', () => {
    const c = client();
    expect(c.send('   \n\t')).toBe(false);
    expect(c.outbox).toHaveLength(0);
  });

  it('sends a message of files alone (no text), keeps its file ids in the stored outbox, and resends them with it after a reload', () => {
    const kv = new MemKV();
    const c = client(kv);
    c.start();
    last().open();
    answered(last());
    expect(c.send('', undefined, ['f1', 'f2'])).toBe(true);
    const f = last().sent.at(-1) as { type: string; cid: string; files: string[] };
    expect(f).toMatchObject({ type: 'send', text: '', files: ['f1', 'f2'] });
    expect(JSON.parse(kv.getItem('hark:demo:outbox') ?? '[]')[0]).toMatchObject({ cid: f.cid, files: ['f1', 'f2'] });
    // A reload before the ack: the same cid and files again.
    const c2 = client(kv);
    c2.start();
    last().open();
    answered(last());
    vi.advanceTimersByTime(20_000);
    expect(last().sent.filter((x) => x.type === 'send')).toContainEqual(expect.objectContaining({ cid: f.cid, files: ['f1', 'f2'] }));
  });

  it('keeps a message until its ack and entry arrive, then shows it from the stream', () => {
    const c = client();
    c.start();
    last().open();
    answered(last());
    c.send('Do you ship to Zagreb?');
    const f = last().sent.at(-1) as { type: string; cid: string; text: string };
    expect(f).toMatchObject({ type: 'send', text: 'Do you ship to Zagreb?' });
    expect(f.cid).toMatch(/^[A-Za-z0-9_-]{21}$/);
    last().recv({ type: 'ack', cid: f.cid, conv: 'c1', id: '1-0' });
    expect(c.outbox[0]?.state).toBe('sent');
    last().recv({ type: 'entry', entry: { id: '1-0', conv: 'c1', at: 1, kind: 'msg', from: 'visitor', text: f.text, cid: f.cid } });
    expect(c.outbox).toHaveLength(0);
    expect(c.entries.c1?.map((e) => e.id)).toEqual(['1-0']);
  });

  it('resends the outbox in order after a reconnect, and after a reload', () => {
    const kv = new MemKV();
    const c = client(kv);
    c.start();
    last().open();
    answered(last());
    last().fail();
    c.send('one');
    c.send('two');
    vi.advanceTimersByTime(1000);
    last().open();
    answered(last());
    expect(last().sent.filter((f) => f.type === 'send').map((f) => f.text)).toEqual(['one', 'two']);
    // 1. The page is reloaded before any ack: a new client resends both with the same cids, without new=1.
    const cids = last().sent.filter((f) => f.type === 'send').map((f) => f.cid);
    c.stop();
    const c2 = client(kv);
    c2.start();
    expect(last().url).not.toContain('new=1');
    last().open();
    answered(last());
    expect(last().sent.filter((f) => f.type === 'send').map((f) => f.cid)).toEqual(cids);
  });

  it('resumes from the last stream id it stored', () => {
    const kv = new MemKV();
    const c = client(kv);
    c.start();
    last().open();
    answered(last(), [{ id: 'c1', status: 'open' }]);
    last().recv({ type: 'entry', entry: { id: '5-0', conv: 'c1', at: 1, kind: 'msg', from: 'operator', text: 'hi' } });
    last().recv({ type: 'entry', entry: { id: '3-0', conv: 'c1', at: 1, kind: 'msg', from: 'operator', text: 'earlier' } });
    last().recv({ type: 'entry', entry: { id: '5-0', conv: 'c1', at: 1, kind: 'msg', from: 'operator', text: 'hi' } });
    expect(c.entries.c1?.map((e) => e.id)).toEqual(['3-0', '5-0']);
    vi.advanceTimersByTime(1000);
    c.stop();
    const c2 = client(kv);
    c2.start();
    last().open();
    expect(last().sent[0]).toMatchObject({ type: 'hello', lastIds: { c1: '5-0' } });
  });

  it('reconnects with growing, capped delays', () => {
    const c = client();
    c.start();
    const times: number[] = [];
    for (let i = 0; i < 12; i++) {
      const n = FakeWS.all.length;
      last().fail();
      let t = 0;
      while (FakeWS.all.length === n) {
        vi.advanceTimersByTime(100);
        t += 100;
      }
      times.push(t);
    }
    expect(times[1]).toBeGreaterThan(times[0] as number);
    expect(Math.max(...times)).toBeLessThanOrEqual(30_100);
  });

  it('replaces a token the gateway no longer accepts, but not while the gateway is merely down', () => {
    const kv = new MemKV();
    kv.setItem('hark:demo:token', 'A'.repeat(32));
    const c = client(kv);
    c.start();
    const step = () => vi.advanceTimersByTime(31_000);
    // 1. Connects with the stored token fail TOKEN_FAILS_BEFORE_PROBE times…
    for (let i = 0; i < TOKEN_FAILS_BEFORE_PROBE; i++) {
      expect(last().url).toContain(`token=${'A'.repeat(32)}`);
      last().fail();
      step();
    }
    // 2. …so a fresh token is tried with new=1. The gateway is down: it fails too; keep the old token.
    expect(last().url).toContain('new=1');
    expect(last().url).not.toContain('A'.repeat(32));
    last().fail();
    step();
    expect(last().url).toContain('A'.repeat(32));
    for (let i = 0; i < TOKEN_FAILS_BEFORE_PROBE; i++) {
      last().fail();
      step();
    }
    // 3. Next probe opens (the gateway is up), the old token is tried once more and refused: switch.
    expect(last().url).toContain('new=1');
    last().open();
    expect(last().url).toContain('A'.repeat(32));
    last().fail();
    expect(last().url).toContain('new=1');
    const fresh = last().url.split('token=')[1]?.split('&')[0];
    last().open();
    answered(last());
    expect(kv.getItem('hark:demo:token')).toBe(fresh);
  });

  it('sends nothing before the catch-up: a message stored before the socket died (ack lost) comes back in it and is not sent again', () => {
    const c = client();
    c.start();
    last().open();
    answered(last());
    c.send('stored, ack lost');
    c.send('never arrived');
    const [stored, lost] = c.outbox.map((x) => x.cid);
    // A message's first send is fresh; every later one says it may be a resend (the gateway then looks for it in earlier conversations too).
    expect(last().sent.filter((f) => f.type === 'send').map((f) => f.re)).toEqual([false, false]);
    last().fail();
    vi.advanceTimersByTime(30_000);
    const ws = last();
    ws.open();
    // The conversation the first one started was resolved meanwhile: a new send would start another.
    ws.recv(welcome([{ id: 'c1', status: 'resolved' }]));
    expect(ws.types()).toEqual(['hello']);
    ws.recv({ type: 'entry', entry: { id: '1-0', conv: 'c1', at: 1, kind: 'msg', from: 'visitor', text: 'stored, ack lost', cid: stored } });
    ws.recv({ type: 'synced' });
    expect(ws.sent.filter((f) => f.type === 'send').map((f) => [f.cid, f.re])).toEqual([[lost, true]]);
    expect(c.outbox.map((x) => x.cid)).toEqual([lost]);
  });

  it('counts unread operator messages and marks them read, telling the operator', () => {
    const c = client();
    c.start();
    last().open();
    answered(last(), [{ id: 'c1', status: 'open' }]);
    last().recv({ type: 'entry', entry: { id: '1-0', conv: 'c1', at: 1, kind: 'msg', from: 'operator', text: 'a' } });
    last().recv({ type: 'entry', entry: { id: '2-0', conv: 'c1', at: 1, kind: 'msg', from: 'operator', text: 'b' } });
    expect(c.unread()).toBe(2);
    c.markRead('c1');
    expect(c.unread()).toBe(0);
    expect(last().sent.at(-1)).toEqual({ type: 'seen', conv: 'c1', id: '2-0' });
  });

  it('a message another tab wrote to the outbox is left to that tab for ACK_TIMEOUT_MS', () => {
    const kv = new MemKV();
    const a = client(kv);
    a.start();
    last().open();
    answered(last());
    a.send('from tab A');
    const wsA = last();
    const b = client(kv);
    b.start();
    const wsB = last();
    wsB.open();
    answered(wsB);
    // B started after A wrote: a reload-like start resends everything (the server de-duplicates by cid)…
    const sentByB = () => wsB.sent.filter((f) => f.type === 'send').length;
    const before = sentByB();
    // …but an item arriving by `storage` event while B is connected is not sent at once.
    a.send('second from A');
    b.onStorage('hark:demo:outbox');
    vi.advanceTimersByTime(ACK_TIMEOUT_MS / 2);
    expect(sentByB()).toBe(before);
    // A gets its acks and removes them; B learns it through storage and will not send them.
    for (const f of wsA.sent.filter((x) => x.type === 'send')) wsA.recv({ type: 'ack', cid: f.cid, conv: 'c1', id: '9-0' });
    b.onStorage('hark:demo:outbox');
    vi.advanceTimersByTime(ACK_TIMEOUT_MS * 2);
    expect(sentByB()).toBe(before);
  });

  it("a message whose entry this tab already shows is not taken back as pending from another tab's outbox (storage event late)", () => {
    const kv = new MemKV();
    const a = client(kv);
    a.start();
    const wsA = last();
    wsA.open();
    answered(wsA);
    a.send('first from A');
    const first = wsA.sent.find((f) => f.type === 'send') as { cid: string };
    wsA.recv({ type: 'ack', cid: first.cid, conv: 'c1', id: '1-0' });
    wsA.recv({ type: 'entry', entry: { id: '1-0', conv: 'c1', at: 1, kind: 'msg', from: 'visitor', text: 'first from A', cid: first.cid } });
    // Tab B of the same visitor (engaged: the token is stored), connected.
    const b = client(kv);
    b.start();
    const wsB = last();
    wsB.open();
    answered(wsB, [{ id: 'c1', status: 'open' }]);
    a.send('from tab A');
    const cid = (wsA.sent.filter((f) => f.type === 'send').at(-1) as { cid: string }).cid;
    // B's own socket brings the entry before the storage event that says A wrote it to the outbox.
    wsB.recv({ type: 'entry', entry: { id: '5-0', conv: 'c1', at: 2, kind: 'msg', from: 'visitor', text: 'from tab A', cid } });
    b.onStorage('hark:demo:outbox');
    expect(b.outbox.map((x) => x.cid)).not.toContain(cid);
    // A has its entry and empties the outbox: B keeps nothing of it either.
    wsA.recv({ type: 'entry', entry: { id: '5-0', conv: 'c1', at: 2, kind: 'msg', from: 'visitor', text: 'from tab A', cid } });
    b.onStorage('hark:demo:outbox');
    expect(b.outbox.map((x) => x.cid)).not.toContain(cid);
  });

  it('marks a send failed on an error frame and resends it on retry', () => {
    const c = client();
    c.start();
    last().open();
    answered(last());
    c.send('x');
    const cid = c.outbox[0]?.cid;
    last().recv({ type: 'error', code: 'MESSAGE_TOO_LONG', message: '', cid });
    expect(c.outbox[0]?.state).toBe('failed');
    vi.advanceTimersByTime(ACK_TIMEOUT_MS * 3);
    expect(last().sent.filter((f) => f.type === 'send')).toHaveLength(1);
    c.retry(cid as string);
    expect(last().sent.filter((f) => f.type === 'send')).toHaveLength(2);
  });

  it('keeps a send "sending" on a busy site\'s retry hint and sends it again after the hint', () => {
    const c = client();
    c.start();
    last().open();
    answered(last());
    c.send('x');
    const cid = c.outbox[0]?.cid;
    last().recv({ type: 'error', code: 'RATE_LIMITED', message: '', cid, retryMs: 1000 });
    expect(c.outbox[0]?.state).toBe('sending');
    expect(last().sent.filter((f) => f.type === 'send')).toHaveLength(1);
    vi.advanceTimersByTime(1000 + RETRY_TICK_MS);
    const sends = last().sent.filter((f) => f.type === 'send');
    expect(sends).toHaveLength(2);
    expect(sends[1]).toMatchObject({ cid, re: true });
  });

  it('survives blocked storage', () => {
    const c = client(null);
    c.start();
    last().open();
    answered(last());
    expect(c.send('hi')).toBe(true);
  });
});
