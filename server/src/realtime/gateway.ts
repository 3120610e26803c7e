/**
 * The socket registry of one gateway process: the operators and visitors
 * connected here, the site views their consoles share, the presence leases
 * renewed for the operators whose sockets are here, the heartbeat, and a
 * graceful drain. Background work that needs one owner across gateways (the
 * presence sweep, compaction) is in jobs/.
 */
import { type ConvSummary, HEARTBEAT_MS, type OperatorStatus, PRESENCE_RENEW_MS, PRESENCE_TTL_MS, type ServerToOperator } from '@hark/shared';
import { coalesced } from '@hark/shared/async';
import { VISITOR_PRESENCE_RENEW_MS, VISITOR_PRESENCE_SLICES, type Slice, inSlice } from '../domain/visitors';
import type { Conn } from './conn';
import type { Ctx } from './context';
import type { OperatorConn } from './operator-socket';
import { SiteView } from './site-view';

/** How long a draining gateway waits for clients to answer its 1012 close before cutting their sockets. */
export const DRAIN_TIMEOUT_MS = 2_000;

/** The heartbeat pings this many slices of the sockets in turn, one every HEARTBEAT_MS / HEARTBEAT_SLICES. */
export const HEARTBEAT_SLICES = 25;

/** Presence doorbells of one operator arriving within this window (one per site) make one update. */
const PRESENCE_COALESCE_MS = 50;

export class Gateway {
  private readonly views = new Map<string, SiteView>();
  private readonly operators = new Map<string, Set<OperatorConn>>();
  readonly sockets = new Set<Conn>();
  private timers: NodeJS.Timeout[] = [];
  private readonly presenceRuns = new Map<string, () => void>();
  draining = false;
  private beat = 0;
  private tracked = 0;

  constructor(private readonly ctx: Ctx) {
    // The presence sweep and record changes ask whether an operator's sockets are here.
    if (ctx.domain) ctx.domain.operators.isLiveHere = (op) => this.operators.has(op);
  }

