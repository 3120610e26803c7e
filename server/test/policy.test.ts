/** The access policy by itself (domain/policy.ts): the one place the rules live. */
import { describe, expect, it } from 'vitest';
import { canAct, canJoin, canList, canRead, canReopen, canSeeLive, canSeeSite, canWrite, isSupervisor, mayEditSiteReplies, oversees, visitorOwns } from '../src/domain/policy';

const op = (id: string, role: 'operator' | 'supervisor' | 'admin', sites: string[]) => ({ id, role, sites });
const ana = op('ana', 'operator', ['a']);
const ben = op('ben', 'operator', ['a', 'b']);
const sue = op('sue', 'supervisor', ['a']);
const adm = op('adm', 'admin', []);
const conv = (over: Partial<{ site: string; status: 'new' | 'queued' | 'open' | 'resolved'; op?: string; joined: string[] }> = {}) => ({ site: 'a', status: 'open' as const, op: 'ana', joined: [] as string[], ...over });

describe('policy', () => {
  it('sites: admins serve every site, others their own', () => {
    expect(canSeeSite(adm, 'z')).toBe(true);
    expect(canSeeSite(ana, 'a')).toBe(true);
    expect(canSeeSite(ana, 'b')).toBe(false);
    expect(isSupervisor(sue) && isSupervisor(adm) && !isSupervisor(ana)).toBe(true);
  });

  it('reading a conversation: waiting ones to everyone on the site; assigned ones to the assignee, joined colleagues and supervisors', () => {
    expect(canRead(ben, conv({ status: 'queued', op: undefined }))).toBe(true);
    expect(canRead(ben, conv({ status: 'new', op: undefined }))).toBe(true);
    expect(canRead(ben, conv())).toBe(false);
    expect(canRead(ana, conv())).toBe(true);
    expect(canRead(ben, conv({ joined: ['ben'] }))).toBe(true);
    expect(canRead(sue, conv())).toBe(true);
    expect(canRead(sue, conv({ site: 'b' }))).toBe(false);
    expect(canRead(adm, conv({ site: 'b' }))).toBe(true);
    // Not on the site: nothing, whatever else holds.
    expect(canRead(op('ana', 'operator', ['b']), conv())).toBe(false);
  });

  it('the live fan-out shows the same: waiting to all, assigned to the assignee and supervisors', () => {
    const s = (status: 'queued' | 'open', operator: { id: string } | null) => ({ site: 'a', status, operator: operator ? { id: operator.id, name: '' } : null });
    expect(canSeeLive(ben, s('queued', null))).toBe(true);
    expect(canSeeLive(ben, s('open', ana))).toBe(false);
    expect(canSeeLive(ana, s('open', ana))).toBe(true);
    expect(canSeeLive(sue, s('open', ana))).toBe(true);
    expect(canSeeLive(op('x', 'operator', ['b']), s('queued', null))).toBe(false);
  });

  it('lists: an operator sees resolved conversations only of their own; supervisors all of their sites', () => {
    expect(canList(ben, conv({ status: 'resolved', op: 'ana' }))).toBe(false);
    expect(canList(ana, conv({ status: 'resolved' }))).toBe(true);
    expect(canList(sue, conv({ status: 'resolved' }))).toBe(true);
  });

  it('writing and acting: the assignee or a joined colleague writes; supervisors act (resolve, transfer) and join', () => {
    expect(canWrite(ana, conv())).toBe(true);
    expect(canWrite(sue, conv())).toBe(false);
    expect(canWrite(sue, conv({ joined: ['sue'] }))).toBe(true);
    expect(canAct(sue, conv())).toBe(true);
    expect(canAct(ben, conv())).toBe(false);
    expect(canJoin(sue) && canJoin(adm) && !canJoin(ana)).toBe(true);
    expect(canReopen(ana, conv()) && canReopen(sue, conv()) && !canReopen(ben, conv())).toBe(true);
  });

  it('numbers and saved replies: supervisors oversee operators of their sites; admins everyone', () => {
    expect(oversees(ana, ana)).toBe(true);
    expect(oversees(ana, ben)).toBe(false);
    expect(oversees(sue, ben)).toBe(true);
    expect(oversees(sue, op('c', 'operator', ['c']))).toBe(false);
    expect(oversees(adm, op('c', 'operator', ['c']))).toBe(true);
    expect(mayEditSiteReplies(sue, 'a') && !mayEditSiteReplies(sue, 'b') && !mayEditSiteReplies(ana, 'a')).toBe(true);
  });

  it('visitors act only on their own conversations of the site they connected to', () => {
    expect(visitorOwns({ id: 'v', site: 'a' }, { visitor: 'v', site: 'a' })).toBe(true);
    expect(visitorOwns({ id: 'v', site: 'b' }, { visitor: 'v', site: 'a' })).toBe(false);
    expect(visitorOwns({ id: 'w', site: 'a' }, { visitor: 'v', site: 'a' })).toBe(false);
  });
});
