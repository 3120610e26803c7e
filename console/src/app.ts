/**
 * The console's one store and its actions. Components read `useApp()` and call
 * `actions.*`; the realtime part of the state changes only through
 * `applyFrame`, so what a test of state.ts proves holds here.
 */
import { DEFAULT_UNANSWERED_MS } from '@hark/shared/limits';
import { randomId } from '@hark/shared/ids';
import type { ConvSummary, Me, OperatorStatus, OperatorToServer, ServerToOperator } from '@hark/shared/protocol';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, type Operator, type Site, type Team } from './api';
import { formatLocale } from './format';
import { type Lang, pickLang, t as translate } from './i18n';
import { type Route, parseRoute, routePath } from './route';
import { attentionCount, inView, isOverdue, listView, step, type View, viewsFor } from './inbox';
import { desktopNotify, knock, tabHasFocus, titleWithCount, Wordless } from './notify';
import type { SavedReply } from './replies';
import type { SearchAnswer, SearchFilters, SearchHit } from './search';
import { OperatorSocket } from './socket';
import { applyFrame, concernsMe, initialState, markRead, mergeConvs, type State, visitorLabel } from './state';

export type Screen = 'inbox' | 'stats' | 'reports' | 'admin' | 'account';

export interface AppState {
  auth: 'unknown' | 'signed-out' | 'signed-in';
  rt: State;
  screen: Screen;
  view: View;
  selected: string | null;
  /** The selected conversation's visitor details are the view (a phone stacks list → conversation → details). */
  details: boolean;
  /** Conversations a supervisor is watching (live without taking part). */
  watching: Record<string, boolean>;
  sites: Site[];
  teams: Team[];
  operators: Operator[];
  replies: SavedReply[];
  resolvedQuery: string;
  /** The search box: its words, filters and the last answer (null: not searching). */
  search: { q: string; filters: SearchFilters; answer: SearchAnswer | null; busy: boolean; error: string | null };
  /** A search hit opened: scroll its conversation to this entry once it is shown. */
  jump: { conv: string; entry: string } | null;
  lang: Lang;
  help: boolean;
  /** Bumped when the socket's unacked list changes, so pending sends re-render. */
  pendingTick: number;
  toast: string | null;
  /** The gateway could not be reached at start (offline: the service worker's shell opened); retried when the network returns. */
  unreachable: boolean;
  /** The admin screen's tab (its URL's last part); null: the first one the operator may see. */
  adminTab: string | null;
}

const LANG_KEY = 'hark:console:lang';
const BASE_TITLE = 'Hark console';

function storedLang(): Lang {
  try {
    const v = localStorage.getItem(LANG_KEY);
    if (v === 'en' || v === 'hr' || v === 'ru') return v;
  } catch {
    // Storage can be disabled; fall back to the browser's language.
  }
  return pickLang(navigator.languages?.length ? navigator.languages : [navigator.language]);
}

let state: AppState = {
  auth: 'unknown',
  rt: initialState(),
  screen: 'inbox',
  view: 'mine',
  selected: null,
  details: false,
  watching: {},
  sites: [],
  teams: [],
  operators: [],
  replies: [],
  resolvedQuery: '',
  search: { q: '', filters: {}, answer: null, busy: false, error: null },
  jump: null,
  lang: 'en',
  help: false,
  pendingTick: 0,
  toast: null,
  adminTab: null,
  unreachable: false,
};
const listeners = new Set<() => void>();

export function getState(): AppState {
  return state;
}

function set(patch: Partial<AppState> | ((s: AppState) => Partial<AppState>)): void {
  const p = typeof patch === 'function' ? patch(state) : patch;
  state = { ...state, ...p };
  refreshTitle();
  syncUrl();
  for (const l of listeners) l();
}

/** What is on screen, as a URL (route.ts). */
function routeOf(s: AppState): Route {
  if (s.screen === 'inbox') return s.selected && s.details ? { screen: 'inbox', view: s.view, conv: s.selected, details: true } : { screen: 'inbox', view: s.view, conv: s.selected };
  if (s.screen === 'admin') return { screen: 'admin', tab: s.adminTab };
  return { screen: s.screen };
}

