import { availableParallelism } from 'node:os';
import type { S3Settings } from './store/blobs';

/** Most gateway processes `pnpm start` runs (HARK_WORKERS): far above any core count it is meant for, low enough that a typo cannot fork-bomb the machine. */
export const MAX_WORKERS = 64;

// How main.ts supervises its worker processes:
/** A worker that dies within this long of its start counts as crashing: the next one waits (below). */
export const WORKER_FAST_EXIT_MS = 5_000;
/** Wait before replacing a crashing worker: doubles per consecutive fast exit, from this… */
export const WORKER_RESPAWN_BASE_MS = 100;
/** …up to this, so a worker that cannot start does not spin the machine. */
export const WORKER_RESPAWN_CAP_MS = 5_000;
/**
 * The consumer worker's nice value (HARK_CONSUMER_WORKER): the kernel runs the gateways' chat path
 * before the event log's work (search index, reports, stats, mail, webhooks) on a busy core.
 */
export const CONSUMER_WORKER_NICE = 10;
/** On SIGTERM/SIGINT the primary waits this long for the workers to drain, then kills what is left. */
export const WORKER_STOP_TIMEOUT_MS = 15_000;

/** Every setting the gateway reads from the environment. The README lists each. */
export interface Config {
  /** HARK_WORKERS: gateway processes `pnpm start` runs on the one port (main.ts); default one per core. */
  workers: number;
  /**
   * HARK_CONSUMER_WORKER: with several workers, the event log's consumers and the jobs run in one
   * more process of their own at CONSUMER_WORKER_NICE, not in the gateways (default: on when
   * HARK_WORKERS > 1; 0 runs them in every gateway).
   */
  consumerWorker: boolean;
  port: number;
  host: string;
  redisUrl: string | undefined;
  clusterNodes: string[] | undefined;
  dataDir: string;
  adminEmail: string | undefined;
  adminPassword: string | undefined;
  /** Public origin of the gateway (for the console's CSRF/origin check) when behind a proxy. */
  publicOrigin: string | undefined;
  /** 'everysec' | 'always' | 'replica': how acknowledged writes are made durable. */
  durability: 'everysec' | 'always' | 'replica';
  logLevel: string;
  /** LOG_FORMAT: 'pretty' (one readable line per record; the default in a terminal) or 'json' (one object per line; the default otherwise, and with NODE_ENV=production). */
  logFormat: 'pretty' | 'json';
  /** Resolved conversations older than this are compacted (stream packed into one deflated key); 0 = never. */
  compactAfterMs: number;
  /** Bearer token GET /metrics requires (METRICS_TOKEN); unset = see metricsPort. */
  metricsToken: string | undefined;
  /**
   * Serve /metrics on its own listener on this port (METRICS_PORT, same HOST) and not on the main one.
   * With neither it nor metricsToken, /metrics on the main port answers loopback clients only.
   */
  metricsPort: number | undefined;
  /** WEBHOOKS_ALLOW_PRIVATE=1: webhooks may target loopback, private and link-local addresses (off: refused, SSRF). */
  webhooksAllowPrivate: boolean;
  /** HARK_RETENTION_DAYS: conversations whose last activity is older than this are erased by the retention job (domain/privacy.ts); 0 = kept for ever (the default). */
  retentionMs: number;
  /** SMTP_URL: outbound mail through this SMTP server (nodemailer URL, e.g. smtps://user:pass@smtp.example.com); unset = the local mailbox (domain/mail.ts). */
  smtpUrl: string | undefined;
  /** MAIL_FROM: the sender address of every e-mail (default hark@MAIL_DOMAIN). */
  mailFrom: string | undefined;
  /** MAIL_DOMAIN: the domain of reply addresses and Message-IDs (default MAIL_FROM's domain, else localhost). */
  mailDomain: string | undefined;
  /** SMTP_INBOUND_PORT: the built-in SMTP listener for replies on this port (same HOST); unset = off. */
  smtpInboundPort: number | undefined;
  /** MAIL_INBOUND_SECRET: the bearer secret of POST /v1/mail/inbound (a provider's inbound hook); unset = the route is off. */
  mailInboundSecret: string | undefined;
  /** MAIL_AWAY_SECONDS: a visitor is away (answers go by e-mail) once their last socket closed this long ago. */
  mailAwayMs?: number;
  /** MAIL_BATCH_SECONDS: an operator's messages within this window go out as one e-mail. */
  mailBatchMs?: number;
  /** Where attachments' bytes go: the local disk under DATA_DIR/files (default), or an S3-compatible bucket (FILES_S3_BUCKET set). */
  filesS3: S3Settings | undefined;
  /** FILES_URL_SECRET: the key download URLs are signed with; unset, one is made once and kept in Redis (shared by every gateway). */
  filesUrlSecret: string | undefined;
}

