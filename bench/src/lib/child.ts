/**
 * The child side of a benchmarked server process: tells the parent its port,
 * answers `stats` (after a full GC, so heap and RSS are what the sockets really
 * hold) and stops on `stop`.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

export interface ChildStats {
  rss: number;
  heapUsed: number;
  /** Heap reserved by V8, used or not (RSS beyond heapUsed is mostly this and native memory). */
  heapTotal: number;
  external: number;
  /** CPU time used so far, user + system, in ms. */
  cpuMs: number;
}

export function childStats(): ChildStats {
  gc();
  gc();
  const m = process.memoryUsage();
  const c = process.cpuUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, cpuMs: (c.user + c.system) / 1000 };
}

let session: Session | null = null;
/** A CPU profile of just the part of a run the parent asks for (`prof-start` … `prof-stop`), for DevTools. */
function profiler(method: string, params?: object): Promise<unknown> {
  session ??= (() => {
    const s = new Session();
    s.connect();
    return s;
  })();
  const s = session;
  return new Promise((res, rej) => s.post(method, params ?? {}, (err, r) => (err ? rej(err) : res(r))));
}

export function serveChild(port: number, stop: () => Promise<void>): void {
  process.send?.({ type: 'ready', port });
  process.on('message', (m: { type: string }) => {
    if (m.type === 'stats') {
      // RSS read straight after gc() still holds the pages V8 is about to give back (it varied by
      // ±10–20 KiB per idle socket between runs of the same code): collect, wait, collect again.
      const settle = (m as { settleMs?: number }).settleMs ?? 0;
      if (!settle) process.send?.({ type: 'stats', stats: childStats() });
      else {
        gc();
        setTimeout(() => process.send?.({ type: 'stats', stats: childStats() }), settle);
      }
    }
    else if (m.type === 'cpu') {
      const c = process.cpuUsage();
      process.send?.({ type: 'cpu', cpuMs: (c.user + c.system) / 1000 });
    } else if (m.type === 'prof-start') {
      // HARK_BENCH_HEAP=1: a sampling heap profile (what allocates) instead of a CPU profile.
      void (process.env.HARK_BENCH_HEAP ? profiler('HeapProfiler.enable').then(() => profiler('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })) : profiler('Profiler.enable').then(() => profiler('Profiler.start'))).then(() =>
        process.send?.({ type: 'prof-started' }),
      );
    } else if (m.type === 'prof-stop') {
      const file = (m as { file?: string }).file as string;
      const heap = !!process.env.HARK_BENCH_HEAP;
      void profiler(heap ? 'HeapProfiler.stopSampling' : 'Profiler.stop').then((r) => {
        writeFileSync(heap ? file.replace(/\.cpuprofile$/, '.heapprofile') : file, JSON.stringify((r as { profile: unknown }).profile));
        process.send?.({ type: 'prof-stopped' });
      });
    } else if (m.type === 'stop') void stop().finally(() => process.exit(0));
  });
  process.on('disconnect', () => process.exit(0));
}