/** Set while a URL is being applied (a reload, back/forward): what it shows must not push it again. */
let applyingUrl = false;

/** Each change of screen, view or conversation gets its own history entry, so back/forward walk them. */
function syncUrl(): void {
  if (applyingUrl || state.auth !== 'signed-in' || typeof history === 'undefined') return;
  const path = routePath(routeOf(state));
  // Marked as the console's own entry: an in-app back button may then go back in history (phone.ts).
  if (location.pathname !== path) history.pushState({ hark: true }, '', path + location.search);
}

/** Shows what a URL names: at sign-in (a reload keeps the open chat) and on back/forward. */
function applyUrl(): void {
  const r = parseRoute(location.pathname);
  applyingUrl = true;
  try {
    if (r.screen === 'inbox') {
      const view = viewsFor(state.rt.me).includes(r.view) ? r.view : 'mine';
      set({ screen: 'inbox', view, help: false });
      if (view === 'resolved') void actions.searchResolved(state.resolvedQuery);
      // Before the socket's welcome the chat is only remembered; `synced` opens it.
      if (state.rt.connection === 'live' || !r.conv) actions.select(r.conv);
      else set({ selected: r.conv });
      set({ details: !!r.details });
    } else set({ screen: r.screen, adminTab: r.screen === 'admin' ? r.tab : state.adminTab, help: false });
  } finally {
    applyingUrl = false;
  }
  // A URL the console corrected (an unknown path, a view this operator lacks) is replaced, not kept.
  const path = routePath(routeOf(state));
  if (state.auth === 'signed-in' && location.pathname !== path) history.replaceState(null, '', path + location.search);
}

if (typeof addEventListener !== 'undefined') addEventListener('popstate', () => {
  if (state.auth === 'signed-in') applyUrl();
});

/** The tab title's count, from the state and the clock: a chat turns overdue with no frame arriving. */
function refreshTitle(now = Date.now()): void {
  const title = titleWithCount(BASE_TITLE, attentionCount(state.rt.convs, state.rt.unread, state.rt.me, (c) => isOverdue(c, thresholdFor(c), now)));
  if (document.title !== title) document.title = title;
}

/** How often the title's count is recomputed while nothing arrives (the flag's own clock ticks as often). */
const TITLE_TICK_MS = 1000;
setInterval(() => refreshTitle(), TITLE_TICK_MS);

