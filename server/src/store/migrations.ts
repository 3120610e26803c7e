/**
 * Data migrations. A change to what the gateway keeps in Redis ships a migration
 * here; it runs once, at start, before the gateway serves anything.
 *
 * - `hark:schema` (string) is the version of the data in Redis. Absent = 1: the
 *   data written by the code from before migrations existed. Set after each
 *   migration, so a crash leaves it at the last one that finished.
 * - One gateway migrates: it holds `hark:schema:lock` (SET NX PX, renewed while it
 *   runs). The others poll until the version reaches theirs, at most
 *   MIGRATION_WAIT_MS, then fail to start with a clear error. A lock whose holder
 *   died lapses after MIGRATION_LOCK_MS and the next gateway takes over.
 * - A Redis at a NEWER version than the code refuses to start: no downgrades.
 * - Every migration is idempotent (a crash mid-way re-runs it from the start) and
 *   finds its keys with SCAN on every master, never KEYS.
 *
 * Adding one: append `{ to: SCHEMA_VERSION + 1, name, run }` to MIGRATIONS.
 * SCHEMA_VERSION follows (it is the last migration's `to`).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { MAX_ATTR_KEY, MAX_ATTR_VALUE, MAX_ATTRS, MAX_VISITOR_EMAIL, MAX_VISITOR_NAME } from '@hark/shared';
import type { Cluster, Redis } from 'ioredis';
import { AVATAR_PATH_RE, checkAvatarDataUrl, putAvatar } from './avatars';
import { K } from './keys';
import { EVENT_PARTITIONS, EVK, LUA_CMP_IDS } from './event-log';
import { BACKFILL_KEY } from './search';

// To move to shared/src/limits.ts beside MAX_VISITOR_NAME and MAX_VISITOR_EMAIL.
/** Longest page URL (and referrer) kept for a visitor. */
export const MAX_PAGE_URL = 2048;
/** Longest page title kept for a visitor. */
export const MAX_PAGE_TITLE = 300;

export const SCHEMA_KEY = 'hark:schema';
export const SCHEMA_LOCK_KEY = 'hark:schema:lock';
/** The migration lock lapses this long after its last renewal (its holder renews it every third of it). */
export const MIGRATION_LOCK_MS = 30_000;
/** How long a gateway waits for another one's migration before refusing to start. */
export const MIGRATION_WAIT_MS = 5 * 60_000;
/** How often a waiting gateway looks at the version again. */
export const MIGRATION_POLL_MS = 250;
/** Keys asked for per SCAN call. */
export const SCAN_COUNT = 500;

export type MigrationRedis = Redis | Cluster;

/** What a migration logs with: Fastify's `app.log` (pino) and `console` both fit. */
export interface MigrationLog {
  info(msg: string): void;
  warn(msg: string): void;
}

/** Handed to a running migration: `check()` throws once this gateway has lost the lock. Call it between batches. */
export interface MigrationGuard {
  check(): void;
}

export interface Migration {
  /** The version the data is at once this has run. */
  to: number;
  name: string;
  run(cmd: MigrationRedis, log: MigrationLog, guard: MigrationGuard): Promise<void>;
}

// ---------------------------------------------------------------- helpers for migrations

/**
 * Every key matching `pattern` (SCAN MATCH, optionally TYPE), batch by batch, on every
 * master of a Cluster or on the one Redis. A key may come twice (SCAN's guarantee is
 * "at least once"): migrations are idempotent.
 */
export async function scanKeys(cmd: MigrationRedis, pattern: string, onBatch: (keys: string[]) => Promise<void>, opts: { type?: string; guard?: MigrationGuard } = {}): Promise<void> {
  const nodes: Redis[] = cmd.isCluster ? (cmd as Cluster).nodes('master') : [cmd as Redis];
  // A Cluster client knows its nodes once it has the slot map (after its first command went through).
  if (!nodes.length) throw new Error('scanKeys: the Redis Cluster client knows no master yet');
  for (const node of nodes) {
    let cursor = '0';
    do {
      opts.guard?.check();
      const args: (string | number)[] = [cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT];
      if (opts.type) args.push('TYPE', opts.type);
      const [next, keys] = (await node.call('SCAN', ...args)) as [string, string[]];
      cursor = next;
      if (keys.length) await onBatch(keys);
    } while (cursor !== '0');
  }
}

/** `s` cut to `max` UTF-16 code units, never splitting a surrogate pair. */
export function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  const last = s.charCodeAt(max - 1);
  return s.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

