/**
 * The gateway's side of pub/sub: reference-counted channel subscriptions, and
 * dispatch to the sockets on this gateway. Pub/sub is the doorbell, the stream
 * is the truth: for every conversation with local listeners the hub remembers
 * the last stream id it dispatched, skips anything at or below it, and after its
 * subscriber reconnects (Redis restart, CLIENT KILL, output-buffer cut-off) it
 * reads every gap back from the stream before dispatching anything live.
 */
import type { Entry } from '@hark/shared';
import { compareStreamIds } from '@hark/shared';
import type { Redis } from 'ioredis';
import type { Connections } from '../redis/client';
import { readEntries } from './conversations';
import { K } from './keys';
import { type ChannelKind, type ConvSignal, ENTRY_PREFIX, type OperatorSignal, type Signal, type SiteSignal, type VisitorSignal, decodeSignal } from './signals';

export interface ConvListener {
  /** The stored entry, parsed once and shared by all listeners. */
  onEntry(entry: Entry): void;
  /** Ephemeral conversation signals: typing, seen, state changed. */
  onConvSignal(conv: string, s: ConvSignal): void;
}
export interface ChannelListener<S extends Signal = Signal> {
  onSignal(s: S): void;
  /** Called after the subscriber reconnected: doorbells may have been missed. */
  onResync?(): void;
}
export type SiteListener = ChannelListener<SiteSignal>;
export type VisitorListener = ChannelListener<VisitorSignal>;
export type OperatorListener = ChannelListener<OperatorSignal>;

function channelOf(kind: Exclude<ChannelKind, 'conv'>, id: string): string {
  return kind === 'site' ? K.siteChannel(id) : kind === 'visitor' ? K.visitorChannel(id) : K.operatorChannel(id);
}
function kindOf(ch: string): ChannelKind {
  return ch.startsWith('{site:') ? 'site' : ch.startsWith('{vis:') ? 'visitor' : ch.startsWith('{conv:') ? 'conv' : 'operator';
}

/** A catch-up read that fails (Redis away as well) is retried this many times, backing off to a 2 s cap: about 30 s in all. */
const CATCHUP_RETRIES = 18;
const CATCHUP_RETRY_CAP_MS = 2_000;

/**
 * One channel's subscription: `count` callers (each calls unsubscribe once, whether its
 * subscribe resolved or not), `ready` the last SUBSCRIBE issued for it, `failed` set when that
 * one was refused (Redis busy: -BUSY; the subscriber's queue flushed). ioredis resubscribes after
 * a reconnect only the channels whose SUBSCRIBE it saw succeed on the connection before, so the
 * hub does not rely on it: a failed subscription is issued again by the next subscribe of the
 * channel, and after every reconnect of the subscriber the hub subscribes all of its channels.
 */
type One<L> = L | Set<L>;

/** Adds `l` under `k`; false when it was there already. */
function addTo<L extends object>(m: Map<string, One<L>>, k: string, l: L): boolean {
  const cur = m.get(k);
  if (cur === undefined) m.set(k, l);
  else if (cur instanceof Set) {
    if (cur.has(l)) return false;
    cur.add(l);
  } else if (cur === l) return false;
  else m.set(k, new Set([cur, l]));
  return true;
}

/** Removes `l` from under `k` (the key goes with the last one); false when it was not there. */
function removeFrom<L extends object>(m: Map<string, One<L>>, k: string, l: L): boolean {
  const cur = m.get(k);
  if (cur === l) m.delete(k);
  else if (cur instanceof Set && cur.delete(l)) {
    if (cur.size === 1) m.set(k, cur.values().next().value as L);
  } else return false;
  return true;
}

const NONE: readonly never[] = [];
/** The listeners under a key, as a snapshot a callback may change the map under. */
function each<L extends object>(v: One<L> | undefined): readonly L[] {
  return v === undefined ? NONE : v instanceof Set ? [...v] : [v];
}

type Sub = { count: number; ready: Promise<void>; failed: boolean };
const SUBSCRIBED = Promise.resolve();
/** Channels per SUBSCRIBE when the hub resubscribes everything after a reconnect. */
const RESUBSCRIBE_BATCH = 500;
/** Channels per UNSUBSCRIBE when the channels left in one turn of the event loop go together. */
export const UNSUBSCRIBE_BATCH = 500;

