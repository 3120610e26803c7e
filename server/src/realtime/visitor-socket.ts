/**
 * One visitor's socket. Authentication (origin, site, token) happened in the
 * upgrade hook; this class only ever acts on the visitor's own conversations,
 * and every entry it sends passes toVisitorEntry (no notes, no operator-only
 * fields), on the live fan-out path and on catch-up alike.
 */
import {
  type Entry,
  HarkError,
  type Identity,
  type ServerToVisitor,
  CATCHUP_PAGE,
  VISITOR_BURST,
  compareStreamIds,
  VISITOR_MSGS_PER_SEC,
  type VisitorConv,
  type VisitorToServer,
  toVisitorEntry,
} from '@hark/shared';
import { checkText, parseVisitorToServer } from '@hark/shared/parse';
import type { WebSocket } from 'ws';
import { publish } from '../redis/publish';
import { type ConvMeta, appendEntry, ensureOpenConv, eventEntry, getMeta, readEntries, readEntriesBefore, visitorConv } from '../store/conversations';
import { K } from '../store/keys';
import { type Site, anyOperatorAvailableShared, getSite, inBusinessHours, publicSiteConfig } from '../store/sites';
import { type VisitorPatch, getVisitor, updateVisitor } from '../store/visitors';
import { Bucket } from './bucket';
import { Conn } from './conn';
import type { Ctx } from './context';
import type { ChannelListener, ConvListener } from './hub';
import type { AvailabilityListener, QueueListener } from './queue-watch';
import { verifyIdentity } from './identity';

/** A refresh after the subscriber reconnected that fails (Redis away as well) is retried this many times, backing off to 2 s (~30 s in all). */
const RESYNC_RETRIES = 18;

/** A possible resend (`send {re: true}`) is looked for in this many of the visitor's latest conversations. */
export const RESEND_LOOKBACK = 3;

/** A hello this soon after the upgrade uses the site the upgrade read. */
const SITE_FRESH_MS = 2_000;

const visitorFrames = new WeakMap<Entry, string | null>();

/** One serialisation of an entry's visitor view, shared by every visitor socket on this gateway. */
function visitorFrame(e: Entry): string | null {
  let f = visitorFrames.get(e);
  if (f === undefined) {
    const v = toVisitorEntry(e);
    f = v ? JSON.stringify({ type: 'entry', entry: v } satisfies ServerToVisitor) : null;
    visitorFrames.set(e, f);
  }
  return f;
}

export class VisitorConn extends Conn<VisitorToServer> implements ConvListener, ChannelListener, QueueListener, AvailabilityListener {
  private readonly follows = new Set<string>();
  /** Queue positions of this visitor's waiting conversations (made only while one waits). */
  private positions: Map<string, number> | null = null;
  private readonly msgs = new Bucket(VISITOR_MSGS_PER_SEC, VISITOR_BURST);
  private watchingQueue = false;
  private watchingAvailability = false;
  /** When `site` was read (the upgrade's read; 0 once a hello used it). */
  private siteReadAt = Date.now();
  /** Conversations whose state changed during the hello (refreshed once it is answered). */
  private changedInHello: Set<string> | null = null;
  /** The open conversation this socket last wrote into (see openConv). */
  private openId: string | null = null;

  constructor(
    private readonly ctx: Ctx,
    ws: WebSocket,
    private site: Site,
    readonly visitorId: string,
    private readonly ua: string,
    private readonly siteBucket: Bucket,
  ) {
    super(ws, ctx.metrics, 'visitor');
    ctx.metrics.visitors.inc();
    // The socket is its own channel listener (a separate object with two closures cost ~660 B per idle visitor).
    void ctx.hub.listen(K.visitorChannel(visitorId), this).catch((e) => this.fail(e));
  }

  protected override onInternalError(e: unknown): void {
    this.ctx.log.error({ err: e, visitor: this.visitorId }, 'visitor socket error');
  }

  protected onClose(): void {
    this.ctx.metrics.visitors.dec();
    this.ctx.hub.unlisten(K.visitorChannel(this.visitorId), this);
    if (this.watchingQueue) this.ctx.queues.unwatch(this.site.id, this);
    if (this.watchingAvailability) this.ctx.queues.unwatchAvailability(this.site.id, this);
    for (const conv of this.follows) this.ctx.hub.unfollowConv(conv, this);
    this.follows.clear();
  }

  protected parse(raw: string): VisitorToServer {
    return parseVisitorToServer(raw);
  }


