/**
 * The visitor's protocol client: one WebSocket to the gateway, resume by last stream
 * id, an outbox that survives reloads, and tabs of the same site kept in step through
 * `storage` events. No DOM here, so it runs under vitest with a fake socket.
 */
import { insertEntry } from '@hark/shared/entries';
import { compareStreamIds, randomId } from '@hark/shared/ids';
import { MAX_MESSAGE_CHARS, PROTOCOL_VERSION, VISITOR_TOKEN_RE } from '@hark/shared/limits';
import type { Attrs, Entry, Identity, PageInfo, Rating, ServerToVisitor, SiteConfig, VisitorConv, VisitorToServer } from '@hark/shared/protocol';
import { backoffDelay } from './backoff';
import { isRecord, isStringMap, type KV, Persist } from './persist';

/**
 * After this many connects in a row that never opened, with a stored token, the
 * client suspects the token (the gateway refuses an unknown one with HTTP 401, which
 * a browser reports only as a failed socket) and probes with a fresh one; see `fail()`.
 */
export const TOKEN_FAILS_BEFORE_PROBE = 3;
/** A send not acked this long after it went out is shown as failed (and retried). */
export const ACK_TIMEOUT_MS = 10_000;
/** How often unacked sends are checked. */
export const RETRY_TICK_MS = 2_500;
/** The operator's "typing…" fades after this long without news (their `off` may be lost). */
export const OPERATOR_TYPING_MS = 8_000;
/** Entries kept per conversation in storage, so a reload renders at once and resumes from the last. */
export const CACHE_ENTRIES = 200;
/** Delay before the cache is written, to batch a catch-up's many entries into one write. */
export const CACHE_WRITE_MS = 300;
/** Errors after which resending the same message cannot help. */
const PERMANENT = new Set(['EMPTY_MESSAGE', 'MESSAGE_TOO_LONG', 'BAD_FRAME', 'BAD_REQUEST', 'FRAME_TOO_LARGE']);
/** Close code after which reconnecting cannot help: PROTOCOL_VERSION (an old widget talking to a newer server). */
const FATAL_CLOSE = 1002;

/** Failed for a reason a resend cannot fix; waits for the visitor's retry or discard. */
const stuck = (it: OutItem): boolean => it.state === 'failed' && !!it.code && PERMANENT.has(it.code);

export type OutState = 'sending' | 'failed' | 'sent';
export interface OutItem {
  cid: string;
  text: string;
  at: number;
  /** Set for a leave-a-message (`offline`) submission. */
  email?: string | undefined;
  /** Ids of uploaded files the message carries (chat-files.js uploads them first). */
  files?: string[] | undefined;
  state: OutState;
  code?: string;
  /** Time of the last transmission; 0 = not sent on this socket yet. */
  sentAt: number;
}

export type Status = 'connecting' | 'open' | 'down' | 'stopped';

export interface SocketLike {
  readyState: number;
  send(data: string): void;
  close(code?: number): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export interface ClientOptions {
  site: string;
  /** ws: or wss: origin of the gateway. */
  gateway: string;
  kv: KV | null;
  WebSocket: new (url: string) => SocketLike;
  page: () => PageInfo;
  random?: () => number;
  now?: () => number;
}

type StoredOut = Pick<OutItem, 'cid' | 'text' | 'at' | 'email' | 'files'>;
/** Storage is a boundary (another script on the page can write there): shapes are checked before use. */
const isOutList = (v: unknown): v is StoredOut[] => Array.isArray(v) && v.every((x) => typeof x?.cid === 'string' && typeof x.text === 'string');
const isCache = (v: unknown): v is Record<string, Entry[]> => isRecord(v) && Object.values(v).every((l) => Array.isArray(l) && l.every((e) => typeof e?.id === 'string'));

export class Client {
  status: Status = 'stopped';
  site: SiteConfig | null = null;
  name = '';
  email = '';
  convs: VisitorConv[] = [];
  entries: Record<string, Entry[]> = {};
  outbox: OutItem[] = [];
  /** Highest stream id the operator has seen, per conversation. */
  seen: Record<string, string> = {};
  /** Highest stream id the visitor has read, per conversation (shared by tabs). */
  read: Record<string, string> = {};
  opTyping: { conv: string; name: string; until: number } | null = null;
  /** True once a first catch-up finished: later entries are news to the visitor. */
  live = false;
  /** Conversations the visitor rated on this device, until the server's conv frame says so. */
  rated = new Set<string>();

