/**
 * The visitor's data on request, and retention.
 *
 * - **Export** (`exportVisitor`): everything the gateway holds about one visitor as one JSON
 *   document: their record (profile, attributes, identity, page, browser), every conversation of
 *   theirs with all its entries (messages, events, and operators' internal notes, marked
 *   `internal: true`: notes about a person are their data too, but the site owner reviews the
 *   file before handing it over), the ratings, the domain events naming them or their
 *   conversations (store/event-log.ts) and the webhook deliveries that do.
 * - **Erase** (`eraseVisitor`): every key, stream entry, index entry, event-log entry and webhook
 *   delivery that names the visitor or one of their conversations is deleted; their open sockets
 *   are closed (the `erased` doorbell on their channel), a live conversation leaves the queue or
 *   its operator's load (routing released, the queue drains into the freed place) and every
 *   operator's inbox (a short-lived "resolved" tombstone and the resolve doorbell). What stays:
 *   the operators' numbers, as anonymous counts (store/privacy.ts anonymiseStats). The pass runs
 *   again twice shortly after (`ERASE_RESWEEP_MS`) for what a racing write (a message in flight,
 *   a consumer handling an event it had read) may have added.
 * - **Retention** (`retention`, the `retention` job in jobs/jobs.ts): with HARK_RETENTION_DAYS
 *   set, conversations whose last activity (their last entry, or resolution) is older than that
 *   are erased the same way, a batch at a time; a visitor whose every conversation goes with
 *   them is erased as well.
 *
 * Who may: `mayExportVisitor`, `mayEraseVisitor` below (built on policy.ts); API keys: any key
 * whose scope has the visitor's site exports, a read-write one erases (http/privacy.ts).
 */
import { clearBounced, listMail, purgeMail } from '../store/mail';
import { MAIL_LOG_MAX, mailView } from './mail';
import { CATCHUP_PAGE, type ConvStatus, type Entry, HarkError, type MailView, type OperatorRef, type Rating, type VisitorInfo } from '@hark/shared';
import { eachPage } from '@hark/shared/async';
import { type ConvMeta, getMeta, readEntries } from '../store/conversations';
import {
  type DeliveryRef,
  ERASED_VISITOR,
  type LogSpan,
  LOG_CLOCK_SLACK_MS,
  anonymiseStats,
  deleteConversationKeys,
  deleteLogEntries,
  deleteVisitorKeys,
  findDeliveries,
  findLogEntries,
  findTokenKeys,
  lastEntryAt,
  logPartitionOf,
  openCreatedUpTo,
  purgeDeliveries,
  resolvedUpTo,
  visitorConvCount,
  visitorConvIds,
  visitorRecordRaw,
  writeTombstone,
} from '../store/privacy';
import { removeFromIndex } from '../store/search';
import { visitorSignal } from '../store/signals';
import { listSites } from '../store/sites';
import { getVisitor, visitorInfo } from '../store/visitors';
import type { Deps } from './deps';
import type { Files } from './files';
import { type Who, canSeeSite, isSupervisor } from './policy';
import type { Router } from './routing';

/** An erased live conversation's tombstone (status resolved, no visitor) lives this long: site views drop it on the doorbell. */
export const ERASE_TOMBSTONE_MS = 60_000;
/** An erase runs again after these delays, for what racing writes may have added meanwhile. */
export const ERASE_RESWEEP_MS = [2_000, 15_000] as const;
/** The retention job's period. */
export const RETENTION_EVERY_MS = 10 * 60_000;
/** Conversations erased per batch (per site); a pass goes on with more batches while within RETENTION_PASS_MS. */
export const RETENTION_BATCH = 200;
/** A retention pass stops starting batches after this long (within the job's lease, jobs/jobs.ts JOB_LEASE_MS). */
export const RETENTION_PASS_MS = 8_000;
/** Conversations a batch examines at most (ones found active since are skipped). */
const RETENTION_EXAMINE = 2_000;

export const EXPORT_FORMAT = 'hark.visitor-export.v1';

/** Admins, and supervisors of the visitor's site, may export a visitor's data. */
export function mayExportVisitor(me: Who, site: string): boolean {
  return isSupervisor(me) && canSeeSite(me, site);
}

/** Only admins may erase a visitor (it cannot be undone). */
export function mayEraseVisitor(me: Who, site: string): boolean {
  return me.role === 'admin' && canSeeSite(me, site);
}

