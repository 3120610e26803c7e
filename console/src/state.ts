/**
 * The console's realtime state and the one pure function that folds server
 * frames into it. Kept free of Preact and the DOM so it is unit-tested directly.
 */
import { insertEntry } from '@hark/shared/entries';
import { compareStreamIds } from '@hark/shared/ids';
import type { Lang } from './i18n';
import { friendlyName } from './names';
import type { ConvSummary, Entry, Me, OperatorPresence, OperatorStatus, ServerToOperator, VisitorInfo } from '@hark/shared/protocol';

export type Connection = 'connecting' | 'syncing' | 'live' | 'offline';

export interface Typing {
  on: boolean;
  preview?: string;
  at: number;
}

export interface State {
  me: Me | null;
  connection: Connection;
  convs: Record<string, ConvSummary>;
  /** Entries per conversation, in stream order, de-duplicated. */
  entries: Record<string, Entry[]>;
  /** Conversations whose history has arrived (after `open`): its latest page (CATCHUP_PAGE entries) at least. */
  loaded: Record<string, boolean>;
  /** Conversations with entries older than the oldest one held (the server said `more`): "load earlier" asks for them. */
  more: Record<string, boolean>;
  /** Highest stream id seen per conversation: the resume cursor sent in `hello`. */
  lastIds: Record<string, string>;
  typing: Record<string, Typing>;
  /** Last entry the visitor has seen, per conversation. */
  seenByVisitor: Record<string, string>;
  /** Visitor messages that arrived since the operator last looked at the conversation. */
  unread: Record<string, number>;
  operators: Record<string, OperatorPresence>;
  /** Last error frame, shown as a toast. */
  error: { code: string; message: string; at: number } | null;
}

export function initialState(): State {
  return {
    me: null,
    connection: 'connecting',
    convs: {},
    entries: {},
    loaded: {},
    more: {},
    lastIds: {},
    typing: {},
    seenByVisitor: {},
    unread: {},
    operators: {},
    error: null,
  };
}

/** What a frame means for the notification layer, beside the new state. */
export interface Effects {
  /** A conversation this operator should know about appeared (queued or assigned to them). */
  newChat?: ConvSummary;
  /** A visitor wrote in a conversation this operator is responsible for. */
  newMessage?: Entry;
  /** A conversation this operator may no longer see (handed to a colleague, taken from the queue) left the console. */
  gone?: { conv: string; to: string };
}

function bumpLastId(lastIds: Record<string, string>, conv: string, id: string): Record<string, string> {
  const cur = lastIds[conv];
  if (cur && compareStreamIds(cur, id) >= 0) return lastIds;
  return { ...lastIds, [conv]: id };
}

function addEntry(s: State, e: Entry, focused: string | null, now: number, effects: Effects): State {
  const list = s.entries[e.conv] ?? [];
  const next = insertEntry(list, e);
  if (next === list) return s;
  const state: State = { ...s, entries: { ...s.entries, [e.conv]: next }, lastIds: bumpLastId(s.lastIds, e.conv, e.id) };
  const conv = state.convs[e.conv];
  if (conv && (!conv.last || compareStreamIds(conv.last.id, e.id) < 0)) state.convs = { ...state.convs, [e.conv]: answered({ ...conv, last: e }, e) };
  // An operator's answer answers every visitor message before it, in every console: nothing of it is unread any more.
  if (e.kind === 'msg' && e.from === 'operator' && s.unread[e.conv]) state.unread = { ...s.unread, [e.conv]: 0 };
  if (e.kind === 'msg' && e.from === 'visitor') {
    state.typing = { ...s.typing, [e.conv]: { on: false, at: now } };
    if (focused !== e.conv) {
      state.unread = { ...s.unread, [e.conv]: (s.unread[e.conv] ?? 0) + 1 };
      if (!conv || concernsMe(conv, s.me)) effects.newMessage = e;
    }
  }
  return state;
}

/**
 * The summary after its newest message `e`, as the gateway keeps it (site-view.ts fanOut):
 * a visitor's message starts the wait unless one is already running (a follow-up to an
 * answered chat starts a new one), an operator's message ends it. The summary a `conv`
 * frame brings is the gateway's own and is kept as it is.
 */
