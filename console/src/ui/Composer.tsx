import { MAX_MESSAGE_CHARS } from '@hark/shared/limits';
import type { ConvSummary, FileRef } from '@hark/shared/protocol';
import { useEffect, useRef, useState } from 'preact/hooks';
import { actions, t, useApp } from '../app';
import { api } from '../api';
import { fillPlaceholders, insertReply, searchReplies, slashQuery } from '../replies';
import { type Upload, fileSize, upload } from './Files';

/** Tell the visitor "typing" at most this often, and stop after this long without a key. */
const TYPING_REFRESH_MS = 3_000;
const TYPING_IDLE_MS = 4_000;

export function Composer({ conv, canWrite }: { conv: ConvSummary; canWrite: boolean }) {
  const s = useApp();
  const [text, setText] = useState('');
  const [note, setNote] = useState(!canWrite);
  const [caret, setCaret] = useState(0);
  const [pick, setPick] = useState(0);
  const [hint, setHint] = useState<string | null>(null);
  const [ups, setUps] = useState<Upload[]>([]);
  const fileInput = useRef<HTMLInputElement>(null);
  const ref = useRef<HTMLTextAreaElement>(null);
  const typingSent = useRef(0);
  const idle = useRef<ReturnType<typeof setTimeout> | null>(null);

  useEffect(() => {
    setText('');
    setHint(null);
    setNote(!canWrite);
  }, [conv.id, canWrite]);
  // Uploads belong to their conversation: switching away cancels those in flight.
  useEffect(() => {
    setUps([]);
    return () => {
      for (const u of upsRef.current) u.xhr?.abort();
    };
  }, [conv.id]);
  const upsRef = useRef<Upload[]>([]);
  upsRef.current = ups;

  /** Files pasted, dropped or picked: each uploaded at once into this conversation, sent with the next message. */
  const attach = (list: ArrayLike<File> | null | undefined) => {
    if (!list?.length) return;
    const added = Array.from(list).map((f) => upload(conv.id, f, () => setUps((cur) => [...cur])));
    setUps((cur) => [...cur, ...added]);
    setHint(null);
  };
  const dropUpload = (u: Upload) => {
    u.xhr?.abort();
    setUps((cur) => cur.filter((x) => x !== u));
  };

  const stopTyping = () => {
    if (idle.current) clearTimeout(idle.current);
    idle.current = null;
    if (typingSent.current) actions.typing(conv.id, false);
    typingSent.current = 0;
  };
  useEffect(() => stopTyping, [conv.id]);

  // Suggested saved replies for the visitor's latest message (GET …/suggestions), asked again when it changes.
  const latest = [...(s.rt.entries[conv.id] ?? [])].reverse().find((e) => e.kind === 'msg' && e.from === 'visitor')?.id;
  const [suggested, setSuggested] = useState<{ id: string; shortcut: string; text: string; kind?: 'saved' | 'past' }[]>([]);
  useEffect(() => {
    setSuggested([]);
    if (!latest || !canWrite) return;
    let live = true;
    api
      .suggestions(conv.id)
      .then((r) => live && setSuggested(r.replies))
      .catch(() => {});
    return () => {
      live = false;
    };
  }, [conv.id, latest, canWrite]);
  const useSuggestion = (i: number) => {
    const r = suggested[i];
    if (!r) return;
    const filled = fillPlaceholders(r.text, { name: conv.visitor.name });
    const next = text.trim() ? `${text.replace(/\s*$/, '')} ${filled}` : filled;
    setText(next);
    setCaret(next.length);
    requestAnimationFrame(() => {
      const el = ref.current;
      if (!el) return;
      el.focus();
      el.setSelectionRange(next.length, next.length);
    });
  };

  const slash = slashQuery(text, caret);
  const matches = slash ? searchReplies(s.replies, slash.query, conv.site) : [];
  const menuOpen = matches.length > 0;

  const choose = (i: number) => {
    const r = matches[i];
    if (!r || !slash) return;
    const filled = fillPlaceholders(r.text, { name: conv.visitor.name });
    const next = insertReply(text, slash.start, caret, filled);
    setText(next.text);
    setCaret(next.caret);
    setPick(0);
    requestAnimationFrame(() => {
      const el = ref.current;
      if (!el) return;
      el.focus();
      el.setSelectionRange(next.caret, next.caret);
    });
  };

  const submit = () => {
    if (ups.some((u) => u.xhr)) {
      setHint(t('composer.waitUploads'));
      return;
    }
    const files = ups.filter((u) => u.file).map((u) => (u.file as FileRef).id);
    if (!text.trim() && !files.length) {
      setHint(t('composer.empty'));
      return;
    }
    const asNote = note || !canWrite;
    actions.send(conv.id, text, asNote, files);
    setUps([]);
    setText('');
    setCaret(0);
    setHint(null);
    if (!asNote) stopTyping();
  };

  const onInput = (e: Event) => {
    const el = e.currentTarget as HTMLTextAreaElement;
    setText(el.value);
    setCaret(el.selectionStart ?? el.value.length);
    setPick(0);
    setHint(null);
    if (note || !canWrite) return;
    const now = Date.now();
    if (now - typingSent.current > TYPING_REFRESH_MS) {
      actions.typing(conv.id, true);
      typingSent.current = now;
    }
    if (idle.current) clearTimeout(idle.current);
    idle.current = setTimeout(stopTyping, TYPING_IDLE_MS);
  };

  const onKeyDown = (e: KeyboardEvent) => {
    // Alt+1…3 inserts a suggested reply, to edit before sending.
    if (e.altKey && !e.ctrlKey && !e.metaKey && /^[1-3]$/.test(e.key) && suggested[Number(e.key) - 1]) {
      e.preventDefault();
      useSuggestion(Number(e.key) - 1);
      return;
    }
    if (menuOpen) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        setPick((p) => (p + (e.key === 'ArrowDown' ? 1 : matches.length - 1)) % matches.length);
        return;
      }
      if (e.key === 'Enter' || e.key === 'Tab') {
        e.preventDefault();
        choose(pick);
        return;
      }
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.altKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  };

  if (conv.status === 'resolved') return <p class="composer-closed hint">{t('composer.resolved')}</p>;

  return (
    <form
      class={note || !canWrite ? 'composer note-mode' : 'composer'}
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
      onDragOver={(e) => e.preventDefault()}
      onDrop={(e) => {
        e.preventDefault();
        attach(e.dataTransfer?.files);
      }}
    >
      {menuOpen && (
        <ul class="reply-menu" aria-label={t('composer.replies')}>
          {matches.map((r, i) => (
            <li key={r.id} class={i === pick ? 'active' : ''} data-shortcut={r.shortcut}>
              <button
                type="button"
                onMouseDown={(e) => {
                  e.preventDefault();
                  choose(i);
                }}
              >
                <b>/{r.shortcut}</b> <span>{r.text}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      {suggested.length > 0 && canWrite && (
        <div class="suggested">
          <span class="hint">{t('composer.suggested')}</span>
          {suggested.map((r, i) => (
            <button key={r.id} type="button" class="small" data-shortcut={r.shortcut} data-kind={r.kind ?? 'saved'} title={r.text} onClick={() => useSuggestion(i)}>
              Alt+{i + 1} {r.shortcut ? `/${r.shortcut}` : `“${r.text.length > 28 ? `${r.text.slice(0, 27)}…` : r.text}”`}
            </button>
          ))}
        </div>
      )}
      <div class="composer-modes" role="radiogroup" aria-label={t('composer.mode')}>
        <label class={!note && canWrite ? 'mode active' : 'mode'}>
          <input type="radio" name="mode" checked={!note && canWrite} disabled={!canWrite} onChange={() => setNote(false)} />
          {t('composer.reply')}
        </label>
        <label class={note || !canWrite ? 'mode active note' : 'mode note'}>
          <input type="radio" name="mode" checked={note || !canWrite} onChange={() => setNote(true)} />
          {t('composer.note')}
        </label>
      </div>
      <textarea
        id="composer"
        ref={ref}
        rows={3}
        maxLength={MAX_MESSAGE_CHARS}
        aria-label={note || !canWrite ? t('composer.notePlaceholder') : t('composer.placeholder')}
        placeholder={note || !canWrite ? t('composer.notePlaceholder') : t('composer.placeholder')}
        value={text}
        onInput={onInput}
        onKeyDown={onKeyDown}
        onPaste={(e) => {
          const f = e.clipboardData?.files;
          if (f?.length) {
            e.preventDefault();
            attach(f);
          }
        }}
        onClick={(e) => setCaret(e.currentTarget.selectionStart ?? 0)}
        onKeyUp={(e) => {
          if (e.key === 'ArrowLeft' || e.key === 'ArrowRight' || e.key === 'Home' || e.key === 'End') setCaret(e.currentTarget.selectionStart ?? 0);
        }}
      />
      {ups.length > 0 && (
        <ul class="uploads" aria-label={t('composer.attachments')}>
          {ups.map((u) => (
            <li key={u.key} class={u.err ? 'upload error' : 'upload'}>
              <span class="grow">{u.name}</span>
              {u.err ? <span role="alert">{u.err}</span> : u.file ? <span class="hint">{fileSize(u.file.size)}</span> : <progress max={1} value={u.p} aria-label={u.name} />}
              <button type="button" class="link" aria-label={t('composer.removeFile', { name: u.name })} onClick={() => dropUpload(u)}>
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      <input ref={fileInput} type="file" multiple hidden onChange={(e) => {
        attach(e.currentTarget.files);
        e.currentTarget.value = '';
      }} />
      <div class="row">
        <button type="button" class="attach" onClick={() => fileInput.current?.click()}>
          {t('composer.attach')}
        </button>
        {hint && (
          <span class="error" role="alert">
            {hint}
          </span>
        )}
        <span class="hint grow">{t('composer.help')}</span>
        <button type="submit" class={note || !canWrite ? 'note-btn' : 'primary'}>
          {note || !canWrite ? t('composer.addNote') : t('composer.send')}
        </button>
      </div>
    </form>
  );
}
