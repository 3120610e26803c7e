/**
 * Webhooks, the event log's second consumer: a site's admins register HTTP endpoints;
 * every event of the site they ask for is sent to them, signed per the Standard Webhooks
 * specification (https://www.standardwebhooks.com/):
 *
 *   webhook-id         the domain event's id (the same on every retry)
 *   webhook-timestamp  unix seconds of the attempt
 *   webhook-signature  `v1,<base64 HMAC-SHA256(secret bytes, "<id>.<timestamp>.<body>")>`,
 *                      space-separated, one per secret in use (two during a rotation's overlap)
 *   body               {"type", "timestamp" (ISO 8601 of the event), "data"} as JSON
 *
 * Two halves, so that a slow or failing endpoint never holds up the event log:
 * - the consumer (`webhooks`, registered in domain/consumers.ts) does no HTTP: it queues
 *   one delivery per matching enabled endpoint in Redis (store/webhooks.ts), once per
 *   (endpoint, event id), so a redelivered event queues nothing twice;
 * - the delivery job (jobs/jobs.ts `webhook-delivery`, one owner across gateways) sends
 *   the due deliveries, the head of each lane (one conversation × one endpoint) only, so a
 *   conversation's events arrive in order and a failing one holds up only its own
 *   conversation; at least once with the same id; failures retried with exponential
 *   backoff for WEBHOOK_RETRY_FOR_MS (state in Redis: across restarts and gateways), then
 *   marked failed. An endpoint whose attempts have all failed for WEBHOOK_DISABLE_AFTER_MS
 *   is disabled, with the reason on it and a notice in the site's list (GET …/webhooks
 *   returns both), and a warning is logged.
 *
 * SSRF: a target must be http(s); unless the WEBHOOKS_ALLOW_PRIVATE setting is on, a
 * literal loopback/private/link-local/unspecified/multicast address or a `localhost` name is
 * refused when the endpoint is saved, and at delivery time every address the name resolves
 * to is checked in the socket's own `lookup`, so the connection goes to the address that
 * was checked (no DNS rebinding between check and connect). Redirects are never followed
 * (a 3xx is a failed attempt). Each attempt is bounded by WEBHOOK_TIMEOUT_MS and reads at
 * most WEBHOOK_MAX_RESPONSE_BYTES of the answer.
 *
 * Secrets are stored as they are (they are needed to sign) and never logged.
 */
import { randomBytes, createHmac } from 'node:crypto';
import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP } from 'node:net';
import { HarkError, MAX_WEBHOOKS_PER_SITE, randomId } from '@hark/shared';
import type { WebhookView as SharedWebhookView, WebhookDeliveryView } from '@hark/shared';
import {
  type Delivery,
  type WebhookEndpoint,
  type WebhookNotice,
  addNotice,
  createEndpoint,
  deleteEndpoint,
  deliveryId,
  dueLanes,
  enqueueDelivery,
  finishAttempt,
  getDelivery,
  getEndpoint,
  laneHead,
  countEndpoints,
  listAllEndpointIds,
  listDeliveries,
  listNotices,
  listSiteEndpoints,
  recordEndpointFailure,
  recordEndpointSuccess,
  retryDelivery,
  rotateSecret,
  updateEndpoint,
} from '../store/webhooks';
import { siteExists } from '../store/sites';
import type { Deps } from './deps';
import type { SideEffectConsumer } from './event-consumers';
import { type DomainEvent, EVENT_TYPES, type EventType } from './events';
import { WEBHOOK_TEST_TYPE, webhookBody, webhookTestBody } from './webhook-payloads';

