/**
 * Event consumers: every registered consumer sees every event of the durable log
 * (store/event-log.ts), whichever gateway emitted it, handled by one gateway at a time.
 *
 * Guarantees (for ARCHITECTURE.md):
 * - Every event recorded in the log reaches every registered consumer at least once,
 *   across gateway kills and Redis restarts (with AOF; an event is recorded once the
 *   emit script (or the append script, store/event-log.ts fusedEvent) has run and, after a Redis crash, only what the AOF kept is), as long
 *   as the consumer is not more than EVENT_LOG_MAXLEN entries behind on a partition
 *   (older entries are trimmed; a trimmed, unhandled entry is logged and counted).
 * - In stream order per partition, so per conversation (and per operator, per visitor
 *   without conversation): one event at a time; a handler that throws is retried with
 *   backoff, never skipped, and nothing after it in its partition runs meanwhile.
 *   A batch consumer (`batch: true`, SideEffectConsumer) gets each read as one batch: in
 *   order per conversation (order key), the conversations at once, one ack for the read;
 *   a failure or a death before the ack repeats the whole batch (the stats, search and
 *   reports consumers, idempotent by event id, are batch consumers). Each handler of a batch
 *   still starts only while the lease is surely ours; a stop or handoff lets the batch end
 *   and ack; a stop while it waits to be retried leaves the lease to lapse, not released
 *   clean (its handled events must count as a redelivery for the next holder).
 * - At any time at most one gateway handles a given partition for a given consumer:
 *   a gateway handles a partition only under its lease, starts a handler only while
 *   its lease is surely valid (renewed every third of LEASE_MS; judged on its own
 *   clock from when it sent the renewal), and every read and ack is a script
 *   that refuses a gateway whose lease is gone. The one overlap left is a handler
 *   already running on a gateway cut off from Redis (or paused) for longer than the
 *   lease: the next holder may start the same event while it runs, and the old
 *   gateway's ack is refused.
 * - A redelivery (the same event handled again) happens only for an event whose
 *   handler finished but whose ack did not (the gateway was killed, or lost its lease,
 *   in between). Side-effecting consumers must therefore be idempotent by event id.
 *   Transactional consumers see none: their effect is commands in the ack's script,
 *   applied with the ack or not at all, and only if the event was not acked before.
 *
 * How: per consumer and partition, a lease (`{hark:ev:P}:lease:<consumer>`); gateways
 * running a consumer register in `hark:ev:members:<consumer>` and split its partitions
 * round-robin over the sorted live members, so a gateway that joins gets its share
 * (the holder hands a partition over after the event in hand) and a gateway that dies
 * is dropped from the members and its leases lapse within LEASE_MS. A holder reads the
 * partition in order (XRANGE) from the consumer's done watermark, handles, acks (moves the
 * watermark, with a transactional consumer's commands, in one script), and reads on after
 * the last entry it read; the new holder of a lease starts again from the watermark, so
 * what the former one had in hand and had not acked is handled again, and nothing else.
 *
 * Polling, not blocking reads: a blocking read would stall every autopipelined command
 * behind it on the shared connection, and a blocking connection serves one partition
 * at a time (on Cluster the partitions' slots are on different nodes, so one read
 * cannot cover them), which would take a connection per partition and consumer. Each
 * held partition is read instead without BLOCK every EVENT_POLL_MS (COUNT EVENT_BATCH,
 * at once again after a full batch) on the shared command connection; Redis sees
 * partitions × consumers × 1000/EVENT_POLL_MS cheap reads a second in all, however
 * many gateways share the work. `emit` through the runner (or `wake`) makes the local
 * holder read at once, so an event emitted on the holding gateway is handled without
 * waiting for the next poll; from another gateway it waits at most EVENT_POLL_MS.
 */
import { compareStreamIds } from '@hark/shared';
import { mapLimit } from '@hark/shared/async';
import type { ScriptedRedis } from '../redis/scripts';
import { type DomainEvent, EVENT_TYPES, type EventInput, type EventType, type MessageCreated, orderKey } from './events';
import {
  EVENT_PARTITIONS,
  type Emitted,
  LEASE_MS,
  LeaseLostError,
  MAX_ACK_IDS,
  type LogEntry,
  PartitionTx,
  ackEntries,
  consumerConnection,
  emit,
  fnv1a,
  heartbeat,
  prepare,
  readNew,
  releaseLease,
  takeLease,
} from '../store/event-log';

/** A held partition with nothing new is read again after this long. */
export const EVENT_POLL_MS = 200;
/** An emit wakes the local holder of its partition this much later, so a burst is read as one batch. */
export const EVENT_WAKE_COALESCE_MS = EVENT_POLL_MS;
/** An idle partition's polls back off from EVENT_POLL_MS, doubling, to this. */
export const EVENT_POLL_IDLE_MAX_MS = 1_000;
/** Entries read per call. */
export const EVENT_BATCH = 100;
/**
 * Conversations of one batch (a batch consumer's read) handled at once: bounds the work and memory
 * one read puts in flight (up to EVENT_BATCH handlers per partition and consumer otherwise), while
 * their Redis commands still go out together (autopipelined), which is what the batch gains.
 */
