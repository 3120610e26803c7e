/**
 * E-mail: the conversation outlives the tab. A consumer of the domain event log, built like
 * the webhooks (domain/webhooks.ts), in two halves so that a slow mail server never holds up
 * the log:
 *
 * - the consumer (`mail`, registered in domain/consumers.ts) sends nothing: for an offline
 *   message it queues the team's notification; for an operator's message to a visitor whose
 *   e-mail is known it adds the message to the conversation's reply batch (one e-mail per
 *   MAIL_BATCH_MS window). Each mail's id is derived from the event, so a redelivered event
 *   queues nothing twice (store/mail.ts);
 * - the send job (jobs/jobs.ts `mail-delivery`, one owner across gateways) claims each due mail
 *   (a claim with an end: a gateway killed mid-send leaves a claim that ends, then the mail is
 *   sent again with the same Message-ID, the receiver's idempotency key), renders it at its first
 *   attempt (then every retry sends the same), and sends it through SMTP (`SMTP_URL`, nodemailer)
 *   or, without one, keeps it in the local mailbox (state `local`, readable in the mail log).
 *   Failures are retried with exponential backoff for MAIL_RETRY_FOR_MS, then marked failed;
 *   an admin may resend one.
 *
 * A reply batch is sent only to a visitor who is away: no open socket on a live gateway, the
 * last one closed MAIL_AWAY_MS ago or more, and the batch's messages not seen in the widget.
 * Otherwise it is dropped (`skipped`) or waits until the visitor has been away long enough.
 *
 * Header injection: every header value is built from text with control characters removed,
 * addresses are checked against MAIL_ADDRESS_PATTERN, and the SMTP envelope is set explicitly
 * (recipients come from the envelope, never from a header).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { type ConvMailStatus, type Entry, HarkError, type MailView as SharedMailView } from '@hark/shared';
import nodemailer from 'nodemailer';
import type { Transporter } from 'nodemailer';
import { getMeta, getMetaField, getMetaFields, readEntries, siteQueue } from '../store/conversations';
import { EVK } from '../store/event-log';
import {
  type MailRecord,
  type NewMail,
  batchReply,
  bouncedReason,
  claimMail,
  dueMail,
  enqueueMail,
  finishMail,
  fixContent,
  getMail,
  listBounced,
  listMail,
  mailSecret,
  releaseMail,
  resendMail,
  takeMailCounter,
  visitorSocket,
  visitorSockets,
} from '../store/mail';
import { listOperators } from '../store/operators';
import { anyOperatorAvailable, getSite, listSites } from '../store/sites';
import { getVisitor, visitorEmail } from '../store/visitors';
import type { Deps } from './deps';
import { SERVING_MEMBERS, type SideEffectConsumer } from './event-consumers';
import type { Inbound } from './mail-inbound';
import { type MailLang, mailLang, mailText } from './mail-text';

/** A mail is retried for this long after it was queued (or resent by hand), then marked failed. */
export const MAIL_RETRY_FOR_MS = 12 * 3600_000;
/** The first retry waits this long, each next one twice as long… */
export const MAIL_RETRY_BASE_MS = 30_000;
/** …up to this (±20 % jitter). */
export const MAIL_RETRY_CAP_MS = 3600_000;
/** The send job looks for due mail this often. */
export const MAIL_POLL_MS = 1_000;
/** One attempt's claim: a sender killed mid-attempt leaves it; after this the mail is tried again. */
export const MAIL_CLAIM_MS = 90_000;
/** One SMTP attempt (connect, greeting, each step) is bounded by this. */
export const MAIL_SEND_TIMEOUT_MS = 30_000;
/** Attempts in flight at once on the job's gateway. */
export const MAIL_CONCURRENCY = 8;
/** A visitor is away (answers go by e-mail) once their last socket closed this long ago (MAIL_AWAY_SECONDS). */
export const MAIL_AWAY_MS = 120_000;
/** An operator's messages within this window after the first go out as one e-mail (MAIL_BATCH_SECONDS). */
export const MAIL_BATCH_MS = 60_000;
/** Lines of the conversation quoted below an answer. */
export const MAIL_QUOTE_LINES = 5;
/** The mail log keeps at most this many mails per site (the oldest finished ones go first). */
export const MAIL_LOG_MAX = 1_000;
/** Finished mail records stay readable this long. */
export const MAIL_RETENTION_MS = 30 * 24 * 3600_000;
/** A site's notification addresses, at most. */
export const MAIL_MAX_NOTIFY_ADDRESSES = 20;
/** An offline notification waits this long for the visitor's message (stored right after its event) before going without it. */
export const MAIL_NOTIFY_WAIT_MS = 30_000;
/** Transcripts a visitor may ask for per hour (all their conversations). */
export const MAIL_VISITOR_TRANSCRIPTS_PER_HOUR = 3;
/** Transcripts asked for by visitors that one address may receive per day (whoever asks). */
export const MAIL_TRANSCRIPTS_PER_ADDRESS_PER_DAY = 5;
/** How often the mail job looks for queued chats nobody answered while no operator is available. */
export const MAIL_UNANSWERED_EVERY_MS = 10_000;
/** Queued chats looked at per site per pass. */
export const MAIL_UNANSWERED_SCAN = 200;
/** A mail address as Hark accepts it: one address, no display name, no list, no quoting. */
export const MAIL_ADDRESS_PATTERN = '^[^\\s@<>,;:"()\\[\\]\\\\]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?\\.[A-Za-z]{2,63}$';
const ADDRESS_RE = new RegExp(MAIL_ADDRESS_PATTERN);
/** Longest subject or display name put in a header. */
export const MAIL_MAX_HEADER_TEXT = 200;

