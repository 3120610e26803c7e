import { randomBytes } from 'node:crypto';
import type { BusinessHours, SiteConfig, SiteSettings } from '@hark/shared';
import { DEFAULT_FILE_MAX_BYTES, DEFAULT_FILE_TYPES, DEFAULT_UNANSWERED_MS, KNOWN_FILE_TYPES, MAX_FILE_BYTES, MAX_SITE_MSGS_PER_SEC, SITE_MSGS_PER_SEC } from '@hark/shared';
import type { ScriptedRedis } from '../redis/scripts';
import { K, RK } from './keys';
import { bool, json, jsonObject, jsonStrings, num } from './util';

export type { BusinessHours } from '@hark/shared';

export interface Site extends SiteSettings {
  /** HMAC secret for identity verification; '' = verification off. Never sent to clients after creation. */
  secret: string;
  createdAt: number;
}

export const SITE_DEFAULTS: Omit<Site, 'id' | 'name' | 'createdAt'> = {
  origins: [],
  color: '#1f5fd6',
  position: 'right',
  label: 'Chat with us',
  greeting: 'Hi! How can we help?',
  greetings: {},
  locales: ['en', 'hr', 'ru'],
  hours: null,
  prechat: false,
  offlineForm: true,
  unansweredMs: DEFAULT_UNANSWERED_MS,
  team: '',
  typingPreview: false,
  requeueOnOffline: true,
  msgsPerSec: SITE_MSGS_PER_SEC,
  attachments: true,
  fileMaxBytes: DEFAULT_FILE_MAX_BYTES,
  fileTypes: DEFAULT_FILE_TYPES,
  notifyEmails: [],
  mailLang: 'en',
  secret: '',
};

function toHash(s: Partial<Site>): Record<string, string> {
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(s)) {
    if (v === undefined) continue;
    if (typeof v === 'boolean') h[k] = v ? '1' : '0';
    else if (typeof v === 'object') h[k] = JSON.stringify(v);
    else h[k] = String(v);
  }
  return h;
}

function fromHash(id: string, h: Record<string, string>): Site {
  return {
    id,
    name: h.name ?? id,
    origins: json(h.origins, []),
    color: h.color ?? SITE_DEFAULTS.color,
    position: h.position === 'left' ? 'left' : 'right',
    label: h.label ?? SITE_DEFAULTS.label,
    greeting: h.greeting ?? SITE_DEFAULTS.greeting,
    // Added with #13 item 8: sites saved before have none, so every language shows `greeting` (no migration).
    greetings: Object.fromEntries(Object.entries(jsonObject<Record<string, unknown>>(h.greetings, {})).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1].trim() !== '')),
    locales: json(h.locales, SITE_DEFAULTS.locales),
    hours: json(h.hours, null),
    prechat: bool(h.prechat),
    offlineForm: h.offlineForm === undefined ? true : bool(h.offlineForm),
    unansweredMs: num(h.unansweredMs, DEFAULT_UNANSWERED_MS),
    team: h.team ?? '',
    typingPreview: bool(h.typingPreview),
    requeueOnOffline: h.requeueOnOffline === undefined ? true : bool(h.requeueOnOffline),
    // Sites saved before the setting existed have the default (no migration: a missing field reads as it).
    msgsPerSec: Math.min(MAX_SITE_MSGS_PER_SEC, Math.max(1, Math.floor(num(h.msgsPerSec, SITE_MSGS_PER_SEC)))),
    // Sites saved before attachments existed read as the defaults (no migration).
    attachments: h.attachments === undefined ? true : bool(h.attachments),
    fileMaxBytes: Math.min(MAX_FILE_BYTES, Math.max(1, Math.floor(num(h.fileMaxBytes, DEFAULT_FILE_MAX_BYTES)))),
    fileTypes: jsonStrings(h.fileTypes, DEFAULT_FILE_TYPES).filter((t) => KNOWN_FILE_TYPES.includes(t)),
    // Added with e-mail (issue 14): sites saved before read the defaults (no migration).
    notifyEmails: json<string[]>(h.notifyEmails, []).filter((x) => typeof x === 'string'),
    mailLang: h.mailLang === 'hr' || h.mailLang === 'ru' ? h.mailLang : 'en',
    secret: h.secret ?? '',
    createdAt: num(h.createdAt),
  };
}

export async function getSite(r: ScriptedRedis, id: string): Promise<Site | null> {
  const h = await r.hgetall(K.site(id));
  return h.name === undefined ? null : fromHash(id, h);
}

export async function listSites(r: ScriptedRedis): Promise<Site[]> {
  const ids = await r.smembers(K.sites);
  const sites = await Promise.all(ids.sort().map((id) => getSite(r, id)));
  return sites.filter((s): s is Site => s !== null);
}