  protected async handle(f: VisitorToServer): Promise<void> {
    const { c } = this.ctx;
    switch (f.type) {
      case 'hello':
        return this.onHello(f);
      case 'send':
        return this.onSend(f.cid, f.text, f.re === true);
      case 'typing': {
        const conv = await c.cmd.hget(K.visitor(this.visitorId), 'conv');
        if (!conv) return;
        const body: Record<string, unknown> = { by: 'visitor', on: f.on };
        if (this.site.typingPreview && f.preview && f.on) body.preview = f.preview.slice(0, 500);
        await publish(c, K.convChannel(conv), `t${JSON.stringify(body)}`);
        return;
      }
      case 'seen': {
        await this.ownConv(f.conv);
        await c.cmd.hset(K.conv(f.conv), 'visitorSeen', f.id);
        await publish(c, K.convChannel(f.conv), `s${JSON.stringify({ by: 'visitor', id: f.id })}`);
        return;
      }
      case 'page':
        return this.patch({ page: f.page });
      case 'identify':
        return this.identify(f.user);
      case 'attrs':
        return this.patch({ attrs: f.attrs });
      case 'prechat':
        return this.patch({ name: f.name, email: checkEmail(f.email) });
      case 'offline': {
        const text = checkText(f.text);
        const email = checkEmail(f.email);
        await this.patch({ email, ...(f.name ? { name: f.name } : {}) });
        const { conv } = await this.openConv();
        await appendEntry(c, eventEntry(conv, 'offline-message', { email, cid: `off-${f.cid}` }), 'other');
        return this.store(conv, f.cid, text);
      }
      case 'rate': {
        const m = await this.ownConv(f.conv);
        if (m.status !== 'resolved') throw new HarkError('CONFLICT', 'Only a resolved conversation can be rated.');
        const comment = (f.comment ?? '').trim();
        await c.cmd.hset(K.conv(f.conv), { rating: f.rating, ratingComment: comment });
        const r = await appendEntry(c, eventEntry(f.conv, 'rated', { rating: f.rating, comment, cid: `rate-${f.conv}-${f.rating}-${comment.length}` }), 'other');
        await this.ctx.router.doorbell(m.site, f.conv);
        if (r.stored && m.op) await this.ctx.hooks.rated(m.site, m.op, f.conv, f.rating, comment);
        return;
      }
      case 'history': {
        await this.ownConv(f.conv);
        const { entries, more } = await readEntriesBefore(c.cmd, f.conv, f.before ?? '');
        this.send({ type: 'history', conv: f.conv, entries: entries.map(toVisitorEntry).filter((e): e is Entry => e !== null), more } satisfies ServerToVisitor);
        return;
      }
    }
  }

  /** The conversation, if it is this visitor's own; otherwise CONVERSATION_NOT_FOUND (same answer as for a missing one). */
  private async ownConv(conv: string) {
    const m = await getMeta(this.ctx.c.cmd, conv);
    if (!m || m.visitor !== this.visitorId || m.site !== this.site.id) throw new HarkError('CONVERSATION_NOT_FOUND');
    return m;
  }

  private async patch(p: VisitorPatch): Promise<void> {
    await updateVisitor(this.ctx.c.cmd, this.visitorId, p);
    const conv = await this.ctx.c.cmd.hget(K.visitor(this.visitorId), 'conv');
    if (conv) await publish(this.ctx.c, K.siteChannel(this.site.id), `v${conv}`);
  }

  private async identify(u: Identity): Promise<void> {
    const verified = this.site.secret ? verifyIdentity(this.site.secret, u.id, u.hash) : false;
    if (this.site.secret && !verified) throw new HarkError('IDENTITY_INVALID');
    const p: VisitorPatch = { userId: u.id, verified };
    if (u.name) p.name = u.name;
    if (u.email) p.email = u.email;
    await this.patch(p);
  }

  private async onHello(f: Extract<VisitorToServer, { type: 'hello' }>): Promise<void> {
    await this.syncHello(() => this.welcome(f));
    // A conversation whose state changed while the hello was being answered: its welcome may be older.
    const again = this.changedInHello;
    this.changedInHello = null;
    if (again && !this.closed) for (const conv of again) await this.refreshConv(conv);
  }

