import { describe, expect, it } from 'vitest';
import { segments, dayStartMs, dayValue } from './search';

describe('segments', () => {
  it('splits a snippet into plain and marked pieces', () => {
    expect(segments('Your order 4411 ships', [[5, 10], [11, 15]])).toEqual([
      { text: 'Your ', mark: false },
      { text: 'order', mark: true },
      { text: ' ', mark: false },
      { text: '4411', mark: true },
      { text: ' ships', mark: false },
    ]);
  });
  it('ignores marks out of range, empty or overlapping', () => {
    expect(segments('abc', [[1, 9], [2, 2], [0, 1], [0, 2]])).toEqual([
      { text: 'a', mark: true },
      { text: 'bc', mark: false },
    ]);
  });
});

describe('the date filters', () => {
  it('turn a local day into the ms it starts at (the day after for the end) and back', () => {
    const from = dayStartMs('2026-03-29');
    expect(from).toBe(new Date(2026, 2, 29).getTime());
    const to = dayStartMs('2026-03-29', true);
    expect(to).toBe(new Date(2026, 2, 30).getTime());
    expect(dayValue(from)).toBe('2026-03-29');
    // The exclusive end shows as the last day included.
    expect(dayValue(to, true)).toBe('2026-03-29');
    expect([dayStartMs(''), dayStartMs('29.03.2026'), dayValue(undefined)]).toEqual([undefined, undefined, '']);
    // Month and year ends roll over.
    expect(dayValue(dayStartMs('2026-12-31', true))).toBe('2027-01-01');
  });
});
