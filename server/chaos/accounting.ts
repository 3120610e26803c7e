/**
 * The accounting checker. Simulated clients behave like the real ones (widget/src/client.ts,
 * console/src/socket.ts): they keep every unacknowledged message and resend it with the same
 * client id after a reconnect or an ack timeout, resume with `hello {lastIds}`, and reconnect
 * with jittered exponential backoff to whichever gateway is up.
 *
 * verify() then asserts, from Redis (XRANGE) and from every receiver's own record:
 * - every acknowledged message is in its conversation's stream exactly once, at the acked id;
 * - every receiver (visitor, second tab, operator) saw each entry it may see exactly once,
 *   and the entries arriving on its sockets came in stream order, across reconnects too;
 * - what a receiver holds at the end is exactly the stream (the visitor-visible part of it for visitors).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Entry, type ServerToOperator, type ServerToVisitor, compareStreamIds, randomId, toVisitorEntry } from '@hark/shared';
import type { Redis } from 'ioredis';
import WebSocket from 'ws';
import { readEntries } from '../src/store/conversations';
import type { ScriptedRedis } from '../src/redis/scripts';
import { eventCounts } from './event-count';

/** Reconnect backoff of the simulated clients: the widget's policy (widget/src/backoff.ts) with smaller steps so a run stays short. */
export const SIM_BACKOFF_BASE_MS = 150;
export const SIM_BACKOFF_MAX_MS = 2_000;
/** An unacknowledged message is sent again after this long (the widget uses a longer timeout; shorter keeps runs short). */
export const SIM_ACK_TIMEOUT_MS = 3_000;

export function simBackoff(attempt: number): number {
  const step = Math.min(SIM_BACKOFF_MAX_MS, SIM_BACKOFF_BASE_MS * 2 ** Math.min(attempt, 16));
  return Math.round(step * (0.5 + 0.5 * Math.random()));
}

/** Simulated clients per loopback source address (well under the gateway's per-address limits). */
export const CLIENTS_PER_ADDRESS = 10;
let sources = 0;
function nextSource(): string {
  const n = Math.floor(sources++ / CLIENTS_PER_ADDRESS);
  return `127.0.${200 + Math.floor(n / 250) % 50}.${1 + (n % 250)}`;
}

export interface Target {
  base: string;
  wsBase: string;
}

/** The "load balancer": the gateways that are up. Tests add and remove them as they kill and start gateways. */
export class Targets {
  list: Target[] = [];
  pick(): Target {
    const t = this.list[Math.floor(Math.random() * this.list.length)];
    if (!t) throw new Error('no gateway is up');
    return t;
  }
}

/** What one receiver saw of the conversations it follows. */
export class View {
  /** Ids that arrived as `entry` frames, per conversation (across every socket of this client). */
  private readonly framed = new Map<string, Set<string>>();
  private readonly maxFramed = new Map<string, string>();
  /** Everything held: entry frames plus history answers, per conversation. */
  readonly held = new Map<string, Set<string>>();
  private readonly maxHeld = new Map<string, string>();
  duplicates = 0;
  readonly dupIds: string[] = [];
  outOfOrder = 0;

  onEntry(e: Entry): void {
    let set = this.framed.get(e.conv);
    if (!set) {
      set = new Set();
      this.framed.set(e.conv, set);
    }
    const max = this.maxFramed.get(e.conv);
    if (set.has(e.id)) {
      this.duplicates++;
      this.dupIds.push(`${e.conv}/${e.id}:${e.kind}/${e.event ?? e.from}`);
    }
    else if (max && compareStreamIds(e.id, max) < 0) this.outOfOrder++;
    set.add(e.id);
    if (!max || compareStreamIds(e.id, max) > 0) this.maxFramed.set(e.conv, e.id);
    this.hold(e.conv, e.id);
  }

  hold(conv: string, id: string): void {
    let h = this.held.get(conv);
    if (!h) {
      h = new Set();
      this.held.set(conv, h);
    }
    h.add(id);
    // The resume point is the newest entry held, however it arrived (as in the widget and the console).
    const max = this.maxHeld.get(conv);
    if (!max || compareStreamIds(id, max) > 0) this.maxHeld.set(conv, id);
  }