export type ExportEntry = Entry & { internal?: boolean };
export interface ExportConversation {
  id: string;
  status: ConvStatus;
  createdAt: number;
  queuedAt?: number;
  assignedAt?: number;
  firstResponseAt?: number;
  resolvedAt?: number;
  operator?: OperatorRef | null;
  team?: string | null;
  rating?: Rating;
  ratingComment?: string;
  entries: ExportEntry[];
}
export interface ExportRating {
  conversation: string;
  rating: Rating;
  comment?: string;
  at?: number;
}
export interface ExportEvent {
  id: string;
  type: string;
  at: number;
  [field: string]: unknown;
}
export interface ExportDelivery {
  webhook: string;
  id: string;
  eventId: string;
  type: string;
  state: string;
  createdAt: number;
}
export interface VisitorExport {
  format: typeof EXPORT_FORMAT;
  exportedAt: number;
  about: string;
  visitor: VisitorInfo & { site: string; createdAt: number; openConversation?: string };
  conversations: ExportConversation[];
  ratings: ExportRating[];
  events: ExportEvent[];
  webhookDeliveries: ExportDelivery[];
  /** The e-mail of their conversations still in the site's mail log (notifications, answers, transcripts, replies). */
  mail: MailView[];
}

const ABOUT =
  'Everything this Hark gateway holds about one visitor: their record, every conversation of theirs with all its entries (entries with internal: true are operators’ internal notes, never shown to the visitor in the chat: review them before handing this file over), their ratings, the domain events naming them or their conversations, the webhook deliveries that do, and the e-mail of their conversations (team notifications included).';

interface Target {
  site: string;
  /** Visitors erased whole (their events without a conversation are looked for too). */
  visitors: { id: string; createdAt: number }[];
  convs: string[];
  /** Retention: the last activity (ms) of all of it; the event log is read only up to shortly after. */
  until?: number;
  /** A second pass: only what was written since the first (ms) is looked for in the event log. */
  since?: number;
}

export interface EraseResult {
  conversations: number;
  events: number;
  deliveries: number;
}

const unique = (xs: Iterable<string | null | undefined>): string[] => [...new Set([...xs].filter((x): x is string => !!x))];

