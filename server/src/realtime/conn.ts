/**
 * What both socket kinds share: frames processed strictly in order, one error
 * path (an error frame, or a close with the code's close code), backpressure,
 * frame-rate limit and catch-up buffering.
 */
import { ERRORS, type ErrorCode, FRAMES_BURST, FRAMES_PER_SEC, HarkError, MAX_SOCKET_BUFFER_BYTES, compareStreamIds } from '@hark/shared';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { Bucket, SlowDown } from './limits';
import type { Metrics } from '../metrics';

/**
 * Errors that end the socket rather than only answering with an error frame.
 * OVERLOADED (Redis away) is one of them: frames already on their way behind a
 * failed send must not be stored ahead of it, so the socket closes and the
 * client resends its outbox in order after reconnecting (chaos: Redis SIGKILL).
 */
const FATAL: ReadonlySet<ErrorCode> = new Set(['RATE_LIMITED', 'FRAME_TOO_LARGE', 'SLOW_CONSUMER', 'NOT_AUTHENTICATED', 'ACCOUNT_DISABLED', 'SHUTTING_DOWN', 'RIGHTS_CHANGED', 'PROTOCOL_VERSION', 'OVERLOADED']);

/**
 * Redis is unreachable (ioredis gave up after MAX_RETRIES_PER_REQUEST reconnects, or the
 * connection closed under the command): the client is told OVERLOADED and resends later.
 */
function redisUnavailable(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  return e.name === 'MaxRetriesPerRequestError' || /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|LOADING|BUSY/.test(e.message);
}


/**
 * An ack waits at most this long for the sender's own copy of its entry (normally a
 * pub/sub hop, a millisecond or two) so that both leave in one write; then it goes alone.
 */
export const ACK_HOLD_MS = 200;
/** The longest a paged answer waits for the client to read the previous piece. */
export const DRAIN_WAIT_MS = 10_000;
/** At most this many acks held per socket; beyond, the oldest goes out at once. */
export const ACK_HOLD_MAX = 64;

/** Sockets holding acks, and the one timer that releases the late ones. */
const holding = new Set<Conn>();
let holdTimer: NodeJS.Timeout | null = null;
function sweepHeld(): void {
  const due = Date.now() - ACK_HOLD_MS;
  for (const c of holding) c.releaseAcks(due);
  if (holding.size === 0 && holdTimer) {
    clearInterval(holdTimer);
    holdTimer = null;
  }
}

const CONN = Symbol('hark.conn');
type Tagged = WebSocket & { [CONN]?: Conn };
const RESOLVED = Promise.resolve();
function noop(): void {}
function onWsMessage(this: WebSocket, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
  (this as Tagged)[CONN]?.frame(data, isBinary);
}
function onWsPong(this: WebSocket): void {
  const c = (this as Tagged)[CONN];
  if (c) c.alive = true;
}
function onWsClose(this: WebSocket): void {
  (this as Tagged)[CONN]?.socketClosed();
}

export abstract class Conn<F extends { type: string } = { type: string }> {
  private chain: Promise<void> | null = null;
  private readonly frames = new Bucket(FRAMES_PER_SEC, FRAMES_BURST);
  /** Last stream id sent to this socket per conversation. */
  protected readonly lastSent = new Map<string, string>();
  /** While catching up after hello, live entries wait here. */
  private pending: { conv: string; id: string; frame: string | null }[] | null = null;
  /** Acks waiting for their entry ("conv id" → [frame, held since]), in the order they were held. */
  private held: Map<string, [string, number]> | null = null;
  /** Catch-ups in progress (hello, a conversation followed later); live entries wait until the last one ends. */
  private syncing = 0;
  closed = false;
  alive = true;
  /** Which slice of the gateway's heartbeat pings this socket. */
  beatSlot = 0;

  constructor(
    readonly ws: WebSocket,
    protected readonly metrics: Metrics,
    readonly kind: 'visitor' | 'operator',
  ) {
    // Shared listener functions that find this Conn on the socket, not four closures per socket.
    (ws as Tagged)[CONN] = this;
    ws.on('message', onWsMessage);
    ws.on('pong', onWsPong);
    ws.on('close', onWsClose);
    ws.on('error', noop);
  }

  /** The gateway's set of live sockets, which this one leaves when it closes. */
  registry: Set<Conn> | null = null;

