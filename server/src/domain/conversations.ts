/**
 * Conversations: every change a person makes to one happens here, and only here,
 * whoever asks (a socket, REST, a job): post a visitor's message, an operator's
 * message or note, take, transfer, join, resolve, reopen, rate, leave an offline
 * message. Each records its domain event (domain/events.ts) before it returns, so
 * whatever the caller acknowledges is in the event log.
 *
 * Access is the caller's to check with domain/policy.ts before calling; the
 * operations re-check what must hold atomically (the append script's guard).
 */
import { type ConvSummary, type Entry, type FileRef, HarkError, type Rating, VISITOR_BURST, VISITOR_MSGS_PER_SEC, type VisitorConv, randomId } from '@hark/shared';
import {
  type AppendRole,
  type ConvIndex,
  type ConvMeta,
  appendEntry,
  cidIn,
  convIndexPage,
  clearVisitorOpenConv,
  delMeta,
  ensureOpenConv,
  eventEntry,
  getMeta,
  getMetaField,
  latestVisitorConvs,
  readEntries,
  readEntriesBefore,
  setMeta,
  setVisitorOpenConv,
  siteAssignments,
  siteOpenConvs,
  siteQueue,
  siteResolvedConvs,
  storedEntry,
  summary,
  visitorConv,
  visitorConvsNewestFirst,
  visitorOpenConv,
} from '../store/conversations';
import type { Operator } from '../store/operators';
import { getVisitor, keepToken } from '../store/visitors';
import { type TypingBody, convSignal } from '../store/signals';
import { fusedEvent } from '../store/event-log';
import type { Deps } from './deps';
import type { EventInput } from './events';
import { canAct, canJoin, canList, canReopen, canSeeSite, canWrite } from './policy';
import type { RouteState, Router } from './routing';

export type { ConvMeta } from '../store/conversations';

const RECORDED: Promise<void> = Promise.resolve();

/** A message appended whose event may still be on its way to the log (`recorded`). */
export interface Recording extends Posted {
  recorded: Promise<void>;
}

export interface Posted {
  /** Stream id of the entry ('' when nothing was stored: the guard refused). */
  id: string;
  /** False when the client id was already stored (a resend): the id is the first one's. */
  stored: boolean;
  firstResponse: boolean;
  status: ConvMeta['status'] | '';
}

const VISITOR_RATE = { perSec: VISITOR_MSGS_PER_SEC, burst: VISITOR_BURST };

type OpRef = { id: string; name: string };
/** Who wrote an entry: id and name only (the photo is the conversation's `opAvatar`, never copied into entries). */
export function opRef(op: Pick<Operator, 'id' | 'name'>): OpRef {
  return { id: op.id, name: op.name };
}

/**
 * The event a message or note records (`message.created`, `note.created`; null for other entries),
 * with its deterministic id `<idPrefix><entry id>`. Without `entryId` (not known before the append),
 * the entry field is left empty for store/event-log.ts fusedEvent to fill in the script.
 */
function entryEvent(site: string, entry: Omit<Entry, 'id'>, entryId = ''): { input: EventInput & { entry: string }; idPrefix: string; id: string } | null {
  const conv = entry.conv;
  let input: EventInput & { entry: string };
  let idPrefix: string;
  if (entry.kind === 'note') {
    input = { type: 'note.created', site, conv, entry: entryId, op: entry.op?.id ?? '' };
    idPrefix = `note:${conv}:`;
  } else if (entry.kind === 'msg') {
    input = { type: 'message.created', site, conv, by: entry.from === 'operator' ? 'operator' : 'visitor', entry: entryId, ...(entry.cid ? { cid: entry.cid } : {}), ...(entry.op ? { op: entry.op.id } : {}) };
    idPrefix = `msg:${conv}:`;
  } else return null;
  return { input, idPrefix, id: `${idPrefix}${entryId}` };
}

/** The `files` field of an entry that carries attachments (none: no field, as before). */
function withFiles(files: FileRef[] | undefined): { files?: FileRef[] } {
  return files?.length ? { files } : {};
}

export class Conversations {
  constructor(
    private readonly d: Deps,
    readonly router: Router,
  ) {}

