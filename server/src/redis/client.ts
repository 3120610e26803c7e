/**
 * Redis connections and their policies, in one place. A gateway holds two
 * connections (or two cluster clients): one for commands and scripts, and one
 * subscriber (a subscribed connection can run nothing else).
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { defineScripts, type ScriptedRedis } from './scripts';

/**
 * Commands fail fast instead of queueing without bound while Redis is away
 * (ioredis queues forever by default): after this many reconnect attempts a
 * command rejects, the gateway answers OVERLOADED, and the client keeps the
 * message in its outbox and resends it; the client id makes the resend safe.
 */
export const MAX_RETRIES_PER_REQUEST = 3;
/** Reconnect backoff: 50 ms doubling to a 2 s cap, with ±25 % jitter. */
export const RECONNECT_BASE_MS = 50;
/** HARK_DURABILITY=replica: how long an append waits for a replica before answering OVERLOADED (the client resends; the cid makes it safe). */
export const REPLICA_WAIT_MS = 1_000;
export const RECONNECT_CAP_MS = 2_000;

export function retryStrategy(times: number): number {
  const base = Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * 2 ** Math.min(times, 16));
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

export interface RedisTarget {
  url?: string;
  clusterNodes?: string[];
}

export interface Connections {
  cmd: ScriptedRedis;
  sub: Redis | Cluster;
  sharded: boolean;
  /** PUBLISH on one node, SPUBLISH on a cluster (sharded pub/sub keeps fan-out on the slot's own shard). */
  publishCmd: 'PUBLISH' | 'SPUBLISH';
  /** HARK_DURABILITY=replica: a message is acknowledged only once WAIT saw a replica take it. */
  waitReplica?: boolean;
  close(): Promise<void>;
}

/** QUIT politely, but never wait longer than this for a Redis that is away (a QUIT queued while reconnecting never answers). */
export const CLOSE_TIMEOUT_MS = 1_000;

async function closeBoth(...clients: (Redis | Cluster)[]): Promise<void> {
  await Promise.all(
    clients.map(async (c) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((res) => {
        timer = setTimeout(res, CLOSE_TIMEOUT_MS);
      });
      await Promise.race([c.quit().then(() => undefined, () => undefined), late]);
      clearTimeout(timer);
      c.disconnect();
    }),
  );
}

const common: RedisOptions = {
  maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST,
  retryStrategy,
  enableAutoPipelining: true,
};
const { retryStrategy: _r, ...clusterNodeOptions } = common;

export function connect(target: RedisTarget): Connections {
  if (target.clusterNodes?.length) {
    const nodes = target.clusterNodes.map((n) => {
      const u = new URL(n.includes('://') ? n : `redis://${n}`);
      return { host: u.hostname, port: Number(u.port || 6379) };
    });
    const cmd = new Cluster(nodes, { redisOptions: clusterNodeOptions, clusterRetryStrategy: retryStrategy, enableAutoPipelining: true });
    // No ready check on the subscriber's node connections, as for a single Redis below (ioredis#2037).
    const sub = new Cluster(nodes, { redisOptions: { enableReadyCheck: false }, clusterRetryStrategy: retryStrategy, shardedSubscribers: true });
    return {
      cmd: defineScripts(cmd),
      sub,
      sharded: true,
      publishCmd: 'SPUBLISH',
      close: () => closeBoth(cmd, sub),
    };
  }
  const url = target.url ?? 'redis://127.0.0.1:6379';
  const cmd = new Redis(url, common);
  // No ready check (INFO) on the subscriber: ioredis 5 writes a SUBSCRIBE issued while it is
  // connecting at once (Redis allows it while loading), and its reply puts the connection in
  // subscriber mode before the INFO goes out; ioredis then refuses its own INFO ("Connection in
  // subscriber mode, only subscriber commands may be used"), rejects every queued SUBSCRIBE with
  // that error and reconnects, forgetting the channel subscribed in between (ioredis#2037; a
  // follow failing this way closed sockets with INTERNAL after a Redis restart). A subscriber
  // needs no ready check: SUBSCRIBE works while Redis loads, and the hub's catch-up reads go
  // through `cmd`, which keeps its own.
  const sub = new Redis(url, { retryStrategy, maxRetriesPerRequest: null, enableReadyCheck: false });
  return {
    cmd: defineScripts(cmd),
    sub,
    sharded: false,
    publishCmd: 'PUBLISH',
    close: () => closeBoth(cmd, sub),
  };
}