export const EVENT_BATCH_CONCURRENCY = 8;
/** A failing handler (or a Redis error) is retried after this, doubling… */
export const HANDLER_RETRY_BASE_MS = 100;
/** …up to this (±25 % jitter). */
export const HANDLER_RETRY_CAP_MS = 5_000;
/** A clean stop waits this long for handlers in progress, then gives up on them (their events are redelivered elsewhere). */
export const STOP_TIMEOUT_MS = 5_000;
/** A handler still running after this long is logged (it holds up its partition). */
export const HANDLER_SLOW_MS = 30_000;
/** A lease is trusted locally until (send time of its last renewal + lease − this), capped at a tenth of the lease. */
export const LEASE_SAFETY_MS = 500;

export interface EventLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

interface ConsumerBase {
  /** Consumer group name: letters, digits, '.', '_', '-'. Renaming it starts over from the log's oldest entry. */
  name: string;
  /** Only these types reach the handler (the others are acked unseen). All when absent. */
  types?: readonly EventType[];
  /** Of `message.created`, only the messages of these authors reach the handler (the others are acked unseen, as an unwanted type). All when absent. */
  messagesBy?: readonly MessageCreated['by'][];
  /**
   * The types wanted now, when that changes (e.g. none while no site has a webhook): overrides
   * `types` for the read, which then acks every other event in Redis without sending it here.
   */
  liveTypes?(): readonly EventType[] | undefined;
  /** Awaited right before each read of the log (e.g. to refresh what liveTypes answers). A failure is a failed read (retried). */
  beforeRead?(): Promise<void>;
}
/** Side effects outside Redis (webhooks, e-mail…): at least once, so idempotent by `event.id`. */
export interface SideEffectConsumer extends ConsumerBase {
  handle(event: DomainEvent): Promise<void>;
  handleTx?: undefined;
  /**
   * Handles each read of the log as one batch: the events of one order key (the conversation,
   * else the operator or visitor, else the site: events.ts `orderKey`) one after another, those of
   * different keys at once, and one ack for the read instead of one per event. The price: order
   * is kept per order key, not per partition; a failure runs the whole batch again after the
   * backoff (its other events too); and a gateway that dies between the batch and its ack leaves
   * the whole batch (at most `batch` events) to be handled again. Only for a consumer whose every
   * effect is idempotent by event id, as the built-in ones are.
   */
  batch?: boolean;
  /**
   * With `batch`: the whole read at once instead of `handle` per event (which is still what a
   * caller outside the runner uses): its wanted events in stream order with their stream ids, and
   * the partition. For a consumer that writes a read's effects together, and can tell a batch it
   * has counted already by the stream ids (the reports: one script per site per read, counted once
   * past a watermark per site and partition). Retried whole on failure, like a batch.
   */
  handleBatch?(events: readonly LoggedEvent[], partition: number): Promise<void>;
}
/** An event as read from its partition, with its stream id (increasing within a partition). */
export interface LoggedEvent {
  event: DomainEvent;
  streamId: string;
}
/**
 * Effects in Redis, in the event's partition slot: added to `tx`, they run in the ack's
 * script: exactly once. The handler may read anything; it must not write outside `tx`.
 */
export interface TransactionalConsumer extends ConsumerBase {
  handleTx(event: DomainEvent, tx: PartitionTx): Promise<void> | void;
  handle?: undefined;
  batch?: undefined;
  handleBatch?: undefined;
}
export type EventConsumer = SideEffectConsumer | TransactionalConsumer;

/** A consumer as registered: either kind. */
export type Consumer = EventConsumer;

export interface EventConsumersOptions {
  /** Used by start() when it is given none. */
  gatewayId?: string;
  logger?: EventLogger;
  leaseMs?: number;
  pollMs?: number;
  /** Longest wait between polls of an idle partition (default EVENT_POLL_IDLE_MAX_MS; = pollMs when only that is given). */
  idlePollMaxMs?: number;
  batch?: number;
  retryBaseMs?: number;
  retryCapMs?: number;
  stopTimeoutMs?: number;
  /**
   * Leases, reads and acks go through a connection of the runner's own (a duplicate of the
   * given client, without autopipelining, closed at stop) that holds the log's consumer scripts;
   * the given client only emits. The gateway sets it: the command client every message goes
   * through then carries one more script, not twenty-five (ioredis copies a client's scripts into
   * every autopipeline it opens).
   */
  ownClient?: boolean;
  /**
   * Whether this runner handles events (default true). A gateway of `pnpm start` with a consumer
   * worker (main.ts) records events and leaves them to that worker: false.
   */
  consume?: boolean;
  /**
   * Whether this process serves sockets (default true): it is counted in liveGateways(), over which
   * each gateway shares a site's message limit. The consumer worker serves none: false.
   */
  serving?: boolean;
}

