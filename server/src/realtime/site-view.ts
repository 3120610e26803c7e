/**
 * A gateway's live picture of one site's unresolved conversations, kept for the
 * operator sockets of that site on this gateway. It follows every open
 * conversation of the site and decides, per socket, what that operator may
 * see: the same rule (canSee) on the fan-out path as on the request path.
 */
import type { ConvSummary, Entry, OperatorPresence, OperatorStatus, ServerToOperator } from '@hark/shared';
import { eachPage } from '@hark/shared/async';
import { isSupervisor } from '../domain/policy';
import { type Slice, inSlice, visitorInfo } from '../domain/visitors';
import type { ConvListener, ConvSignal, SiteListener, SiteSignal } from '../domain/live';
import type { Ctx } from './context';
import type { QueueListener } from './queue-watch';
import type { OperatorConn } from './operator-socket';

export class SiteView implements SiteListener, ConvListener, QueueListener {
  /** Per conversation, the ticket of the latest refresh started (see refresh). */
  private readonly latest = new Map<string, number>();
  private tickets = 0;
  /**
   * Conversations whose visitor changed (a visitor-changed doorbell) while a refresh of theirs was
   * reading: that refresh may have read the visitor before the change, so it reads them again
   * before it applies (see refresh).
   */
  private readonly visitorStale = new Set<string>();
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
    await this.ctx.hub.listen('site', this.site, this);
    if (this.closed) return;
    this.ctx.queues.watch(this.site, this);
    const ids = await this.ctx.domain.conversations.siteOpen(this.site);
    await Promise.all(ids.map((id) => this.refresh(id, false)));
  }

  /**
   * Visitors shown on the site whose every lease has lapsed are shown as gone: a gateway that died
   * held leases nobody ends, and told nobody (the gateway runs this every VISITOR_PRESENCE_RENEW_MS).
   */
  async recheckPresence(slice?: Slice): Promise<void> {
    const shown = [...this.convs.values()].filter((s) => s.visitor.online && inSlice(s.visitor.id, slice));
    if (!shown.length) return;
    const now = await this.ctx.domain.visitors.present(shown.map((s) => s.visitor.id));
    shown.forEach((s, i) => {
      if (now[i] || !s.visitor.online || this.closed) return;
      s.visitor = { ...s.visitor, online: false };
      const frame = JSON.stringify({ type: 'visitor', conv: s.id, visitor: s.visitor } satisfies ServerToOperator);
      for (const op of this.audience(s)) if (op.canSee(s)) op.sendRaw(frame);
    });
  }

  close(): void {
    this.closed = true;
    this.ctx.hub.unlisten('site', this.site, this);
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
  async refresh(conv: string, notify = true, quiet = false): Promise<void> {
    const convs = this.ctx.domain.conversations;
    // Refreshes of one conversation overlap (a burst of doorbells, an assignment in several steps):
    // only the latest started applies what it read, which is at least as new as any earlier one's
    // (reads on one connection are answered in order). An earlier one finishing last would put a
    // stale state on screen and in this view for good (chaos, Redis frozen: an assigned chat shown
    // to its operator as queued, and left out of their next welcome).
    // The periodic check (reconcile) takes no ticket: it applies only what this view has wrong (status
    // or operator), and only while no doorbell's refresh of the conversation is under way.
    const ticket = quiet ? 0 : ++this.tickets;
    if (!quiet) this.latest.set(conv, ticket);
    const m = await convs.meta(conv);
    const s = m && m.site === this.site ? await convs.summary(m) : null;
    if (quiet) {
      const had = this.convs.get(conv);
      if (this.latest.has(conv) || !s || (had ? had.status === s.status && had.operator?.id === s.operator?.id && !!had.visitor.online === !!s.visitor.online : s.status === 'resolved')) return;
    } else {
      if (this.latest.get(conv) !== ticket) return;
      // The visitor changed while this read (their gateway took the lease as the conversation
      // started): what it read of them may be older, and the doorbell found nothing here to update
      // (a new conversation) or an update this would overwrite. Read them again, still holding the
      // ticket, so that a doorbell meanwhile is not lost either (seen in CI: a new chat's visitor shown
      // as not on the site, for good, while they were).
      while (s && this.visitorStale.delete(conv)) {
        const v = await this.ctx.domain.visitors.get(s.visitor.id);
        if (v) s.visitor = visitorInfo(v);
        if (this.latest.get(conv) !== ticket) {
          this.visitorStale.add(conv);
          return;
        }
      }
      this.visitorStale.delete(conv);
      this.latest.delete(conv);
    }
    if (!m || !s) return;
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
      await eachPage((after) => convs.entriesAfter(conv, after), '', (page) => {
        for (const e of page) this.fanOut(e);
      });
    } finally {
      this.fresh.delete(conv);
      for (const e of held) this.fanOut(e);
    }
  }

  /**
   * Pub/sub is the doorbell, Redis the truth: every VISITOR_PRESENCE_RENEW_MS the gateway has each
   * view re-read its conversations (and the site's open ones it lacks), and one whose status or
   * operator it holds wrong is refreshed and told to the operators. A doorbell lost or applied out
   * of order is healed within that time instead of staying wrong until a reload. Whether the
   * visitor is on the site is compared too: a lost arrival would otherwise show them away for good.
   */
  async reconcile(): Promise<void> {
    if (this.closed || !this.ops.size) return;
    const ids = new Set([...(await this.ctx.domain.conversations.siteOpen(this.site)), ...this.convs.keys()]);
    for (const id of ids) await this.refresh(id, true, true);
  }

  visible(op: OperatorConn): ConvSummary[] {
    return [...this.convs.values()].filter((s) => op.canSee(s));
  }

  onSignal(s: SiteSignal): void {
    const run = (f: () => Promise<void>) => void f().catch((e) => this.ctx.log.error({ err: e }, 'site view'));
    if (s.t === 'conv-changed') run(() => this.refresh(s.conv));
    else if (s.t === 'presence') {
      if (this.onPresence) this.onPresence(s.op);
      else run(() => this.presence(s.op));
    } else if (s.t === 'visitor-changed') run(() => this.visitorChanged(s.conv));
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
    const op = await this.ctx.domain.operators.get(opId);
    if (!op) return null;
    const load = await this.ctx.domain.operators.load(opId);
    return { id: op.id, name: op.name, status: op.status as OperatorStatus, load, capacity: op.capacity, sites: op.sites };
  }

  private async presence(opId: string): Promise<void> {
    const p = await this.presenceOf(opId);
    if (!p) return;
    const frame = JSON.stringify({ type: 'presence', operator: p } satisfies ServerToOperator);
    for (const op of this.ops) op.sendRaw(frame);
  }

  private async visitorChanged(conv: string): Promise<void> {
    if (this.latest.has(conv)) this.visitorStale.add(conv);
    const s = this.convs.get(conv);
    if (!s) return;
    const v = await this.ctx.domain.visitors.get(s.visitor.id);
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

  onConvSignal(conv: string, sig: ConvSignal): void {
    const s = this.convs.get(conv);
    if (!s || sig.t === 'changed') return;
    const b = sig.body;
    let frame: ServerToOperator;
    if (sig.t === 'typing') {
      frame = { type: 'typing', conv, on: !!sig.body.on, by: b.by };
      if (b.op) frame.op = b.op;
      if (sig.body.preview) frame.preview = sig.body.preview;
    } else frame = { type: 'seen', conv, by: b.by, id: sig.body.id };
    const str = JSON.stringify(frame);
    for (const op of this.audience(s)) if (op.canSee(s) && !(b.op && b.op.id === op.me.id)) op.sendRaw(str);
  }
}