  // ------------------------------------------------------------ reads
  meta(conv: string): Promise<ConvMeta | null> {
    return getMeta(this.d.c.cmd, conv);
  }
  summary(m: ConvMeta): Promise<ConvSummary> {
    return summary(this.d.c.cmd, m);
  }
  visitorView(m: ConvMeta): Promise<VisitorConv> {
    return visitorConv(this.d.c.cmd, m);
  }
  entriesAfter(conv: string, after: string, count?: number): Promise<Entry[]> {
    return readEntries(this.d.c.cmd, conv, after, count);
  }
  entriesBefore(conv: string, before: string, count?: number): Promise<{ entries: Entry[]; more: boolean }> {
    return readEntriesBefore(this.d.c.cmd, conv, before, count);
  }
  storedEntry(conv: string, cid: string): Promise<Entry | null> {
    return storedEntry(this.d.c.cmd, conv, cid);
  }
  /** The operator side's read mark (the last entry id they saw). */
  operatorReadMark(conv: string): Promise<string | null> {
    return getMetaField(this.d.c.cmd, conv, 'opSeen');
  }
  visitorOpenConv(visitor: string): Promise<string | null> {
    return visitorOpenConv(this.d.c.cmd, visitor);
  }
  /** The visitor's latest conversation (any state), if any. */
  async visitorLatest(visitor: string): Promise<string | undefined> {
    return (await latestVisitorConvs(this.d.c.cmd, visitor, 1))[0];
  }
  visitorConvs(visitor: string, n: number): Promise<string[]> {
    return visitorConvsNewestFirst(this.d.c.cmd, visitor, n);
  }
  siteOpen(site: string): Promise<string[]> {
    return siteOpenConvs(this.d.c.cmd, site);
  }
  siteResolved(site: string, n: number): Promise<string[]> {
    return siteResolvedConvs(this.d.c.cmd, site, n);
  }
  siteAssignments(site: string): Promise<Record<string, string>> {
    return siteAssignments(this.d.c.cmd, site);
  }
  siteQueue(site: string, n: number): Promise<string[]> {
    return siteQueue(this.d.c.cmd, site, n);
  }

  /**
   * The conversations an operator may list (domain/policy.ts canList): a site's open ones, its
   * latest resolved ones (`status: 'resolved'`), or one visitor's; `q` matches the visitor's
   * name or e-mail. At most `limit`.
   */
  async listFor(me: Operator, q: { status?: string; q?: string; site?: string; visitor?: string }, sites: string[], limit: number): Promise<ConvSummary[]> {
    const r = this.d.c.cmd;
    const mine = sites.filter((s) => canSeeSite(me, s) && (!q.site || q.site === s));
    const ids: string[] = [];
    if (q.visitor) {
      const v = await getVisitor(r, q.visitor);
      if (v && mine.includes(v.site)) ids.push(...(await visitorConvsNewestFirst(r, q.visitor, 100)));
    } else {
      for (const s of mine) ids.push(...(q.status === 'resolved' ? await siteResolvedConvs(r, s, 1000) : await siteOpenConvs(r, s)));
    }
    const needle = (q.q ?? '').trim().toLowerCase();
    const out: ConvSummary[] = [];
    for (const id of ids) {
      const m = await getMeta(r, id);
      if (!m || !canList(me, m)) continue;
      const s = await summary(r, m);
      if (q.status && q.status !== 'resolved' && s.status !== q.status) continue;
      if (needle && !`${s.visitor.name ?? ''} ${s.visitor.email ?? ''}`.toLowerCase().includes(needle)) continue;
      out.push(s);
      if (out.length >= limit) break;
    }
    return out;
  }

  /**
   * Where a visitor's possibly resent message (`cid`) is stored among their `lookback` latest
   * conversations: the append script's cid check covers only the conversation a message lands in.
   */
  async findVisitorMessage(visitor: string, cid: string, lookback: number): Promise<{ conv: string; id: string } | null> {
    const recent = await latestVisitorConvs(this.d.c.cmd, visitor, lookback);
    const ids = await cidIn(this.d.c.cmd, recent, cid);
    const i = ids.findIndex((id) => id !== null);
    const conv = recent[i];
    const id = ids[i];
    return conv && id ? { conv, id } : null;
  }

  // ------------------------------------------------------------ the visitor's side
  /** The visitor's open conversation, created when there is none (two tabs agree on one). */
  async open(site: string, visitor: string, team = ''): Promise<{ conv: string; created: boolean }> {
    const r = await ensureOpenConv(this.d.c.cmd, site, visitor, team);
    if (r.created) await keepToken(this.d.c.cmd, visitor);
    if (r.created) await this.d.emit({ type: 'conversation.created', site, conv: r.conv, visitor }, `created:${r.conv}`);
    return r;
  }

