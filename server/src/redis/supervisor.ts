/**
 * Starts and supervises a private redis-server on a free loopback port, with its
 * data (AOF on) in a folder of ours. Used by `pnpm start` when REDIS_URL is unset
 * and by every test file, so nothing ever touches a developer's own Redis.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

export interface RedisProcess {
  port: number;
  url: string;
  dir: string;
  child: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and data dir (after a kill). */
  restart(): Promise<void>;
}

export interface RedisOptions {
  dir: string;
  port?: number;
  appendfsync?: 'everysec' | 'always' | 'no';
  extraArgs?: string[];
  /** Install redis-server with apt-get when missing and running as root on Debian. */
  autoInstall?: boolean;
  log?: (line: string) => void;
}

const READY_TIMEOUT_MS = 10_000;
/** After this long a redis-server asked to stop is killed. */
const STOP_TIMEOUT_MS = 5_000;

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

export function findRedisServer(autoInstall = false): string {
  for (const p of ['/usr/bin/redis-server', '/usr/local/bin/redis-server']) if (existsSync(p)) return p;
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || fail();
  } catch {
    if (autoInstall && process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
      execFileSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server'], { stdio: 'inherit' });
      return findRedisServer(false);
    }
    return fail();
  }
}

function fail(): never {
  throw new Error('redis-server was not found. Install it (Debian/Ubuntu: `sudo apt-get install -y redis-server`) or set REDIS_URL to an existing Redis.');
}

export async function startRedis(opts: RedisOptions): Promise<RedisProcess> {
  const bin = findRedisServer(opts.autoInstall ?? false);
  const dir = resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--appendonly', 'yes',
    '--appendfsync', opts.appendfsync ?? 'everysec',
    '--save', '',
    '--protected-mode', 'yes',
    '--daemonize', 'no',
    ...(opts.extraArgs ?? []),
  ];
  const proc: RedisProcess = {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    child: undefined as unknown as ChildProcess,
    async stop(signal = 'SIGTERM') {
      const c = proc.child;
      if (c.exitCode !== null || c.signalCode !== null) return;
      await new Promise<void>((res) => {
        // A primary told to stop waits up to shutdown-timeout for its replicas; never hang on it.
        const force = setTimeout(() => c.kill('SIGKILL'), STOP_TIMEOUT_MS);
        c.once('exit', () => {
          clearTimeout(force);
          res();
        });
        c.kill(signal);
      });
    },
    async restart() {
      proc.child = await launch(bin, args, port, opts.log);
    },
  };
  proc.child = await launch(bin, args, port, opts.log);
  return proc;
}

async function launch(bin: string, args: string[], port: number, log?: (l: string) => void): Promise<ChildProcess> {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`redis-server on port ${port} did not become ready: ${out.slice(-500)}`)), READY_TIMEOUT_MS);
    const onData = (b: Buffer) => {
      const s = b.toString();
      out += s;
      if (log) for (const l of s.split('\n')) if (l.trim()) log(l);
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        res();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`redis-server exited with ${code}: ${out.slice(-500)}`));
    });
  });
  child.stdout?.removeAllListeners('data');
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}