/**
 * Compare-and-set on one hash: every field still is as it was read (present with that value,
 * or absent), then the changes apply; else nothing changes (0). One key: runs on a Cluster too.
 * ARGV: per field five values: field, '1' read present | '0' read absent, value read,
 * 's' (set) | 'd' (delete), new value.
 */
const HASH_CAS = `
for i = 1, #ARGV, 5 do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  if ARGV[i + 1] == '0' then
    if cur then return 0 end
  elseif cur ~= ARGV[i + 2] then
    return 0
  end
end
for i = 1, #ARGV, 5 do
  if ARGV[i + 3] == 'd' then redis.call('HDEL', KEYS[1], ARGV[i]) else redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 4]) end
end
return 1
`;

/** A change to some fields of a hash: new values, and fields to remove. */
export interface HashChange {
  set: Record<string, string>;
  del: string[];
}

/**
 * Reads `fields` of the hash at `key`, asks `change` what to write (it may only touch those
 * fields), and writes it only if none of them changed meanwhile (a gateway of the previous
 * version may still be writing during a rolling deploy); re-reads and retries when one did.
 * Returns whether it wrote; null when it gave up after `tries` conflicts.
 */
export async function rewriteHash(cmd: MigrationRedis, key: string, fields: string[], change: (h: Record<string, string | undefined>) => HashChange | null, tries = 5): Promise<boolean | null> {
  for (let i = 0; i < tries; i++) {
    const vals = await cmd.hmget(key, ...fields);
    const h: Record<string, string | undefined> = {};
    fields.forEach((f, j) => {
      h[f] = vals[j] ?? undefined;
    });
    const c = change(h);
    if (!c || (Object.keys(c.set).length === 0 && c.del.length === 0)) return false;
    const argv: string[] = [];
    const was = (f: string) => {
      if (!fields.includes(f)) throw new Error(`rewriteHash(${key}): field ${f} was not read`);
      const v = h[f];
      return v === undefined ? [f, '0', ''] : [f, '1', v];
    };
    for (const [f, v] of Object.entries(c.set)) argv.push(...was(f), 's', v);
    for (const f of c.del) argv.push(...was(f), 'd', '');
    if ((await cmd.eval(HASH_CAS, 1, key, ...argv)) === 1) return true;
  }
  return null;
}

// ---------------------------------------------------------------- migration 2: visitor-record-caps

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

function parse(s: string): { ok: true; v: Json } | { ok: false } {
  try {
    return { ok: true, v: JSON.parse(s) as Json };
  } catch {
    return { ok: false };
  }
}

const isObject = (v: Json): v is { [k: string]: Json } => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A visitor's attrs JSON within the caps: its first MAX_ATTRS keys, each key cut to
 * MAX_ATTR_KEY (a key that collides with an earlier one once cut is dropped), string
 * values cut to MAX_ATTR_VALUE (a nested object or array, which the protocol never
 * allowed, becomes its JSON text, cut). Unparseable or not an object: `{}`.
 * Returns null when the attrs are within the caps already (nothing to write).
 */
export function capAttrs(raw: string): string | null {
  const p = parse(raw);
  if (!p.ok || !isObject(p.v)) return '{}';
  const entries = Object.entries(p.v);
  let changed = entries.length > MAX_ATTRS;
  const out: Record<string, Json> = {};
  for (const [k0, v0] of entries.slice(0, MAX_ATTRS)) {
    const k = cut(k0, MAX_ATTR_KEY);
    if (k !== k0) changed = true;
    if (Object.hasOwn(out, k)) {
      changed = true;
      continue;
    }
    let v = v0;
    if (typeof v === 'object' && v !== null) {
      v = JSON.stringify(v);
      changed = true;
    }
    if (typeof v === 'string' && v.length > MAX_ATTR_VALUE) {
      v = cut(v, MAX_ATTR_VALUE);
      changed = true;
    }
    out[k] = v;
  }
  return changed ? JSON.stringify(out) : null;
}

/**
 * A visitor's page JSON within the caps: url and referrer cut to MAX_PAGE_URL, title to
 * MAX_PAGE_TITLE. 'del' when it is unparseable or not an object; null when within the caps.
 */