export function useApp(): AppState {
  const [, force] = useState(0);
  useEffect(() => {
    const l = () => force((n) => n + 1);
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);
  return state;
}

export function t(key: Parameters<typeof translate>[1], vars?: Record<string, string | number>): string {
  return translate(state.lang, key, vars);
}

/** The locale times and dates are written in (format.ts formatLocale). */
export function fmtLocale(): string {
  return formatLocale(state.lang, typeof navigator === 'undefined' ? [] : navigator.languages?.length ? navigator.languages : [navigator.language]);
}

let socket: OperatorSocket | null = null;
let searchSeq = 0;

export function thresholdFor(conv: ConvSummary): number {
  return state.sites.find((s) => s.id === conv.site)?.unansweredMs ?? DEFAULT_UNANSWERED_MS;
}

function focusedConv(): string | null {
  return state.screen === 'inbox' && tabHasFocus() ? state.selected : null;
}

const wordless = new Wordless();

/** "New chat", with the visitor's first words once known; the same tag replaces an earlier one of this chat. */
function notifyNewChat(c: ConvSummary, said: string | undefined): void {
  const view: View = c.operator?.id === state.rt.me?.id ? 'mine' : 'queue';
  const body = visitorLabel(c.visitor, state.lang) + (said === undefined ? '' : `: ${said}`);
  desktopNotify(t('notify.newChat'), body, `conv-${c.id}`, routePath({ screen: 'inbox', view, conv: c.id }), () => actions.select(c.id));
}

function onFrame(f: ServerToOperator): void {
  const { state: rt, effects } = applyFrame(state.rt, f, focusedConv());
  const patch: Partial<AppState> = { rt };
  if (f.type === 'ack' || f.type === 'error') patch.pendingTick = state.pendingTick + 1;
  if (f.type === 'error') patch.toast = `${f.code}: ${f.message}`;
  if (effects.gone && state.selected === effects.gone.conv) {
    patch.selected = null;
    patch.toast = t('conv.handedOver', { name: effects.gone.to });
  }
  set(patch);
  if (effects.newChat) {
    const c = effects.newChat;
    knock();
    const said = c.last?.kind === 'msg' && c.last.from === 'visitor' ? (c.last.text ?? '') : undefined;
    if (said === undefined) wordless.mark(c.id, Date.now());
    notifyNewChat(c, said);
  }
  if (effects.newMessage) {
    const e = effects.newMessage;
    const conv = rt.convs[e.conv];
    // The chat's notification was shown before its first words got here: they complete it.
    if (conv && wordless.take(e.conv, Date.now())) notifyNewChat(conv, e.text ?? '');
    else {
      if (!tabHasFocus() || state.selected !== e.conv) knock();
      const path = routePath({ screen: 'inbox', view: 'mine', conv: e.conv });
      desktopNotify(t('notify.newMessage', { name: conv ? visitorLabel(conv.visitor, state.lang) : '' }), e.text ?? '', `msg-${e.conv}`, path, () => actions.select(e.conv));
    }
  }
  // Preload the history of what the operator must act on: a conversation's first message can reach
  // the summary before this gateway follows its stream, and the inbox preview should show words.
  if (f.type === 'welcome') requested.clear();
  if (f.type === 'conv' && concernsMe(f.conv, rt.me)) preload(f.conv.id);
  if (f.type === 'synced') for (const c of Object.values(rt.convs)) if (concernsMe(c, rt.me)) preload(c.id);
  // The conversation on screen is read as it arrives: tell the visitor.
  if (f.type === 'entry' && f.entry.conv === focusedConv() && f.entry.from === 'visitor') sendSeen(f.entry.conv);
  if (f.type === 'synced' && state.selected) actions.select(state.selected);
}

/** A conversation known only by its id (a URL): its summary over REST; one this operator may not read closes. */
async function fetchConv(conv: string): Promise<void> {
  try {
    const { conv: c } = await api.conversation(conv);
    set((s) => ({ rt: mergeConvs(s.rt, [c]) }));
  } catch {
    if (state.selected !== conv) return;
    applyingUrl = true;
    set({ selected: null, toast: t('conv.notFound') });
    applyingUrl = false;
    history.replaceState(null, '', routePath(routeOf(state)));
  }
}

const requested = new Set<string>();
function preload(conv: string): void {
  if (state.rt.loaded[conv] || requested.has(conv)) return;
  requested.add(conv);
  out({ type: 'open', conv });
}

function sendSeen(conv: string): void {
  const id = state.rt.lastIds[conv];
  const c = state.rt.convs[conv];
  if (!id || !c || c.operator?.id !== state.rt.me?.id) return;
  socket?.send({ type: 'seen', conv, id });
}

function startSocket(): void {
  socket?.stop();
  requested.clear();
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  socket = new OperatorSocket({
    url: `${proto}//${location.host}/v1/operator`,
    onFrame,
    onState: (c) => set((s) => ({ rt: { ...s.rt, connection: c === 'offline' ? 'offline' : c } })),
    lastIds: () => state.rt.lastIds,
    stillSignedIn: async () => {
      try {
        await api.me();
        return true;
      } catch (e) {
        return !(e instanceof ApiError && (e.status === 401 || e.status === 403));
      }
    },
    onSignedOut: () => set({ auth: 'signed-out', rt: initialState() }),
  });
  socket.start();
}

async function loadDirectory(): Promise<void> {
  const [sites, teams, operators, replies] = await Promise.all([
    api.sites().catch(() => [] as Site[]),
    api.teams().catch(() => [] as Team[]),
    api.operators().catch(() => [] as Operator[]),
    api.replies().catch(() => [] as SavedReply[]),
  ]);
  set({ sites, teams, operators, replies });
}

function signedIn(me: Me): void {
  applyingUrl = true;
  set({ auth: 'signed-in', rt: { ...initialState(), me }, view: 'mine', selected: null, screen: 'inbox' });
  applyingUrl = false;
  applyUrl();
  startSocket();
  void loadDirectory();
}

function out(f: OperatorToServer): void {
  if (!socket?.send(f) && f.type !== 'send' && f.type !== 'note') set({ toast: t('error.offline') });
}

export const actions = {
  async boot(): Promise<void> {
    set({ lang: storedLang() });
    document.documentElement.lang = state.lang;
    try {
      const { me } = await api.me();
      set({ unreachable: false });
      signedIn(me);
    } catch (e) {
      // A 401 is "not signed in"; anything else (no network) is said so, and tried again when it returns.
      set({ auth: 'signed-out', unreachable: !(e instanceof ApiError) });
    }
  },
  async signIn(email: string, password: string): Promise<void> {
    const { me } = await api.login(email, password);
    signedIn(me);
  },
  /** Uploads (a data: URL) or removes ('') the operator's own photo; the record then names it by its URL. */
  async setMyAvatar(avatar: string): Promise<void> {
    const me = state.rt.me;
    if (!me) return;
    const op = await api.updateOperator(me.id, { avatar });
    const now = state.rt.me;
    if (now) set({ rt: { ...state.rt, me: { ...now, ...(op.avatar ? { avatar: op.avatar } : {}) } } });
    if (!op.avatar && state.rt.me) {
      const { avatar: _gone, ...rest } = state.rt.me;
      set({ rt: { ...state.rt, me: rest } });
    }
  },
  async signOut(): Promise<void> {
    socket?.stop();
    socket = null;
    await api.logout().catch(() => {});
    set({ auth: 'signed-out', rt: initialState(), selected: null });
  },
  setLang(lang: Lang): void {
    try {
      localStorage.setItem(LANG_KEY, lang);
    } catch {
      // Not persisted; still switch for this tab.
    }
    document.documentElement.lang = lang;
    set({ lang });
  },
  go(screen: Screen): void {
    set({ screen, help: false });
    if (screen === 'inbox') void loadDirectory();
  },
  setView(view: View): void {
    if (!viewsFor(state.rt.me).includes(view)) return;
    set({ view });
    if (view === 'resolved') void actions.searchResolved(state.resolvedQuery);
  },
  async searchResolved(q: string): Promise<void> {
    set({ resolvedQuery: q });
    try {
      const list = await api.conversations({ status: 'resolved', q });
      set((s) => {
        // Replace the previous result set: drop resolved ones not in this answer.
        const convs = { ...s.rt.convs };
        for (const [id, c] of Object.entries(convs)) if (c.status === 'resolved' && id !== s.selected) delete convs[id];
        return { rt: mergeConvs({ ...s.rt, convs }, list) };
      });
    } catch (e) {
      set({ toast: e instanceof Error ? e.message : String(e) });
    }
  },
  /** Runs the search box's query; an empty one with no filters closes the results. Answers arriving out of order are dropped. */
  async search(q: string, filters: SearchFilters = state.search.filters): Promise<void> {
    const seq = ++searchSeq;
    const active = q.trim() !== '' || Object.values(filters).some(Boolean);
    set({ search: { q, filters, answer: active ? state.search.answer : null, busy: active, error: null } });
    if (!active) return;
    try {
      const answer = await api.search(q, filters);
      if (seq === searchSeq) set((s) => ({ search: { ...s.search, answer, busy: false } }));
    } catch (e) {
      if (seq === searchSeq) set((s) => ({ search: { ...s.search, busy: false, error: e instanceof ApiError ? e.code : String(e) } }));
    }
  },
  /** Opens a search hit at its matching entry. */
  openHit(h: SearchHit): void {
    set({ jump: h.entry ? { conv: h.conv.id, entry: h.entry } : null });
    actions.openConv(h.conv);
  },
  jumped(): void {
    set({ jump: null });
  },
  select(conv: string | null): void {
    set((s) => ({ selected: conv, details: conv !== null && conv === s.selected && s.details, screen: 'inbox', rt: conv ? markRead(s.rt, conv) : s.rt }));
    if (!conv) return;
    // Named by a URL but not among the live chats (a resolved one, a reload): read its summary.
    if (!state.rt.convs[conv] && state.rt.connection === 'live') void fetchConv(conv);
    if (!state.rt.loaded[conv]) out({ type: 'open', conv });
    sendSeen(conv);
  },
  /** Shows a conversation known only from REST (a previous one, a search hit). */
  openConv(c: ConvSummary): void {
    set((s) => ({ rt: mergeConvs(s.rt, [c]) }));
    actions.select(c.id);
  },
  /** Shows or leaves the visitor's details (their own view, and URL, on a phone). */
  details(on: boolean): void {
    if (state.selected) set({ details: on });
  },
  /**
   * The in-app back button of a stacked view (phone): history's back when the previous entry is
   * the console's own (the browser's back gesture does the same), else straight up one level.
   */
  back(): void {
    if (typeof history !== 'undefined' && (history.state as { hark?: boolean } | null)?.hark) {
      history.back();
      return;
    }
    const up = () => {
      if (state.details) set({ details: false });
      else set({ selected: null });
    };
    // No console entry to go back to (opened from a link or a notification): replace this one.
    applyingUrl = true;
    up();
    applyingUrl = false;
    history.replaceState(null, '', routePath(routeOf(state)) + location.search);
  },
  /** Shows what a console URL names (a notification's click, through the service worker). */
  openPath(link: string): void {
    if (state.auth !== 'signed-in' || !link.startsWith('/console/')) return;
    // A link made while the chat was elsewhere (a notification of a queued chat since routed to
    // this operator) opens it in the view where it is now. (Back and forward keep their views.)
    let path = link;
    const r = parseRoute(link);
    const known = r.screen === 'inbox' && r.conv ? state.rt.convs[r.conv] : undefined;
    if (r.screen === 'inbox' && known && !inView(known, r.view, state.rt.me)) {
      const now = viewsFor(state.rt.me).find((v) => inView(known, v, state.rt.me));
      if (now) path = routePath({ ...r, view: now });
    }
    if (location.pathname !== path) history.pushState({ hark: true }, '', path);
    applyUrl();
  },
  move(delta: number): void {
    const list = listView(state.rt.convs, state.view, state.rt.me);
    actions.select(step(list, state.selected, delta));
  },
  send(conv: string, text: string, note = false, files?: string[]): boolean {
    if (!text.trim() && !files?.length) return false;
    const cid = randomId(21);
    socket?.send({ type: note ? 'note' : 'send', conv, cid, text, ...(files?.length ? { files } : {}) });
    set({ pendingTick: state.pendingTick + 1 });
    return true;
  },
  /** Asks for the page of entries before the oldest one held (a conversation longer than one page). */
  loadEarlier(conv: string): void {
    const oldest = state.rt.entries[conv]?.[0]?.id;
    if (oldest) out({ type: 'open', conv, before: oldest });
  },
  pending(conv: string) {
    return (socket?.unacked() ?? []).filter((p) => p.conv === conv);
  },
  typing(conv: string, on: boolean): void {
    socket?.send({ type: 'typing', conv, on });
  },
  take(conv: string): void {
    out({ type: 'take', conv });
  },
  resolve(conv: string): void {
    out({ type: 'resolve', conv });
  },
  reopen(conv: string): void {
    out({ type: 'reopen', conv });
  },
  join(conv: string): void {
    out({ type: 'join', conv });
  },
  watch(conv: string, on: boolean): void {
    out({ type: 'watch', conv, on });
    set((s) => ({ watching: { ...s.watching, [conv]: on } }));
    if (on && !state.rt.loaded[conv]) out({ type: 'open', conv });
  },
  transfer(conv: string, target: { to?: string; team?: string }, note: string): void {
    const f: OperatorToServer = { type: 'transfer', conv, ...target };
    if (note.trim()) f.note = note;
    out(f);
  },
  setStatus(status: OperatorStatus): void {
    out({ type: 'status', status });
  },
  toggleHelp(on?: boolean): void {
    set((s) => ({ help: on ?? !s.help }));
  },
  toast(msg: string | null): void {
    set({ toast: msg });
  },
  kick(): void {
    socket?.kick();
  },
  /** The browser lost the network: show it now instead of a Live that is no longer true (socket.ts). */
  offline(): void {
    socket?.offline();
  },
  /** Re-reads sites, teams, operators and replies after an admin edit. */
  reload: loadDirectory,
  patch: set,
};
