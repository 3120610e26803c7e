/** Waiting for ours' event consumers (search index, reports, stats…) to catch up with a setup's backlog. */
import type { Redis } from 'ioredis';
import { EVENT_PARTITIONS, EVK } from '@hark/server/src/store/event-log';
import { sleep } from './pace';

/**
 * Waits until every consumer group of the event log (EVENT_PARTITIONS streams) has nothing
 * unread and nothing pending, or `maxMs` passed; returns the events still behind (0: caught up).
 */
export async function settle(r: Redis, maxMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    let behind = 0;
    for (let p = 0; p < EVENT_PARTITIONS; p++) {
      const groups = (await r.call('XINFO', 'GROUPS', EVK.stream(p)).catch(() => [])) as unknown[][];
      for (const g of groups) {
        const f = new Map<string, unknown>();
        for (let i = 0; i + 1 < g.length; i += 2) f.set(String(g[i]), g[i + 1]);
        behind += Number(f.get('pending') ?? 0) + Number(f.get('lag') ?? 0);
      }
    }
    if (behind === 0 || performance.now() - t0 > maxMs) return behind;
    await sleep(250);
  }
}

