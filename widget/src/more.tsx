/**
 * chat-files.js: what a first chat does not need, loaded by chat.js when it is: attachments (the
 * paperclip, paste, drop, uploads with progress and cancel, thumbnails and file cards) on a site
 * that takes them, the rating form once a conversation is resolved, and the leave-a-message and
 * pre-chat forms (forms.tsx) on a site with nobody available or that asks first. Uses the chat's Preact.
 *
 * Uploads go one at a time, in the order picked; without network one waits (the visitor sees it)
 * and goes when the network is back; a refusal is shown with its reason. Each finished upload is
 * sent as a message through the chat's outbox (the same idempotent send as text).
 *
 * Outside business hours, under the leave-a-message form: when the site is back (the gateway's `site.opens`), in the
 * visitor's own zone and language, the time alone when it is the same day ("We are back at 9:00 (your time)").
 */
import type { FileRef, VisitorConv } from '@hark/shared/protocol';
import type { Client, OutItem } from './client';
// biome-ignore lint/correctness/noUnusedImports: h is the JSX factory; build.mjs resolves `preact` to preact-shim.ts for this bundle.
import { Fragment, h } from 'preact';
import { use } from './preact-shim';
import { Offline, Prechat, Rate } from './forms';
import type { View } from './ui';

interface Hand {
  h: Parameters<typeof use>[0]['h'];
  F: Parameters<typeof use>[0]['F'];
  c: Client;
  root: ShadowRoot;
  src: string;
  site: string;
  lang: string;
  draw(): void;
  done(fx: NonNullable<View['fx']>): void;
}
interface Up {
  f: File;
  p: number;
  st: 0 | 1 | 2; // uploading or queued, waiting for the network, refused
  msg?: string;
  x?: XMLHttpRequest | undefined;
}

const STR: Record<string, string[]> = {
  en: ['Attach a file', 'Cancel', 'Waiting for the network…', 'The file is too large.', 'This type of file cannot be sent.', "The file's name does not match its contents.", 'Too many files; try again in a minute.', 'The file could not be sent.', 'Dismiss', 'E-mail me a copy of this chat', 'A copy is on its way to {e}.', 'We are back at {t} (your time).', 'We are back on {d} at {t} (your time).'],
  hr: ['Priloži datoteku', 'Odustani', 'Čeka se mreža…', 'Datoteka je prevelika.', 'Ova se vrsta datoteke ne može poslati.', 'Naziv datoteke ne odgovara sadržaju.', 'Previše datoteka; pokušajte za minutu.', 'Datoteka nije poslana.', 'Zatvori', 'Pošaljite mi kopiju razgovora e-mailom', 'Kopija je na putu na {e}.', 'Vraćamo se u {t} (po vašem vremenu).', 'Vraćamo se: {d} u {t} (po vašem vremenu).'],
  ru: ['Прикрепить файл', 'Отмена', 'Ждём сеть…', 'Файл слишком большой.', 'Такой файл отправить нельзя.', 'Имя файла не соответствует содержимому.', 'Слишком много файлов; попробуйте через минуту.', 'Не удалось отправить файл.', 'Закрыть', 'Отправить мне копию разговора', 'Копия отправлена на {e}.', 'Вернёмся в {t} (по вашему времени).', 'Вернёмся: {d}, {t} (по вашему времени).'],
};
const CODES = ['FILE_TOO_LARGE', 'FILE_TYPE_NOT_ALLOWED', 'FILE_TYPE_MISMATCH', 'RATE_LIMITED'];
const INLINE = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];