export interface MailSettings {
  retryForMs: number;
  retryBaseMs: number;
  retryCapMs: number;
  pollMs: number;
  claimMs: number;
  sendTimeoutMs: number;
  awayMs: number;
  batchMs: number;
  notifyWaitMs: number;
  unansweredEveryMs: number;
}

export const MAIL_DEFAULTS: MailSettings = {
  retryForMs: MAIL_RETRY_FOR_MS,
  retryBaseMs: MAIL_RETRY_BASE_MS,
  retryCapMs: MAIL_RETRY_CAP_MS,
  pollMs: MAIL_POLL_MS,
  claimMs: MAIL_CLAIM_MS,
  sendTimeoutMs: MAIL_SEND_TIMEOUT_MS,
  awayMs: MAIL_AWAY_MS,
  batchMs: MAIL_BATCH_MS,
  notifyWaitMs: MAIL_NOTIFY_WAIT_MS,
  unansweredEveryMs: MAIL_UNANSWERED_EVERY_MS,
};

/** A header value from any text: no control characters (so no CR/LF, no header of one's own), bounded. */
export function headerText(s: string, max = MAIL_MAX_HEADER_TEXT): string {
  return s.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ').replace(/\s+/g, ' ').trim().slice(0, max);
}

export function validAddress(a: string): boolean {
  return ADDRESS_RE.test(a);
}

/** What the mail log shows (shared/src/admin.ts). */
export type MailView = SharedMailView;

export function mailView(m: MailRecord): MailView {
  return {
    id: m.id,
    kind: m.kind,
    conv: m.conv,
    to: m.to,
    from: m.from,
    subject: m.subject,
    text: m.text,
    state: m.state,
    attempts: m.attempts,
    error: m.error,
    createdAt: m.createdAt,
    lastAt: m.lastAt,
    nextAt: m.nextAt,
    sentAt: m.sentAt,
  };
}

/** A mail ready to send. */
export interface Outgoing {
  fromName: string;
  to: string[];
  subject: string;
  text: string;
  replyTo?: string;
  headers: Record<string, string>;
}

type Rendered = { send: Outgoing } | { skip: string } | { wait: number };

const mailId = (kind: string, ...parts: string[]) => createHmac('sha256', 'hark-mail-id').update([kind, ...parts].join('\n')).digest('base64url').slice(0, 22);

export class Mail {
  settings: MailSettings = { ...MAIL_DEFAULTS };
  private transport: Transporter | null = null;
  private secret: string | null = null;
  private readonly inflight = new Map<string, Promise<void>>();
  private stopped = false;
  private readonly owner: string;
  /** Replies by e-mail (domain/mail-inbound.ts), set by the domain once conversations exist. */
  inbound!: Inbound;

