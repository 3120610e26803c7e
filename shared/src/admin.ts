/** Shapes of the admin REST API that the gateway and the console both use. Types only. */
import type { Role } from './protocol';

export interface BusinessHours {
  tz: string;
  /** Day ("0" = Sunday … "6") → open intervals ["HH:MM", "HH:MM"]; an empty object means always open. */
  days: Record<string, [string, string][]>;
}

/** A site's settings, as an admin edits them. Its id is the site key of the script tag. */
export interface SiteSettings {
  id: string;
  name: string;
  origins: string[];
  color: string;
  position: 'right' | 'left';
  label: string;
  greeting: string;
  /** The greeting per language code (en, hr, ru, any of the site's locales); a language without one shows `greeting`. */
  greetings: Record<string, string>;
  locales: string[];
  hours: BusinessHours | null;
  prechat: boolean;
  offlineForm: boolean;
  unansweredMs: number;
  /** All chats of the site go to this team ('' = anyone). */
  team: string;
  /** Operators may see what a visitor is typing before they send it. */
  typingPreview: boolean;
  /** When an operator goes offline, their open chats return to the queue. */
  requeueOnOffline: boolean;
  /** Visitor messages per second for the whole site, all gateways together (default SITE_MSGS_PER_SEC). */
  msgsPerSec: number;
  /** Visitors and operators may attach files. */
  attachments: boolean;
  /** Largest attachment in bytes (default DEFAULT_FILE_MAX_BYTES, at most MAX_FILE_BYTES). */
  fileMaxBytes: number;
  /** Types allowed, as decided from the bytes (a subset of KNOWN_FILE_TYPES). */
  fileTypes: string[];
  /** Where offline messages are e-mailed ([] = the site's active operators). */
  notifyEmails: string[];
  /** The language of the team's e-mail notifications (the console's: en, hr, ru). */
  mailLang: 'en' | 'hr' | 'ru';
}

/** An operator account as the admin API shows it (never the password hash). */
export interface OperatorAccount {
  id: string;
  email: string;
  name: string;
  avatar?: string;
  role: Role;
  capacity: number;
  sites: string[];
  teams: string[];
  active: boolean;
}

/** A webhook endpoint of a site as the REST API shows it (never its secret). */
export interface WebhookView<Type extends string = string> {
  id: string;
  site: string;
  url: string;
  events: Type[] | 'all';
  description: string;
  enabled: boolean;
  createdAt: number;
  /** Why the delivery job disabled it (null: enabled, or disabled by an admin). */
  disabledReason: string | null;
  disabledAt: number | null;
  /** First failed attempt since the last success. */
  failingSince: number | null;
  /** After a rotation, the old secret keeps signing beside the new one until then. */
  previousSecretUntil: number | null;
}

/** A notice for the site's admins: an endpoint the delivery job disabled. */
export interface WebhookNotice {
  endpoint: string;
  url: string;
  reason: string;
  at: number;
}

/** One delivery of an event to an endpoint (its log). `pending` includes waiting for a retry. */
export interface WebhookDeliveryView {
  id: string;
  eventId: string;
  type: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
  lastStatus: number | null;
  responseExcerpt: string | null;
  durationMs: number | null;
  nextRetryAt: number | null;
  lastAttemptAt: number | null;
  error: string | null;
  truncated: boolean;
  createdAt: number;
}

/** One e-mail in a site's mail log (GET /v1/sites/:site/mail). */
export interface MailView {
  id: string;
  kind: 'notify' | 'reply' | 'transcript' | 'inbound';
  conv: string;
  /** Recipients (outbound) or the sender (inbound). */
  to: string;
  from: string;
  subject: string;
  text: string;
  state: 'pending' | 'sent' | 'local' | 'failed' | 'skipped' | 'received' | 'refused';
  attempts: number;
  error: string | null;
  createdAt: number;
  lastAt: number | null;
  nextAt: number | null;
  sentAt: number | null;
}

/** A conversation's e-mail state for its operators (GET /v1/conversations/:id/mail). */
export interface ConvMailStatus {
  /** The visitor's known address (null: none, so no transcript or answers by e-mail). */
  email: string | null;
  /** Why mail to it bounces (null: it does not). */
  bounced: string | null;
}

/** A report (GET /v1/reports; server/src/domain/reports.ts builds it, the console draws it). */
export interface ReportNumbers {
  conversations: number;
  missed: number;
  offlineMessages: number;
  messages: number;
  messagesPerChat: number | null;
  firstResponseMedianMs: number | null;
  firstResponseP90Ms: number | null;
  resolutionMedianMs: number | null;
  resolutionP90Ms: number | null;
  good: number;
  bad: number;
  goodPct: number | null;
  withComment: number;
  transfers: number;
  operatorHoursOnline: number;
}

export interface ReportDay {
  day: string;
  numbers: ReportNumbers;
}

export interface Report {
  site: string;
  tz: string;
  scope: { kind: 'site' | 'team' | 'operator'; id: string };
  from: string;
  to: string;
  totals: ReportNumbers;
  previous: { from: string; to: string; totals: ReportNumbers };
  days: ReportDay[];
  /** [weekday 0 = Sunday][hour]: conversations started, and operator-hours online, in the range. */
  heat: { incoming: number[][]; online: number[][] };
  /** For an operator's own report: their teams' medians of the same numbers (null without teammates). */
  teamMedian?: Pick<ReportNumbers, 'conversations' | 'firstResponseMedianMs' | 'resolutionMedianMs' | 'goodPct'> | null;
}

export interface ReportQuery {
  site: string;
  from: string;
  to: string;
  team?: string;
  operator?: string;
}