function answered(c: ConvSummary, e: Entry): ConvSummary {
  if (e.kind !== 'msg' || c.status === 'resolved') return c;
  if (e.from === 'visitor') return c.waitingSince === undefined ? { ...c, waitingSince: e.at } : c;
  if (e.from === 'operator' && c.waitingSince !== undefined) {
    const { waitingSince: _, ...rest } = c;
    return rest;
  }
  return c;
}

/**
 * Whether the gateway keeps this operator up to date about a conversation (server policy.ts
 * canSeeLive): supervisors and admins see every one, others the waiting ones and their own.
 */
export function followsLive(c: ConvSummary, me: Me | null): boolean {
  if (!me || me.role === 'admin' || me.role === 'supervisor') return true;
  return c.status === 'queued' || !c.operator || c.operator.id === me.id;
}

/** A conversation the operator is expected to act on: theirs, or waiting in the queue. */
export function concernsMe(c: ConvSummary, me: Me | null): boolean {
  if (!me) return false;
  if (c.status === 'queued') return true;
  return c.status === 'open' && c.operator?.id === me.id;
}

/**
 * Folds one server frame into the state. `focused` is the conversation the
 * operator is looking at right now (with the tab visible), whose messages are
 * read as they arrive.
 */
export function applyFrame(s: State, f: ServerToOperator, focused: string | null = null, now = Date.now()): { state: State; effects: Effects } {
  const effects: Effects = {};
  switch (f.type) {
    case 'welcome': {
      const convs: Record<string, ConvSummary> = {};
      const unread: Record<string, number> = {};
      for (const c of f.convs) {
        convs[c.id] = c;
        // Keep counts across a reconnect; a fresh load counts an unanswered conversation once.
        unread[c.id] = s.unread[c.id] ?? (c.waitingSince && c.last?.from === 'visitor' ? 1 : 0);
      }
      // Resolved conversations the operator was looking at stay visible even though welcome lists live ones only.
      for (const [id, c] of Object.entries(s.convs)) if (!convs[id] && c.status === 'resolved') convs[id] = c;
      const operators: Record<string, OperatorPresence> = {};
      for (const o of f.operators) operators[o.id] = o;
      return { state: { ...s, me: f.me, convs, unread, operators, connection: 'syncing' }, effects };
    }
    case 'synced':
      return { state: { ...s, connection: 'live' }, effects };
    case 'conv': {
      // A visitor erased (their data deleted on request): the gateway's last word on their live chat is a
      // resolved summary with no visitor; nothing of it stays on screen.
      if (f.conv.visitor.id === ERASED_VISITOR) return { state: dropConvs(s, [f.conv.id]), effects };
      const prev = s.convs[f.conv.id];
      // Handed to a colleague (or taken from the queue by one): the gateway sends this last summary and
      // nothing more of it to an operator who may no longer see it, so it leaves rather than stay, stale.
      if (!followsLive(f.conv, s.me)) {
        if (prev) effects.gone = { conv: f.conv.id, to: f.conv.operator?.name ?? '' };
        return { state: dropConvs(s, [f.conv.id]), effects };
      }
      let state: State = { ...s, convs: { ...s.convs, [f.conv.id]: f.conv } };
      const wasMine = prev ? concernsMe(prev, s.me) : false;
      if (!wasMine && concernsMe(f.conv, s.me) && s.connection === 'live') effects.newChat = f.conv;
      // A conversation's first message can reach the summary before this gateway follows the
      // conversation's stream, so `last` is treated as an entry too (insertEntry de-duplicates).
      if (f.conv.last) state = addEntry(state, f.conv.last, focused, now, effects);
      if (effects.newChat && effects.newMessage?.conv === f.conv.id) delete effects.newMessage;
      return { state, effects };
    }
    case 'entry':
      return { state: addEntry(s, f.entry, focused, now, effects), effects };
    case 'history': {
      const held = s.entries[f.conv] ?? [];
      let list = held;
      for (const e of f.entries) list = insertEntry(list, e);
      const last = list[list.length - 1];
      const lastIds = last ? bumpLastId(s.lastIds, f.conv, last.id) : s.lastIds;
      // `more` speaks of what is older than this page: it decides only if the page reaches back to
      // (or past) the oldest entry held, not for a latest page fetched again after a reconnect.
      const oldest = held[0]?.id;
      const first = f.entries[0]?.id;
      const more = !oldest || !first || compareStreamIds(first, oldest) <= 0 ? f.more : (s.more[f.conv] ?? f.more);
      return { state: { ...s, entries: { ...s.entries, [f.conv]: list }, loaded: { ...s.loaded, [f.conv]: true }, more: { ...s.more, [f.conv]: more }, lastIds }, effects };
    }
    case 'ack':
      // The message itself comes back as an `entry`; the socket layer clears its pending copy.
      return { state: s, effects };
    case 'typing': {
      if (f.by !== 'visitor') return { state: s, effects };
      const t: Typing = { on: f.on, at: now };
      if (f.preview !== undefined) t.preview = f.preview;
      return { state: { ...s, typing: { ...s.typing, [f.conv]: t } }, effects };
    }
    case 'seen': {
      if (f.by !== 'visitor') return { state: s, effects };
      const cur = s.seenByVisitor[f.conv];
      if (cur && compareStreamIds(cur, f.id) >= 0) return { state: s, effects };
      return { state: { ...s, seenByVisitor: { ...s.seenByVisitor, [f.conv]: f.id } }, effects };
    }
    case 'visitor': {
      const conv = s.convs[f.conv];
      if (!conv) return { state: s, effects };
      return { state: { ...s, convs: { ...s.convs, [f.conv]: { ...conv, visitor: f.visitor } } }, effects };
    }
    case 'presence': {
      const operators = { ...s.operators, [f.operator.id]: f.operator };
      const me = s.me && f.operator.id === s.me.id ? { ...s.me, status: f.operator.status } : s.me;
      return { state: { ...s, operators, me }, effects };
    }
    case 'status':
      return { state: { ...s, me: s.me ? { ...s.me, status: f.status } : s.me }, effects };
    case 'error':
      return { state: { ...s, error: { code: f.code, message: f.message, at: now } }, effects };
    default:
      return { state: s, effects };
  }
}