export function capPage(raw: string): string | 'del' | null {
  const p = parse(raw);
  if (!p.ok || !isObject(p.v)) return 'del';
  const page = { ...p.v };
  let changed = false;
  for (const [f, max] of [
    ['url', MAX_PAGE_URL],
    ['title', MAX_PAGE_TITLE],
    ['referrer', MAX_PAGE_URL],
  ] as const) {
    const v = page[f];
    if (typeof v === 'string' && v.length > max) {
      page[f] = cut(v, max);
      changed = true;
    }
  }
  return changed ? JSON.stringify(page) : null;
}

/** The change that brings one visitor record (`{vis:ID}:info`) within the caps, or null. */
export function capVisitorRecord(h: Record<string, string | undefined>): HashChange | null {
  const c: HashChange = { set: {}, del: [] };
  if (h.name !== undefined && h.name.length > MAX_VISITOR_NAME) c.set.name = cut(h.name, MAX_VISITOR_NAME);
  if (h.email !== undefined && h.email.length > MAX_VISITOR_EMAIL) c.set.email = cut(h.email, MAX_VISITOR_EMAIL);
  if (h.attrs !== undefined) {
    const a = capAttrs(h.attrs);
    if (a !== null) c.set.attrs = a;
  }
  if (h.page !== undefined) {
    const p = capPage(h.page);
    if (p === 'del') c.del.push('page');
    else if (p !== null) c.set.page = p;
  }
  return Object.keys(c.set).length || c.del.length ? c : null;
}

/** The key pattern of visitor records: `K.visitor(id)` in keys.ts. */
export const VISITOR_INFO_PATTERN = '{vis:*}:info';

const visitorRecordCaps: Migration = {
  to: 2,
  name: 'visitor-record-caps',
  async run(cmd, log, guard) {
    let seen = 0;
    let trimmed = 0;
    let conflicts = 0;
    await scanKeys(
      cmd,
      VISITOR_INFO_PATTERN,
      async (keys) => {
        seen += keys.length;
        const done = await Promise.all(keys.map((k) => rewriteHash(cmd, k, ['name', 'email', 'attrs', 'page'], capVisitorRecord)));
        for (const [i, d] of done.entries()) {
          if (d) trimmed++;
          if (d === null) {
            conflicts++;
            log.warn(`migration visitor-record-caps: ${keys[i]} kept changing under it; left as it is`);
          }
        }
      },
      { type: 'hash', guard },
    );
    log.info(`migration visitor-record-caps: ${seen} visitor records scanned, ${trimmed} trimmed to the caps${conflicts ? `, ${conflicts} left (kept changing)` : ''}`);
  },
};

/** The site's assignments, found by SCAN (every site that ever assigned, listed or not). */
export const SITE_ASSIGN_PATTERN = '{site:*}:assign';

/**
 * Capacity became the operator's (ARCHITECTURE.md, Operator-wide capacity): every assignment is
 * backed by a seat in its operator's ledger ({op:O}:seats) whose token the site keeps
 * ({site:S}:seat). This gives each assignment the previous code made a token (`m-<conv>`, so a
 * re-run finds the same one) and its seat, so the operator-wide load starts from the truth.
 */
const operatorSeats: Migration = {
  to: 3,
  name: 'operator-seats',
  async run(cmd, log, guard) {
    let sites = 0;
    let assignments = 0;
    let added = 0;
    await scanKeys(
      cmd,
      SITE_ASSIGN_PATTERN,
      async (keys) => {
        for (const key of keys) {
          const site = key.slice('{site:'.length, key.indexOf('}'));
          sites++;
          for (const [conv, op] of Object.entries(await cmd.hgetall(key))) {
            guard.check();
            assignments++;
            await cmd.hsetnx(K.siteSeat(site), conv, `m-${conv}`);
            const token = await cmd.hget(K.siteSeat(site), conv);
            if (token && (await cmd.hsetnx(K.opSeats(op), token, JSON.stringify({ s: site, c: conv, at: Date.now() }))) === 1) added++;
          }
        }
      },
      { type: 'hash', guard },
    );
    log.info(`migration operator-seats: ${sites} sites, ${assignments} assignments, ${added} seats added to the operators' ledgers`);
  },
};

export const CONV_META_PATTERN = '{conv:*}:meta';

/**
 * Operators' photos become images served by the gateway (store/avatars.ts): each operator
 * record's `data:` avatar is checked and stored as an image, the record keeps its path (one
 * that fails the checks is removed, with a warning); every conversation record's `opAvatar`
 * copy of a `data:` URL becomes its operator's path (or goes). Old stream entries keep their
 * copies as written (a stream entry cannot be rewritten in place): readers strip `op.avatar` /
 * `to.avatar` from every entry they parse (store/conversations.ts), so none is ever sent again;
 * compaction drops them when it packs a resolved conversation; retention and erasure remove them
 * with their conversations.
 */