  /** One inbound frame: rate-limited, then processed strictly after the ones before it. */
  frame(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    if (this.closed) return;
    if (!this.frames.take()) {
      this.fail(new HarkError('RATE_LIMITED', 'Too many frames; slow down.'));
      return;
    }
    const raw = isBinary ? '' : (data as Buffer).toString('utf8');
    // The chain is dropped once it is idle (a settled promise kept per idle socket costs memory).
    const p: Promise<void> = (this.chain ?? RESOLVED)
      .then(() => this.handleRaw(raw))
      .catch((e) => this.fail(e))
      .then(() => {
        if (this.chain === p) this.chain = null;
      });
    this.chain = p;
  }

  /** The socket closed (ws 'close'). */
  socketClosed(): void {
    this.closed = true;
    this.ended();
    this.registry?.delete(this);
  }

  /** Narrows one inbound frame (throws a HarkError with the code to answer). */
  protected abstract parse(raw: string): F;
  protected abstract handle(f: F): Promise<void>;

  private async handleRaw(raw: string): Promise<void> {
    // Frames queued behind one that closed the socket are not acted on.
    if (this.closed) return;
    let f: F;
    try {
      f = this.parse(raw);
    } catch (e) {
      this.fail(e);
      return;
    }
    try {
      await this.handle(f);
    } catch (e) {
      this.fail(e, 'cid' in f && typeof f.cid === 'string' ? f.cid : undefined);
    }
  }
  protected abstract onClose(): void;
  private closeHandled = false;
  /** Runs onClose once: fail() ends the socket at once, and ws's 'close' event follows it later (gauges were decremented twice). */
  private ended(): void {
    if (this.closeHandled) return;
    this.closeHandled = true;
    this.held = null;
    holding.delete(this);
    this.onClose();
  }

  send(frame: object): void {
    this.sendRaw(JSON.stringify(frame));
  }

  sendRaw(s: string): void {
    if (this.closed) return;
    if (this.ws.bufferedAmount > MAX_SOCKET_BUFFER_BYTES) {
      this.fail(new HarkError('SLOW_CONSUMER'));
      return;
    }
    this.ws.send(s);
  }

  /** ws's underlying net.Socket (not public API), for corking several frames into one write. */
  private get socket(): Socket | undefined {
    return (this.ws as unknown as { _socket?: Socket })._socket;
  }

