/**
 * One operator's console socket. The session cookie was checked in the upgrade
 * hook. Every action checks the same rules as the REST routes: site membership,
 * and for a conversation, canSee / canWrite.
 */
import { type ConvSummary, type Entry, HarkError, type OperatorToServer, type ServerToOperator } from '@hark/shared';
import { checkText, parseOperatorToServer } from '@hark/shared/parse';
import type { WebSocket } from 'ws';
import { publish } from '../redis/publish';
import { type ConvMeta, appendEntry, decodeEntry, eventEntry, getMeta, readEntries, readEntriesBefore } from '../store/conversations';
import { K } from '../store/keys';
import { type Operator, canSeeSite, getOperator, isSupervisor, updateOperator } from '../store/operators';
import { Conn } from './conn';
import type { Ctx } from './context';
import type { Gateway } from './gateway';
import type { ChannelListener } from './hub';

/** Whether an operator may read a conversation (any state): the one rule for sockets and REST. */
export function canRead(op: Operator, m: Pick<ConvMeta, 'site' | 'status' | 'op' | 'joined'>): boolean {
  if (!canSeeSite(op, m.site)) return false;
  if (isSupervisor(op)) return true;
  return m.status === 'queued' || m.status === 'new' || m.op === op.id || m.joined.includes(op.id);
}

export class OperatorConn extends Conn<OperatorToServer> {
  private readonly opListener: ChannelListener;

  constructor(
    private readonly ctx: Ctx,
    private readonly gw: Gateway,
    ws: WebSocket,
    public me: Operator,
    readonly sessionHash: string,
  ) {
    super(ws, ctx.metrics, 'operator');
    ctx.metrics.operators.inc();
    this.opListener = { onSignal: (p) => this.onOperatorSignal(p) };
    void ctx.hub.listen(K.operatorChannel(me.id), this.opListener).catch((e) => this.fail(e));
  }

  protected override onInternalError(e: unknown): void {
    this.ctx.log.error({ err: e, op: this.me.id }, 'operator socket error');
  }

  protected onClose(): void {
    this.ctx.metrics.operators.dec();
    this.ctx.hub.unlisten(K.operatorChannel(this.me.id), this.opListener);
    this.gw.removeOperator(this);
  }

  canSee(s: ConvSummary): boolean {
    if (!canSeeSite(this.me, s.site)) return false;
    if (isSupervisor(this.me)) return true;
    return s.status === 'queued' || s.operator?.id === this.me.id;
  }

  protected parse(raw: string): OperatorToServer {
    return parseOperatorToServer(raw);
  }