  private async welcome(f: Extract<VisitorToServer, { type: 'hello' }>): Promise<void> {
    const { c } = this.ctx;
    // What the client says it has is where every path starts from, not only this catch-up: a
    // doorbell that makes this socket follow a conversation meanwhile must not send it again.
    for (const [conv, id] of Object.entries(f.lastIds)) {
      const sent = this.lastSent.get(conv);
      if (!sent || compareStreamIds(id, sent) > 0) this.lastSent.set(conv, id);
    }
    // Reads that do not depend on each other go out together (one pipelined round trip on the
    // command connection, in order): a reconnect storm is thousands of these at once.
    const patch: VisitorPatch = { ua: this.ua };
    if (f.page) patch.page = f.page;
    if (f.locale) patch.locale = f.locale;
    if (f.tz) patch.tz = f.tz;
    if (f.attrs) patch.attrs = f.attrs;
    const claimed = Object.keys(f.lastIds);
    // The upgrade read the site a moment ago; a later hello on the same socket reads it again.
    const fresh = Date.now() - this.siteReadAt < SITE_FRESH_MS;
    const [site, , v0, metas] = await Promise.all([
      fresh ? null : getSite(c.cmd, this.site.id),
      updateVisitor(c.cmd, this.visitorId, patch),
      f.user ? null : getVisitor(c.cmd, this.visitorId),
      Promise.all(claimed.map((id) => getMeta(c.cmd, id))),
    ]);
    if (site) this.site = site;
    this.siteReadAt = 0;
    let v = v0;
    if (f.user) {
      await this.identify(f.user).catch((e) => this.fail(e));
      v = await getVisitor(c.cmd, this.visitorId);
    }
    const byId = new Map<string, ConvMeta | null>(claimed.map((id, i) => [id, metas[i] ?? null]));
    let extra = v?.conv;
    if (!extra) extra = (await c.cmd.zrange(K.visitorConvs(this.visitorId), -1, -1))[0];
    if (extra && !byId.has(extra)) byId.set(extra, await getMeta(c.cmd, extra));
    const mine = [...byId.values()].filter((m): m is ConvMeta => !!m && m.visitor === this.visitorId);
    const inHours = inBusinessHours(this.site.hours);
    const [convs, available] = await Promise.all([
      Promise.all(
        mine.map(async (m) => {
          await this.follow(m.id);
          return visitorConv(c.cmd, m);
        }),
      ),
      inHours ? anyOperatorAvailableShared(c.cmd, this.site.id) : false,
    ]);
    // The catch-up is read before anything is sent, so the welcome, the missed entries and
    // `synced` (sent by syncHello right after this returns) leave in one write.
    const firstPages = await Promise.all(convs.map((vc) => readEntries(c.cmd, vc.id, f.lastIds[vc.id] ?? '')));
    this.corkUntilTick();
    const welcome: ServerToVisitor = { type: 'welcome', visitorId: this.visitorId, site: publicSiteConfig(this.site, available, inHours), convs };
    if (v?.name) welcome.name = v.name;
    if (v?.email) welcome.email = v.email;
    this.send(welcome);
    if (!this.watchingAvailability) {
      this.watchingAvailability = true;
      this.ctx.queues.watchAvailability(this.site.id, this, { available, inHours });
    }
    for (const [i, vc] of convs.entries()) {
      await this.catchUp(vc.id, f.lastIds[vc.id] ?? '', mine[i]?.opSeen ?? null, firstPages[i]);
      this.trackQueue(vc);
    }
  }

  /** Sends the entries after `after`; then the operator's read mark (`seen`: known already, or undefined to read it). */
  private async catchUp(conv: string, after: string, seen?: string | null, firstPage?: Entry[]): Promise<void> {
    let cursor = after;
    for (let page = firstPage; ; page = undefined) {
      const entries = page ?? (await readEntries(this.ctx.c.cmd, conv, cursor));
      for (const e of entries) {
        const sent = this.lastSent.get(conv);
        if (sent && compareStreamIds(e.id, sent) <= 0) continue;
        this.lastSent.set(conv, e.id);
        this.writeEntry(conv, e.id, visitorFrame(e));
      }
      const last = entries.at(-1);
      // A short page is the end (saves a round trip that would read nothing).
      if (!last || entries.length < CATCHUP_PAGE) break;
      cursor = last.id;
    }
    const opSeen = seen === undefined ? await this.ctx.c.cmd.hget(K.conv(conv), 'opSeen') : seen;
    if (opSeen) this.send({ type: 'seen', conv, id: opSeen } satisfies ServerToVisitor);
  }