const operatorAvatars: Migration = {
  to: 4,
  name: 'operator-avatars',
  async run(cmd, log, guard) {
    const paths = new Map<string, string>();
    let stored = 0;
    let dropped = 0;
    for (const op of await cmd.smembers(K.operators)) {
      guard.check();
      const url = await cmd.hget(K.operator(op), 'avatar');
      // Already an image (a re-run after a crash): the conversations below still learn its path.
      if (url && AVATAR_PATH_RE.test(url)) paths.set(op, url);
      if (!url?.startsWith('data:')) continue;
      const c = checkAvatarDataUrl(url);
      // The image first (idempotent: its version is the bytes' hash), then the record, only if its avatar is still that upload.
      const path = c.ok ? await putAvatar(cmd, op, c.img, c.bytes) : '';
      const done = await rewriteHash(cmd, K.operator(op), ['avatar'], (h): HashChange | null => (h.avatar === url ? (path ? { set: { avatar: path }, del: [] } : { set: {}, del: ['avatar'] }) : null));
      if (!c.ok) {
        dropped++;
        log.warn(`migration operator-avatars: operator ${op}'s avatar is not a usable image (${c.code}); removed`);
      } else if (done) {
        stored++;
        paths.set(op, path);
      }
    }
    let metas = 0;
    let rewritten = 0;
    await scanKeys(
      cmd,
      CONV_META_PATTERN,
      async (keys) => {
        for (const key of keys) {
          metas++;
          const done = await rewriteHash(cmd, key, ['op', 'opAvatar'], (h): HashChange | null => {
            if (!h.opAvatar?.startsWith('data:')) return null;
            const path = h.op ? paths.get(h.op) ?? '' : '';
            return path ? { set: { opAvatar: path }, del: [] } : { set: {}, del: ['opAvatar'] };
          });
          if (done) rewritten++;
        }
      },
      { type: 'hash', guard },
    );
    log.info(`migration operator-avatars: ${stored} photos stored as images, ${dropped} unusable removed; ${metas} conversation records scanned, ${rewritten} rewritten`);
  },
};

/**
 * The search index (store/search.ts) is kept by a consumer of the event log, so conversations
 * written before it existed are in no index. This lists every site's open and resolved sets in
 * BACKFILL_KEY (a cursor each, from the start); the search-backfill job (jobs.ts, domain/search.ts
 * `backfill`) indexes them in bounded batches after the gateway serves, resuming from the cursors
 * after a restart. Cheap here (one write per site): the start is not held up by the indexing.
 */
const searchBackfill: Migration = {
  to: 5,
  name: 'search-backfill',
  async run(cmd, log) {
    const sites = await cmd.smembers(K.sites);
    // HSETNX: a re-run after a crash keeps the cursors the job has moved.
    for (const s of sites) {
      await cmd.hsetnx(BACKFILL_KEY, `${s}|open`, '');
      await cmd.hsetnx(BACKFILL_KEY, `${s}|resolved`, '');
    }
    log.info(`migration search-backfill: ${sites.length} sites' conversations queued for the search index`);
  },
};

/**
 * Migration 6: the event log's consumers read by a cursor after their done watermark, not
 * through consumer groups (store/event-log.ts). Each group the code before left on a partition's
 * stream is removed; first, if nothing is pending in it (every entry it handed out was acked),
 * the consumer's watermark is raised to the group's last-delivered id, so the new reader does not
 * read again what the group had passed over unwanted. With entries pending the watermark stays
 * where the last ack left it (the pending ones are after it, and are read and handled again:
 * at least once, as before). One script per group, atomic: a gateway of the code before that is
 * still running during a rolling upgrade reads on through a group it creates again (from the
 * start of the stream, skipping what is at or below the watermark), fenced by the same leases.
 */
const DROP_GROUP = `
${LUA_CMP_IDS}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local f = {}
  for i = 1, #g, 2 do f[g[i]] = g[i + 1] end
  if f['name'] == ARGV[1] then
    local raised = 0
    local last = f['last-delivered-id']
    if tonumber(f['pending']) == 0 and last ~= '0-0' then
      local done = redis.call('GET', KEYS[2])
      if not done or cmp(last, done) > 0 then
        redis.call('SET', KEYS[2], last)
        raised = 1
      end
    end
    redis.call('XGROUP', 'DESTROY', KEYS[1], ARGV[1])
    return 1 + raised
  end
end
return 0
`;

