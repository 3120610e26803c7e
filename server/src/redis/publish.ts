import type { Connections } from './client';

/** PUBLISH on one node, SPUBLISH (routed to the channel's shard) on a cluster. */
export function publish(c: Connections, channel: string, payload: string): Promise<unknown> {
  return c.cmd.call(c.publishCmd, channel, payload);
}
