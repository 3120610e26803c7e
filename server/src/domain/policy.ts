/**
 * Who may see and do what: the one place the rules live. Sockets, REST and the
 * live fan-out path all ask here; nothing else decides access.
 *
 * Conversations: an operator may read a conversation of a site they serve when it is
 * waiting (anyone on the site may take it), assigned to them, or joined by them;
 * supervisors and admins may read all of their sites' conversations. Only the assignee,
 * a joined colleague or a supervisor may act on one.
 */
import type { ConvSummary } from '@hark/shared';
import type { ConvMeta } from '../store/conversations';
import type { Operator } from '../store/operators';

export type Who = Pick<Operator, 'id' | 'role' | 'sites'>;
type ConvFacts = Pick<ConvMeta, 'site' | 'status' | 'op' | 'joined'>;

/** Admins serve every site; others, the sites they belong to. */
export function canSeeSite(op: Pick<Operator, 'role' | 'sites'>, site: string): boolean {
  return op.role === 'admin' || op.sites.includes(site);
}

export function isSupervisor(op: Pick<Operator, 'role'>): boolean {
  return op.role === 'admin' || op.role === 'supervisor';
}

/** Whether an operator may read a conversation (any state). */
export function canRead(op: Who, m: ConvFacts): boolean {
  if (!canSeeSite(op, m.site)) return false;
  if (isSupervisor(op)) return true;
  return m.status === 'queued' || m.status === 'new' || m.op === op.id || m.joined.includes(op.id);
}

/**
 * Whether an operator's inbox shows a conversation as the live fan-out holds it
 * (unresolved ones): waiting ones to everyone on the site, assigned ones to the
 * assignee and supervisors.
 */
export function canSeeLive(op: Who, s: Pick<ConvSummary, 'site' | 'status' | 'operator'>): boolean {
  if (!canSeeSite(op, s.site)) return false;
  if (isSupervisor(op)) return true;
  return s.status === 'queued' || s.operator?.id === op.id;
}

/** In a list of past conversations an operator sees their own; supervisors, all of their sites'. */
export function canList(op: Who, m: ConvFacts): boolean {
  if (!canRead(op, m)) return false;
  return isSupervisor(op) || m.status !== 'resolved' || m.op === op.id;
}

/** May write messages into it (the assignee or a joined colleague; supervisors join first). */
export function canWrite(op: Who, m: Pick<ConvMeta, 'op' | 'joined'>): boolean {
  return m.op === op.id || m.joined.includes(op.id);
}

/** May resolve, transfer or mark it read: the assignee, a joined colleague, or a supervisor. */
export function canAct(op: Who, m: Pick<ConvMeta, 'op' | 'joined'>): boolean {
  return canWrite(op, m) || isSupervisor(op);
}

/** May reopen a resolved conversation: who had it, or a supervisor. */
export function canReopen(op: Who, m: Pick<ConvMeta, 'op'>): boolean {
  return m.op === op.id || isSupervisor(op);
}

/** May join a conversation to write in it beside its assignee. */
export function canJoin(op: Who): boolean {
  return isSupervisor(op);
}

/** May see another operator's numbers. */
export function oversees(me: Who, other: Pick<Operator, 'id' | 'sites'>): boolean {
  if (me.id === other.id) return true;
  if (me.role === 'admin') return true;
  return me.role === 'supervisor' && other.sites.some((s) => me.sites.includes(s));
}

/** Saved replies of a site are edited by admins and the site's supervisors. */
export function mayEditSiteReplies(me: Who, site: string): boolean {
  return me.role === 'admin' || (isSupervisor(me) && canSeeSite(me, site));
}

/** A visitor acts only on their own conversations of the site they connected to. */
export function visitorOwns(visitor: { id: string; site: string }, m: Pick<ConvMeta, 'visitor' | 'site'>): boolean {
  return m.visitor === visitor.id && m.site === visitor.site;
}