  constructor(private readonly d: Deps) {
    this.owner = d.gatewayId ?? `gw-${randomBytes(6).toString('hex')}`;
    const c = d.config;
    if (c.mailAwayMs !== undefined) this.settings.awayMs = c.mailAwayMs;
    if (c.mailBatchMs !== undefined) this.settings.batchMs = c.mailBatchMs;
  }

  private get r() {
    return this.d.c.cmd;
  }

  configure(s: Partial<MailSettings>): void {
    this.settings = { ...this.settings, ...s };
  }

  /** The domain of reply addresses and Message-IDs (MAIL_DOMAIN; else MAIL_FROM's; else `localhost`). */
  get domain(): string {
    const c = this.d.config;
    return c.mailDomain || c.mailFrom?.split('@')[1] || 'localhost';
  }

  get fromAddress(): string {
    return this.d.config.mailFrom || `hark@${this.domain}`;
  }

  /** Where links in mail point (PUBLIC_ORIGIN, else the listener's own address). */
  get origin(): string {
    const c = this.d.config;
    return (c.publicOrigin ?? `http://${c.host === '0.0.0.0' ? '127.0.0.1' : c.host}:${c.port}`).replace(/\/$/, '');
  }

  private async replySecret(): Promise<string> {
    this.secret ??= await mailSecret(this.r, randomBytes(32).toString('base64url'));
    return this.secret;
  }

  /** The unguessable reply address of a conversation: `reply+<conv>.<hmac>@MAIL_DOMAIN`. */
  async replyAddress(conv: string): Promise<string> {
    return `reply+${conv}.${replyTag(await this.replySecret(), conv)}@${this.domain}`;
  }

  /** The conversation a reply address belongs to, if it is one of this installation's (null: unknown or forged). */
  async conversationOf(address: string): Promise<string | null> {
    const m = /^reply\+([A-Za-z0-9_-]{1,64})\.([a-f0-9]{24})@(.+)$/i.exec(address.trim());
    if (!m?.[1] || !m[2] || !m[3]) return null;
    if (m[3].toLowerCase() !== this.domain.toLowerCase()) return null;
    const want = replyTag(await this.replySecret(), m[1]);
    if (!timingSafeEqualStr(want, m[2].toLowerCase())) return null;
    return (await getMeta(this.r, m[1])) ? m[1] : null;
  }

  /** The thread's root Message-ID (References of every mail of the conversation). */
  threadId(conv: string): string {
    return `conv.${conv}@${this.domain}`;
  }

  // ---- visitors' sockets (is the visitor away?)

  /** A socket of a visitor with a known e-mail opened (+1) or closed (-1) on this gateway. */
  visitorSocket(visitor: string, delta: 1 | -1): Promise<void> {
    return visitorSocket(this.r, visitor, this.owner, delta);
  }

  /** 0 when away long enough; else ms to wait (Infinity: on the site now). */
  private async awayIn(visitor: string, now: number): Promise<number> {
    const s = await visitorSockets(this.r, visitor);
    if (s.gateways.length) {
      // A gateway that died leaves its count: only live gateways' sockets count. Live: serving
      // sockets (a gateway with a consumer worker handles no mail), or, for a gateway of a version
      // before that membership (a rolling upgrade), sharing the mail consumer's work.
      const since = String(now - 5_000);
      const [serving, mail] = await Promise.all([this.r.zrangebyscore(EVK.members(SERVING_MEMBERS), since, '+inf'), this.r.zrangebyscore(EVK.members('mail'), since, '+inf')]);
      const live = new Set([...serving, ...mail]);
      if (s.gateways.some((g) => live.has(g) || g === this.owner)) return Number.POSITIVE_INFINITY;
    }
    return Math.max(0, s.gone + this.settings.awayMs - now);
  }

  // ---- the consumer: queue, never send