/** The membership (store/event-log.ts heartbeat) of the processes serving sockets; '@' keeps it apart from every consumer's name. */
export const SERVING_MEMBERS = '@serving';

export interface EventCounters {
  /** Events handled and acked. */
  handled: number;
  /**
   * Of those, events that may have been handled before: on taking over a lease that
   * was not released cleanly (its holder died or lost it), the first event after the
   * watermark handled. A holder handles one event at a time and acks it before the next, so only
   * that one can have been in its hands: an upper bound, exact unless the holder died
   * before starting it. For a batch consumer, every event of the first batch handled.
   */
  redelivered: number;
  /** Handler failures (each is retried). */
  failures: number;
  /** Entries read at or below the watermark (not handled again). */
  skipped: number;
  /** Records that are not valid events (acked unhandled, logged). */
  invalid: number;
  /** Times a consumer found entries it had not read trimmed from the log (lost for it; logged). */
  trimmed: number;
  /** Leases lost while held (another gateway took over). */
  leaseLosses: number;
}

type Exit = 'lost' | 'handoff' | 'stop' | 'abandon';

class Abort extends Error {
  constructor(readonly why: Exit | 'expired' | 'recover') {
    super(`event consumer aborted: ${why}`);
  }
}

interface Unit {
  c: EventConsumer;
  p: number;
  /** We hold the lease (as far as we know). */
  held: boolean;
  /** performance.now() before which the lease is surely ours. */
  validUntil: number;
  /** The members' split gives this unit to us. */
  assigned: boolean;
  worker: Promise<void> | null;
  releasing: boolean;
  /** Start again from the done watermark before reading on (a lease taken, a read or batch that failed). */
  recover: boolean;
  /** The lease was just taken: the first events after the watermark may have been in a former holder's hands. */
  takeover: boolean;
  /** Bumped on every acquisition: work begun under an older one stops and recovers first. */
  epoch: number;
  done: string | null;
  /** The id of the last entry read: the next read starts after it. */
  cursor: string;
  /** The last read found nothing and nothing has woken us since. */
  idle: boolean;
  woken: boolean;
  /** A batch's handlers may have run and its ack is not done: the lease is not released as clean (see processBatch). */
  dirty: boolean;
  /** Reads in a row that found nothing (the next poll waits longer). */
  emptyPolls: number;
}

/** poll: waiting for new entries (ends on wake and stop); retry: backoff before retrying a handler or a read (ends on stop); ack: backoff before resending an ack (ends only on abandon or lease loss). */
type PauseKind = 'poll' | 'retry' | 'ack';

interface Sleeper {
  u: Unit;
  kind: PauseKind;
  done: () => void;
}

const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;
const GATEWAY_RE = /^[^\s{}]{1,128}$/;

const consoleLogger: EventLogger = {
  warn: (obj, msg) => console.warn(msg, obj),
  error: (obj, msg) => console.error(msg, obj),
};

type Wants = { types?: readonly EventType[]; liveTypes?(): readonly EventType[] | undefined; messagesBy?: readonly MessageCreated['by'][] };

/** The types a consumer wants now (all when undefined): `liveTypes` when it has it, else `types`. */
function wanted(c: Wants): readonly EventType[] | undefined {
  return c.liveTypes ? c.liveTypes() : c.types;
}

/** The read script's type filter for a consumer: '' all, '-' none, else the types comma-separated. */
function typesArg(c: Wants): string {
  const t = wanted(c);
  if (!t) return c.messagesBy ? typesArg({ ...c, types: EVENT_TYPES, liveTypes: undefined }) : '';
  if (!t.length) return '-';
  const by = c.messagesBy;
  return (by ? t.flatMap((x) => (x === 'message.created' ? by.map((b) => `${x}/${b}`) : [x])) : t).join(',');
}

/** Whether a consumer wants this event, by its type and (messagesBy) a message's author. */
function wantsEvent(c: Wants, e: DomainEvent): boolean {
  if (c.types && !c.types.includes(e.type)) return false;
  return !(c.messagesBy && e.type === 'message.created' && !c.messagesBy.includes(e.by));
}

/** Whether the consumer wants (now) at least one of these types. */
function wantsAny(c: Wants, types: ReadonlySet<EventType>): boolean {
  const t = wanted(c);
  return !t || t.some((x) => types.has(x));
}

export class EventConsumers {
  readonly counters: EventCounters = { handled: 0, redelivered: 0, failures: 0, skipped: 0, invalid: 0, trimmed: 0, leaseLosses: 0 };
  private readonly consumers: EventConsumer[] = [];
  private units: Unit[] = [];
  private gateway = '';
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private abandoned = false;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  private readonly members = new Map<string, string[]>();
  /** The processes serving sockets, as of the last heartbeat (SERVING_MEMBERS). */
  private serving: string[] = [];
  private readonly consume: boolean;
  private readonly serves: boolean;
  private readonly sleepers = new Set<Sleeper>();
  private readonly log: EventLogger;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly idlePollMaxMs: number;
  private readonly batch: number;
  private readonly retryBaseMs: number;
  private readonly retryCapMs: number;
  private readonly stopTimeoutMs: number;