const eventLogCursors: Migration = {
  to: 6,
  name: 'event-log-cursors',
  async run(cmd, log, guard) {
    let dropped = 0;
    let raised = 0;
    let left = 0;
    for (let p = 0; p < EVENT_PARTITIONS; p++) {
      guard.check();
      const stream = EVK.stream(p);
      if ((await cmd.exists(stream)) === 0) continue;
      const groups = (await cmd.xinfo('GROUPS', stream)) as unknown[][];
      for (const g of groups) {
        const name = String(g[g.indexOf('name') + 1]);
        const r = Number(await cmd.eval(DROP_GROUP, 2, stream, EVK.done(p, name), name));
        if (r >= 1) dropped++;
        if (r === 2) raised++;
        if (r === 1 && Number(g[g.indexOf('pending') + 1]) > 0) left++;
      }
    }
    log.info(`migration event-log-cursors: ${dropped} consumer groups removed from the event log, ${raised} watermarks raised to their group's position${left ? `, ${left} groups had entries pending (read again from the watermark)` : ''}`);
  },
};

// ---------------------------------------------------------------- the list, and running it

/** Every migration, in order of `to`. */
export const MIGRATIONS: readonly Migration[] = [visitorRecordCaps, operatorSeats, operatorAvatars, searchBackfill, eventLogCursors];

/** The version of the data this code writes (and needs). */
export const SCHEMA_VERSION: number = checkMigrations(MIGRATIONS);

/** Throws unless the list goes 2, 3, 4… without a gap; returns its last version (1 when empty). */
export function checkMigrations(list: readonly Migration[]): number {
  list.forEach((m, i) => {
    if (m.to !== i + 2) throw new Error(`migrations out of order: #${i} (${m.name}) goes to ${m.to}, expected ${i + 2}`);
  });
  return list.at(-1)?.to ?? 1;
}

/** The version of the data in Redis (1 when `hark:schema` is absent). */
export async function schemaVersion(cmd: MigrationRedis): Promise<number> {
  const v = await cmd.get(SCHEMA_KEY);
  if (v === null) return 1;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`Redis key ${SCHEMA_KEY} holds '${v.slice(0, 40)}', not a schema version; fix or remove it (absent = version 1).`);
  return n;
}

function newerError(have: number, code: number): Error {
  return new Error(
    `Redis holds Hark data of schema version ${have}, newer than this gateway's ${code}: it was migrated by a newer gateway. Run that version (or newer); a gateway never downgrades data.`,
  );
}