  consumer(): SideEffectConsumer {
    return {
      name: 'mail',
      types: ['offline_message.created', 'message.created'],
      // A visitor's message is never mailed: passed over in Redis, as an unwanted type (half of all messages).
      messagesBy: ['operator'],
      handle: async (e) => {
        if (e.type === 'offline_message.created') {
          const id = mailId('notify', e.id);
          await enqueueMail(
            this.r,
            { id, site: e.site, kind: 'notify', conv: e.conv, to: '', from: '', subject: '', text: '', messageId: `${id}@${this.domain}`, inReplyTo: '', op: '', lang: '', since: e.entry, until: '' },
            Date.now(),
            Date.now(),
            MAIL_LOG_MAX,
            MAIL_RETENTION_MS,
          );
          return;
        }
        if (e.type !== 'message.created' || e.by !== 'operator' || !e.op || e.op.startsWith('bot:')) return;
        // Two fields, not the whole records: this runs for every operator message.
        const m = await getMetaFields(this.r, e.conv, ['visitor'] as const);
        const email = m?.visitor ? await visitorEmail(this.r, m.visitor) : null;
        if (!email) return;
        const id = mailId('reply', e.id);
        const now = Date.now();
        await batchReply(
          this.r,
          { id, site: e.site, kind: 'reply', conv: e.conv, to: email, from: '', subject: '', text: '', messageId: `${id}@${this.domain}`, inReplyTo: '', op: e.op, lang: '', since: e.entry, until: e.entry },
          e.entry,
          now,
          this.settings.batchMs,
          MAIL_LOG_MAX,
        );
      },
    };
  }

  // ---- transcripts

  /**
   * Queues a transcript of a conversation to its visitor's own known address (never anyone
   * else's: a visitor cannot make Hark mail a stranger). `key` de-duplicates: the same request
   * twice queues one mail.
   */
  async queueTranscript(conv: string, key: string): Promise<MailView> {
    const m = await getMeta(this.r, conv);
    if (!m) throw new HarkError('CONVERSATION_NOT_FOUND');
    const v = await getVisitor(this.r, m.visitor);
    if (!v?.email) throw new HarkError('BAD_REQUEST', 'The visitor has left no e-mail address.');
    const bounced = await bouncedReason(this.r, m.site, v.email);
    if (bounced) throw new HarkError('CONFLICT', `The visitor's address is failing: ${bounced}`);
    const id = mailId('transcript', conv, key);
    const now = Date.now();
    await enqueueMail(
      this.r,
      { id, site: m.site, kind: 'transcript', conv, to: v.email, from: '', subject: '', text: '', messageId: `${id}@${this.domain}`, inReplyTo: '', op: '', lang: '', since: '', until: '' },
      now,
      now,
      MAIL_LOG_MAX,
      MAIL_RETENTION_MS,
    );
    const rec = await getMail(this.r, id);
    if (!rec) throw new HarkError('NOT_FOUND');
    return mailView(rec);
  }

  /**
   * A visitor asks for a copy of their conversation: to the address they gave only, at most
   * MAIL_VISITOR_TRANSCRIPTS_PER_HOUR per visitor and MAIL_TRANSCRIPTS_PER_ADDRESS_PER_DAY per
   * address (a visitor can type anyone's address: this bounds what a stranger can be sent), and
   * the same conversation once per hour (the mail's id).
   */
  async visitorTranscript(m: { id: string; visitor: string }, visitor: string): Promise<MailView> {
    const v = await getVisitor(this.r, visitor);
    if (!v?.email) throw new HarkError('BAD_REQUEST', 'Leave your e-mail address first.');
    const hour = Math.floor(Date.now() / 3600_000);
    if (!(await takeMailCounter(this.r, `tv:${visitor}`, MAIL_VISITOR_TRANSCRIPTS_PER_HOUR, 3600_000))) throw new HarkError('MAIL_LIMIT');
    if (!(await takeMailCounter(this.r, `ta:${v.email.toLowerCase()}`, MAIL_TRANSCRIPTS_PER_ADDRESS_PER_DAY, 24 * 3600_000))) throw new HarkError('MAIL_LIMIT');
    return this.queueTranscript(m.id, `v:${hour}`);
  }

  // ---- the mail log

  async log(site: string, limit: number): Promise<MailView[]> {
    return (await listMail(this.r, site, limit)).map(mailView);
  }

  async resend(site: string, id: string): Promise<MailView> {
    const m = await getMail(this.r, id);
    if (!m || m.site !== site) throw new HarkError('NOT_FOUND', 'No such e-mail.');
    if (m.state !== 'failed') throw new HarkError('CONFLICT', 'Only a failed e-mail can be sent again.');
    await resendMail(this.r, id, Date.now());
    const again = await getMail(this.r, id);
    if (!again) throw new HarkError('NOT_FOUND', 'No such e-mail.');
    return mailView(again);
  }