  lastIds(only?: Set<string>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [conv, id] of this.maxHeld) if (!only || only.has(conv)) out[conv] = id;
    return out;
  }

  sorted(conv: string): string[] {
    return [...(this.held.get(conv) ?? [])].sort(compareStreamIds);
  }
}

const TRANSIENT = new Set(['OVERLOADED', 'RATE_LIMITED', 'INTERNAL']);

interface OutItem {
  cid: string;
  conv?: string;
  text: string;
  /** When it was written (Date.now()). */
  queuedAt: number;
  sentAt: number;
  sends: number;
}

/** A message refused for good: what it was, into which conversation, and the code it was refused with. */
export interface Refusal {
  cid: string;
  conv?: string;
  code: string;
  queuedAt: number;
  /** How many times it had been written to a socket before the refusal. */
  sends: number;
}

export interface SimOptions {
  /** Probability that an ack is ignored (as if lost), so the message is sent again with the same cid. */
  dropAcks?: number;
  /** Copies of every send frame written back to back (same cid). */
  copies?: number;
}

abstract class SimClient<F extends { type: string }> {
  ws: WebSocket | null = null;
  welcomed = false;
  synced = false;
  stopped = true;
  attempt = 0;
  connects = 0;
  baseConnects = 0;
  readonly view = new View();
  /** The loopback address this client connects from: CLIENTS_PER_ADDRESS share one, as visitors behind one NAT would (the gateway limits per address). */
  readonly source = nextSource();
  readonly outbox: OutItem[] = [];
  /** cid -> the stream id of its first ack (and the conversation). */
  readonly acked = new Map<string, { conv: string; id: string }>();
  /** cids in the order they were first queued. */
  readonly order: string[] = [];
  readonly closeCodes = new Map<number, number>();
  readonly errorCodes = new Map<string, number>();
  ackConflicts = 0;
  acksDropped = 0;
  /** Messages refused for good (e.g. CONVERSATION_RESOLVED), in the order refused. */
  readonly refused: Refusal[] = [];
  framesSent = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    protected readonly targets: Targets,
    protected readonly opts: SimOptions = {},
  ) {}

  protected abstract url(t: Target): string;
  protected abstract headers(t: Target): Record<string, string>;
  protected abstract helloFrame(): object;
  protected abstract onFrame(f: F): void;
  /** `re`: every send of a message but its first (the widget marks them so). */
  protected abstract sendFrame(it: OutItem, re: boolean): object;

  /** Starts a new scenario's accounting on a long-lived client (the operators). */
  resetStats(): void {
    this.order.length = 0;
    this.acked.clear();
    this.closeCodes.clear();
    this.errorCodes.clear();
    this.refused.length = 0;
    this.framesSent = 0;
    this.acksDropped = 0;
    this.ackConflicts = 0;
    this.baseConnects = this.connects;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  /** Stops reconnecting and drops the socket (a visitor going offline: the outbox is kept). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.ws?.terminate();
    this.ws = null;
    this.welcomed = false;
  }

  /** The network under this client drops: the socket dies without a close frame; the client reconnects. */
  cut(): void {
    this.ws?.terminate();
  }

  private connect(): void {
    if (this.stopped) return;
    let t: Target;
    try {
      t = this.targets.pick();
    } catch {
      this.retry();
      return;
    }
    const ws = new WebSocket(this.url(t), { headers: this.headers(t), localAddress: this.source });
    this.ws = ws;
    this.synced = false;
    ws.on('open', () => {
      this.connects++;
      this.raw(this.helloFrame());
    });
    ws.on('message', (d) => {
      if (this.ws !== ws) return;
      let f: F;
      try {
        f = JSON.parse(d.toString()) as F;
      } catch {
        return;
      }
      this.handle(f);
    });
    ws.on('error', () => {});
    ws.on('close', (code) => {
      this.closeCodes.set(code, (this.closeCodes.get(code) ?? 0) + 1);
      if (this.ws !== ws) return;
      this.ws = null;
      this.welcomed = false;
      this.synced = false;
      this.retry();
    });
  }

  private retry(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), simBackoff(this.attempt++));
  }

  protected raw(f: object): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(f));
    this.framesSent++;
    return true;
  }

  private handle(f: F): void {
    const x = f as unknown as { type: string; cid?: string; conv?: string; id?: string; code?: string };
    if (x.type === 'welcome') {
      this.welcomed = true;
      this.attempt = 0;
    } else if (x.type === 'synced') this.synced = true;
    else if (x.type === 'ack' && x.cid && x.conv && x.id) this.onAck(x.cid, x.conv, x.id);
    else if (x.type === 'error' && x.code) {
      this.errorCodes.set(x.code, (this.errorCodes.get(x.code) ?? 0) + 1);
      const it = x.cid ? this.outbox.find((o) => o.cid === x.cid) : undefined;
      // A transient failure (OVERLOADED, RATE_LIMITED, INTERNAL): try again soon, same cid.
      // A permanent one (the conversation was resolved meanwhile): give up, as the widget shows "failed".
      if (it && TRANSIENT.has(x.code)) it.sentAt = Date.now() - SIM_ACK_TIMEOUT_MS / 2;
      else if (it) {
        this.outbox.splice(this.outbox.indexOf(it), 1);
        this.refused.push({ cid: it.cid, ...(it.conv ? { conv: it.conv } : {}), code: x.code, queuedAt: it.queuedAt, sends: it.sends });
      }
    }
    this.onFrame(f);
    // As the widget and the console do: pending messages go out once the catch-up is in, so one stored
    // before the socket died (its ack lost) arrives in it first and is not sent into a newer conversation.
    if (x.type === 'synced') this.flush();
  }

  private onAck(cid: string, conv: string, id: string): void {
    const prev = this.acked.get(cid);
    if (prev && (prev.id !== id || prev.conv !== conv)) this.ackConflicts++;
    const it = this.outbox.find((o) => o.cid === cid);
    if (!it) return;
    if (this.opts.dropAcks && it.sends < 6 && Math.random() < this.opts.dropAcks) {
      // The ack "was lost": resend at once, as a client whose ack timed out would.
      this.acksDropped++;
      this.transmit(it);
      return;
    }
    if (!prev) this.acked.set(cid, { conv, id });
    this.outbox.splice(this.outbox.indexOf(it), 1);
  }

  /** As the widget does: a pending message whose entry arrives (in a catch-up, when its ack was lost) is delivered. */
  protected delivered(e: Entry): void {
    const it = e.cid ? this.outbox.find((o) => o.cid === e.cid) : undefined;
    if (!it) return;
    if (!this.acked.has(it.cid)) this.acked.set(it.cid, { conv: e.conv, id: e.id });
    this.outbox.splice(this.outbox.indexOf(it), 1);
  }

  protected queue(text: string, conv?: string): string {
    const it: OutItem = { cid: randomId(21), text, queuedAt: Date.now(), sentAt: 0, sends: 0 };
    if (conv) it.conv = conv;
    this.outbox.push(it);
    this.order.push(it.cid);
    this.transmit(it, false);
    return it.cid;
  }

  private transmit(it: OutItem, re = true): void {
    if (!this.synced) return;
    const f = this.sendFrame(it, re);
    for (let i = 0; i < (this.opts.copies ?? 1); i++) if (!this.raw(f)) return;
    it.sends++;
    it.sentAt = Date.now();
  }

  /** After every catch-up (`synced`): everything not acked, in order, same cids. */
  private flush(): void {
    for (const it of this.outbox) this.transmit(it);
  }

  /** Called on a timer: resends what waited too long for its ack. */
  tick(now = Date.now()): void {
    if (!this.synced) return;
    for (const it of this.outbox) if (now - it.sentAt > SIM_ACK_TIMEOUT_MS) this.transmit(it);
  }
}