  /** The client consumer steps go through (leases, reads, acks). */
  private readonly cmd: ScriptedRedis;
  /** The client events are emitted on (the gateway's command client). */
  private readonly emitCmd: ScriptedRedis;
  private readonly own: boolean;
  private readonly defaultGateway: string | undefined;

  /** `conns`: the gateway's Connections (its command client is used) or a client. */
  constructor(conns: { cmd: ScriptedRedis } | ScriptedRedis, logger?: EventLogger, opts: EventConsumersOptions = {}) {
    this.emitCmd = 'cmd' in conns ? conns.cmd : conns;
    this.own = !!opts.ownClient;
    this.cmd = this.own ? (consumerConnection(this.emitCmd) as ScriptedRedis) : this.emitCmd;
    this.defaultGateway = opts.gatewayId;
    this.log = logger ?? opts.logger ?? consoleLogger;
    if (this.own) this.cmd.on('error', (err: unknown) => this.log.warn({ err }, 'event consumers: redis'));
    this.leaseMs = opts.leaseMs ?? LEASE_MS;
    this.pollMs = opts.pollMs ?? EVENT_POLL_MS;
    this.idlePollMaxMs = opts.idlePollMaxMs ?? (opts.pollMs !== undefined ? opts.pollMs : EVENT_POLL_IDLE_MAX_MS);
    this.batch = Math.max(1, Math.min(MAX_ACK_IDS, opts.batch ?? EVENT_BATCH));
    this.retryBaseMs = opts.retryBaseMs ?? HANDLER_RETRY_BASE_MS;
    this.retryCapMs = opts.retryCapMs ?? HANDLER_RETRY_CAP_MS;
    this.stopTimeoutMs = opts.stopTimeoutMs ?? STOP_TIMEOUT_MS;
    this.consume = opts.consume ?? true;
    this.serves = opts.serving ?? true;
  }

  /** Adds a consumer (before start). Its group starts at the oldest entry the log keeps. */
  register(c: EventConsumer): this {
    const name = c.name;
    if (this.state !== 'new') throw new Error('register consumers before start()');
    if (!NAME_RE.test(name)) throw new Error(`invalid consumer name ${JSON.stringify(name)}`);
    if (this.consumers.some((x) => x.name === name)) throw new Error(`consumer ${name} registered twice`);
    if (typeof c.handle !== 'function' && typeof c.handleTx !== 'function') throw new Error(`consumer ${name} has no handler`);
    this.consumers.push(c);
    return this;
  }

  /** Starts sharing the consumers' work as `gatewayId` (unique among live gateways). A runner starts once. */
  async start(gatewayId: string | undefined = this.defaultGateway): Promise<void> {
    if (this.state !== 'new') throw new Error('an EventConsumers runner starts once');
    if (gatewayId === undefined) throw new Error('EventConsumers.start needs a gateway id');
    if (!GATEWAY_RE.test(gatewayId)) throw new Error(`invalid gateway id ${JSON.stringify(gatewayId)}`);
    this.gateway = gatewayId;
    this.state = 'running';
    for (const c of this.consume ? this.consumers : []) {
      for (let p = 0; p < EVENT_PARTITIONS; p++) {
        this.units.push({ c, p, held: false, validUntil: 0, assigned: false, worker: null, releasing: false, recover: true, takeover: true, epoch: 0, done: null, cursor: '0-0', idle: false, woken: false, emptyPolls: 0, dirty: false });
      }
    }
    await this.runTick();
    this.timer = setInterval(() => void this.runTick(), Math.max(10, Math.floor(this.leaseMs / 3)));
    this.timer.unref();
  }

  /**
   * Clean stop: takes no new events, lets each handler in progress finish and be acked
   * (up to stopTimeoutMs), releases the leases and leaves the members so the others take
   * over at once. `abandon: true` simulates a crash instead (tests, chaos): stops at once,
   * acks nothing more, keeps the leases (they lapse after the lease time).
   */
  stop(opts: { abandon?: boolean } = {}): Promise<void> {
    if (opts.abandon) {
      this.abandon();
      return Promise.resolve();
    }
    if (this.state === 'new') this.state = 'stopped';
    if (this.state === 'stopped') return Promise.resolve();
    this.stopping ??= this.stopCleanly();
    return this.stopping;
  }