export class Hub {
  private readonly subs = new Map<string, Sub>();
  /** Listeners per conversation / channel: the listener itself while there is one (most have one), a Set beyond. */
  private readonly convListeners = new Map<string, One<ConvListener>>();
  private readonly channelListeners = new Map<string, One<ChannelListener>>();
  /** Last stream id dispatched per conversation. */
  private readonly lastId = new Map<string, string>();
  private catchingUp = false;
  private catchUpRunning: Promise<void> | null = null;
  private catchUpAgain = false;
  private buffered: [string, string][] = [];
  private firstReady = true;
  onError: (err: unknown) => void = () => {};
  /** Called once per entry dispatched live on this gateway, with the entry's store time (ms), for the delivery-latency metric. */
  onDeliver: (storedAt: number) => void = () => {};

  constructor(private readonly c: Connections) {
    const onMessage = (ch: string, msg: string) => this.onMessage(ch, msg);
    if (c.sharded) c.sub.on('smessage', onMessage);
    else c.sub.on('message', onMessage);
    c.sub.on('ready', () => {
      if (this.firstReady) {
        this.firstReady = false;
        // Anything refused before the first connection was up.
        this.resubscribe(true);
        return;
      }
      // Every channel again, not only those ioredis resubscribes (it skips one whose SUBSCRIBE was
      // refused, and one subscribed on a connection that dropped before it was ready); SUBSCRIBE
      // to a channel already subscribed changes nothing. Sent ahead of the PING below.
      this.resubscribe(false);
      // ioredis emits 'ready' before it resubscribes. Hold live messages from now, and read the
      // gap only after a PING sent behind the SUBSCRIBEs has come back (one connection answers in
      // order): an entry published before the subscription was live is then in the XRANGE, and
      // one published after is held here. Found by chaos/redis-faults.test.ts (CLIENT KILL).
      this.catchingUp = true;
      const subscribed = c.sharded ? Promise.resolve() : (c.sub as Redis).ping().then(() => undefined, () => undefined);
      void subscribed.then(() => this.catchUp()).catch((e) => this.onError(e));
    });
    // On a cluster, each shard has its own subscriber connection that ioredis replaces
    // (and resubscribes) when it drops or the slots move; it says so with
    // 'subscribersReady', never with 'ready'. Catch-up is idempotent, so running it
    // on the first one too (when nothing is followed yet) costs nothing.
    if (c.sharded)
      c.sub.on('subscribersReady', () => {
        this.resubscribe(true);
        void this.catchUp().catch((e) => this.onError(e));
      });
    c.sub.on('error', (e) => this.onError(e));
  }

  // ------------------------------------------------------------ subscriptions
  private subscribe(ch: string): Promise<void> {
    let s = this.subs.get(ch);
    if (s) {
      s.count++;
      // The last SUBSCRIBE was refused: a rejection kept here would be every later follower's,
      // and the channel would stay unsubscribed until every listener left.
      if (s.failed) this.issue(ch, s);
      return s.ready;
    }
    s = { count: 1, ready: Promise.resolve(), failed: false };
    this.subs.set(ch, s);
    if (this.c.sharded) this.issue(ch, s);
    else s.ready = this.batched(ch);
    return s.ready;
  }

  /** New channels of one tick, subscribed by one SUBSCRIBE (a reconnect storm subscribes thousands at once). */
  private batch: { chs: string[]; ready: Promise<void> } | null = null;

  private batched(ch: string): Promise<void> {
    if (!this.batch) {
      const b: { chs: string[]; ready: Promise<void> } = { chs: [], ready: Promise.resolve() };
      b.ready = new Promise<void>((r) => process.nextTick(r)).then(() => {
        this.batch = null;
        // One that left meanwhile is not subscribed (its UNSUBSCRIBE already went out).
        const still = b.chs.filter((x) => this.subs.has(x));
        return still.length ? this.issue(still) : undefined;
      });
      this.batch = b;
    }
    this.batch.chs.push(ch);
    return this.batch.ready;
  }