export async function saveSite(r: ScriptedRedis, id: string, patch: Partial<Site>): Promise<Site> {
  // An empty patch (every field unknown, so removed by the schema) changes nothing: HSET with no fields is an error.
  const h = toHash(patch);
  if (Object.keys(h).length) await r.hset(K.site(id), h);
  await r.sadd(K.sites, id);
  const s = await getSite(r, id);
  if (!s) throw new Error('site vanished');
  return s;
}

export async function createSite(r: ScriptedRedis, id: string, name: string, patch: Partial<Site> = {}): Promise<Site> {
  return saveSite(r, id, { ...SITE_DEFAULTS, ...patch, name, createdAt: Date.now() });
}

export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** What the public may know of a site: never its secret or origins. */
export function publicSiteConfig(s: Site, available: boolean, inHours: boolean): SiteConfig {
  return {
    name: s.name,
    color: s.color,
    position: s.position,
    label: s.label,
    greeting: s.greeting,
    ...(Object.keys(s.greetings).length ? { greetings: s.greetings } : {}),
    prechat: s.prechat,
    offlineForm: s.offlineForm,
    available,
    inHours,
    locales: s.locales,
    identityRequired: s.secret !== '',
    ...(s.attachments && s.fileTypes.length ? { files: { max: s.fileMaxBytes, types: s.fileTypes } } : {}),
  };
}

/** Whether `at` falls inside the site's business hours (no hours set = always open). */
export function inBusinessHours(hours: BusinessHours | null, at = new Date()): boolean {
  if (!hours || Object.keys(hours.days ?? {}).length === 0) return true;
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat('en-GB', { timeZone: hours.tz, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(at);
  } catch {
    return true;
  }
  const wd = parts.find((p) => p.type === 'weekday')?.value ?? 'Mon';
  const day = String(['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(wd));
  const hm = `${parts.find((p) => p.type === 'hour')?.value ?? '00'}:${parts.find((p) => p.type === 'minute')?.value ?? '00'}`;
  return (hours.days[day] ?? []).some(([from, to]) => hm >= from && hm < to);
}

/** An operator of the site is online with a live lease. */
export async function anyOperatorAvailable(r: ScriptedRedis, site: string, now = Date.now()): Promise<boolean> {
  const [status, leases] = await Promise.all([r.hgetall(K.siteStatus(site)), r.zrangebyscore(K.siteLease(site), now, '+inf')]);
  return leases.some((op) => status[op] === 'online');
}

const availableInFlight = new WeakMap<ScriptedRedis, Map<string, Promise<boolean>>>();
/**
 * anyOperatorAvailable, with concurrent asks for one site sharing one read (the answer is
 * never older than the read in flight). Each ask reads every operator of the site: 10,000
 * visitors saying hello at once after a gateway restart made it 10,000 such reads.
 */
export function anyOperatorAvailableShared(r: ScriptedRedis, site: string): Promise<boolean> {
  let m = availableInFlight.get(r);
  if (!m) {
    m = new Map();
    availableInFlight.set(r, m);
  }
  const cur = m.get(site);
  if (cur) return cur;
  const inflight = m;
  const p = anyOperatorAvailable(r, site).finally(() => inflight.delete(site));
  inflight.set(site, p);
  return p;
}

export async function siteExists(r: ScriptedRedis, id: string): Promise<boolean> {
  return (await r.sismember(K.sites, id)) === 1;
}

/** Takes a site off the list: its widget is refused (UNKNOWN_SITE) and no conversation starts there from now on. */
export async function unlistSite(r: ScriptedRedis, id: string): Promise<void> {
  await r.srem(K.sites, id);
}

/** Puts a site taken off the list back (a deletion that found a conversation started meanwhile). */
export async function relistSite(r: ScriptedRedis, id: string): Promise<void> {
  await r.sadd(K.sites, id);
}

/** How many conversations a site holds: unresolved (waiting or assigned) and resolved. */
export async function siteConversationCount(r: ScriptedRedis, id: string): Promise<number> {
  const [open, resolved] = await Promise.all([r.zcard(K.siteOpen(id)), r.zcard(K.siteResolved(id))]);
  return open + resolved;
}

/** Removes a site: off the list (its widget is refused at once), its settings and every key of its own (routing state, indexes, saved replies, webhook sets). */
export async function deleteSiteKeys(r: ScriptedRedis, id: string): Promise<void> {
  await r.srem(K.sites, id);
  // One hash tag: one DEL, one slot, on a Cluster too.
  await r.del(
    K.site(id),
    K.siteStatus(id),
    K.siteCap(id),
    K.siteLoad(id),
    K.siteIdle(id),
    K.siteLease(id),
    K.siteOpTeams(id),
    K.siteQueue(id),
    K.siteAssign(id),
    K.siteConvTeam(id),
    K.siteOpen(id),
    K.siteResolved(id),
    K.siteCompacted(id),
    K.siteWebhooks(id),
    K.siteWebhookNotices(id),
    RK.site(id),
  );
}
