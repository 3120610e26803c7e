/**
 * The child side of a benchmarked server process: tells the parent its port,
 * answers `stats` (after a full GC, so heap and RSS are what the sockets really
 * hold) and stops on `stop`.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { PerformanceObserver, constants, createHistogram } from 'node:perf_hooks';
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

/** What stalled this process's event loop since the last `loop` question: its delay and GC pauses. */
export interface LoopStats {
  /** Event-loop delay (a timer due every LOOP_SAMPLE_MS, how late it ran), ms. */
  delayP50: number;
  delayP99: number;
  delayP999: number;
  delayMax: number;
  /** GC pauses: how many, their total and the longest, ms. */
  gcCount: number;
  gcMs: number;
  gcMaxMs: number;
  /** Of those, the full (mark-sweep-compact) collections: how many and their total, ms. The rest are scavenges of the young generation. */
  gcMajorCount: number;
  gcMajorMs: number;
  /** Resident memory now (no GC forced), bytes. */
  rss: number;
  /** The loop delays and GC pauses of STALL_MS or more, with when they began (wall clock, ms): at most MAX_STALLS. */
  stalls?: { at: number; ms: number; what: 'loop' | 'gc' | 'full-gc' }[];
}
/** A loop delay or GC pause this long is listed with its time (to line it up with other processes' and Redis's). */
const STALL_MS = 15;
const MAX_STALLS = 50;
let stalls: NonNullable<LoopStats['stalls']> = [];
const stall = (at: number, ms: number, what: 'loop' | 'gc' | 'full-gc') => {
  if (stalls.length < MAX_STALLS) stalls.push({ at: Math.round(at), ms: Math.round(ms * 10) / 10, what });
};
/** The delay sampler's period (ms): short enough to see a stall of a few ms, cheap. */
const LOOP_SAMPLE_MS = 5;
// How late a timer due every LOOP_SAMPLE_MS ran, µs (as server/src/metrics.ts does; not
// monitorEventLoopDelay, which missed stalls right after its reset()).
const delay = createHistogram();
let lastTick = performance.now();
setInterval(() => {
  const now = performance.now();
  const late = now - lastTick - LOOP_SAMPLE_MS;
  delay.record(Math.max(1, Math.round(late * 1000)));
  if (late >= STALL_MS) stall(performance.timeOrigin + lastTick + LOOP_SAMPLE_MS, late, 'loop');
  lastTick = now;
}, LOOP_SAMPLE_MS).unref();
let gcCount = 0;
let gcMs = 0;
let gcMaxMs = 0;
let gcMajorCount = 0;
let gcMajorMs = 0;
new PerformanceObserver((l) => {
  for (const e of l.getEntries()) {
    gcCount++;
    gcMs += e.duration;
    if (e.duration > gcMaxMs) gcMaxMs = e.duration;
    const major = (e as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR;
    if (major) {
      gcMajorCount++;
      gcMajorMs += e.duration;
    }
    if (e.duration >= STALL_MS) stall(performance.timeOrigin + e.startTime, e.duration, major ? 'full-gc' : 'gc');
  }
}).observe({ entryTypes: ['gc'] });
/** This process's loop delay and GC pauses since the last call (the bench's load client asks it of itself too). */
export function loopStats(): LoopStats {
  const ms = (us: number) => Math.round(us / 10) / 100;
  const s: LoopStats = {
    delayP50: ms(delay.percentile(50)),
    delayP99: ms(delay.percentile(99)),
    delayP999: ms(delay.percentile(99.9)),
    delayMax: ms(delay.max),
    gcCount,
    gcMs: Math.round(gcMs * 10) / 10,
    gcMaxMs: Math.round(gcMaxMs * 10) / 10,
    gcMajorCount,
    gcMajorMs: Math.round(gcMajorMs * 10) / 10,
    rss: process.memoryUsage.rss(),
    stalls,
  };
  stalls = [];
  delay.reset();
  gcCount = 0;
  gcMs = 0;
  gcMaxMs = 0;
  gcMajorCount = 0;
  gcMajorMs = 0;
  return s;
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
    else if (m.type === 'loop') process.send?.({ type: 'loop', loop: loopStats() });
    else if (m.type === 'cpu') {
      const c = process.cpuUsage();
      process.send?.({ type: 'cpu', cpuMs: (c.user + c.system) / 1000 });
    } else if (m.type === 'prof-start') {
      // HARK_BENCH_HEAP=1: a sampling heap profile (what allocates) instead of a CPU profile;
      // HARK_BENCH_HEAP=survivors: only what outlived a scavenge (promoted: what makes them slow).
      const minor = process.env.HARK_BENCH_HEAP !== 'survivors';
      void (process.env.HARK_BENCH_HEAP ? profiler('HeapProfiler.enable').then(() => profiler('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: minor })) : profiler('Profiler.enable').then(() => profiler('Profiler.start'))).then(() =>
        process.send?.({ type: 'prof-started' }),
      );
    } else if (m.type === 'prof-stop') {
      const file = (m as { file?: string }).file as string;
      const heap = !!process.env.HARK_BENCH_HEAP;
      void profiler(heap ? 'HeapProfiler.stopSampling' : 'Profiler.stop').then((r) => {
        writeFileSync(heap ? file.replace(/\.cpuprofile$/, '.heapprofile') : file, JSON.stringify((r as { profile: unknown }).profile));
        process.send?.({ type: 'prof-stopped' });
      });
    } else if (m.type === 'stop') {
      // `profileTo`: a CPU profile of the stop itself (a draining gateway), written just before the exit.
      const file = (m as { profileTo?: string }).profileTo;
      void (file ? profiler('Profiler.enable').then(() => profiler('Profiler.start')) : Promise.resolve())
        .then(stop)
        .then(async () => {
          if (file) writeFileSync(file, JSON.stringify(((await profiler('Profiler.stop')) as { profile: unknown }).profile));
        })
        .finally(() => process.exit(0));
    }
  });
  process.on('disconnect', () => process.exit(0));
}
