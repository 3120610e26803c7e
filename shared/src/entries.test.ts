import { describe, expect, it } from 'vitest';
import { insertEntry, toVisitorEntry } from './entries';
import { compareStreamIds, randomId } from './ids';
import type { Entry } from './protocol';

const e = (id: string, extra: Partial<Entry> = {}): Entry => ({ id, conv: 'c', at: 0, kind: 'msg', from: 'visitor', text: id, ...extra });

describe('compareStreamIds', () => {
  it('orders by milliseconds then sequence, numerically', () => {
    expect(compareStreamIds('9-0', '10-0')).toBeLessThan(0);
    expect(compareStreamIds('10-2', '10-10')).toBeLessThan(0);
    expect(compareStreamIds('10-1', '10-1')).toBe(0);
    expect(compareStreamIds('1700000000001-0', '1700000000000-5')).toBeGreaterThan(0);
  });

  it('agrees with a numeric comparison on random ids, both ways round', () => {
    const part = (i: number) => String([0, 1, 9, 10, 99, 1700000000000, 18446744073709551615n][i % 7]);
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) for (let j = 0; j < 7; j++) ids.push(`${part(i)}-${part(j)}`);
    for (let k = 0; k < 200; k++) ids.push(`${Math.floor(Math.random() * 1e13)}-${Math.floor(Math.random() * 1e3)}`);
    const ref = (a: string, b: string) => {
      const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
      const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
      return am !== bm ? (am < bm ? -1 : 1) : as !== bs ? (as < bs ? -1 : 1) : 0;
    };
    for (const a of ids) for (const b of ids) expect(Math.sign(compareStreamIds(a, b)), `${a} vs ${b}`).toBe(ref(a, b));
  });
});

describe('insertEntry', () => {
  it('keeps stream order and ignores an entry it already has', () => {
    let list: Entry[] = [];
    for (const id of ['3-0', '1-0', '2-0', '2-0', '10-0', '1-1']) list = insertEntry(list, e(id));
    expect(list.map((x) => x.id)).toEqual(['1-0', '1-1', '2-0', '3-0', '10-0']);
    const same = insertEntry(list, e('3-0'));
    expect(same).toBe(list);
  });
});

describe('toVisitorEntry', () => {
  it('never lets an internal note through, and strips operator-only fields', () => {
    expect(toVisitorEntry(e('1-0', { kind: 'note', text: 'secret' }))).toBeNull();
    expect(toVisitorEntry(e('2-0', { kind: 'event', event: 'rated', rating: 'bad', comment: 'meh' }))).toBeNull();
    const t = toVisitorEntry(e('3-0', { kind: 'event', event: 'transferred', from: 'system', to: { id: 'o', name: 'Ana' }, team: 'billing', comment: 'x' }));
    expect(t).toEqual({ id: '3-0', conv: 'c', at: 0, kind: 'event', from: 'system', event: 'transferred', to: { id: 'o', name: 'Ana' } });
    const op = toVisitorEntry(e('4-0', { from: 'operator', cid: 'opcid123', op: { id: 'o', name: 'Ana' } }));
    expect(op?.cid).toBeUndefined();
  });
});

describe('randomId', () => {
  it('is url-safe and of the asked length', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => randomId(32)));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });
});
