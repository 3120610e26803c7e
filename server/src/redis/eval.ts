/**
 * Running a Lua script by its SHA1 (EVALSHA), sending its text (EVAL) only when Redis does not
 * have it yet: on first use, after a Redis restart or failover, on a Cluster node that never ran
 * it. A script sent with EVAL on every call crosses the wire (and is hashed by Redis) every time;
 * the reports' rollup script ran once per message that way.
 *
 * Not defineCommand: ioredis copies every script a client defines into each autopipeline it
 * opens (see store/event-log.ts), and the command client every message goes through defines
 * none of ours but the append path's.
 */
import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

const shas = new Map<string, string>();

function shaOf(lua: string): string {
  let h = shas.get(lua);
  if (!h) {
    h = createHash('sha1').update(lua).digest('hex');
    shas.set(lua, h);
  }
  return h;
}

/**
 * EVALSHA of `lua` (a constant script text: each distinct text is remembered), and EVAL on
 * NOSCRIPT. The same result and errors as `r.eval(lua, numKeys, ...args)`.
 */
export async function evalScript(r: Redis | Cluster, lua: string, numKeys: number, ...args: (string | number | Buffer)[]): Promise<unknown> {
  try {
    return await r.evalsha(shaOf(lua), numKeys, ...args);
  } catch (err) {
    if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
    return r.eval(lua, numKeys, ...args);
  }
}
