/**
 * The event log's consumers: each capability that reacts to what happens is one
 * module here (or beside it), registered by name. A consumer sees every event at
 * least once, in order per conversation, handled by one gateway at a time
 * (domain/event-consumers.ts); it must be idempotent by event id.
 *
 * The first: each operator's numbers (store/stats.ts), from the first-response (`conversation.answered`),
 * resolve and rating events. Every write of the stats store is idempotent per
 * conversation, so a redelivered event changes nothing.
 */
import type { Domain } from '.';
import { recordFirstResponse, recordRating, recordResolved } from '../store/stats';
import type { SideEffectConsumer } from './event-consumers';

/** A consumer with effects outside the log's own partition: at least once, so idempotent by event id. */
export type DomainConsumer = SideEffectConsumer;

export function statsConsumer(domain: Domain): DomainConsumer {
  const r = domain.deps.c.cmd;
  return {
    name: 'operator-stats',
    batch: true,
    // Every other event is acked in Redis without reaching this gateway (store/event-log.ts READ).
    types: ['conversation.answered', 'conversation.resolved', 'conversation.rated'],
    async handle(e) {
      if (e.type === 'conversation.answered' && e.firstResponseMs !== undefined) await recordFirstResponse(r, e.op, e.conv, e.firstResponseMs, e.at);
      else if (e.type === 'conversation.resolved' && e.op) await recordResolved(r, e.op, e.conv, e.durationMs ?? 0, e.at);
      else if (e.type === 'conversation.rated' && e.op) await recordRating(r, e.op, e.conv, e.rating, e.comment, e.at);
    },
  };
}

/** The second: webhooks (domain/webhooks.ts). It only queues deliveries; the delivery job sends them. */
export function webhookConsumer(domain: Domain): DomainConsumer {
  return domain.webhooks.consumer();
}

/** The third: e-mail (domain/mail.ts). It only queues mail; the mail-delivery job sends it. */
export function mailConsumer(domain: Domain): DomainConsumer {
  return domain.mail.consumer();
}

/** The fourth: the search index (domain/search.ts), kept current as events happen. */
export function searchConsumer(domain: Domain): DomainConsumer {
  return domain.search.consumer();
}

/** The fifth: the reports' hourly rollups (domain/reports.ts). */
export function reportsConsumer(domain: Domain): DomainConsumer {
  return domain.reports.consumer();
}

export function defaultConsumers(domain: Domain): DomainConsumer[] {
  return [statsConsumer(domain), webhookConsumer(domain), mailConsumer(domain), searchConsumer(domain), reportsConsumer(domain)];
}
