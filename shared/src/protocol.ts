/**
 * The Hark wire protocol, version PROTOCOL_VERSION. One schema per frame; the
 * TypeScript types are inferred from the schemas so the two cannot drift.
 * Unions are named by direction: VisitorToServer, ServerToVisitor,
 * OperatorToServer, ServerToOperator, HostToWidget.
 *
 * Importing this file pulls in TypeBox; the widget imports only its types
 * (`import type`), so nothing of TypeBox reaches the visitor's page.
 */
import { type Static, type TSchema, Type as T } from '@sinclair/typebox';
import { MAX_ATTR_KEY, MAX_ATTR_VALUE, MAX_ATTRS, MAX_FILES_PER_MESSAGE, MAX_MESSAGE_CHARS } from './limits';

const Id = T.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });
const Cid = T.String({ minLength: 8, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });
const StreamId = T.String({ pattern: '^\\d{1,20}-\\d{1,20}$', maxLength: 41 });
/** Text is length-checked after parse so an over-long message gets MESSAGE_TOO_LONG, not BAD_FRAME. */
const Text = T.String({ maxLength: MAX_MESSAGE_CHARS * 4 });
const Short = (max = 200) => T.String({ maxLength: max });
/** Ids of files uploaded before (POST …/files) that a message carries. */
const FileIds = T.Array(Id, { minItems: 1, maxItems: MAX_FILES_PER_MESSAGE });
const Frame = <K extends string, P extends Record<string, TSchema>>(type: K, props: P) =>
  T.Object({ type: T.Literal(type), ...props }, { additionalProperties: false });

// ---------------------------------------------------------------- shared shapes
export const AttrValue = T.Union([T.String({ maxLength: MAX_ATTR_VALUE }), T.Number(), T.Boolean(), T.Null()]);
export const Attrs = T.Record(T.String({ maxLength: MAX_ATTR_KEY, pattern: '^[A-Za-z0-9_.-]+$' }), AttrValue, { maxProperties: MAX_ATTRS });
export const PageInfo = T.Object({ url: Short(2048), title: Short(512), referrer: T.Optional(Short(2048)) }, { additionalProperties: false });
export const Identity = T.Object(
  { id: Short(256), name: T.Optional(Short(200)), email: T.Optional(Short(320)), hash: T.Optional(Short(128)) },
  { additionalProperties: false },
);
/** An operator as a conversation names them; `avatar` (on the conversation, never in entries) is the path of their photo on the gateway. */
export const OperatorRef = T.Object({ id: T.String(), name: T.String(), avatar: T.Optional(T.String()) });
export const ConvStatus = T.Union([T.Literal('queued'), T.Literal('open'), T.Literal('resolved')]);
export const OperatorStatus = T.Union([T.Literal('online'), T.Literal('away'), T.Literal('offline')]);
export const Role = T.Union([T.Literal('admin'), T.Literal('supervisor'), T.Literal('operator')]);
export const Rating = T.Union([T.Literal('good'), T.Literal('bad')]);
export const EventName = T.Union([
  T.Literal('created'),
  T.Literal('queued'),
  T.Literal('assigned'),
  T.Literal('transferred'),
  T.Literal('joined'),
  T.Literal('resolved'),
  T.Literal('reopened'),
  T.Literal('rated'),
  T.Literal('offline-message'),
]);

/**
 * A file a message or note carries: the stored file's id, the name it was uploaded with, its size in
 * bytes, its type as decided from its bytes (never the name or the browser's claim), and an image's
 * width and height (as it displays). The bytes are fetched through a short-lived signed URL
 * (PROTOCOL.md, Files).
 */
export const FileRef = T.Object({
  id: T.String(),
  name: T.String(),
  size: T.Number(),
  type: T.String(),
  w: T.Optional(T.Number()),
  h: T.Optional(T.Number()),
});