export class SimVisitor extends SimClient<ServerToVisitor> {
  readonly convs = new Set<string>();
  /** The site key the visitor's widget is embedded for. */
  site = 'demo';
  constructor(
    targets: Targets,
    readonly token = randomId(32),
    private registered = false,
    opts: SimOptions = {},
  ) {
    super(targets, opts);
  }
  protected url(t: Target): string {
    return `${t.wsBase}/v1/visitor?site=${this.site}&token=${this.token}&v=1${this.registered ? '' : '&new=1'}`;
  }
  protected headers(t: Target): Record<string, string> {
    return { origin: t.base };
  }
  protected helloFrame(): object {
    return { type: 'hello', lastIds: this.view.lastIds(), page: { url: 'https://shop.example/', title: 'Shop' }, locale: 'en' };
  }
  protected sendFrame(it: OutItem, re: boolean): object {
    return { type: 'send', cid: it.cid, text: it.text, re };
  }
  protected onFrame(f: ServerToVisitor): void {
    if (f.type === 'welcome') {
      this.registered = true;
      for (const c of f.convs) this.convs.add(c.id);
    } else if (f.type === 'entry') {
      this.convs.add(f.entry.conv);
      this.view.onEntry(f.entry);
      this.delivered(f.entry);
    } else if (f.type === 'ack') this.convs.add(f.conv);
    else if (f.type === 'conv') this.convs.add(f.conv.id);
  }
  say(text: string): string {
    return this.queue(text);
  }
}

