/**
 * Mail (domain/mail.ts): the durable outbound queue, the mail log, reply batches, the
 * reply-address secret, visitors' sockets and failing addresses, inbound rate buckets.
 *
 *   {hark:mail}:due            zset  mail id -> ms it is due (pending mail only; the send job walks it)
 *   {hark:mail}:m:ID           hash  one e-mail (outbound or received): its record
 *   {hark:mail}:log:S          zset  mail id -> created ms: site S's mail log (capped)
 *   {hark:mail}:rb:C           string the id of conversation C's reply batch still open (expires with the window)
 *   {hark:mail}:secret         string the installation's secret for reply addresses (made once)
 *   {hark:mail}:bad:S          hash  address -> why it bounced (site S's failing visitor addresses)
 *   {hark:mail}:in:ADDR:HOUR   string inbound mail counted from one sender in one hour (expires)
 *   {hark:mail}:n:NAME:WINDOW  string a counter in a window (transcripts per visitor, per address; expires)
 *   {vis:V}:socks              hash  gateway -> the visitor's open sockets there; `gone` -> ms the last one closed
 *
 * Every mail key shares the hash tag {hark:mail}, so each step is one script on one slot
 * (mail is rare next to chat: one slot is plenty). A mail's id is derived from what it is
 * (the event that caused it and its recipient), and its record is created only if absent:
 * a redelivered event queues nothing twice. Finished records expire after a retention
 * time; pending ones never do.
 */
import type { ScriptedRedis } from '../redis/scripts';
import { K } from './keys';
import { num } from './util';
import { evalScript } from '../redis/eval';

export type MailKind = 'notify' | 'reply' | 'transcript' | 'inbound';
/**
 * pending: waiting to be sent (or retried); sent: accepted by the SMTP server; local: kept in the
 * local mailbox (no SMTP_URL); failed: retried until the window ended; skipped: not needed any more
 * (the visitor came back and read it); received: an inbound reply posted; refused: inbound, not posted.
 */
export type MailState = 'pending' | 'sent' | 'local' | 'failed' | 'skipped' | 'received' | 'refused';
const STATES: readonly MailState[] = ['pending', 'sent', 'local', 'failed', 'skipped', 'received', 'refused'];
const KINDS: readonly MailKind[] = ['notify', 'reply', 'transcript', 'inbound'];

export interface MailRecord {
  id: string;
  site: string;
  kind: MailKind;
  conv: string;
  /** Recipients (outbound) or the sender (inbound), comma-separated addresses. */
  to: string;
  from: string;
  subject: string;
  text: string;
  /** RFC 5322 Message-ID without the angle brackets: the idempotency key a receiver sees. */
  messageId: string;
  inReplyTo: string;
  state: MailState;
  attempts: number;
  createdAt: number;
  /** Start of the retry window (created, or a resend by hand). */
  first: number;
  nextAt: number | null;
  lastAt: number | null;
  sentAt: number | null;
  error: string | null;
  /** Kind-specific: the operator (reply), the language, the batch's first and last entry ids. */
  op: string;
  lang: string;
  since: string;
  until: string;
}

const K_ = {
  due: '{hark:mail}:due',
  mail: (id: string) => `{hark:mail}:m:${id}`,
  log: (site: string) => `{hark:mail}:log:${site}`,
  batch: (conv: string) => `{hark:mail}:rb:${conv}`,
  secret: '{hark:mail}:secret',
  bad: (site: string) => `{hark:mail}:bad:${site}`,
  inbound: (addr: string, hour: number) => `{hark:mail}:in:${addr}:${hour}`,
};
export const MK = K_;