  private async conv(id: string): Promise<ConvMeta> {
    const m = await getMeta(this.ctx.c.cmd, id);
    if (!m || !canRead(this.me, m)) throw new HarkError('CONVERSATION_NOT_FOUND');
    return m;
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
      const cmd = this.ctx.c.cmd;
      const id = await cmd.hget(K.convCids(conv), cid);
      const row = id ? (await cmd.xrange(K.convStream(conv), id, id))[0] : undefined;
      const stored = row ? decodeEntry(conv, row[0], row[1]) : null;
      if (stored && stored.op?.id === this.me.id) return stored.id;
      throw e;
    }
  }

  private ackStored(conv: string, cid: string, id: string): void {
    this.sendAck(conv, id, { type: 'ack', cid, conv, id } satisfies ServerToOperator);
  }

  /** The assignee, a joined colleague, or a supervisor may act on a conversation. */
  private canWrite(m: ConvMeta): boolean {
    return m.op === this.me.id || m.joined.includes(this.me.id) || isSupervisor(this.me);
  }

  private ref() {
    return { id: this.me.id, name: this.me.name, ...(this.me.avatar ? { avatar: this.me.avatar } : {}) };
  }

  protected async handle(f: OperatorToServer): Promise<void> {
    const { c, router } = this.ctx;
    switch (f.type) {
      case 'hello':
        return this.onHello(f.lastIds);
      case 'status':
        return this.gw.setStatus(this.me.id, f.status);
      case 'open': {
        const m = await this.conv(f.conv);
        const { entries, more } = await readEntriesBefore(c.cmd, f.conv, f.before ?? '');
        this.send({ type: 'history', conv: m.id, entries, more } satisfies ServerToOperator);
        return;
      }
      case 'send': {
        const text = checkText(f.text);
        const entry = { conv: f.conv, at: Date.now(), kind: 'msg' as const, from: 'operator' as const, text, cid: f.cid, op: this.ref() };
        // The common case, answering one's own open conversation, is authorised from the site
        // view without a read; the append script checks the same again atomically and refuses
        // (id '') if it changed meanwhile, and the full check below then answers why.
        const s = this.gw.summaryFor(this, f.conv);
        let r = s && s.status === 'open' && s.operator?.id === this.me.id ? await appendEntry(c, entry, 'operator', this.me.id) : null;
        let m: Pick<ConvMeta, 'site' | 'queuedAt' | 'createdAt'> | undefined = s ?? undefined;
        if (!r?.id) {
          const full = await this.orStored(f.conv, f.cid, () => this.conv(f.conv));
          if (typeof full === 'string') return this.ackStored(f.conv, f.cid, full);
          if (full.status === 'resolved') throw new HarkError('CONVERSATION_RESOLVED');
          if (full.op !== this.me.id && !full.joined.includes(this.me.id)) throw new HarkError('FORBIDDEN', 'Take or join the conversation before writing in it.');
          m = full;
          r = await appendEntry(c, entry, 'operator', this.me.id);
          if (!r.id) throw new HarkError('CONFLICT', 'The conversation changed meanwhile; send again.');
        }
        if (r.stored) this.ctx.metrics.messages.inc({ from: 'operator' });
        this.sendAck(f.conv, r.id, { type: 'ack', cid: f.cid, conv: f.conv, id: r.id } satisfies ServerToOperator);
        if (r.firstResponse && m) {
          await router.doorbell(m.site, f.conv);
          await this.ctx.hooks.firstResponse(m.site, this.me.id, f.conv, Date.now() - (m.queuedAt ?? m.createdAt));
        }
        return;
      }
      case 'note': {
        const text = checkText(f.text);
        const m = await this.orStored(f.conv, f.cid, () => this.conv(f.conv));
        if (typeof m === 'string') return this.ackStored(f.conv, f.cid, m);
        const r = await appendEntry(c, { conv: m.id, at: Date.now(), kind: 'note', text, cid: f.cid, op: this.ref() }, 'other');
        this.sendAck(m.id, r.id, { type: 'ack', cid: f.cid, conv: m.id, id: r.id } satisfies ServerToOperator);
        return;
      }
      case 'typing': {
        const m = await this.conv(f.conv);
        await publish(c, K.convChannel(m.id), `t${JSON.stringify({ by: 'operator', on: f.on, op: { id: this.me.id, name: this.me.name } })}`);
        return;
      }
      case 'seen': {
        const m = await this.conv(f.conv);
        if (!this.canWrite(m)) return;
        await c.cmd.hset(K.conv(m.id), 'opSeen', f.id);
        await publish(c, K.convChannel(m.id), `s${JSON.stringify({ by: 'operator', id: f.id, op: { id: this.me.id, name: this.me.name } })}`);
        return;
      }
      case 'take': {
        const m = await this.conv(f.conv);
        const r = await router.take(m.site, m.id, this.me.id);
        if (r.state !== 'assigned') throw new HarkError('CONFLICT', r.state === 'taken' ? 'A colleague already took this conversation.' : 'The conversation is not waiting.');
        return;
      }
      case 'resolve': {
        const m = await this.conv(f.conv);
        if (m.status === 'resolved') return;
        if (!this.canWrite(m)) throw new HarkError('FORBIDDEN');
        return this.gw.resolve(m);
      }
      case 'reopen': {
        const m = await this.conv(f.conv);
        if (m.status !== 'resolved') return;
        if (m.op !== this.me.id && !isSupervisor(this.me)) throw new HarkError('FORBIDDEN');
        const other = await c.cmd.hget(K.visitor(m.visitor), 'conv');
        if (other && other !== m.id) throw new HarkError('CONFLICT', 'The visitor already has another open conversation.');
        await c.cmd.hset(K.visitor(m.visitor), 'conv', m.id);
        await router.reopen(m.site, m.id, this.me.id);
        return;
      }
      case 'transfer': {
        const m = await this.conv(f.conv);
        if (m.status === 'resolved') throw new HarkError('CONVERSATION_RESOLVED');
        if (!this.canWrite(m) && m.status !== 'queued') throw new HarkError('FORBIDDEN');
        if (!f.to && f.team === undefined) throw new HarkError('BAD_REQUEST', 'Name an operator (to) or a team.');
        if (f.to) {
          const to = await getOperator(c.cmd, f.to);
          if (!to?.active || !canSeeSite(to, m.site)) throw new HarkError('NOT_FOUND', 'No such operator on this site.');
        }
        if (f.note?.trim()) {
          await appendEntry(c, { conv: m.id, at: Date.now(), kind: 'note', text: checkText(f.note), cid: `tr-${Date.now()}-${this.me.id}`, op: this.ref() }, 'other');
        }
        await router.transfer(m.site, m.id, f.to ? { op: f.to } : { team: f.team ?? '' });
        return;
      }
      case 'join': {
        const m = await this.conv(f.conv);
        if (!isSupervisor(this.me)) throw new HarkError('FORBIDDEN', 'Only supervisors can join a conversation.');
        if (m.joined.includes(this.me.id) || m.op === this.me.id) return;
        await c.cmd.hset(K.conv(m.id), 'joined', JSON.stringify([...m.joined, this.me.id]));
        await appendEntry(c, eventEntry(m.id, 'joined', { op: this.ref() }), 'other');
        await router.doorbell(m.site, m.id);
        return;
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
    const presence = await this.gw.presenceFor(this.me);
    // Read the chats only now, with no await before the welcome goes out: this socket already gets
    // `conv` frames, and a chat handed to a colleague during an await here would otherwise reach the
    // console as its own in a welcome older than that frame (chaos: an operator back from away kept
    // answering, refused, into a chat the sweeper had given away).
    const convs = views.flatMap((v) => v.visible(this));
    this.send({ type: 'welcome', me: this.gw.meOf(this.me), convs, operators: presence } satisfies ServerToOperator);
    for (const s of convs) {
      const after = lastIds[s.id];
      if (after === undefined) {
        if (s.last) this.lastSent.set(s.id, s.last.id);
        continue;
      }
      let cursor = after;
      for (;;) {
        const entries: Entry[] = await readEntries(this.ctx.c.cmd, s.id, cursor);
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

  private onOperatorSignal(p: string): void {
    if (p.startsWith('k')) {
      const which = p.slice(1);
      if (which === '*' || which.split(',').includes(this.sessionHash)) this.fail(new HarkError('NOT_AUTHENTICATED', 'Your session has ended; sign in again.'));
      return;
    }
    if (p.startsWith('s')) {
      void (async () => {
        const op = await getOperator(this.ctx.c.cmd, this.me.id);
        if (!op) return;
        if (!op.active) {
          this.fail(new HarkError('ACCOUNT_DISABLED'));
          return;
        }
        this.me = op;
        this.gw.reindex(this);
        this.send({ type: 'status', status: op.status } satisfies ServerToOperator);
      })().catch((e) => this.onInternalError(e));
    }
  }
}

export async function setOperatorStatusRecord(ctx: Ctx, id: string, status: Operator['status']): Promise<Operator> {
  return updateOperator(ctx.c.cmd, id, { status });
}
