/**
 * The floor: the least any relay over Redis can do. Raw ws in, PUBLISH, SUBSCRIBE,
 * raw ws out; no storage, routing, validation, ordering or resume. A client
 * connects with ?convs=a,b and sends "conv\n<payload>"; every socket of that
 * conversation on any process gets the frame as it was sent.
 */
import { Redis } from 'ioredis';
import { WebSocketServer, type WebSocket } from 'ws';
import { serveChild } from '../../src/lib/child';

const url = process.env.REDIS_URL as string;
const pub = new Redis(url, { enableAutoPipelining: true });
const sub = new Redis(url);
const rooms = new Map<string, Set<WebSocket>>();

sub.on('messageBuffer', (ch: Buffer, msg: Buffer) => {
  const set = rooms.get(ch.toString('latin1', 2));
  if (set) for (const ws of set) ws.send(msg, { binary: false });
});

const wss = new WebSocketServer({ port: Number(process.env.PORT ?? 0), host: '0.0.0.0', perMessageDeflate: false, maxPayload: 32 * 1024 });
wss.on('connection', (ws, req) => {
  const convs = (new URL(req.url ?? '/', 'http://x').searchParams.get('convs') ?? '').split(',').filter(Boolean);
  for (const c of convs) {
    let set = rooms.get(c);
    if (!set) {
      set = new Set();
      rooms.set(c, set);
      void sub.subscribe(`f:${c}`);
    }
    set.add(ws);
  }
  ws.on('message', (data: Buffer) => {
    const nl = data.indexOf(10);
    if (nl > 0) void pub.publish(`f:${data.toString('latin1', 0, nl)}`, data);
  });
  ws.on('close', () => {
    for (const c of convs) {
      const set = rooms.get(c);
      set?.delete(ws);
      if (set?.size === 0) {
        rooms.delete(c);
        void sub.unsubscribe(`f:${c}`);
      }
    }
  });
  ws.on('error', () => {});
});
wss.on('listening', () => {
  const a = wss.address();
  serveChild(typeof a === 'object' && a ? a.port : 0, async () => {
    wss.close();
    pub.disconnect();
    sub.disconnect();
  });
});
