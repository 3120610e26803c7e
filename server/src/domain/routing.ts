/**
 * Routing: one atomic Lua call per decision (store/routing.ts), then the
 * consequences every gateway and client must see: conversation meta, a stream
 * event the visitor sees ("Ana joined"), doorbells on the site's and the
 * conversation's channels, and the domain event.
 */
import type { OperatorStatus } from '@hark/shared';
import { appendEntry, delMeta, eventEntry, getMeta, setMeta } from '../store/conversations';
import { getOperator } from '../store/operators';
import { clearConvTeam, renewLease, routeOp } from '../store/routing';
import { convSignal, siteSignal } from '../store/signals';
import type { Deps } from './deps';

export type RouteState = { state: 'assigned'; op: string } | { state: 'queued'; position: number } | { state: 'resolved' | 'none' | 'notqueued' | 'notopen' | 'taken'; op?: string };

/** Conversation/operator pairs a drain assigned (flat after the state and value). */
function drained(out: string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 2; i + 1 < out.length; i += 2) pairs.push([out[i] as string, out[i + 1] as string]);
  return pairs;
}

export class Router {
  constructor(private readonly d: Deps) {}

  private call(site: string, op: string, ...args: string[]): Promise<string[]> {
    return routeOp(this.d.c, site, op, ...args);
  }

  /** Applies the assignments a drain made, then reports the state of `conv` if given. */
  private async finish(site: string, out: string[], conv?: string): Promise<RouteState> {
    const pairs = drained(out);
    for (const [cv, op] of pairs) await this.assigned(site, cv, op, 'assigned');
    if (pairs.length) await siteSignal(this.d.c, site, { t: 'queue' });
    const state = out[0] ?? 'none';
    if (!conv) return { state: 'none' };
    if (state === 'assigned') return { state, op: out[1] as string };
    if (state === 'queued') return { state, position: Number(out[1]) };
    return { state: state as 'none' };
  }

  /** Records an assignment: meta, the visitor-visible event, doorbells, the domain event. */
  async assigned(site: string, conv: string, opId: string, event: 'assigned' | 'transferred' | 'reopened', from?: string): Promise<void> {
    const { c } = this.d;
    const op = await getOperator(c.cmd, opId);
    const now = Date.now();
    const h: Record<string, string> = { status: 'open', op: opId, opName: op?.name ?? '', assignedAt: String(now) };
    if (op?.avatar) h.opAvatar = op.avatar;
    await setMeta(c.cmd, conv, h);
    if (!op?.avatar) await delMeta(c.cmd, conv, 'opAvatar');
    const ref = { id: opId, name: op?.name ?? '', ...(op?.avatar ? { avatar: op.avatar } : {}) };
    const e = eventEntry(conv, event, event === 'transferred' ? { to: ref } : { op: ref });
    const r = await appendEntry(c, e, 'other');
    await this.doorbell(site, conv);
    const id = `${event}:${conv}:${r.id}`;
    if (event === 'transferred') await this.d.emit({ type: 'conversation.transferred', site, conv, to: opId, ...(from ? { from } : {}) }, id);
    else if (event === 'reopened') await this.d.emit({ type: 'conversation.reopened', site, conv, op: opId }, id);
    else await this.d.emit({ type: 'conversation.assigned', site, conv, op: opId }, id);
  }

  /** Tells the site's gateways that an operator's presence (status, load) changed. */
  async presenceDoorbell(site: string, op: string): Promise<void> {
    await siteSignal(this.d.c, site, { t: 'presence', op });
  }

  /** Tells every gateway that a conversation changed. */
  async doorbell(site: string, conv: string): Promise<void> {
    await convSignal(this.d.c, conv, { t: 'changed' });
    await siteSignal(this.d.c, site, { t: 'conv-changed', conv });
  }

  /** Routes a conversation that has its first message: assigns it or queues it. Idempotent. */
  async route(site: string, conv: string, team = ''): Promise<RouteState> {
    const out = await this.call(site, 'route', conv, team);
    const st = await this.finish(site, out, conv);
    if (st.state === 'queued') {
      const m = await getMeta(this.d.c.cmd, conv);
      if (m && m.status === 'new') {
        await setMeta(this.d.c.cmd, conv, { status: 'queued', queuedAt: String(Date.now()) });
        await appendEntry(this.d.c, eventEntry(conv, 'queued', { cid: `sys-queued-${conv}` }), 'other');
        await this.d.emit({ type: 'conversation.queued', site, conv }, `queued:${conv}`);
      }
      await this.doorbell(site, conv);
      await siteSignal(this.d.c, site, { t: 'queue' });
    }
    return st;
  }