  onChange: () => void = () => {};
  /** An operator message the visitor has not had before (not history). */
  onNews: (e: Entry) => void = () => {};

  private readonly p: Persist;
  private token: string;
  private registered: boolean;
  /** Storage is written only once the visitor has something worth keeping (a message, a conversation). */
  private engaged: boolean;
  private ws: SocketLike | null = null;
  /** The hello was answered and its catch-up is in (`synced`): messages may go out. */
  private synced = false;
  private attempt = 0;
  private failStreak = 0;
  private phase: 'normal' | 'probe' | 'verify' = 'normal';
  private candidate = '';
  private timer: ReturnType<typeof setTimeout> | undefined;
  private tick: ReturnType<typeof setInterval> | undefined;
  private cacheTimer: ReturnType<typeof setTimeout> | undefined;
  private user: Identity | undefined;
  private attrs: Attrs | undefined;
  private lastPage = '';
  private control: VisitorToServer[] = [];
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(private readonly o: ClientOptions) {
    this.random = o.random ?? Math.random;
    this.now = o.now ?? Date.now;
    this.p = new Persist(o.site, o.kv);
    const stored = this.p.get('token');
    this.registered = !!stored && VISITOR_TOKEN_RE.test(stored);
    this.token = this.registered ? (stored as string) : randomId(32);
    this.loadOutbox();
    this.engaged = this.registered || this.outbox.length > 0;
    this.entries = (this.registered && this.p.json('c', isCache)) || {};
    this.read = this.p.json('read', isStringMap) || {};
  }

  // ------------------------------------------------------------------ lifecycle

  start(): void {
    if (this.status !== 'stopped') return;
    this.status = 'down';
    this.connect();
    this.tick = setInterval(() => this.checkAcks(), RETRY_TICK_MS);
  }

  /** Closes the socket for good; the controller makes a new Client when needed. */
  stop(): void {
    this.status = 'stopped';
    clearTimeout(this.timer);
    clearInterval(this.tick);
    clearTimeout(this.cacheTimer);
    this.drop();
    this.onChange();
  }

  /** Reconnect now instead of waiting out the backoff (the browser came back online, the tab became visible, a manual retry). */
  kick(): void {
    if (this.status !== 'down') return;
    clearTimeout(this.timer);
    this.connect();
  }

  /** The browser says it is offline: the socket may linger for minutes without carrying anything, so drop it; the outbox waits for `kick()` on `online`. */
  goOffline(): void {
    if (!this.ws) return;
    this.drop();
    this.fail(true, 1006);
  }

  get gatewayUrl(): string {
    const probe = this.phase === 'probe';
    const token = probe ? this.candidate : this.token;
    const fresh = probe || !this.registered;
    return `${this.o.gateway}/v1/visitor?site=${encodeURIComponent(this.o.site)}&token=${token}&v=${PROTOCOL_VERSION}${fresh ? '&new=1' : ''}`;
  }

