/**
 * Loopback source addresses for load clients. Linux routes all of 127.0.0.0/8 to
 * lo, so spreading clients over 127.0.1.x keeps each address under the gateway's
 * MAX_CONNECTIONS_PER_IP and each (source, destination) pair far from running
 * out of ephemeral ports.
 */
import { MAX_CONNECTIONS_PER_IP, TOKENS_PER_ADDRESS_PER_MIN } from '@hark/shared';

/**
 * Visitors per source address: under the per-IP cap with room for a reconnect overlap, and under
 * the per-address limits on new visitors (TOKENS_PER_ADDRESS_PER_MIN) and messages
 * (ADDRESS_MSGS_PER_SEC) at the bench's highest rates.
 */
export const PER_ADDRESS = Math.min(Math.floor(MAX_CONNECTIONS_PER_IP * 0.45), Math.floor(TOKENS_PER_ADDRESS_PER_MIN / 3));

export function sourceAddress(i: number): string {
  const n = Math.floor(i / PER_ADDRESS);
  return `127.0.${1 + Math.floor(n / 250)}.${1 + (n % 250)}`;
}
