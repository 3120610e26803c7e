/**
 * The chat's forms, in chat-files.js (a first chat on a site with an operator online needs none of
 * them): leave-a-message (nobody available), the pre-chat form (a site that asks for name and
 * e-mail first) and the rating of a resolved chat. Each field is validated on submit and its
 * message shown next to it. Rendered by ui.tsx's Panel through `View.fx`.
 */
import type { Rating, VisitorConv } from '@hark/shared/protocol';
import { MAX_MESSAGE_CHARS } from '@hark/shared/limits';
// biome-ignore lint/correctness/noUnusedImports: h and Fragment are the JSX factories; build.mjs resolves `preact` to preact-shim.ts for this bundle.
import { Fragment, h, type JSX } from 'preact';
import { K } from './i18n';
import { EMAIL_RE, type View } from './ui';

/** Form state that outlives a render: the rating chosen for a conversation, and the fields that failed validation. */
const ui: { rate?: [conv: string, rating: Rating]; errs: Record<string, string> } = { errs: {} };

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

export const Offline = ({ v, back }: { v: View; back(): string | false }) =>
  v.offlineSent ? (
    <div class="fm" role="status">
      <p>{v.t(K.offThanks, { email: v.offlineSent })}</p>
    </div>
  ) : (
    <Form v={v} title={K.offTitle} text={K.offText} note={back()} fields={[['text', K.message, filled, K.emptyMsg], EMAIL]} button={K.submit} done={(f) => v.leave(f.text as string, f.email as string)} />
  );

export const Prechat = ({ v }: { v: View }) => (
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
      class="fm rf"
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