  private async follow(conv: string): Promise<void> {
    // A frame still in the chain, or a doorbell, after the socket closed: onClose already released its follows.
    if (this.follows.has(conv) || this.closed) return;
    this.follows.add(conv);
    await this.ctx.hub.followConv(conv, this);
    if (this.closed) this.ctx.hub.unfollowConv(conv, this);
  }

  /**
   * The visitor's open conversation, created if there is none. `cached` (the send path) trusts
   * the one this socket last used, saving a read per message: the append script refuses a
   * visitor's message into a resolved conversation, and store() then asks again.
   */
  private async openConv(cached = false): Promise<{ conv: string; created: boolean }> {
    if (cached && this.openId && this.follows.has(this.openId)) return { conv: this.openId, created: false };
    const r = await ensureOpenConv(this.ctx.c.cmd, this.site.id, this.visitorId, this.site.team);
    if (!this.follows.has(r.conv)) {
      // Another tab may already have written into it (even into one this socket just created,
      // before its subscription was live): follow and send what the stream holds.
      await this.followFromStart(r.conv);
      if (r.created) await publish(this.ctx.c, K.visitorChannel(this.visitorId), `n${r.conv}`);
    }
    this.openId = r.conv;
    return r;
  }

  /** Follows a conversation and sends what it already holds; live entries wait so nothing is skipped or sent twice. */
  private async followFromStart(conv: string): Promise<void> {
    // Checked before any await: the 'n' doorbell and this socket's own send may race to follow.
    if (this.follows.has(conv)) return;
    const from = this.lastSent.get(conv) ?? '';
    this.beginSync();
    try {
      await this.follow(conv);
      await this.catchUp(conv, from);
    } finally {
      this.endSync();
    }
  }

  private async onSend(cid: string, raw: string, re: boolean): Promise<void> {
    const text = checkText(raw);
    if (!this.msgs.take() || !this.siteBucket.take()) throw new HarkError('RATE_LIMITED');
    if (re && (await this.ackStored(cid))) return;
    const { conv } = await this.openConv(true);
    await this.store(conv, cid, text);
  }

  /**
   * A possible resend (`re`) is looked for in the visitor's RESEND_LOOKBACK latest conversations
   * and acknowledged where it is stored. The append script's cid check covers only the conversation
   * a message lands in: a message stored just before the socket died (ack lost) and resent after its
   * conversation was resolved would otherwise start the next one as a second copy. Two round trips,
   * on resends only.
   */
  private async ackStored(cid: string): Promise<boolean> {
    const { cmd } = this.ctx.c;
    const recent = await cmd.zrange(K.visitorConvs(this.visitorId), -RESEND_LOOKBACK, -1);
    const ids = await Promise.all(recent.map((conv) => cmd.hget(K.convCids(conv), cid)));
    const i = ids.findIndex((id) => id !== null);
    const conv = recent[i];
    const id = ids[i];
    if (!conv || !id) return false;
    if (!this.follows.has(conv)) {
      // A conversation this socket was not told about (the hello did not name it): its state and
      // its entries first, as for one the welcome lists, so the client knows where the ack points.
      await this.refreshConv(conv);
      await this.followFromStart(conv);
    }
    this.sendAck(conv, id, { type: 'ack', cid, conv, id } satisfies ServerToVisitor);
    return true;
  }

  private async store(conv: string, cid: string, text: string): Promise<void> {
    const t0 = performance.now();
    const entry = { conv, at: Date.now(), kind: 'msg' as const, from: 'visitor' as const, text, cid };
    let r = await appendEntry(this.ctx.c, entry, 'visitor');
    if (r.status === 'resolved' && !r.id) {
      // Resolved since this socket last wrote: the message starts the visitor's next conversation.
      this.openId = null;
      entry.conv = (await this.openConv()).conv;
      r = await appendEntry(this.ctx.c, entry, 'visitor');
      if (!r.id) throw new HarkError('CONFLICT', 'The conversation ended; send again.');
    }
    this.ctx.metrics.delivery.observe((performance.now() - t0) / 1000);
    if (r.stored) this.ctx.metrics.messages.inc({ from: 'visitor' });
    this.sendAck(entry.conv, r.id, { type: 'ack', cid, conv: entry.conv, id: r.id } satisfies ServerToVisitor);
    // The append script answers the conversation's status (was a second round trip, an HGET).
    if (r.status === 'new') await this.ctx.router.route(this.site.id, entry.conv, this.site.team);
  }

  // ------------------------------------------------------------ fan-out (hub → this socket)
  onEntry(e: Entry): void {
    if (!this.follows.has(e.conv)) return;
    this.deliverEntry(e.conv, e.id, visitorFrame(e));
  }