  private connect(): void {
    if (this.status === 'stopped') return;
    this.status = 'connecting';
    this.synced = false;
    let opened = false;
    let ws: SocketLike;
    try {
      ws = new this.o.WebSocket(this.gatewayUrl);
    } catch {
      this.fail(false, 1006);
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      opened = true;
      if (this.phase === 'probe') {
        // The gateway is up and takes a fresh token: now see whether it still takes ours.
        this.phase = 'verify';
        this.drop();
        this.connect();
        return;
      }
      this.phase = 'normal';
      this.failStreak = 0;
      this.hello();
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      // The gateway is the trusted side of this boundary (see shared/src/client-parse.ts): check the envelope, let handle() ignore unknown types.
      try {
        const f = JSON.parse(ev.data as string) as ServerToVisitor | null;
        if (f?.type) this.handle(f);
      } catch {
        // Not JSON: ignore the frame.
      }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.fail(opened, ev.code);
    };
    ws.onerror = () => {};
    this.onChange();
  }

  private drop(): void {
    const ws = this.ws;
    this.ws = null;
    this.synced = false;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close(1000);
    } catch {
      // Closing a socket that never opened may throw in some browsers.
    }
  }

  private fail(opened: boolean, code: number): void {
    this.synced = false;
    if (this.status === 'stopped') return;
    this.status = 'down';
    this.opTyping = null;
    for (const it of this.outbox) it.sentAt = 0;
    if (code === FATAL_CLOSE) {
      this.status = 'stopped';
      this.onChange();
      return;
    }
    if (!opened) {
      if (this.phase === 'verify') {
        // A fresh token opens, ours does not: the gateway no longer knows ours. Start over.
        this.adopt(this.candidate, false);
        this.phase = 'normal';
        this.attempt = 0;
        this.connect();
        return;
      }
      if (this.phase === 'probe') {
        this.phase = 'normal';
        this.failStreak = 0;
      } else if (this.registered && ++this.failStreak >= TOKEN_FAILS_BEFORE_PROBE) {
        this.phase = 'probe';
        this.candidate = randomId(32);
      }
    }
    const delay = backoffDelay(this.attempt++, this.random);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
    this.onChange();
  }

  /** Switches to another visitor token (re-minted, or written by another tab); forgets the old visitor's conversations. */
  private adopt(token: string, registered: boolean): void {
    this.token = token;
    this.registered = registered;
    this.convs = [];
    this.entries = {};
    this.seen = {};
    this.live = false;
    this.site = null;
    if (!registered) this.p.set('token', null);
    this.p.set('c', null);
  }

  private hello(): void {
    const lastIds: Record<string, string> = {};
    for (const [conv, list] of Object.entries(this.entries)) {
      const last = list[list.length - 1];
      if (last) lastIds[conv] = last.id;
    }
    const page = this.o.page();
    this.lastPage = page.url;
    // The IANA zone for the operator's "local time". Temporal answers at once; a first
    // Intl.DateTimeFormat costs 20-40 ms of main thread (locale data), so without Temporal only
    // a new visitor pays it: the gateway keeps the zone from their first hello.
    const tz = (globalThis as { Temporal?: { Now: { timeZoneId(): string } } }).Temporal?.Now.timeZoneId() ?? (this.registered ? undefined : Intl.DateTimeFormat().resolvedOptions().timeZone);
    // `locale` is the browser's language (the operator's "Language"), not the widget's UI language.
    this.raw({ type: 'hello', lastIds, page, locale: navigator.language, tz, user: this.user, attrs: this.attrs });
  }

  private raw(f: VisitorToServer): boolean {
    const ws = this.ws;
    if (ws?.readyState !== 1) return false;
    try {
      ws.send(JSON.stringify(f));
      return true;
    } catch {
      return false;
    }
  }

  /** Sends a frame only when a session is up; used for frames that are worthless later (typing, seen). */
  private live1(f: VisitorToServer): boolean {
    return this.synced && this.raw(f);
  }

  // ------------------------------------------------------------------ inbound

