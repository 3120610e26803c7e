/** Small async building blocks the gateway uses in several places. */

/**
 * "Run once, and once more if asked meanwhile": returns a trigger. Calling it starts `fn`
 * (after `delayMs`, to gather triggers that arrive together) unless a run is in flight, in
 * which case one more run follows it, however many triggers came. `onIdle` is called when
 * the last run ends.
 */
export function coalesced(fn: () => Promise<void>, onError: (e: unknown) => void, delayMs = 0, onIdle?: () => void): () => void {
  let running = false;
  let again = false;
  const loop = async () => {
    try {
      do {
        again = false;
        await fn();
      } while (again);
    } catch (e) {
      onError(e);
    } finally {
      running = false;
      onIdle?.();
    }
  };
  return () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    if (delayMs > 0) setTimeout(() => void loop(), delayMs);
    else void loop();
  };
}

/**
 * Runs `fn` until it succeeds, retrying up to `retries` times with backoff from 100 ms doubling
 * to `capMs`; `stop()` true gives up at once (the caller went away). `onFail` sees each failure.
 */
export async function retrying<T>(fn: () => Promise<T>, opts: { retries: number; capMs: number; stop?: () => boolean; onFail?: (e: unknown) => void }): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      opts.onFail?.(e);
      if (opts.stop?.() || attempt >= opts.retries) throw e;
      await new Promise((r) => setTimeout(r, Math.min(opts.capMs, 100 * 2 ** attempt)));
    }
  }
}

/**
 * Reads a stream page after page: `read(after)` returns the entries after a cursor (in order,
 * at most a page); each page goes to `onPage`, and reading goes on after its last entry until a
 * page is empty, or shorter than `fullPage` when given (a short page is the end: saves a read).
 */
export async function eachPage<E extends { id: string }>(read: (after: string) => Promise<E[]>, after: string, onPage: (page: E[]) => void, fullPage = 0, first?: E[]): Promise<void> {
  let cursor = after;
  for (let page = first; ; page = undefined) {
    const entries = page ?? (await read(cursor));
    onPage(entries);
    const last = entries.at(-1);
    if (!last || (fullPage > 0 && entries.length < fullPage)) return;
    cursor = last.id;
  }
}

/**
 * Calls `fn` on every item, at most `limit` calls running at once, started in the items' order,
 * and resolves with the results in that order. A call that fails stops its lane (the other lanes
 * take the items left); the promise settles only once every call has ended, so nothing is still
 * running when the caller retries, and then rejects with `pick(errors)` (default: the first).
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>, pick: (errors: unknown[]) => unknown = (es) => es[0]): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T, i);
  };
  const done = await Promise.allSettled(Array.from({ length: Math.max(0, Math.min(limit, items.length)) }, lane));
  const errors = done.filter((d): d is PromiseRejectedResult => d.status === 'rejected').map((d) => d.reason as unknown);
  if (errors.length) throw pick(errors);
  return out;
}
