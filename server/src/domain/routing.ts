/**
 * Routing: one atomic Lua call per decision (store/routing.ts), then the
 * consequences every gateway and client must see: conversation meta, a stream
 * event the visitor sees ("Ana joined"), doorbells on the site's and the
 * conversation's channels, and the domain event.
 */
import { type OperatorStatus, randomId } from '@hark/shared';
import { appendEntry, delMeta, eventEntry, getMeta, queueMeta, setMeta, siteAssignments } from '../store/conversations';
import { getOperator } from '../store/operators';
import { listSites } from '../store/sites';
import { assignmentOf, clearConvTeam, hasSeat, putSeat, releaseSeat, renewLease, reserveSeat, routeOp, seatCount, seatCounts, seatsOf, siteSeats, siteStatuses } from '../store/routing';
import { convSignal, siteSignal } from '../store/signals';
import type { Deps } from './deps';

export type RouteState = { state: 'assigned'; op: string } | { state: 'queued'; position: number } | { state: 'resolved' | 'none' | 'notqueued' | 'notopen' | 'taken'; op?: string };

/** A seat reservation older than this is refused by the site's commit (the gateway stalled between the two steps). */
export const SEAT_INFLIGHT_MS = 10_000;
/**
 * The repair drops a ledger entry backing no assignment only once it is this old; so longer than
 * SEAT_INFLIGHT_MS by the clock skew between gateways that is tolerated (50 s).
 */
export const SEAT_REPAIR_GRACE_MS = 60_000;
/** How often the seat-repair job reconciles the ledgers with the sites' assignments. */
export const SEAT_REPAIR_EVERY_MS = 30_000;
/** Assignments one drain makes at most (the rest waits for the next drain: a resolve, a status change, a new chat). */
export const DRAIN_MAX_ASSIGNMENTS = 200;
/** The load given to the site's pick for an operator whose ledger just said full. */
const FULL = 1e9;

function toState(out: string[]): RouteState {
  const state = out[0] ?? 'none';
  if (state === 'assigned') return { state, op: out[1] as string };
  if (state === 'queued') return { state, position: Number(out[1]) };
  return { state: state as 'none' };
}

/** A drain pass requested of a site (see Router.drain). */
interface DrainTurn {
  wake: boolean;
  done: Promise<[string, string][]>;
  settle: { res: (v: [string, string][]) => void; rej: (e: unknown) => void };
}

/** A pass to run after the current one; its `done` settles with that pass. */
function turn(wake: boolean): DrainTurn {
  let settle!: DrainTurn['settle'];
  const t: DrainTurn = { wake, done: new Promise((res, rej) => (settle = { res, rej })), settle };
  // Handled here too: a pass nobody waits for (a wake, a follow-up) must not be an unhandled rejection.
  t.done.catch(() => {});
  return t;
}

export class Router {
  /** Sites with a drain pass running on this gateway, and the pass requested after it (if any). */
  private readonly draining = new Map<string, { next: DrainTurn | null }>();

  constructor(private readonly d: Deps) {}

  private call(site: string, op: string, ...args: string[]): Promise<string[]> {
    return routeOp(this.d.c, site, op, ...args);
  }

  /** A seat the operator asked for by an explicit act (take, a transfer to them, reopen): counted, never refused. */
  private async forcedSeat(op: string, site: string, conv: string): Promise<string> {
    const token = randomId(16);
    await reserveSeat(this.d.c, op, { token, site, conv, at: Date.now() }, 0, true);
    return token;
  }

