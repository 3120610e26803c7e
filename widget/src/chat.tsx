/**
 * chat.js: loaded by widget.js on the visitor's first intent. Wires the protocol
 * client to the Preact panel inside the loader's shadow root and takes over the
 * `window.Hark` calls.
 */
import type { Entry, HostToWidget } from '@hark/shared/protocol';
// h is also the JSX factory (tsconfig jsxFactory); it and Fragment are handed to chat-files.js.
import { Fragment, h, render } from 'preact';
import { CHAT_CSS } from './chat-css';
import { Client } from './client';
import type { Ctx, ScriptWithCtx } from './ctx';
import { type Catalogue, K, type T, translator } from './i18n';
import { CATALOGUE } from './lang';
import { pageInfo, watchPage } from './page';
import { toAttrs, toIdentity } from './sanitize';
import { Panel, type View } from './ui';

/** Below this width the panel takes the whole screen. Matches the CSS media query. */
const FULL_SCREEN_PX = 480;
const ON = /^(1|on|true|yes)$/i;

function start(ctx: Ctx): void {
  const { root, wrap, launcher, badge, opts } = ctx;
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(CHAT_CSS);
  root.adoptedStyleSheets = [...root.adoptedStyleSheets, sheet];
  const mount = document.createElement('div');
  wrap.append(mount);
  launcher.setAttribute('aria-controls', 'hark-panel');

  let locale = ctx.lang;
  const cats: Record<string, Catalogue> = { [locale]: CATALOGUE };
  let t: T = translator(locale, CATALOGUE);
  let shown = 0;
  let open = false;
  let seen = false;
  let announce = '';
  let offlineSent = '';
  let unread = -1;
  let client: Client | null = null;
  let user: ReturnType<typeof toIdentity> = null;
  let attrs: ReturnType<typeof toAttrs> = null;
  let baseTitle = document.title;
  let ourTitle = '';
  let timer: ReturnType<typeof setTimeout> | undefined;
  let labelSpan = launcher.querySelector('span:not(.bd)');
  let fx: View['fx'];
  let fxAsked = 0;
  const src = new URL(ctx.src);
  const gateway = `${src.protocol === 'https:' ? 'wss:' : 'ws:'}//${src.host}`;
  const title = () => (document.title === ourTitle ? baseTitle : document.title);

  const ensure = (): Client => {
    if (client && client.status !== 'stopped') return client;
    const c = new Client({
      site: ctx.site,
      gateway,
      kv: safeStorage(),
      WebSocket: WebSocket as never,
      page: () => pageInfo(title()),
    });
    c.onChange = schedule;
    c.onNews = news;
    if (user) c.identify(user);
    if (attrs) c.setAttrs(attrs);
    client = c;
    c.start();
    return c;
  };

  const news = (e: Entry) => {
    const name = e.op?.name || t(K.someone);
    announce = t(K.newMsg, { name, text: e.text || '' });
    ctx.emit('message', { text: e.text, name, conv: e.conv, id: e.id });
    if (opts.sound && ON.test(opts.sound) && (!open || document.hidden)) beep();
  };

  const schedule = () => {
    if (timer) return;
    // A timer, not a microtask: the host page may have replaced Promise.
    timer = setTimeout(draw, 0);
  };

  const setOpen = (want: boolean) => {
    if (want === open) return;
    if (want) ensure();
    open = want;
    if (!want) announce = '';
    draw();
    ctx.emit(want ? 'open' : 'close');
    if (want) {
      const field = root.querySelector<HTMLElement>('.p textarea, .p input, .p .btn');
      field?.focus();
      fitViewport();
    } else if (root.activeElement) {
      launcher.focus();
    }
  };

  function draw(): void {
    clearTimeout(timer);
    timer = undefined;
    const c = client;
    if (c?.status === 'stopped' && open) open = false;
    const site = c?.site;
    // Until the site is known the launcher stays as the loader drew it (for a returning visitor, as the site last had it).
    if (site) {
      ctx.theme(site.color);
      wrap.className = `w${(opts.position || site.position) === 'left' ? ' l' : ''}`;
      c.look(JSON.stringify([site.label, site.position, site.color]));
    }
    wrap.classList.toggle('o', open);
    const label = opts.label || site?.label;
    if (label && !labelSpan) {
      labelSpan = document.createElement('span');
      badge.before(labelSpan);
    }
    if (labelSpan && (label || site)) labelSpan.textContent = label || '';
    launcher.setAttribute('aria-expanded', String(open));

    const visible = open && !document.hidden;
    const conv = c?.current();
    if (c && conv && visible) c.markRead(conv.id);
    const n = c && !visible ? c.unread() : 0;
    badge.textContent = n ? String(n > 99 ? '99+' : n) : '';
    // The accessible name starts with the visible label (WCAG 2.5.3); open, the label is hidden and the button closes.
    launcher.setAttribute('aria-label', open ? t(K.close) : [label || t(K.open), n && t(K.unreadN, { n })].filter(Boolean).join(' – '));
    setTitle(n);
    if (n !== unread && unread !== -1) ctx.emit('unread', n);
    unread = n;
    // The panel is first drawn when first opened: a returning visitor's collapsed chat costs a page view only its socket and the badge.
    if (!c || !(seen ||= open)) {
      render(null, mount);
      return;
    }
    const v: View = {
      client: c,
      t,
      l: locale,
      open,
      announce,
      cross: ctx.cross,
      g: src.origin,
      offlineSent,
      close: () => setOpen(false),
      leave: (text, email) => {
        if (c.send(text, email)) offlineSent = email;
        draw();
      },
      redraw: draw,
      fx,
    };
    // Attachments (a site that takes them), the rating form (a resolved conversation), the leave-a-message form (nobody
    // available), the pre-chat form: chat-files.js, apart from the first chat.
    if ((site?.files || site?.prechat || site?.available === false || c.current()?.status === 'resolved') && !fxAsked) {
      fxAsked = 1;
      ctx.inject('chat-files', { h, F: Fragment, c, root, src: ctx.src, site: ctx.site, lang: locale, draw: schedule, done: (f: View['fx']) => {
        fx = f;
        draw();
      } });
    }
    render(<Panel v={v} />, mount);
    // Keep the newest message in view when something was added. Only while open: reading
    // scrollHeight forces a style and layout pass, wasted on a closed panel at page load.
    if (!open) return;
    const ls = root.querySelector('.ls');
    const count = ls?.childElementCount || 0;
    if (ls && count !== shown) ls.scrollTop = ls.scrollHeight;
    shown = count;
  }

  /** Switches language, loading i18n.<lang>.js first when this chat.js does not carry it. */
  function setLocale(lang: string): void {
    const cat = cats[lang];
    if (cat) {
      locale = lang;
      t = translator(lang, cat);
      draw();
      return;
    }
    ctx.inject(`i18n.${lang}`, (c: Catalogue) => {
      cats[lang] = c;
      setLocale(lang);
    });
  }

  function setTitle(n: number): void {
    if (document.title !== ourTitle) baseTitle = document.title;
    if (n) {
      ourTitle = `(${n}) ${baseTitle}`;
      if (document.title !== ourTitle) document.title = ourTitle;
    } else if (ourTitle) {
      if (document.title === ourTitle) document.title = baseTitle;
      ourTitle = '';
    }
  }

  /** On a phone the on-screen keyboard shrinks the visual viewport, not the layout one: size the panel to what is visible. */
  function fitViewport(): void {
    const vv = window.visualViewport;
    const p = root.querySelector<HTMLElement>('.p');
    if (!p || !vv) return;
    if (open && innerWidth <= FULL_SCREEN_PX) {
      p.style.setProperty('--vh', `${vv.height}px`);
      p.style.top = `${vv.offsetTop}px`;
    } else {
      p.style.removeProperty('--vh');
      p.style.top = '';
    }
  }
  window.visualViewport?.addEventListener('resize', fitViewport);
  window.visualViewport?.addEventListener('scroll', fitViewport);

  ctx.run = (call: HostToWidget) => {
    if (!Array.isArray(call)) return;
    const [name, arg] = call as [string, unknown];
    switch (name) {
      case 'open':
        return setOpen(true);
      case 'close':
        return setOpen(false);
      case 'toggle':
        return setOpen(!open);
      case 'identify':
        user = toIdentity(arg);
        if (user) client?.identify(user);
        return;
      case 'setAttributes': {
        const a = toAttrs(arg);
        if (!a) return;
        attrs = { ...attrs, ...a };
        client?.setAttrs(a);
        return;
      }
      case 'setLocale':
        if (typeof arg === 'string') setLocale(ctx.pick(arg));
        return;
      case 'shutdown':
        client?.stop();
        ctx.forget();
        client = null;
        user = attrs = null;
        offlineSent = '';
        setOpen(false);
        return draw();
    }
  };

  const stopPage = watchPage(() => client?.page(pageInfo(title())));
  addEventListener('storage', (e) => {
    if (e.storageArea === localStorage && e.key?.startsWith(`hark:${ctx.site}:`) !== false) client?.onStorage(e.key);
  });
  addEventListener('online', () => client?.kick());
  addEventListener('offline', () => client?.goOffline());
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) client?.kick();
    draw();
  });
  void stopPage;

  ensure();
  for (const c of ctx.q.splice(0)) ctx.run(c);
  draw();
}

function safeStorage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

/** A short chime made with WebAudio: no audio file to fetch, nothing for CSP to block. */
function beep(): void {
  try {
    const ac = new AudioContext();
    const o = ac.createOscillator();
    const g = ac.createGain();
    g.gain.value = 0.08;
    o.frequency.value = 880;
    o.connect(g).connect(ac.destination);
    o.start();
    o.stop(ac.currentTime + 0.15);
  } catch {
    // No audio (autoplay policy, no device): the badge and title still tell.
  }
}

const me = document.currentScript as ScriptWithCtx | null;
const ctx = me?.hark;
if (ctx && !ctx.run) start(ctx);
