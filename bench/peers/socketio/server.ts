/**
 * The peer: what a team would otherwise build. Socket.IO with the Redis adapter;
 * a client joins its conversations' rooms (?convs=a,b) and emits ('m', conv, body);
 * the room gets it on every process. No storage, routing or resume either.
 */
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { serveChild } from '../../src/lib/child';

const url = process.env.REDIS_URL as string;
const pub = new Redis(url);
const sub = pub.duplicate();
const http = createServer();
const io = new Server(http, { transports: ['websocket'], perMessageDeflate: false, maxHttpBufferSize: 32 * 1024, adapter: createAdapter(pub, sub) });
io.on('connection', (socket) => {
  const convs = String(socket.handshake.query.convs ?? '').split(',').filter(Boolean);
  void socket.join(convs);
  socket.on('m', (conv: string, body: string) => {
    io.to(conv).emit('m', conv, body);
  });
});
http.listen(Number(process.env.PORT ?? 0), '0.0.0.0', () => {
  const a = http.address();
  serveChild(typeof a === 'object' && a ? a.port : 0, async () => {
    io.close();
    pub.disconnect();
    sub.disconnect();
  });
});
