/**
 * Reconnect policy of the operator socket: exponential backoff with jitter and
 * a cap, like ioredis's default retryStrategy. Jitter spreads the reconnects of
 * a whole support team after a gateway restart so they do not arrive as one
 * thundering herd.
 */

/** First retry comes quickly: most drops are a gateway restart or a blip. */
export const RECONNECT_BASE_MS = 500;
/** Never wait longer than this: an operator must not sit offline for minutes. */
export const RECONNECT_CAP_MS = 15_000;
/** Fraction of the delay that is randomised ("equal jitter"): delay ∈ [d·(1−J), d]. */
export const RECONNECT_JITTER = 0.5;

/** Delay before reconnect attempt `attempt` (0-based). `random` is injectable for tests. */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  const exp = Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * 2 ** Math.max(0, Math.min(attempt, 30)));
  return Math.round(exp * (1 - RECONNECT_JITTER * random()));
}
