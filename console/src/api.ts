/**
 * REST calls of the console. The session cookie travels on its own (same
 * origin); the server answers errors as `{code, message}` with a stable code
 * from shared/errors.ts, which is what the UI keys its messages on.
 */
import type { ConvSummary, Entry, Me, Rating } from '@hark/shared/protocol';
import type { ConvMailStatus, MailView, OperatorAccount, SiteSettings } from '@hark/shared/admin';

export type { ConvMailStatus, MailView } from '@hark/shared/admin';
import type { SavedReply } from './replies';
import type { SearchAnswer, SearchFilters } from './search';
import type { Report } from './reports';

/** The server refuses shorter passwords (auth and operator schemas). */
export const MIN_PASSWORD = 10;

export type Operator = OperatorAccount;

export type { BusinessHours } from '@hark/shared';

/** A site as the admin API returns it: the settings, and whether identity verification is on (the secret itself is only ever shown once). */
export interface Site extends SiteSettings {
  identitySecretSet?: boolean;
}

export interface Team {
  id: string;
  name: string;
  sites: string[];
}

export interface DayStats {
  handled: number;
  medianFirstResponseMs: number | null;
  medianResolutionMs: number | null;
  good: number;
  bad: number;
}

export interface OperatorStats {
  operator: { id: string; name: string };
  today: DayStats;
  week: DayStats;
  ratings: { conv: string; rating: Rating; comment?: string; at: number }[];
}

/** An API key as the admin API lists it (never its secret: that is in the create answer only). */
export interface ApiKey {
  id: string;
  name: string;
  /** The one site the key may see; null = every site. */
  site: string | null;
  access: 'read' | 'write';
  createdAt: number;
  lastUsedAt: number | null;
}

/** A webhook endpoint, a notice, a delivery: the shapes the server answers with (shared/src/admin.ts). */
import type { WebhookNotice, WebhookView as Webhook, WebhookDeliveryView as WebhookDelivery } from '@hark/shared';
export type { Webhook, WebhookDelivery, WebhookNotice };

export interface WebhookInput {
  url: string;
  events: string[] | 'all';
  description: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { 'content-type': 'application/json' };
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const d = (data ?? {}) as { code?: string; message?: string };
    throw new ApiError(res.status, d.code ?? `HTTP_${res.status}`, d.message ?? res.statusText);
  }
  return data as T;
}

const enc = encodeURIComponent;

