import { describe, expect, it } from 'vitest';
import type { ConvSummary, Me } from '@hark/shared/protocol';
import { attentionCount, isOverdue, listView, step, unreadCounts, viewsFor } from './inbox';

const me: Me = { id: 'op1', email: 'a@x', name: 'Ana', role: 'operator', capacity: 3, sites: ['s1'], teams: [], status: 'online' };
const c = (id: string, extra: Partial<ConvSummary>): ConvSummary => ({
  id,
  site: 's1',
  status: 'open',
  visitor: { id: `v${id}`, verified: false, attrs: {} },
  createdAt: 0,
  ...extra,
});
const convs: Record<string, ConvSummary> = {
  q2: c('q2', { status: 'queued', queuedAt: 200 }),
  q1: c('q1', { status: 'queued', queuedAt: 100 }),
  m1: c('m1', { operator: { id: 'op1', name: 'Ana' } }),
  o1: c('o1', { operator: { id: 'op2', name: 'Bo' } }),
  r1: c('r1', { status: 'resolved', resolvedAt: 5 }),
};

describe('views', () => {
  it('shows the queue oldest first and mine only', () => {
    expect(listView(convs, 'queue', me).map((x) => x.id)).toEqual(['q1', 'q2']);
    expect(listView(convs, 'mine', me).map((x) => x.id)).toEqual(['m1']);
    expect(listView(convs, 'all', me).map((x) => x.id).sort()).toEqual(['m1', 'o1', 'q1', 'q2']);
    expect(listView(convs, 'resolved', me).map((x) => x.id)).toEqual(['r1']);
  });
  it('offers All only to supervisors and admins', () => {
    expect(viewsFor(me)).toEqual(['mine', 'queue', 'resolved']);
    expect(viewsFor({ ...me, role: 'supervisor' })).toContain('all');
  });
  it('counts unread per view and for the title', () => {
    const n = unreadCounts(convs, { m1: 2, o1: 4 }, me);
    expect(n).toEqual({ mine: 2, queue: 2, all: 6, resolved: 0 });
    expect(attentionCount(convs, { m1: 2, o1: 4 }, me)).toBe(4);
  });
  it('counts in the title a chat of mine flagged unanswered even once read, and only while flagged', () => {
    const flagged = (x: ConvSummary) => x.id === 'm1';
    expect(attentionCount(convs, { m1: 0 }, me, flagged)).toBe(3);
    expect(attentionCount(convs, { m1: 2 }, me, flagged)).toBe(4);
    expect(attentionCount(convs, { m1: 0 }, me)).toBe(2);
    // Someone else's flagged chat is not in my title.
    expect(attentionCount(convs, {}, me, (x) => x.id === 'o1')).toBe(2);
  });
});

describe('isOverdue', () => {
  it('flags a visitor waiting past the threshold and nothing else', () => {
    expect(isOverdue(c('x', { waitingSince: 1000 }), 60_000, 61_001)).toBe(true);
    expect(isOverdue(c('x', { waitingSince: 1000 }), 60_000, 60_999)).toBe(false);
    expect(isOverdue(c('x', {}), 60_000, 1e9)).toBe(false);
    expect(isOverdue(c('x', { status: 'queued', queuedAt: 0, waitingSince: 0 }), 60_000, 60_001)).toBe(true);
    // Back in the queue after an answer: waiting for an operator, not for an answer.
    expect(isOverdue(c('x', { status: 'queued', queuedAt: 0 }), 60_000, 1e9)).toBe(false);
    expect(isOverdue(c('x', { status: 'resolved', waitingSince: 0 }), 60_000, 1e9)).toBe(false);
  });
});

describe('step', () => {
  it('wraps around the list', () => {
    const list = listView(convs, 'queue', me);
    expect(step(list, null, 1)).toBe('q1');
    expect(step(list, 'q1', 1)).toBe('q2');
    expect(step(list, 'q2', 1)).toBe('q1');
    expect(step(list, 'q1', -1)).toBe('q2');
    expect(step([], 'q1', 1)).toBeNull();
  });
});
