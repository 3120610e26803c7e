import { describe, expect, it } from 'vitest';
import { FIRST_WORDS_MS, Wordless } from './notify';

describe('Wordless (a new chat notified before its first words)', () => {
  it('lets the first words complete the notification once, within the window', () => {
    const w = new Wordless();
    w.mark('c1', 1000);
    expect(w.take('c2', 1500)).toBe(false);
    expect(w.take('c1', 1000 + FIRST_WORDS_MS)).toBe(true);
    // The next message is a message of its own.
    expect(w.take('c1', 1000 + FIRST_WORDS_MS)).toBe(false);
  });

  it('lets words that come too late notify on their own, and forgets old marks', () => {
    const w = new Wordless();
    w.mark('c1', 0);
    expect(w.take('c1', FIRST_WORDS_MS + 1)).toBe(false);
    w.mark('c2', 0);
    w.mark('c3', FIRST_WORDS_MS + 1);
    // c2 was dropped when c3 was marked (no unbounded growth); c3 still waits.
    expect(w.take('c2', 1)).toBe(false);
    expect(w.take('c3', FIRST_WORDS_MS + 2)).toBe(true);
  });
});
