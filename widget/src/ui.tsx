/**
 * The chat panel. Everything anyone typed is rendered as Preact text nodes (or, for
 * http/https URLs, `<a>` with text content); there is no innerHTML anywhere.
 *
 * No hooks (they cost 1 KB of the budget): the controller in chat.tsx re-renders the
 * whole panel on every change, inputs are uncontrolled, and the little form state
 * there is lives in `ui` below.
 */
import { compareStreamIds } from '@hark/shared/ids';
import { MAX_MESSAGE_CHARS } from '@hark/shared/limits';
import type { Entry, OperatorRef, VisitorConv } from '@hark/shared/protocol';
// biome-ignore lint/correctness/noUnusedImports: h and Fragment are the JSX factories (tsconfig jsxFactory).
import { Fragment, h } from 'preact';
import type { Client, OutItem } from './client';
import { K, type T } from './i18n';
import { linkify } from './linkify';

/** The visitor's own `typing` frames: at most one per this interval while they type… */
export const TYPING_SEND_MS = 2_500;
/** …and `typing off` after this long without a keystroke. */
export const TYPING_IDLE_MS = 4_000;
export const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** A message more than this long after the one before it (and the first) gets a time line above it. */
export const TIME_GAP_MS = 300_000;
/** One formatter per language and kind (today: the time; another day: date and time); a first Intl.DateTimeFormat is slow. */
const fmts: Record<string, Intl.DateTimeFormat> = {};
/** "14:05" today, "2 Dec 2026, 14:05" another day, in the chat's language. */
export const when = (l: string, at: number): string => {
  const day = new Date(at).toDateString() !== new Date().toDateString();
  return (fmts[l + day] ||= new Intl.DateTimeFormat(l, day ? { dateStyle: 'medium', timeStyle: 'short' } : { timeStyle: 'short' })).format(at);
};
const PLANE = 'M3 20.5 21 12 3 3.5V10l12 2-12 2z';

export interface View {
  client: Client;
  t: T;
  /** The chat's language (the site's greeting for it). */
  l: string;
  open: boolean;
  /** Text of the aria-live region: the latest operator message. */
  announce: string;
  /** Path data of the close icon (the loader's, so it is shipped once). */
  cross: string;
  /** The gateway's origin (it serves the operators' photos). */
  g: string;
  /** E-mail a leave-a-message went to, once sent. */
  offlineSent: string;
  close(): void;
  leave(text: string, email: string): void;
  redraw(): void;
  /**
   * Once chat-files.js is loaded (sites that take attachments, a resolved chat, a closed site): a message's files; the
   * uploads tray with the paperclip; the rating form; outside business hours, when the site is back.
   */
  fx?: { v(e: Entry | OutItem): unknown; tray(): unknown; rate(v: View, conv: VisitorConv): unknown; off(v: View): unknown; pre(v: View): unknown } | undefined;
}

let typingAt = 0;
let idle: ReturnType<typeof setTimeout> | undefined;

const Icon = ({ d }: { d: string }) => (
  <svg viewBox="0 0 24 24" aria-hidden="true">
    <path d={d} />
  </svg>
);

export function initials(name: string): string {
  const w = name.trim().split(/\s+/);
  return ((w[0]?.[0] || '') + (w.length > 1 ? w[w.length - 1]?.[0] : '')).toUpperCase() || '?';
}

/** Initials, covered by the photo when there is one that loads: a path on the gateway `g` (which serves /v1/avatars/…); nothing else. */
const Avatar = ({ op, g }: { op: OperatorRef; g: string }) => (
  <span class="av" aria-hidden="true">
    {initials(op.name)}
    {op.avatar?.[0] === '/' && (
      <img
        src={g + op.avatar}
        alt=""
        onError={(e) => {
          e.currentTarget.style.display = 'none';
        }}
      />
    )}
  </span>
);

export const Text = ({ text }: { text: string }) => (
  <p class="bu" dir="auto">
    {linkify(text).map((p) =>
      typeof p === 'string' ? (
        p
      ) : (
        <a href={p.href} target="_blank" rel="noopener noreferrer">
          {p.text}
        </a>
      ),
    )}
  </p>
);

export function Panel({ v }: { v: View }) {
  const { client: c, t } = v;
  const site = c.site;
  const conv = c.current();
  const active = !!conv && conv.status !== 'resolved';
  const op = conv?.operator;
  const offline = !!site && !site.available && site.offlineForm && !active && !c.outbox.some((x) => !x.email);
  const title = op?.name || site?.name || t(K.title);
  return (
    <div
      class="p"
      id="hark-panel"
      role="dialog"
      aria-label={title}
      hidden={!v.open}
      onKeyDown={(e) => {
        if (e.key === 'Escape') v.close();
      }}
    >
      <div class="hd">
        {op && <Avatar op={op} g={v.g} />}
        <div class="tt">
          <h2>{title}</h2>
          {site && <p>{t(site.available || op ? K.online : K.away)}</p>}
        </div>
        <button type="button" class="x" aria-label={t(K.close)} onClick={v.close}>
          <Icon d={v.cross} />
        </button>
      </div>
      {c.status !== 'open' && (
        <p class="bn" role="status">
          {t(site ? K.reconnecting : K.connecting)}
        </p>
      )}
      {offline || v.offlineSent ? (
        v.fx?.off(v)
      ) : site?.prechat && !conv && !c.name ? (
        v.fx?.pre(v)
      ) : (
        <>
          <Messages v={v} conv={conv} />
          {v.fx?.tray()}
          <Composer v={v} />
        </>
      )}
      <div class="sr" aria-live="polite">
        {v.announce}
      </div>
    </div>
  );
}

