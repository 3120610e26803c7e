/** Starts benchmarked servers as their own Node processes (so their CPU and memory are theirs alone). */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ChildStats, LoopStats } from './child';

export const benchDir = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const repoDir = resolve(benchDir, '..');
const tsxEsm = pathToFileURL(resolve(realpathSync(resolve(repoDir, 'server/node_modules/tsx')), 'dist/esm/index.mjs')).href;
/** Never wait longer than this for a child to start or answer (a tsx start on a machine busy with other work took over 30 s). */
const CHILD_TIMEOUT_MS = 120_000;

export interface Server {
  name: string;
  port: number;
  pid: number;
  child: ChildProcess;
  /** Memory and CPU of the child; `settleMs`: wait that long after a GC before reading RSS. */
  stats(settleMs?: number): Promise<ChildStats>;
  cpuMs(): Promise<number>;
  /** Event-loop delay and GC pauses since the last call, and RSS now. */
  loop(): Promise<LoopStats>;
  /** Starts a CPU profile in the server; `profStop` writes it to `file`. */
  profStart(): Promise<void>;
  profStop(file: string): Promise<void>;
  /** Stops the server; `profileTo`: it writes a CPU profile of its own stop there first. */
  stop(profileTo?: string): Promise<void>;
  kill(): void;
}

function ask<T>(child: ChildProcess, type: string, answer: string, extra: object = {}): Promise<T> {
  return new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error(`${type}: no answer`)), CHILD_TIMEOUT_MS);
    const on = (m: { type: string } & Record<string, unknown>) => {
      if (m.type !== answer) return;
      clearTimeout(t);
      child.off('message', on);
      res(m as T);
    };
    child.on('message', on);
    child.send({ type, ...extra });
  });
}

export async function startServer(name: string, file: string, env: Record<string, string>, nodeArgs: string[] = [], nice = 0): Promise<Server> {
  // HARK_BENCH_SERVER_CPUS=0: the server runs on those cores only (taskset execs node, so the pid is the server's).
  const cpus = process.env.HARK_BENCH_SERVER_CPUS;
  // A compiled bundle (lib/bundle.ts, `.mjs`) runs on plain node; a `.ts` file through tsx.
  const argv = file.endsWith('.mjs') ? [...nodeArgs, '--enable-source-maps', resolve(benchDir, file)] : [...nodeArgs, '--import', tsxEsm, resolve(benchDir, file)];
  // `nice`: a lower scheduling priority (nice execs node too: the same pid).
  const cmd = [...(cpus ? ['taskset', '-c', cpus] : []), ...(nice ? ['nice', '-n', String(nice)] : []), process.execPath, ...argv];
  const child = spawn(cmd[0] as string, cmd.slice(1), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`${name} did not start`)), CHILD_TIMEOUT_MS);
    child.once('exit', (code) => rej(new Error(`${name} exited with ${code}`)));
    child.on('message', (m: { type: string; port?: number }) => {
      if (m.type === 'ready') {
        clearTimeout(t);
        res(m.port as number);
      }
    });
  });
  return {
    name,
    port,
    pid: child.pid as number,
    child,
    stats: async (settleMs = 0) => (await ask<{ stats: ChildStats }>(child, 'stats', 'stats', { settleMs })).stats,
    cpuMs: async () => (await ask<{ cpuMs: number }>(child, 'cpu', 'cpu')).cpuMs,
    loop: async () => (await ask<{ loop: LoopStats }>(child, 'loop', 'loop')).loop,
    profStart: async () => void (await ask(child, 'prof-start', 'prof-started')),
    profStop: async (file) => void (await ask(child, 'prof-stop', 'prof-stopped', { file })),
    stop: (profileTo?: string) =>
      new Promise<void>((res) => {
        if (child.exitCode !== null) return res();
        const t = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
        child.once('exit', () => {
          clearTimeout(t);
          res();
        });
        child.send({ type: 'stop', ...(profileTo ? { profileTo } : {}) });
      }),
    kill: () => child.kill('SIGKILL'),
  };
}

/** HARK_BENCH_LOAD_CPUS=1: pins this process (the load) and the given ones (Redis) to those cores, every thread. */
export function pinLoad(pids: number[]): string | null {
  const cpus = process.env.HARK_BENCH_LOAD_CPUS;
  if (!cpus) return null;
  for (const pid of [process.pid, ...pids]) execFileSync('taskset', ['-a', '-pc', cpus, String(pid)], { stdio: 'ignore' });
  return cpus;
}

/** CPU time (user + system, ms) of any process, from /proc (for redis-server). */
export function procCpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return ((Number(rest[11]) + Number(rest[12])) * 1000) / 100;
}
