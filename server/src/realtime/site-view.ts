/**
 * A gateway's live picture of one site's unresolved conversations, kept for the
 * operator sockets of that site on this gateway. It follows every open
 * conversation of the site and decides, per socket, what that operator may
 * see: the same rule (canSee) on the fan-out path as on the request path.
 */
import type { ConvSummary, Entry, OperatorPresence, OperatorStatus, ServerToOperator } from '@hark/shared';
import { getMeta, readEntries, summary } from '../store/conversations';
import { K } from '../store/keys';
import { getOperator, isSupervisor } from '../store/operators';
import { getVisitor, visitorInfo } from '../store/visitors';
import type { Ctx } from './context';
import type { ChannelListener, ConvListener } from './hub';
import type { QueueListener } from './queue-watch';
import type { OperatorConn } from './operator-socket';

export class SiteView implements ChannelListener, ConvListener, QueueListener {
  readonly convs = new Map<string, ConvSummary>();
  /** Operator sockets of this site on this gateway; change it only through addOp / removeOp. */
  readonly ops = new Set<OperatorConn>();
  /** The same sockets by operator id, and the ones that may be supervisors: who may see an assigned conversation without asking all of them. */
  private readonly byOp = new Map<string, Set<OperatorConn>>();
  private readonly elevated = new Set<OperatorConn>();
  readonly ready: Promise<void>;
  private readonly entryFrames = new WeakMap<Entry, string>();
  /** Conversations whose history is being read for the first time; live entries wait here meanwhile. */
  private readonly fresh = new Map<string, Entry[]>();
  private closed = false;

  constructor(
    private readonly ctx: Ctx,
    readonly site: string,
    /** Presence doorbells go to the gateway, which coalesces them over all sites of the operator. */
    private readonly onPresence?: (opId: string) => void,
  ) {
    this.ready = this.load();
  }

  private async load(): Promise<void> {
    await this.ctx.hub.listen(K.siteChannel(this.site), this);
    if (this.closed) return;
    this.ctx.queues.watch(this.site, this);
    const ids = await this.ctx.c.cmd.zrange(K.siteOpen(this.site), 0, -1);
    await Promise.all(ids.map((id) => this.refresh(id, false)));
  }

  close(): void {
    this.closed = true;
    this.ctx.hub.unlisten(K.siteChannel(this.site), this);
    this.ctx.queues.unwatch(this.site, this);
    for (const id of this.convs.keys()) this.ctx.hub.unfollowConv(id, this);
    this.convs.clear();
  }

  addOp(conn: OperatorConn): void {
    this.ops.add(conn);
    let set = this.byOp.get(conn.me.id);
    if (!set) {
      set = new Set();
      this.byOp.set(conn.me.id, set);
    }
    set.add(conn);
    this.reindex(conn);
  }

  removeOp(conn: OperatorConn): void {
    this.ops.delete(conn);
    this.elevated.delete(conn);
    const set = this.byOp.get(conn.me.id);
    if (set?.delete(conn) && set.size === 0) this.byOp.delete(conn.me.id);
  }

  /** An operator's record changed (role): supervisors may see every conversation. */
  reindex(conn: OperatorConn): void {
    if (this.ops.has(conn) && isSupervisor(conn.me)) this.elevated.add(conn);
  }

  /**
   * The sockets that may see `s`, each still checked with canSee by the caller: every
   * socket for a waiting conversation; for an assigned one only the assignee's sockets
   * and supervisors' (was every socket of the site for every entry: 200 canSee calls
   * per message with 200 operators on a site).
   */
  private audience(s: ConvSummary): Iterable<OperatorConn> {
    if (s.status === 'queued') return this.ops;
    const mine = s.operator ? this.byOp.get(s.operator.id) : undefined;
    if (!this.elevated.size) return mine ?? [];
    const out = new Set(mine);
    for (const c of this.elevated) out.add(c);
    return out;
  }

  /** Re-reads a conversation and tells every socket that could see it before or can now. */
  async refresh(conv: string, notify = true): Promise<void> {
    const m = await getMeta(this.ctx.c.cmd, conv);
    if (!m || m.site !== this.site) return;
    const s = await summary(this.ctx.c.cmd, m);
    // Closed while reading (its last operator left): following now would leave a subscription nobody releases.
    if (this.closed) return;
    const before = this.convs.get(conv);
    if (s.status === 'resolved') {
      this.convs.delete(conv);
      this.ctx.hub.unfollowConv(conv, this);
    } else {
      // A conversation new to this view while operators are here: its first entries were
      // published before anyone here followed it, so read them from the stream once, holding
      // live ones meanwhile (the console would otherwise see the first message only as a preview).
      if (!before && notify) this.fresh.set(conv, []);
      this.convs.set(conv, s);
      try {
        await this.ctx.hub.followConv(conv, this);
      } catch (e) {
        // The SUBSCRIBE was refused or dropped (Redis busy, the subscriber reconnecting). This view
        // stays registered and the hub subscribes the channel again (next follower; after the next
        // reconnect, with a catch-up read), so carry on: thrown here, the operators were never told
        // of the conversation and every later entry of it waited in `fresh` for good (chaos, CLIENT
        // KILL under load: operator views missing entries).
        this.ctx.log.warn({ err: e, conv }, 'site view follow');
      }
    }
    if (!notify) return;
    const frame = JSON.stringify({ type: 'conv', conv: s } satisfies ServerToOperator);
    const to = new Set(this.audience(s));
    if (before) for (const op of this.audience(before)) to.add(op);
    for (const op of to) if (op.canSee(s) || (before && op.canSee(before))) op.sendRaw(frame);
    const held = this.fresh.get(conv);
    if (!held) return;
    try {
      for (let after = ''; ; ) {
        const page = await readEntries(this.ctx.c.cmd, conv, after);
        for (const e of page) this.fanOut(e);
        const last = page.at(-1);
        if (!last) break;
        after = last.id;
      }
    } finally {
      this.fresh.delete(conv);
      for (const e of held) this.fanOut(e);
    }
  }