/** One entry of a conversation's stream, as sent on the wire. `id` is the stream id: total order and resume cursor. */
export const Entry = T.Object({
  id: T.String(),
  conv: T.String(),
  at: T.Number(),
  kind: T.Union([T.Literal('msg'), T.Literal('note'), T.Literal('event')]),
  from: T.Optional(T.Union([T.Literal('visitor'), T.Literal('operator'), T.Literal('system')])),
  text: T.Optional(T.String()),
  cid: T.Optional(T.String()),
  op: T.Optional(OperatorRef),
  event: T.Optional(EventName),
  /** For transferred: the new operator. (assigned, reopened and joined name the operator in `op`.) */
  to: T.Optional(OperatorRef),
  team: T.Optional(T.String()),
  rating: T.Optional(Rating),
  comment: T.Optional(T.String()),
  email: T.Optional(T.String()),
  /** Attachments of a message or note (absent: none). Its `text` may then be ''. */
  files: T.Optional(T.Array(FileRef)),
});

export const VisitorInfo = T.Object({
  id: T.String(),
  name: T.Optional(T.String()),
  email: T.Optional(T.String()),
  userId: T.Optional(T.String()),
  verified: T.Boolean(),
  page: T.Optional(PageInfo),
  ua: T.Optional(T.String()),
  locale: T.Optional(T.String()),
  tz: T.Optional(T.String()),
  attrs: Attrs,
  online: T.Optional(T.Boolean()),
});

/** A conversation as the console lists it. */
export const ConvSummary = T.Object({
  id: T.String(),
  site: T.String(),
  status: ConvStatus,
  operator: T.Optional(T.Union([OperatorRef, T.Null()])),
  team: T.Optional(T.Union([T.String(), T.Null()])),
  visitor: VisitorInfo,
  createdAt: T.Number(),
  queuedAt: T.Optional(T.Number()),
  assignedAt: T.Optional(T.Number()),
  firstResponseAt: T.Optional(T.Number()),
  resolvedAt: T.Optional(T.Number()),
  /** Time of the oldest visitor message not yet answered by an operator; absent when answered. */
  waitingSince: T.Optional(T.Number()),
  /** Left through the leave-a-message form: it waits in the queue without being assigned (it takes no seat) until an operator takes it or the visitor comes back to chat. */
  offline: T.Optional(T.Boolean()),
  last: T.Optional(Entry),
  rating: T.Optional(Rating),
  ratingComment: T.Optional(T.String()),
  position: T.Optional(T.Number()),
});

/** A conversation as its visitor sees it. */
export const VisitorConv = T.Object({
  id: T.String(),
  status: ConvStatus,
  operator: T.Optional(T.Union([OperatorRef, T.Null()])),
  /** 1-based queue position while queued. */
  position: T.Optional(T.Number()),
  rating: T.Optional(Rating),
});

/** What the widget needs to know about its site; sent in `welcome`. */
export const SiteConfig = T.Object({
  name: T.String(),
  color: T.String(),
  position: T.Union([T.Literal('right'), T.Literal('left')]),
  label: T.String(),
  greeting: T.String(),
  /** The greeting per language code (absent: none set); the widget shows its language's, else `greeting`. */
  greetings: T.Optional(T.Record(T.String(), T.String())),
  prechat: T.Boolean(),
  offlineForm: T.Boolean(),
  /** An operator is online and the site is inside its business hours. */
  available: T.Boolean(),
  inHours: T.Boolean(),
  /** Outside business hours: when the site next opens, epoch ms (absent when no day is open). */
  opens: T.Optional(T.Number()),
  locales: T.Array(T.String()),
  identityRequired: T.Boolean(),
  /** Attachments the visitor may send (absent: the site has them off): the largest size in bytes and the allowed types. */
  files: T.Optional(T.Object({ max: T.Number(), types: T.Array(T.String()) })),
});