function s3Config(env: NodeJS.ProcessEnv): S3Settings | undefined {
  const bucket = env.FILES_S3_BUCKET;
  if (!bucket) return undefined;
  const accessKeyId = env.FILES_S3_ACCESS_KEY_ID ?? env.AWS_ACCESS_KEY_ID ?? '';
  const secretAccessKey = env.FILES_S3_SECRET_ACCESS_KEY ?? env.AWS_SECRET_ACCESS_KEY ?? '';
  if (!accessKeyId || !secretAccessKey) throw new Error('FILES_S3_BUCKET needs FILES_S3_ACCESS_KEY_ID and FILES_S3_SECRET_ACCESS_KEY');
  const endpoint = env.FILES_S3_ENDPOINT || undefined;
  return {
    ...(endpoint ? { endpoint } : {}),
    region: env.FILES_S3_REGION || 'us-east-1',
    bucket,
    accessKeyId,
    secretAccessKey,
    // A custom endpoint (MinIO, Ceph, Garage…) usually wants path-style URLs.
    forcePathStyle: env.FILES_S3_PATH_STYLE ? env.FILES_S3_PATH_STYLE === '1' : !!endpoint,
    prefix: env.FILES_S3_PREFIX ?? '',
  };
}

function seconds(name: string, v: string | undefined): number | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > 24 * 3600) throw new Error(`${name} must be a number of seconds, 0 to 86400 (got "${v}")`);
  return n * 1000;
}

function metricsPort(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`METRICS_PORT must be a port number (got "${v}")`);
  return n;
}

function portNumber(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name} must be a port number (got "${v}")`);
  return n;
}

function logFormat(env: NodeJS.ProcessEnv, tty: boolean): 'pretty' | 'json' {
  const v = env.LOG_FORMAT;
  if (v === 'pretty' || v === 'json') return v;
  if (v) throw new Error(`LOG_FORMAT must be pretty or json (got "${v}")`);
  return tty && env.NODE_ENV !== 'production' ? 'pretty' : 'json';
}

function workers(v: string | undefined): number {
  if (v === undefined || v.trim() === '') return Math.min(MAX_WORKERS, availableParallelism());
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > MAX_WORKERS) throw new Error(`HARK_WORKERS must be a whole number from 1 to ${MAX_WORKERS} (got "${v}")`);
  return n;
}

function consumerWorker(v: string | undefined, n: number): boolean {
  if (v === undefined || v.trim() === '') return n > 1;
  if (v === '1' || v === '0') return v === '1' && n > 1;
  throw new Error(`HARK_CONSUMER_WORKER must be 1 or 0 (got "${v}")`);
}

function retentionDays(v: string | undefined): number {
  if (v === undefined || v.trim() === '') return 0;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`HARK_RETENTION_DAYS must be a number of days, 0 or more (got "${v}")`);
  return n;
}

/** `tty`: whether standard output is a terminal (the default log format follows it). */
export function readConfig(env: NodeJS.ProcessEnv = process.env, tty = process.stdout.isTTY === true): Config {
  const durability = env.HARK_DURABILITY ?? 'everysec';
  if (durability !== 'everysec' && durability !== 'always' && durability !== 'replica') {
    throw new Error(`HARK_DURABILITY must be everysec, always or replica (got "${durability}")`);
  }
  return {
    workers: workers(env.HARK_WORKERS),
    consumerWorker: consumerWorker(env.HARK_CONSUMER_WORKER, workers(env.HARK_WORKERS)),
    port: Number(env.PORT ?? 8080),
    host: env.HOST ?? '127.0.0.1',
    redisUrl: env.REDIS_URL || undefined,
    clusterNodes: env.REDIS_CLUSTER_NODES ? env.REDIS_CLUSTER_NODES.split(',').map((s) => s.trim()).filter(Boolean) : undefined,
    dataDir: env.DATA_DIR ?? '.hark-data',
    adminEmail: env.ADMIN_EMAIL || undefined,
    adminPassword: env.ADMIN_PASSWORD || undefined,
    publicOrigin: env.PUBLIC_ORIGIN || undefined,
    durability,
    logLevel: env.LOG_LEVEL ?? 'info',
    logFormat: logFormat(env, tty),
    compactAfterMs: Math.max(0, Number(env.HARK_COMPACT_AFTER_DAYS ?? 30)) * 24 * 3600_000,
    metricsToken: env.METRICS_TOKEN || undefined,
    metricsPort: metricsPort(env.METRICS_PORT),
    webhooksAllowPrivate: env.WEBHOOKS_ALLOW_PRIVATE === '1',
    retentionMs: retentionDays(env.HARK_RETENTION_DAYS) * 24 * 3600_000,
    filesS3: s3Config(env),
    filesUrlSecret: env.FILES_URL_SECRET || undefined,
    smtpUrl: env.SMTP_URL || undefined,
    mailFrom: env.MAIL_FROM || undefined,
    mailDomain: env.MAIL_DOMAIN || undefined,
    smtpInboundPort: env.SMTP_INBOUND_PORT && env.SMTP_INBOUND_PORT !== 'off' ? portNumber('SMTP_INBOUND_PORT', env.SMTP_INBOUND_PORT) : undefined,
    mailInboundSecret: env.MAIL_INBOUND_SECRET || undefined,
    mailAwayMs: seconds('MAIL_AWAY_SECONDS', env.MAIL_AWAY_SECONDS),
    mailBatchMs: seconds('MAIL_BATCH_SECONDS', env.MAIL_BATCH_SECONDS),
  };
}
