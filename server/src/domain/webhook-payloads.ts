/**
 * The bodies webhooks send, as TypeBox schemas: one per event type the webhook consumer
 * delivers (every domain event type) and one for the `webhook.test` event an admin sends by
 * hand. The delivery code builds each body with `webhookBody` (typed by these schemas'
 * Static types) and the OpenAPI document's `webhooks` section (http/docs.ts) publishes the
 * same schemas, so what is documented is what is sent.
 *
 * A body is `{type, timestamp, data}`: `data` is the event without its id (that is the
 * `webhook-id` header), its time (that is `timestamp`, ISO 8601) and its type. The compiler
 * checks below keep each `data` schema equal to its event's TypeScript type
 * (store/events.ts): a field added to an event and not here fails the typecheck.
 */
import { type Static, type TSchema, Type as T } from '@sinclair/typebox';
import type { DomainEvent, EventOf, EventType } from './events';

/** The type of the event `POST …/webhooks/:id/test` sends. */
export const WEBHOOK_TEST_TYPE = 'webhook.test';

const site = T.String({ description: 'The site id.' });
const conv = T.String({ description: 'The conversation id (`GET /v1/api/conversations/{id}`).' });
const op = (what: string) => T.String({ description: `${what} (an operator id; \`bot:<key id>\` for an API key acting as a bot).` });
const entry = T.String({ pattern: '^\\d+-\\d+$', description: 'The entry id in the conversation (a stream id): read it with `GET /v1/api/conversations/{conv}`.' });
const closed = { additionalProperties: false } as const;

/** The `data` of each event type: its fields without `id`, `at` and `type`. */
export const WEBHOOK_DATA = {
  'conversation.created': T.Object({ site, conv, visitor: T.String({ description: 'The visitor id (`GET /v1/api/visitors/{id}`).' }) }, { ...closed, description: 'A visitor started a conversation.' }),
  'conversation.queued': T.Object({ site, conv }, { ...closed, description: 'The conversation is waiting for an operator.' }),
  'conversation.assigned': T.Object({ site, conv, op: op('Who has it now') }, { ...closed, description: 'The conversation was given to an operator.' }),
  'conversation.transferred': T.Object(
    { site, conv, from: T.Optional(op('Who had it')), to: T.Optional(op('Who has it now')), team: T.Optional(T.String({ description: 'The team it was routed to.' })) },
    { ...closed, description: 'The conversation moved to another operator or team.' },
  ),
  'conversation.resolved': T.Object(
    {
      site,
      conv,
      op: T.Optional(op('The operator who had it')),
      by: T.Optional(T.String({ description: 'Who resolved it (an operator id, or a job’s name), when not the assignee.' })),
      durationMs: T.Optional(T.Number({ description: 'From creation to resolution, ms.' })),
    },
    { ...closed, description: 'The conversation was resolved.' },
  ),
  'conversation.reopened': T.Object({ site, conv, op: op('Who has it now') }, { ...closed, description: 'A resolved conversation was reopened.' }),
  'conversation.rated': T.Object(
    { site, conv, op: T.Optional(op('The operator who had it')), rating: T.Union([T.Literal('good'), T.Literal('bad')]), comment: T.String() },
    { ...closed, description: 'The visitor rated the conversation.' },
  ),
  'conversation.answered': T.Object(
    { site, conv, op: op('Who answered'), firstResponseMs: T.Optional(T.Number({ description: 'How long the visitor waited for it, ms.' })) },
    { ...closed, description: 'An operator’s first reply in the conversation (once per conversation).' },
  ),
  'message.created': T.Object(
    {
      site,
      conv,
      by: T.Union([T.Literal('visitor'), T.Literal('operator')], { description: 'Who wrote it (a bot’s message counts as an operator’s).' }),
      entry,
      cid: T.Optional(T.String({ description: 'The client’s id of the message (its idempotency key).' })),
      op: T.Optional(op('The author, for an operator’s message')),
      firstResponseMs: T.Optional(T.Number({ description: 'On an operator’s first reply: ms the visitor waited for it.' })),
    },
    { ...closed, description: 'A message was stored (the text is not in the body: read the entry).' },
  ),
  'note.created': T.Object({ site, conv, entry, op: op('The author') }, { ...closed, description: 'An internal note (operators only) was stored.' }),
  'offline_message.created': T.Object(
    { site, conv, entry, email: T.String({ description: 'The address the visitor left for the answer.' }) },
    { ...closed, description: 'A visitor left a message while nobody was online.' },
  ),
  'visitor.identified': T.Object(
    {
      site,
      conv: T.Optional(conv),
      visitor: T.String({ description: 'The visitor id.' }),
      userId: T.String({ description: 'Your user id the visitor was identified as.' }),
      verified: T.Boolean({ description: 'Signed with the site’s identity secret.' }),
    },
    { ...closed, description: 'The site told the widget who the visitor is.' },
  ),
  'operator.status_changed': T.Object(
    {
      site: T.Optional(T.String({ description: 'The site (a status change is sent to the webhooks of the site it names; one naming no site is not sent).' })),
      op: op('The operator'),
      status: T.Union([T.Literal('online'), T.Literal('away'), T.Literal('offline')]),
    },
    { ...closed, description: 'An operator went online, away or offline.' },
  ),
} satisfies { [K in EventType]: TSchema };