  visible(op: OperatorConn): ConvSummary[] {
    return [...this.convs.values()].filter((s) => op.canSee(s));
  }

  onSignal(p: string): void {
    const kind = p[0];
    const arg = p.slice(1);
    const run = (f: () => Promise<void>) => void f().catch((e) => this.ctx.log.error({ err: e }, 'site view'));
    if (kind === 'c') run(() => this.refresh(arg));
    else if (kind === 'p') {
      if (this.onPresence) this.onPresence(arg);
      else run(() => this.presence(arg));
    }
    else if (kind === 'v') run(() => this.visitorChanged(arg));
  }

  onResync(): void {
    void this.load().then(
      () => {
        for (const op of this.ops) op.resync();
      },
      (e) => this.ctx.log.warn({ err: e }, 'site view resync'),
    );
  }

  onPositions(positions: Map<string, number>): void {
    this.ctx.metrics.queueLength.set({ site: this.site }, positions.size);
    for (const [conv, pos] of positions) {
      const s = this.convs.get(conv);
      if (!s || s.position === pos) continue;
      s.position = pos;
      const frame = JSON.stringify({ type: 'conv', conv: s } satisfies ServerToOperator);
      for (const op of this.audience(s)) if (op.canSee(s)) op.sendRaw(frame);
    }
  }

  async presenceOf(opId: string): Promise<OperatorPresence | null> {
    const op = await getOperator(this.ctx.c.cmd, opId);
    if (!op) return null;
    const load = Number((await this.ctx.c.cmd.hget(K.siteLoad(this.site), opId)) ?? 0);
    return { id: op.id, name: op.name, status: op.status as OperatorStatus, load, capacity: op.capacity, sites: op.sites };
  }

  private async presence(opId: string): Promise<void> {
    const p = await this.presenceOf(opId);
    if (!p) return;
    const frame = JSON.stringify({ type: 'presence', operator: p } satisfies ServerToOperator);
    for (const op of this.ops) op.sendRaw(frame);
  }

  private async visitorChanged(conv: string): Promise<void> {
    const s = this.convs.get(conv);
    if (!s) return;
    const v = await getVisitor(this.ctx.c.cmd, s.visitor.id);
    if (!v) return;
    s.visitor = visitorInfo(v);
    const frame = JSON.stringify({ type: 'visitor', conv, visitor: s.visitor } satisfies ServerToOperator);
    for (const op of this.audience(s)) if (op.canSee(s)) op.sendRaw(frame);
  }

  // ------------------------------------------------------------ fan-out
  onEntry(e: Entry): void {
    const held = this.fresh.get(e.conv);
    if (held) {
      held.push(e);
      return;
    }
    this.fanOut(e);
  }

  private fanOut(e: Entry): void {
    const s = this.convs.get(e.conv);
    if (!s) return;
    if (e.kind === 'msg') {
      s.last = e;
      if (e.from === 'visitor') s.waitingSince ??= e.at;
      else if (e.from === 'operator') {
        delete s.waitingSince;
        s.firstResponseAt ??= e.at;
      }
    }
    let frame = this.entryFrames.get(e);
    if (!frame) {
      frame = JSON.stringify({ type: 'entry', entry: e } satisfies ServerToOperator);
      this.entryFrames.set(e, frame);
    }
    const f = frame;
    for (const op of this.audience(s)) if (op.canSee(s)) op.deliverEntry(e.conv, e.id, f);
  }

  onConvSignal(conv: string, kind: string, body: string): void {
    const s = this.convs.get(conv);
    if (!s || kind === 'c') return;
    let b: { by?: 'visitor' | 'operator'; on?: boolean; id?: string; op?: { id: string; name: string }; preview?: string };
    try {
      b = JSON.parse(body);
    } catch {
      return;
    }
    if (b.by !== 'visitor' && b.by !== 'operator') return;
    let frame: ServerToOperator;
    if (kind === 't') {
      frame = { type: 'typing', conv, on: !!b.on, by: b.by };
      if (b.op) frame.op = b.op;
      if (b.preview) frame.preview = b.preview;
    } else if (kind === 's' && b.id) frame = { type: 'seen', conv, by: b.by, id: b.id };
    else return;
    const str = JSON.stringify(frame);
    for (const op of this.audience(s)) if (op.canSee(s) && !(b.op && b.op.id === op.me.id)) op.sendRaw(str);
  }
}
