/**
 * redis/eval.ts: a script runs by its SHA1 once Redis has it, its text crosses the wire only when
 * Redis answers NOSCRIPT (first use, after a SCRIPT FLUSH or a restart), and a script's own error
 * comes back as it would from EVAL.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evalScript } from '../src/redis/eval';
import { type TestRedis, testRedis } from './harness';

let redis: TestRedis;
let r: Redis;

beforeAll(async () => {
  redis = await testRedis();
  r = new Redis(redis.url);
});
afterAll(async () => {
  r?.disconnect();
  await redis?.cleanup();
});

const INCR = `return redis.call('INCRBY', KEYS[1], ARGV[1])`;

async function calls(): Promise<{ eval: number; evalsha: number }> {
  const info = await r.info('commandstats');
  const n = (c: string) => Number(new RegExp(`^cmdstat_${c}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0);
  return { eval: n('eval'), evalsha: n('evalsha') };
}

describe('evalScript', () => {
  it('sends the text once, then only the SHA1, and again after a SCRIPT FLUSH', async () => {
    await r.script('FLUSH');
    await r.config('RESETSTAT');
    expect(await evalScript(r, INCR, 1, 'eval:n', 2)).toBe(2);
    expect(await calls()).toEqual({ eval: 1, evalsha: 1 }); // NOSCRIPT, then EVAL
    for (let i = 0; i < 5; i++) await evalScript(r, INCR, 1, 'eval:n', 1);
    expect(await calls()).toEqual({ eval: 1, evalsha: 6 });
    await r.script('FLUSH');
    expect(await evalScript(r, INCR, 1, 'eval:n', 10)).toBe(17);
    expect(await calls()).toEqual({ eval: 2, evalsha: 7 });
  });

  it("passes a script's own error through, as EVAL does", async () => {
    await expect(evalScript(r, `return redis.call('INCR', KEYS[1])`, 1, 'eval:n')).resolves.toBe(18);
    await r.set('eval:s', 'text');
    await expect(evalScript(r, `return redis.call('INCR', KEYS[1])`, 1, 'eval:s')).rejects.toThrow(/not an integer/);
  });
});
