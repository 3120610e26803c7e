/**
 * chat-mail.js: loaded by chat.js once the visitor has given an e-mail, so the
 * first chat carries none of it (the size budget). Under a resolved chat it offers "e-mail me a
 * copy" (the `transcript` frame, shared/PROTOCOL.md): the gateway sends it to the visitor's own
 * address only. chat.js hands it the client as the script's `hark` expando; it sets the client's
 * `x`, which the panel renders, and redraws.
 */
// biome-ignore lint/correctness/noUnusedImports: h is the JSX factory (tsconfig jsxFactory).
import { h } from 'preact';
import type { Client } from './client';

type C = Pick<Client, 'x' | 'email' | 'onChange'> & { o: { locale(): string }; deliver(f: { type: 'transcript'; conv: string }): void };

const WORDS: Record<string, [ask: string, sent: string]> = {
  en: ['E-mail me a copy of this chat', 'A copy is on its way to {e}.'],
  hr: ['Pošaljite mi kopiju razgovora e-mailom', 'Kopija je na putu na {e}.'],
  ru: ['Отправить мне копию разговора', 'Копия отправлена на {e}.'],
};

const c = (document.currentScript as (HTMLScriptElement & { hark?: C }) | null)?.hark;
if (c) {
  const asked = new Set<string>();
  c.x = (conv) => {
    const [ask, sent] = WORDS[c.o.locale().split('-')[0] as string] ?? (WORDS.en as [string, string]);
    return asked.has(conv) ? (
      <p class="mt ev" role="status">
        {sent.replace('{e}', c.email)}
      </p>
    ) : (
      <button
        type="button"
        class="lk ev"
        onClick={() => {
          asked.add(conv);
          c.deliver({ type: 'transcript', conv });
          c.onChange();
        }}
      >
        {ask}
      </button>
    );
  };
  c.onChange();
}