function parseMail(id: string, h: Record<string, string>): MailRecord | null {
  if (!h.site || !h.kind) return null;
  const state = (STATES as readonly string[]).includes(h.state ?? '') ? (h.state as MailState) : 'pending';
  const n = (v: string | undefined) => (v === undefined || v === '' ? null : num(v));
  return {
    id,
    site: h.site,
    kind: (KINDS as readonly string[]).includes(h.kind) ? (h.kind as MailKind) : 'notify',
    conv: h.conv ?? '',
    to: h.to ?? '',
    from: h.from ?? '',
    subject: h.subject ?? '',
    text: h.text ?? '',
    messageId: h.messageId ?? '',
    inReplyTo: h.inReplyTo ?? '',
    state,
    attempts: num(h.attempts),
    createdAt: num(h.createdAt),
    first: num(h.first, num(h.createdAt)),
    nextAt: state === 'pending' ? n(h.next) : null,
    lastAt: n(h.lastAt),
    sentAt: n(h.sentAt),
    error: h.error || null,
    op: h.op ?? '',
    lang: h.lang ?? 'en',
    since: h.since ?? '',
    until: h.until ?? '',
  };
}

export type NewMail = Pick<MailRecord, 'id' | 'site' | 'kind' | 'conv' | 'to' | 'from' | 'subject' | 'text' | 'messageId' | 'inReplyTo' | 'op' | 'lang' | 'since' | 'until'> & {
  state?: MailState;
  error?: string;
};

function mailFields(m: NewMail, now: number, dueAt: number): string[] {
  const f: Record<string, string> = {
    site: m.site,
    kind: m.kind,
    conv: m.conv,
    to: m.to,
    from: m.from,
    subject: m.subject,
    text: m.text,
    messageId: m.messageId,
    inReplyTo: m.inReplyTo,
    op: m.op,
    lang: m.lang,
    since: m.since,
    until: m.until,
    state: m.state ?? 'pending',
    attempts: '0',
    createdAt: String(now),
    first: String(now),
  };
  if ((m.state ?? 'pending') === 'pending') f.next = String(dueAt);
  if (m.error) f.error = m.error;
  return Object.entries(f).flat();
}

/**
 * KEYS: record, due, log. ARGV: id, due ms, created ms, log max, retention ms (finished), then field, value…
 * Creates the record once (0 when it was there), puts a pending one in the due set, logs it, caps the log.
 */
const ENQUEUE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
if redis.call('HGET', KEYS[1], 'state') == 'pending' then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
local n = redis.call('ZCARD', KEYS[3])
local max = tonumber(ARGV[4])
if n > max then
  for _, old in ipairs(redis.call('ZRANGE', KEYS[3], 0, n - max - 1)) do
    if redis.call('HGET', '{hark:mail}:m:' .. old, 'state') ~= 'pending' then redis.call('DEL', '{hark:mail}:m:' .. old) end
  end
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, n - max - 1)
end
return 1
`;

/** Queues (or, with a final state, records) a mail once per id: false when it was there already. */
export async function enqueueMail(r: ScriptedRedis, m: NewMail, now: number, dueAt: number, logMax: number, retentionMs: number): Promise<boolean> {
  const res = await evalScript(r, ENQUEUE, 3, K_.mail(m.id), K_.due, K_.log(m.site), m.id, String(dueAt), String(now), String(logMax), String(retentionMs), ...mailFields(m, now, dueAt));
  return res === 1;
}

/**
 * KEYS: batch pointer, record, due, log. ARGV: new id, entry id, due ms, now, window ms, log max, retention, fields…
 * An operator's message for an away visitor: added to the conversation's open batch (its `until`
 * moves forward, never back), else a new batch is queued, due at the end of the window.
 * Returns the batch's id.
 */
const BATCH = `
local function after(a, b)
  local a1, a2 = string.match(a, '^(%d+)-(%d+)$')
  local b1, b2 = string.match(b, '^(%d+)-(%d+)$')
  if not a1 then return false end
  if not b1 then return true end
  a1, a2, b1, b2 = tonumber(a1), tonumber(a2), tonumber(b1), tonumber(b2)
  return a1 > b1 or (a1 == b1 and a2 > b2)