/** Raises the version to `to`, never lowers it (two gateways finishing the same migration agree). */
const RAISE = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '1') or 1
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
`;
/** Renews the lock if it is still ours. */
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
/** Releases the lock if it is still ours. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export interface MigrateOptions {
  /** Default MIGRATION_WAIT_MS. */
  waitMs?: number;
  /** Default MIGRATION_LOCK_MS. */
  lockMs?: number;
  /** Default MIGRATION_POLL_MS. */
  pollMs?: number;
  /** Test-only: another list of migrations (its last `to` is then the target version). */
  migrations?: readonly Migration[];
}

export interface MigrateResult {
  /** The version found in Redis. */
  from: number;
  /** The version Redis is at now (SCHEMA_VERSION). */
  to: number;
  /** Names of the migrations this call ran (none when another gateway ran them, or nothing was due). */
  ran: string[];
  /** Time spent waiting for another gateway's migration. */
  waitedMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Brings the data in Redis to this code's schema version; call once at start, before the
 * gateway serves. Returns at once when it is there already. Throws (the gateway must not
 * start) when Redis is at a newer version, when a migration fails, or after `waitMs` spent
 * waiting for another gateway's migration.
 */
export async function migrate(cmd: MigrationRedis, log: MigrationLog, opts: MigrateOptions = {}): Promise<MigrateResult> {
  const list = opts.migrations ?? MIGRATIONS;
  const target = checkMigrations(list);
  const waitMs = opts.waitMs ?? MIGRATION_WAIT_MS;
  const lockMs = opts.lockMs ?? MIGRATION_LOCK_MS;
  const pollMs = opts.pollMs ?? MIGRATION_POLL_MS;
  const started = Date.now();
  let from = 0;
  let announced = false;
  for (;;) {
    const v = await schemaVersion(cmd);
    from ||= v;
    if (v > target) throw newerError(v, target);
    if (v === target) return { from, to: v, ran: [], waitedMs: Date.now() - started };
    const token = `${hostname()}/${process.pid}/${randomBytes(6).toString('base64url')}`;
    if ((await cmd.set(SCHEMA_LOCK_KEY, token, 'PX', lockMs, 'NX')) === 'OK') {
      const waitedMs = Date.now() - started;
      return { from, ...(await runLocked(cmd, log, list, target, token, lockMs)), waitedMs };
    }
    const waited = Date.now() - started;
    const holder = await cmd.get(SCHEMA_LOCK_KEY);
    if (!announced) {
      announced = true;
      log.info(`schema: Redis is at version ${v}, this gateway needs ${target}; waiting for ${holder ?? 'another gateway'} to migrate it`);
    }
    if (waited >= waitMs) {
      throw new Error(
        `Gave up after ${waited} ms waiting for another gateway (${holder ?? 'lock just released'}) to migrate Redis from schema version ${v} to ${target}. ` +
          `If no gateway is migrating, its lock ${SCHEMA_LOCK_KEY} lapses by itself within ${lockMs} ms; the next start migrates.`,
      );
    }
    await sleep(Math.min(pollMs, Math.max(1, waitMs - waited)));
  }
}

async function runLocked(cmd: MigrationRedis, log: MigrationLog, list: readonly Migration[], target: number, token: string, lockMs: number): Promise<{ to: number; ran: string[] }> {
  let lost: string | null = null;
  const guard: MigrationGuard = {
    check() {
      if (lost) throw new Error(`schema migration stopped: ${lost}`);
    },
  };
  const renew = setInterval(() => {
    cmd.eval(RENEW, 1, SCHEMA_LOCK_KEY, token, String(lockMs)).then(
      (ok) => {
        if (ok !== 1) lost ??= `this gateway no longer holds ${SCHEMA_LOCK_KEY} (it lapsed); another gateway may be migrating`;
      },
      (e: Error) => log.warn(`schema: could not renew ${SCHEMA_LOCK_KEY}: ${e.message}`),
    );
  }, Math.max(1, Math.floor(lockMs / 3)));
  const ran: string[] = [];
  try {
    // Read again under the lock: a gateway that held it a moment ago may have finished.
    const v = await schemaVersion(cmd);
    if (v > target) throw newerError(v, target);
    let at = v;
    for (const m of list) {
      if (m.to <= at) continue;
      guard.check();
      const t0 = Date.now();
      log.info(`schema: migration ${m.to} (${m.name}) running`);
      try {
        await m.run(cmd, log, guard);
        guard.check();
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        throw new Error(`Schema migration ${m.to} (${m.name}) failed; Redis stays at version ${at} and the next start runs it again: ${msg}`, { cause: e });
      }
      await cmd.eval(RAISE, 1, SCHEMA_KEY, String(m.to));
      at = m.to;
      ran.push(m.name);
      log.info(`schema: migration ${m.to} (${m.name}) done in ${Date.now() - t0} ms; Redis is at version ${m.to}`);
    }
    return { to: await schemaVersion(cmd), ran };
  } finally {
    clearInterval(renew);
    await cmd.eval(RELEASE, 1, SCHEMA_LOCK_KEY, token).catch(() => undefined);
  }
}

export interface MigrationsStatus {
  /** The version of the data in Redis. */
  version: number;
  /** The version this code needs (SCHEMA_VERSION). */
  target: number;
  /** Migrations still to run, in order. */
  pending: { to: number; name: string }[];
  /** Redis is ahead of this code: it will refuse to start. */
  newer: boolean;
  /** Who holds the migration lock, and for how much longer, if anyone does. */
  lock: { holder: string; ttlMs: number } | null;
}

/** Where the data stands against this code (for /readyz, an admin page or a CLI). */
export async function migrationsStatus(cmd: MigrationRedis, list: readonly Migration[] = MIGRATIONS): Promise<MigrationsStatus> {
  const target = checkMigrations(list);
  const [version, holder, ttl] = await Promise.all([schemaVersion(cmd), cmd.get(SCHEMA_LOCK_KEY), cmd.pttl(SCHEMA_LOCK_KEY)]);
  return {
    version,
    target,
    pending: list.filter((m) => m.to > version).map((m) => ({ to: m.to, name: m.name })),
    newer: version > target,
    lock: holder === null ? null : { holder, ttlMs: Math.max(0, ttl) },
  };
}
