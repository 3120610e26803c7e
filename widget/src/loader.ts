/**
 * widget.js, the loader a site owner embeds. Budget: 2.5 KB min+gzip, so no Preact
 * and nothing from the chat. It draws the launcher, sets up `window.Hark`, and on the
 * visitor's first sign of intent (or at once when this device already has a
 * conversation) loads chat.js next to itself. Before that it makes no request and
 * touches no storage except to read whether a conversation exists.
 */
import type { HostToWidget, WidgetEventName } from '@hark/shared/protocol';
import { type Ctx, LANGS, pickLocale, storageKey } from './ctx';
import { LOADER_CSS } from './loader-css';
import { DEFAULT_COLOR, themeCss, validColor } from './theme';

/** Content hash of this build, set by build.mjs: chat.<lang>.<v>.js is cached as immutable. */
declare const __V__: string;

const BUBBLE = 'M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4V5a2 2 0 0 1 2-2z';
const CROSS = 'M6.4 5 5 6.4l5.6 5.6L5 17.6 6.4 19l5.6-5.6 5.6 5.6 1.4-1.4-5.6-5.6L19 6.4 17.6 5 12 10.6z';
const SVG_NS = 'http://www.w3.org/2000/svg';

type Listener = (payload?: unknown) => void;
type Api = Record<string, (...args: never[]) => void> & { push(call: HostToWidget): void };