  /** The site's failing visitor addresses (a bounce came back), with why. */
  async bounced(site: string): Promise<{ address: string; reason: string; at: number }[]> {
    return listBounced(this.r, site);
  }

  /** Why the visitor's address is failing (null: it is not). */
  bouncedReason(site: string, address: string): Promise<string | null> {
    return bouncedReason(this.r, site, address);
  }

  /** The conversation's e-mail state for its operators: the visitor's address and whether it bounces. */
  async status(conv: string): Promise<ConvMailStatus> {
    const m = await getMeta(this.r, conv);
    const v = m ? await getVisitor(this.r, m.visitor) : null;
    if (!m || !v?.email) return { email: null, bounced: null };
    return { email: v.email, bounced: await bouncedReason(this.r, m.site, v.email) };
  }

  /** Records a mail that needs no sending (an inbound one, posted or refused) in the site's log. */
  async record(m: NewMail): Promise<void> {
    await enqueueMail(this.r, m, Date.now(), 0, MAIL_LOG_MAX, MAIL_RETENTION_MS);
  }

  // ---- the send job (jobs/jobs.ts)

  private unansweredAt = 0;

  /**
   * A chat waiting in the queue past the site's threshold (`unansweredMs`) while no operator is
   * available goes to the team like an offline message: once per time it was queued (the mail's
   * id is the conversation and its queue time). Offline messages are told already.
   */
  async notifyUnanswered(now = Date.now()): Promise<void> {
    if (now - this.unansweredAt < this.settings.unansweredEveryMs) return;
    this.unansweredAt = now;
    for (const site of await listSites(this.r)) {
      if (await anyOperatorAvailable(this.r, site.id, now)) continue;
      for (const conv of await siteQueue(this.r, site.id, MAIL_UNANSWERED_SCAN)) {
        const m = await getMeta(this.r, conv);
        const since = m?.waitingSince ?? m?.queuedAt;
        if (!m || m.offline || m.status === 'resolved' || since === undefined || now - since < site.unansweredMs) continue;
        const id = mailId('unanswered', conv, String(m.queuedAt ?? since));
        await enqueueMail(
          this.r,
          { id, site: site.id, kind: 'notify', conv, to: '', from: '', subject: '', text: '', messageId: `${id}@${this.domain}`, inReplyTo: '', op: '', lang: '', since: '', until: '' },
          now,
          now,
          MAIL_LOG_MAX,
          MAIL_RETENTION_MS,
        );
      }
    }
  }

  async deliverDue(): Promise<void> {
    if (this.stopped) return;
    await this.notifyUnanswered();
    const now = Date.now();
    for (const id of await dueMail(this.r, now, MAIL_CONCURRENCY * 2)) {
      if (this.inflight.size >= MAIL_CONCURRENCY) return;
      if (this.inflight.has(id)) continue;
      if (!(await claimMail(this.r, id, this.owner, now, this.settings.claimMs))) continue;
      const p = this.attempt(id)
        .catch(async (err: unknown) => {
          this.d.log.warn({ err, mail: id }, 'mail attempt step failed');
          await releaseMail(this.r, id, this.owner, Date.now() + this.settings.retryBaseMs).catch(() => {});
        })
        .finally(() => this.inflight.delete(id));
      this.inflight.set(id, p);
    }
  }

