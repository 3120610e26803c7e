/**
 * The operator socket: one connection, reconnected with backoff and jitter,
 * resumed with `hello {lastIds}`, and a queue of unacknowledged sends that is
 * replayed after every reconnect. The server de-duplicates on `cid`, so a
 * resend of something that did arrive stores nothing twice.
 */
import { parseServerToOperator } from '@hark/shared/client-parse';
import { PROTOCOL_VERSION } from '@hark/shared/limits';
import type { OperatorToServer, ServerToOperator } from '@hark/shared/protocol';
import { reconnectDelay } from './backoff';

type Pending = Extract<OperatorToServer, { type: 'send' | 'note' }>;

export interface SocketOptions {
  url: string;
  onFrame: (f: ServerToOperator) => void;
  onState: (state: 'connecting' | 'syncing' | 'offline') => void;
  /** The resume cursor per conversation, read at each (re)connect. */
  lastIds: () => Record<string, string>;
  /** Called when the socket could not even open; answers false when the session is gone (stop retrying). */
  stillSignedIn: () => Promise<boolean>;
  onSignedOut: () => void;
  /** Injected in tests. */
  WebSocketImpl?: typeof WebSocket;
  delay?: (attempt: number) => number;
}

export class OperatorSocket {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private readonly pending = new Map<string, Pending>();
  private readonly opts: SocketOptions;

  constructor(opts: SocketOptions) {
    this.opts = opts;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.ws?.close(1000);
    this.ws = null;
  }

  /** Unacknowledged sends and notes, oldest first (shown greyed in the conversation). */
  unacked(): Pending[] {
    return [...this.pending.values()];
  }

  /** Sends a frame now if connected. Sends and notes are also kept until acked and resent after reconnect. */
  send(f: OperatorToServer): boolean {
    if (f.type === 'send' || f.type === 'note') this.pending.set(f.cid, f);
    return this.raw(f);
  }

  /** Forces a reconnect now (e.g. the browser says it is back online). */
  kick(): void {
    if (this.stopped) return;
    if (this.ws && this.ws.readyState <= 1) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.attempt = 0;
    this.connect();
  }

  /**
   * The browser says the network is gone: a socket may stay "open" for minutes after that (nothing
   * is sent, so nothing fails), and the console would keep saying Live. Drop it now and show
   * offline; the next attempt is `kick()` (the browser's `online` event, or Retry now) or the
   * backoff timer, which waits while the browser still says it is offline.
   */
  offline(): void {
    if (this.stopped) return;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      ws.close();
    }
    this.opts.onState('offline');
    if (!this.timer) void this.retry(false);
  }

  private raw(f: OperatorToServer): boolean {
    if (this.ws?.readyState !== 1) return false;
    this.ws.send(JSON.stringify(f));
    return true;
  }

  private url(): string {
    const base = this.opts.url;
    return `${base}${base.includes('?') ? '&' : '?'}v=${PROTOCOL_VERSION}`;
  }

  private connect(): void {
    const Impl = this.opts.WebSocketImpl ?? WebSocket;
    this.opts.onState('connecting');
    let opened = false;
    const ws = new Impl(this.url());
    this.ws = ws;
    ws.onopen = () => {
      opened = true;
      this.attempt = 0;
      this.opts.onState('syncing');
      ws.send(JSON.stringify({ type: 'hello', lastIds: this.opts.lastIds() } satisfies OperatorToServer));
    };
    ws.onmessage = (ev) => {
      const f = parseServerToOperator(ev.data);
      if (!f) return;
      if (f.type === 'ack') this.pending.delete(f.cid);
      // An error about one of our sends (empty, too long, resolved) will never be acked: drop it.
      if (f.type === 'error' && f.cid) this.pending.delete(f.cid);
      this.opts.onFrame(f);
      // Replay after the catch-up, so a resend lands after what the server already has.
      if (f.type === 'synced') for (const p of this.pending.values()) this.raw(p);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      this.opts.onState('offline');
      // 1008 is the policy close (signed out, deactivated); a refused upgrade never opens.
      void this.retry(!opened || ev.code === 1008);
    };
  }

  private async retry(checkSession: boolean): Promise<void> {
    // The session may have expired, or the password was changed in another tab.
    if (checkSession && !(await this.opts.stillSignedIn().catch(() => true))) {
      this.stopped = true;
      this.opts.onSignedOut();
      return;
    }
    const wait = (this.opts.delay ?? reconnectDelay)(this.attempt++);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.stopped) return;
      // Still no network: no point in a connect that must fail; wait another round (or the online event's kick).
      if (typeof navigator !== 'undefined' && navigator.onLine === false) void this.retry(false);
      else this.connect();
    }, wait);
  }
}