/** A delivery is retried for this long after it was queued (or retried by hand), then marked failed. */
export const WEBHOOK_RETRY_FOR_MS = 24 * 3600_000;
/** The first retry waits this long, each next one twice as long… */
export const WEBHOOK_RETRY_BASE_MS = 5_000;
/** …up to this (±20 % jitter). */
export const WEBHOOK_RETRY_CAP_MS = 3600_000;
/** An endpoint whose every attempt has failed for this long is disabled. */
export const WEBHOOK_DISABLE_AFTER_MS = 24 * 3600_000;
/** After a rotation, the old secret keeps signing (beside the new) for this long. */
export const WEBHOOK_SECRET_OVERLAP_MS = 24 * 3600_000;
/** One attempt, connect to the end of the answer. */
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** At most this much of an answer is read; then the connection is cut. */
export const WEBHOOK_MAX_RESPONSE_BYTES = 64 * 1024;
/** The part of an answer kept in the delivery log. */
export const WEBHOOK_RESPONSE_EXCERPT_BYTES = 1024;
/** The delivery job looks for due deliveries this often. */
export const WEBHOOK_POLL_MS = 1_000;
/** Attempts in flight at once on the job's gateway, in all and per endpoint. */
export const WEBHOOK_CONCURRENCY = 16;
export const WEBHOOK_CONCURRENCY_PER_ENDPOINT = 4;
/** After a delivery succeeds, its lane's next ones are sent at once, up to this many in one go (then the lane waits for the next pass of the job). */
export const WEBHOOK_LANE_RUN = 100;
/** Finished deliveries stay in the log this long; the log keeps at most WEBHOOK_LOG_MAX per endpoint. */
export const WEBHOOK_DELIVERY_RETENTION_MS = 7 * 24 * 3600_000;
export const WEBHOOK_LOG_MAX = 1_000;
/** Notices (endpoint disabled) kept per site. */
export const WEBHOOK_NOTICES_MAX = 50;
/** Longest target URL. */
export const WEBHOOK_MAX_URL = 2048;
/** The type of the event `POST …/test` sends (its body and every event's: domain/webhook-payloads.ts). */
export { WEBHOOK_TEST_TYPE } from './webhook-payloads';

export interface Resolved {
  address: string;
  family: number;
}

/** The timings above; tests shorten them (AppOptions.testLimits.webhooks) and may stub DNS. */
export interface WebhookSettings {
  retryForMs: number;
  retryBaseMs: number;
  retryCapMs: number;
  disableAfterMs: number;
  secretOverlapMs: number;
  timeoutMs: number;
  maxResponseBytes: number;
  pollMs: number;
  /** Name resolution (default: the system's, every address). */
  resolve?: (host: string) => Promise<Resolved[]>;
}

export const WEBHOOK_DEFAULTS: WebhookSettings = {
  retryForMs: WEBHOOK_RETRY_FOR_MS,
  retryBaseMs: WEBHOOK_RETRY_BASE_MS,
  retryCapMs: WEBHOOK_RETRY_CAP_MS,
  disableAfterMs: WEBHOOK_DISABLE_AFTER_MS,
  secretOverlapMs: WEBHOOK_SECRET_OVERLAP_MS,
  timeoutMs: WEBHOOK_TIMEOUT_MS,
  maxResponseBytes: WEBHOOK_MAX_RESPONSE_BYTES,
  pollMs: WEBHOOK_POLL_MS,
};

// ---------------------------------------------------------------- signing

/** A new secret in the Standard Webhooks format: `whsec_` + base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** `v1,<base64 HMAC-SHA256>` of `${id}.${timestamp}.${body}` with the secret's bytes. */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** The `webhook-signature` header: one signature per secret in use at `now`. */
export function signatureHeader(ep: Pick<WebhookEndpoint, 'secret' | 'prevSecret' | 'prevUntil'>, id: string, timestamp: number, body: string, now = Date.now()): string {
  const sigs = [signWebhook(ep.secret, id, timestamp, body)];
  if (ep.prevSecret && ep.prevUntil > now) sigs.push(signWebhook(ep.prevSecret, id, timestamp, body));
  return sigs.join(' ');
}

// ---------------------------------------------------------------- targets (SSRF)

const forbidden = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) forbidden.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128], // unspecified
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8], // multicast
  ['64:ff9b::', 96], // NAT64 (may map to anything)
] as const) forbidden.addSubnet(net, bits, 'ipv6');

