import { describe, expect, it } from 'vitest';
import { dayOf, lastDays, median } from './stats';

describe('stats helpers', () => {
  it('takes the median of odd and even counts', () => {
    expect(median([])).toBeNull();
    expect(median([5])).toBe(5);
    expect(median([9, 1, 5])).toBe(5);
    expect(median([1, 2, 3, 10])).toBe(3);
  });
  it('names UTC days and walks back a week', () => {
    const now = Date.UTC(2025, 2, 1, 0, 30); // 1 March, just after midnight UTC
    expect(dayOf(now)).toBe('2025-03-01');
    expect(lastDays(now, 3)).toEqual(['2025-03-01', '2025-02-28', '2025-02-27']);
  });
});
