import { describe, expect, it } from 'vitest';
import { mapLimit } from './async';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('mapLimit', () => {
  it('keeps the items order in its results and never runs more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const out = await mapLimit([5, 1, 4, 2, 3, 0, 2], 3, async (ms, i) => {
      started.push(i);
      most = Math.max(most, ++running);
      await tick(ms);
      running--;
      return ms * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30, 0, 20]);
    expect(most).toBe(3);
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('settles only once every call has ended, then rejects with the picked error', async () => {
    const ended: number[] = [];
    const p = mapLimit(
      [0, 1, 2, 3],
      4,
      async (i) => {
        await tick(i === 3 ? 30 : 1);
        ended.push(i);
        if (i === 0) throw new Error('first');
        if (i === 2) throw new Error('chosen');
        return i;
      },
      (errors) => errors.find((e) => (e as Error).message === 'chosen'),
    );
    await expect(p).rejects.toThrow('chosen');
    expect(ended.sort()).toEqual([0, 1, 2, 3]);
  });

  it('a failed call stops its lane and the others take the items left', async () => {
    const seen: number[] = [];
    await expect(
      mapLimit([0, 1, 2, 3, 4, 5], 2, async (i) => {
        seen.push(i);
        await tick(1);
        if (i === 0) throw new Error('x');
        return i;
      }),
    ).rejects.toThrow('x');
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('does nothing for no items', async () => {
    expect(await mapLimit([], 8, async () => 1)).toEqual([]);
  });
});
