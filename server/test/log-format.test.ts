/** LOG_FORMAT: readable lines in a terminal, JSON in production; the compiled gateway logs either way. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readConfig } from '../src/config';
import { prettyLine } from '../src/http/log-format';
import { type TestRedis, testRedis } from './harness';
import { startCompiled } from './process-harness';

it('defaults to pretty in a terminal, JSON otherwise and with NODE_ENV=production; LOG_FORMAT wins', () => {
  expect(readConfig({}, true).logFormat).toBe('pretty');
  expect(readConfig({}, false).logFormat).toBe('json');
  expect(readConfig({ NODE_ENV: 'production' }, true).logFormat).toBe('json');
  expect(readConfig({ LOG_FORMAT: 'json' }, true).logFormat).toBe('json');
  expect(readConfig({ LOG_FORMAT: 'pretty' }, false).logFormat).toBe('pretty');
  expect(() => readConfig({ LOG_FORMAT: 'xml' })).toThrow(/LOG_FORMAT/);
});

it('lays a record out on one line: time, level, request, status, fields; an error with its stack', () => {
  const t = new Date(2026, 11, 2, 9, 5, 7, 42).getTime();
  expect(prettyLine(JSON.stringify({ level: 30, time: t, pid: 1, hostname: 'h', reqId: 'req-1', req: { method: 'GET', url: '/v1/visitor?…', remoteAddress: '127.0.0.1' }, msg: 'incoming request' }))).toBe(
    '09:05:07.042 INFO  GET /v1/visitor?… from 127.0.0.1 reqId=req-1',
  );
  expect(prettyLine(JSON.stringify({ level: 30, time: t, reqId: 'req-1', res: { statusCode: 200 }, responseTime: 2.71, msg: 'request completed' }))).toBe('09:05:07.042 INFO  → 200 2.7 ms reqId=req-1');
  const e = prettyLine(JSON.stringify({ level: 40, time: t, err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at f (x.ts:1:1)' }, msg: 'redis', site: 'demo shop' }));
  expect(e).toBe('09:05:07.042 WARN  redis Error: boom site="demo shop"\n    at f (x.ts:1:1)');
  expect(prettyLine('not json')).toBe('not json');
  // Colour only when asked (a terminal): ANSI around the level.
  expect(prettyLine(JSON.stringify({ level: 50, time: t, msg: 'x' }), true)).toContain('\x1b[31mERROR\x1b[0m');
});

let redis: TestRedis;
beforeAll(async () => {
  redis = await testRedis();
});
afterAll(async () => {
  await redis?.cleanup();
});

it('the compiled gateway logs readable lines with LOG_FORMAT=pretty and JSON by default off a terminal', async () => {
  for (const format of ['pretty', 'json'] as const) {
    const gw = await startCompiled({ REDIS_URL: redis.url, LOG_LEVEL: 'info', ...(format === 'pretty' ? { LOG_FORMAT: 'pretty' } : {}) });
    await fetch(`${gw.base}/healthz?secret=x`);
    await new Promise((r) => setTimeout(r, 200));
    await gw.stop();
    const lines = gw.out().split('\n');
    if (format === 'pretty') {
      expect(lines.some((l) => /^\d\d:\d\d:\d\d\.\d{3} INFO {2}GET \/healthz\?… from 127\.0\.0\.1 reqId=/.test(l))).toBe(true);
      expect(lines.some((l) => l.startsWith('{'))).toBe(false);
    } else {
      const rec = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { req?: { url?: string } });
      expect(rec.some((r) => r.req?.url === '/healthz?…')).toBe(true);
    }
  }
});