  /**
   * Appends a chat message or note once per client id, and starts recording its event
   * (message.created, again and idempotently for a resend; conversation.answered on an operator's
   * first reply). `recorded` settles once the event is in the log: acknowledge the message only
   * then. It is not awaited here, so a sender's next message can be appended meanwhile; events
   * are recorded in the order the messages were (one connection, in order).
   */
  private async post(site: string, entry: Omit<Entry, 'id'>, role: AppendRole, guard?: string, extra: { firstResponseMs?: (m: number) => number } = {}): Promise<Recording> {
    // On a single Redis the event is recorded by the append itself, in the same step (one round
    // trip, and the ack leaves with the entry); on a Cluster, and for a resend found stored or an
    // operator's first answer, it is recorded below.
    const planned = this.d.c.sharded ? null : entryEvent(site, entry);
    const fused = planned ? fusedEvent(planned.input, planned.idPrefix) : undefined;
    // A visitor's messages are limited per visitor across sockets and gateways, in the append itself.
    const r = await appendEntry(this.d.c, entry, role, guard, role === 'visitor' ? VISITOR_RATE : undefined, fused);
    if (!r.id) return { ...r, recorded: RECORDED };
    if (r.eventRecorded && fused && planned) {
      this.d.emitted?.(fused.partition, planned.input.type);
      return { ...r, recorded: RECORDED };
    }
    const ev = entryEvent(site, entry, r.id);
    if (!ev) return { ...r, recorded: RECORDED };
    let recorded: Promise<void>;
    const firstResponseMs = r.firstResponse && extra.firstResponseMs ? extra.firstResponseMs(entry.at) : undefined;
    const op = entry.op?.id;
    if (ev.input.type === 'message.created' && firstResponseMs !== undefined) {
      const created = this.d.emit({ ...ev.input, firstResponseMs }, ev.id);
      recorded = op ? Promise.all([created, this.d.emit({ type: 'conversation.answered', site, conv: entry.conv, op, firstResponseMs }, `answered:${entry.conv}`)]).then(() => undefined) : created;
    } else {
      recorded = this.d.emit(ev.input, ev.id);
    }
    // Awaited by whoever acknowledges; never an unhandled rejection meanwhile.
    recorded.catch(() => {});
    return { ...r, recorded };
  }

  /**
   * Records again (idempotently: the same event id) the event of a message found already stored
   * under its client id, before a resend of it is acknowledged: if the gateway that stored it died
   * before recording its event, the resend fills the gap.
   */
  async rerecord(site: string, conv: string, cid: string): Promise<void> {
    const e = await storedEntry(this.d.c.cmd, conv, cid);
    const ev = e?.kind === 'msg' ? entryEvent(site, e, e.id) : null;
    if (ev) await this.d.emit(ev.input, ev.id);
  }

  /** A visitor's message into their conversation `conv`; refused ('' id, status 'resolved') if it was resolved meanwhile. */
  postVisitorMessage(site: string, conv: string, cid: string, text: string, files?: FileRef[]): Promise<Recording> {
    return this.post(site, { conv, at: Date.now(), kind: 'msg', from: 'visitor', text, cid, ...withFiles(files) }, 'visitor');
  }

  /**
   * The leave-a-message form: the visitor's e-mail on the conversation, then the message. The
   * conversation is marked offline: routed to OFFLINE_QUEUE it waits in the queue without being
   * assigned by the drain (no operator seat) until someone takes it, or the visitor chats live
   * again (`goLiveIfOffline`). The team is told by e-mail (domain/mail.ts).
   */
  async leaveOfflineMessage(site: string, conv: string, cid: string, text: string, email: string): Promise<Posted> {
    const m = await getMeta(this.d.c.cmd, conv);
    if (m && (m.status === 'new' || m.offline)) await setMeta(this.d.c.cmd, conv, { offline: '1' });
    const ev = await appendEntry(this.d.c, eventEntry(conv, 'offline-message', { email, cid: `off-${cid}` }), 'other');
    if (ev.id) await this.d.emit({ type: 'offline_message.created', site, conv, entry: ev.id, email }, `offline:${conv}:${ev.id}`);
    const r = await this.postVisitorMessage(site, conv, cid, text);
    await r.recorded;
    return r;
  }

