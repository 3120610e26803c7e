/** Inbox views: which conversations each shows, in which order, and their unread counts. */
import type { ConvSummary, Me, Role } from '@hark/shared/protocol';

export type View = 'mine' | 'queue' | 'all' | 'resolved';
export const VIEWS: readonly View[] = ['mine', 'queue', 'all', 'resolved'];

export function canSupervise(role: Role | undefined): boolean {
  return role === 'admin' || role === 'supervisor';
}

export function viewsFor(me: Me | null): View[] {
  return VIEWS.filter((v) => v !== 'all' || canSupervise(me?.role));
}

export function inView(c: ConvSummary, view: View, me: Me | null): boolean {
  switch (view) {
    case 'mine':
      return c.status === 'open' && !!me && c.operator?.id === me.id;
    case 'queue':
      return c.status === 'queued';
    case 'all':
      return c.status !== 'resolved';
    case 'resolved':
      return c.status === 'resolved';
  }
}

const queuedSince = (c: ConvSummary) => c.queuedAt ?? c.createdAt;
const lastAt = (c: ConvSummary) => c.last?.at ?? c.assignedAt ?? c.createdAt;

/**
 * Queue: oldest waiting first (fairness to visitors). Mine/All: the conversation
 * waiting longest for an answer first, then most recent activity. Resolved: newest first.
 */
export function sortView(list: ConvSummary[], view: View): ConvSummary[] {
  const out = list.slice();
  if (view === 'queue') return out.sort((a, b) => queuedSince(a) - queuedSince(b) || a.id.localeCompare(b.id));
  if (view === 'resolved') return out.sort((a, b) => (b.resolvedAt ?? 0) - (a.resolvedAt ?? 0));
  return out.sort((a, b) => {
    const wa = a.waitingSince ?? Number.POSITIVE_INFINITY;
    const wb = b.waitingSince ?? Number.POSITIVE_INFINITY;
    if (wa !== wb) return wa - wb;
    return lastAt(b) - lastAt(a);
  });
}

export function listView(convs: Record<string, ConvSummary>, view: View, me: Me | null): ConvSummary[] {
  return sortView(
    Object.values(convs).filter((c) => inView(c, view, me)),
    view,
  );
}

/** Unread visitor messages per view; the queue also counts each waiting conversation once. */
export function unreadCounts(convs: Record<string, ConvSummary>, unread: Record<string, number>, me: Me | null): Record<View, number> {
  const out: Record<View, number> = { mine: 0, queue: 0, all: 0, resolved: 0 };
  for (const c of Object.values(convs)) {
    const n = unread[c.id] ?? 0;
    for (const v of VIEWS) {
      if (!inView(c, v, me)) continue;
      out[v] += v === 'queue' ? Math.max(1, n) : n;
    }
  }
  return out;
}

/**
 * The "Unanswered" flag: the visitor's last message has had no operator answer for longer than
 * the site's threshold (`waitingSince`: their first message since the last answer). A chat back
 * in the queue whose visitor was answered waits for an operator, not for an answer: not flagged.
 */
export function isOverdue(c: ConvSummary, thresholdMs: number, now: number): boolean {
  if (c.status === 'resolved') return false;
  return c.waitingSince !== undefined && now - c.waitingSince > thresholdMs;
}

/**
 * The number shown in the tab title: everything that needs this operator. A waiting chat counts
 * once; one of theirs counts its unread messages, and at least once while it is flagged
 * unanswered (read but not answered past the threshold: it still needs them).
 */
export function attentionCount(convs: Record<string, ConvSummary>, unread: Record<string, number>, me: Me | null, overdue: (c: ConvSummary) => boolean = () => false): number {
  let n = 0;
  for (const c of Object.values(convs)) {
    if (c.status === 'queued') n += 1;
    else if (inView(c, 'mine', me)) n += Math.max(unread[c.id] ?? 0, overdue(c) ? 1 : 0);
  }
  return n;
}

/** Moves the selection by `delta` within a list, wrapping; used by the j/k shortcuts. */
export function step(list: ConvSummary[], current: string | null, delta: number): string | null {
  if (list.length === 0) return null;
  const i = current ? list.findIndex((c) => c.id === current) : -1;
  if (i < 0) return (delta > 0 ? list[0] : list[list.length - 1])?.id ?? null;
  return list[(i + delta + list.length) % list.length]?.id ?? null;
}
