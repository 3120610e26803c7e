/**
 * One operator's console socket. The session cookie was checked in the upgrade
 * hook. Transport only: each frame is parsed, checked against the policy
 * (domain/policy.ts) with the operator's current record, and handed to the
 * domain (domain/conversations.ts).
 */
import { type ConvSummary, type Entry, HarkError, type OperatorToServer, type ServerToOperator } from '@hark/shared';
import { checkText, parseOperatorToServer } from '@hark/shared/parse';
import type { WebSocket } from 'ws';
import type { ConvMeta } from '../domain/conversations';
import type { Operator } from '../domain/operators';
import { canRead, canSeeLive, canSeeSite } from '../domain/policy';
import type { OperatorListener, OperatorSignal } from '../domain/live';
import { Conn } from './conn';
import type { Ctx } from './context';
import type { Gateway } from './gateway';

/** The welcome carries chats up to about this many bytes; the rest follow as `conv` frames as the socket drains. */
export const WELCOME_CHUNK_BYTES = 256 * 1024;

function summaryBytes(s: ConvSummary | undefined): number {
  return s ? JSON.stringify(s).length : 0;
}

export class OperatorConn extends Conn<OperatorToServer> implements OperatorListener {
  constructor(
    private readonly ctx: Ctx,
    private readonly gw: Gateway,
    ws: WebSocket,
    public me: Operator,
    readonly sessionHash: string,
  ) {
    super(ws, ctx.metrics, 'operator');
    ctx.metrics.operators.inc();
    void ctx.hub.listen('operator', me.id, this).catch((e) => this.fail(e));
  }

  protected override onInternalError(e: unknown): void {
    this.ctx.log.error({ err: e, op: this.me.id }, 'operator socket error');
  }

  protected onClose(): void {
    this.ctx.metrics.operators.dec();
    this.ctx.hub.unlisten('operator', this.me.id, this);
    this.gw.removeOperator(this);
  }

  /** The live fan-out's check (site views ask it for every frame). */
  canSee(s: ConvSummary): boolean {
    return canSeeLive(this.me, s);
  }

  protected parse(raw: string): OperatorToServer {
    return parseOperatorToServer(raw);
  }

  private async conv(id: string): Promise<ConvMeta> {
    const m = await this.ctx.domain.conversations.meta(id);
    if (!m || !canRead(this.me, m)) throw new HarkError('CONVERSATION_NOT_FOUND');
    return m;
  }

  /**
   * The operator's record as it is now: rights taken away (a site, the role, the account)
   * apply to the very next command, not only once the change's doorbell arrives.
   */
  private async current(): Promise<Operator> {
    const op = await this.ctx.domain.operators.get(this.me.id);
    if (!op?.active) throw new HarkError('ACCOUNT_DISABLED');
    if (op.role !== this.me.role || op.sites.join() !== this.me.sites.join()) {
      this.applyRecord(op);
      throw new HarkError('RIGHTS_CHANGED');
    }
    this.me = op;
    return op;
  }

  /**
   * Runs `check`; if it refuses, and this operator's own message is already stored under `cid`
   * in `conv`, answers that entry's id instead. That is a resend whose first ack was lost (the
   * socket died) of a message stored before the conversation was handed to a colleague or
   * resolved: it was delivered, and refusing it would make the console show it as failed.
   */
  private async orStored<T>(conv: string, cid: string, check: () => Promise<T>): Promise<T | string> {
    try {
      return await check();
    } catch (e) {
      if (!(e instanceof HarkError)) throw e;
      const convs = this.ctx.domain.conversations;
      const stored = await convs.storedEntry(conv, cid);
      if (stored && stored.op?.id === this.me.id) {
        const m = await convs.meta(conv);
        if (m) await convs.rerecord(m.site, conv, cid);
        return stored.id;
      }
      throw e;
    }
  }

  private ackStored(conv: string, cid: string, id: string): void {
    this.sendAck(conv, id, { type: 'ack', cid, conv, id } satisfies ServerToOperator);
  }