  /** Resolves: frees the operator's capacity and drains the queue into it. Returns the operator who had it. */
  async release(site: string, conv: string): Promise<string> {
    const out = await this.call(site, 'release', conv);
    const was = out[1] ?? '';
    await this.finish(site, out);
    await siteSignal(this.d.c, site, { t: 'queue' });
    return was;
  }

  async take(site: string, conv: string, op: string): Promise<RouteState> {
    const out = await this.call(site, 'take', conv, op);
    if (out[0] === 'assigned' && out[1] === op) {
      const m = await getMeta(this.d.c.cmd, conv);
      if (m?.op !== op) await this.assigned(site, conv, op, 'assigned');
      await siteSignal(this.d.c, site, { t: 'queue' });
      return { state: 'assigned', op };
    }
    return { state: (out[0] as 'taken') ?? 'none', op: out[1] ?? '' };
  }

  async transfer(site: string, conv: string, to: { op?: string; team?: string }, from?: string): Promise<RouteState> {
    const { c } = this.d;
    const out = await this.call(site, 'transfer', conv, to.op ?? '', to.team ?? '');
    if (out[0] === 'notopen') return { state: 'notopen' };
    if (to.team !== undefined) await setMeta(c.cmd, conv, { team: to.team });
    if (out[0] === 'assigned' && to.op) {
      await this.assigned(site, conv, to.op, 'transferred', from);
      return { state: 'assigned', op: to.op };
    }
    // Team transfer: the drain may have assigned it to someone in the team.
    for (const [cv, op] of drained(out)) await this.assigned(site, cv, op, cv === conv ? 'transferred' : 'assigned', cv === conv ? from : undefined);
    if (out[0] === 'queued') {
      await setMeta(c.cmd, conv, { status: 'queued', queuedAt: String(Date.now()) });
      await delMeta(c.cmd, conv, 'op', 'opName', 'opAvatar');
      await this.doorbell(site, conv);
      await this.d.emit({ type: 'conversation.transferred', site, conv, team: to.team ?? '', ...(from ? { from } : {}) });
    }
    await siteSignal(c, site, { t: 'queue' });
    return out[0] === 'queued' ? { state: 'queued', position: Number(out[1]) } : { state: 'assigned', op: out[1] as string };
  }

  /** Forgets the routing team of a conversation (an offline one taken by hand). */
  clearTeam(site: string, conv: string): Promise<void> {
    return clearConvTeam(this.d.c, site, conv);
  }

  /** Back to the queue at its original place (its operator went away). */
  async requeue(site: string, conv: string): Promise<RouteState> {
    const out = await this.call(site, 'requeue', conv);
    if (out[0] === 'notopen') return { state: 'notopen' };
    if (out[0] === 'queued') {
      await setMeta(this.d.c.cmd, conv, { status: 'queued' });
      await delMeta(this.d.c.cmd, conv, 'op', 'opName', 'opAvatar');
      await this.doorbell(site, conv);
      await this.d.emit({ type: 'conversation.queued', site, conv });
    }
    return this.finish(site, out, conv);
  }

  async reopen(site: string, conv: string, op: string): Promise<void> {
    const out = await this.call(site, 'reopen', conv, op);
    if (out[0] === 'assigned' && out[1] === op) {
      await delMeta(this.d.c.cmd, conv, 'resolvedAt');
      await this.assigned(site, conv, op, 'reopened');
    }
  }

  /** Sets an operator's routing state on a site and gives them waiting chats if they are now free. */
  async setOperator(site: string, op: { id: string; status: OperatorStatus; capacity: number; teams: string[] }, leaseUntil?: number): Promise<void> {
    const out = await this.call(site, 'setop', op.id, op.status, String(op.capacity), `,${op.teams.join(',')},`, leaseUntil ? String(leaseUntil) : '');
    await this.finish(site, out);
  }

  async removeOperator(site: string, op: string): Promise<void> {
    await this.call(site, 'removeop', op);
  }

  /** Renews an operator's presence lease on their sites (pipelined; called by the gateway holding their sockets). */
  renewLease(sites: string[], op: string, now = Date.now()): Promise<void> {
    return renewLease(this.d.c, sites, op, now);
  }
}