  /** Waits for the attempts in flight (a claim cut by a kill is taken over after MAIL_CLAIM_MS). */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.inflight.values()]);
    this.transport?.close();
    this.transport = null;
  }

  private backoff(attempts: number): number {
    const s = this.settings;
    const base = Math.min(s.retryCapMs, s.retryBaseMs * 2 ** Math.min(30, Math.max(0, attempts - 1)));
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  private async attempt(id: string): Promise<void> {
    const m = await getMail(this.r, id);
    if (!m) return;
    let out: Outgoing;
    if (m.subject === '') {
      const r = await this.render(m);
      if ('wait' in r) {
        await releaseMail(this.r, id, this.owner, Date.now() + r.wait);
        return;
      }
      if ('skip' in r) {
        await finishMail(this.r, id, this.owner, 'skipped', Date.now(), 0, MAIL_RETENTION_MS, { error: r.skip });
        return;
      }
      out = r.send;
      const fixed = await fixContent(this.r, id, this.owner, { to: out.to.join(', '), from: out.fromName, subject: out.subject, text: out.text, replyTo: out.replyTo ?? '', headers: JSON.stringify(out.headers) });
      if (!fixed) return;
    } else {
      const raw = await this.r.hmget(`{hark:mail}:m:${id}`, 'replyTo', 'headers');
      let headers: Record<string, string> = {};
      try {
        headers = JSON.parse(raw[1] ?? '{}') as Record<string, string>;
      } catch {
        headers = {};
      }
      out = { fromName: m.from, to: m.to.split(',').map((a) => a.trim()).filter(Boolean), subject: m.subject, text: m.text, ...(raw[0] ? { replyTo: raw[0] } : {}), headers };
    }
    const bad = out.to.find((a) => !validAddress(a));
    if (bad !== undefined || out.to.length === 0) {
      await finishMail(this.r, id, this.owner, 'failed', Date.now(), 0, MAIL_RETENTION_MS, { error: out.to.length ? `not a valid address: ${headerText(bad ?? '', 80)}` : 'no recipient' });
      return;
    }
    if (!this.d.config.smtpUrl) {
      // The local mailbox: kept in Redis, shown in the mail log (admins: Mail).
      await finishMail(this.r, id, this.owner, 'local', Date.now(), 0, MAIL_RETENTION_MS, { error: '' });
      return;
    }
    let error: string | null = null;
    try {
      await this.smtp().sendMail({
        from: { name: headerText(out.fromName), address: this.fromAddress },
        to: out.to,
        subject: headerText(out.subject),
        text: out.text,
        messageId: `<${m.messageId}>`,
        ...(out.replyTo ? { replyTo: out.replyTo } : {}),
        ...(m.inReplyTo ? { inReplyTo: `<${m.inReplyTo}>` } : {}),
        references: [`<${this.threadId(m.conv)}>`],
        // Recipients come from here only: never from a header.
        envelope: { from: this.fromAddress, to: out.to },
        headers: out.headers,
        disableFileAccess: true,
        disableUrlAccess: true,
      });
    } catch (e) {
      error = headerText(e instanceof Error ? e.message : String(e), 500) || 'send failed';
    }
    const now = Date.now();
    if (error === null) {
      await finishMail(this.r, id, this.owner, 'sent', now, 0, MAIL_RETENTION_MS, { error: '' });
      return;
    }
    const expired = now - m.first >= this.settings.retryForMs;
    await finishMail(this.r, id, this.owner, expired ? 'failed' : 'retry', now, now + this.backoff(m.attempts + 1), MAIL_RETENTION_MS, { error });
    this.d.log.warn({ mail: id, site: m.site, kind: m.kind, attempt: m.attempts + 1, error, final: expired }, expired ? 'mail failed for good' : 'mail failed; will retry');
  }

  private smtp(): Transporter {
    const t = this.settings.sendTimeoutMs;
    this.transport ??= nodemailer.createTransport(this.d.config.smtpUrl as string, { connectionTimeout: t, greetingTimeout: t, socketTimeout: t });
    return this.transport;
  }

  // ---- rendering (at the first attempt)

  private async render(m: MailRecord): Promise<Rendered> {
    const site = await getSite(this.r, m.site);
    const meta = await getMeta(this.r, m.conv);
    if (!site || !meta) return { skip: 'the conversation is gone' };
    const v = await getVisitor(this.r, meta.visitor);
    const headers: Record<string, string> = { 'X-Hark-Mail': m.id };
    if (m.kind === 'notify') {
      const entries = await readEntries(this.r, m.conv, m.since, 50);
      const msg = entries.find((e) => e.kind === 'msg' && e.from === 'visitor');
      if (!msg && Date.now() - m.createdAt < this.settings.notifyWaitMs) return { wait: 1_000 };
      const lang: MailLang = site.mailLang;
      const email = v?.email ?? '';
      const who = headerText(v?.name || email || mailText(lang, 'who.anonymous'), 100);
      let to = site.notifyEmails;
      if (to.length === 0) to = (await listOperators(this.r)).filter((o) => o.active && (o.role === 'admin' || o.sites.includes(site.id))).map((o) => o.email);
      to = [...new Set(to.filter(validAddress))].slice(0, MAIL_MAX_NOTIFY_ADDRESSES);
      if (to.length === 0) return { skip: 'no notification address (no operator on the site)' };
      const text = [
        mailText(lang, 'notify.intro', { who, site: site.name }),
        '',
        msg?.text ?? '',
        '',
        mailText(lang, 'notify.email', { email }),
        mailText(lang, 'notify.link', { link: `${this.origin}/console/queue/${m.conv}` }),
        '',
        mailText(lang, 'notify.how'),
      ].join('\n');
      headers['Auto-Submitted'] = 'auto-generated';
      return { send: { fromName: site.name, to, subject: mailText(lang, 'notify.subject', { who, site: site.name }), text, headers } };
    }
    if (!v?.email) return { skip: 'the visitor has no e-mail address' };
    const bounced = await bouncedReason(this.r, m.site, v.email);
    if (bounced) return { skip: `the visitor's address is failing: ${bounced}` };
    const lang = mailLang(v.locale);
    const replyTo = await this.replyAddress(m.conv);
    if (m.kind === 'transcript') {
      const all = await this.messages(m.conv, '', 10_000);
      const text = [mailText(lang, 'transcript.intro', { site: site.name }), '', ...all.map((e) => this.line(e, lang)), ''].join('\n');
      return { send: { fromName: site.name, to: [v.email], subject: mailText(lang, 'transcript.subject', { site: site.name }), text, replyTo, headers } };
    }
    // A reply batch: only to a visitor who is away and has not read it in the widget.
    const wait = await this.awayIn(meta.visitor, Date.now());
    if (wait === Number.POSITIVE_INFINITY) return { skip: 'the visitor is on the site' };
    const seen = await getMetaField(this.r, m.conv, 'visitorSeen');
    if (seen && compareIds(seen, m.until) >= 0) return { skip: 'the visitor read it in the widget' };
    if (wait > 0) return { wait };
    const all = await this.messages(m.conv, '', 10_000);
    const batch = all.filter((e) => e.from === 'operator' && compareIds(e.id, m.since) >= 0 && compareIds(e.id, m.until) <= 0);
    if (batch.length === 0) return { skip: 'nothing to send' };
    const before = all.filter((e) => compareIds(e.id, m.since) < 0).slice(-MAIL_QUOTE_LINES);
    const opName = batch[batch.length - 1]?.op?.name ?? site.name;
    const lines = [...batch.map((e) => e.text ?? ''), '', `— ${mailText(lang, 'reply.from', { op: opName, site: site.name })}`, '', mailText(lang, 'reply.how')];
    if (v.page?.url && /^https?:\/\//.test(v.page.url)) lines.push(mailText(lang, 'reply.page', { page: v.page.url }));
    if (before.length) lines.push('', mailText(lang, 'reply.earlier'), ...before.map((e) => `> ${this.line(e, lang)}`));
    return { send: { fromName: mailText(lang, 'reply.from', { op: opName, site: site.name }), to: [v.email], subject: mailText(lang, 'reply.subject', { site: site.name }), text: lines.join('\n'), replyTo, headers } };
  }

  /** The conversation's messages (never notes or events), oldest first. */
  private async messages(conv: string, after: string, max: number): Promise<Entry[]> {
    const out: Entry[] = [];
    let cursor = after;
    for (;;) {
      const page = await readEntries(this.r, conv, cursor, 200);
      if (!page.length) break;
      for (const e of page) if (e.kind === 'msg') out.push(e);
      cursor = page[page.length - 1]?.id ?? cursor;
      if (out.length >= max || page.length < 200) break;
    }
    return out;
  }

  private line(e: Entry, lang: MailLang): string {
    const who = e.from === 'operator' ? (e.op?.name ?? '') : mailText(lang, 'who.visitor');
    return `${who}: ${(e.text ?? '').replace(/\n/g, ' ')}`;
  }
}

function replyTag(secret: string, conv: string): string {
  return createHmac('sha256', secret).update(`reply:${conv}`).digest('hex').slice(0, 24);
}

function timingSafeEqualStr(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let x = 0;
  for (let i = 0; i < a.length; i++) x |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return x === 0;
}

/** Stream ids compared as (ms, seq). */
function compareIds(a: string, b: string): number {
  const [a1 = 0, a2 = 0] = a.split('-').map(Number);
  const [b1 = 0, b2 = 0] = b.split('-').map(Number);
  return a1 - b1 || a2 - b2;
}