  private async stopCleanly(): Promise<void> {
    this.state = 'stopping';
    this.interrupt((s) => s.kind !== 'ack');
    const workers = this.units.map((u) => u.worker).filter((w): w is Promise<void> => w !== null);
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      Promise.all(workers).then(() => true),
      new Promise<boolean>((res) => {
        timer = setTimeout(() => res(false), this.stopTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (this.abandoned) return;
    if (!finished) {
      this.log.warn({ gateway: this.gateway }, 'event consumers: handlers still running at stop; abandoning them (their events will be redelivered)');
      this.abandon();
      return;
    }
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.ticking;
    await Promise.allSettled([...this.memberships()].map((name) => heartbeat(this.cmd, name, this.gateway, 0)));
    this.state = 'stopped';
    if (this.own) await this.cmd.quit().catch(() => this.cmd.disconnect());
  }

  private abandon(): void {
    this.abandoned = true;
    this.state = 'stopped';
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.interrupt(() => true);
    if (this.own) this.cmd.disconnect();
  }

  /**
   * Records an event (store/event-log.ts `emit`) and wakes this gateway's holder of its partition
   * within EVENT_WAKE_COALESCE_MS: the events of a burst are read together (one read and one ack
   * per batch instead of per event).
   */
  async emit(input: EventInput, id?: string): Promise<Emitted> {
    const r = await emit(this.emitCmd, input, id);
    if (r.stored) this.emitted(r.partition, input.type);
    return r;
  }

  /**
   * An event of this type was recorded in partition P (here, or by the append script with its
   * entry): wakes, within EVENT_WAKE_COALESCE_MS, the local holders whose consumer wants this type.
   * A consumer that wants none of a burst's types (the stats consumer and message events) keeps
   * its idle poll.
   */
  emitted(partition: number, type: EventType): void {
    // Nothing here reads the log (a gateway with a consumer worker): that worker polls.
    if (!this.consume) return;
    const pending = this.wakeTypes.get(partition);
    if (pending) {
      pending.add(type);
      return;
    }
    this.wakeTypes.set(partition, new Set([type]));
    const t = setTimeout(() => {
      const types = this.wakeTypes.get(partition);
      this.wakeTypes.delete(partition);
      this.wake(partition, types);
    }, EVENT_WAKE_COALESCE_MS);
    t.unref();
  }
  /** Per partition, the types emitted here since its wake was scheduled (the wake fires EVENT_WAKE_COALESCE_MS after the first). */
  private readonly wakeTypes = new Map<number, Set<EventType>>();

  /** A hint that partition P (all when absent) has new entries (of these types, any when absent): its local holders that want them read now. */
  wake(partition?: number, types?: ReadonlySet<EventType>): void {
    const hit = (u: Unit) => (partition === undefined || u.p === partition) && (types === undefined || wantsAny(u.c, types));
    for (const u of this.units) {
      if (!hit(u)) continue;
      u.woken = true;
      u.emptyPolls = 0;
      u.idle = false;
    }
    this.interrupt((s) => s.kind === 'poll' && hit(s.u));
  }

  /** Resolves once every partition assigned here is held and read to its end (as far as this gateway knows). For tests. */
  async idle(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.isIdle()) {
      if (Date.now() > deadline) throw new Error(`event consumers not idle after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  isIdle(): boolean {
    if (this.state !== 'running') return this.state === 'stopped';
    return this.units.every((u) => (u.assigned ? u.held && u.worker !== null && u.idle && !u.recover : !u.held));
  }

  /** How many processes serve sockets (as of the last heartbeat, at least 1): the live gateways. */
  liveGateways(): number {
    return Math.max(1, this.serving.length);
  }

  /** The memberships this runner heartbeats: its consumers' (when it consumes) and the serving gateways' (when it serves). */
  private *memberships(): Iterable<string> {
    if (this.consume) for (const c of this.consumers) yield c.name;
    if (this.serves) yield SERVING_MEMBERS;
  }

  /** Partitions held now, per consumer (metrics, tests). */
  held(): { consumer: string; partition: number }[] {
    return this.units.filter((u) => u.held).map((u) => ({ consumer: u.c.name, partition: u.p }));
  }

  // ------------------------------------------------------------ leases

  private runTick(): Promise<void> {
    if (this.ticking) return this.ticking;
    this.ticking = this.tick()
      .catch((err) => this.log.error({ err }, 'event consumers: tick failed'))
      .finally(() => {
        this.ticking = null;
      });
    return this.ticking;
  }

  private async tick(): Promise<void> {
    if (this.abandoned) return;
    if (this.state === 'running') {
      await Promise.all(
        [...this.memberships()].map(async (name) => {
          try {
            const members = await heartbeat(this.cmd, name, this.gateway, this.leaseMs);
            if (name === SERVING_MEMBERS) this.serving = members;
            else this.members.set(name, members);
          } catch (err) {
            this.log.warn({ err, consumer: name }, 'event consumers: membership heartbeat failed');
          }
        }),
      );
      for (const u of this.units) u.assigned = this.assignedHere(u);
    }
    let failed = 0;
    let lastErr: unknown;
    await Promise.all(
      this.units.map(async (u) => {
        try {
          await this.leaseStep(u);
        } catch (err) {
          failed++;
          lastErr = err;
        }
      }),
    );
    if (failed) this.log.warn({ err: lastErr, failed }, 'event consumers: lease renewals failed');
  }

  /** Partition P of a consumer goes to member (P + offset) mod N of the sorted live members. */
  private assignedHere(u: Unit): boolean {
    let m = this.members.get(u.c.name) ?? [];
    if (!m.includes(this.gateway)) m = [...m, this.gateway].sort();
    return m[(u.p + (fnv1a(u.c.name) % m.length)) % m.length] === this.gateway;
  }

  private async leaseStep(u: Unit): Promise<void> {
    const running = this.state === 'running';
    if (u.releasing) return;
    if (!u.held && (!running || !u.assigned || u.worker)) return;
    const sent = performance.now();
    const r = await takeLease(this.cmd, u.p, u.c.name, this.gateway, this.leaseMs);
    if (this.abandoned) return;
    if (r === 'taken') {
      if (u.held) this.lose(u);
      return;
    }
    u.validUntil = sent + this.leaseMs - Math.min(LEASE_SAFETY_MS, this.leaseMs / 10);
    // Acquired (it was free): whoever had it may have left events handled but not acked; start from the watermark.
    if (r === 'acquired' || !u.held) {
      if (r === 'acquired' && u.held) {
        // It lapsed (renewals failed for a whole lease) and nobody else had taken it just now;
        // someone may have in between: start over from the watermark.
        this.counters.leaseLosses++;
        this.log.warn({ consumer: u.c.name, partition: u.p, gateway: this.gateway }, 'event consumers: lease lapsed and was taken again');
      }
      u.recover = true;
      u.takeover = true;
      u.epoch++;
    }
    u.held = true;
    if (!u.worker) {
      if (!running) {
        // A late acquisition during stop: give it back.
        u.held = false;
        await releaseLease(this.cmd, u.p, u.c.name, this.gateway);
        return;
      }
      u.worker = this.work(u).finally(() => {
        u.worker = null;
      });
    }
  }

  private lose(u: Unit): void {
    u.held = false;
    this.counters.leaseLosses++;
    this.log.warn({ consumer: u.c.name, partition: u.p, gateway: this.gateway }, 'event consumers: lease lost; another gateway handles this partition');
    this.interrupt((s) => s.u === u);
  }

  // ------------------------------------------------------------ the worker of one partition × consumer

  private exitReason(u: Unit): Exit | null {
    if (this.abandoned) return 'abandon';
    if (this.state !== 'running') return 'stop';
    if (!u.held) return 'lost';
    if (!u.assigned) return 'handoff';
    return null;
  }

  private async work(u: Unit): Promise<void> {
    let exit: Exit = 'stop';
    let errors = 0;
    try {
      for (;;) {
        const why = this.exitReason(u);
        if (why) {
          exit = why;
          break;
        }
        if (performance.now() >= u.validUntil) {
          // Renewals are failing (Redis away or slow): handle nothing until one succeeds.
          await this.pause(u, this.pollMs, 'retry');
          continue;
        }
        try {
          if (u.recover) {
            await this.recover(u);
            errors = 0;
            continue;
          }
          u.woken = false;
          if (u.c.beforeRead) await u.c.beforeRead();
          const { entries, read, last, gone } = await readNew(this.cmd, u.p, u.c.name, this.gateway, u.cursor, this.batch, typesArg(u.c));
          errors = 0;
          if (gone) {
            this.counters.trimmed++;
            this.log.error({ consumer: u.c.name, partition: u.p, after: u.cursor }, 'event consumers: events were trimmed from the log before this consumer read them (it fell more than EVENT_LOG_MAXLEN behind)');
          }
          if (last) u.cursor = last;
          // The first events after a takeover may have been in the former holder's hands.
          const again = u.takeover && entries.length > 0;
          if (entries.length === 0) u.takeover = false;
          if (entries.length === 0 && read >= this.batch) continue; // a full batch the script filtered away: read on
          if (entries.length === 0) {
            u.idle = !u.woken;
            // An idle partition is polled less and less often (up to idlePollMaxMs); an emit on this
            // gateway wakes it at once, one from another gateway waits at most that long.
            const wait = Math.min(this.idlePollMaxMs, this.pollMs * 2 ** Math.min(u.emptyPolls++, 10));
            await this.pause(u, wait, 'poll');
            continue;
          }
          u.emptyPolls = 0;
          u.idle = false;
          await this.processAll(u, entries, again, u.epoch);
        } catch (err) {
          // Whatever was read and not acked is read again, from the watermark.
          u.recover = true;
          if (err instanceof LeaseLostError) {
            if (u.held) this.lose(u);
            continue;
          }
          if (err instanceof Abort) {
            if (err.why === 'expired') await this.pause(u, this.pollMs, 'retry');
            continue;
          }
          errors++;
          // Redis away: every held partition fails alike; log the first failure and every tenth.
          if (errors === 1 || errors % 10 === 0) this.log.warn({ err, consumer: u.c.name, partition: u.p, errors }, 'event consumers: reading the log failed; retrying');
          await this.pause(u, this.backoff(errors), 'retry');
        }
      }
    } finally {
      // A batch left half-handled (stopped during its retry's backoff) is not a clean release: the
      // lease lapses instead, and the next holder takes the batch over as a redelivery.
      if ((exit === 'handoff' || exit === 'stop') && u.dirty) this.log.warn({ consumer: u.c.name, partition: u.p }, 'event consumers: stopped with a batch in hand; its lease will lapse');
      else if (exit === 'handoff' || exit === 'stop') {
        u.releasing = true;
        try {
          await releaseLease(this.cmd, u.p, u.c.name, this.gateway);
        } catch (err) {
          this.log.warn({ err, consumer: u.c.name, partition: u.p }, 'event consumers: releasing a lease failed (it will lapse)');
        }
        u.releasing = false;
      }
      u.held = false;
      u.idle = false;
      u.recover = true;
      u.dirty = false;
    }
  }

  /** Starts over from the done watermark: the next read is of the entries after it. */
  private async recover(u: Unit): Promise<void> {
    const epoch = u.epoch;
    const prep = await prepare(this.cmd, u.p, u.c.name, this.gateway);
    u.done = prep.done;
    u.cursor = prep.done ?? '0-0';
    // Released cleanly: the former holder had no event in hand, so none repeats.
    if (prep.clean) u.takeover = false;
    if (epoch === u.epoch) u.recover = false;
  }

  /** Throws Abort unless a handler may start now; `inBatch`: a stop or handoff does not interrupt a batch already begun. */
  private canHandle(u: Unit, epoch: number, inBatch = false): void {
    const why = this.exitReason(u);
    if (why && !(inBatch && (why === 'stop' || why === 'handoff'))) throw new Abort(why);
    if (performance.now() >= u.validUntil) throw new Abort('expired');
    if (epoch !== u.epoch) throw new Abort('recover');
  }

  /**
   * The event of an entry if the consumer is to handle it; null for one at or below the done
   * watermark (counted skipped), one that is not a valid event (counted, logged) or one of a type
   * it does not want. Every entry is acked either way.
   */
  private wanted(u: Unit, e: LogEntry): DomainEvent | null {
    if (u.done && compareStreamIds(e.streamId, u.done) <= 0) {
      this.counters.skipped++;
      return null;
    }
    if (!e.event) {
      this.counters.invalid++;
      this.log.error({ consumer: u.c.name, partition: u.p, streamId: e.streamId, raw: e.raw?.slice(0, 500) }, 'event consumers: not a valid event; skipped');
      return null;
    }
    if (!wantsEvent(u.c, e.event)) return null;
    return e.event;
  }

  /** Handles entries in order. `claimed`: the first read after a takeover, whose first handled event may have been handled before. */
  private async processAll(u: Unit, entries: LogEntry[], claimed: boolean, epoch: number): Promise<void> {
    if (u.c.batch) return this.processBatch(u, u.c, entries, claimed, epoch);
    let skip: string[] = [];
    const flush = async () => {
      if (skip.length === 0) return;
      const ids = skip;
      skip = [];
      await this.ack(u, ids);
    };
    for (const e of entries) {
      this.canHandle(u, epoch);
      const event = this.wanted(u, e);
      if (!event) {
        skip.push(e.streamId);
        continue;
      }
      await flush();
      const again = claimed && u.takeover;
      await this.handleOne(u, e.streamId, event, again, epoch);
      if (again) u.takeover = false;
    }
    await flush();
  }

  /**
   * A batch consumer's read (see SideEffectConsumer.batch): the wanted events grouped by order key,
   * the groups at once, each in order; then one ack for every entry of the read.
   */
  private async processBatch(u: Unit, c: SideEffectConsumer, entries: LogEntry[], claimed: boolean, epoch: number): Promise<void> {
    this.canHandle(u, epoch);
    const handle = c.handle.bind(c);
    const ids: string[] = [];
    const groups = new Map<string, DomainEvent[]>();
    const logged: LoggedEvent[] = [];
    let n = 0;
    for (const e of entries) {
      ids.push(e.streamId);
      const event = this.wanted(u, e);
      if (!event) continue;
      logged.push({ event, streamId: e.streamId });
      const k = orderKey(event);
      const g = groups.get(k);
      if (g) g.push(event);
      else groups.set(k, [event]);
      n++;
    }
    if (n > 0 && c.handleBatch) {
      const whole = c.handleBatch.bind(c);
      await this.runHandler(u, epoch, logged[0]?.event as DomainEvent, n, async () => {
        this.canHandle(u, epoch, true);
        u.dirty = true;
        await whole(logged, u.p);
      });
    } else if (n > 0) {
      const first = (groups.values().next().value as DomainEvent[])[0] as DomainEvent;
      await this.runHandler(u, epoch, first, n, async () => {
        // EVENT_BATCH_CONCURRENCY conversations at a time. Every worker ends (or fails) before the
        // batch counts as failed: a retry never overlaps a conversation still being handled.
        u.dirty = true;
        await mapLimit(
          [...groups.values()],
          EVENT_BATCH_CONCURRENCY,
          async (events) => {
            for (const ev of events) {
              // Every handler starts only while the lease is surely ours (as one event at a time does);
              // a stop or handoff lets the batch finish (bounded by the stop's timeout) and ack.
              this.canHandle(u, epoch, true);
              await handle(ev);
            }
          },
          (failed) => failed.find((e) => e instanceof Abort) ?? failed[0],
        );
      });
    }
    if (ids.length) await this.ack(u, ids);
    u.dirty = false;
    this.counters.handled += n;
    if (claimed && u.takeover) {
      this.counters.redelivered += n;
      u.takeover = false;
    }
  }

  private async handleOne(u: Unit, streamId: string, event: DomainEvent, redelivered: boolean, epoch: number): Promise<void> {
    const c = u.c;
    let tx: PartitionTx | undefined;
    await this.runHandler(u, epoch, event, 1, async () => {
      if (c.handleTx) {
        tx = new PartitionTx(u.p);
        await c.handleTx(event, tx);
      } else {
        await c.handle(event);
      }
    });
    await this.ack(u, [streamId], tx);
    this.counters.handled++;
    if (redelivered) this.counters.redelivered++;
  }

  /** Runs `work` until it succeeds, retrying with backoff; `event` (and `count`, for a batch) name it in the logs. */
  private async runHandler(u: Unit, epoch: number, event: DomainEvent, count: number, work: () => Promise<void>): Promise<void> {
    const c = u.c;
    const about = { consumer: c.name, partition: u.p, event: event.id, type: event.type, ...(count > 1 ? { events: count } : {}) };
    for (let attempt = 1; ; attempt++) {
      this.canHandle(u, epoch);
      const slow = setTimeout(() => this.log.warn(about, `event consumers: handler still running after ${HANDLER_SLOW_MS} ms`), HANDLER_SLOW_MS);
      slow.unref();
      try {
        await work();
        return;
      } catch (err) {
        // The lease is not surely ours any more (a batch checks between its events): not a handler failure.
        if (err instanceof Abort) throw err;
        this.counters.failures++;
        this.log.warn({ err, ...about, attempt }, 'event consumers: handler failed; retrying (later events of its partition wait)');
        await this.pause(u, this.backoff(attempt), 'retry');
      } finally {
        clearTimeout(slow);
      }
    }
  }

  /** Acks (retrying Redis errors: the ack script is safe to repeat) until done, the lease is refused, or we are abandoned. */
  private async ack(u: Unit, ids: string[], tx?: PartitionTx): Promise<void> {
    const last = ids[ids.length - 1] as string;
    for (let attempt = 1; ; attempt++) {
      if (this.abandoned) throw new Abort('abandon');
      let r: Awaited<ReturnType<typeof ackEntries>>;
      try {
        r = await ackEntries(this.cmd, u.p, u.c.name, this.gateway, ids, tx);
      } catch (err) {
        if (attempt === 1 || attempt % 10 === 0) this.log.warn({ err, consumer: u.c.name, partition: u.p, attempt }, 'event consumers: ack failed; retrying');
        await this.pause(u, this.backoff(attempt), 'ack');
        continue;
      }
      if (r.status === 'lost') throw new LeaseLostError(u.p, u.c.name);
      if (!u.done || compareStreamIds(last, u.done) > 0) u.done = last;
      if (r.errors.length) this.log.error({ consumer: u.c.name, partition: u.p, streamId: last, errors: r.errors }, 'event consumers: commands of a transactional consumer failed (the event is acked)');
      return;
    }
  }

  // ------------------------------------------------------------ timing

  private backoff(attempt: number): number {
    const base = Math.min(this.retryCapMs, this.retryBaseMs * 2 ** Math.min(attempt - 1, 20));
    return Math.round(base * (0.75 + Math.random() * 0.5));
  }

  /** Sleeps `ms`, or less: see PauseKind; every pause ends on abandon and when its unit loses its lease. */
  private pause(u: Unit, ms: number, kind: PauseKind): Promise<void> {
    if (this.abandoned || (kind !== 'ack' && this.state !== 'running')) return Promise.resolve();
    return new Promise((res) => {
      const s: Sleeper = {
        u,
        kind,
        done: () => {
          clearTimeout(t);
          this.sleepers.delete(s);
          res();
        },
      };
      const t = setTimeout(s.done, ms);
      this.sleepers.add(s);
    });
  }

  private interrupt(match: (s: Sleeper) => boolean): void {
    for (const s of [...this.sleepers]) if (match(s)) s.done();
  }
}