/** The `data` of the `webhook.test` event. */
export const WebhookTestData = T.Object({ site, webhook: T.String({ description: 'The endpoint id.' }) }, { ...closed, description: 'Sent by “send a test event”; no domain event behind it.' });

const timestamp = T.String({ format: 'date-time', description: 'When the event happened (ISO 8601, UTC); the `webhook-timestamp` header is the time of the attempt.' });

function body<K extends string, D extends TSchema>(type: K, data: D) {
  return T.Object({ type: T.Literal(type), timestamp, data }, { ...closed, title: type, description: data.description });
}

type BodySchemas = { [K in EventType]: ReturnType<typeof body<K, (typeof WEBHOOK_DATA)[K]>> };

/** The whole body of each event type's webhook, and of `webhook.test`. */
export const WEBHOOK_BODIES = {
  ...(Object.fromEntries(Object.entries(WEBHOOK_DATA).map(([type, data]) => [type, body(type, data)])) as BodySchemas),
  [WEBHOOK_TEST_TYPE]: body(WEBHOOK_TEST_TYPE, WebhookTestData),
};

/** Every type a webhook can carry: the domain events' and `webhook.test`. */
export const WEBHOOK_TYPES = Object.keys(WEBHOOK_BODIES) as (EventType | typeof WEBHOOK_TEST_TYPE)[];

export type WebhookBodyOf<K extends keyof typeof WEBHOOK_BODIES> = Static<(typeof WEBHOOK_BODIES)[K]>;
/** Any body a webhook sends. */
export type WebhookBody = { [K in keyof typeof WEBHOOK_BODIES]: WebhookBodyOf<K> }[keyof typeof WEBHOOK_BODIES];

// ---------------------------------------------------------------- the schemas match the events

/** Mutually assignable and the same keys (so also the same optional fields). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? ([keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false) : false) : false;
type DataOf<K extends EventType> = Omit<EventOf<K>, 'id' | 'at' | 'type'>;
type Mismatched = { [K in EventType]: Same<Static<(typeof WEBHOOK_DATA)[K]>, DataOf<K>> extends true ? never : K }[EventType];
/** Fails to compile, naming the event type, when a `data` schema and its event differ. */
const schemasMatchEvents: [Mismatched] extends [never] ? true : { mismatched: Mismatched } = true;
void schemasMatchEvents;

// ---------------------------------------------------------------- building

/** An event's body: `data` is the event without id, at and type. */
function strip<E extends DomainEvent>(e: E): { type: E['type']; timestamp: string; data: Omit<E, 'id' | 'at' | 'type'> } {
  const { id: _id, at, type, ...data } = e;
  return { type, timestamp: new Date(at).toISOString(), data };
}

/** One builder per type, each checked by the compiler against that type's schema (Static). */
const BUILD: { [K in EventType]: (e: EventOf<K>) => WebhookBodyOf<K> } = {
  'conversation.created': strip,
  'conversation.queued': strip,
  'conversation.assigned': strip,
  'conversation.transferred': strip,
  'conversation.resolved': strip,
  'conversation.reopened': strip,
  'conversation.rated': strip,
  'conversation.answered': strip,
  'message.created': strip,
  'note.created': strip,
  'offline_message.created': strip,
  'visitor.identified': strip,
  'operator.status_changed': strip,
};

/** The body of one event's webhook, as its schema describes it. */
export function webhookBody<K extends EventType>(e: EventOf<K>): WebhookBodyOf<K> {
  // The builder of e's own type (a union of functions cannot be called with the union of events).
  return (BUILD[e.type as K] as (e: EventOf<K>) => WebhookBodyOf<K>)(e);
}

/** The body of a `webhook.test` event. */
export function webhookTestBody(site: string, webhook: string, now = Date.now()): WebhookBodyOf<typeof WEBHOOK_TEST_TYPE> {
  return { type: WEBHOOK_TEST_TYPE, timestamp: new Date(now).toISOString(), data: { site, webhook } };
}
