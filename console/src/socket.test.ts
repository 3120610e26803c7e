import { describe, expect, it } from 'vitest';
import type { ServerToOperator } from '@hark/shared/protocol';
import { OperatorSocket } from './socket';

/** A scripted stand-in for the browser WebSocket, enough to drive the reconnect logic. */
class FakeWS {
  static all: FakeWS[] = [];
  readyState = 0;
  sent: unknown[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: string }) => void) | null = null;
  onclose: ((ev: { code: number }) => void) | null = null;
  constructor(readonly url: string) {
    FakeWS.all.push(this);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  receive(f: ServerToOperator) {
    this.onmessage?.({ data: JSON.stringify(f) });
  }
}

const tick = () => new Promise((r) => setTimeout(r, 5));

function make(lastIds: Record<string, string>, signedIn = true) {
  FakeWS.all = [];
  const frames: ServerToOperator[] = [];
  let signedOut = false;
  const sock = new OperatorSocket({
    url: 'ws://x/v1/operator',
    onFrame: (f) => frames.push(f),
    onState: () => {},
    lastIds: () => lastIds,
    stillSignedIn: async () => signedIn,
    onSignedOut: () => {
      signedOut = true;
    },
    WebSocketImpl: FakeWS as unknown as typeof WebSocket,
    delay: () => 1,
  });
  return { sock, frames, isSignedOut: () => signedOut };
}

describe('OperatorSocket', () => {
  it('offline(): says offline at once though the old socket never closed, ignores that socket from then on, and reconnects', async () => {
    FakeWS.all = [];
    const states: string[] = [];
    const sock = new OperatorSocket({
      url: 'ws://x/v1/operator',
      onFrame: () => {},
      onState: (st) => states.push(st),
      lastIds: () => ({}),
      stillSignedIn: async () => true,
      onSignedOut: () => {},
      WebSocketImpl: FakeWS as unknown as typeof WebSocket,
      delay: () => 1,
    });
    sock.start();
    const first = FakeWS.all[0] as FakeWS;
    first.open();
    expect(states).toEqual(['connecting', 'syncing']);
    // The browser's offline event: the socket has not noticed anything (no close from it).
    sock.offline();
    expect(states.at(-1)).toBe('offline');
    expect(first.onclose).toBeNull();
    await tick();
    // The retry made a new socket; the old one's late events change nothing.
    expect(FakeWS.all.length).toBe(2);
    expect(states.at(-1)).toBe('connecting');
    (FakeWS.all[1] as FakeWS).open();
    expect(states.at(-1)).toBe('syncing');
    sock.stop();
  });

  it('says hello with the current resume cursor on every connect', async () => {
    const ids: Record<string, string> = { c1: '1-0' };
    const { sock } = make(ids);
    sock.start();
    const first = FakeWS.all[0] as FakeWS;
    expect(first.url).toBe('ws://x/v1/operator?v=1');
    first.open();
    expect(first.sent[0]).toEqual({ type: 'hello', lastIds: { c1: '1-0' } });
    ids.c1 = '5-0';
    first.close(1006);
    await tick();
    const second = FakeWS.all[1] as FakeWS;
    second.open();
    expect(second.sent[0]).toEqual({ type: 'hello', lastIds: { c1: '5-0' } });
    // A second reconnect in a row must advance too, not replay the first cursor.
    ids.c1 = '9-0';
    second.close(1006);
    await tick();
    (FakeWS.all[2] as FakeWS).open();
    expect((FakeWS.all[2] as FakeWS).sent[0]).toEqual({ type: 'hello', lastIds: { c1: '9-0' } });
    sock.stop();
  });

  it('resends unacked messages after synced, and forgets acked ones', async () => {
    const { sock } = make({});
    sock.start();
    const a = FakeWS.all[0] as FakeWS;
    a.open();
    sock.send({ type: 'send', conv: 'c1', cid: 'cid-00001', text: 'one' });
    sock.send({ type: 'send', conv: 'c1', cid: 'cid-00002', text: 'two' });
    a.receive({ type: 'ack', cid: 'cid-00001', conv: 'c1', id: '3-0' });
    a.close(1006);
    await tick();
    const b = FakeWS.all[1] as FakeWS;
    b.open();
    expect(b.sent).toHaveLength(1); // hello only, until synced
    b.receive({ type: 'welcome', me: {} as never, convs: [], operators: [] });
    b.receive({ type: 'synced' });
    expect(b.sent.slice(1)).toEqual([{ type: 'send', conv: 'c1', cid: 'cid-00002', text: 'two' }]);
    expect(sock.unacked()).toHaveLength(1);
    sock.stop();
  });

  it('stops and reports sign-out when the upgrade is refused and the session is gone', async () => {
    const { sock, isSignedOut } = make({}, false);
    sock.start();
    (FakeWS.all[0] as FakeWS).close(1006);
    await tick();
    await tick();
    expect(isSignedOut()).toBe(true);
    expect(FakeWS.all).toHaveLength(1);
  });

  it('drops a pending send the server rejected with an error', async () => {
    const { sock, frames } = make({});
    sock.start();
    const a = FakeWS.all[0] as FakeWS;
    a.open();
    sock.send({ type: 'send', conv: 'c1', cid: 'cid-00003', text: ' ' });
    a.receive({ type: 'error', code: 'EMPTY_MESSAGE', message: 'x', cid: 'cid-00003' });
    expect(sock.unacked()).toHaveLength(0);
    expect(frames.at(-1)?.type).toBe('error');
    sock.stop();
  });
});
