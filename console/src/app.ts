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
import { type Lang, pickLang, t as translate } from './i18n';
import { attentionCount, listView, step, type View, viewsFor } from './inbox';
import { beep, desktopNotify, tabHasFocus, titleWithCount } from './notify';
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
};
const listeners = new Set<() => void>();

export function getState(): AppState {
  return state;
}

function set(patch: Partial<AppState> | ((s: AppState) => Partial<AppState>)): void {
  const p = typeof patch === 'function' ? patch(state) : patch;
  state = { ...state, ...p };
  document.title = titleWithCount(BASE_TITLE, attentionCount(state.rt.convs, state.rt.unread, state.rt.me));
  for (const l of listeners) l();
}

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

let socket: OperatorSocket | null = null;
let searchSeq = 0;

export function thresholdFor(conv: ConvSummary): number {
  return state.sites.find((s) => s.id === conv.site)?.unansweredMs ?? DEFAULT_UNANSWERED_MS;
}

function focusedConv(): string | null {
  return state.screen === 'inbox' && tabHasFocus() ? state.selected : null;
}

function onFrame(f: ServerToOperator): void {
  const { state: rt, effects } = applyFrame(state.rt, f, focusedConv());
  const patch: Partial<AppState> = { rt };
  if (f.type === 'ack' || f.type === 'error') patch.pendingTick = state.pendingTick + 1;
  if (f.type === 'error') patch.toast = `${f.code}: ${f.message}`;
  set(patch);
  if (effects.newChat) {
    const c = effects.newChat;
    beep();
    const said = c.last?.kind === 'msg' && c.last.from === 'visitor' ? `: ${c.last.text ?? ''}` : '';
    desktopNotify(t('notify.newChat'), visitorLabel(c.visitor) + said, `conv-${c.id}`, () => actions.select(c.id));
  }
  if (effects.newMessage) {
    const e = effects.newMessage;
    const conv = rt.convs[e.conv];
    if (!tabHasFocus() || state.selected !== e.conv) beep();
    desktopNotify(t('notify.newMessage', { name: conv ? visitorLabel(conv.visitor) : '' }), e.text ?? '', `msg-${e.conv}`, () => actions.select(e.conv));
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
  set({ auth: 'signed-in', rt: { ...initialState(), me }, view: 'mine', selected: null, screen: 'inbox' });
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
      signedIn(me);
    } catch {
      set({ auth: 'signed-out' });
    }
  },
  async signIn(email: string, password: string): Promise<void> {
    const { me } = await api.login(email, password);
    signedIn(me);
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
    set((s) => ({ selected: conv, screen: 'inbox', rt: conv ? markRead(s.rt, conv) : s.rt }));
    if (!conv) return;
    if (!state.rt.loaded[conv]) out({ type: 'open', conv });
    sendSeen(conv);
  },
  /** Shows a conversation known only from REST (a previous one, a search hit). */
  openConv(c: ConvSummary): void {
    set((s) => ({ rt: mergeConvs(s.rt, [c]) }));
    actions.select(c.id);
  },
  move(delta: number): void {
    const list = listView(state.rt.convs, state.view, state.rt.me);
    actions.select(step(list, state.selected, delta));
  },
  send(conv: string, text: string, note = false): boolean {
    if (!text.trim()) return false;
    const cid = randomId(21);
    socket?.send({ type: note ? 'note' : 'send', conv, cid, text });
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
  /** Re-reads sites, teams, operators and replies after an admin edit. */
  reload: loadDirectory,
  patch: set,
};