  private corkedTick = false;
  /**
   * Holds this socket's writes until the current tick's work (its promise continuations
   * included) is done, so frames sent in a row leave in one write: a hello's welcome,
   * catch-up and `synced` (the reconnect storm is ~10,000 of them).
   */
  /**
   * Resolves once the socket's send buffer is under a quarter of MAX_SOCKET_BUFFER_BYTES (or the
   * socket closed, or DRAIN_WAIT_MS passed): a large answer is sent piece by piece as the client reads.
   */
  protected async drained(): Promise<void> {
    const until = Date.now() + DRAIN_WAIT_MS;
    while (!this.closed && this.ws.bufferedAmount > MAX_SOCKET_BUFFER_BYTES / 4 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  }

  protected corkUntilTick(): void {
    const sock = this.socket;
    if (this.corkedTick || !sock) return;
    this.corkedTick = true;
    sock.cork();
    process.nextTick(() => {
      this.corkedTick = false;
      sock.uncork();
    });
  }

  error(code: ErrorCode, message?: string, cid?: string): void {
    this.metrics.errors.inc({ code });
    const f: { type: 'error'; code: string; message: string; cid?: string } = { type: 'error', code, message: message ?? ERRORS[code].message };
    if (cid) f.cid = cid;
    this.send(f);
  }

  /** Answers an error as a frame; ends the socket for the codes that must, or always when `fatal`. */
  fail(e: unknown, cid?: string, fatal = false): void {
    if (this.closed) return;
    const err = e instanceof HarkError ? e : redisUnavailable(e) ? new HarkError('OVERLOADED') : new HarkError('INTERNAL');
    if (!(e instanceof HarkError) && err.code === 'INTERNAL') this.onInternalError(e);
    if (e instanceof SlowDown && !fatal) {
      // Not the visitor's doing (the site is at its limit): the socket stays open, the client sends again after the hint.
      this.metrics.errors.inc({ code: err.code });
      this.send({ type: 'error', code: err.code, message: err.message, ...(cid ? { cid } : {}), retryMs: e.retryMs });
      return;
    }
    if (fatal || FATAL.has(err.code)) {
      this.metrics.errors.inc({ code: err.code });
      this.closed = true;
      try {
        this.ws.send(JSON.stringify({ type: 'error', code: err.code, message: err.message, ...(cid ? { cid } : {}) }));
      } catch {}
      this.ws.close(ERRORS[err.code].close, err.code);
      this.ended();
      return;
    }
    this.error(err.code, err.message, cid);
  }

  protected onInternalError(_e: unknown): void {}

  // ------------------------------------------------------------ ordered delivery
  /** Sends an entry frame (null: nothing this socket may see) unless this socket already has it; while syncing, holds it back. */
  deliverEntry(conv: string, id: string, frame: string | null): void {
    if (this.pending) {
      this.pending.push({ conv, id, frame });
      return;
    }
    const last = this.lastSent.get(conv);
    if (last && compareStreamIds(id, last) <= 0) return;
    this.lastSent.set(conv, id);
    this.writeEntry(conv, id, frame);
  }

  /** Writes an entry frame, together with the ack held for it if there is one: one write, one syscall. */
  protected writeEntry(conv: string, id: string, frame: string | null): void {
    const key = this.held ? `${conv} ${id}` : '';
    const ack = this.held?.get(key);
    if (!ack) {
      if (frame) this.sendRaw(frame);
      return;
    }
    this.held?.delete(key);
    const sock = this.socket;
    sock?.cork();
    if (frame) this.sendRaw(frame);
    this.sendRaw(ack[0]);
    sock?.uncork();
  }

  /**
   * Acknowledges a stored entry. The sender also receives the entry itself (its other tabs
   * need it, and the stream order on this socket depends on it), so unless that already went
   * out the ack waits for it and both leave in one write: a third fewer syscalls per message.
   */
  /**
   * Sends `ack` once `recorded` (the message's domain event) settles. If recording fails, the
   * socket is closed (OVERLOADED when Redis is away): the client resends what is unacknowledged,
   * in order, and the resend records the event again (the same id: stored once).
   */
  protected ackWhenRecorded(recorded: Promise<void>, conv: string, id: string, cid: string, ack: object): void {
    recorded.then(
      () => this.sendAck(conv, id, ack),
      (e) => this.fail(e, cid, true),
    );
  }

  protected sendAck(conv: string, id: string, ack: object): void {
    const frame = JSON.stringify(ack);
    const last = this.lastSent.get(conv);
    if (this.closed || (last && compareStreamIds(id, last) <= 0)) {
      this.sendRaw(frame);
      return;
    }
    this.held ??= new Map();
    if (this.held.size >= ACK_HOLD_MAX) this.releaseAcks(Number.POSITIVE_INFINITY, 1);
    this.held.set(`${conv} ${id}`, [frame, Date.now()]);
    holding.add(this);
    holdTimer ??= setInterval(sweepHeld, ACK_HOLD_MS / 2).unref();
  }

  /** Sends held acks held since before `due` (at most `max` of them), oldest first. */
  releaseAcks(due: number, max = Number.POSITIVE_INFINITY): void {
    const h = this.held;
    if (h) {
      for (const [key, [frame, at]] of h) {
        if (at > due || max-- <= 0) break;
        h.delete(key);
        this.sendRaw(frame);
      }
    }
    if (!h || h.size === 0 || this.closed) {
      this.held = null;
      holding.delete(this);
    }
  }

  /** Set once a hello's catch-up is complete and `synced` was sent. */
  protected helloDone = false;

  /**
   * Answers a hello: `work` sends the welcome and the catch-up while live entries
   * are held back, then `synced`. A hello that cannot be answered (Redis away)
   * must not leave the socket half-synced, holding live entries forever: it
   * closes the socket (OVERLOADED, 1013) and the client reconnects and resumes.
   */
  protected async syncHello(work: () => Promise<void>): Promise<void> {
    this.beginSync();
    try {
      await work();
    } catch (e) {
      this.fail(e, undefined, true);
    } finally {
      this.endSync();
    }
    if (this.closed) return;
    this.helloDone = true;
    this.send({ type: 'synced' });
  }

  protected beginSync(): void {
    this.syncing++;
    this.pending ??= [];
  }

  protected endSync(): void {
    if (--this.syncing > 0) return;
    this.syncing = 0;
    const p = this.pending ?? [];
    this.pending = null;
    for (const x of p) this.deliverEntry(x.conv, x.id, x.frame);
  }
}