  /** Routes a conversation after its first message (assigns it or queues it); an offline one waits in the queue unassigned. */
  route(site: string, conv: string, team = '', offline = false): Promise<RouteState> {
    return this.router.route(site, conv, offline ? OFFLINE_QUEUE : team);
  }

  /**
   * The visitor of an offline conversation still waiting writes in the chat again (they came
   * back): it becomes a live chat, queued for the site's team and drained like any other.
   */
  async goLiveIfOffline(site: string, conv: string, team: string): Promise<void> {
    if ((await getMetaField(this.d.c.cmd, conv, 'offline')) !== '1') return;
    await setMeta(this.d.c.cmd, conv, { offline: '0' });
    await this.router.transfer(site, conv, { team });
  }

  async rate(m: ConvMeta, rating: Rating, rawComment: string): Promise<void> {
    if (m.status !== 'resolved') throw new HarkError('CONFLICT', 'Only a resolved conversation can be rated.');
    const comment = rawComment.trim();
    await setMeta(this.d.c.cmd, m.id, { rating, ratingComment: comment });
    const r = await appendEntry(this.d.c, eventEntry(m.id, 'rated', { rating, comment, cid: `rate-${m.id}-${rating}-${comment.length}` }), 'other');
    await this.router.doorbell(m.site, m.id);
    if (r.stored) await this.d.emit({ type: 'conversation.rated', site: m.site, conv: m.id, rating, comment, ...(m.op ? { op: m.op } : {}) }, `rated:${m.id}:${r.id}`);
  }

  typing(conv: string, body: TypingBody): Promise<unknown> {
    return convSignal(this.d.c, conv, { t: 'typing', body });
  }

  async visitorSeen(conv: string, id: string): Promise<void> {
    await setMeta(this.d.c.cmd, conv, { visitorSeen: id });
    await convSignal(this.d.c, conv, { t: 'seen', body: { by: 'visitor', id } });
  }

  // ------------------------------------------------------------ the operator's side
  /**
   * An operator's message. `guard`: stored only if the operator is still the assignee or a joined
   * colleague of an unresolved conversation (the append script checks it atomically); '' id if not.
   */
  postOperatorMessage(op: Operator, m: Pick<ConvMeta, 'id' | 'site' | 'queuedAt' | 'createdAt'>, cid: string, text: string, files?: FileRef[]): Promise<Recording> {
    const started = m.queuedAt ?? m.createdAt;
    return this.post(m.site, { conv: m.id, at: Date.now(), kind: 'msg', from: 'operator', text, cid, op: opRef(op), ...withFiles(files) }, 'operator', op.id, { firstResponseMs: (at) => at - started });
  }

  /** Checks and posts: the full path when the fast one (postOperatorMessage from the live view) was refused. */
  async postOperatorMessageChecked(op: Operator, m: ConvMeta, cid: string, text: string, files?: FileRef[]): Promise<Recording> {
    if (m.status === 'resolved') throw new HarkError('CONVERSATION_RESOLVED');
    if (!canWrite(op, m)) throw new HarkError('FORBIDDEN', 'Take or join the conversation before writing in it.');
    const r = await this.postOperatorMessage(op, m, cid, text, files);
    if (!r.id) throw new HarkError('CONFLICT', 'The conversation changed meanwhile; send again.');
    return r;
  }

  /** A note only operators see; any operator who may read the conversation may leave one. */
  async postNote(op: Operator, m: ConvMeta, cid: string, text: string, files?: FileRef[]): Promise<Posted> {
    const r = await this.post(m.site, { conv: m.id, at: Date.now(), kind: 'note', text, cid, op: opRef(op), ...withFiles(files) }, 'other');
    await r.recorded;
    return r;
  }

  async operatorSeen(op: Operator, m: ConvMeta, id: string): Promise<void> {
    if (!canAct(op, m)) return;
    await setMeta(this.d.c.cmd, m.id, { opSeen: id });
    await convSignal(this.d.c, m.id, { t: 'seen', body: { by: 'operator', id, op: { id: op.id, name: op.name } } });
  }

  async take(op: Operator, m: ConvMeta): Promise<void> {
    const r = await this.router.take(m.site, m.id, op.id);
    if (r.state !== 'assigned') throw new HarkError('CONFLICT', r.state === 'taken' ? 'A colleague already took this conversation.' : 'The conversation is not waiting.');
    // An offline message taken: from now on a live chat (a later requeue drains it like any other).
    if (m.offline) {
      await setMeta(this.d.c.cmd, m.id, { offline: '0' });
      await this.router.clearTeam(m.site, m.id);
    }
  }