export const api = {
  login: (email: string, password: string) => call<{ me: Me }>('POST', '/v1/auth/login', { email, password }),
  logout: () => call<{ ok: boolean }>('POST', '/v1/auth/logout', {}),
  me: () => call<{ me: Me }>('GET', '/v1/auth/me'),
  changePassword: (current: string, next: string) => call<{ ok: boolean }>('POST', '/v1/auth/password', { current, next }),

  operators: () => call<Operator[]>('GET', '/v1/operators'),
  createOperator: (o: Partial<Operator> & { password: string }) => call<Operator>('POST', '/v1/operators', o),
  updateOperator: (id: string, o: Partial<Operator> & { password?: string }) => call<Operator>('PATCH', `/v1/operators/${enc(id)}`, o),
  deleteOperator: (id: string) => call<{ ok: boolean }>('DELETE', `/v1/operators/${enc(id)}`),

  sites: () => call<Site[]>('GET', '/v1/sites'),
  createSite: (s: Partial<Site>) => call<Site>('POST', '/v1/sites', s),
  updateSite: (id: string, s: Partial<Site>) => call<Site>('PATCH', `/v1/sites/${enc(id)}`, s),
  deleteSite: (id: string) => call<{ ok: boolean }>('DELETE', `/v1/sites/${enc(id)}`),
  rotateSecret: (id: string) => call<{ secret: string }>('POST', `/v1/sites/${enc(id)}/secret`, {}),

  conversations: (q: { status?: string; q?: string; site?: string; visitor?: string }) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (v) p.set(k, v);
    return call<ConvSummary[]>('GET', `/v1/conversations?${p}`);
  },
  /** Search over every conversation the operator may see (GET /v1/search). */
  search: (q: string, f: SearchFilters = {}) => {
    const p = new URLSearchParams({ q });
    for (const [k, v] of Object.entries(f)) if (v !== undefined && v !== '') p.set(k, String(v));
    return call<SearchAnswer>('GET', `/v1/search?${p}`);
  },
  conversation: (id: string) => call<{ conv: ConvSummary; entries: Entry[] }>('GET', `/v1/conversations/${enc(id)}`),

  teams: () => call<Team[]>('GET', '/v1/teams'),
  createTeam: (t: Partial<Team>) => call<Team>('POST', '/v1/teams', t),
  updateTeam: (id: string, t: Partial<Team>) => call<Team>('PATCH', `/v1/teams/${enc(id)}`, t),
  deleteTeam: (id: string) => call<{ ok: boolean }>('DELETE', `/v1/teams/${enc(id)}`),

  replies: () => call<SavedReply[]>('GET', '/v1/replies'),
  createReply: (r: Omit<SavedReply, 'id'>) => call<SavedReply>('POST', '/v1/replies', r),
  updateReply: (id: string, r: Partial<SavedReply>) => call<SavedReply>('PATCH', `/v1/replies/${enc(id)}`, r),
  deleteReply: (id: string) => call<{ ok: boolean }>('DELETE', `/v1/replies/${enc(id)}`),

  /** Saved replies that fit the visitor's latest message in a conversation. */
  suggestions: (conv: string) => call<{ message: string | null; replies: { id: string; shortcut: string; text: string; score: number; kind: 'saved' | 'past'; conv?: string }[] }>('GET', `/v1/conversations/${enc(conv)}/suggestions`),
  /** A report (GET /v1/reports); `params` from reports.ts reportParams. */
  report: (params: string) => call<Report>('GET', `/v1/reports?${params}`),
  stats: (who?: 'all') => call<OperatorStats[]>('GET', `/v1/stats${who ? '?operator=all' : ''}`),

  apiKeys: () => call<ApiKey[]>('GET', '/v1/api-keys'),
  createApiKey: (k: { name: string; site: string | null; access: ApiKey['access'] }) => call<{ key: ApiKey; secret: string }>('POST', '/v1/api-keys', k),
  revokeApiKey: (id: string) => call<{ ok: boolean }>('DELETE', `/v1/api-keys/${enc(id)}`),

  webhooks: (site: string) => call<{ webhooks: Webhook[]; disabled: WebhookNotice[] }>('GET', `/v1/sites/${enc(site)}/webhooks`),
  createWebhook: (site: string, w: WebhookInput) => call<Webhook & { secret: string }>('POST', `/v1/sites/${enc(site)}/webhooks`, w),
  updateWebhook: (site: string, id: string, w: Partial<WebhookInput> & { enabled?: boolean }) => call<Webhook>('PATCH', `/v1/sites/${enc(site)}/webhooks/${enc(id)}`, w),
  deleteWebhook: (site: string, id: string) => call<{ ok: boolean }>('DELETE', `/v1/sites/${enc(site)}/webhooks/${enc(id)}`),
  rotateWebhook: (site: string, id: string) => call<Webhook & { secret: string }>('POST', `/v1/sites/${enc(site)}/webhooks/${enc(id)}/rotate`, {}),
  testWebhook: (site: string, id: string) => call<{ delivery: string; eventId: string }>('POST', `/v1/sites/${enc(site)}/webhooks/${enc(id)}/test`, {}),
  webhookDeliveries: (site: string, id: string, limit = 50) => call<{ deliveries: WebhookDelivery[] }>('GET', `/v1/sites/${enc(site)}/webhooks/${enc(id)}/deliveries?limit=${limit}`),
  retryDelivery: (site: string, id: string, delivery: string) => call<WebhookDelivery>('POST', `/v1/sites/${enc(site)}/webhooks/${enc(id)}/deliveries/${enc(delivery)}/retry`, {}),

  /** The site's mail log (admins), newest first. */
  mailLog: (site: string, limit = 200) => call<MailView[]>('GET', `/v1/sites/${enc(site)}/mail?limit=${limit}`),
  resendMail: (site: string, id: string) => call<MailView>('POST', `/v1/sites/${enc(site)}/mail/${enc(id)}/resend`, {}),
  bouncedAddresses: (site: string) => call<{ address: string; reason: string; at: number }[]>('GET', `/v1/sites/${enc(site)}/mail/bounced`),
  /** The visitor's known address and whether mail to it bounces. */
  convMail: (conv: string) => call<ConvMailStatus>('GET', `/v1/conversations/${enc(conv)}/mail`),
  /** E-mails the conversation's transcript (never notes) to the visitor's own address (202). */
  sendTranscript: (conv: string) => call<MailView>('POST', `/v1/conversations/${enc(conv)}/transcript`, {}),

  /** Everything held about a visitor, as JSON (admins). */
  exportVisitor: (site: string, visitor: string) => call<unknown>('GET', `/v1/sites/${enc(site)}/visitors/${enc(visitor)}/export`),
  /** Erases a visitor and everything that names them (admins; 204). */
  eraseVisitor: (site: string, visitor: string) => call<null>('DELETE', `/v1/sites/${enc(site)}/visitors/${enc(visitor)}`),
};