export class SimOperator extends SimClient<ServerToOperator> {
  /** Open conversations assigned to this operator. */
  readonly mine = new Set<string>();
  id = '';
  constructor(
    targets: Targets,
    readonly cookie: string,
    opts: SimOptions = {},
  ) {
    super(targets, opts);
  }
  protected url(t: Target): string {
    return `${t.wsBase}/v1/operator?v=1`;
  }
  protected headers(t: Target): Record<string, string> {
    return { origin: t.base, cookie: this.cookie };
  }
  protected helloFrame(): object {
    return { type: 'hello', lastIds: this.view.lastIds(this.mine) };
  }
  protected sendFrame(it: OutItem): object {
    return { type: 'send', conv: it.conv, cid: it.cid, text: it.text };
  }
  /** Conversations whose history this client has received (the console's `loaded`). */
  private readonly fetched = new Set<string>();
  private claim(conv: string, resumed: boolean): void {
    const known = this.mine.has(conv);
    this.mine.add(conv);
    // A conversation not resumed through lastIds is fetched whole, as the console does when it opens one;
    // so is one whose history never arrived (the request went out on a socket that was dying): the console
    // clears its requests on welcome and preloads every chat of its own that is not loaded yet.
    if (!known || !resumed || !this.fetched.has(conv)) this.raw({ type: 'open', conv });
  }
  protected onFrame(f: ServerToOperator): void {
    if (f.type === 'welcome') {
      this.id = f.me.id;
      if (f.me.status !== 'online') this.raw({ type: 'status', status: 'online' });
      const resumed = this.view.lastIds(this.mine);
      // The welcome lists the chats that are this operator's now (the console's "mine" is rebuilt from it):
      // one given to someone else while this one was away is dropped, not answered into.
      const listed = new Set(f.convs.filter((c) => c.status === 'open' && c.operator?.id === this.id).map((c) => c.id));
      for (const conv of this.mine) if (!listed.has(conv)) this.mine.delete(conv);
      for (const c of f.convs) if (c.status === 'open' && c.operator?.id === this.id) this.claim(c.id, c.id in resumed);
    } else if (f.type === 'conv') {
      if (f.conv.status === 'open' && f.conv.operator?.id === this.id) {
        if (!this.mine.has(f.conv.id)) this.claim(f.conv.id, false);
      } else this.mine.delete(f.conv.id); // resolved, back in the queue, or given to someone else
    } else if (f.type === 'history') {
      this.fetched.add(f.conv);
      for (const e of f.entries) this.view.hold(e.conv, e.id);
    } else if (f.type === 'entry') {
      if (this.mine.has(f.entry.conv)) this.view.onEntry(f.entry);
    }
  }
  reply(text: string): string | null {
    const convs = [...this.mine];
    const conv = convs[Math.floor(Math.random() * convs.length)];
    if (!conv || !this.welcomed) return null;
    return this.queue(text, conv);
  }
  /** Writes an answer into `conv` whether or not the socket is up (a console that lost its connection keeps it pending). */
  answer(conv: string, text: string): string {
    return this.queue(text, conv);
  }
  resolveAll(): void {
    for (const conv of this.mine) this.raw({ type: 'resolve', conv });
  }
}

