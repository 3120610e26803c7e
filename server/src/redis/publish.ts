import type { Connections } from './client';

/**
 * PUBLISH on one node, SPUBLISH on a cluster. ioredis' command table marks
 * SPUBLISH's channel as its key, so a Cluster client sends it straight to the
 * master owning the channel's slot (the cluster test checks shard channels
 * land on several masters).
 */
export function publish(c: Connections, channel: string, payload: string): Promise<unknown> {
  return c.cmd.call(c.publishCmd, channel, payload);
}
