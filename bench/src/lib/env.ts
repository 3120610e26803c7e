/** What a run needs around it: a private Redis (or Redis Cluster), machine facts, result files. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { type RedisProcess, startRedis } from '@hark/server/src/redis/supervisor';
import { benchDir } from './proc';

export async function privateRedis(): Promise<RedisProcess & { cleanup(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'hark-bench-redis-'));
  // Enough output buffer that the floor and the peer are not cut off under load either.
  const r = await startRedis({ dir, extraArgs: ['--client-output-buffer-limit', 'pubsub 256mb 128mb 60', '--maxclients', '50000'] });
  return Object.assign(r, {
    async cleanup() {
      await r.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

export function machine() {
  return { cpus: cpus().length, cpu: cpus()[0]?.model ?? '?', memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: `${process.platform} ${process.arch}`, loadAvgAtStart: loadavg().map((x) => Math.round(x * 10) / 10) };
}

export function writeResult(name: string, data: unknown): string {
  const dir = resolve(benchDir, 'results');
  mkdirSync(dir, { recursive: true });
  const file = resolve(dir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

export function table(rows: Record<string, unknown>[]): void {
  console.table(rows);
}

/** INFO commandstats: command → [calls, µs]. */
/** Redis's AOF rewrites and forks so far, and the last fork's duration (INFO persistence): a rewrite forks and writes the whole dataset, and the chat path's commands wait meanwhile. */
export async function aofStats(r: { info(section: string): Promise<string> }): Promise<{ rewrites: number; forks: number; lastForkUs: number; aofBytes: number }> {
  const info = `${await r.info('persistence')}\n${await r.info('stats')}`;
  const num = (k: string) => Number(new RegExp(`^${k}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
  return { rewrites: num('aof_rewrites'), forks: num('total_forks'), lastForkUs: num('latest_fork_usec'), aofBytes: num('aof_current_size') };
}

export async function commandStats(r: { info(section: string): Promise<string> }): Promise<Map<string, [number, number]>> {
  const out = new Map<string, [number, number]>();
  for (const line of (await r.info('commandstats')).split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line);
    if (m) out.set(m[1] as string, [Number(m[2]), Number(m[3])]);
  }
  return out;
}
