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
  compareStreamIds,
  type VisitorConv,
  type VisitorToServer,
  toVisitorEntry,
} from '@hark/shared';
import { eachPage, retrying } from '@hark/shared/async';
import { checkText, parseVisitorToServer } from '@hark/shared/parse';
import type { WebSocket } from 'ws';
import type { ConvMeta } from '../domain/conversations';
import { visitorOwns } from '../domain/policy';
import type { Site } from '../domain/sites';
import type { VisitorPatch } from '../domain/visitors';
import type { ConvListener, ConvSignal, VisitorListener, VisitorSignal } from '../domain/live';
import { Conn } from './conn';
import type { Ctx } from './context';
import type { VisitorLimits } from './limits';
import type { AvailabilityListener, QueueListener } from './queue-watch';

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

export class VisitorConn extends Conn<VisitorToServer> implements ConvListener, VisitorListener, QueueListener, AvailabilityListener {
  private readonly follows = new Set<string>();
  /** Queue positions of this visitor's waiting conversations (made only while one waits). */
  private positions: Map<string, number> | null = null;
  private watchingQueue = false;
  private watchingAvailability = false;
  /** When `site` was read (the upgrade's read; 0 once a hello used it). */
  private siteReadAt = Date.now();
  /** Conversations whose state changed during the hello (refreshed once it is answered). */
  private changedInHello: Set<string> | null = null;
  /** The open conversation this socket last wrote into (see openConv). */
  private openId: string | null = null;
  /** This socket counts in the visitor's presence (it follows their open conversation): released on close. */
  private present = false;
  /** Counted among the visitor's open sockets (only a visitor with an e-mail is: answers follow them by e-mail when away, domain/mail.ts). */
  private mailTracked = false;

  constructor(
    private readonly ctx: Ctx,
    ws: WebSocket,
    private site: Site,
    readonly visitorId: string,
    private readonly ua: string,
    private readonly limits: VisitorLimits,
  ) {
    super(ws, ctx.metrics, 'visitor');
    ctx.metrics.visitors.inc();
    // The socket is its own channel listener (a separate object with two closures cost ~660 B per idle visitor).
    void ctx.hub.listen('visitor', visitorId, this).catch((e) => this.fail(e));
  }

  protected override onInternalError(e: unknown): void {
    this.ctx.log.error({ err: e, visitor: this.visitorId }, 'visitor socket error');
  }

  protected onClose(): void {
    this.ctx.metrics.visitors.dec();
    this.ctx.hub.unlisten('visitor', this.visitorId, this);
    this.limits.release();
    if (this.watchingQueue) this.ctx.queues.unwatch(this.site.id, this);
    if (this.watchingAvailability) this.ctx.queues.unwatchAvailability(this.site.id, this);
    for (const conv of this.follows) this.ctx.hub.unfollowConv(conv, this);
    this.follows.clear();
    if (this.present) this.ctx.domain.visitors.left(this.visitorId, (e) => this.onInternalError(e));
    if (this.mailTracked) void this.ctx.domain.mail.visitorSocket(this.visitorId, -1).catch((e) => this.onInternalError(e));
  }

  /** The visitor is on the site while a socket of theirs follows their open conversation (the console's presence dot). */
  private async arrive(conv: string, tell: boolean): Promise<void> {
    if (this.present || this.closed) return;
    this.present = true;
    await this.ctx.domain.visitors.arrived(this.site.id, this.visitorId, conv, tell);
  }

  /** The visitor has an e-mail: count this socket as theirs, so that answers are not e-mailed while they are here. */
  private async trackForMail(): Promise<void> {
    if (this.mailTracked || this.closed) return;
    this.mailTracked = true;
    await this.ctx.domain.mail.visitorSocket(this.visitorId, 1);
  }

  protected parse(raw: string): VisitorToServer {
    return parseVisitorToServer(raw);
  }