  async transfer(op: Operator, m: ConvMeta, to: { op?: Operator | null; team?: string }, note?: string): Promise<void> {
    if (m.status === 'resolved') throw new HarkError('CONVERSATION_RESOLVED');
    if (!canAct(op, m) && m.status !== 'queued') throw new HarkError('FORBIDDEN');
    if (to.op === undefined && to.team === undefined) throw new HarkError('BAD_REQUEST', 'Name an operator (to) or a team.');
    if (to.op !== undefined && (!to.op?.active || !canSeeSite(to.op, m.site))) throw new HarkError('NOT_FOUND', 'No such operator on this site.');
    if (note?.trim()) await this.postNote(op, m, `tr-${Date.now()}-${op.id}`, note);
    await this.router.transfer(m.site, m.id, to.op ? { op: to.op.id } : { team: to.team ?? '' }, m.op);
  }

  async join(op: Operator, m: ConvMeta): Promise<void> {
    if (!canJoin(op)) throw new HarkError('FORBIDDEN', 'Only supervisors can join a conversation.');
    if (m.joined.includes(op.id) || m.op === op.id) return;
    await setMeta(this.d.c.cmd, m.id, { joined: JSON.stringify([...m.joined, op.id]) });
    await appendEntry(this.d.c, eventEntry(m.id, 'joined', { op: opRef(op) }), 'other');
    await this.router.doorbell(m.site, m.id);
  }

  /** Resolves by an operator who may act on it (the policy's canAct); does nothing if resolved already. */
  async resolveBy(op: Operator, m: ConvMeta): Promise<void> {
    if (m.status === 'resolved') return;
    if (!canAct(op, m)) throw new HarkError('FORBIDDEN');
    await this.resolve(m, op.id);
  }

  /** Resolves a conversation: capacity freed, visitor told, event recorded, queue drained. */
  async resolve(m: ConvMeta, by?: string): Promise<void> {
    const { c } = this.d;
    const was = await this.router.release(m.site, m.id);
    const now = Date.now();
    await setMeta(c.cmd, m.id, { status: 'resolved', resolvedAt: String(now) });
    await delMeta(c.cmd, m.id, 'waitingSince');
    await clearVisitorOpenConv(c.cmd, m.visitor, m.id);
    const r = await appendEntry(c, eventEntry(m.id, 'resolved', { cid: `sys-resolved-${m.id}-${m.createdAt}-${now}` }), 'other');
    await this.router.doorbell(m.site, m.id);
    const op = was || m.op;
    await this.d.emit({ type: 'conversation.resolved', site: m.site, conv: m.id, durationMs: now - m.createdAt, ...(op ? { op } : {}), ...(by ? { by } : {}) }, `resolved:${m.id}:${r.id || randomId(8)}`);
  }

  /** Reopens a resolved conversation, assigned to `to` (by default the operator who reopens it). */
  async reopen(op: Operator, m: ConvMeta, to: string = op.id): Promise<void> {
    if (m.status !== 'resolved') return;
    if (!canReopen(op, m)) throw new HarkError('FORBIDDEN');
    const other = await visitorOpenConv(this.d.c.cmd, m.visitor);
    if (other && other !== m.id) throw new HarkError('CONFLICT', 'The visitor already has another open conversation.');
    await setVisitorOpenConv(this.d.c.cmd, m.visitor, m.id);
    await this.router.reopen(m.site, m.id, to);
  }

  // ------------------------------------------------------------ integrations (API keys)
  /**
   * A bot's message (an API key posting as `bot`): an operator message whose `op` is the bot
   * (`{id: 'bot:<key id>', name}`), shown to the visitor like any operator's. Stored as an entry
   * that does not move the conversation's clocks: the first response, the unanswered timer and the
   * operators' numbers stay the people's. Once per `cid`.
   */
  async postBotMessage(bot: OpRef, m: ConvMeta, cid: string, text: string): Promise<Posted> {
    if (m.status === 'resolved') throw new HarkError('CONVERSATION_RESOLVED');
    const r = await this.post(m.site, { conv: m.id, at: Date.now(), kind: 'msg', from: 'operator', text, cid, op: bot }, 'other');
    await r.recorded;
    return r;
  }

