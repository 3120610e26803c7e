import { describe, expect, it } from 'vitest';
import type { ConvSummary, Entry, Me } from '@hark/shared/protocol';
import { isOverdue } from './inbox';
import { applyFrame, initialState, type State } from './state';

const me: Me = { id: 'op1', email: 'a@x', name: 'Ana', role: 'operator', capacity: 3, sites: ['s1'], teams: [], status: 'online' };
const conv = (id: string, extra: Partial<ConvSummary> = {}): ConvSummary => ({
  id,
  site: 's1',
  status: 'open',
  operator: { id: 'op1', name: 'Ana' },
  visitor: { id: 'v1', verified: false, attrs: {} },
  createdAt: 1,
  ...extra,
});
const msg = (id: string, c = 'c1', from: Entry['from'] = 'visitor'): Entry => ({ id, conv: c, at: 1, kind: 'msg', from, text: id });

function live(): State {
  let s = initialState();
  s = applyFrame(s, { type: 'welcome', me, convs: [conv('c1'), conv('c2')], operators: [] }).state;
  return applyFrame(s, { type: 'synced' }).state;
}

describe('applyFrame', () => {
  it("drops a conversation whose visitor was erased (the gateway's resolved summary without a visitor), with what it held", () => {
    let s = live();
    s = applyFrame(s, { type: 'entry', entry: msg('1-0') }, 'c1').state;
    expect(s.entries.c1?.length).toBe(1);
    s = applyFrame(s, { type: 'conv', conv: conv('c1', { status: 'resolved', visitor: { id: '-', verified: false, attrs: {} } }) }, 'c1').state;
    expect(s.convs.c1).toBeUndefined();
    expect(s.entries.c1).toBeUndefined();
    expect(s.lastIds.c1).toBeUndefined();
    expect(s.convs.c2).toBeDefined();
  });

  it('keeps entries ordered and de-duplicated, and advances the resume cursor', () => {
    let s = live();
    for (const id of ['3-0', '1-0', '2-0', '3-0', '1-0']) s = applyFrame(s, { type: 'entry', entry: msg(id) }, 'c1').state;
    expect(s.entries.c1?.map((e) => e.id)).toEqual(['1-0', '2-0', '3-0']);
    expect(s.lastIds.c1).toBe('3-0');
    s = applyFrame(s, { type: 'history', conv: 'c1', entries: [msg('0-5'), msg('2-0'), msg('10-0')], more: false }).state;
    expect(s.entries.c1?.map((e) => e.id)).toEqual(['0-5', '1-0', '2-0', '3-0', '10-0']);
    expect(s.lastIds.c1).toBe('10-0');
    expect(s.loaded.c1).toBe(true);
  });

  it('remembers whether older entries exist beyond the oldest held, page by page', () => {
    let s = live();
    // The latest page of a long conversation: more before it.
    s = applyFrame(s, { type: 'history', conv: 'c1', entries: [msg('5-0'), msg('6-0')], more: true }).state;
    expect(s.more.c1).toBe(true);
    // The latest page again (a reconnect's preload) says nothing new about what is older than 5-0.
    s = applyFrame(s, { type: 'history', conv: 'c1', entries: [msg('6-0'), msg('7-0')], more: false }).state;
    expect(s.more.c1).toBe(true);
    // The page before 5-0 reaches the start.
    s = applyFrame(s, { type: 'history', conv: 'c1', entries: [msg('3-0'), msg('4-0')], more: false }).state;
    expect(s.more.c1).toBe(false);
    expect(s.entries.c1?.map((e) => e.id)).toEqual(['3-0', '4-0', '5-0', '6-0', '7-0']);
  });

  it('counts unread visitor messages outside the focused conversation and signals them', () => {
    let s = live();
    const r1 = applyFrame(s, { type: 'entry', entry: msg('1-0', 'c2') }, 'c1');
    expect(r1.effects.newMessage?.id).toBe('1-0');
    s = r1.state;
    const r2 = applyFrame(s, { type: 'entry', entry: msg('2-0', 'c1') }, 'c1');
    expect(r2.effects.newMessage).toBeUndefined();
    s = applyFrame(r2.state, { type: 'entry', entry: msg('3-0', 'c1', 'operator') }, 'c1').state;
    expect(s.unread).toMatchObject({ c1: 0, c2: 1 });
  });

  it('keeps the unanswered clock as the gateway does: a follow-up after an answer starts it again, an answer stops it, in any console', () => {
    let s = live();
    const at = (id: string, t: number, from: Entry['from'] = 'visitor', kind: Entry['kind'] = 'msg'): Entry => ({ ...msg(id, 'c1', from), at: t, kind });
    s = applyFrame(s, { type: 'entry', entry: at('1-0', 1000) }).state;
    expect(s.convs.c1?.waitingSince).toBe(1000);
    // A second message before any answer: the visitor has waited since the first.
    s = applyFrame(s, { type: 'entry', entry: at('2-0', 5000) }).state;
    expect(s.convs.c1?.waitingSince).toBe(1000);
    // A note is not an answer.
    s = applyFrame(s, { type: 'entry', entry: at('3-0', 6000, 'operator', 'note') }).state;
    expect(s.convs.c1?.waitingSince).toBe(1000);
    expect(s.unread.c1).toBe(2);
    // The answer, written in another console: the flag and the unread count go here too.
    s = applyFrame(s, { type: 'entry', entry: at('4-0', 7000, 'operator') }).state;
    expect(s.convs.c1?.waitingSince).toBeUndefined();
    expect(s.unread.c1).toBe(0);
    // A follow-up from the answered visitor waits again, from its own time.
    s = applyFrame(s, { type: 'entry', entry: at('5-0', 9000) }).state;
    expect(s.convs.c1?.waitingSince).toBe(9000);
    expect(isOverdue(s.convs.c1 as ConvSummary, 3000, 12_001)).toBe(true);
    // An older entry arriving late (a catch-up) does not move the clock.
    s = applyFrame(s, { type: 'entry', entry: at('4-5', 8000, 'operator') }).state;
    expect(s.convs.c1?.waitingSince).toBe(9000);
    // The gateway's own summary is kept as it comes.
    s = applyFrame(s, { type: 'conv', conv: conv('c1', { waitingSince: 8500, last: at('5-0', 9000) }) }).state;
    expect(s.convs.c1?.waitingSince).toBe(8500);
  });

  it('signals a new chat once when a conversation enters the queue, not on catch-up', () => {
    let s = initialState();
    s = applyFrame(s, { type: 'welcome', me, convs: [], operators: [] }).state;
    expect(applyFrame(s, { type: 'conv', conv: conv('c9', { status: 'queued', operator: null }) }).effects.newChat).toBeUndefined();
    s = applyFrame(s, { type: 'synced' }).state;
    const r = applyFrame(s, { type: 'conv', conv: conv('c9', { status: 'queued', operator: null }) });
    expect(r.effects.newChat?.id).toBe('c9');
    // Taking it myself is not news.
    expect(applyFrame(r.state, { type: 'conv', conv: conv('c9') }).effects.newChat).toBeUndefined();
  });

  it('counts a first message known only from the summary once, and folds it into the new-chat signal', () => {
    const s = live();
    const first = msg('7-0', 'c5');
    const r = applyFrame(s, { type: 'conv', conv: conv('c5', { status: 'queued', operator: null, last: first }) }, null);
    expect(r.effects.newChat?.id).toBe('c5');
    expect(r.effects.newMessage).toBeUndefined();
    expect(r.state.unread.c5).toBe(1);
    expect(r.state.lastIds.c5).toBe('7-0');
    // The same message arriving as an entry afterwards changes nothing.
    const again = applyFrame(r.state, { type: 'entry', entry: first }, null);
    expect(again.state).toBe(r.state);
    expect(again.effects.newMessage).toBeUndefined();
  });

  it('lets a chat handed to a colleague leave an operator\'s console, and keeps it for a supervisor', () => {
    let s = live();
    s = applyFrame(s, { type: 'entry', entry: msg('1-0') }).state;
    const away = conv('c1', { operator: { id: 'op2', name: 'Bo' } });
    const r = applyFrame(s, { type: 'conv', conv: away });
    expect(r.effects.gone).toEqual({ conv: 'c1', to: 'Bo' });
    expect(r.state.convs.c1).toBeUndefined();
    expect(r.state.entries.c1).toBeUndefined();
    expect(r.state.convs.c2).toBeDefined();
    // A chat taken from the queue by a colleague leaves too; one never held is no news.
    s = applyFrame(r.state, { type: 'conv', conv: conv('c3', { status: 'queued', operator: null }) }).state;
    expect(applyFrame(s, { type: 'conv', conv: conv('c3', { operator: { id: 'op2', name: 'Bo' } }) }).state.convs.c3).toBeUndefined();
    expect(applyFrame(s, { type: 'conv', conv: conv('c4', { operator: { id: 'op2', name: 'Bo' } }) }).effects.gone).toBeUndefined();
    // A supervisor keeps following it (the gateway goes on telling them: resolved, reopened).
    let sup = applyFrame(initialState(), { type: 'welcome', me: { ...me, role: 'supervisor' }, convs: [conv('c1')], operators: [] }).state;
    sup = applyFrame(sup, { type: 'conv', conv: away }).state;
    sup = applyFrame(sup, { type: 'conv', conv: { ...away, status: 'resolved', resolvedAt: 5 } }).state;
    expect(sup.convs.c1?.status).toBe('resolved');
  });

  it('keeps the latest visitor seen marker only', () => {
    let s = live();
    s = applyFrame(s, { type: 'seen', conv: 'c1', by: 'visitor', id: '5-0' }).state;
    s = applyFrame(s, { type: 'seen', conv: 'c1', by: 'visitor', id: '4-0' }).state;
    s = applyFrame(s, { type: 'seen', conv: 'c1', by: 'operator', id: '9-0' }).state;
    expect(s.seenByVisitor.c1).toBe('5-0');
  });

  it('updates the visitor of a conversation live and my status from presence', () => {
    let s = live();
    s = applyFrame(s, { type: 'visitor', conv: 'c1', visitor: { id: 'v1', verified: true, attrs: {}, page: { url: 'https://a/b', title: 'B' } } }).state;
    expect(s.convs.c1?.visitor.page?.title).toBe('B');
    s = applyFrame(s, { type: 'presence', operator: { id: 'op1', name: 'Ana', status: 'away', load: 1, capacity: 3, sites: ['s1'] } }).state;
    expect(s.me?.status).toBe('away');
  });
});
