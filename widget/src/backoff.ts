/** Reconnect policy of the visitor socket: exponential, capped, with jitter so a gateway restart is not met by every widget at the same instant. */

/** First retry after about this long. */
export const BACKOFF_BASE_MS = 500;
/** Never wait longer than this between attempts (a visitor may be waiting for an answer). */
export const BACKOFF_MAX_MS = 30_000;
/** Each delay is a random fraction of the exponential step, at least this share of it. */
export const BACKOFF_MIN_SHARE = 0.5;

/** Delay before reconnect attempt `attempt` (0 = first retry). `random` is injectable for tests. */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const step = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 16));
  return Math.round(step * (BACKOFF_MIN_SHARE + (1 - BACKOFF_MIN_SHARE) * random()));
}
