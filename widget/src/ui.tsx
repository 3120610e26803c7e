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
import type { Entry, OperatorRef, Rating, VisitorConv } from '@hark/shared/protocol';
// biome-ignore lint/correctness/noUnusedImports: h and Fragment are the JSX factories (tsconfig jsxFactory).
import { Fragment, h, type JSX } from 'preact';
import type { Client, OutItem } from './client';
import { K, type T } from './i18n';
import { linkify } from './linkify';

/** The visitor's own `typing` frames: at most one per this interval while they type… */
export const TYPING_SEND_MS = 2_500;
/** …and `typing off` after this long without a keystroke. */
export const TYPING_IDLE_MS = 4_000;
export const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
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
  fx?: { v(e: Entry | OutItem): unknown; tray(): unknown; rate(v: View, conv: VisitorConv): unknown; back(): string | false } | undefined;
}

/** Form state that outlives a render: the rating chosen for a conversation, and the fields that failed validation. */
const ui: { rate?: [conv: string, rating: Rating]; errs: Record<string, string> } = { errs: {} };
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
        <Offline v={v} />
      ) : site?.prechat && !conv && !c.name ? (
        <Prechat v={v} />
      ) : (
        <>
          <Messages v={v} conv={conv} />
          {conv?.status === 'resolved' && v.fx?.rate(v, conv)}
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
  const pos = conv?.position || 0;
  // The site's greeting in the chat's language, else its default one.
  const greeting = c.site?.greetings?.[v.l] || c.site?.greeting;
  return (
    <div class="ls">
      {greeting && <p class="mt ev">{greeting}</p>}
      {items.map((it, i) => {
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
      })}
      {typing && <p class="mt">{t(K.typing, { name: typing.name || t(K.someone) })}</p>}
      {conv?.status === 'queued' && (
        <p class="mt ev" role="status">
          {`${t(K.waiting)} ${pos > 1 ? t(K.ahead, { n: pos - 1 }) : pos ? t(K.next) : ''}`}
        </p>
      )}
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

type FieldSpec = [name: string, label: K, ok: (s: string) => boolean, error: K, attrs?: JSX.InputHTMLAttributes<HTMLInputElement>];

/** A labelled input or textarea with its validation message. */
function Field({ v, name, label, area, ...rest }: { v: View; name: string; label: K; area?: boolean } & JSX.InputHTMLAttributes<HTMLInputElement>) {
  const err = ui.errs[name];
  const props = { name, id: `hk-f-${name}`, dir: 'auto', 'aria-invalid': !!err, 'aria-describedby': err ? `hk-${name}` : undefined, ...rest } as object;
  return (
    <label for={`hk-f-${name}`}>
      {v.t(label)}
      {area ? <textarea rows={3} maxLength={MAX_MESSAGE_CHARS} {...props} /> : <input {...props} />}
      {err && (
        <span class="f" id={`hk-${name}`}>
          {err}
        </span>
      )}
    </label>
  );
}

const filled = (s: string) => s.length > 0;
const isEmail = (s: string) => EMAIL_RE.test(s);
const EMAIL: FieldSpec = ['email', K.email, isEmail, K.badEmail, { type: 'email', autocomplete: 'email', maxLength: 320 }];

/** A validated form (leave-a-message, pre-chat): on submit, either every value or the errors shown next to their fields. */
function Form({ v, title, text, note, fields, button, done }: { v: View; title: K; text?: K; note?: string | false | undefined; fields: FieldSpec[]; button: K; done(f: Record<string, string>): void }) {
  const { t } = v;
  return (
    <form
      class="fm"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        const out: Record<string, string> = {};
        ui.errs = {};
        for (const [name, , ok, msg] of fields) {
          const val = ((e.currentTarget.elements.namedItem(name) as HTMLInputElement | null)?.value || '').trim();
          if (ok(val)) out[name] = val;
          else ui.errs[name] = t(msg);
        }
        v.redraw();
        if (!Object.keys(ui.errs).length) done(out);
      }}
    >
      <h3>{t(title)}</h3>
      {text && <p>{t(text)}</p>}
      {note && <p>{note}</p>}
      {fields.map(([name, label, , , attrs]) => (
        <Field v={v} key={name} name={name} label={label} area={name === 'text'} {...(attrs as object)} />
      ))}
      <button type="submit" class="btn">
        {t(button)}
      </button>
    </form>
  );
}

const Offline = ({ v }: { v: View }) =>
  v.offlineSent ? (
    <div class="fm" role="status">
      <p>{v.t(K.offThanks, { email: v.offlineSent })}</p>
    </div>
  ) : (
    <Form v={v} title={K.offTitle} text={K.offText} note={v.fx?.back()} fields={[['text', K.message, filled, K.emptyMsg], EMAIL]} button={K.submit} done={(f) => v.leave(f.text as string, f.email as string)} />
  );

const Prechat = ({ v }: { v: View }) => (
  <Form
    v={v}
    title={K.preTitle}
    fields={[['name', K.name, filled, K.badName, { autocomplete: 'name', maxLength: 200 }], EMAIL]}
    button={K.start}
    done={(f) => v.client.prechat(f.name as string, f.email as string)}
  />
);

export function Rate({ v, conv }: { v: View; conv: VisitorConv }) {
  const { t, client } = v;
  if (conv.rating || client.rated.has(conv.id)) return <p class="mt ev">{t(K.rateThanks)}</p>;
  // A choice belongs to its conversation: a later chat is rated afresh.
  const rating = ui.rate?.[0] === conv.id ? ui.rate[1] : undefined;
  return (
    <form
      class="fm"
      onSubmit={(e) => {
        e.preventDefault();
        const comment = (e.currentTarget.elements.namedItem('comment') as HTMLTextAreaElement | null)?.value.trim();
        if (rating) client.rate(conv.id, rating, comment?.slice(0, 1000) || undefined);
      }}
    >
      <p id="hk-rq">{t(K.rateQ)}</p>
      <fieldset class="rt" aria-labelledby="hk-rq">
        {(
          [
            ['good', K.good],
            ['bad', K.bad],
          ] as const
        ).map(([r, label]) => (
          <button
            type="button"
            key={r}
            aria-pressed={rating === r}
            onClick={() => {
              ui.rate = [conv.id, r];
              v.redraw();
            }}
          >
            {t(label)}
          </button>
        ))}
      </fieldset>
      {rating && (
        <>
          <Field v={v} name="comment" label={K.comment} area maxLength={1000} />
          <button type="submit" class="btn">
            {t(K.rateSend)}
          </button>
        </>
      )}
    </form>
  );
}