/** Loopback, private, link-local, unspecified, multicast or otherwise not a public unicast address. */
export function forbiddenAddress(address: string): boolean {
  const a = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const v = isIP(a);
  if (v === 4) return forbidden.check(a, 'ipv4');
  if (v === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
    if (mapped?.[1]) return forbidden.check(mapped[1], 'ipv4');
    return forbidden.check(a, 'ipv6');
  }
  return true;
}

function forbiddenTarget(detail: string): HarkError {
  return new HarkError('WEBHOOK_TARGET_FORBIDDEN', `Webhook target refused: ${detail}. Only public addresses are allowed (WEBHOOKS_ALLOW_PRIVATE=1 allows private ones).`);
}

/** Parses and checks a target URL as it is saved: http(s), no credentials, no literal private address or localhost name. */
export function checkTargetUrl(raw: string, allowPrivate: boolean): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new HarkError('BAD_REQUEST', 'The webhook URL is not a valid URL.');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new HarkError('BAD_REQUEST', 'A webhook URL must be http or https.');
  if (u.username || u.password) throw new HarkError('BAD_REQUEST', 'A webhook URL must not contain credentials.');
  if (raw.length > WEBHOOK_MAX_URL) throw new HarkError('BAD_REQUEST', `A webhook URL is at most ${WEBHOOK_MAX_URL} characters.`);
  if (!allowPrivate) {
    const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '');
    if (host === 'localhost' || host.endsWith('.localhost')) throw forbiddenTarget(`${host} is a loopback name`);
    if (isIP(host) && forbiddenAddress(host)) throw forbiddenTarget(`${host} is not a public address`);
  }
  return u;
}

const systemResolve = async (host: string): Promise<Resolved[]> => dnsLookup(host, { all: true, verbatim: true });

type LookupCb = (err: NodeJS.ErrnoException | null, address: string | Resolved[], family?: number) => void;

/** A socket `lookup` that resolves, refuses any forbidden address, and hands the checked ones to the connection. */
function validatingLookup(allowPrivate: boolean, resolve: (h: string) => Promise<Resolved[]>) {
  return (hostname: string, options: { family?: number | string; all?: boolean }, cb: LookupCb): void => {
    resolve(hostname).then(
      (all) => {
        const fam = options.family === 4 || options.family === 'IPv4' ? 4 : options.family === 6 || options.family === 'IPv6' ? 6 : 0;
        const list = fam ? all.filter((a) => a.family === fam) : all;
        if (list.length === 0) {
          const e: NodeJS.ErrnoException = new Error(`no address for ${hostname}`);
          e.code = 'ENOTFOUND';
          cb(e, '');
          return;
        }
        const bad = allowPrivate ? undefined : list.find((a) => forbiddenAddress(a.address));
        if (bad) {
          const e: NodeJS.ErrnoException = new Error(`${hostname} resolves to ${bad.address}, not a public address`);
          e.code = 'WEBHOOK_TARGET_FORBIDDEN';
          cb(e, '');
          return;
        }
        if (options.all) cb(null, list);
        else cb(null, list[0]?.address ?? '', list[0]?.family ?? 4);
      },
      (err: NodeJS.ErrnoException) => cb(err, ''),
    );
  };
}

export interface AttemptResult {
  /** The answer's status; null when none came (refused, timed out, forbidden). */
  status: number | null;
  excerpt: string;
  durationMs: number;
  error: string | null;
  /** The answer was longer than the cap and was cut. */
  truncated: boolean;
}