  /**
   * Gives waiting conversations of a site to operators with a free seat, oldest first, until
   * nobody can take the next one: per assignment, the site proposes a pair (with the operators'
   * operator-wide loads), the operator's ledger reserves a seat (refused when full), and the
   * site commits it if nothing changed meanwhile, else the seat is given back. Safe with any
   * number of gateways draining at once: each step is atomic in its own slot and a reservation
   * backs at most one assignment. `transferred`: that conversation's assignment is reported as
   * a transfer from `from`.
   *
   * A reservation that lost its commit may have made a drain elsewhere see its operator full and
   * stop: once it is given back, the operator's other sites are drained too (`wake`, one level
   * deep). Whatever wake-up is still missed, the seat-repair job drains every site each pass.
   */
  drain(site: string, transferred?: { conv: string; from?: string }, wake = true, wait = true): Promise<[string, string][]> {
    // A transfer's drain reports that conversation's assignment as a transfer: its own pass.
    if (transferred) return this.drainPass(site, transferred, wake);
    const s = this.draining.get(site);
    if (!s) {
      this.draining.set(site, { next: null });
      return this.runPasses(site, wake);
    }
    // A pass is running: this request is served by the next one, which starts after it ends
    // (so it sees whatever the caller changed before asking). One next pass serves every request
    // made meanwhile: concurrent drains of one site on one gateway only raced each other for the
    // same oldest conversation (refused commits, given-back seats, and a wake of every other
    // site of the operator for each).
    if (s.next) {
      s.next.wake ||= wake;
      return wait ? s.next.done : Promise.resolve([]);
    }
    const next = turn(wake);
    s.next = next;
    return wait ? next.done : Promise.resolve([]);
  }

  /** Runs a pass, then each next pass requested meanwhile, until none is waiting. */
  private runPasses(site: string, wake: boolean): Promise<[string, string][]> {
    const s = this.draining.get(site) as { next: DrainTurn | null };
    const result = this.drainPass(site, undefined, wake);
    // A pass that stopped at DRAIN_MAX_ASSIGNMENTS may have left chats an operator could take: one
    // more pass then, even if nobody asked (the requests it served would each have run their own).
    const more = (pairs: [string, string][], wake: boolean) => {
      if (pairs.length >= DRAIN_MAX_ASSIGNMENTS && !s.next) s.next = turn(wake);
    };
    const chain = async () => {
      more(await result.catch(() => []), wake);
      for (let t = s.next; t; t = s.next) {
        s.next = null;
        try {
          const pairs = await this.drainPass(site, undefined, t.wake);
          t.settle.res(pairs);
          more(pairs, t.wake);
        } catch (e) {
          t.settle.rej(e);
        }
      }
      this.draining.delete(site);
    };
    void chain();
    return result;
  }

  private async drainPass(site: string, transferred: { conv: string; from?: string } | undefined, wake: boolean): Promise<[string, string][]> {
    const { c } = this.d;
    const statuses = await siteStatuses(c, site);
    const online = Object.keys(statuses).filter((o) => statuses[o] === 'online');
    const pairs: [string, string][] = [];
    if (!online.length) return pairs;
    const loads = await seatCounts(c, online);
    const released = new Set<string>();
    for (let i = 0; i < DRAIN_MAX_ASSIGNMENTS; i++) {
      const out = await this.call(site, 'propose', [...loads].map(([o, l]) => `${o} ${l}`).join(' '));
      if (out[0] !== 'propose') break;
      const [, conv = '', op = '', cap = '0'] = out;
      const seat = { token: randomId(16), site, conv, at: Date.now() };
      if (!(await reserveSeat(c, op, seat, Number(cap)))) {
        loads.set(op, FULL);
        continue;
      }
      // A failed call leaves the seat held (it may have committed): the repair frees it if not.
      const r = await this.call(site, 'commit', conv, op, seat.token, String(seat.at), String(SEAT_INFLIGHT_MS));
      if (r[0] === 'assigned') {
        loads.set(op, (loads.get(op) ?? 0) + 1);
        pairs.push([conv, op]);
      } else {
        await releaseSeat(c, op, seat.token);
        released.add(op);
        if (r[1] === 'op') loads.set(op, FULL);
      }
    }
    for (const [cv, op] of pairs) {
      if (transferred?.conv === cv) await this.assigned(site, cv, op, 'transferred', transferred.from);
      else await this.assigned(site, cv, op, 'assigned');
    }
    if (pairs.length) await siteSignal(c, site, { t: 'queue' });
    if (wake) for (const op of released) await this.otherSites(op, site, false);
    return pairs;
  }