  protected async handle(f: OperatorToServer): Promise<void> {
    const convs = this.ctx.domain.conversations;
    switch (f.type) {
      case 'hello':
        return this.onHello(f.lastIds);
      case 'status':
        await this.current();
        return this.ctx.domain.operators.setStatus(this.me.id, f.status);
      case 'open': {
        const m = await this.conv(f.conv);
        const { entries, more } = await convs.entriesBefore(f.conv, f.before ?? '');
        this.send({ type: 'history', conv: m.id, entries, more } satisfies ServerToOperator);
        return;
      }
      case 'send': {
        const text = checkText(f.text, !!f.files?.length);
        // The common case, answering one's own open conversation, is authorised from the site
        // view without reading the conversation or the operator; the append script checks the
        // assignment again atomically and refuses (id '') if it changed meanwhile, and the full
        // check below (with the operator's record read afresh) then answers why. Rights taken
        // away reach the append at once: taking a site from an operator, or deactivating them,
        // returns their chats there to the queue before the admin's request is answered
        // (domain/operators.ts refresh), so the assignment the script checks is already gone.
        const me = this.me;
        const s = this.gw.summaryFor(this, f.conv);
        // With attachments, always the full path: the files are bound to the message first.
        const fast = !f.files?.length && s && s.status === 'open' && s.operator?.id === me.id && canSeeSite(me, s.site);
        let r = fast ? await convs.postOperatorMessage(me, { id: f.conv, site: s.site, createdAt: s.createdAt, ...(s.queuedAt ? { queuedAt: s.queuedAt } : {}) }, f.cid, text) : null;
        let site = s?.site;
        if (!r?.id) {
          await this.current();
          const full = await this.orStored(f.conv, f.cid, () => this.conv(f.conv));
          if (typeof full === 'string') return this.ackStored(f.conv, f.cid, full);
          site = full.site;
          const files = f.files?.length ? await this.ctx.domain.files.attach({ op: this.me.id }, full.site, full.id, f.cid, f.files, false) : undefined;
          r = await convs.postOperatorMessageChecked(this.me, full, f.cid, text, files);
        }
        if (r.stored) this.ctx.metrics.messages.inc({ from: 'operator' });
        // Acknowledged once its event is recorded, without holding up this socket's next frame
        // (acks follow in order: the events are recorded in order on one connection).
        this.ackWhenRecorded(r.recorded, f.conv, r.id, f.cid, { type: 'ack', cid: f.cid, conv: f.conv, id: r.id } satisfies ServerToOperator);
        if (r.firstResponse && site) await convs.router.doorbell(site, f.conv);
        return;
      }
      case 'note': {
        const text = checkText(f.text, !!f.files?.length);
        const me = await this.current();
        const m = await this.orStored(f.conv, f.cid, () => this.conv(f.conv));
        if (typeof m === 'string') return this.ackStored(f.conv, f.cid, m);
        const files = f.files?.length ? await this.ctx.domain.files.attach({ op: me.id }, m.site, m.id, f.cid, f.files, true) : undefined;
        const r = await convs.postNote(me, m, f.cid, text, files);
        this.sendAck(m.id, r.id, { type: 'ack', cid: f.cid, conv: m.id, id: r.id } satisfies ServerToOperator);
        return;
      }
      case 'typing': {
        const m = await this.conv(f.conv);
        await convs.typing(m.id, { by: 'operator', on: f.on, op: { id: this.me.id, name: this.me.name } });
        return;
      }
      case 'seen': {
        const m = await this.conv(f.conv);
        return convs.operatorSeen(this.me, m, f.id);
      }
      case 'take': {
        await this.current();
        return convs.take(this.me, await this.conv(f.conv));
      }
      case 'resolve': {
        await this.current();
        return convs.resolveBy(this.me, await this.conv(f.conv));
      }
      case 'reopen': {
        await this.current();
        return convs.reopen(this.me, await this.conv(f.conv));
      }
      case 'transfer': {
        await this.current();
        const m = await this.conv(f.conv);
        const to = f.to ? { op: await this.ctx.domain.operators.get(f.to) } : f.team !== undefined ? { team: f.team } : {};
        return convs.transfer(this.me, m, to, f.note?.trim() ? checkText(f.note) : undefined);
      }
      case 'join': {
        await this.current();
        return convs.join(this.me, await this.conv(f.conv));
      }
      case 'watch':
        await this.conv(f.conv);
        return;
    }
  }