function boot(): void {
  const w = window as unknown as { Hark?: unknown };
  const queued = w.Hark;
  // 1. Included twice, or Hark already set up: the first copy stays in charge.
  if (queued && !Array.isArray(queued)) return;
  const me = (document.currentScript || document.querySelector('script[data-site][src*="widget"]')) as HTMLScriptElement | null;
  const d = me?.dataset;
  const site = d?.site;
  if (!me || !d || !site) return;
  const src = me.src;
  const nonce = me.nonce;
  // Pages that enforce Trusted Types (`require-trusted-types-for 'script'`) take a script URL
  // only from a policy they allow by name: `trusted-types hark`. Only this closure holds it,
  // and it is only given the URLs of our own files, built just above its one call.
  let policy: { createScriptURL(u: string): unknown } | undefined;
  try {
    policy = (window as unknown as { trustedTypes?: { createPolicy(n: string, p: object): typeof policy } }).trustedTypes?.createPolicy('hark', { createScriptURL: (u: string) => u });
  } catch {
    // Policy name not allowed by the page: the plain URL, which such a page refuses.
  }

  const listeners: Record<string, Listener[]> = {};
  let fired = false;
  const host = document.createElement('hark-chat');
  const root = host.attachShadow({ mode: 'open' });
  const base = new CSSStyleSheet();
  const sheet = new CSSStyleSheet();
  base.replaceSync(LOADER_CSS);
  // A returning visitor's launcher as the site last had it (label, side, colour: stored by chat.js),
  // drawn at once, so that nothing moves when the chat catches up with the site (CLS 0).
  let look: string[] = [];
  try {
    look = JSON.parse(get(site, 's') || '[]');
  } catch {
    // Junk in storage: the defaults.
  }
  const label = d.label || look[0];
  const theme = (c?: string) => sheet.replaceSync(themeCss(validColor(d.color) || validColor(c) || validColor(look[2]) || DEFAULT_COLOR));
  theme();
  root.adoptedStyleSheets = [base, sheet];

  const wrap = document.createElement('div');
  wrap.className = (d.position || look[1]) === 'left' ? 'w l' : 'w';
  const launcher = document.createElement('button');
  launcher.className = 'lc';
  launcher.type = 'button';
  launcher.setAttribute('aria-expanded', 'false');
  const pick = (tag?: string) => {
    ctx.lang = pickLocale([tag, d.lang, ...(navigator.languages || [])]);
    launcher.setAttribute('aria-label', label || (LANGS[ctx.lang] as string));
    return ctx.lang;
  };
  for (const [cls, path] of [
    ['b', BUBBLE],
    ['x', CROSS],
  ]) {
    const svg = document.createElementNS(SVG_NS, 'svg');
    const p = document.createElementNS(SVG_NS, 'path');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('class', cls as string);
    p.setAttribute('d', path as string);
    svg.append(p);
    launcher.append(svg);
  }
  if (label) {
    const span = document.createElement('span');
    span.textContent = label;
    launcher.append(span);
  }
  const badge = document.createElement('span');
  badge.className = 'bd';
  launcher.append(badge);
  wrap.append(launcher);
  root.append(wrap);

  const ctx: Ctx = {
    site,
    src,
    lang: 'en',
    opts: d,
    root,
    wrap,
    launcher,
    badge,
    cross: CROSS,
    theme,
    pick,
    q: [],
    inject(file, hark, failed) {
      const s = document.createElement('script') as HTMLScriptElement & { hark?: unknown };
      s.hark = hark;
      if (nonce) s.nonce = nonce;
      const url = new URL(`${file}.${__V__}.js`, src).href;
      s.src = (policy ? policy.createScriptURL(url) : url) as string;
      s.onerror = () => {
        s.remove();
        failed?.();
      };
      document.head.append(s);
    },
    forget: () => forget(site),
    emit(ev: WidgetEventName, payload?: unknown) {
      if (ev === 'ready') fired = true;
      for (const fn of (listeners[ev] || []).slice()) {
        try {
          fn(payload);
        } catch (e) {
          // A host page's listener must not break the widget.
          setTimeout(() => {
            throw e;
          });
        }
      }
    },
  };

  pick();
  let loading = false;
  const load = (): void => {
    if (loading) return;
    loading = true;
    // A failed load (flaky network, not a broken deploy) lets a later intent try again.
    ctx.inject(`chat.${ctx.lang}`, ctx, () => {
      loading = false;
    });
  };

  const call = (c: HostToWidget): void => {
    if (!Array.isArray(c)) return;
    const [name, a, b] = c as [string, unknown, unknown];
    if (name === 'on' || name === 'off') {
      const fn = b as Listener;
      if (typeof fn !== 'function') return;
      const list = (listeners[a as string] ||= []);
      if (name === 'off') {
        const i = list.indexOf(fn);
        if (i >= 0) list.splice(i, 1);
      } else {
        list.push(fn);
        if (a === 'ready' && fired) fn();
      }
      return;
    }
    if (ctx.run) {
      ctx.run(c);
      return;
    }
    if (name === 'shutdown') {
      ctx.q.length = 0;
      ctx.forget();
      return;
    }
    if (name === 'close') return;
    if (name === 'setLocale' && !loading) {
      pick(a as string);
      return;
    }
    ctx.q.push(c);
    if (name === 'open' || name === 'toggle') load();
  };

  const api = { push: call } as Api;
  for (const name of ['open', 'close', 'toggle', 'identify', 'setAttributes', 'setLocale', 'on', 'off', 'shutdown']) {
    api[name] = (...args: never[]) => call([name, ...args] as unknown as HostToWidget);
  }
  w.Hark = api;

  for (const ev of ['pointerenter', 'focus']) launcher.addEventListener(ev, load);
  launcher.addEventListener('click', () => call(['toggle']));
  // Appended to <html>, not <body>: a transformed or filtered body would become the
  // containing block of the launcher's position:fixed.
  document.documentElement.append(host);
  if (Array.isArray(queued)) for (const c of queued) call(c as HostToWidget);
  ctx.emit('ready');
  if (hasConversation(site)) load();
}

/** Reading is allowed before intent; writing is not. */
function get(site: string, name: string): string | null | undefined {
  try {
    return localStorage.getItem(storageKey(site, name));
  } catch {
    // Storage blocked: nothing was stored either.
  }
}

const hasConversation = (site: string): boolean => !!(get(site, 'token') || get(site, 'outbox'));

function forget(site: string): void {
  try {
    const prefix = storageKey(site, '');
    for (let i = localStorage.length; i--; ) {
      const k = localStorage.key(i);
      if (k?.startsWith(prefix)) localStorage.removeItem(k);
    }
  } catch {
    // Storage blocked: nothing was stored either.
  }
}

boot();