  protected async handle(f: VisitorToServer): Promise<void> {
    const { conversations: convs } = this.ctx.domain;
    switch (f.type) {
      case 'hello':
        return this.onHello(f);
      case 'send':
        return this.onSend(f.cid, f.text, f.re === true, f.files);
      case 'typing': {
        const conv = await convs.visitorOpenConv(this.visitorId);
        if (!conv) return;
        await convs.typing(conv, { by: 'visitor', on: f.on, ...(this.site.typingPreview && f.preview && f.on ? { preview: f.preview.slice(0, 500) } : {}) });
        return;
      }
      case 'seen': {
        await this.ownConv(f.conv);
        return convs.visitorSeen(f.conv, f.id);
      }
      case 'page':
        return this.patch({ page: f.page });
      case 'identify':
        return this.identify(f.user);
      case 'attrs':
        return this.patch({ attrs: f.attrs });
      case 'prechat':
        await this.patch({ name: f.name, email: checkEmail(f.email) });
        return this.trackForMail();
      case 'offline': {
        const text = checkText(f.text);
        const email = checkEmail(f.email);
        // The same limits as a chat message: the form is a message.
        this.limits.take();
        await this.patch({ email, ...(f.name ? { name: f.name } : {}) });
        await this.trackForMail();
        const { conv } = await this.openConv();
        const r = await convs.leaveOfflineMessage(this.site.id, conv, f.cid, text, email);
        return this.acked(conv, f.cid, r, true);
      }
      case 'rate': {
        return convs.rate(await this.ownConv(f.conv), f.rating, f.comment ?? '');
      }
      case 'transcript': {
        // The same limits as a message, then the mail's own (domain/mail.ts: own address only, bounded per visitor and per address).
        this.limits.take();
        const m = await this.ownConv(f.conv);
        const sent = await this.ctx.domain.mail.visitorTranscript(m, this.visitorId);
        this.send({ type: 'transcript', conv: m.id, to: sent.to } satisfies ServerToVisitor);
        return;
      }
      case 'history': {
        await this.ownConv(f.conv);
        const { entries, more } = await convs.entriesBefore(f.conv, f.before ?? '');
        this.send({ type: 'history', conv: f.conv, entries: entries.map(toVisitorEntry).filter((e): e is Entry => e !== null), more } satisfies ServerToVisitor);
        return;
      }
    }
  }

  /** The conversation, if it is this visitor's own; otherwise CONVERSATION_NOT_FOUND (same answer as for a missing one). */
  private async ownConv(conv: string): Promise<ConvMeta> {
    const m = await this.ctx.domain.conversations.meta(conv);
    if (!m || !visitorOwns({ id: this.visitorId, site: this.site.id }, m)) throw new HarkError('CONVERSATION_NOT_FOUND');
    return m;
  }

  private async patch(p: VisitorPatch): Promise<void> {
    const conv = await this.ctx.domain.conversations.visitorOpenConv(this.visitorId);
    await this.ctx.domain.visitors.update(this.site.id, this.visitorId, p, conv);
  }

  private async identify(u: Identity): Promise<void> {
    const conv = await this.ctx.domain.conversations.visitorOpenConv(this.visitorId);
    await this.ctx.domain.visitors.identify(this.site, this.visitorId, u, conv);
    // An identified user with an e-mail: answers follow them by e-mail when they are away.
    if (u.email) await this.trackForMail();
  }

  private async onHello(f: Extract<VisitorToServer, { type: 'hello' }>): Promise<void> {
    await this.syncHello(() => this.welcome(f));
    // A conversation whose state changed while the hello was being answered: its welcome may be older.
    const again = this.changedInHello;
    this.changedInHello = null;
    if (again && !this.closed) for (const conv of again) await this.refreshConv(conv);
  }

