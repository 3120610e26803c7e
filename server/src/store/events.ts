/**
 * Domain events: the facts the domain records in the durable event log
 * (store/event-log.ts) and that domain/event-consumers.ts hands to every consumer.
 *
 * Every event has a stable `id` (the log stores an id once: emitting the same fact
 * twice is harmless), `at` (ms, set when it is emitted) and `site`; a conversation's
 * events carry `conv`, and all events of one conversation are kept in order.
 *
 * Records read back from Redis are parsed with `parseEvent`, never cast: an unknown
 * type (a newer gateway during a rolling deploy) or a missing field gives null.
 */
import { STREAM_ID_RE, randomId } from '@hark/shared';

interface Base {
  /** Stable id: the same fact emitted twice must carry the same id (see `eventId`). */
  id: string;
  /** ms since the epoch, when the event was emitted. */
  at: number;
  site: string;
}
interface ConvBase extends Base {
  conv: string;
}

export interface ConversationCreated extends ConvBase {
  type: 'conversation.created';
  visitor: string;
}
export interface ConversationQueued extends ConvBase {
  type: 'conversation.queued';
}
export interface ConversationAssigned extends ConvBase {
  type: 'conversation.assigned';
  op: string;
}
export interface ConversationTransferred extends ConvBase {
  type: 'conversation.transferred';
  from?: string;
  to?: string;
  team?: string;
}
export interface ConversationResolved extends ConvBase {
  type: 'conversation.resolved';
  /** The operator who had it. */
  op?: string;
  /** Who resolved it (an operator id, or a job's name), when not the assignee. */
  by?: string;
  /** From creation to resolution. */
  durationMs?: number;
}
export interface ConversationReopened extends ConvBase {
  type: 'conversation.reopened';
  op: string;
}
/** An operator's first reply in a conversation (once per conversation). */
export interface ConversationAnswered extends ConvBase {
  type: 'conversation.answered';
  op: string;
  /** How long the visitor waited for it (ms from queued, or from created). */
  firstResponseMs?: number;
}
export interface ConversationRated extends ConvBase {
  type: 'conversation.rated';
  op?: string;
  rating: 'good' | 'bad';
  comment: string;
}
export interface MessageCreated extends ConvBase {
  type: 'message.created';
  by: 'visitor' | 'operator';
  /** The conversation stream's entry id. */
  entry: string;
  cid?: string;
  op?: string;
  /** Set on the operator's first reply: ms the visitor waited for it. */
  firstResponseMs?: number;
}
export interface NoteCreated extends ConvBase {
  type: 'note.created';
  entry: string;
  op: string;
}
export interface OfflineMessageCreated extends ConvBase {
  type: 'offline_message.created';
  entry: string;
  email: string;
}
export interface VisitorIdentified extends Base {
  type: 'visitor.identified';
  /** The visitor may identify before having any conversation. */
  conv?: string;
  visitor: string;
  userId: string;
  verified: boolean;
}
/** An operator's status applies on every site of theirs, so `site` is optional here. */
export interface OperatorStatusChanged extends Omit<Base, 'site'> {
  type: 'operator.status_changed';
  site?: string;
  op: string;
  status: 'online' | 'away' | 'offline';
}

export type DomainEvent =
  | ConversationCreated
  | ConversationQueued
  | ConversationAssigned
  | ConversationTransferred
  | ConversationResolved
  | ConversationReopened
  | ConversationRated
  | ConversationAnswered
  | MessageCreated
  | NoteCreated
  | OfflineMessageCreated
  | VisitorIdentified
  | OperatorStatusChanged;

export type EventType = DomainEvent['type'];
export type EventOf<T extends EventType> = Extract<DomainEvent, { type: T }>;

type WithoutStamp<E> = E extends unknown ? Omit<E, 'id' | 'at'> : never;
/** What the domain emits: an event without its id and time (the log adds both). */
export type EventInput = WithoutStamp<DomainEvent>;

/** Longest event id the log accepts (it becomes part of a Redis key). */
export const MAX_EVENT_ID_LENGTH = 256;

/**
 * Ids: pass a deterministic id for a fact that may be emitted again (a resend after a
 * lost reply, a retried job), built from what identifies the fact, so the log keeps
 * it once: `eventId('msg', conv, entryId)` → `msg:<conv>:<entryId>`; likewise
 * `note:`, `offline:` with the entry id, `created:<conv>`. Facts that may genuinely
 * happen again (a conversation queued a second time) need a part that differs
 * (the stream entry the fact wrote), or no id: the log then uses `randomEventId()`,
 * which contains no ':' and so never equals a deterministic one.
 */
export function eventId(kind: string, ...parts: string[]): string {
  return [kind, ...parts].join(':');
}

export function randomEventId(): string {
  return randomId(21);
}

// ---------------------------------------------------------------- parsing