  private handle(f: ServerToVisitor): void {
    switch (f.type) {
      case 'welcome': {
        this.status = 'open';
        this.attempt = 0;
        this.site = f.site;
        this.name = f.name || '';
        this.email = f.email || '';
        this.convs = f.convs;
        if (!this.registered) {
          this.registered = true;
          this.persistToken();
        }
        if (f.convs.length) this.engage();
        break;
      }
      case 'synced':
        // Sends wait for the catch-up: a message stored before the socket died (its ack lost) comes back
        // in it and leaves the outbox, so it is not sent again into a conversation started since.
        this.synced = true;
        this.live = true;
        for (const c of this.control.splice(0)) this.raw(c);
        this.flush();
        break;
      case 'conv':
        this.upsertConv(f.conv);
        if (f.conv.status === 'resolved' && this.opTyping?.conv === f.conv.id) this.opTyping = null;
        break;
      case 'entry':
        this.addEntry(f.entry);
        break;
      case 'ack': {
        const it = this.outbox.find((x) => x.cid === f.cid);
        if (!this.convs.some((c) => c.id === f.conv)) this.upsertConv({ id: f.conv, status: 'queued' });
        if (it) {
          it.state = 'sent';
          // Kept in memory (as "sent") until its entry arrives, so it never blinks out.
          if (this.hasCid(f.conv, f.cid)) this.outbox = this.outbox.filter((x) => x !== it);
          this.saveOutbox();
        }
        break;
      }
      case 'typing':
        this.opTyping = f.on ? { conv: f.conv, name: f.op?.name || '', until: this.now() + OPERATOR_TYPING_MS } : null;
        break;
      case 'seen':
        if (!this.seen[f.conv] || compareStreamIds(f.id, this.seen[f.conv] as string) > 0) this.seen[f.conv] = f.id;
        break;
      case 'site':
        this.site = f.site;
        break;
      case 'error': {
        const it = f.cid ? this.outbox.find((x) => x.cid === f.cid) : undefined;
        // The site is busy (retryMs): the message stays "sending" and goes again after the hint.
        if (it && f.retryMs !== undefined) it.sentAt = this.now() - ACK_TIMEOUT_MS + f.retryMs;
        else if (it) {
          it.state = 'failed';
          it.code = f.code;
          // Transient errors are retried by checkAcks() in about half the ack timeout; permanent ones wait for the visitor.
          it.sentAt = this.now() - ACK_TIMEOUT_MS / 2;
        }
        break;
      }
    }
    this.onChange();
  }

  private upsertConv(c: VisitorConv): void {
    const i = this.convs.findIndex((x) => x.id === c.id);
    this.convs = i < 0 ? [...this.convs, c] : this.convs.map((x, j) => (j === i ? { ...x, ...c } : x));
    if (c.rating) this.rated.delete(c.id);
  }

  private hasCid(conv: string, cid: string): boolean {
    return (this.entries[conv] || []).some((e) => e.cid === cid);
  }

  private addEntry(e: Entry): void {
    const list = this.entries[e.conv] || [];
    const next = insertEntry(list, e);
    if (next === list) return;
    this.entries = { ...this.entries, [e.conv]: next };
    if (!this.convs.some((c) => c.id === e.conv)) this.upsertConv({ id: e.conv, status: 'open' });
    if (e.cid) {
      const before = this.outbox.length;
      this.outbox = this.outbox.filter((x) => x.cid !== e.cid);
      if (this.outbox.length !== before) this.saveOutbox();
    }
    if (e.from === 'operator' && e.kind === 'msg') {
      if (this.opTyping?.conv === e.conv) this.opTyping = null;
      if (this.live) this.onNews(e);
    }
    this.engage();
    this.saveCacheSoon();
  }

  // ------------------------------------------------------------------ outbound

  /**
   * Queues a message; returns false when there is nothing to send. With an e-mail it is
   * a leave-a-message (nobody available), which becomes a conversation in the operators' queue.
   */
  send(text: string, email?: string, files?: string[]): boolean {
    const t = text.trim();
    if ((!t && !files) || t.length > MAX_MESSAGE_CHARS) return false;
    const it: OutItem = { cid: randomId(21), text: t, email: email?.trim(), files, at: this.now(), state: 'sending', sentAt: 0 };
    this.outbox = [...this.outbox, it];
    this.engage();
    this.saveOutbox();
    this.transmit(it, false);
    this.kick();
    this.onChange();
    return true;
  }