// ---------------------------------------------------------------- visitor → server
export const VisitorHello = Frame('hello', {
  /** Last stream id the client has per conversation; the server sends only what came after. */
  lastIds: T.Record(Id, StreamId, { maxProperties: 50 }),
  page: T.Optional(PageInfo),
  locale: T.Optional(Short(35)),
  tz: T.Optional(Short(64)),
  user: T.Optional(Identity),
  attrs: T.Optional(Attrs),
});
/** `re`: the client may have sent this message before (it was written before this socket's catch-up); the gateway then looks for its cid in the visitor's latest conversations too. */
export const VisitorSend = Frame('send', { cid: Cid, text: Text, re: T.Optional(T.Boolean()), files: T.Optional(FileIds) });
export const VisitorTyping = Frame('typing', { on: T.Boolean(), preview: T.Optional(T.String({ maxLength: MAX_MESSAGE_CHARS })) });
export const VisitorSeen = Frame('seen', { conv: Id, id: StreamId });
export const VisitorPage = Frame('page', { page: PageInfo });
export const VisitorIdentify = Frame('identify', { user: Identity });
export const VisitorAttrs = Frame('attrs', { attrs: Attrs });
export const VisitorPrechat = Frame('prechat', { name: Short(200), email: Short(320) });
export const VisitorOffline = Frame('offline', { cid: Cid, email: Short(320), text: Text, name: T.Optional(Short(200)) });
export const VisitorRate = Frame('rate', { conv: Id, rating: Rating, comment: T.Optional(Short(1000)) });
export const VisitorHistory = Frame('history', { conv: Id, before: T.Optional(StreamId) });
/** A copy of one of the visitor's conversations by e-mail, to the address they gave (answer: `transcript {conv, to}`). */
export const VisitorTranscript = Frame('transcript', { conv: Id });

export const VisitorToServer = T.Union([
  VisitorHello,
  VisitorSend,
  VisitorTyping,
  VisitorSeen,
  VisitorPage,
  VisitorIdentify,
  VisitorAttrs,
  VisitorPrechat,
  VisitorOffline,
  VisitorRate,
  VisitorHistory,
  VisitorTranscript,
]);
export type VisitorToServer = Static<typeof VisitorToServer>;

// ---------------------------------------------------------------- server → visitor
/** `retryMs`: when the refusal is temporary and the socket stays open (a site at its message limit), send again after this long. */
export const ErrorFrame = T.Object({ type: T.Literal('error'), code: T.String(), message: T.String(), cid: T.Optional(T.String()), retryMs: T.Optional(T.Integer({ minimum: 0 })) });
export const ServerToVisitor = T.Union([
  T.Object({ type: T.Literal('welcome'), visitorId: T.String(), site: SiteConfig, convs: T.Array(VisitorConv), name: T.Optional(T.String()), email: T.Optional(T.String()) }),
  T.Object({ type: T.Literal('conv'), conv: VisitorConv }),
  T.Object({ type: T.Literal('entry'), entry: Entry }),
  /** Sent after a hello's catch-up is complete: everything up to now has been delivered. */
  T.Object({ type: T.Literal('synced') }),
  /** A transcript was queued to this address (answer to `transcript`). */
  T.Object({ type: T.Literal('transcript'), conv: T.String(), to: T.String() }),
  T.Object({ type: T.Literal('ack'), cid: T.String(), conv: T.String(), id: T.String() }),
  T.Object({ type: T.Literal('typing'), conv: T.String(), on: T.Boolean(), op: T.Optional(OperatorRef) }),
  T.Object({ type: T.Literal('seen'), conv: T.String(), id: T.String() }),
  T.Object({ type: T.Literal('site'), site: SiteConfig }),
  T.Object({ type: T.Literal('history'), conv: T.String(), entries: T.Array(Entry), more: T.Boolean() }),
  ErrorFrame,
]);
export type ServerToVisitor = Static<typeof ServerToVisitor>;

// ---------------------------------------------------------------- operator → server
export const OperatorHello = Frame('hello', { lastIds: T.Record(Id, StreamId, { maxProperties: 1000 }) });
export const OperatorStatusFrame = Frame('status', { status: OperatorStatus });
export const OperatorOpen = Frame('open', { conv: Id, before: T.Optional(StreamId) });
export const OperatorSend = Frame('send', { conv: Id, cid: Cid, text: Text, files: T.Optional(FileIds) });
export const OperatorNote = Frame('note', { conv: Id, cid: Cid, text: Text, files: T.Optional(FileIds) });
export const OperatorTyping = Frame('typing', { conv: Id, on: T.Boolean() });
export const OperatorSeen = Frame('seen', { conv: Id, id: StreamId });
export const OperatorTake = Frame('take', { conv: Id });
export const OperatorResolve = Frame('resolve', { conv: Id });
export const OperatorReopen = Frame('reopen', { conv: Id });
export const OperatorTransfer = Frame('transfer', { conv: Id, to: T.Optional(Id), team: T.Optional(Id), note: T.Optional(Text) });
export const OperatorJoin = Frame('join', { conv: Id });
export const OperatorWatch = Frame('watch', { conv: Id, on: T.Boolean() });