/** One POST: no redirects followed, bounded in time and in how much of the answer is read. */
export function postWebhook(
  url: URL,
  headers: Record<string, string>,
  body: string,
  o: { timeoutMs: number; maxResponseBytes: number; allowPrivate: boolean; resolve: (h: string) => Promise<Resolved[]>; signal?: AbortSignal },
): Promise<AttemptResult> {
  const started = performance.now();
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!o.allowPrivate && isIP(host) && forbiddenAddress(host)) {
    return Promise.resolve({ status: null, excerpt: '', durationMs: 0, error: `WEBHOOK_TARGET_FORBIDDEN: ${host} is not a public address`, truncated: false });
  }
  return new Promise((resolveP) => {
    let done = false;
    let status: number | null = null;
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    const finish = (error: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      req.destroy();
      const buf = Buffer.concat(chunks);
      resolveP({ status, excerpt: buf.subarray(0, WEBHOOK_RESPONSE_EXCERPT_BYTES).toString('utf8'), durationMs: Math.round(performance.now() - started), error, truncated });
    };
    const onAbort = () => finish('aborted');
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.request(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        agent: false,
        lookup: validatingLookup(o.allowPrivate, o.resolve) as unknown as http.RequestOptions['lookup'],
      },
      (res) => {
        status = res.statusCode ?? null;
        res.on('data', (c: Buffer) => {
          if (done) return;
          const room = o.maxResponseBytes - size;
          if (c.length > room) {
            chunks.push(c.subarray(0, Math.max(0, room)));
            size = o.maxResponseBytes;
            truncated = true;
            finish(null);
            return;
          }
          chunks.push(c);
          size += c.length;
        });
        res.on('end', () => finish(null));
        res.on('error', (e) => finish(e.message));
        res.on('aborted', () => finish('answer cut off'));
      },
    );
    const timer = setTimeout(() => finish(`timed out after ${o.timeoutMs} ms`), o.timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => finish(e.code === 'WEBHOOK_TARGET_FORBIDDEN' ? `WEBHOOK_TARGET_FORBIDDEN: ${e.message}` : `${e.code ?? 'error'}: ${e.message}`));
    if (o.signal?.aborted) finish('aborted');
    else o.signal?.addEventListener('abort', onAbort);
    req.end(body);
  });
}

// ---------------------------------------------------------------- the module

/** What the REST API shows (shared/src/admin.ts: the console reads the same shapes). */
export type WebhookView = SharedWebhookView<EventType>;
export type DeliveryView = WebhookDeliveryView;

export interface WebhookInput {
  url: string;
  events?: string[] | 'all';
  description?: string;
}
export interface WebhookPatch {
  url?: string;
  events?: string[] | 'all';
  description?: string;
  enabled?: boolean;
}

function view(ep: WebhookEndpoint, now = Date.now()): WebhookView {
  return {
    id: ep.id,
    site: ep.site,
    url: ep.url,
    events: ep.events === 'all' ? 'all' : (ep.events as EventType[]),
    description: ep.description,
    enabled: ep.enabled,
    createdAt: ep.createdAt,
    disabledReason: ep.disabledReason,
    disabledAt: ep.disabledAt,
    failingSince: ep.failingSince,
    previousSecretUntil: ep.prevSecret && ep.prevUntil > now ? ep.prevUntil : null,
  };
}

function deliveryView(d: Delivery): DeliveryView {
  return {
    id: d.id,
    eventId: d.eventId,
    type: d.type,
    state: d.state,
    attempts: d.attempts,
    lastStatus: d.lastStatus,
    responseExcerpt: d.excerpt,
    durationMs: d.durationMs,
    nextRetryAt: d.nextAt,
    lastAttemptAt: d.lastAt,
    error: d.error,
    truncated: d.truncated,
    createdAt: d.createdAt,
  };
}

function checkEvents(events: string[] | 'all' | undefined): EventType[] | 'all' {
  if (events === undefined || events === 'all') return 'all';
  const known = new Set<string>(EVENT_TYPES);
  const bad = events.filter((e) => !known.has(e));
  if (bad.length > 0) throw new HarkError('BAD_REQUEST', `Unknown event types: ${bad.join(', ')}.`);
  if (events.length === 0) throw new HarkError('BAD_REQUEST', 'List at least one event type, or "all".');
  return [...new Set(events)] as EventType[];
}

/** The body sent for an event: {type, timestamp, data}; data is the event without its id, time and type (typed by its schema: domain/webhook-payloads.ts, published in the OpenAPI document). */
export function webhookPayload(e: DomainEvent): string {
  return JSON.stringify(webhookBody(e));
}

