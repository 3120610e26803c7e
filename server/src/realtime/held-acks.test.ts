/** The ack-holding of Conn on a real socket pair (ws server and client on port 0). */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { createMetrics } from '../metrics';
import { ACK_HOLD_MAX, ACK_HOLD_MS, Conn } from './conn';

class TestConn extends Conn {
  protected parse(raw: string) {
    return JSON.parse(raw) as { type: string };
  }
  protected async handle() {}
  protected onClose() {}
  ack(conv: string, id: string) {
    this.sendAck(conv, id, { type: 'ack', conv, id });
  }
}

let wss: WebSocketServer;
let metrics: ReturnType<typeof createMetrics>;
beforeAll(async () => {
  wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => wss.once('listening', r));
  metrics = createMetrics();
});
afterAll(() => new Promise<void>((r) => wss.close(() => r())));

async function pair(): Promise<{ conn: TestConn; got: { type: string; id?: string; at: number }[]; client: WebSocket }> {
  const accepted = new Promise<WebSocket>((r) => wss.once('connection', r));
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  const got: { type: string; id?: string; at: number }[] = [];
  client.on('message', (d) => got.push({ ...JSON.parse(d.toString()), at: performance.now() }));
  await new Promise((r) => client.once('open', r));
  return { conn: new TestConn(await accepted, metrics, 'visitor'), got, client };
}

const until = async (ok: () => boolean) => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe('held acks', () => {
  it('an ack waits for its entry and follows it; an entry already sent lets the ack go at once', async () => {
    const { conn, got, client } = await pair();
    conn.ack('c', '5-0');
    conn.deliverEntry('c', '5-0', JSON.stringify({ type: 'entry', id: '5-0' }));
    conn.ack('c', '5-0'); // a resend's ack: its entry is already out
    await until(() => got.length === 3);
    expect(got.map((f) => f.type)).toEqual(['entry', 'ack', 'ack']);
    client.close();
  });

  it(`an ack whose entry never comes goes alone after about ACK_HOLD_MS (${ACK_HOLD_MS} ms)`, async () => {
    const { conn, got, client } = await pair();
    const t0 = performance.now();
    conn.ack('c', '7-0');
    await until(() => got.length === 1);
    expect(got[0]?.type).toBe('ack');
    expect(got[0]!.at - t0).toBeGreaterThanOrEqual(ACK_HOLD_MS - 20);
    client.close();
  });

  it(`at most ACK_HOLD_MAX (${ACK_HOLD_MAX}) acks are held: the oldest goes out at once`, async () => {
    const { conn, got, client } = await pair();
    for (let i = 1; i <= ACK_HOLD_MAX + 1; i++) conn.ack('c', `${i}-0`);
    await until(() => got.length === 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(got.map((f) => f.id)).toEqual(['1-0']);
    client.close();
  });
});