  private onHello(lastIds: Record<string, string>): Promise<void> {
    return this.syncHello(() => this.welcome(lastIds));
  }

  private async welcome(lastIds: Record<string, string>): Promise<void> {
    const views = await this.gw.viewsFor(this);
    const presence = await this.ctx.domain.operators.presenceFor(this.me);
    // Read the chats only now, with no await before the welcome goes out: this socket already gets
    // `conv` frames, and a chat handed to a colleague during an await here would otherwise reach the
    // console as its own in a welcome older than that frame (chaos: an operator back from away kept
    // answering, refused, into a chat the sweeper had given away).
    const convs = views.flatMap((v) => v.visible(this));
    // However large the inbox, it goes out in pieces the socket can take: the welcome with the
    // first WELCOME_CHUNK_BYTES of chats, the rest as `conv` frames once the buffer has drained
    // (one big frame past MAX_SOCKET_BUFFER_BYTES closed the console SLOW_CONSUMER on every
    // reconnect: SECURITY.md). A later piece sends each chat as its view holds it then: never
    // older than a frame this socket was already sent about it.
    let size = 0;
    let head = 0;
    while (head < convs.length && (head === 0 || size + summaryBytes(convs[head]) <= WELCOME_CHUNK_BYTES)) size += summaryBytes(convs[head++]);
    this.send({ type: 'welcome', me: this.ctx.domain.operators.me(this.me), convs: convs.slice(0, head), operators: presence } satisfies ServerToOperator);
    for (let i = head; i < convs.length; ) {
      await this.drained();
      for (let chunk = 0; i < convs.length && chunk < WELCOME_CHUNK_BYTES; ) {
        const now = this.gw.summaryFor(this, (convs[i++] as ConvSummary).id);
        if (!now || !this.canSee(now)) continue;
        const f = JSON.stringify({ type: 'conv', conv: now } satisfies ServerToOperator);
        chunk += f.length;
        this.sendRaw(f);
      }
    }
    for (const s of convs) {
      const after = lastIds[s.id];
      if (after === undefined) {
        if (s.last) this.lastSent.set(s.id, s.last.id);
        continue;
      }
      let cursor = after;
      for (;;) {
        const entries: Entry[] = await this.ctx.domain.conversations.entriesAfter(s.id, cursor);
        for (const e of entries) {
          this.lastSent.set(s.id, e.id);
          this.writeEntry(s.id, e.id, JSON.stringify({ type: 'entry', entry: e } satisfies ServerToOperator));
        }
        const last = entries.at(-1);
        if (!last) break;
        cursor = last.id;
      }
    }
  }

  /** After the gateway's subscriber reconnected: send the inbox again so nothing missed stays unseen. */
  resync(): void {
    if (!this.helloDone) return;
    for (const v of this.gw.viewsOf(this)) for (const s of v.visible(this)) this.send({ type: 'conv', conv: s } satisfies ServerToOperator);
  }

  onSignal(s: OperatorSignal): void {
    if (s.t === 'sessions-ended') {
      if (s.which === '*' || s.which.includes(this.sessionHash)) this.fail(new HarkError('NOT_AUTHENTICATED', 'Your session has ended; sign in again.'));
      return;
    }
    void (async () => {
      const op = await this.ctx.domain.operators.get(this.me.id);
      if (!op) return;
      if (!op.active) {
        this.fail(new HarkError('ACCOUNT_DISABLED'));
        return;
      }
      this.applyRecord(op);
      this.send({ type: 'status', status: op.status } satisfies ServerToOperator);
    })().catch((e) => this.onInternalError(e));
  }

  /**
   * The operator's record changed. A change of sites or role changes what this socket may see:
   * it is closed with RIGHTS_CHANGED (1012) and the console reconnects at once, getting a welcome
   * built for its new rights (nothing it may no longer see stays on screen or in the fan-out).
   */
  private applyRecord(op: Operator): void {
    const changed = op.role !== this.me.role || op.sites.join() !== this.me.sites.join();
    this.me = op;
    if (changed) this.fail(new HarkError('RIGHTS_CHANGED'));
    else this.gw.reindex(this);
  }
}