export class Webhooks {
  settings: WebhookSettings = { ...WEBHOOK_DEFAULTS };
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly aborts = new AbortController();
  private stopped = false;

  constructor(private readonly d: Deps) {}

  /** Test-only: shorter windows, a stub resolver (AppOptions.testLimits.webhooks). */
  configure(s: Partial<WebhookSettings>): void {
    this.settings = { ...this.settings, ...s };
  }

  private get r() {
    return this.d.c.cmd;
  }
  private get allowPrivate(): boolean {
    return this.d.config.webhooksAllowPrivate === true;
  }

  // ---- management (admins, http/webhooks.ts)

  private async siteEndpoint(site: string, id: string): Promise<WebhookEndpoint> {
    const ep = await getEndpoint(this.r, id);
    if (!ep || ep.site !== site) throw new HarkError('NOT_FOUND', 'No such webhook on this site.');
    return ep;
  }

  private async checkSite(site: string): Promise<void> {
    if (!(await siteExists(this.r, site))) throw new HarkError('NOT_FOUND', 'No such site.');
  }

  async list(site: string): Promise<{ webhooks: WebhookView[]; disabled: WebhookNotice[] }> {
    await this.checkSite(site);
    const now = Date.now();
    return { webhooks: (await listSiteEndpoints(this.r, site)).map((ep) => view(ep, now)), disabled: await listNotices(this.r, site) };
  }

  async get(site: string, id: string): Promise<WebhookView> {
    return view(await this.siteEndpoint(site, id));
  }

  /** Creates an endpoint; its secret is in the answer, and only in this one (and a rotation's). */
  async create(site: string, input: WebhookInput): Promise<WebhookView & { secret: string }> {
    await this.checkSite(site);
    const url = checkTargetUrl(input.url, this.allowPrivate).toString();
    const now = Date.now();
    const ep: WebhookEndpoint = {
      id: randomId(16),
      site,
      url,
      events: checkEvents(input.events),
      description: input.description ?? '',
      enabled: true,
      secret: newWebhookSecret(),
      prevSecret: null,
      prevUntil: 0,
      createdAt: now,
      enabledAt: now,
      disabledReason: null,
      disabledAt: null,
      failingSince: null,
    };
    if (!(await createEndpoint(this.r, ep, MAX_WEBHOOKS_PER_SITE))) throw new HarkError('TOO_MANY_WEBHOOKS');
    return { ...view(ep), secret: ep.secret };
  }

  async update(site: string, id: string, patch: WebhookPatch): Promise<WebhookView> {
    await this.siteEndpoint(site, id);
    const written = await updateEndpoint(this.r, id, {
      ...(patch.url !== undefined ? { url: checkTargetUrl(patch.url, this.allowPrivate).toString() } : {}),
      ...(patch.events !== undefined ? { events: checkEvents(patch.events) } : {}),
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
    });
    // Deleted meanwhile: nothing was written.
    if (!written) throw new HarkError('NOT_FOUND', 'No such webhook.');
    return this.get(site, id);
  }

  async delete(site: string, id: string): Promise<void> {
    const ep = await this.siteEndpoint(site, id);
    await deleteEndpoint(this.r, ep);
  }

  /** A new secret; the old one keeps signing beside it for WEBHOOK_SECRET_OVERLAP_MS. */
  async rotate(site: string, id: string): Promise<WebhookView & { secret: string }> {
    const ep = await this.siteEndpoint(site, id);
    const secret = newWebhookSecret();
    const prevUntil = Date.now() + this.settings.secretOverlapMs;
    if (!(await rotateSecret(this.r, id, secret, ep.secret, prevUntil))) throw new HarkError('NOT_FOUND', 'No such webhook.');
    return { ...view({ ...ep, secret, prevSecret: ep.secret, prevUntil }), secret };
  }

