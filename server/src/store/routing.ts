/**
 * The Redis side of routing: one call of the ROUTE script (redis/scripts.ts) per
 * decision, on the keys of one site (one hash tag, so one cluster slot), and the
 * presence leases gateways renew for the operators whose sockets they hold.
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

/** Each operator's number of open chats on a site. */
export function siteLoads(c: Connections, site: string): Promise<Record<string, string>> {
  return c.cmd.hgetall(K.siteLoad(site));
}

export async function siteLoadOf(c: Connections, site: string, op: string): Promise<number> {
  return Number((await c.cmd.hget(K.siteLoad(site), op)) ?? 0);
}

/** Forgets the team a conversation is routed to (an offline one taken by hand: a later requeue drains it like any other). */
export async function clearConvTeam(c: Connections, site: string, conv: string): Promise<void> {
  await c.cmd.hdel(K.siteConvTeam(site), conv);
}