export const OperatorToServer = T.Union([
  OperatorHello,
  OperatorStatusFrame,
  OperatorOpen,
  OperatorSend,
  OperatorNote,
  OperatorTyping,
  OperatorSeen,
  OperatorTake,
  OperatorResolve,
  OperatorReopen,
  OperatorTransfer,
  OperatorJoin,
  OperatorWatch,
]);
export type OperatorToServer = Static<typeof OperatorToServer>;

// ---------------------------------------------------------------- server → operator
export const Me = T.Object({
  id: T.String(),
  email: T.String(),
  name: T.String(),
  avatar: T.Optional(T.String()),
  role: Role,
  capacity: T.Number(),
  sites: T.Array(T.String()),
  teams: T.Array(T.String()),
  status: OperatorStatus,
});
export const OperatorPresence = T.Object({ id: T.String(), name: T.String(), status: OperatorStatus, load: T.Number(), capacity: T.Number(), sites: T.Array(T.String()) });

export const ServerToOperator = T.Union([
  T.Object({ type: T.Literal('welcome'), me: Me, convs: T.Array(ConvSummary), operators: T.Array(OperatorPresence) }),
  T.Object({ type: T.Literal('conv'), conv: ConvSummary }),
  T.Object({ type: T.Literal('entry'), entry: Entry }),
  T.Object({ type: T.Literal('synced') }),
  T.Object({ type: T.Literal('history'), conv: T.String(), entries: T.Array(Entry), more: T.Boolean() }),
  T.Object({ type: T.Literal('ack'), cid: T.String(), conv: T.String(), id: T.String() }),
  T.Object({ type: T.Literal('typing'), conv: T.String(), on: T.Boolean(), by: T.Union([T.Literal('visitor'), T.Literal('operator')]), op: T.Optional(OperatorRef), preview: T.Optional(T.String()) }),
  T.Object({ type: T.Literal('seen'), conv: T.String(), by: T.Union([T.Literal('visitor'), T.Literal('operator')]), id: T.String() }),
  T.Object({ type: T.Literal('visitor'), conv: T.String(), visitor: VisitorInfo }),
  T.Object({ type: T.Literal('presence'), operator: OperatorPresence }),
  T.Object({ type: T.Literal('status'), status: OperatorStatus }),
  ErrorFrame,
]);
export type ServerToOperator = Static<typeof ServerToOperator>;

// ---------------------------------------------------------------- host page → widget (window.Hark API)
export const WidgetEventName = T.Union([T.Literal('ready'), T.Literal('open'), T.Literal('close'), T.Literal('message'), T.Literal('unread')]);
export type WidgetEventName = Static<typeof WidgetEventName>;
/** Calls a host page may queue before the loader runs: `window.Hark = window.Hark || []; Hark.push(['open'])`. */
export type HostToWidget =
  | ['open']
  | ['close']
  | ['toggle']
  | ['identify', { id: string; name?: string; email?: string; hash?: string }]
  | ['setAttributes', Record<string, string | number | boolean | null>]
  | ['setLocale', string]
  | ['on', WidgetEventName, (payload?: unknown) => void]
  | ['off', WidgetEventName, (payload?: unknown) => void]
  | ['shutdown'];

export type Entry = Static<typeof Entry>;
export type FileRef = Static<typeof FileRef>;
export type VisitorInfo = Static<typeof VisitorInfo>;
export type ConvSummary = Static<typeof ConvSummary>;
export type VisitorConv = Static<typeof VisitorConv>;
export type SiteConfig = Static<typeof SiteConfig>;
export type OperatorRef = Static<typeof OperatorRef>;
export type ConvStatus = Static<typeof ConvStatus>;
export type OperatorStatus = Static<typeof OperatorStatus>;
export type Role = Static<typeof Role>;
export type Me = Static<typeof Me>;
export type OperatorPresence = Static<typeof OperatorPresence>;
export type Attrs = Static<typeof Attrs>;
export type PageInfo = Static<typeof PageInfo>;
export type Identity = Static<typeof Identity>;
export type Rating = Static<typeof Rating>;