  /** Queues a `webhook.test` event for the endpoint (sent even if it does not ask for any type). */
  async sendTest(site: string, id: string): Promise<{ delivery: string; eventId: string }> {
    const ep = await this.siteEndpoint(site, id);
    const eventId = `test_${randomId(21)}`;
    const did = deliveryId(ep.id, eventId);
    const payload = JSON.stringify(webhookTestBody(site, ep.id));
    await enqueueDelivery(this.r, ep.id, { id: did, eventId, type: WEBHOOK_TEST_TYPE, lane: `e:${did}`, payload }, Date.now(), WEBHOOK_LOG_MAX);
    return { delivery: did, eventId };
  }

  async deliveries(site: string, id: string, limit: number): Promise<DeliveryView[]> {
    await this.siteEndpoint(site, id);
    return (await listDeliveries(this.r, id, limit)).map(deliveryView);
  }

  async retry(site: string, id: string, delivery: string): Promise<DeliveryView> {
    await this.siteEndpoint(site, id);
    if (!(await retryDelivery(this.r, id, delivery, Date.now()))) throw new HarkError('NOT_FOUND', 'No such delivery.');
    const d = await getDelivery(this.r, id, delivery);
    if (!d) throw new HarkError('NOT_FOUND', 'No such delivery.');
    return deliveryView(d);
  }

  // ---- the consumer: queue, never send

  /** Whether the installation had any endpoint at the consumer's last read (null before the first). */
  private anyEndpoint: boolean | null = null;

  consumer(): SideEffectConsumer {
    return {
      name: 'webhooks',
      // Right before each read of the log: while the installation has no endpoint at all, the
      // read acks every event in Redis without sending it here (exact but for an endpoint made
      // in the one round trip between this check and the read).
      beforeRead: async () => {
        this.anyEndpoint = (await countEndpoints(this.r)) > 0;
      },
      liveTypes: () => (this.anyEndpoint === false ? [] : undefined),
      handle: async (e) => {
        if (!e.site) return; // an operator's status without a site belongs to no site's endpoints
        const eps = await listSiteEndpoints(this.r, e.site);
        if (eps.length === 0) return;
        const payload = webhookPayload(e);
        const now = Date.now();
        for (const ep of eps) {
          // Only events emitted while the endpoint is enabled (the consumer may read an event later).
          if (!ep.enabled || e.at < ep.enabledAt) continue;
          if (ep.events !== 'all' && !ep.events.includes(e.type)) continue;
          const id = deliveryId(ep.id, e.id);
          const lane = 'conv' in e && e.conv ? `c:${e.conv}` : `e:${id}`;
          await enqueueDelivery(this.r, ep.id, { id, eventId: e.id, type: e.type, lane, payload }, now, WEBHOOK_LOG_MAX);
        }
      },
    };
  }

  // ---- the delivery job (jobs/jobs.ts)

  /** Starts an attempt for each due lane head (returns without waiting for them). */
  async deliverDue(): Promise<void> {
    if (this.stopped) return;
    const now = Date.now();
    for (const eid of await listAllEndpointIds(this.r)) {
      if (this.inflight.size >= WEBHOOK_CONCURRENCY) return;
      const ep = await getEndpoint(this.r, eid);
      if (!ep?.enabled) continue;
      let mine = [...this.inflight.keys()].filter((k) => k.startsWith(`${eid}\n`)).length;
      if (mine >= WEBHOOK_CONCURRENCY_PER_ENDPOINT) continue;
      for (const lane of await dueLanes(this.r, eid, now, WEBHOOK_CONCURRENCY)) {
        const key = `${eid}\n${lane}`;
        if (this.inflight.has(key)) continue;
        if (this.inflight.size >= WEBHOOK_CONCURRENCY || mine >= WEBHOOK_CONCURRENCY_PER_ENDPOINT) break;
        mine++;
        const p = this.attempt(ep, lane)
          .catch((err: unknown) => this.d.log.warn({ err, webhook: eid }, 'webhook delivery step failed'))
          .finally(() => this.inflight.delete(key));
        this.inflight.set(key, p);
      }
    }
  }