  start(): void {
    this.timers.push(setInterval(() => this.heartbeat(), HEARTBEAT_MS / HEARTBEAT_SLICES));
    this.timers.push(setInterval(() => void this.renewLeases().catch((e) => this.ctx.log.warn({ err: e }, 'lease renewal failed')), PRESENCE_RENEW_MS));
    this.timers.push(setInterval(() => void this.visitorPresenceSlice().catch((e) => this.ctx.log.warn({ err: e }, 'visitor presence renewal failed')), VISITOR_PRESENCE_RENEW_MS / VISITOR_PRESENCE_SLICES));
    for (const t of this.timers) t.unref();
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const v of this.views.values()) v.close();
    this.views.clear();
  }

  track(conn: Conn): void {
    if (conn.closed) return;
    conn.beatSlot = this.tracked++ % HEARTBEAT_SLICES;
    this.sockets.add(conn);
    // The Conn leaves the set from its own close handling: no listener (closure) per socket.
    conn.registry = this.sockets;
  }

  /**
   * Pings one slice of the sockets (each socket once per HEARTBEAT_MS); one that did not answer
   * its last ping is gone (ws README heartbeat). Pinging every socket at once was one write per
   * socket in a single tick: tens of ms of stalled delivery with a few thousand sockets.
   */
  private heartbeat(): void {
    const slot = this.beat++ % HEARTBEAT_SLICES;
    for (const s of this.sockets) {
      if (s.beatSlot !== slot) continue;
      if (!s.alive) {
        s.ws.terminate();
        continue;
      }
      s.alive = false;
      s.ws.ping();
    }
  }

  /**
   * Stops taking new sockets and asks every client to reconnect elsewhere (1012). Resolves
   * when every socket has closed, or after DRAIN_TIMEOUT_MS, when those whose client has not
   * answered the close are cut (ws would wait 30 s for each before ending it: a restarted
   * gateway could not listen again until then; reconnect storm in BENCHMARKS.md).
   */
  async drain(): Promise<void> {
    this.draining = true;
    for (const s of this.sockets) s.ws.close(1012, 'SHUTTING_DOWN');
    const until = Date.now() + DRAIN_TIMEOUT_MS;
    while (this.sockets.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    for (const s of this.sockets) s.ws.terminate();
  }

  // ------------------------------------------------------------ operators
  async addOperator(conn: OperatorConn): Promise<void> {
    let set = this.operators.get(conn.me.id);
    const first = !set;
    if (!set) {
      set = new Set();
      this.operators.set(conn.me.id, set);
    }
    set.add(conn);
    const { router, operators } = this.ctx.domain;
    const sites = await operators.sitesOf(conn.me);
    await router.renewLease(sites, conn.me.id);
    if (first) {
      for (const s of sites) await router.setOperator(s, conn.me, Date.now() + PRESENCE_TTL_MS);
      // Together (one pipelined write), so the doorbells arrive together and coalesce into one presence update.
      await Promise.all(sites.map((s) => router.presenceDoorbell(s, conn.me.id)));
    }
  }

  removeOperator(conn: OperatorConn): void {
    const set = this.operators.get(conn.me.id);
    if (!set) return;
    set.delete(conn);
    if (set.size === 0) this.operators.delete(conn.me.id);
    for (const v of this.views.values()) {
      v.removeOp(conn);
      if (v.ops.size === 0) {
        v.close();
        this.views.delete(v.site);
      }
    }
  }

  async viewsFor(conn: OperatorConn): Promise<SiteView[]> {
    const out: SiteView[] = [];
    for (const site of await this.ctx.domain.operators.sitesOf(conn.me)) {
      let v = this.views.get(site);
      if (!v) {
        v = new SiteView(this.ctx, site, (opId) => this.presenceChanged(opId));
        this.views.set(site, v);
      }
      v.addOp(conn);
      await v.ready;
      out.push(v);
    }
    return out;
  }

  /** An operator socket's record changed (role): the site views re-index it. */
  reindex(conn: OperatorConn): void {
    for (const v of this.views.values()) v.reindex(conn);
  }

  /** The conversation as this operator's site views hold it (unresolved ones only), if any of them has it. */
  summaryFor(conn: OperatorConn, conv: string): ConvSummary | undefined {
    for (const v of this.views.values()) {
      const s = v.convs.get(conv);
      if (s && v.ops.has(conn)) return s;
    }
    return undefined;
  }

  viewsOf(conn: OperatorConn): SiteView[] {
    return [...this.views.values()].filter((v) => v.ops.has(conn));
  }

  /**
   * An operator's presence changed (a 'p' doorbell on one of their sites). The doorbell
   * arrives once per site, so it is coalesced per operator: one read, and one frame to
   * each operator socket here that shares a site with them, with the load summed over
   * the shared sites as in the welcome (was one read and one frame per site per socket:
   * 200 operators on 20 sites coming online sent 800,000 frames).
   */
  presenceChanged(opId: string): void {
    let run = this.presenceRuns.get(opId);
    if (!run) {
      run = coalesced(
        () => this.sendPresence(opId),
        (e) => this.ctx.log.error({ err: e }, 'presence'),
        PRESENCE_COALESCE_MS,
        () => this.presenceRuns.delete(opId),
      );
      this.presenceRuns.set(opId, run);
    }
    run();
  }

  private async sendPresence(opId: string): Promise<void> {
    const { operators } = this.ctx.domain;
    const op = await operators.get(opId);
    if (!op) return;
    const sites = (await operators.sitesOf(op)).filter((s) => this.views.has(s));
    const load = await operators.load(opId);
    const to = new Map<OperatorConn, number>();
    for (const s of sites) {
      const v = this.views.get(s);
      if (v) for (const conn of v.ops) to.set(conn, load);
    }
    const frames = new Map<number, string>();
    for (const [conn, load] of to) {
      let f = frames.get(load);
      if (!f) {
        f = JSON.stringify({ type: 'presence', operator: { id: op.id, name: op.name, status: op.status as OperatorStatus, load, capacity: op.capacity, sites: op.sites } } satisfies ServerToOperator);
        frames.set(load, f);
      }
      conn.sendRaw(f);
    }
  }

  // ------------------------------------------------------------ presence
  /**
   * Renews the leases of the visitors whose sockets are here; then every site view drops visitors
   * whose leases all lapsed, and reconciles its conversations with Redis. With `slice`, only that
   * part of the visitors and of the sites (the timer runs the parts in turn: visitorPresenceSlice).
   */
  async visitorPresence(slice?: Slice): Promise<void> {
    await this.ctx.domain.visitors.renewPresence(slice);
    await Promise.all([...this.views.values()].map((v) => v.recheckPresence(slice)));
    await Promise.all([...this.views].filter(([site]) => inSlice(site, slice)).map(([, v]) => v.reconcile()));
  }

  private presencePart = 0;
  /** The next of VISITOR_PRESENCE_SLICES parts of visitorPresence: every visitor and site once per VISITOR_PRESENCE_RENEW_MS. */
  private visitorPresenceSlice(): Promise<void> {
    const k = this.presencePart;
    this.presencePart = (k + 1) % VISITOR_PRESENCE_SLICES;
    return this.visitorPresence({ k, n: VISITOR_PRESENCE_SLICES });
  }

  private async renewLeases(): Promise<void> {
    const { router, operators } = this.ctx.domain;
    for (const [opId, conns] of this.operators) {
      const conn = conns.values().next().value;
      if (!conn) continue;
      await router.renewLease(await operators.sitesOf(conn.me), opId);
    }
  }
}