const CSS = `.tr{display:flex;flex-direction:column;gap:4px;padding:6px 10px 0;border-top:1px solid var(--e);font-size:13px}
.up{display:flex;gap:8px;align-items:center}
.up span{flex:1;min-width:0;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.up progress{width:90px}
.fl{display:flex;flex-direction:column;gap:4px;margin-top:4px;align-items:inherit}
.th img{display:block;max-width:220px;max-height:220px;width:auto;height:auto;border-radius:10px;background:var(--u)}
.fc{display:block;padding:8px 12px;border-radius:12px;border:1px solid var(--e);background:var(--b);color:var(--k);font-size:14px;overflow-wrap:anywhere}
.bu:empty{display:none}
.rf{flex:none;overflow:visible;gap:8px;padding:8px 0}
.rt{display:flex;gap:8px;border:0;padding:0;margin:0}
.rt button{flex:1;padding:10px;border:1px solid var(--e);border-radius:10px}
[aria-pressed=true]{box-shadow:inset 0 0 0 2px currentColor;font-weight:700}`;

function size(n: number): string {
  return n < 1024 ? `${n} B` : n < 1048576 ? `${Math.round(n / 1024)} KB` : `${(n / 1048576).toFixed(1)} MB`;
}

function start(o: Hand): void {
  use(o);
  const { c, root } = o;
  const s = STR[o.lang] || (STR.en as string[]);
  const base = new URL(o.src).origin;
  const site = encodeURIComponent(o.site);
  const token = () => (c as unknown as { token: string }).token;
  const q: Up[] = [];
  const asked = new Set<string>();
  const names: Record<string, string> = {};
  const urls: Record<string, { u: string; e: number } | 0> = {};
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(CSS);
  root.adoptedStyleSheets = [...root.adoptedStyleSheets, sheet];
  const on = () => !!c.site?.files;

  const add = (list?: ArrayLike<File> | null) => {
    const lim = c.site?.files;
    if (!list || !lim) return;
    for (const f of Array.from(list)) q.push(f.size > lim.max ? { f, p: 0, st: 2, msg: s[3] } : { f, p: 0, st: 0 });
    pump();
    o.draw();
  };
  const drop = (it: Up) => {
    it.x?.abort();
    q.splice(q.indexOf(it), 1);
    pump();
    o.draw();
  };
  // One upload at a time, in order; refused ones wait to be dismissed and do not hold up the rest.
  const pump = () => {
    const it = q.find((x) => x.st !== 2);
    if (!it || it.x) return;
    const x = new XMLHttpRequest();
    it.x = x;
    x.open('POST', `${base}/v1/visitor/files?site=${site}&name=${encodeURIComponent(it.f.name || 'file')}`);
    x.setRequestHeader('authorization', `Visitor ${token()}`);
    x.upload.onprogress = (e) => {
      it.p = e.total ? e.loaded / e.total : 0;
      o.draw();
    };
    x.onload = () => {
      it.x = undefined;
      let r: { file?: FileRef; code?: string } = {};
      try {
        r = JSON.parse(x.responseText);
      } catch {}
      if (x.status === 201 && r.file) {
        names[r.file.id] = r.file.name;
        q.splice(q.indexOf(it), 1);
        c.send('', undefined, [r.file.id]);
      } else {
        it.st = 2;
        it.msg = s[CODES.indexOf(r.code || '') + 3] || s[7];
      }
      pump();
      o.draw();
    };
    x.onerror = () => {
      // No network (or the gateway unreachable): wait, and go again when it is back.
      it.x = undefined;
      it.st = 1;
      o.draw();
      setTimeout(pump, 5000);
    };
    it.st = 0;
    x.send(it.f);
  };
  addEventListener('online', pump);

  const pick = () => {
    const i = document.createElement('input');
    i.type = 'file';
    i.multiple = true;
    // Images included: a phone offers its camera too.
    i.accept = (c.site?.files?.types || []).join(',');
    i.hidden = true;
    i.onchange = () => {
      add(i.files);
      i.remove();
    };
    root.append(i);
    i.click();
  };
  root.addEventListener('paste', (e) => {
    const f = (e as ClipboardEvent).clipboardData?.files;
    if (f?.length && on()) {
      e.preventDefault();
      add(f);
    }
  });
  root.addEventListener('dragover', (e) => on() && e.preventDefault());
  root.addEventListener('drop', (e) => {
    if (!on()) return;
    e.preventDefault();
    add((e as DragEvent).dataTransfer?.files);
  });

  /** A signed URL for a file of the visitor's conversation, asked for once and again shortly before it expires. */
  const url = (conv: string, id: string): string | undefined => {
    const k = `${conv}/${id}`;
    const have = urls[k];
    if (have === 0) return;
    if (have && have.e - Date.now() > 60_000) return have.u;
    urls[k] = 0;
    fetch(`${base}/v1/visitor/files/${conv}/${id}?site=${site}`, { headers: { authorization: `Visitor ${token()}` } })
      .then((r) => r.json())
      .then((r: { url?: string; expiresAt?: number }) => {
        if (r.url) urls[k] = { u: base + r.url, e: r.expiresAt || 0 };
        o.draw();
      })
      .catch(() => {
        delete urls[k];
      });
    return have ? have.u : undefined;
  };
  setInterval(() => Object.keys(urls).length && o.draw(), 60_000);

  const file = (f: FileRef | string, conv?: string) => {
    if (typeof f === 'string') return <span class="fc">{names[f] || '…'}</span>;
    const u = conv ? url(conv, f.id) : undefined;
    const label = `${f.name} · ${size(f.size)}`;
    if (INLINE.includes(f.type) && u)
      return (
        <a class="th" href={u} target="_blank" rel="noopener noreferrer" title={label}>
          <img src={u} alt={f.name} width={f.w} height={f.h} />
        </a>
      );
    return u ? (
      <a class="fc" href={u} target="_blank" rel="noopener noreferrer">
        {label}
      </a>
    ) : (
      <span class="fc">{label}</span>
    );
  };

  const back = () => {
    const at = c.site?.opens || 0;
    const d = new Date(at);
    return (
      at > Date.now() &&
      (s[d.toDateString() === new Date().toDateString() ? 11 : 12] as string)
        .replace('{d}', d.toLocaleDateString(o.lang, { weekday: 'long' }))
        .replace('{t}', d.toLocaleTimeString(o.lang, { hour: 'numeric', minute: '2-digit' }))
    );
  };

  o.done({
    off: (v: View) => <Offline v={v} back={back} />,
    pre: (v: View) => <Prechat v={v} />,
    v: (e: { conv?: string; files?: (FileRef | string)[] | undefined }) =>
      e.files ? (
        <div class="fl">
          {e.files.map((f) => (
            <Fragment key={typeof f === 'string' ? f : f.id}>{file(f, e.conv)}</Fragment>
          ))}
        </div>
      ) : null,
    tray: () =>
      on() && (
        <div class="tr">
          {q.map((it, i) => (
            <div class="up" key={i}>
              <span>{it.f.name}</span>
              {it.st === 2 ? <em class="f">{it.msg}</em> : it.st === 1 ? <em class="mt">{s[2]}</em> : <progress max={1} value={it.p} aria-label={it.f.name} />}
              <button type="button" class="lk" onClick={() => drop(it)}>
                {s[it.st === 2 ? 8 : 1]}
              </button>
            </div>
          ))}
          <button type="button" class="lk" onClick={pick}>
            {`📎 ${s[0]}`}
          </button>
        </div>
      ),
    // Under a resolved chat: the rating, and "e-mail me a copy" for a visitor who gave an e-mail (the
    // `transcript` frame; the gateway sends it to that address only, shared/PROTOCOL.md).
    rate: (v: View, conv: VisitorConv) => (
      <>
        <Rate v={v} conv={conv} />
        {c.email &&
          (asked.has(conv.id) ? (
            <p class="mt ev" role="status">
              {(s[10] as string).replace('{e}', c.email)}
            </p>
          ) : (
            <button
              type="button"
              class="lk ev"
              onClick={() => {
                asked.add(conv.id);
                (c as unknown as { deliver(f: { type: 'transcript'; conv: string }): void }).deliver({ type: 'transcript', conv: conv.id });
                o.draw();
              }}
            >
              {s[9]}
            </button>
          ))}
      </>
    ),
  } as NonNullable<View['fx']>);
}

const me = document.currentScript as (HTMLScriptElement & { hark?: Hand }) | null;
if (me?.hark) start(me.hark);
export type { OutItem };