  /** Stops the job: cuts attempts in flight (not recorded: the next owner sends them again, same id). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.aborts.abort();
    await Promise.allSettled([...this.inflight.values()]);
  }

  private backoff(attempts: number): number {
    const s = this.settings;
    const base = Math.min(s.retryCapMs, s.retryBaseMs * 2 ** Math.min(30, Math.max(0, attempts - 1)));
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  /** Sends the lane's head and, while they succeed, the deliveries behind it (a busy conversation's events drain without waiting for the job's next pass). */
  private async attempt(ep: WebhookEndpoint, lane: string): Promise<void> {
    for (let i = 0; i < WEBHOOK_LANE_RUN && !this.stopped; i++) {
      if (!(await this.attemptOne(ep, lane))) return;
    }
  }

  /** One attempt of the lane's head due now; true when it was delivered. */
  private async attemptOne(ep: WebhookEndpoint, lane: string): Promise<boolean> {
    const d = await laneHead(this.r, ep.id, lane);
    if (!d || this.stopped || (d.nextAt !== null && d.nextAt > Date.now())) return false;
    const s = this.settings;
    const ts = Math.floor(Date.now() / 1000);
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'Hark-Webhooks/1',
      'webhook-id': d.eventId,
      'webhook-timestamp': String(ts),
      'webhook-signature': signatureHeader(ep, d.eventId, ts, d.payload),
    };
    const res = await postWebhook(new URL(ep.url), headers, d.payload, {
      timeoutMs: s.timeoutMs,
      maxResponseBytes: s.maxResponseBytes,
      allowPrivate: this.allowPrivate,
      resolve: s.resolve ?? systemResolve,
      signal: this.aborts.signal,
    });
    if (this.stopped) return false;
    const now = Date.now();
    const ok = res.status !== null && res.status >= 200 && res.status < 300;
    const error = ok ? null : (res.error ?? (res.status !== null && res.status >= 300 && res.status < 400 ? `redirect ${res.status} not followed` : `HTTP ${res.status}`));
    const fields: Record<string, string> = {
      lastAt: String(now),
      lastStatus: res.status === null ? '' : String(res.status),
      excerpt: res.excerpt,
      durationMs: String(res.durationMs),
      error: error ?? '',
      truncated: res.truncated ? '1' : '0',
    };
    if (res.truncated) this.d.log.info({ webhook: ep.id, delivery: d.id, status: res.status, readBytes: s.maxResponseBytes }, 'webhook answer longer than the cap: cut');
    if (ok) {
      await finishAttempt(this.r, ep.id, d.id, lane, 'delivered', now, now, WEBHOOK_DELIVERY_RETENTION_MS, fields);
      if (ep.failingSince !== null) {
        await recordEndpointSuccess(this.r, ep.id);
        ep.failingSince = null;
      }
      return true;
    }
    const expired = now - d.first >= s.retryForMs;
    const nextAt = now + this.backoff(d.attempts + 1);
    await finishAttempt(this.r, ep.id, d.id, lane, expired ? 'failed' : 'retry', now, nextAt, WEBHOOK_DELIVERY_RETENTION_MS, fields);
    // Never the secret, the body or the answer: the endpoint, the delivery and why.
    this.d.log.warn({ webhook: ep.id, site: ep.site, delivery: d.id, event: d.eventId, attempt: d.attempts + 1, status: res.status, error, final: expired }, expired ? 'webhook delivery failed for good' : 'webhook delivery failed; will retry');
    const reason = `every delivery attempt failed for ${Math.round(s.disableAfterMs / 60_000)} min (last: ${error})`;
    if (await recordEndpointFailure(this.r, ep.id, now, s.disableAfterMs, reason)) {
      await addNotice(this.r, ep.site, { endpoint: ep.id, url: ep.url, reason, at: now }, WEBHOOK_NOTICES_MAX);
      // The origin only: a URL's path or query may hold the receiver's own token.
      this.d.log.warn({ webhook: ep.id, site: ep.site, target: new URL(ep.url).origin, reason }, 'webhook endpoint disabled');
    }
    return false;
  }
}
