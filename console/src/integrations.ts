/**
 * Pure helpers of the integrations screens (API keys, webhooks) and the visitor's data:
 * kept free of Preact and the DOM so they are unit-tested directly.
 */
import type { Webhook, WebhookDelivery, WebhookNotice } from './api';
import { type State, dropConvs } from './state';

/**
 * The event types a webhook may ask for: the gateway's domain events (server/src/store/events.ts
 * EVENT_TYPES, in its order; integrations.test.ts checks they are the same). `webhook.test` is
 * not one: "send a test event" sends it to any endpoint.
 */
export const WEBHOOK_EVENTS = [
  'conversation.created',
  'conversation.queued',
  'conversation.assigned',
  'conversation.transferred',
  'conversation.resolved',
  'conversation.reopened',
  'conversation.rated',
  'conversation.answered',
  'message.created',
  'note.created',
  'offline_message.created',
  'visitor.identified',
  'operator.status_changed',
] as const;

/** Longest webhook URL the gateway accepts (WEBHOOK_MAX_URL). */
export const MAX_WEBHOOK_URL = 2048;

/** What is wrong with a webhook URL before it is sent (the gateway judges the rest: private targets, credentials). */
export function webhookUrlProblem(raw: string): 'integrations.urlRequired' | 'integrations.urlInvalid' | 'integrations.urlScheme' | null {
  const s = raw.trim();
  if (!s) return 'integrations.urlRequired';
  if (s.length > MAX_WEBHOOK_URL) return 'integrations.urlInvalid';
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return 'integrations.urlInvalid';
  }
  return u.protocol === 'http:' || u.protocol === 'https:' ? null : 'integrations.urlScheme';
}

export type EndpointState = 'enabled' | 'failing' | 'disabledAuto' | 'disabledAdmin';

/** How an endpoint stands: on; on but its last attempts failed; disabled by the gateway (failing for a day) or by an admin. */
export function endpointState(w: Pick<Webhook, 'enabled' | 'disabledReason' | 'failingSince'>): EndpointState {
  if (!w.enabled) return w.disabledReason ? 'disabledAuto' : 'disabledAdmin';
  return w.failingSince !== null ? 'failing' : 'enabled';
}

/**
 * The site's notices (an endpoint disabled after failing for a day) that still need someone:
 * the newest per endpoint that is disabled by the gateway now (not since enabled again or deleted).
 */
export function openNotices(notices: WebhookNotice[], hooks: Pick<Webhook, 'id' | 'enabled' | 'disabledReason'>[]): WebhookNotice[] {
  const stillOff = new Set(hooks.filter((w) => endpointState({ ...w, failingSince: null }) === 'disabledAuto').map((w) => w.id));
  const seen = new Set<string>();
  return [...notices]
    .sort((a, b) => b.at - a.at)
    .filter((n) => stillOff.has(n.endpoint) && !seen.has(n.endpoint) && seen.add(n.endpoint));
}

export type DeliveryKind = 'delivered' | 'failed' | 'retrying' | 'queued';

/** A delivery's state for people: `pending` is either not tried yet (queued) or waiting for its next try after a failure. */
export function deliveryKind(d: Pick<WebhookDelivery, 'state' | 'attempts'>): DeliveryKind {
  if (d.state === 'delivered' || d.state === 'failed') return d.state;
  return d.attempts > 0 ? 'retrying' : 'queued';
}

/** The first `max` characters of a receiver's answer, on one line, with an ellipsis when cut. */
export function excerpt(text: string | null, max = 200): string {
  if (!text) return '';
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/**
 * The message key for an error code an integrations form got from the gateway, or null (then
 * the general `error.CODE` key, or the server's own message, is shown).
 */
export function integrationErrorKey(code: string, what: 'apiKey' | 'webhook' | 'visitor'): string | null {
  if (code === 'NOT_FOUND') return what === 'visitor' ? 'visitor.notFound' : 'integrations.notFound';
  if (code === 'CONFLICT' && what === 'apiKey') return 'integrations.tooManyKeys';
  if (code === 'BAD_REQUEST') return 'integrations.badRequest';
  return null;
}

/** The file name of a visitor's export (the one the gateway's Content-Disposition names). */
export function exportFileName(site: string, visitor: string): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, '_');
  return `hark-visitor-${safe(site)}-${safe(visitor)}.json`;
}

/**
 * The realtime state without the conversations of an erased visitor (and what is held per
 * conversation): those that name them, and `convs`, their conversations as known before the
 * erase (the gateway turns a live one into a resolved tombstone without the visitor, and its
 * summary may arrive before the erase's answer).
 */
export function forgetVisitor(rt: State, visitor: string, convs: readonly string[] = []): State {
  return dropConvs(rt, [...convs.filter((c) => c in rt.convs), ...Object.values(rt.convs).filter((c) => c.visitor.id === visitor).map((c) => c.id)]);
}