  /** Drains every site the operator serves but `site`. */
  private async otherSites(op: string, site: string, wake: boolean): Promise<void> {
    const rec = await getOperator(this.d.c.cmd, op);
    if (!rec?.active) return;
    const sites = rec.role === 'admin' ? (await listSites(this.d.c.cmd)).map((s) => s.id) : rec.sites;
    // The wake from inside a pass (`wake` false) does not wait for a pass already running on a
    // site: that pass may itself be waking this one's sites, and each waiting for the other would
    // never end. The pass queued after the running one runs once it ends.
    for (const s of sites) if (s !== site) await this.drain(s, undefined, wake, wake);
  }

  /**
   * An operator's seat came free (a chat of theirs on `site` ended or moved): drains `site`, then
   * every other site they serve, where a chat may be waiting for that very seat.
   */
  private async freed(op: string, site: string): Promise<void> {
    await this.drain(site);
    await this.otherSites(op, site, true);
  }

  /** Drains, then the state of `conv` (it may have been assigned by the drain). */
  private async drainThen(site: string, conv: string, out: string[], transferred?: { conv: string; from?: string }): Promise<RouteState> {
    const pairs = await this.drain(site, transferred);
    if (!pairs.length) return toState(out);
    return toState(await this.call(site, 'state', conv));
  }

  /**
   * Reconciles the seat ledgers with the sites' assignments (the truth), for what a crash between
   * the two steps left behind: every assignment on `sites` gets its seat (an old one without a
   * token gets one), and a ledger entry of `ops` backing no assignment is dropped once it is
   * older than SEAT_REPAIR_GRACE_MS (a commit refuses reservations older than SEAT_INFLIGHT_MS,
   * so a dropped one can never be committed afterwards). Idempotent; run by the seat-repair job.
   */
  async repairSeats(sites: string[], ops: string[], now = Date.now()): Promise<{ added: number; dropped: number }> {
    const { c } = this.d;
    let added = 0;
    let dropped = 0;
    for (const site of sites) {
      const [assign, seats] = await Promise.all([siteAssignments(c.cmd, site), siteSeats(c, site)]);
      for (const [conv, op] of Object.entries(assign)) {
        const token = seats[conv] || ((await this.call(site, 'seat', conv, `r${randomId(15)}`)) as unknown as string);
        if (!token) continue;
        if (await hasSeat(c, op, token)) continue;
        await putSeat(c, op, { token, site, conv, at: now });
        // Ended between the read and the put (its release found nothing to delete): take it back out.
        const a = await assignmentOf(c, site, conv);
        if (a.op !== op || a.token !== token) await releaseSeat(c, op, token);
        else added++;
      }
    }
    for (const op of ops) {
      for (const s of await seatsOf(c, op)) {
        if (s.site && now - s.at < SEAT_REPAIR_GRACE_MS) continue;
        const a = s.site ? await assignmentOf(c, s.site, s.conv) : null;
        if (a?.op === op && a.token === s.token) continue;
        await releaseSeat(c, op, s.token);
        dropped++;
      }
    }
    return { added, dropped };
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
    // The photo is on the conversation (opAvatar, a URL), never copied into its entries.
    const ref = { id: opId, name: op?.name ?? '' };
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
    const st = out[0] === 'queued' ? await this.drainThen(site, conv, out) : toState(out);
    if (st.state === 'queued') {
      // Only a record still new becomes queued (a drain elsewhere may have assigned it meanwhile).
      if (await queueMeta(this.d.c.cmd, conv, { from: 'new', queuedAt: Date.now() })) {
        await appendEntry(this.d.c, eventEntry(conv, 'queued', { cid: `sys-queued-${conv}` }), 'other');
        await this.d.emit({ type: 'conversation.queued', site, conv }, `queued:${conv}`);
      }
      await this.doorbell(site, conv);
      await siteSignal(this.d.c, site, { t: 'queue' });
    }
    return st;
  }

  /** Resolves: frees the operator's seat and drains the queue into it. Returns the operator who had it. */
  async release(site: string, conv: string): Promise<string> {
    const out = await this.call(site, 'release', conv);
    const was = out[1] ?? '';
    if (was) {
      await releaseSeat(this.d.c, was, out[2] ?? '');
      await this.freed(was, site);
    } else await this.drain(site);
    await siteSignal(this.d.c, site, { t: 'queue' });
    return was;
  }

