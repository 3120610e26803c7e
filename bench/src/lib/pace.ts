/**
 * Open-loop pacing: send i is due at t0 + i / rate, whatever the server is
 * doing, and its latency is measured from that due time, so a server that
 * stalls cannot hide its stall by slowing the sender (coordinated omission).
 * Bounded both ways: at most `count` sends and at most `maxMs` of wall time.
 */
export interface PaceResult {
  sent: number;
  /** How far the sender itself fell behind schedule at worst (ms); large values mean the load client is the bottleneck. */
  maxLagMs: number;
  elapsedMs: number;
}

export function pace(rate: number, count: number, maxMs: number, send: (i: number, due: number) => void): Promise<PaceResult> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let i = 0;
    let maxLagMs = 0;
    const tick = () => {
      const now = performance.now();
      if (now - t0 >= maxMs) return resolve({ sent: i, maxLagMs, elapsedMs: now - t0 });
      const dueCount = Math.min(count, Math.floor(((now - t0) * rate) / 1000) + 1);
      while (i < dueCount) {
        const due = t0 + (i * 1000) / rate;
        maxLagMs = Math.max(maxLagMs, now - due);
        send(i, due);
        i++;
      }
      if (i >= count) return resolve({ sent: i, maxLagMs, elapsedMs: performance.now() - t0 });
      const next = t0 + (i * 1000) / rate;
      setTimeout(tick, Math.max(0, next - performance.now()));
    };
    tick();
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `cond` every 20 ms until it holds or `maxMs` passes; returns whether it held. */
export async function until(cond: () => boolean, maxMs: number): Promise<boolean> {
  const end = performance.now() + maxMs;
  while (!cond()) {
    if (performance.now() > end) return false;
    await sleep(20);
  }
  return true;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool<T>(items: T[], limit: number, fn: (x: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
