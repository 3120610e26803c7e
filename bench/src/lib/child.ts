/**
 * The child side of a benchmarked server process: tells the parent its port,
 * answers `stats` (after a full GC, so heap and RSS are what the sockets really
 * hold) and stops on `stop`.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

export interface ChildStats {
  rss: number;
  heapUsed: number;
  external: number;
  /** CPU time used so far, user + system, in ms. */
  cpuMs: number;
}

export function childStats(): ChildStats {
  gc();
  gc();
  const m = process.memoryUsage();
  const c = process.cpuUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, cpuMs: (c.user + c.system) / 1000 };
}

export function serveChild(port: number, stop: () => Promise<void>): void {
  process.send?.({ type: 'ready', port });
  process.on('message', (m: { type: string }) => {
    if (m.type === 'stats') process.send?.({ type: 'stats', stats: childStats() });
    else if (m.type === 'cpu') {
      const c = process.cpuUsage();
      process.send?.({ type: 'cpu', cpuMs: (c.user + c.system) / 1000 });
    } else if (m.type === 'stop') void stop().finally(() => process.exit(0));
  });
  process.on('disconnect', () => process.exit(0));
}