type Spec = 'string' | 'string?' | 'entry' | 'number?' | 'boolean' | readonly [string, ...string[]];
type FieldsOf<E> = { [F in Exclude<keyof E, keyof Base | 'type' | 'conv'>]-?: Spec };
type Schema = {
  [T in EventType]: {
    /** 'required' when every event of the type has a conversation, 'optional' when some may not. */
    conv: 'conv' extends keyof EventOf<T> ? (undefined extends EventOf<T>['conv'] ? 'optional' : 'required') : 'none';
    site: undefined extends EventOf<T>['site'] ? 'optional' : 'required';
    fields: FieldsOf<EventOf<T>>;
  };
};

/** One entry per type, checked against the types above by the compiler. */
const SCHEMA: Schema = {
  'conversation.created': { conv: 'required', site: 'required', fields: { visitor: 'string' } },
  'conversation.queued': { conv: 'required', site: 'required', fields: {} },
  'conversation.assigned': { conv: 'required', site: 'required', fields: { op: 'string' } },
  'conversation.transferred': { conv: 'required', site: 'required', fields: { from: 'string?', to: 'string?', team: 'string?' } },
  'conversation.resolved': { conv: 'required', site: 'required', fields: { op: 'string?', by: 'string?', durationMs: 'number?' } },
  'conversation.reopened': { conv: 'required', site: 'required', fields: { op: 'string' } },
  'conversation.rated': { conv: 'required', site: 'required', fields: { op: 'string?', rating: ['good', 'bad'], comment: 'string' } },
  'conversation.answered': { conv: 'required', site: 'required', fields: { op: 'string', firstResponseMs: 'number?' } },
  'message.created': {
    conv: 'required',
    site: 'required',
    fields: { by: ['visitor', 'operator'], entry: 'entry', cid: 'string?', op: 'string?', firstResponseMs: 'number?' },
  },
  'note.created': { conv: 'required', site: 'required', fields: { entry: 'entry', op: 'string' } },
  'offline_message.created': { conv: 'required', site: 'required', fields: { entry: 'entry', email: 'string' } },
  'visitor.identified': { conv: 'optional', site: 'required', fields: { visitor: 'string', userId: 'string', verified: 'boolean' } },
  'operator.status_changed': { conv: 'none', site: 'optional', fields: { op: 'string', status: ['online', 'away', 'offline'] } },
};

export const EVENT_TYPES = Object.keys(SCHEMA) as EventType[];

const isType = (t: unknown): t is EventType => typeof t === 'string' && Object.hasOwn(SCHEMA, t);
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

function check(spec: Spec, v: unknown): boolean {
  if (Array.isArray(spec)) return typeof v === 'string' && spec.includes(v);
  switch (spec) {
    case 'string':
      return typeof v === 'string';
    case 'string?':
      return v === undefined || typeof v === 'string';
    case 'entry':
      return typeof v === 'string' && STREAM_ID_RE.test(v);
    case 'number?':
      return v === undefined || (typeof v === 'number' && Number.isFinite(v));
    case 'boolean':
      return typeof v === 'boolean';
  }
  return false;
}

/** Whether an id is acceptable to the log. */
export function validEventId(id: unknown): id is string {
  return nonEmpty(id) && id.length <= MAX_EVENT_ID_LENGTH && !/\s/.test(id);
}

/**
 * Validates an event's shape (without id and at): the fields its type requires, with
 * their types; unknown fields are dropped. Returns the normalised input or null.
 */
export function parseInput(raw: unknown): EventInput | null {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
  const o = raw as Record<string, unknown>;
  if (!isType(o.type)) return null;
  const s = SCHEMA[o.type];
  const out: Record<string, unknown> = { type: o.type };
  if (s.site === 'required' ? !nonEmpty(o.site) : o.site !== undefined && !nonEmpty(o.site)) return null;
  if (o.site !== undefined) out.site = o.site;
  if (s.conv === 'required' && !nonEmpty(o.conv)) return null;
  if (s.conv === 'optional' && o.conv !== undefined && !nonEmpty(o.conv)) return null;
  if (s.conv !== 'none' && o.conv !== undefined) out.conv = o.conv;
  for (const [f, spec] of Object.entries(s.fields) as [string, Spec][]) {
    const v = o[f];
    if (!check(spec, v)) return null;
    if (v !== undefined) out[f] = v;
  }
  return out as EventInput;
}

/**
 * Parses a record read from the log (a JSON string, or an already parsed value).
 * Null for anything that is not a well-formed event of a known type.
 */
export function parseEvent(json: unknown): DomainEvent | null {
  let raw = json;
  if (typeof json === 'string') {
    try {
      raw = JSON.parse(json);
    } catch {
      return null;
    }
  }
  const input = parseInput(raw);
  if (!input) return null;
  const o = raw as Record<string, unknown>;
  if (!validEventId(o.id) || typeof o.at !== 'number' || !Number.isFinite(o.at)) return null;
  return { id: o.id, at: o.at, ...input } as DomainEvent;
}

/**
 * What orders an event: its conversation when it has one, else the operator or the
 * visitor it is about, else its site. Events with the same order key are handled in
 * the order they were emitted.
 */
export function orderKey(e: EventInput | DomainEvent): string {
  if ('conv' in e && e.conv) return e.conv;
  if (e.type === 'operator.status_changed') return e.op;
  if (e.type === 'visitor.identified') return e.visitor;
  return e.site;
}