export interface Report {
  visitors: number;
  tabs: number;
  operators: number;
  queued: number;
  acked: number;
  unacked: number;
  /** Messages refused for good (their refusals are on each client's `refused`). */
  refused: number;
  lost: number;
  duplicated: number;
  ackMismatch: number;
  outOfOrder: number;
  senderOrderInversions: number;
  receiverDuplicates: number;
  receiverOutOfOrder: number;
  viewMismatches: number;
  framesSent: number;
  acksDropped: number;
  reconnects: number;
  closeCodes: Record<string, number>;
  errorCodes: Record<string, number>;
  /** Acknowledged messages whose message.created the exactly-once consumer has not counted (yet). */
  eventsMissing: number;
  /** Acknowledged messages counted more than once by the exactly-once consumer. */
  eventsDuplicated: number;
  /** Handler runs of the at-least-once consumer beyond the first (redeliveries after a kill). */
  eventsRedelivered: number;
  problems: string[];
}

async function fullStream(r: ScriptedRedis, conv: string): Promise<Entry[]> {
  const out: Entry[] = [];
  let after = '';
  for (;;) {
    const page = await readEntries(r, conv, after, 1000);
    out.push(...page);
    const last = page.at(-1);
    if (!last) return out;
    after = last.id;
  }
}