function Messages({ v, conv }: { v: View; conv: VisitorConv | undefined }) {
  const { client: c, t } = v;
  const items: (Entry | OutItem)[] = [...((conv && c.entries[conv.id]) || []), ...c.outbox.filter((o) => !o.email)];
  const typing = conv && c.opTyping?.conv === conv.id && c.opTyping;
  const seen = conv && c.seen[conv.id];
  let lastOwn = -1;
  items.forEach((it, i) => {
    if (!('kind' in it) || it.from === 'visitor') lastOwn = i;
  });
  let prevOp: string | undefined = '';
  let prevAt = 0;
  const pos = conv?.position || 0;
  // The site's greeting in the chat's language, else its default one.
  const greeting = c.site?.greetings?.[v.l] || c.site?.greeting;
  const item = (it: Entry | OutItem, i: number) => {
    const op = 'kind' in it && it.from === 'operator' ? it.op?.name || t(K.someone) : '';
    const showName = op && op !== prevOp;
    prevOp = op;
    if (!('kind' in it)) return <Own key={it.cid} v={v} text={it.text} e={it} item={it} last={i === lastOwn} />;
    if (it.kind === 'event') {
      const ev = eventText(t, it);
      return (
        ev && (
          <p class="mt ev" key={it.id}>
            {ev}
          </p>
        )
      );
    }
    if (it.from === 'visitor')
      return <Own key={it.id} v={v} text={it.text || ''} e={it} state={seen && compareStreamIds(it.id, seen) <= 0 ? K.seen : K.sent} last={i === lastOwn} />;
    return (
      <div class="m" key={it.id}>
        {showName && <span class="mt">{op}</span>}
        <Text text={it.text || ''} />
        {v.fx?.v(it)}
      </div>
    );
  };
  return (
    <div class="ls">
      {greeting && <p class="mt ev">{greeting}</p>}
      {items.map((it, i) => {
        const gap = it.at - prevAt > TIME_GAP_MS;
        prevAt = it.at;
        return [
          gap && (
            <p class="mt ev" key={`t${it.at}`}>
              {when(v.l, it.at)}
            </p>
          ),
          item(it, i),
        ];
      })}
      {typing && <p class="mt">{t(K.typing, { name: typing.name || t(K.someone) })}</p>}
      {conv?.status === 'queued' && (
        <p class="mt ev" role="status">
          {`${t(K.waiting)} ${pos > 1 ? t(K.ahead, { n: pos - 1 }) : pos ? t(K.next) : ''}`}
        </p>
      )}
      {/* The rating comes at the end of the log, scrolled into view with it: it never covers the last messages. */}
      {conv?.status === 'resolved' && v.fx?.rate(v, conv)}
    </div>
  );
}

function eventText(t: T, e: Entry): string {
  const name = e.to?.name || e.op?.name || t(K.someone);
  const ev = e.event;
  if (ev === 'assigned' || ev === 'joined') return t(K.joined, { name });
  if (ev === 'transferred') return t(K.transferred, { name });
  return ev === 'resolved' ? t(K.resolved) : ev === 'reopened' ? t(K.reopened) : '';
}

function Own({ v, text, e, item, state, last }: { v: View; text: string; e: Entry | OutItem; item?: OutItem; state?: K; last: boolean }) {
  const { t, client } = v;
  const failed = item?.state === 'failed';
  return (
    <div class="m me">
      <Text text={text} />
      {v.fx?.v(e)}
      {(last || failed) && (
        <span class={failed ? 'f' : 'mt'}>
          {failed ? t(K.failed) : t(item?.state === 'sending' ? K.sending : item ? K.sent : state || K.sent)}
          {failed && item && (
            <>
              {' '}
              <button type="button" class="lk" onClick={() => client.retry(item.cid)}>
                {t(K.retry)}
              </button>
              <button type="button" class="lk" onClick={() => client.discard(item.cid)}>
                {t(K.discard)}
              </button>
            </>
          )}
        </span>
      )}
    </div>
  );
}

function Composer({ v }: { v: View }) {
  const { client: c, t } = v;
  const stop = () => {
    clearTimeout(idle);
    if (typingAt) c.typing(false);
    typingAt = 0;
  };
  const submit = (ta: HTMLTextAreaElement) => {
    if (!c.send(ta.value)) return;
    ta.value = '';
    stop();
  };
  return (
    <form
      class="cp"
      onSubmit={(e) => {
        e.preventDefault();
        submit(e.currentTarget.querySelector('textarea') as HTMLTextAreaElement);
      }}
    >
      <textarea
        rows={1}
        dir="auto"
        aria-label={t(K.message)}
        placeholder={t(K.placeholder)}
        maxLength={MAX_MESSAGE_CHARS}
        onInput={() => {
          const now = Date.now();
          if (now - typingAt > TYPING_SEND_MS) {
            typingAt = now;
            c.typing(true);
          }
          clearTimeout(idle);
          idle = setTimeout(stop, TYPING_IDLE_MS);
        }}
        onKeyDown={(e) => {
          if (e.key !== 'Enter' || e.shiftKey || e.isComposing) return;
          e.preventDefault();
          submit(e.currentTarget);
        }}
      />
      <button type="submit" class="sb" aria-label={t(K.send)}>
        <Icon d={PLANE} />
      </button>
    </form>
  );
}
