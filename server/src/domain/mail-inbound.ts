/**
 * Replies by e-mail (domain/mail.ts): a message to a conversation's reply address, from the
 * built-in SMTP listener (http/smtp-inbound.ts) or a provider's inbound hook (http/mail.ts),
 * is parsed (mailparser), stripped of quoted history and signature (HTML turned into text),
 * and posted as the visitor's message in that conversation; a resolved one reopens.
 *
 * Not posted, and recorded in the mail log as `refused` with why: a message larger than
 * MAIL_MAX_INBOUND_BYTES, without text, an auto-reply (`Auto-Submitted`, `Precedence`,
 * `X-Autoreply`…), a bounce (a delivery status notification: it marks the visitor's address as
 * failing, shown to operators), our own mail coming back (a loop), one over the sender's
 * MAIL_INBOUND_PER_SENDER_PER_HOUR. An unknown or forged reply address gets nothing stored.
 */
import { createHash } from 'node:crypto';
import { MAX_MESSAGE_CHARS } from '@hark/shared';
import { type ParsedMail, simpleParser } from 'mailparser';
import { getMeta, setVisitorOpenConv, visitorOpenConv } from '../store/conversations';
import { markBounced, takeInbound } from '../store/mail';
import { getVisitor } from '../store/visitors';
import type { Conversations } from './conversations';
import type { Deps } from './deps';
import type { Mail } from './mail';
import { headerText } from './mail';

/** Largest inbound message accepted (SMTP SIZE and the hook's body limit). */
export const MAIL_MAX_INBOUND_BYTES = 1024 * 1024;
/** Inbound messages from one sender address per hour, at most (then refused, 450 on SMTP). */
export const MAIL_INBOUND_PER_SENDER_PER_HOUR = 30;
/** A site's failing visitor addresses kept, at most. */
export const MAIL_BOUNCED_MAX = 10_000;

export interface InboundResult {
  posted: boolean;
  conv?: string;
  /** Why it was not posted (stable words: too-large, unknown-address, loop, bounce, auto-reply, no-text, rate-limited). */
  reason?: 'too-large' | 'unknown-address' | 'loop' | 'bounce' | 'auto-reply' | 'no-text' | 'rate-limited' | 'unparsable';
}

/** The reply without quoted history or signature. */
export function replyText(text: string): string {
  const out: string[] = [];
  for (const raw of text.replace(/\r\n?/g, '\n').split('\n')) {
    const line = raw.trimEnd();
    // The quote's header ("On … wrote:", hr "… je napisao/la:", ru "… написал(а):"), a forwarded/original block, a signature.
    if (/^(On\s.+wrote:|.+\s(je\s)?napisa(o|la)(\s.*)?:|.+написал(а|\(а\))?:|-{2,}\s*Original Message\s*-{2,}|-{2,}\s*Izvorna poruka\s*-{2,}|-{2,}\s*Исходное сообщение\s*-{2,}|From:\s.+|_{10,})$/i.test(line.trim())) break;
    if (line === '-- ' || line === '--') break;
    if (/^(Sent from my |Poslano s mog |Отправлено с моего )/i.test(line.trim())) break;
    if (line.startsWith('>')) continue;
    out.push(line);
  }
  return out.join('\n').replace(/\n{3,}/g, '\n\n').trim();
}

function isAutoReply(p: ParsedMail): boolean {
  const h = p.headers;
  const auto = String(h.get('auto-submitted') ?? '').toLowerCase();
  if (auto && auto !== 'no') return true;
  const prec = String(h.get('precedence') ?? '').toLowerCase();
  if (['bulk', 'junk', 'list', 'auto_reply'].includes(prec)) return true;
  return h.has('x-autoreply') || h.has('x-autorespond') || h.has('x-auto-response-suppress') && String(h.get('x-auto-response-suppress')).toLowerCase().includes('all') || h.has('list-id');
}

function isBounce(p: ParsedMail, envelopeFrom: string | undefined): boolean {
  const ct = p.headers.get('content-type') as { value?: string; params?: Record<string, string> } | undefined;
  if (ct?.value?.toLowerCase() === 'multipart/report' && (ct.params?.['report-type'] ?? '').toLowerCase() === 'delivery-status') return true;
  if (envelopeFrom === '') return true;
  const from = p.from?.value[0]?.address?.toLowerCase() ?? '';
  return /^(mailer-daemon|postmaster)@/.test(from);
}

export class Inbound {
  constructor(
    private readonly d: Deps,
    private readonly mail: Mail,
    private readonly convs: Conversations,
  ) {}

  /** The conversation of a recipient address, if it is one of this installation's reply addresses. */
  recipient(address: string): Promise<string | null> {
    return this.mail.conversationOf(address);
  }