/** Compares everything every simulated client holds with what Redis holds. */
export async function verify(r: ScriptedRedis | Redis, visitors: SimVisitor[], tabs: SimVisitor[], operators: SimOperator[]): Promise<Report> {
  const rep: Report = {
    visitors: visitors.length,
    tabs: tabs.length,
    operators: operators.length,
    queued: 0,
    acked: 0,
    unacked: 0,
    refused: 0,
    lost: 0,
    duplicated: 0,
    ackMismatch: 0,
    outOfOrder: 0,
    senderOrderInversions: 0,
    receiverDuplicates: 0,
    receiverOutOfOrder: 0,
    viewMismatches: 0,
    framesSent: 0,
    acksDropped: 0,
    reconnects: 0,
    closeCodes: {},
    errorCodes: {},
    eventsMissing: 0,
    eventsDuplicated: 0,
    eventsRedelivered: 0,
    problems: [],
  };
  const ackedMsgs: { conv: string; id: string }[] = [];
  const streams = new Map<string, Entry[]>();
  const stream = async (conv: string) => {
    let s = streams.get(conv);
    if (!s) {
      s = await fullStream(r as ScriptedRedis, conv);
      streams.set(conv, s);
    }
    return s;
  };
  const problem = (p: string) => {
    if (rep.problems.length < 20) rep.problems.push(p);
  };
  const all: (SimVisitor | SimOperator)[] = [...visitors, ...tabs, ...operators];
  for (const c of all) {
    rep.queued += c.order.length;
    rep.acked += c.acked.size;
    rep.unacked += c.outbox.length;
    rep.refused += c.refused.length;
    rep.framesSent += c.framesSent;
    rep.acksDropped += c.acksDropped;
    rep.reconnects += Math.max(0, c.connects - Math.max(1, c.baseConnects));
    rep.ackMismatch += c.ackConflicts;
    for (const [k, v] of c.closeCodes) rep.closeCodes[k] = (rep.closeCodes[k] ?? 0) + v;
    for (const [k, v] of c.errorCodes) rep.errorCodes[k] = (rep.errorCodes[k] ?? 0) + v;
    // 1. Every acked message: once in the stream, at its acked id.
    let prev: string | undefined;
    for (const cid of c.order) {
      const a = c.acked.get(cid);
      if (!a) continue;
      ackedMsgs.push(a);
      const s = await stream(a.conv);
      const hits = s.filter((e) => e.cid === cid);
      if (hits.length === 0) {
        rep.lost++;
        problem(`lost ${cid} in ${a.conv}`);
      } else if (hits.length > 1) {
        rep.duplicated += hits.length - 1;
        problem(`duplicated ${cid} x${hits.length}`);
      } else if (hits[0]?.id !== a.id) {
        rep.ackMismatch++;
        problem(`ack ${a.id} != stream ${hits[0]?.id} for ${cid}`);
      }
      // 2. One sender's messages keep the order they were written in.
      if (prev && compareStreamIds(a.id, prev) < 0) rep.senderOrderInversions++;
      prev = a.id;
    }
    rep.receiverDuplicates += c.view.duplicates;
    if (c.view.dupIds.length) problem(`${c instanceof SimOperator ? 'operator' : 'visitor'} got again: ${c.view.dupIds.join(',')}; connects ${c.connects}`);
    rep.receiverOutOfOrder += c.view.outOfOrder;
  }
  // 3. Each receiver holds exactly the stream (what it may see of it).
  for (const v of [...visitors, ...tabs]) {
    for (const conv of v.convs) {
      const want = (await stream(conv))
        .map(toVisitorEntry)
        .filter((e): e is Entry => e !== null)
        .map((e) => e.id);
      const got = v.view.sorted(conv);
      if (want.join() !== got.join()) {
        rep.viewMismatches++;
        const missing = want.filter((id) => !got.includes(id));
        problem(
          `${tabs.includes(v) ? 'tab' : 'visitor'} view of ${conv}: ${got.length} held, ${want.length} in stream; missing ${missing.join(',')} of ${want.join(',')}; connects ${v.connects}, closes ${JSON.stringify(Object.fromEntries(v.closeCodes))}`,
        );
      }
    }
  }
  for (const o of operators) {
    for (const conv of o.mine) {
      // A chat given to another operator of the fleet meanwhile (the sweeper requeued it when this
      // one's presence lapsed) is that operator's to hold now, and it must: checked there instead.
      const now = await (r as ScriptedRedis).hget(`{conv:${conv}}:meta`, 'op');
      const heir = now && now !== o.id ? operators.find((x) => x.id === now) : undefined;
      if (heir) {
        if (!heir.mine.has(conv)) {
          rep.viewMismatches++;
          problem(`operator ${heir.id} was given ${conv} (from ${o.id}) but does not hold it`);
        }
        continue;
      }
      const want = (await stream(conv)).map((e) => e.id);
      const got = o.view.sorted(conv);
      if (want.join() !== got.join()) {
        rep.viewMismatches++;
        const missing = (await stream(conv)).filter((e) => !got.includes(e.id)).map((e) => `${e.id}:${e.kind}/${e.event ?? e.from}`);
        const assignee = await (r as ScriptedRedis).hget(`{conv:${conv}}:meta`, 'op');
        problem(`operator ${o.id} view of ${conv} (assignee ${assignee}): ${got.length} held, ${want.length} in stream; missing ${missing.join(',')}; connects ${o.connects}`);
      }
    }
  }
  // 4. Every open chat of these visitors assigned to one of these operators is held by that operator.
  const byId = new Map(operators.map((o) => [o.id, o]));
  const seen = new Set<string>();
  for (const v of [...visitors, ...tabs]) {
    for (const conv of v.convs) {
      if (seen.has(conv)) continue;
      seen.add(conv);
      const [status, op] = await (r as ScriptedRedis).hmget(`{conv:${conv}}:meta`, 'status', 'op');
      const o = op ? byId.get(op) : undefined;
      if (status === 'open' && o && !o.mine.has(conv)) {
        rep.viewMismatches++;
        problem(`operator ${o.id} is assigned ${conv} but does not hold it; connects ${o.connects}`);
      }
    }
  }
  // 5. No message stored in two conversations (the cid check is per conversation: a resend after its
  // conversation was resolved must not start the visitor's next one with it).
  const storedIn = new Map<string, string>();
  for (const [conv, s] of streams) {
    for (const e of s) {
      if (!e.cid || (e.kind !== 'msg' && e.kind !== 'note')) continue;
      const first = storedIn.get(e.cid);
      if (first === undefined) storedIn.set(e.cid, conv);
      else if (first !== conv) {
        rep.duplicated++;
        problem(`${e.cid} stored in ${first} and in ${conv}`);
      }
    }
  }
  // 6. The domain event log: every acknowledged message has exactly one message.created handled by
  // the exactly-once consumer, and at least one by the at-least-once one (event-count.ts).
  const { counted, seen: runs } = await eventCounts(r as ScriptedRedis, ackedMsgs);
  ackedMsgs.forEach((m, i) => {
    const n = counted[i] ?? 0;
    if (n === 0) {
      rep.eventsMissing++;
      problem(`no message.created handled for ${m.conv}/${m.id}`);
    } else if (n > 1) {
      rep.eventsDuplicated += n - 1;
      problem(`message.created for ${m.conv}/${m.id} handled ${n} times`);
    }
    if ((runs[i] ?? 0) === 0) {
      rep.eventsMissing++;
      problem(`the at-least-once consumer never saw ${m.conv}/${m.id}`);
    } else rep.eventsRedelivered += (runs[i] ?? 1) - 1;
  });
  rep.outOfOrder = rep.receiverOutOfOrder + rep.senderOrderInversions;
  return rep;
}

