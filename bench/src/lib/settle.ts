/** Waiting for ours' event consumers (search index, reports, stats…) to catch up with a setup's backlog. */
import type { Redis } from 'ioredis';
import { EVENT_PARTITIONS, EVK } from '@hark/server/src/store/event-log';
import { sleep } from './pace';

/** Entries counted at most per consumer and partition (enough to tell "far behind"). */
const COUNT_CAP = 10_000;

/**
 * Waits until every consumer's done watermark on each of the EVENT_PARTITIONS streams is at the
 * stream's last entry (a consumer reads after its watermark and moves it as it goes), or `maxMs`
 * passed; returns the entries still after the watermarks (0: caught up).
 */
export async function settle(r: Redis, maxMs: number): Promise<number> {
  const t0 = performance.now();
  const names = new Set<string>();
  // The consumers running: each heartbeats its membership (store/event-log.ts heartbeat).
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', EVK.members('*'), 'COUNT', 1000);
    cursor = next;
    for (const k of keys) {
      const name = k.slice(EVK.members('').length);
      if (!name.startsWith('@')) names.add(name);
    }
  } while (cursor !== '0');
  for (;;) {
    let behind = 0;
    for (let p = 0; p < EVENT_PARTITIONS; p++) {
      const last = (await r.xrevrange(EVK.stream(p), '+', '-', 'COUNT', 1))[0]?.[0];
      if (!last) continue;
      for (const name of names) {
        const done = await r.get(EVK.done(p, name));
        if (done === last) continue;
        behind += (await r.xrange(EVK.stream(p), done ? `(${done}` : '-', '+', 'COUNT', COUNT_CAP)).length;
      }
    }
    if (behind === 0 || performance.now() - t0 > maxMs) return behind;
    await sleep(250);
  }
}