  /**
   * One message. `rcpt`: the envelope recipient (SMTP) or the hook's `to`; without it the
   * message's own To/Cc/Delivered-To are tried. `envelopeFrom`: '' for a null sender (a bounce).
   */
  async receive(raw: Buffer, o: { rcpt?: string | string[]; envelopeFrom?: string; via: 'smtp' | 'hook' }): Promise<InboundResult> {
    if (raw.length > MAIL_MAX_INBOUND_BYTES) return { posted: false, reason: 'too-large' };
    let p: ParsedMail;
    try {
      p = await simpleParser(raw, { skipImageLinks: true, skipTextToHtml: true, maxHtmlLengthToParse: MAIL_MAX_INBOUND_BYTES });
    } catch {
      return { posted: false, reason: 'unparsable' };
    }
    const rcpts = [...(Array.isArray(o.rcpt) ? o.rcpt : o.rcpt ? [o.rcpt] : []), ...addressesOf(p)];
    let conv: string | null = null;
    for (const a of rcpts) {
      conv = await this.mail.conversationOf(a);
      if (conv) break;
    }
    if (!conv) return { posted: false, reason: 'unknown-address' };
    const m = await getMeta(this.d.c.cmd, conv);
    if (!m) return { posted: false, reason: 'unknown-address' };
    const sender = (p.from?.value[0]?.address ?? o.envelopeFrom ?? '').toLowerCase();
    const subject = headerText(p.subject ?? '');
    const msgId = (p.messageId ?? '').replace(/^<|>$/g, '');
    const idOf = createHash('sha256').update(msgId || raw).digest('base64url').slice(0, 22);
    const log = async (reason: string | null, text = '') =>
      this.mail.record({
        id: `in-${idOf}`,
        site: m.site,
        kind: 'inbound',
        conv,
        to: headerText(sender, 320),
        from: headerText(p.from?.text ?? sender, 320),
        subject,
        text,
        messageId: msgId,
        inReplyTo: (p.inReplyTo ?? '').replace(/^<|>$/g, ''),
        op: '',
        lang: '',
        since: '',
        until: '',
        state: reason ? 'refused' : 'received',
        ...(reason ? { error: reason } : {}),
      });
    // Our own mail coming back (a loop): never answered, never posted.
    if (p.headers.has('x-hark-mail') || sender === this.mail.fromAddress.toLowerCase()) {
      await log('loop: our own mail');
      return { posted: false, reason: 'loop', conv };
    }
    if (isBounce(p, o.envelopeFrom)) {
      const v = await getVisitor(this.d.c.cmd, m.visitor);
      if (v?.email) await markBounced(this.d.c.cmd, m.site, v.email, headerText(subject || 'delivery failed', 200), MAIL_BOUNCED_MAX);
      await log('bounce: the address is marked as failing');
      return { posted: false, reason: 'bounce', conv };
    }
    if (isAutoReply(p)) {
      await log('auto-reply: not posted');
      return { posted: false, reason: 'auto-reply', conv };
    }
    if (!(await takeInbound(this.d.c.cmd, sender || 'unknown', MAIL_INBOUND_PER_SENDER_PER_HOUR))) {
      return { posted: false, reason: 'rate-limited', conv };
    }
    let text = replyText(p.text ?? '');
    if (!text) {
      await log('no text');
      return { posted: false, reason: 'no-text', conv };
    }
    if (text.length > MAX_MESSAGE_CHARS) text = `${text.slice(0, MAX_MESSAGE_CHARS - 1)}…`;
    const cid = `mail-${idOf}`;
    const target = await this.reopenIfResolved(m);
    const r = await this.convs.postVisitorMessage(m.site, target, cid, text);
    await r.recorded;
    if (r.status === 'new') await this.convs.route(m.site, target);
    await log(null, text);
    return { posted: r.id !== '', conv: target };
  }

  /**
   * A resolved conversation reopens, assigned to its last operator; one that never had an
   * operator, or whose visitor has another open conversation, gets the reply in the open one
   * (a new one when there is none).
   */
  private async reopenIfResolved(m: NonNullable<Awaited<ReturnType<typeof getMeta>>>): Promise<string> {
    if (m.status !== 'resolved') return m.id;
    const r = this.d.c.cmd;
    const other = await visitorOpenConv(r, m.visitor);
    if (other && other !== m.id) return other;
    if (m.op) {
      await setVisitorOpenConv(r, m.visitor, m.id);
      await this.convs.router.reopen(m.site, m.id, m.op);
      const again = await getMeta(r, m.id);
      if (again && again.status !== 'resolved') return m.id;
    }
    return (await this.convs.open(m.site, m.visitor)).conv;
  }
}

function addressesOf(p: ParsedMail): string[] {
  const out: string[] = [];
  for (const f of [p.to, p.cc]) for (const a of Array.isArray(f) ? f : f ? [f] : []) for (const v of a.value) if (v.address) out.push(v.address);
  const dt = p.headers.get('delivered-to');
  if (typeof dt === 'string') out.push(dt);
  return out;
}
