/**
 * The Redis side of routing: one call of the ROUTE script (redis/scripts.ts) per
 * decision, on the keys of one site (one hash tag, so one cluster slot); the operators'
 * seat ledgers ({op:O}:seats, one slot per operator) that make capacity operator-wide;
 * and the presence leases gateways renew for the operators whose sockets they hold.
 */
import { PRESENCE_TTL_MS } from '@hark/shared';
import type { Connections } from '../redis/client';
import { K } from './keys';

function siteKeys(site: string): string[] {
  return [
    K.siteStatus(site),
    K.siteCap(site),
    K.siteLoad(site),
    K.siteIdle(site),
    K.siteLease(site),
    K.siteOpTeams(site),
    K.siteQueue(site),
    K.siteAssign(site),
    K.siteConvTeam(site),
    K.siteOpen(site),
    K.siteResolved(site),
    K.siteSeat(site),
  ];
}

/** Runs one routing operation of a site atomically; see the ROUTE script for operations and replies. */
export function routeOp(c: Connections, site: string, op: string, ...args: string[]): Promise<string[]> {
  return c.cmd.harkRoute(...siteKeys(site), op, String(Date.now()), ...args);
}

/** Renews an operator's presence lease on their sites (pipelined). */
export async function renewLease(c: Connections, sites: string[], op: string, now = Date.now()): Promise<void> {
  await Promise.all(sites.map((s) => c.cmd.zadd(K.siteLease(s), now + PRESENCE_TTL_MS, op)));
}

/** Operators whose lease on a site lapsed before `before` (ms). */
export function lapsedLeases(c: Connections, site: string, before: number): Promise<string[]> {
  return c.cmd.zrangebyscore(K.siteLease(site), '-inf', before);
}

export async function dropLease(c: Connections, site: string, op: string): Promise<void> {
  await c.cmd.zrem(K.siteLease(site), op);
}

/** Each operator's routing status on a site, as routing sees it. */
export function siteStatuses(c: Connections, site: string): Promise<Record<string, string>> {
  return c.cmd.hgetall(K.siteStatus(site));
}

// ---------------------------------------------------------------- seat ledgers (operator-wide capacity)

/** One reservation in an operator's seat ledger. */
export interface Seat {
  token: string;
  site: string;
  conv: string;
  /** When it was reserved (ms, the reserving gateway's clock). */
  at: number;
}

/**
 * Reserves a seat for `conv` on `site` in the operator's ledger: true if held, false if the
 * operator already holds `cap` (a forced reservation is never refused). Idempotent per token.
 */
export async function reserveSeat(c: Connections, op: string, s: Seat, cap: number, force = false): Promise<boolean> {
  const v = JSON.stringify({ s: s.site, c: s.conv, at: s.at });
  return (await c.cmd.harkSeat(K.opSeats(op), s.token, v, String(cap), force ? '1' : '0')) === 1;
}

/** Gives a seat back (a failed assignment, or one that ended). */
export async function releaseSeat(c: Connections, op: string, token: string): Promise<void> {
  if (token) await c.cmd.hdel(K.opSeats(op), token);
}

/** Adds a ledger entry the truth needs (repair, migration); does not overwrite. */
export async function putSeat(c: Connections, op: string, s: Seat): Promise<void> {
  await c.cmd.hsetnx(K.opSeats(op), s.token, JSON.stringify({ s: s.site, c: s.conv, at: s.at }));
}

/** The operator-wide load: seats held (chats on every site, and reservations in flight). */
export function seatCount(c: Connections, op: string): Promise<number> {
  return c.cmd.hlen(K.opSeats(op));
}

/** Every operator's seat count, together. */
export async function seatCounts(c: Connections, ops: string[]): Promise<Map<string, number>> {
  const n = await Promise.all(ops.map((o) => c.cmd.hlen(K.opSeats(o))));
  return new Map(ops.map((o, i) => [o, n[i] ?? 0]));
}

/** The operator's ledger, parsed; entries that do not parse are returned with site '' (the repair drops them). */
export async function seatsOf(c: Connections, op: string): Promise<Seat[]> {
  const h = await c.cmd.hgetall(K.opSeats(op));
  return Object.entries(h).map(([token, raw]) => {
    try {
      const v = JSON.parse(raw) as { s?: unknown; c?: unknown; at?: unknown };
      if (typeof v.s === 'string' && typeof v.c === 'string' && typeof v.at === 'number') return { token, site: v.s, conv: v.c, at: v.at };
    } catch {
      // fall through
    }
    return { token, site: '', conv: '', at: 0 };
  });
}

/** Conversation -> seat token of every assignment on a site. */
export function siteSeats(c: Connections, site: string): Promise<Record<string, string>> {
  return c.cmd.hgetall(K.siteSeat(site));
}

/** Who holds `conv` on `site` and with which seat token (nulls if it is not assigned). */
export async function assignmentOf(c: Connections, site: string, conv: string): Promise<{ op: string | null; token: string | null }> {
  const [op, token] = await Promise.all([c.cmd.hget(K.siteAssign(site), conv), c.cmd.hget(K.siteSeat(site), conv)]);
  return { op, token };
}

/** Whether the operator's ledger holds `token`. */
export async function hasSeat(c: Connections, op: string, token: string): Promise<boolean> {
  return (await c.cmd.hexists(K.opSeats(op), token)) === 1;
}

/** Forgets the team a conversation is routed to (an offline one taken by hand: a later requeue drains it like any other). */
export async function clearConvTeam(c: Connections, site: string, conv: string): Promise<void> {
  await c.cmd.hdel(K.siteConvTeam(site), conv);
}