  async take(site: string, conv: string, op: string): Promise<RouteState> {
    const token = await this.forcedSeat(op, site, conv);
    const out = await this.call(site, 'take', conv, op, token);
    if (out[2] !== 'used') {
      await releaseSeat(this.d.c, op, token);
      await this.freed(op, site);
    }
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
    const token = to.op ? await this.forcedSeat(to.op, site, conv) : '';
    const out = await this.call(site, 'transfer', conv, to.op ?? '', to.team ?? '', token);
    if (out[0] !== 'assigned' && to.op) {
      await releaseSeat(c, to.op, token);
      await this.freed(to.op, site);
    }
    if (out[2]) await releaseSeat(c, out[2], out[3] ?? '');
    if (out[0] === 'notopen') return { state: 'notopen' };
    if (to.team !== undefined) await setMeta(c.cmd, conv, { team: to.team });
    if (out[0] === 'assigned' && to.op) {
      await this.assigned(site, conv, to.op, 'transferred', from);
      if (out[2] && out[2] !== to.op) await this.freed(out[2], site);
      return { state: 'assigned', op: to.op };
    }
    // Team transfer: the drain may give it to someone in the team.
    const st = await this.drainThen(site, conv, out, { conv, from });
    if (out[2]) await this.freed(out[2], site);
    if (st.state === 'queued') {
      // The record: queued if still with the operator it was transferred from (or none), unless a
      // drain elsewhere assigned it meanwhile. The transfer itself happened either way.
      await queueMeta(c.cmd, conv, { op: out[2] || null, queuedAt: Date.now(), clearOp: true });
      await this.doorbell(site, conv);
      await this.d.emit({ type: 'conversation.transferred', site, conv, team: to.team ?? '', ...(from ? { from } : {}) });
    }
    await siteSignal(c, site, { t: 'queue' });
    return st;
  }

  /** Forgets the routing team of a conversation (an offline one taken by hand). */
  clearTeam(site: string, conv: string): Promise<void> {
    return clearConvTeam(this.d.c, site, conv);
  }

  /** Back to the queue at its original place (its operator went away); the drain may give it to someone else. */
  async requeue(site: string, conv: string): Promise<RouteState> {
    const out = await this.call(site, 'requeue', conv);
    if (out[2]) await releaseSeat(this.d.c, out[2], out[3] ?? '');
    if (out[0] === 'notopen') return { state: 'notopen' };
    // Still with the operator who went away, unless a drain assigned it to someone else meanwhile.
    if (out[0] === 'queued' && (await queueMeta(this.d.c.cmd, conv, { op: out[2] || null, clearOp: true }))) {
      await this.doorbell(site, conv);
      await this.d.emit({ type: 'conversation.queued', site, conv });
    }
    const st = await this.drainThen(site, conv, out);
    if (out[2]) await this.freed(out[2], site);
    return st;
  }

  async reopen(site: string, conv: string, op: string): Promise<void> {
    const token = await this.forcedSeat(op, site, conv);
    const out = await this.call(site, 'reopen', conv, op, token);
    if (out[2] !== 'used') {
      await releaseSeat(this.d.c, op, token);
      await this.freed(op, site);
    }
    if (out[0] === 'assigned' && out[1] === op && out[2] === 'used') {
      await delMeta(this.d.c.cmd, conv, 'resolvedAt');
      await this.assigned(site, conv, op, 'reopened');
    }
  }

  /** Sets an operator's routing state on a site and gives them waiting chats if they are now free. */
  async setOperator(site: string, op: { id: string; status: OperatorStatus; capacity: number; teams: string[] }, leaseUntil?: number): Promise<void> {
    await this.call(site, 'setop', op.id, op.status, String(op.capacity), `,${op.teams.join(',')},`, leaseUntil ? String(leaseUntil) : '');
    await this.drain(site);
  }

  async removeOperator(site: string, op: string): Promise<void> {
    await this.call(site, 'removeop', op);
  }

  /** The operator-wide load: chats held on every site (with reservations in flight). */
  load(op: string): Promise<number> {
    return seatCount(this.d.c, op);
  }

  /** Renews an operator's presence lease on their sites (pipelined; called by the gateway holding their sockets). */
  renewLease(sites: string[], op: string, now = Date.now()): Promise<void> {
    return renewLease(this.d.c, sites, op, now);
  }
}