end
local cur = redis.call('GET', KEYS[1])
if cur then
  local key = '{hark:mail}:m:' .. cur
  if redis.call('HGET', key, 'state') == 'pending' and redis.call('HGET', key, 'sending') == false then
    if after(ARGV[2], redis.call('HGET', key, 'until') or '') then redis.call('HSET', key, 'until', ARGV[2]) end
    return cur
  end
end
if redis.call('EXISTS', KEYS[2]) == 1 then return ARGV[1] end
redis.call('HSET', KEYS[2], unpack(ARGV, 8))
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
local n = redis.call('ZCARD', KEYS[4])
local max = tonumber(ARGV[6])
if n > max then redis.call('ZREMRANGEBYRANK', KEYS[4], 0, n - max - 1) end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[5])
return ARGV[1]
`;

export async function batchReply(r: ScriptedRedis, m: NewMail, entry: string, now: number, windowMs: number, logMax: number): Promise<string> {
  const res = await evalScript(r, BATCH, 4, K_.batch(m.conv), K_.mail(m.id), K_.due, K_.log(m.site), m.id, entry, String(now + windowMs), String(now), String(windowMs), String(logMax), '0', ...mailFields(m, now, now + windowMs));
  return String(res);
}

/** Pending mail due at `now`, earliest first. */
export function dueMail(r: ScriptedRedis, now: number, limit: number): Promise<string[]> {
  return r.zrangebyscore(K_.due, '-inf', String(now), 'LIMIT', 0, limit);
}

export async function getMail(r: ScriptedRedis, id: string): Promise<MailRecord | null> {
  return parseMail(id, await r.hgetall(K_.mail(id)));
}

/**
 * KEYS: record, due. ARGV: id, owner, now, claim ms. Claims a due pending mail for one attempt:
 * 1 claimed; 0 not pending, not due, or claimed by another sender whose claim has not ended.
 * A sender killed mid-attempt leaves a claim that ends after `claim ms`: then it is tried again.
 */
const CLAIM = `
if redis.call('HGET', KEYS[1], 'state') ~= 'pending' then redis.call('ZREM', KEYS[2], ARGV[1]) return 0 end
local now = tonumber(ARGV[3])
if tonumber(redis.call('HGET', KEYS[1], 'next') or '0') > now then return 0 end
local claimed = tonumber(redis.call('HGET', KEYS[1], 'claimUntil') or '0')
if claimed > now then return 0 end
redis.call('HSET', KEYS[1], 'sending', ARGV[2], 'claimUntil', tostring(now + tonumber(ARGV[4])))
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[1])
return 1
`;

export async function claimMail(r: ScriptedRedis, id: string, owner: string, now: number, claimMs: number): Promise<boolean> {
  return (await evalScript(r, CLAIM, 2, K_.mail(id), K_.due, id, owner, String(now), String(claimMs))) === 1;
}

/** Fields fixed at the first attempt (the rendered mail), kept for every retry: written only by the claim's owner. */
export async function fixContent(r: ScriptedRedis, id: string, owner: string, fields: Record<string, string>): Promise<boolean> {
  const res = await r.eval(`if redis.call('HGET', KEYS[1], 'sending') ~= ARGV[1] then return 0 end redis.call('HSET', KEYS[1], unpack(ARGV, 2)) return 1`, 1, K_.mail(id), owner, ...Object.entries(fields).flat());
  return res === 1;
}

/**
 * KEYS: record, due. ARGV: id, owner, outcome (retry|sent|local|failed|skipped), now, next ms, retention ms, field, value…
 * Records an attempt by the claim's owner (a stale owner records nothing: 0).
 */
const FINISH = `
if redis.call('HGET', KEYS[1], 'sending') ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], 'sending', 'claimUntil')
if ARGV[3] ~= 'skipped' then redis.call('HINCRBY', KEYS[1], 'attempts', 1) end
redis.call('HSET', KEYS[1], 'lastAt', ARGV[4])
if #ARGV >= 7 then redis.call('HSET', KEYS[1], unpack(ARGV, 7)) end
if ARGV[3] == 'retry' then
  redis.call('HSET', KEYS[1], 'next', ARGV[5])
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
  return 1