  retry(cid: string): void {
    const it = this.outbox.find((x) => x.cid === cid);
    if (!it) return;
    it.state = 'sending';
    it.code = undefined;
    it.sentAt = 0;
    this.transmit(it);
    this.kick();
    this.onChange();
  }

  discard(cid: string): void {
    this.outbox = this.outbox.filter((x) => x.cid !== cid);
    this.saveOutbox();
    this.onChange();
  }

  /** `re`: it may have gone out before (every send but a message's first, on a live socket). */
  private transmit(it: OutItem, re = true): void {
    if (!this.synced || it.state === 'sent') return;
    const f: VisitorToServer = it.email
      ? { type: 'offline', cid: it.cid, email: it.email, text: it.text }
      : { type: 'send', cid: it.cid, text: it.text, re, files: it.files };
    if (!this.raw(f)) return;
    it.sentAt = this.now();
    if (it.state === 'failed') it.state = 'sending';
  }

  /** Resends, in order, everything not acked: after every (re)connect. The gateway de-duplicates by cid, so a message another tab already sent is stored once. */
  private flush(): void {
    for (const it of this.outbox) if (it.state !== 'sent' && !stuck(it)) this.transmit(it);
  }

  private checkAcks(): void {
    const now = this.now();
    let changed = false;
    if (this.opTyping && this.opTyping.until < now) {
      this.opTyping = null;
      changed = true;
    }
    for (const it of this.outbox) {
      if (it.state === 'sent' || stuck(it)) continue;
      const late = !this.synced || (it.sentAt > 0 && now - it.sentAt > ACK_TIMEOUT_MS);
      if (late && now - it.at > ACK_TIMEOUT_MS && it.state !== 'failed') {
        it.state = 'failed';
        changed = true;
      }
      if (this.synced && (it.sentAt === 0 || now - it.sentAt > ACK_TIMEOUT_MS)) this.transmit(it);
    }
    if (changed) this.onChange();
  }

  typing(on: boolean): void {
    this.live1({ type: 'typing', on });
  }

  page(p: PageInfo): void {
    if (p.url === this.lastPage) return;
    if (this.live1({ type: 'page', page: p })) this.lastPage = p.url;
  }

  identify(u: Identity): void {
    this.user = u;
    this.live1({ type: 'identify', user: u });
  }

  setAttrs(a: Attrs): void {
    this.attrs = { ...this.attrs, ...a };
    this.live1({ type: 'attrs', attrs: a });
  }

  prechat(name: string, email: string): void {
    this.name = name;
    this.email = email;
    this.engage();
    this.deliver({ type: 'prechat', name, email });
    this.onChange();
  }

  rate(conv: string, rating: Rating, comment?: string): void {
    this.rated.add(conv);
    this.deliver({ type: 'rate', conv, rating, ...(comment ? { comment } : {}) });
    this.onChange();
  }

  /** Marks everything in `conv` read (the panel is open and visible) and tells the operator. */
  markRead(conv: string): void {
    const last = this.entries[conv]?.at(-1);
    if (!last) return;
    const had = this.read[conv];
    if (had && compareStreamIds(had, last.id) >= 0) return;
    this.read = { ...this.read, [conv]: last.id };
    if (this.engaged) this.p.set('read', this.read);
    this.live1({ type: 'seen', conv, id: last.id });
    this.onChange();
  }

  /** Operator messages the visitor has not read yet. */
  unread(): number {
    let n = 0;
    for (const [conv, list] of Object.entries(this.entries)) {
      const r = this.read[conv];
      for (let i = list.length; i--; ) {
        const e = list[i] as Entry;
        if (r && compareStreamIds(e.id, r) <= 0) break;
        if (e.from === 'operator' && e.kind === 'msg') n++;
      }
    }
    return n;
  }