  private async welcome(f: Extract<VisitorToServer, { type: 'hello' }>): Promise<void> {
    const { conversations: convs, visitors, sites } = this.ctx.domain;
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
      fresh ? null : sites.get(this.site.id),
      visitors.update(this.site.id, this.visitorId, patch),
      f.user ? null : visitors.get(this.visitorId),
      Promise.all(claimed.map((id) => convs.meta(id))),
    ]);
    if (site) {
      this.site = site;
      this.limits.siteRate(site.msgsPerSec);
    }
    this.siteReadAt = 0;
    let v = v0;
    if (f.user) {
      await this.identify(f.user).catch((e) => this.fail(e));
      v = await visitors.get(this.visitorId);
    }
    if (v?.email) await this.trackForMail();
    const byId = new Map<string, ConvMeta | null>(claimed.map((id, i) => [id, metas[i] ?? null]));
    let extra = v?.conv;
    if (!extra) extra = await convs.visitorLatest(this.visitorId);
    if (extra && !byId.has(extra)) byId.set(extra, await convs.meta(extra));
    const mine = [...byId.values()].filter((m): m is ConvMeta => !!m && m.visitor === this.visitorId);
    // With an open conversation the site's operators see this visitor: on the site, on this page.
    if (v?.conv) {
      await this.arrive(v.conv, false);
      await visitors.changed(this.site.id, v.conv);
    }
    const inHours = sites.inHours(this.site);
    const [views, available] = await Promise.all([
      Promise.all(
        mine.map(async (m) => {
          await this.follow(m.id);
          return convs.visitorView(m);
        }),
      ),
      inHours ? sites.available(this.site.id, true) : false,
    ]);
    // The catch-up is read before anything is sent, so the welcome, the missed entries and
    // `synced` (sent by syncHello right after this returns) leave in one write.
    const firstPages = await Promise.all(views.map((vc) => convs.entriesAfter(vc.id, f.lastIds[vc.id] ?? '')));
    this.corkUntilTick();
    const welcome: ServerToVisitor = { type: 'welcome', visitorId: this.visitorId, site: sites.config(this.site, available, inHours), convs: views };
    if (v?.name) welcome.name = v.name;
    if (v?.email) welcome.email = v.email;
    this.send(welcome);
    if (!this.watchingAvailability) {
      this.watchingAvailability = true;
      this.ctx.queues.watchAvailability(this.site.id, this, { available, inHours });
    }
    for (const [i, vc] of views.entries()) {
      await this.catchUp(vc.id, f.lastIds[vc.id] ?? '', mine[i]?.opSeen ?? null, firstPages[i]);
      this.trackQueue(vc);
    }
  }

  /** Sends the entries after `after`; then the operator's read mark (`seen`: known already, or undefined to read it). */
  private async catchUp(conv: string, after: string, seen?: string | null, firstPage?: Entry[]): Promise<void> {
    const convs = this.ctx.domain.conversations;
    await eachPage(
      (cursor) => convs.entriesAfter(conv, cursor),
      after,
      (entries) => {
        for (const e of entries) {
          const sent = this.lastSent.get(conv);
          if (sent && compareStreamIds(e.id, sent) <= 0) continue;
          this.lastSent.set(conv, e.id);
          this.writeEntry(conv, e.id, visitorFrame(e));
        }
      },
      CATCHUP_PAGE,
      firstPage,
    );
    const opSeen = seen === undefined ? await convs.operatorReadMark(conv) : seen;
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
    const convs = this.ctx.domain.conversations;
    // Starting a conversation is limited per source address (a visitor has one open at a time).
    if (!(await convs.visitorOpenConv(this.visitorId))) {
      this.limits.newConversation();
      // A site deleted while this socket was open starts no conversation.
      if (!(await this.ctx.domain.sites.exists(this.site.id))) throw new HarkError('UNKNOWN_SITE');
    }
    const r = await convs.open(this.site.id, this.visitorId, this.site.team);
    if (!this.follows.has(r.conv)) {
      // Another tab may already have written into it (even into one this socket just created,
      // before its subscription was live): follow and send what the stream holds.
      await this.followFromStart(r.conv);
      if (r.created) await this.ctx.domain.visitors.announceConversation(this.visitorId, r.conv);
    }
    await this.arrive(r.conv, true);
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

  private async onSend(cid: string, raw: string, re: boolean, files?: string[]): Promise<void> {
    const text = checkText(raw, !!files?.length);
    if (re && (await this.ackStored(cid))) return;
    this.limits.take();
    const { conv } = await this.openConv(true);
    await this.store(conv, cid, text, files);
  }

  /**
   * A possible resend (`re`) is looked for in the visitor's RESEND_LOOKBACK latest conversations
   * and acknowledged where it is stored. The append script's cid check covers only the conversation
   * a message lands in: a message stored just before the socket died (ack lost) and resent after its
   * conversation was resolved would otherwise start the next one as a second copy. Two round trips,
   * on resends only.
   */
  private async ackStored(cid: string): Promise<boolean> {
    const found = await this.ctx.domain.conversations.findVisitorMessage(this.visitorId, cid, RESEND_LOOKBACK);
    if (!found) return false;
    const { conv, id } = found;
    await this.ctx.domain.conversations.rerecord(this.site.id, conv, cid);
    if (!this.follows.has(conv)) {
      // A conversation this socket was not told about (the hello did not name it): its state and
      // its entries first, as for one the welcome lists, so the client knows where the ack points.
      await this.refreshConv(conv);
      await this.followFromStart(conv);
    }
    this.sendAck(conv, id, { type: 'ack', cid, conv, id } satisfies ServerToVisitor);
    return true;
  }

  private async store(conv: string, cid: string, text: string, ids?: string[]): Promise<void> {
    const t0 = performance.now();
    const convs = this.ctx.domain.conversations;
    const attach = (c: string, movedFrom?: string) => (ids?.length ? this.ctx.domain.files.attach({ visitor: this.visitorId }, this.site.id, c, cid, ids, false, movedFrom) : Promise.resolve(undefined));
    let at = conv;
    let r = await convs.postVisitorMessage(this.site.id, at, cid, text, await attach(at));
    if (r.status === 'resolved' && !r.id) {
      // Resolved since this socket last wrote: the message starts the visitor's next conversation.
      this.openId = null;
      const was = at;
      at = (await this.openConv()).conv;
      r = await convs.postVisitorMessage(this.site.id, at, cid, text, await attach(at, was));
      if (!r.id) throw new HarkError('CONFLICT', 'The conversation ended; send again.');
    }
    this.ctx.metrics.delivery.observe((performance.now() - t0) / 1000);
    return this.acked(at, cid, r);
  }

  /**
   * Acknowledges a stored message once its event is recorded (without holding up this socket's
   * next frame); a conversation's first routes it (assigns it or queues it).
   */
  private async acked(conv: string, cid: string, r: { id: string; stored: boolean; status: string; recorded?: Promise<void> }, offline = false): Promise<void> {
    if (!r.id) throw new HarkError('CONFLICT', 'The conversation ended; send again.');
    if (r.stored) this.ctx.metrics.messages.inc({ from: 'visitor' });
    const ack = { type: 'ack', cid, conv, id: r.id } satisfies ServerToVisitor;
    if (r.recorded) this.ackWhenRecorded(r.recorded, conv, r.id, cid, ack);
    else this.sendAck(conv, r.id, ack);
    // The append script answers the conversation's status (was a second round trip, an HGET).
    const convs = this.ctx.domain.conversations;
    if (r.status === 'new') await convs.route(this.site.id, conv, this.site.team, offline);
    // A chat message into an offline message still waiting: the visitor is back, it becomes a live chat.
    else if (r.status === 'queued' && !offline && r.stored) await convs.goLiveIfOffline(this.site.id, conv, this.site.team);
  }

  // ------------------------------------------------------------ fan-out (hub → this socket)
  onEntry(e: Entry): void {
    if (!this.follows.has(e.conv)) return;
    this.deliverEntry(e.conv, e.id, visitorFrame(e));
  }

  onConvSignal(conv: string, s: ConvSignal): void {
    if (!this.follows.has(conv)) return;
    if (!this.helloDone) {
      if (s.t === 'changed') (this.changedInHello ??= new Set()).add(conv);
      return;
    }
    if (s.t === 'changed') {
      void this.refreshConv(conv).catch((e) => this.onInternalError(e));
      return;
    }
    if (s.body.by !== 'operator') return;
    if (s.t === 'typing') this.send({ type: 'typing', conv, on: !!s.body.on, ...(s.body.op ? { op: s.body.op } : {}) } satisfies ServerToVisitor);
    else this.send({ type: 'seen', conv, id: s.body.id } satisfies ServerToVisitor);
  }

  /** After the subscriber reconnected: doorbells may have been missed. */
  onResync(): void {
    void this.refreshAllRetrying().catch((e) => this.onInternalError(e));
  }

  /** refreshAll, tried again while Redis is still away (a missed doorbell is not sent again). */
  private refreshAllRetrying(): Promise<void> {
    return retrying(() => this.refreshAll(), { retries: RESYNC_RETRIES, capMs: 2_000, stop: () => this.closed });
  }

  /** A doorbell on this visitor's own channel: a conversation another tab created, or the visitor's data erased (domain/privacy.ts). */
  onSignal(s: VisitorSignal): void {
    if (s.t === 'erased') {
      // Their token is gone too: the widget's reconnect is refused and it starts over with a new one.
      this.fail(new HarkError('VISITOR_TOKEN_INVALID', 'This visitor’s data was erased; start over with a new token.'), undefined, true);
      return;
    }
    void this.adopt(s.conv).catch((e) => this.onInternalError(e));
  }

  /** Starts following a conversation of this visitor that another tab created. */
  private async adopt(conv: string): Promise<void> {
    if (this.follows.has(conv)) return;
    const convs = this.ctx.domain.conversations;
    const m = await convs.meta(conv);
    if (!m || m.visitor !== this.visitorId || this.follows.has(conv)) return;
    this.send({ type: 'conv', conv: await convs.visitorView(m) } satisfies ServerToVisitor);
    await this.followFromStart(conv);
  }

  private async refreshConv(conv: string): Promise<void> {
    const convs = this.ctx.domain.conversations;
    const m = await convs.meta(conv);
    if (!m) return;
    const vc = await convs.visitorView(m);
    this.send({ type: 'conv', conv: vc } satisfies ServerToVisitor);
    this.trackQueue(vc);
  }

  /** After the subscriber reconnected: doorbells may have been missed, including a new conversation from another tab. */
  private async refreshAll(): Promise<void> {
    const open = await this.ctx.domain.conversations.visitorOpenConv(this.visitorId);
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
    this.send({ type: 'site', site: this.ctx.domain.sites.config(this.site, available, inHours) } satisfies ServerToVisitor);
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
