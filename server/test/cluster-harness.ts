/**
 * A three-master Redis Cluster on loopback, started by the test (or the bench)
 * itself: three private redis-servers with cluster mode on, joined by
 * `redis-cli --cluster create`, then waited on until every node reports
 * cluster_state:ok. Nothing touches a developer's own Redis.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { type RedisProcess, freePort, startRedis } from '../src/redis/supervisor';

const run = promisify(execFile);
/** Cluster creation plus gossip settles in well under a second on loopback; 15 s is a generous ceiling. */
const CLUSTER_READY_TIMEOUT_MS = 15_000;
const MASTERS = 3;

export interface TestCluster {
  nodes: RedisProcess[];
  /** host:port of every master, as REDIS_CLUSTER_NODES takes them. */
  addrs: string[];
  cleanup(): Promise<void>;
}

async function clusterPorts(n: number): Promise<number[]> {
  // The cluster bus listens on port + 10000, so both must be free.
  const out: number[] = [];
  for (let i = 0; out.length < n && i < 50; i++) {
    const p = await freePort();
    if (p + 10_000 <= 65_535 && !out.includes(p)) out.push(p);
  }
  return out;
}

export async function startCluster(opts: { appendfsync?: 'everysec' | 'always' | 'no'; extraArgs?: string[] } = {}): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'hark-cluster-'));
  const ports = await clusterPorts(MASTERS);
  const nodes = await Promise.all(
    ports.map((port) =>
      startRedis({
        dir: join(dir, String(port)),
        port,
        ...(opts.appendfsync ? { appendfsync: opts.appendfsync } : {}),
        extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '5000', ...(opts.extraArgs ?? [])],
      }),
    ),
  );
  const addrs = ports.map((p) => `127.0.0.1:${p}`);
  const cleanup = async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await run('redis-cli', ['--cluster', 'create', ...addrs, '--cluster-replicas', '0', '--cluster-yes'], { timeout: CLUSTER_READY_TIMEOUT_MS });
    await waitClusterOk(ports);
  } catch (e) {
    await cleanup();
    throw e;
  }
  return { nodes, addrs, cleanup };
}

async function waitClusterOk(ports: number[]): Promise<void> {
  const deadline = Date.now() + CLUSTER_READY_TIMEOUT_MS;
  const clients = ports.map((port) => new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 }));
  try {
    while (Date.now() < deadline) {
      const infos = await Promise.all(clients.map((c) => c.cluster('INFO') as Promise<string>));
      if (infos.every((i) => i.includes('cluster_state:ok') && i.includes(`cluster_known_nodes:${ports.length}`))) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`Redis Cluster on ${ports.join(',')} did not reach cluster_state:ok in ${CLUSTER_READY_TIMEOUT_MS} ms`);
  } finally {
    for (const c of clients) c.disconnect();
  }
}
