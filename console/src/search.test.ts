import { describe, expect, it } from 'vitest';
import { segments } from './search';

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
