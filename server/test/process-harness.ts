/**
 * The gateway as `pnpm start` runs it: server/dist/main.js (built by `pnpm build`) under plain
 * `node`, no tsx, as a child process with its own environment, talking to a test Redis.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ADMIN } from './harness';

export const COMPILED_MAIN = resolve(import.meta.dirname, '../dist/main.js');

export interface GatewayProcess {
  child: ChildProcess;
  base: string;
  wsBase: string;
  port: number;
  /** What the process printed on stdout and stderr so far. */
  out(): string;
  /** Ms from the process's start to its port listening, as it reports it. */
  startMs: number;
  stop(): Promise<number | null>;
}

/** Starts the compiled gateway; resolves once it prints that it listens (with HARK_WORKERS > 1: that every worker does). */
export async function startCompiled(env: Record<string, string>, opts: { timeoutMs?: number } = {}): Promise<GatewayProcess> {
  if (!existsSync(COMPILED_MAIN)) throw new Error(`${COMPILED_MAIN} is missing: run \`pnpm build\` first`);
  const child = spawn(process.execPath, [COMPILED_MAIN], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn', ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, HARK_WORKERS: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  // One process: `hark: listening on H:P N ms after start`; several: `hark: 2 workers listening on H:P N ms after start`.
  const ready = (env.HARK_WORKERS ?? '1') === '1' ? /hark: listening on [\d.]+:(\d+) (\d+) ms after start/ : /hark: \d+ workers listening on [\d.]+:(\d+) (\d+) ms after start/;
  const m = await new Promise<RegExpMatchArray>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`the compiled gateway did not start:\n${out}`)), opts.timeoutMs ?? 20_000);
    const check = () => {
      const hit = ready.exec(out);
      if (hit) {
        clearTimeout(t);
        res(hit);
      }
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(t);
      rej(new Error(`the compiled gateway exited (${code}):\n${out}`));
    });
  });
  const port = Number(m[1]);
  return {
    child,
    port,
    base: `http://127.0.0.1:${port}`,
    wsBase: `ws://127.0.0.1:${port}`,
    out: () => out,
    startMs: Number(m[2]),
    stop: () =>
      new Promise((res) => {
        if (child.exitCode !== null) return res(child.exitCode);
        child.once('exit', (code) => res(code));
        child.kill('SIGTERM');
      }),
  };
}