export function markRead(s: State, conv: string): State {
  if (!s.unread[conv]) return s;
  return { ...s, unread: { ...s.unread, [conv]: 0 } };
}

export function setStatusLocal(s: State, status: OperatorStatus): State {
  return s.me ? { ...s, me: { ...s.me, status } } : s;
}

/** Adds conversations fetched over REST (e.g. a Resolved search) without dropping live ones. */
export function mergeConvs(s: State, list: ConvSummary[]): State {
  const convs = { ...s.convs };
  for (const c of list) if (!convs[c.id]) convs[c.id] = c;
  return { ...s, convs };
}

/** What the console calls a visitor: their name or e-mail, else a friendly name from their id in the operator's language. */
export function visitorLabel(v: VisitorInfo, lang: Lang): string {
  return v.name || v.email || friendlyName(v.id, lang);
}

/** The visitor id an erased visitor's conversations carry in their last summary (server store/privacy.ts ERASED_VISITOR). */
export const ERASED_VISITOR = '-';

/** The state without these conversations and everything held per conversation. */
export function dropConvs(rt: State, ids: Iterable<string>): State {
  const gone = new Set(ids);
  if (gone.size === 0) return rt;
  const drop = <T>(rec: Record<string, T>): Record<string, T> => Object.fromEntries(Object.entries(rec).filter(([k]) => !gone.has(k)));
  return {
    ...rt,
    convs: drop(rt.convs),
    entries: drop(rt.entries),
    loaded: drop(rt.loaded),
    more: drop(rt.more),
    lastIds: drop(rt.lastIds),
    typing: drop(rt.typing),
    seenByVisitor: drop(rt.seenByVisitor),
    unread: drop(rt.unread),
  };
}
