/**
 * A slow operator socket: an operator's console stops reading (its TCP socket is paused)
 * while visitors keep writing large messages into its conversations. The gateway must
 * keep what it buffers for that socket under MAX_SOCKET_BUFFER_BYTES (plus at most the
 * frame being sent), close it with 1008 SLOW_CONSUMER, and everyone else, on the same
 * gateway and on the others, must be unaffected (the accounting check stays clean).
 * Afterwards the slow operator reconnects and resumes: it too ends up with exactly the stream.
 *
 * A paused reader's bytes first fill the kernel's socket buffers (the receiver's, and the
 * sender's, which Linux grows up to tcp_wmem's maximum, 4 MiB here); only then does ws's
 * bufferedAmount grow. So the loud visitors send ~4 KB messages, bounded in count and time.
 */
import { MAX_SOCKET_BUFFER_BYTES } from '@hark/shared';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OperatorConn } from '../src/realtime/operator-socket';
import { type TestGateway, createOp, sleep, testGateway } from '../test/harness';
import { SimOperator, SimVisitor, Targets, isClean, settle } from './accounting';
import { type Fleet, cohort, endScenario, startFleet, traffic, waitFor } from './fleet';
import { note, record } from './report';

const VISITORS = 200;
/** Visitors of the slow operator's site, each writing LOUD_TEXT every LOUD_EVERY_MS (under VISITOR_MSGS_PER_SEC). */
const LOUD = 40;
const LOUD_EVERY_MS = 300;
const LOUD_TEXT = `${'lorem ipsum '.repeat(320)}`.slice(0, 3900);
/** Bounds of the loud phase: it ends when the gateway closes the slow socket, or after this long (a failure). */
const LOUD_MAX_MS = 45_000;
const LOUD_MAX_PER_VISITOR = 200;

let f: Fleet;
let gw: TestGateway;

beforeAll(async () => {
  f = await startFleet({ gateways: 2, operators: 5 });
  const site = await f.admin.req('POST', '/v1/sites', { id: 'slow', name: 'Slow operator shop', origins: ['self'] });
  expect(site.status).toBe(201);
  // A third gateway in this process, so the test can watch the slow socket's bufferedAmount.
  gw = await testGateway(f.redisUrl);
  f.targets.list.push({ base: gw.base, wsBase: gw.wsBase });
}, 120_000);
afterAll(async () => {
  await gw?.close();
  await f?.close();
});

describe('a slow operator socket', () => {
  it('stops reading: its buffer stays capped, it is closed with 1008 SLOW_CONSUMER, nobody else is affected', async () => {
    const t0 = Date.now();
    const made = await createOp(f.admin, { email: 'slow@chaos.example', name: 'Slow Operator', capacity: 100, sites: ['slow'] });
    const only = new Targets();
    only.list = [{ base: gw.base, wsBase: gw.wsBase }];
    const slow = new SimOperator(only, made.http.cookie);
    slow.start();
    await waitFor(() => slow.synced, 20_000, 'the slow operator');

    // The gateway's side of the slow operator's socket: record bufferedAmount after every send.
    const conn = [...gw.gateway.sockets].find((s) => s.kind === 'operator' && (s as OperatorConn).me.id === made.id);
    if (!conn) throw new Error('slow operator socket not found on the in-process gateway');
    let maxBuffered = 0;
    let sends = 0;
    let bytes = 0;
    const send = conn.ws.send.bind(conn.ws);
    conn.ws.send = ((data: string, ...rest: never[]) => {
      (send as (d: string, ...r: never[]) => void)(data, ...rest);
      sends++;
      bytes += Buffer.byteLength(data);
      maxBuffered = Math.max(maxBuffered, conn.ws.bufferedAmount);
    }) as typeof conn.ws.send;

    const c = await cohort(f, VISITORS);
    const loud = Array.from({ length: LOUD }, () => Object.assign(new SimVisitor(f.targets), { site: 'slow' }));
    for (const v of loud) v.start();
    await waitFor(() => loud.every((v) => v.synced), 30_000, 'the slow site visitors');

    let pausedAt = 0;
    let closedAfterMs = -1;
    await traffic(f, c, 20_000, {
      during: async () => {
        await sleep(2000);
        const sock = (slow.ws as unknown as { _socket: Socket })._socket;
        sock.pause();
        pausedAt = Date.now();
        let n = 0;
        const loudTimer = setInterval(() => {
          for (const v of loud) if (v.order.length < LOUD_MAX_PER_VISITOR) v.say(`loud ${++n} ${LOUD_TEXT}`);
        }, LOUD_EVERY_MS);
        const ticker = setInterval(() => {
          for (const v of loud) v.tick();
        }, 500);
        try {
          await waitFor(() => conn.closed, LOUD_MAX_MS, 'the gateway to close the slow socket');
          closedAfterMs = Date.now() - pausedAt;
          // The console comes back to life: it reads what was buffered, then the close, and reconnects.
          sock.resume();
          await waitFor(() => slow.connects >= 2 && slow.synced, 45_000, 'the slow operator to reconnect');
        } finally {
          clearInterval(loudTimer);
          clearInterval(ticker);
        }
      },
    });

    const others = await settle(f.r, c.visitors, c.tabs, f.ops);
    record('slow-operator-socket (everyone else)', others, Date.now() - t0);
    const mine = await settle(f.r, loud, [], [slow]);
    record('slow-operator-socket (the slow operator and its visitors)', mine, Date.now() - t0);
    const line = `slow-operator-socket: paused after 2 s; gateway closed it ${closedAfterMs} ms later; ${sends} frames / ${(bytes / 1048576).toFixed(1)} MiB written to it; max bufferedAmount ${maxBuffered} B (cap ${MAX_SOCKET_BUFFER_BYTES}); close codes ${JSON.stringify(Object.fromEntries(slow.closeCodes))}; errors ${JSON.stringify(Object.fromEntries(slow.errorCodes))}`;
    note(line);

    expect(closedAfterMs).toBeGreaterThan(0);
    // Capped: the socket is failed at the first send that finds more than the cap buffered.
    expect(maxBuffered).toBeGreaterThan(MAX_SOCKET_BUFFER_BYTES);
    expect(maxBuffered).toBeLessThan(MAX_SOCKET_BUFFER_BYTES + 64 * 1024);
    expect(slow.closeCodes.get(1008)).toBe(1);
    expect(slow.errorCodes.get('SLOW_CONSUMER')).toBe(1);
    expect(others.problems).toEqual([]);
    expect(isClean(others)).toBe(true);
    // Nobody else was cut off: the only socket closed by the gateway was the slow one.
    expect(Object.keys(others.closeCodes)).toEqual([]);
    expect(mine.problems).toEqual([]);
    expect(isClean(mine)).toBe(true);

    for (const v of loud) v.stop();
    slow.resolveAll();
    await endScenario(f, c);
    slow.stop();
  });
});
