/**
 * Routing: one atomic Lua call per decision (store/scripts.ts ROUTE), then the
 * consequences every gateway and client must see: conversation meta, a stream
 * event the visitor sees ("Ana joined"), and doorbells on the site's and the
 * conversation's channels.
 */
import { type OperatorStatus, PRESENCE_TTL_MS } from '@hark/shared';
import type { Connections } from '../redis/client';
import { publish } from '../redis/publish';
import { appendEntry, eventEntry, getMeta } from '../store/conversations';
import { K } from '../store/keys';
import { getOperator } from '../store/operators';

export type RouteState = { state: 'assigned'; op: string } | { state: 'queued'; position: number } | { state: 'resolved' | 'none' | 'notqueued' | 'notopen' | 'taken'; op?: string };

function siteKeys(site: string): string[] {
  return [
    K.siteStatus(site),
    K.siteCap(site),
    K.siteLoad(site),
    K.siteIdle(site),
    K.siteLease(site),
    K.siteOpTeams(site),
    K.siteQueue(site),
    K.siteAssign(site),
    K.siteConvTeam(site),
    K.siteOpen(site),
    K.siteResolved(site),
  ];
}

export class Router {
  constructor(private readonly c: Connections) {}

  private async call(site: string, op: string, ...args: string[]): Promise<string[]> {
    return this.c.cmd.harkRoute(...siteKeys(site), op, String(Date.now()), ...args);
  }

  /** Applies the assignments a drain made, then reports the state of `conv` if given. */
  private async finish(site: string, out: string[], conv?: string): Promise<RouteState> {
    const pairs: [string, string][] = [];
    for (let i = 2; i + 1 < out.length; i += 2) pairs.push([out[i] as string, out[i + 1] as string]);
    for (const [cv, op] of pairs) await this.assigned(site, cv, op, 'assigned');
    if (pairs.length) await publish(this.c, K.siteChannel(site), 'q');
    const state = out[0] ?? 'none';
    if (!conv) return { state: 'none' };
    if (state === 'assigned') return { state, op: out[1] as string };
    if (state === 'queued') return { state, position: Number(out[1]) };
    return { state: state as 'none' };
  }

  /** Records an assignment: meta, the visitor-visible event, doorbells. */
  async assigned(site: string, conv: string, opId: string, event: 'assigned' | 'transferred' | 'reopened'): Promise<void> {
    const op = await getOperator(this.c.cmd, opId);
    const now = Date.now();
    const h: Record<string, string> = { status: 'open', op: opId, opName: op?.name ?? '', assignedAt: String(now) };
    if (op?.avatar) h.opAvatar = op.avatar;
    await this.c.cmd.hset(K.conv(conv), h);
    if (!op?.avatar) await this.c.cmd.hdel(K.conv(conv), 'opAvatar');
    const ref = { id: opId, name: op?.name ?? '', ...(op?.avatar ? { avatar: op.avatar } : {}) };
    const e = eventEntry(conv, event, event === 'transferred' ? { to: ref } : { op: ref });
    await appendEntry(this.c, e, 'other');
    await this.doorbell(site, conv);
  }

  /** Tells every gateway that a conversation changed. */
  async doorbell(site: string, conv: string): Promise<void> {
    await publish(this.c, K.convChannel(conv), 'c');
    await publish(this.c, K.siteChannel(site), `c${conv}`);
  }

  /** Routes a conversation that has its first message: assigns it or queues it. Idempotent. */
  async route(site: string, conv: string, team = ''): Promise<RouteState> {
    const out = await this.call(site, 'route', conv, team);
    const st = await this.finish(site, out, conv);
    if (st.state === 'queued') {
      const m = await getMeta(this.c.cmd, conv);
      if (m && m.status === 'new') {
        await this.c.cmd.hset(K.conv(conv), { status: 'queued', queuedAt: String(Date.now()) });
        await appendEntry(this.c, eventEntry(conv, 'queued', { cid: `sys-queued-${conv}` }), 'other');
      }
      await this.doorbell(site, conv);
      await publish(this.c, K.siteChannel(site), 'q');
    }
    return st;
  }

  async drain(site: string): Promise<void> {
    await this.finish(site, await this.call(site, 'drain'));
  }

  /** Resolves: frees the operator's capacity and drains the queue into it. Returns the operator who had it. */
  async release(site: string, conv: string): Promise<string> {
    const out = await this.call(site, 'release', conv);
    const was = out[1] ?? '';
    await this.finish(site, out);
    await publish(this.c, K.siteChannel(site), 'q');
    return was;
  }

  async take(site: string, conv: string, op: string): Promise<RouteState> {
    const out = await this.call(site, 'take', conv, op);
    if (out[0] === 'assigned' && out[1] === op) {
      const m = await getMeta(this.c.cmd, conv);
      if (m?.op !== op) await this.assigned(site, conv, op, 'assigned');
      await publish(this.c, K.siteChannel(site), 'q');
      return { state: 'assigned', op };
    }
    return { state: (out[0] as 'taken') ?? 'none', op: out[1] ?? '' };
  }

  async transfer(site: string, conv: string, to: { op?: string; team?: string }): Promise<RouteState> {
    const out = await this.call(site, 'transfer', conv, to.op ?? '', to.team ?? '');
    if (out[0] === 'notopen') return { state: 'notopen' };
    if (to.team !== undefined) await this.c.cmd.hset(K.conv(conv), 'team', to.team);
    if (out[0] === 'assigned' && to.op) {
      await this.assigned(site, conv, to.op, 'transferred');
      return { state: 'assigned', op: to.op };
    }
    // Team transfer: the drain may have assigned it to someone in the team.
    const pairs: [string, string][] = [];
    for (let i = 2; i + 1 < out.length; i += 2) pairs.push([out[i] as string, out[i + 1] as string]);
    for (const [cv, op] of pairs) await this.assigned(site, cv, op, cv === conv ? 'transferred' : 'assigned');
    if (out[0] === 'queued') {
      await this.c.cmd.hset(K.conv(conv), { status: 'queued', queuedAt: String(Date.now()) });
      await this.c.cmd.hdel(K.conv(conv), 'op', 'opName', 'opAvatar');
      await this.doorbell(site, conv);
    }
    await publish(this.c, K.siteChannel(site), 'q');
    return out[0] === 'queued' ? { state: 'queued', position: Number(out[1]) } : { state: 'assigned', op: out[1] as string };
  }

  /** Back to the queue at its original place (its operator went away). */
  async requeue(site: string, conv: string): Promise<RouteState> {
    const out = await this.call(site, 'requeue', conv);
    if (out[0] === 'notopen') return { state: 'notopen' };
    if (out[0] === 'queued') {
      await this.c.cmd.hset(K.conv(conv), { status: 'queued' });
      await this.c.cmd.hdel(K.conv(conv), 'op', 'opName', 'opAvatar');
      await this.doorbell(site, conv);
    }
    return this.finish(site, out, conv);
  }

  async reopen(site: string, conv: string, op: string): Promise<void> {
    const out = await this.call(site, 'reopen', conv, op);
    if (out[0] === 'assigned' && out[1] === op) {
      await this.c.cmd.hdel(K.conv(conv), 'resolvedAt');
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
  async renewLease(sites: string[], op: string, now = Date.now()): Promise<void> {
    await Promise.all(sites.map((s) => this.c.cmd.zadd(K.siteLease(s), now + PRESENCE_TTL_MS, op)));
  }
}
