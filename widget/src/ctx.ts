/**
 * The hand-over between the loader (widget.js) and the chat (chat.js). The loader
 * hangs one `Ctx` on the `<script>` element it creates for chat.js (an expando on
 * a DOM node, so the page gets no second global); chat.js reads it back through
 * `document.currentScript`.
 */
import type { HostToWidget, WidgetEventName } from '@hark/shared/protocol';

export interface Opts {
  lang?: string;
  position?: string;
  color?: string;
  label?: string;
  sound?: string;
}

export interface Ctx {
  /** Site key from data-site. */
  site: string;
  /** Absolute URL of widget.js; the gateway is its origin. */
  src: string;
  /** Language the loader picked (data-lang, setLocale, navigator.languages); chat.<lang>.js carries its catalogue. */
  lang: string;
  /** data-* settings; they override the site's own settings. */
  opts: Opts;
  root: ShadowRoot;
  /** The root `<div>` inside the shadow root; class `l` puts the widget on the left, `o` marks it open. */
  wrap: HTMLDivElement;
  launcher: HTMLButtonElement;
  badge: HTMLSpanElement;
  /** The launcher's close icon (SVG path data), for the panel's own close button. */
  cross: string;
  /** Applies the site's colour (when valid, and unless data-color overrides it); the loader owns the contrast logic so chat.js need not carry it. */
  theme(color?: string): void;
  /** Picks the language for a wanted tag (then data-lang, then the browser's), among those with a catalogue. */
  pick(tag?: string): string;
  emit(ev: WidgetEventName, payload?: unknown): void;
  /** Adds `<script src=file.<v>.js>` (the content-hashed name) from the gateway with the loader's nonce and its Trusted Types policy; `hark` is handed to it as the element's `hark` expando. */
  inject(file: string, hark: unknown, failed?: () => void): void;
  /** Removes every storage key of this site (Hark.shutdown). */
  forget(): void;
  /** API calls made before chat.js ran, in order; chat.js drains it. */
  q: HostToWidget[];
  /** Set by chat.js: from then on the loader hands API calls straight to it. */
  run?: (call: HostToWidget) => void;
}

export type ScriptWithCtx = HTMLScriptElement & { hark?: Ctx };

/**
 * Languages with a catalogue (src/i18n/*.ts), each with the launcher's accessible name the
 * loader shows until the chat's catalogue takes over; the loader picks chat.<lang>.js among them.
 */
export const LANGS: Record<string, string> = { en: 'Open chat', hr: 'Otvori chat', ru: 'Открыть чат' };

/** First supported language among the wanted ones (BCP 47 tags, best first), by primary subtag; English otherwise. */
export function pickLocale(wanted: readonly (string | undefined)[]): string {
  for (const tag of wanted) {
    const lang = tag?.toLowerCase().split(/[-_]/)[0];
    if (lang && Object.hasOwn(LANGS, lang)) return lang;
  }
  return 'en';
}

export const KEY_PREFIX = 'hark:';
export const storageKey = (site: string, name: string): string => `${KEY_PREFIX}${site}:${name}`;