  /** The conversation the panel shows: an unresolved one, else the one with the latest entry. */
  current(): VisitorConv | undefined {
    const active = this.convs.filter((c) => c.status !== 'resolved');
    if (active.length) return active[active.length - 1];
    let best: VisitorConv | undefined;
    let bestId = '';
    for (const c of this.convs) {
      const id = this.entries[c.id]?.at(-1)?.id || '0-0';
      if (!best || compareStreamIds(id, bestId) >= 0) {
        best = c;
        bestId = id;
      }
    }
    return best;
  }

  private deliver(f: VisitorToServer): void {
    if (!this.live1(f)) this.control.push(f);
  }

  // ------------------------------------------------------------------ storage

  private engage(): void {
    if (this.engaged) return;
    this.engaged = true;
    this.persistToken();
    this.saveOutbox();
    this.saveCacheSoon();
  }

  private persistToken(): void {
    if (this.engaged && this.registered) this.p.set('token', this.token);
  }

  private loadOutbox(): void {
    const list = this.p.json('outbox', isOutList) || [];
    const known = new Map(this.outbox.map((x) => [x.cid, x]));
    const next: OutItem[] = [];
    // A storage event can come after our own socket brought the entry: that message is done here.
    const have = new Set(Object.values(this.entries).flatMap((l) => l.map((e) => e.cid)));
    // One this tab did not write is in flight in the tab that did: give that tab ACK_TIMEOUT_MS before sending it here too.
    for (const s of list) if (!have.has(s.cid)) next.push(known.get(s.cid) || { ...s, state: 'sending', sentAt: this.now() });
    // Ours that another tab removed were acked there; keep them as sent until our socket brings the entry.
    for (const x of this.outbox) if (!have.has(x.cid) && !list.some((s) => s.cid === x.cid)) next.push({ ...x, state: 'sent' });
    this.outbox = next;
  }

  private saveOutbox(): void {
    if (!this.engaged) return;
    const list = this.outbox.filter((x) => x.state !== 'sent').map(({ cid, text, at, email, files }) => ({ cid, text, at, email, files }));
    this.p.set('outbox', list.length ? list : null);
  }

  /** The site's launcher (label, side, colour) for the loader to draw at once on the next page view; kept only for an engaged visitor. */
  look(v: string): void {
    if (this.engaged && this.p.get('s') !== v) this.p.set('s', v);
  }

  private saveCacheSoon(): void {
    if (!this.engaged || this.cacheTimer) return;
    this.cacheTimer = setTimeout(() => {
      this.cacheTimer = undefined;
      if (!this.registered || !this.engaged) return;
      const c: Record<string, Entry[]> = {};
      for (const [conv, list] of Object.entries(this.entries)) c[conv] = list.slice(-CACHE_ENTRIES);
      this.p.set('c', c);
    }, CACHE_WRITE_MS);
  }

  /** Another tab of this site wrote to storage (the `storage` event). */
  onStorage(key: string | null): void {
    const k = (n: string) => this.p.key(n);
    if (key === null || key === k('token')) {
      const t = this.p.get('token');
      if (!t) {
        // Hark.shutdown in another tab: this visitor is gone here too.
        if (this.registered && this.engaged) this.stop();
        return;
      }
      if (t !== this.token && VISITOR_TOKEN_RE.test(t)) {
        this.adopt(t, true);
        this.engaged = true;
        this.drop();
        if (this.status !== 'stopped') this.connect();
      }
    }
    if (key === null || key === k('outbox')) this.loadOutbox();
    if (key === null || key === k('read')) {
      const r = this.p.json('read', isStringMap) || {};
      for (const [conv, id] of Object.entries(r)) if (!this.read[conv] || compareStreamIds(id, this.read[conv] as string) > 0) this.read = { ...this.read, [conv]: id };
    }
    this.onChange();
  }
}