  /**
   * Sends one SUBSCRIBE (SSUBSCRIBE on a cluster, one channel each) for `ch`, or for several
   * channels at once; their `ready` becomes it, and `failed` says whether it was refused.
   */
  private issue(ch: string | string[], s?: Sub): Promise<void> {
    const chs = typeof ch === 'string' ? [ch] : ch;
    const entries = typeof ch === 'string' && s ? [s] : chs.map((x) => this.subs.get(x)).filter((x): x is Sub => !!x);
    const sub = this.c.sub as unknown as { subscribe(...ch: string[]): Promise<unknown>; ssubscribe(ch: string): Promise<unknown> };
    const ready = (this.c.sharded ? sub.ssubscribe(chs[0] as string) : sub.subscribe(...chs)).then(() => undefined);
    for (const e of entries) {
      e.ready = ready;
      e.failed = false;
    }
    // Registered before any caller's handler, so the flag is set by the time a caller sees the rejection.
    ready.then(
      () => {
        // A settled promise per channel is memory per idle visitor: every live one is the same.
        for (const e of entries) if (e.ready === ready) e.ready = SUBSCRIBED;
      },
      () => {
        for (const e of entries) if (e.ready === ready) e.failed = true;
      },
    );
    return ready;
  }

  /** Issues SUBSCRIBE again for every channel still wanted (`onlyFailed`: only those whose last one was refused). */
  private resubscribe(onlyFailed: boolean): void {
    const chs = [...this.subs].filter(([, s]) => !onlyFailed || s.failed).map(([ch]) => ch);
    const batch = this.c.sharded ? 1 : RESUBSCRIBE_BATCH;
    for (let i = 0; i < chs.length; i += batch) this.issue(chs.slice(i, i + batch)).catch((e) => this.onError(e));
  }

  private unsubscribe(ch: string): void {
    const s = this.subs.get(ch);
    if (!s) return;
    if (--s.count > 0) return;
    this.subs.delete(ch);
    const sub = this.c.sub as unknown as { unsubscribe(...ch: string[]): Promise<unknown>; sunsubscribe(ch: string): Promise<unknown> };
    if (this.c.sharded) {
      void sub.sunsubscribe(ch).catch((e) => this.onError(e));
      return;
    }
    // Gathered over a turn of the event loop (setImmediate: every socket that closed in one poll,
    // not only one callback's) and sent as one UNSUBSCRIBE per UNSUBSCRIBE_BATCH channels: a
    // draining gateway closing 10,000 visitors sent 20,000 commands, one write each (BENCHMARKS.md,
    // reconnect storm). A channel subscribed again meanwhile is left out: it never stopped being
    // subscribed, and its SUBSCRIBE (sent or not) changes nothing. One unsubscribed again after that
    // is in the set again. The command sent reflects the state when it is sent, and a later change
    // sends a later command on the same connection, so the order on the wire is the order of intent.
    if (!this.leaving) {
      const pending = new Set<string>();
      this.leaving = pending;
      setImmediate(() => {
        this.leaving = null;
        const gone = [...pending].filter((x) => !this.subs.has(x));
        for (let i = 0; i < gone.length; i += UNSUBSCRIBE_BATCH) void sub.unsubscribe(...gone.slice(i, i + UNSUBSCRIBE_BATCH)).catch((e) => this.onError(e));
      });
    }
    this.leaving.add(ch);
  }

  /** Channels whose last listener left in this turn of the event loop, unsubscribed together (unsubscribe). */
  private leaving: Set<string> | null = null;

  /** Starts delivering a conversation's entries and signals to `l`. Resolves once the subscription is live. */
  async followConv(conv: string, l: ConvListener): Promise<void> {
    if (!addTo(this.convListeners, conv, l)) return;
    // The stream's tail is read alongside the SUBSCRIBE, not after it (one round trip instead of
    // two): an entry published before the subscription is live is not delivered here either way,
    // and every follower reads its own catch-up from the stream once this resolves.
    const tail = this.lastId.has(conv) ? null : this.c.cmd.xrevrange(K.convStream(conv), '+', '-', 'COUNT', 1);
    // Awaited below, unless the SUBSCRIBE fails first: its failure must not surface as unhandled.
    tail?.catch(() => {});
    await this.subscribe(K.convChannel(conv));
    if (tail) {
      const id = (await tail)[0]?.[0];
      const cur = this.lastId.get(conv);
      if (id && (!cur || compareStreamIds(id, cur) > 0)) this.lastId.set(conv, id);
      else if (!cur) this.lastId.set(conv, '0-0');
    }
  }

  unfollowConv(conv: string, l: ConvListener): void {
    if (!removeFrom(this.convListeners, conv, l)) return;
    if (!this.convListeners.has(conv)) this.lastId.delete(conv);
    this.unsubscribe(K.convChannel(conv));
  }

