import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { DRAIN_TIMEOUT_MS } from '../src/realtime/gateway';
import { type TestRedis, testGateway, testRedis, visitor } from './harness';

let redis: TestRedis;
afterAll(async () => {
  await redis?.cleanup();
});

describe('drain', () => {
  it('closes every socket with 1012, and cuts one whose client never answers after DRAIN_TIMEOUT_MS instead of waiting 30 s', async () => {
    redis = await testRedis();
    const gw = await testGateway(redis.url);
    const polite = await visitor(gw);
    await polite.next('synced');
    const deaf = await visitor(gw);
    await deaf.next('synced');
    // This client stops reading: it never sees the close frame, so it never answers it.
    (deaf.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const t0 = performance.now();
    const closing = gw.close();
    // While it drains, the gateway no longer accepts: a new connection is refused at once (a
    // load balancer or the client moves on) rather than left waiting for a process that is leaving.
    const refused = await new Promise<string>((res) => {
      const c = connect(gw.port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        res('accepted');
      });
      c.once('error', (e: NodeJS.ErrnoException) => res(e.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
    expect(performance.now() - t0).toBeLessThan(DRAIN_TIMEOUT_MS);
    await closing;
    const took = performance.now() - t0;
    expect((await polite.waitClose()).code).toBe(1012);
    // ws on its own waits 30 s (its close timeout) for an answer before ending the socket.
    expect(took).toBeGreaterThanOrEqual(DRAIN_TIMEOUT_MS - 100);
    expect(took).toBeLessThan(DRAIN_TIMEOUT_MS + 5_000);
    deaf.ws.terminate();
  });
});