export class Privacy {
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly d: Deps,
    private readonly router: Router,
    private readonly files: Files,
  ) {}

  private get r() {
    return this.d.c.cmd;
  }

  /** The site a visitor belongs to (null when there is no such visitor). */
  async siteOf(visitor: string): Promise<string | null> {
    return (await visitorRecordRaw(this.r, visitor)).site || null;
  }

  // ---------------------------------------------------------------- export

  /** Everything held about a visitor of `site` (NOT_FOUND when there is no such visitor there). */
  async exportVisitor(site: string, visitor: string, now = Date.now()): Promise<VisitorExport> {
    const r = this.r;
    const v = await getVisitor(r, visitor);
    if (!v || v.site !== site) throw new HarkError('NOT_FOUND', 'No such visitor on this site.');
    const convIds = unique([...(await visitorConvIds(r, visitor)), v.conv]);
    const conversations: ExportConversation[] = [];
    const ratings: ExportRating[] = [];
    const metas: ConvMeta[] = [];
    for (const id of convIds) {
      const m = await getMeta(r, id);
      if (!m || m.visitor !== visitor) continue;
      metas.push(m);
      const entries: ExportEntry[] = [];
      await eachPage(
        (after) => readEntries(r, id, after),
        '',
        (page) => {
          for (const e of page) entries.push(e.kind === 'note' ? { ...e, internal: true } : e);
        },
        CATCHUP_PAGE,
      );
      const c: ExportConversation = { id, status: m.status === 'new' ? 'queued' : m.status, createdAt: m.createdAt, entries };
      if (m.queuedAt) c.queuedAt = m.queuedAt;
      if (m.assignedAt) c.assignedAt = m.assignedAt;
      if (m.firstResponseAt) c.firstResponseAt = m.firstResponseAt;
      if (m.resolvedAt) c.resolvedAt = m.resolvedAt;
      c.operator = m.op ? { id: m.op, name: m.opName ?? '', ...(m.opAvatar ? { avatar: m.opAvatar } : {}) } : null;
      c.team = m.team ?? null;
      if (m.rating) {
        c.rating = m.rating;
        if (m.ratingComment) c.ratingComment = m.ratingComment;
        const rated = entries.filter((e) => e.kind === 'event' && e.event === 'rated').at(-1);
        ratings.push({ conversation: id, rating: m.rating, ...(m.ratingComment ? { comment: m.ratingComment } : {}), ...(rated ? { at: rated.at } : {}) });
      }
      conversations.push(c);
    }
    const ids = new Set([visitor, ...metas.map((m) => m.id)]);
    const hits = await findLogEntries(r, this.logSpans([{ id: visitor, createdAt: v.createdAt }], metas.map((m) => [m.id, m.createdAt]), null), ids);
    const events: ExportEvent[] = [];
    for (const h of hits) {
      try {
        const e = JSON.parse(h.raw) as ExportEvent;
        if (e && typeof e === 'object' && typeof e.type === 'string') events.push(e);
      } catch {
        // not an event: skip
      }
    }
    const deliveries = await findDeliveries(r, site, ids, metas.map((m) => m.id), true);
    const { conv: open, ...rest } = v;
    return {
      format: EXPORT_FORMAT,
      exportedAt: now,
      about: ABOUT,
      visitor: { ...visitorInfo(v), site: rest.site, createdAt: rest.createdAt, ...(open ? { openConversation: open } : {}) },
      conversations,
      ratings,
      events,
      webhookDeliveries: deliveries.map(({ lane: _l, ...d }) => d),
      mail: (await listMail(r, site, MAIL_LOG_MAX)).filter((m) => ids.has(m.conv)).map(mailView),
    };
  }

  // ---------------------------------------------------------------- erase

  /**
   * Erases a visitor of `site` and everything naming them (NOT_FOUND when there is no such
   * visitor there). `by` (an operator id, `bot:<key id>`) goes to the log, never the visitor's id.
   */
  async eraseVisitor(site: string, visitor: string, by: string, now = Date.now()): Promise<EraseResult> {
    const r = this.r;
    const started = Date.now();
    const raw = await visitorRecordRaw(r, visitor);
    if (!raw.site || raw.site !== site) throw new HarkError('NOT_FOUND', 'No such visitor on this site.');
    const convs = unique([...(await visitorConvIds(r, visitor)), raw.conv]);
    const who = { id: visitor, site, createdAt: Number(raw.createdAt) || 0, ...(raw.userId ? { userId: raw.userId } : {}), ...(raw.tok ? { tok: raw.tok } : {}) };
    // The token first: a widget reconnecting after its socket is closed below is refused.
    const tokens = (await findTokenKeys(r, new Set([`${site}:${visitor}`]))).get(`${site}:${visitor}`) ?? [];
    await deleteVisitorKeys(r, who, tokens);
    await visitorSignal(this.d.c, visitor, { t: 'erased' });
    const res = await this.sweep({ site, visitors: [who], convs }, true, now);
    // Their address leaves the site's list of failing addresses (it names them).
    if (raw.email) await clearBounced(r, site, raw.email);
    this.d.log.info({ site, by, conversations: res.conversations, events: res.events, deliveries: res.deliveries }, 'visitor erased');
    this.again(async () => {
      const more = unique([...convs, ...(await visitorConvIds(r, visitor)), (await visitorRecordRaw(r, visitor)).conv]);
      await deleteVisitorKeys(r, who, tokens);
      await visitorSignal(this.d.c, visitor, { t: 'erased' });
      await this.sweep({ site, visitors: [who], convs: more, since: started }, false, Date.now());
    });
    return res;
  }

  /**
   * Partition -> the span to look for events in: a conversation's partition from its creation, a
   * visitor's (their events without a conversation) from theirs; to the end, or with `until` (the
   * last activity of everything looked for: retention) to shortly after it.
   */
  private logSpans(visitors: readonly { id: string; createdAt: number }[], convs: readonly [string, number][], until: number | null, since?: number): Map<number, LogSpan> {
    const spans = new Map<number, LogSpan>();
    const add = (key: string, created: number) => {
      const p = logPartitionOf(key);
      const at = since ?? created;
      const from = Math.min(spans.get(p)?.from ?? Number.POSITIVE_INFINITY, Math.max(0, at - LOG_CLOCK_SLACK_MS));
      spans.set(p, { from, to: until === null ? null : until + LOG_CLOCK_SLACK_MS });
    };
    for (const v of visitors) add(v.id, v.createdAt);
    for (const [c, at] of convs) add(c, at);
    return spans;
  }

  /**
   * One erase pass over conversations (and visitors whose record is already gone): routing
   * released for live ones, their event-log entries, numbers, webhook deliveries and data, then
   * tombstones and doorbells for the live ones. Idempotent: a second pass finds what was added since.
   */
  private async sweep(t: Target, deep: boolean, now: number): Promise<EraseResult> {
    const r = this.r;
    const metas = await Promise.all(t.convs.map((c) => getMeta(r, c)));
    const ops = new Set<string>();
    const live: ConvMeta[] = [];
    for (const m of metas) {
      if (!m) continue;
      if (m.op) ops.add(m.op);
      for (const j of m.joined) ops.add(j);
      if (m.visitor === ERASED_VISITOR) continue; // a tombstone of an earlier pass
      if (m.status !== 'resolved') live.push(m);
      // Entries name every operator who had it (assigned, transferred, joined): their numbers may hold it.
      await eachPage(
        (after) => readEntries(r, m.id, after),
        '',
        (page) => {
          for (const e of page) {
            if (e.op?.id) ops.add(e.op.id);
            if (e.to?.id) ops.add(e.to.id);
          }
        },
        CATCHUP_PAGE,
      );
    }
    // A live conversation leaves the queue, or its operator's load (the queue drains into the place).
    for (const m of live) await this.router.release(m.site, m.id);
    // The event log first: no consumer reads these events from now on.
    const ids = new Set(unique([...t.visitors.map((v) => v.id), ...t.convs]));
    const hits = await findLogEntries(
      r,
      this.logSpans(
        t.visitors,
        t.convs.map((c, i) => [c, metas[i]?.createdAt ?? 0]),
        t.until ?? null,
        t.since,
      ),
      ids,
    );
    for (const h of hits) {
      try {
        const e = JSON.parse(h.raw) as Record<string, unknown>;
        for (const f of ['op', 'from', 'to']) if (typeof e[f] === 'string') ops.add(e[f] as string);
      } catch {
        // not an event
      }
    }
    const events = await deleteLogEntries(r, hits);
    await anonymiseStats(r, ops, t.convs, now);
    const found: DeliveryRef[] = await findDeliveries(r, t.site, ids, t.convs, deep);
    await purgeDeliveries(r, t.site, found, t.convs);
    // Their files, bytes and records, whether attached to a message or only uploaded.
    await this.files.erase({ convs: t.convs, visitors: t.visitors.map((v) => v.id) });
    // E-mail of these conversations (notifications, answers, transcripts, replies received).
    await purgeMail(r, t.site, t.convs);
    let n = 0;
    for (const [i, conv] of t.convs.entries()) {
      const m = metas[i];
      const isLive = !!m && live.includes(m);
      const tomb = m?.visitor === ERASED_VISITOR;
      await deleteConversationKeys(r, m?.site ?? t.site, conv, m?.visitor, tomb);
      // Out of the search index too (every posting, its filter fields and term set).
      await removeFromIndex(r, m?.site ?? t.site, conv);
      if (m && !tomb) n++;
      if (isLive && m) {
        await writeTombstone(r, m.site, conv, m.createdAt, now, ERASE_TOMBSTONE_MS);
        await this.router.doorbell(m.site, conv);
      }
    }
    return { conversations: n, events, deliveries: found.length };
  }

  /** Runs `f` again after each of ERASE_RESWEEP_MS (unless stopped); failures are logged. */
  private again(f: () => Promise<void>): void {
    for (const ms of ERASE_RESWEEP_MS) {
      if (this.stopped) return;
      const t = setTimeout(() => {
        this.timers.delete(t);
        if (this.stopped) return;
        f().catch((e: unknown) => this.d.log.warn({ err: e }, 'erase: second pass failed'));
      }, ms);
      t.unref();
      this.timers.add(t);
    }
  }

  /** Cancels pending second passes (the gateway is stopping). */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  // ---------------------------------------------------------------- retention

  /**
   * One retention pass (the `retention` job): with `retentionMs` set, every site's conversations
   * whose last activity is at or before `now - retentionMs` are erased, a batch per site in turn
   * until none is left or RETENTION_PASS_MS has passed; visitors whose every conversation goes are
   * erased whole. Returns how many of each.
   */
  async retention(now = Date.now()): Promise<{ conversations: number; visitors: number }> {
    const keep = this.d.config.retentionMs;
    const done = { conversations: 0, visitors: 0 };
    if (!(keep > 0)) return done;
    const cutoff = now - keep;
    const until = Date.now() + RETENTION_PASS_MS;
    let sites = (await listSites(this.r)).map((s) => s.id);
    while (sites.length > 0 && Date.now() < until) {
      const next: string[] = [];
      for (const site of sites) {
        if (Date.now() >= until) break;
        const batch = await this.expired(site, cutoff, RETENTION_BATCH);
        if (batch.length === 0) continue;
        const res = await this.eraseBatch(site, batch, Math.max(...batch.map(([, at]) => at)), now);
        done.conversations += res.conversations;
        done.visitors += res.visitors;
        if (batch.length >= RETENTION_BATCH) next.push(site);
      }
      sites = next;
    }
    if (done.conversations || done.visitors) this.d.log.info({ ...done, olderThanDays: keep / 86_400_000 }, 'retention: erased');
    return done;
  }

  /** Up to `limit` conversations of a site whose last activity is at or before `cutoff` (with it): resolved ones, then unresolved ones. */
  private async expired(site: string, cutoff: number, limit: number): Promise<[string, number][]> {
    const out: [string, number][] = [];
    for (const read of [resolvedUpTo, openCreatedUpTo]) {
      for (let offset = 0; out.length < limit && offset < RETENTION_EXAMINE; ) {
        const page = await read(this.r, site, cutoff, offset, 200);
        if (page.length === 0) break;
        offset += page.length;
        const lasts = await Promise.all(page.map(([c]) => lastEntryAt(this.r, c)));
        page.forEach(([c, at], i) => {
          const last = Math.max(at, lasts[i] ?? 0);
          if (out.length < limit && last <= cutoff) out.push([c, last]);
        });
      }
    }
    return out;
  }

  /**
   * Erases a batch of a site's conversations (with their last activity), and the visitors every
   * conversation of whom is in it. The event log is read up to shortly after the batch's last
   * activity (a whole visitor's event without a conversation later than that is left to the
   * log's own trimming).
   */
  private async eraseBatch(site: string, batch: [string, number][], until: number, now: number): Promise<{ conversations: number; visitors: number }> {
    const r = this.r;
    const started = Date.now();
    const convs = batch.map(([c]) => c);
    const metas = await Promise.all(convs.map((c) => getMeta(r, c)));
    const byVisitor = new Map<string, string[]>();
    for (const m of metas) if (m && m.visitor !== ERASED_VISITOR) byVisitor.set(m.visitor, [...(byVisitor.get(m.visitor) ?? []), m.id]);
    const whole: { id: string; site: string; createdAt: number; userId?: string; tok?: string }[] = [];
    for (const [v, theirs] of byVisitor) {
      const [count, raw] = await Promise.all([visitorConvCount(r, v), visitorRecordRaw(r, v)]);
      if (!raw.site || raw.site !== site) continue;
      if (count <= theirs.length && (!raw.conv || theirs.includes(raw.conv))) {
        whole.push({ id: v, site, createdAt: Number(raw.createdAt) || 0, ...(raw.userId ? { userId: raw.userId } : {}), ...(raw.tok ? { tok: raw.tok } : {}) });
      }
    }
    const tokens = whole.length ? await findTokenKeys(r, new Set(whole.map((v) => `${site}:${v.id}`))) : new Map<string, string[]>();
    for (const v of whole) {
      await deleteVisitorKeys(r, v, tokens.get(`${site}:${v.id}`) ?? []);
      await visitorSignal(this.d.c, v.id, { t: 'erased' });
    }
    const res = await this.sweep({ site, visitors: whole, convs, until }, false, now);
    const liveConvs = metas.filter((m): m is ConvMeta => !!m && m.status !== 'resolved' && m.visitor !== ERASED_VISITOR).map((m) => m.id);
    if (whole.length || liveConvs.length) {
      this.again(async () => {
        const more = [...liveConvs];
        for (const v of whole) more.push(...(await visitorConvIds(r, v.id)), (await visitorRecordRaw(r, v.id)).conv ?? '');
        for (const v of whole) await deleteVisitorKeys(r, v, tokens.get(`${site}:${v.id}`) ?? []);
        await this.sweep({ site, visitors: whole, convs: unique(more), since: started }, false, Date.now());
      });
    }
    return { conversations: res.conversations, visitors: whole.length };
  }
}
