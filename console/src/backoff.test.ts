import { describe, expect, it } from 'vitest';
import { RECONNECT_BASE_MS, RECONNECT_CAP_MS, reconnectDelay } from './backoff';

describe('reconnectDelay', () => {
  it('grows exponentially without jitter at random=0', () => {
    expect(reconnectDelay(0, () => 0)).toBe(RECONNECT_BASE_MS);
    expect(reconnectDelay(1, () => 0)).toBe(RECONNECT_BASE_MS * 2);
    expect(reconnectDelay(3, () => 0)).toBe(RECONNECT_BASE_MS * 8);
  });
  it('is capped, even for huge attempt counts', () => {
    expect(reconnectDelay(50, () => 0)).toBe(RECONNECT_CAP_MS);
    expect(reconnectDelay(1e9, () => 0)).toBe(RECONNECT_CAP_MS);
  });
  it('jitters down to half the delay', () => {
    expect(reconnectDelay(2, () => 1)).toBe((RECONNECT_BASE_MS * 4) / 2);
    const seen = new Set(Array.from({ length: 50 }, () => reconnectDelay(4)));
    expect(seen.size).toBeGreaterThan(5);
  });
});