  /** Starts delivering the signals of a site's, visitor's or operator's channel to `l`. */
  listen(kind: 'site', id: string, l: SiteListener): Promise<void>;
  listen(kind: 'visitor', id: string, l: VisitorListener): Promise<void>;
  listen(kind: 'operator', id: string, l: OperatorListener): Promise<void>;
  async listen(kind: Exclude<ChannelKind, 'conv'>, id: string, l: ChannelListener<never>): Promise<void> {
    const channel = channelOf(kind, id);
    if (!addTo(this.channelListeners, channel, l as ChannelListener)) return;
    await this.subscribe(channel);
  }

  unlisten(kind: Exclude<ChannelKind, 'conv'>, id: string, l: ChannelListener<never>): void {
    const channel = channelOf(kind, id);
    if (!removeFrom(this.channelListeners, channel, l as ChannelListener)) return;
    this.unsubscribe(channel);
  }

  get subscriptionCount(): number {
    return this.subs.size;
  }

  // ------------------------------------------------------------ dispatch
  private onMessage(ch: string, msg: string): void {
    if (this.catchingUp) {
      this.buffered.push([ch, msg]);
      return;
    }
    this.dispatch(ch, msg);
  }

  private dispatch(ch: string, msg: string): void {
    if (ch.startsWith('{conv:')) {
      const conv = ch.slice(6, ch.indexOf('}'));
      if (msg[0] === ENTRY_PREFIX) {
        const sp = msg.indexOf(' ');
        this.deliver(conv, msg.slice(1, sp), msg.slice(sp + 1));
        return;
      }
      const listeners = this.convListeners.get(conv);
      if (!listeners) return;
      const s = decodeSignal('conv', msg) as ConvSignal | null;
      if (s) for (const l of each(listeners)) l.onConvSignal(conv, s);
      return;
    }
    const listeners = this.channelListeners.get(ch);
    if (!listeners) return;
    const s = decodeSignal(kindOf(ch), msg);
    if (s) for (const l of each(listeners)) l.onSignal(s);
  }

  private deliver(conv: string, id: string, json: string): void {
    const to = this.convListeners.get(conv);
    if (!to) return;
    const last = this.lastId.get(conv);
    if (last && compareStreamIds(id, last) <= 0) return;
    this.lastId.set(conv, id);
    let entry: Entry;
    try {
      // Assigned, not spread into a new object: a spread gives every entry a hidden class of its own (~260 B each, kept by the site view's summaries).
      entry = JSON.parse(json) as Entry;
      entry.id = id;
      entry.conv = conv;
    } catch (e) {
      this.onError(e);
      return;
    }
    this.onDeliver(entry.at);
    for (const l of each(to)) l.onEntry(entry);
  }

  /** Closes every gap left while the subscriber was away, then dispatches what arrived meanwhile. */
  /**
   * Closes every gap left while the subscriber was away, then dispatches what
   * arrived meanwhile. Runs one at a time: a reconnect during a catch-up makes
   * the running one go round again, and live messages stay held until no pass is
   * left, so a live delivery can never move a conversation's cursor past a gap
   * that is still being read (chaos: CLIENT KILL three times in 2 s).
   */
  catchUp(): Promise<void> {
    this.catchingUp = true;
    if (this.catchUpRunning) {
      this.catchUpAgain = true;
      return this.catchUpRunning;
    }
    this.catchUpRunning = (async () => {
      try {
        do {
          this.catchUpAgain = false;
          await this.readGaps();
        } while (this.catchUpAgain);
      } finally {
        const buf = this.buffered;
        this.buffered = [];
        this.catchingUp = false;
        this.catchUpRunning = null;
        for (const [ch, msg] of buf) this.dispatch(ch, msg);
        for (const one of [...this.channelListeners.values()]) for (const l of each(one)) l.onResync?.();
      }
    })();
    return this.catchUpRunning;
  }

  /** One pass over every followed conversation; a failed read (Redis away too) is retried with backoff. */
  private async readGaps(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        for (const conv of [...this.convListeners.keys()]) {
          for (;;) {
            const after = this.lastId.get(conv) ?? '0-0';
            const entries = await readEntries(this.c.cmd, conv, after === '0-0' ? '' : after);
            for (const e of entries) {
              const { id, conv: _c, ...rest } = e;
              this.deliver(conv, id, JSON.stringify(rest));
            }
            if (entries.length === 0 || !this.convListeners.has(conv)) break;
          }
        }
        return;
      } catch (e) {
        this.onError(e);
        if (attempt >= CATCHUP_RETRIES) throw e;
        await new Promise((r) => setTimeout(r, Math.min(CATCHUP_RETRY_CAP_MS, 100 * 2 ** attempt)));
      }
    }
  }
}
