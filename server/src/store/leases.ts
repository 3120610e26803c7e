/**
 * Leases: one owner at a time for a piece of background work across gateways.
 * A lease is a key holding its owner's id with an expiry; the owner renews it
 * well before it lapses, and a gateway that dies simply stops renewing, so
 * another takes it over within one lease time.
 */
import type { Connections } from '../redis/client';
import { K } from './keys';
import { evalScript } from '../redis/eval';

const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export const jobLeaseKey = K.jobLease;

/** Takes the lease if free, or renews it if `owner` holds it. True while `owner` holds it. */
export async function holdLease(c: Connections, key: string, owner: string, ms: number): Promise<boolean> {
  if ((await c.cmd.set(key, owner, 'PX', ms, 'NX')) === 'OK') return true;
  return (await evalScript(c.cmd, RENEW, 1, key, owner, String(ms))) === 1;
}

export async function releaseLease(c: Connections, key: string, owner: string): Promise<void> {
  await evalScript(c.cmd, RELEASE, 1, key, owner);
}