end
redis.call('HSET', KEYS[1], 'state', ARGV[3])
redis.call('HDEL', KEYS[1], 'next')
if ARGV[3] == 'sent' or ARGV[3] == 'local' then redis.call('HSET', KEYS[1], 'sentAt', ARGV[4]) end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1
`;

export async function finishMail(
  r: ScriptedRedis,
  id: string,
  owner: string,
  outcome: 'retry' | 'sent' | 'local' | 'failed' | 'skipped',
  now: number,
  nextAt: number,
  retentionMs: number,
  fields: Record<string, string> = {},
): Promise<boolean> {
  const res = await evalScript(r, FINISH, 2, K_.mail(id), K_.due, id, owner, outcome, String(now), String(nextAt), String(retentionMs), ...Object.entries(fields).flat());
  return res === 1;
}

/** Gives a claimed mail back untried (the sender stops): due again at once. */
export async function releaseMail(r: ScriptedRedis, id: string, owner: string, now: number): Promise<void> {
  await r.eval(
    `if redis.call('HGET', KEYS[1], 'sending') ~= ARGV[2] then return 0 end
     redis.call('HDEL', KEYS[1], 'sending', 'claimUntil') redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1]) return 1`,
    2,
    K_.mail(id),
    K_.due,
    id,
    owner,
    String(now),
  );
}

/** Sends a failed mail again (a new retry window from now). False when unknown or not failed. */
export async function resendMail(r: ScriptedRedis, id: string, now: number): Promise<boolean> {
  const res = await r.eval(
    `if redis.call('HGET', KEYS[1], 'state') ~= 'failed' then return 0 end
     redis.call('PERSIST', KEYS[1])
     redis.call('HSET', KEYS[1], 'state', 'pending', 'first', ARGV[2], 'next', ARGV[2])
     redis.call('HDEL', KEYS[1], 'error')
     redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1]) return 1`,
    2,
    K_.mail(id),
    K_.due,
    id,
    String(now),
  );
  return res === 1;
}

/** The site's mail log, newest first (records expired since are dropped from the log). */
export async function listMail(r: ScriptedRedis, site: string, limit: number): Promise<MailRecord[]> {
  const ids = await r.zrevrange(K_.log(site), 0, limit - 1);
  const out: MailRecord[] = [];
  for (const id of ids) {
    const m = await getMail(r, id);
    if (m && m.site === site) out.push(m);
    else await r.zrem(K_.log(site), id);
  }
  return out;
}

/** The installation's secret for reply addresses: made once, the same on every gateway. */
export async function mailSecret(r: ScriptedRedis, fresh: string): Promise<string> {
  await r.set(K_.secret, fresh, 'NX');
  return (await r.get(K_.secret)) ?? fresh;
}

// ---------------------------------------------------------------- failing addresses

export async function markBounced(r: ScriptedRedis, site: string, address: string, reason: string, max: number): Promise<void> {
  const key = K_.bad(site);
  if ((await r.hlen(key)) >= max && !(await r.hexists(key, address))) return;
  await r.hset(key, address.toLowerCase(), JSON.stringify({ reason, at: Date.now() }));
}

export async function bouncedReason(r: ScriptedRedis, site: string, address: string): Promise<string | null> {
  const v = await r.hget(K_.bad(site), address.toLowerCase());
  if (!v) return null;
  try {
    const o = JSON.parse(v) as { reason?: unknown };
    return typeof o.reason === 'string' ? o.reason : 'bounced';
  } catch {
    return 'bounced';
  }
}

export async function listBounced(r: ScriptedRedis, site: string): Promise<{ address: string; reason: string; at: number }[]> {
  const h = await r.hgetall(K_.bad(site));
  const out: { address: string; reason: string; at: number }[] = [];
  for (const [address, v] of Object.entries(h)) {
    try {
      const o = JSON.parse(v) as { reason?: unknown; at?: unknown };
      out.push({ address, reason: typeof o.reason === 'string' ? o.reason : 'bounced', at: typeof o.at === 'number' ? o.at : 0 });
    } catch {
      out.push({ address, reason: 'bounced', at: 0 });
    }
  }
  return out.sort((a, b) => b.at - a.at);
}

export async function clearBounced(r: ScriptedRedis, site: string, address: string): Promise<void> {
  await r.hdel(K_.bad(site), address.toLowerCase());
}

// ---------------------------------------------------------------- erasure (domain/privacy.ts)

/** Deletes the site's mail of these conversations (sent, queued or received) and their reply batches. */
export async function purgeMail(r: ScriptedRedis, site: string, convs: readonly string[]): Promise<number> {
  if (convs.length === 0) return 0;
  const want = new Set(convs);
  const ids = await r.zrange(K_.log(site), 0, -1);
  let n = 0;
  for (let i = 0; i < ids.length; i += 200) {
    const batch = ids.slice(i, i + 200);
    const owners = await Promise.all(batch.map((id) => r.hget(K_.mail(id), 'conv')));
    for (const [j, id] of batch.entries()) {
      const c = owners[j];
      if (c === null || c === undefined || !want.has(c)) continue;
      await r.multi().del(K_.mail(id)).zrem(K_.due, id).zrem(K_.log(site), id).exec();
      n++;
    }
  }
  for (const c of convs) await r.del(K_.batch(c));
  return n;
}

// ---------------------------------------------------------------- inbound limits

/** Counts one inbound mail from `addr` in this hour; false once more than `max` came. */
export async function takeInbound(r: ScriptedRedis, addr: string, max: number, now = Date.now()): Promise<boolean> {
  const hour = Math.floor(now / 3600_000);
  const key = K_.inbound(addr.toLowerCase(), hour);
  const n = await r.incr(key);
  if (n === 1) await r.pexpire(key, 3600_000);
  return n <= max;
}

/** Counts one under `name` in the current window of `windowMs`; false once more than `max` were counted in it. */
export async function takeMailCounter(r: ScriptedRedis, name: string, max: number, windowMs: number, now = Date.now()): Promise<boolean> {
  const key = `{hark:mail}:n:${name}:${Math.floor(now / windowMs)}`;
  const n = await r.incr(key);
  if (n === 1) await r.pexpire(key, windowMs);
  return n <= max;
}

// ---------------------------------------------------------------- visitors' sockets

/** How long a visitor's socket count outlives its last change. */
const VISITOR_SOCKS_TTL_MS = 30 * 24 * 3600_000;

/** A visitor socket opened (+1) or closed (-1) on `gateway`. */
export async function visitorSocket(r: ScriptedRedis, visitor: string, gateway: string, delta: 1 | -1, now = Date.now()): Promise<void> {
  const key = K.visitorSockets(visitor);
  if (delta === 1) {
    // Expires like the count-down's (a gateway that died never counts its sockets down).
    await r.multi().hincrby(key, gateway, 1).pexpire(key, VISITOR_SOCKS_TTL_MS).exec();
    return;
  }
  await r.eval(
    // Nothing to count down once the key is gone (the visitor was erased while this socket was open):
    // never re-create it, it would name them.
    `if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
     local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
     if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
     redis.call('HSET', KEYS[1], 'gone', ARGV[2])
     redis.call('PEXPIRE', KEYS[1], ARGV[3]) return 1`,
    1,
    key,
    gateway,
    String(now),
    String(VISITOR_SOCKS_TTL_MS),
  );
}

/** Gateways with open sockets of the visitor, and when the last one closed (0: never). */
export async function visitorSockets(r: ScriptedRedis, visitor: string): Promise<{ gateways: string[]; gone: number }> {
  const h = await r.hgetall(K.visitorSockets(visitor));
  const gateways = Object.entries(h)
    .filter(([k, v]) => k !== 'gone' && Number(v) > 0)
    .map(([k]) => k);
  return { gateways, gone: num(h.gone) };
}