  onConvSignal(conv: string, kind: string, body: string): void {
    if (!this.follows.has(conv)) return;
    if (!this.helloDone) {
      if (kind === 'c') (this.changedInHello ??= new Set()).add(conv);
      return;
    }
    if (kind === 'c') {
      void this.refreshConv(conv).catch((e) => this.onInternalError(e));
      return;
    }
    let b: { by?: string; on?: boolean; id?: string; op?: { id: string; name: string } };
    try {
      b = JSON.parse(body);
    } catch {
      return;
    }
    if (b.by !== 'operator') return;
    if (kind === 't') this.send({ type: 'typing', conv, on: !!b.on, ...(b.op ? { op: b.op } : {}) } satisfies ServerToVisitor);
    else if (kind === 's' && b.id) this.send({ type: 'seen', conv, id: b.id } satisfies ServerToVisitor);
  }

  /** After the subscriber reconnected: doorbells may have been missed. */
  onResync(): void {
    void this.refreshAllRetrying().catch((e) => this.onInternalError(e));
  }

  /** refreshAll, tried again while Redis is still away (a missed doorbell is not sent again). */
  private async refreshAllRetrying(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.refreshAll();
      } catch (e) {
        if (this.closed || attempt >= RESYNC_RETRIES) throw e;
        await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** attempt)));
      }
    }
  }

  /** A doorbell on this visitor's own channel: a conversation another tab created ('n'), or shut down ('x'). */
  onSignal(p: string): void {
    if (p.startsWith('n')) {
      void this.adopt(p.slice(1)).catch((e) => this.onInternalError(e));
    } else if (p === 'x') {
      this.fail(new HarkError('VISITOR_TOKEN_INVALID', 'This visitor was shut down.'));
    }
  }

  /** Starts following a conversation of this visitor that another tab created. */
  private async adopt(conv: string): Promise<void> {
    if (this.follows.has(conv)) return;
    const m = await getMeta(this.ctx.c.cmd, conv);
    if (!m || m.visitor !== this.visitorId || this.follows.has(conv)) return;
    this.send({ type: 'conv', conv: await visitorConv(this.ctx.c.cmd, m) } satisfies ServerToVisitor);
    await this.followFromStart(conv);
  }

  private async refreshConv(conv: string): Promise<void> {
    const m = await getMeta(this.ctx.c.cmd, conv);
    if (!m) return;
    const vc = await visitorConv(this.ctx.c.cmd, m);
    this.send({ type: 'conv', conv: vc } satisfies ServerToVisitor);
    this.trackQueue(vc);
  }

  /** After the subscriber reconnected: doorbells may have been missed, including a new conversation from another tab. */
  private async refreshAll(): Promise<void> {
    const open = await this.ctx.c.cmd.hget(K.visitor(this.visitorId), 'conv');
    if (open) await this.adopt(open);
    for (const conv of this.follows) await this.refreshConv(conv);
  }

  private trackQueue(vc: VisitorConv): void {
    if (vc.status === 'queued' && vc.position) (this.positions ??= new Map()).set(vc.id, vc.position);
    else this.positions?.delete(vc.id);
    const need = !!this.positions?.size;
    if (!need) this.positions = null;
    if (need && !this.watchingQueue) this.ctx.queues.watch(this.site.id, this);
    else if (!need && this.watchingQueue) this.ctx.queues.unwatch(this.site.id, this);
    this.watchingQueue = need;
  }

  /** An operator came online or everyone left: the widget switches between chat and leave-a-message. */
  onAvailability(available: boolean, inHours: boolean): void {
    this.send({ type: 'site', site: publicSiteConfig(this.site, available, inHours) } satisfies ServerToVisitor);
  }

  onPositions(all: Map<string, number>): void {
    if (!this.positions) return;
    for (const [conv, pos] of this.positions) {
      const now = all.get(conv);
      if (now === undefined || now === pos) continue;
      this.positions.set(conv, now);
      this.send({ type: 'conv', conv: { id: conv, status: 'queued', position: now } } satisfies ServerToVisitor);
    }
  }
}

const EMAIL_RE = /^[^\s@]{1,64}@[^\s@]{1,255}\.[^\s@]{2,}$/;
export function checkEmail(email: string): string {
  const e = email.trim();
  if (!EMAIL_RE.test(e)) throw new HarkError('BAD_REQUEST', 'Enter a valid e-mail address.');
  return e;
}
