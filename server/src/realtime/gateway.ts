/**
 * The realtime half of one gateway process: site views, the operators and
 * visitors connected here, presence leases, the sweeper that turns lapsed
 * leases into "offline" and gives their chats back to the queue, the
 * heartbeat, and a graceful drain.
 */
import { HEARTBEAT_MS, type Me, OFFLINE_GRACE_MS, type OperatorPresence, type OperatorStatus, PRESENCE_RENEW_MS, PRESENCE_TTL_MS, type ServerToOperator, type ConvSummary } from '@hark/shared';
import { publish } from '../redis/publish';
import { type ConvMeta, appendEntry, compactResolved, eventEntry, getMeta } from '../store/conversations';
import { K } from '../store/keys';
import { type Operator, getOperator, isSupervisor, listOperators, toMe, updateOperator } from '../store/operators';
import { getSite, listSites } from '../store/sites';
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
  private readonly presenceRunning = new Set<string>();
  private readonly presenceAgain = new Set<string>();
  draining = false;
  private beat = 0;
  private tracked = 0;

  constructor(private readonly ctx: Ctx) {}

  start(): void {
    this.timers.push(setInterval(() => this.heartbeat(), HEARTBEAT_MS / HEARTBEAT_SLICES));
    this.timers.push(setInterval(() => void this.renewLeases().catch((e) => this.ctx.log.warn({ err: e }, 'lease renewal failed')), PRESENCE_RENEW_MS));
    this.timers.push(setInterval(() => void this.sweep().catch((e) => this.ctx.log.warn({ err: e }, 'sweep failed')), PRESENCE_RENEW_MS));
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
    const sites = await this.sitesOf(conn.me);
    await this.ctx.router.renewLease(sites, conn.me.id);
    if (first) {
      for (const s of sites) await this.ctx.router.setOperator(s, conn.me, Date.now() + PRESENCE_TTL_MS);
      // Together (one pipelined write), so the doorbells arrive together and coalesce into one presence update.
      await Promise.all(sites.map((s) => publish(this.ctx.c, K.siteChannel(s), `p${conn.me.id}`)));
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

  /** Sites an operator works on: admins, every site. */
  async sitesOf(op: Operator): Promise<string[]> {
    if (op.role === 'admin') return (await listSites(this.ctx.c.cmd)).map((s) => s.id);
    return op.sites;
  }

  async viewsFor(conn: OperatorConn): Promise<SiteView[]> {
    const out: SiteView[] = [];
    for (const site of await this.sitesOf(conn.me)) {
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

  meOf(op: Operator): Me {
    return toMe(op);
  }

  async presenceFor(op: Operator): Promise<OperatorPresence[]> {
    const mine = await this.sitesOf(op);
    const sites = new Set(mine);
    // One HGETALL per site, together (was one HGET per operator per shared site, in sequence:
    // 4,000 round trips for each of 200 operators on 20 sites joining).
    const [all, loads] = await Promise.all([listOperators(this.ctx.c.cmd), Promise.all(mine.map((s) => this.ctx.c.cmd.hgetall(K.siteLoad(s))))]);
    const loadOn = new Map(mine.map((s, i) => [s, loads[i] ?? {}]));
    const out: OperatorPresence[] = [];
    for (const o of all) {
      if (!o.active) continue;
      const shared = o.role === 'admin' ? [...sites] : o.sites.filter((s) => sites.has(s));
      if (!shared.length && o.id !== op.id) continue;
      let load = 0;
      for (const s of shared) load += Number(loadOn.get(s)?.[o.id] ?? 0);
      out.push({ id: o.id, name: o.name, status: o.status, load, capacity: o.capacity, sites: o.sites });
    }
    return out;
  }

  /**
   * An operator's presence changed (a 'p' doorbell on one of their sites). The doorbell
   * arrives once per site, so it is coalesced per operator: one read, and one frame to
   * each operator socket here that shares a site with them, with the load summed over
   * the shared sites as in the welcome (was one read and one frame per site per socket:
   * 200 operators on 20 sites coming online sent 800,000 frames).
   */
  presenceChanged(opId: string): void {
    if (this.presenceRunning.has(opId)) {
      this.presenceAgain.add(opId);
      return;
    }
    this.presenceRunning.add(opId);
    setTimeout(() => {
      void (async () => {
        do {
          this.presenceAgain.delete(opId);
          await this.sendPresence(opId);
        } while (this.presenceAgain.has(opId));
      })()
        .catch((e) => this.ctx.log.error({ err: e }, 'presence'))
        .finally(() => this.presenceRunning.delete(opId));
    }, PRESENCE_COALESCE_MS);
  }

  private async sendPresence(opId: string): Promise<void> {
    const op = await getOperator(this.ctx.c.cmd, opId);
    if (!op) return;
    const sites = (await this.sitesOf(op)).filter((s) => this.views.has(s));
    const loads = await Promise.all(sites.map((s) => this.ctx.c.cmd.hget(K.siteLoad(s), opId)));
    const to = new Map<OperatorConn, number>();
    sites.forEach((s, i) => {
      const v = this.views.get(s);
      if (v) for (const conn of v.ops) to.set(conn, (to.get(conn) ?? 0) + Number(loads[i] ?? 0));
    });
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

  /** Sets an operator's own status; routing honours it at once on every site. */
  async setStatus(opId: string, status: OperatorStatus): Promise<void> {
    const op = await updateOperator(this.ctx.c.cmd, opId, { status });
    const live = this.operators.has(opId);
    for (const s of await this.sitesOf(op)) {
      await this.ctx.router.setOperator(s, op, live ? Date.now() + PRESENCE_TTL_MS : undefined);
      await publish(this.ctx.c, K.siteChannel(s), `p${opId}`);
    }
    await publish(this.ctx.c, K.operatorChannel(opId), 's');
  }

  /** Resolves a conversation: capacity freed, visitor told, numbers recorded, queue drained. */
  async resolve(m: ConvMeta): Promise<void> {
    const { c, router } = this.ctx;
    const was = await router.release(m.site, m.id);
    const now = Date.now();
    await c.cmd.hset(K.conv(m.id), { status: 'resolved', resolvedAt: String(now) });
    await c.cmd.hdel(K.conv(m.id), 'waitingSince');
    const cur = await c.cmd.hget(K.visitor(m.visitor), 'conv');
    if (cur === m.id) await c.cmd.hdel(K.visitor(m.visitor), 'conv');
    await appendEntry(this.ctx.c, eventEntry(m.id, 'resolved', { cid: `sys-resolved-${m.id}-${m.createdAt}-${now}` }), 'other');
    await router.doorbell(m.site, m.id);
    const op = was || m.op;
    if (op) await this.ctx.hooks.resolved(m.site, op, m.id, now - m.createdAt);
  }

  // ------------------------------------------------------------ presence
  private async renewLeases(): Promise<void> {
    for (const [opId, conns] of this.operators) {
      const conn = conns.values().next().value;
      if (!conn) continue;
      await this.ctx.router.renewLease(await this.sitesOf(conn.me), opId);
    }
  }

  /**
   * Operators whose lease lapsed more than OFFLINE_GRACE_MS ago (every console
   * tab closed, or their gateway died) go offline; per site setting their open
   * chats return to the queue. Chats unanswered past the site's threshold whose
   * operator is away or offline return to the queue too. Idempotent: every
   * gateway may run it.
   */
  private async sweep(): Promise<void> {
    const { c, router } = this.ctx;
    const now = Date.now();
    for (const site of await listSites(c.cmd)) {
      const lapsed = await c.cmd.zrangebyscore(K.siteLease(site.id), '-inf', now - OFFLINE_GRACE_MS);
      for (const opId of lapsed) {
        if (this.operators.has(opId)) continue;
        await c.cmd.zrem(K.siteLease(site.id), opId);
        const op = await getOperator(c.cmd, opId);
        if (op && op.status !== 'offline') {
          await this.setStatus(opId, 'offline');
        }
        if (site.requeueOnOffline) {
          const assign = await c.cmd.hgetall(K.siteAssign(site.id));
          for (const [conv, o] of Object.entries(assign)) if (o === opId) await router.requeue(site.id, conv);
        }
      }
      if (this.ctx.config.compactAfterMs > 0) await compactResolved(c.cmd, site.id, this.ctx.config.compactAfterMs);
      const assign = await c.cmd.hgetall(K.siteAssign(site.id));
      if (!Object.keys(assign).length) continue;
      const status = await c.cmd.hgetall(K.siteStatus(site.id));
      for (const [conv, opId] of Object.entries(assign)) {
        if (status[opId] === 'online') continue;
        const m = await getMeta(c.cmd, conv);
        if (m?.waitingSince && now - m.waitingSince > site.unansweredMs) await router.requeue(site.id, conv);
      }
    }
  }

  /** An operator's sessions ended (password change, deactivation): close their sockets everywhere. */
  async endSessions(opId: string, hashes: string[] | '*'): Promise<void> {
    await publish(this.ctx.c, K.operatorChannel(opId), `k${hashes === '*' ? '*' : hashes.join(',')}`);
  }

  async refreshOperator(opId: string): Promise<void> {
    await publish(this.ctx.c, K.operatorChannel(opId), 's');
    const op = await getOperator(this.ctx.c.cmd, opId);
    if (!op) return;
    const sites = op.active ? await this.sitesOf(op) : op.sites;
    for (const s of sites) {
      if (!op.active) await this.ctx.router.removeOperator(s, op.id);
      else await this.ctx.router.setOperator(s, op, this.operators.has(opId) ? Date.now() + PRESENCE_TTL_MS : undefined);
      await publish(this.ctx.c, K.siteChannel(s), `p${opId}`);
    }
  }

  isSupervisor(op: Operator): boolean {
    return isSupervisor(op);
  }

  async siteExists(id: string): Promise<boolean> {
    return (await getSite(this.ctx.c.cmd, id)) !== null;
  }
}