  /**
   * One page of conversations for an integration, newest first, with a cursor for the next one
   * (null at the end). Sources, in a fixed order: each site's unresolved conversations (by
   * creation), then its resolved ones (by resolution); or one visitor's. The cursor names the
   * source, score and id of the last conversation examined, so paging is stable while new ones
   * arrive. At most `API_LIST_SCAN` conversations are examined per page (a page may then be short).
   */
  async page(q: ConvPageQuery): Promise<{ items: ConvSummary[]; next: string | null }> {
    const r = this.d.c.cmd;
    const sources: { key: string; ix: ConvIndex; byCreation: boolean }[] = [];
    if (q.visitor) {
      const v = await getVisitor(r, q.visitor);
      if (v && q.sites.includes(v.site) && (!q.site || q.site === v.site)) sources.push({ key: `v:${q.visitor}`, ix: { kind: 'visitor', visitor: q.visitor }, byCreation: true });
    } else {
      for (const site of [...q.sites].sort()) {
        if (q.site && q.site !== site) continue;
        if (q.status !== 'resolved') sources.push({ key: `o:${site}`, ix: { kind: 'open', site }, byCreation: true });
        if (!q.status || q.status === 'resolved') sources.push({ key: `r:${site}`, ix: { kind: 'resolved', site }, byCreation: false });
      }
    }
    const cur = q.cursor ? decodeCursor(q.cursor) : null;
    let start = 0;
    if (cur) {
      start = sources.findIndex((s) => s.key === cur.k);
      if (start < 0) throw new HarkError('BAD_REQUEST', 'The cursor does not belong to this query.');
    }
    const items: ConvSummary[] = [];
    let budget = API_LIST_SCAN;
    const from = q.from ?? -Infinity;
    const to = q.to ?? Infinity;
    for (let i = start; i < sources.length; i++) {
      const src = sources[i] as (typeof sources)[number];
      const resume = cur && i === start ? cur : null;
      let max = src.byCreation ? to : Infinity;
      if (resume) max = Math.min(max, resume.s);
      const min = src.byCreation ? from : -Infinity;
      for (let offset = 0; ; ) {
        const batch = await convIndexPage(r, src.ix, max, min, offset, 100);
        if (!batch.length) break;
        offset += batch.length;
        for (const [id, score] of batch) {
          // Equal scores come in reverse id order: those at or above the cursor's id were on earlier pages.
          if (resume && score === resume.s && id >= resume.id) continue;
          budget--;
          const m = await getMeta(r, id);
          if (m && matches(m, q, from, to)) items.push(await summary(r, m));
          if (items.length >= q.limit || budget <= 0) return { items, next: encodeCursor({ k: src.key, s: score, id }) };
        }
      }
    }
    return { items, next: null };
  }


  /** Supervisors' pick-up of everything the visitor's site has open is not here: the site view holds it. */
  requeue(site: string, conv: string): Promise<RouteState> {
    return this.router.requeue(site, conv);
  }
}

/**
 * The routing team of offline conversations: no operator is in it, so the queue's drain passes
 * them over (they take no seat) while a take by hand works as for any queued conversation.
 */
export const OFFLINE_QUEUE = '~offline';

/** Conversations one page of the API's list examines at most. */
export const API_LIST_SCAN = 2000;

export interface ConvPageQuery {
  /** The sites the caller may see. */
  sites: string[];
  site?: string;
  status?: 'queued' | 'open' | 'resolved';
  operator?: string;
  team?: string;
  visitor?: string;
  /** Created at or after / at or before (ms). */
  from?: number;
  to?: number;
  cursor?: string;
  limit: number;
}

type Cursor = { k: string; s: number; id: string };

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function decodeCursor(raw: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<Cursor>;
    if (typeof c.k === 'string' && typeof c.s === 'number' && Number.isFinite(c.s) && typeof c.id === 'string') return { k: c.k, s: c.s, id: c.id };
  } catch {
    // fall through
  }
  throw new HarkError('BAD_REQUEST', 'The cursor is not valid.');
}

function matches(m: ConvMeta, q: ConvPageQuery, from: number, to: number): boolean {
  if (!q.sites.includes(m.site)) return false;
  if (q.status) {
    const st = m.status === 'new' ? 'queued' : m.status;
    if (st !== q.status) return false;
  }
  if (q.operator !== undefined && m.op !== q.operator) return false;
  if (q.team !== undefined && (m.team ?? '') !== q.team) return false;
  return m.createdAt >= from && m.createdAt <= to;
}