export function isClean(r: Report): boolean {
  return r.unacked === 0 && r.lost === 0 && r.duplicated === 0 && r.ackMismatch === 0 && r.receiverDuplicates === 0 && r.outOfOrder === 0 && r.viewMismatches === 0 && r.eventsMissing === 0 && r.eventsDuplicated === 0;
}

/** Polls verify() until it is clean or `ms` passed (entries may still be in flight after a fault). */
export async function settle(r: ScriptedRedis | Redis, v: SimVisitor[], t: SimVisitor[], o: SimOperator[], ms = 30_000): Promise<Report> {
  const until = Date.now() + ms;
  for (;;) {
    for (const c of [...v, ...t, ...o]) c.tick();
    const rep = await verify(r, v, t, o);
    if (isClean(rep) || Date.now() > until) return rep;
    await new Promise((res) => setTimeout(res, 500));
  }
}

// ---------------------------------------------------------------- gateways in child processes

export interface GatewayProc {
  port: number;
  target: Target;
  child: ChildProcess;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const here = resolve(import.meta.dirname);

/** Starts a gateway process (chaos/gateway-proc.ts) on `port` (0 = any) against `redisUrl`. */
export async function spawnGateway(redisUrl: string, port = 0): Promise<GatewayProc> {
  const child = spawn(process.execPath, ['--import', 'tsx', resolve(here, 'gateway-proc.ts')], {
    cwd: resolve(here, '..'),
    env: { ...process.env, REDIS_URL: redisUrl, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const got = await new Promise<number>((res, rej) => {
    let out = '';
    const t = setTimeout(() => rej(new Error(`gateway did not start: ${out}`)), 30_000);
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        res(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      rej(new Error(`gateway exited with ${code}: ${out}`));
    });
  });
  // HARK_CHAOS_LOG=1: the gateway logs (pino, level warn, on its stdout) go to chaos/logs/, one file per process.
  if (process.env.HARK_CHAOS_LOG === '1') {
    mkdirSync(resolve(here, 'logs'), { recursive: true });
    child.stdout?.pipe(createWriteStream(resolve(here, 'logs', `gateway-${new Date().toISOString().replace(/[:.]/g, '-')}-${child.pid}.log`)));
  } else child.stdout?.resume();
  return {
    port: got,
    target: { base: `http://127.0.0.1:${got}`, wsBase: `ws://127.0.0.1:${got}` },
    child,
    kill(signal: NodeJS.Signals = 'SIGKILL') {
      return new Promise((res) => {
        if (child.exitCode !== null || child.signalCode !== null) return res();
        child.once('exit', () => res());
        child.kill(signal);
      });
    },
  };
}

/** Runs `fn` every `everyMs` until stop() is called; the loop is bounded by `maxMs` regardless. */
export function every(everyMs: number, maxMs: number, fn: () => void): { stop(): void } {
  const t = setInterval(fn, everyMs);
  const cap = setTimeout(() => clearInterval(t), maxMs);
  return {
    stop() {
      clearInterval(t);
      clearTimeout(cap);
    },
  };
}

export function formatReport(name: string, r: Report, ms: number): string {
  return `${name}: ${r.visitors} visitors + ${r.tabs} tabs + ${r.operators} operators, ${(ms / 1000).toFixed(1)} s; messages queued ${r.queued}, acked ${r.acked}, unacked ${r.unacked}, refused ${r.refused}, lost ${r.lost}, duplicated ${r.duplicated}, out of order ${r.outOfOrder} (receivers ${r.receiverOutOfOrder}, sender ${r.senderOrderInversions}), receiver duplicates ${r.receiverDuplicates}, view mismatches ${r.viewMismatches}; frames sent ${r.framesSent}, acks dropped ${r.acksDropped}, reconnects ${r.reconnects}; events missing ${r.eventsMissing}, duplicated ${r.eventsDuplicated}, redelivered (at least once) ${r.eventsRedelivered}; close codes ${JSON.stringify(r.closeCodes)}; error codes ${JSON.stringify(r.errorCodes)}${r.problems.length ? `; problems: ${r.problems.join(' | ')}` : ''}`;
}
