#!/usr/bin/env node
/**
 * Backup and restore of Hark's Redis data (README "Backup and restore"). Plain Node and the
 * redis-cli / redis-server that come with Debian's redis-server package.
 *
 *   node scripts/redis-backup.mjs backup  [--url redis://127.0.0.1:PORT] [--out FILE]
 *   node scripts/redis-backup.mjs restore --in FILE [--dir DIR]
 *
 * backup: a point-in-time snapshot (RDB) of a running Redis, streamed by `redis-cli --rdb`
 * (the replication snapshot: the server keeps serving; nothing on its disk changes). The URL:
 * --url, else REDIS_URL, else the one `pnpm start` wrote beside its own Redis's data
 * (DIR/redis.url). FILE defaults to hark-backup-<UTC time>.rdb; written whole or not at all.
 *
 * restore: turns the snapshot into the data directory `pnpm start` runs its Redis on (AOF on):
 * refuses while a Redis answers on that directory's URL; moves what is there aside to
 * DIR.before-restore-<time>; loads FILE into a private redis-server on a free loopback port,
 * switches AOF on (a rewrite writes the whole data set as the AOF base), waits for it, and
 * shuts that server down. Then `pnpm start` starts on exactly the snapshot.
 * DIR defaults to $DATA_DIR/redis (DATA_DIR relative to server/, as the gateway reads it).
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** How long a restore waits for the restored data set to be loaded and rewritten as AOF. */
const RESTORE_TIMEOUT_MS = 120_000;

const [cmd, ...rest] = process.argv.slice(2);
const opt = (name) => {
  const i = rest.indexOf(`--${name}`);
  return i >= 0 ? rest[i + 1] : undefined;
};
const stamp = () => new Date().toISOString().replace(/[:.]/g, '-');
const defaultDir = () => {
  const data = process.env.DATA_DIR ?? '.hark-data';
  return join(isAbsolute(data) ? data : join(repo, 'server', data), 'redis');
};
const cli = (url, ...args) => execFileSync('redis-cli', ['-u', url, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
const answers = (url) => {
  try {
    return cli(url, 'PING') === 'PONG';
  } catch {
    return false;
  }
};
const die = (msg) => {
  console.error(`redis-backup: ${msg}`);
  process.exit(1);
};

function backup() {
  const urlFile = join(opt('dir') ?? defaultDir(), 'redis.url');
  const url = opt('url') ?? process.env.REDIS_URL ?? (existsSync(urlFile) ? readFileSync(urlFile, 'utf8').trim() : undefined);
  if (!url) die(`no Redis to back up: give --url, set REDIS_URL, or start Hark (it writes ${urlFile})`);
  if (!answers(url)) die(`no Redis answers at ${url}`);
  const out = resolve(opt('out') ?? `hark-backup-${stamp()}.rdb`);
  const tmp = `${out}.partial`;
  execFileSync('redis-cli', ['-u', url, '--rdb', tmp], { stdio: ['ignore', 'ignore', 'inherit'] });
  const head = readFileSync(tmp).subarray(0, 5).toString();
  if (head !== 'REDIS') die(`${tmp} is not an RDB snapshot`);
  renameSync(tmp, out);
  console.log(`redis-backup: ${url} → ${out} (${statSync(out).size} bytes)`);
}

const freePort = () =>
  new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });

async function until(what, f) {
  const end = Date.now() + RESTORE_TIMEOUT_MS;
  for (;;) {
    if (f()) return;
    if (Date.now() > end) die(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function restore() {
  const file = opt('in');
  if (!file || !existsSync(file)) die('give the snapshot to restore: --in FILE');
  const dir = resolve(opt('dir') ?? defaultDir());
  const urlFile = join(dir, 'redis.url');
  if (existsSync(urlFile) && answers(readFileSync(urlFile, 'utf8').trim())) die(`a Redis is running on ${dir}: stop Hark first`);
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    const aside = `${dir}.before-restore-${stamp()}`;
    renameSync(dir, aside);
    console.log(`redis-backup: the data that was in ${dir} is now in ${aside}`);
  }
  mkdirSync(dir, { recursive: true });
  copyFileSync(file, join(dir, 'dump.rdb'));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const bin = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p)) ?? 'redis-server';
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--dbfilename', 'dump.rdb', '--appendonly', 'no', '--save', '', '--daemonize', 'no'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise((r) => child.once('exit', r));
  try {
    // PING answers LOADING until the snapshot is in memory.
    await until('the snapshot to load', () => answers(url));
    const keys = Number(cli(url, 'DBSIZE'));
    cli(url, 'CONFIG', 'SET', 'appendonly', 'yes');
    const info = () => Object.fromEntries(cli(url, 'INFO', 'persistence').split(/\r?\n/).map((l) => l.split(':')));
    await until('the AOF rewrite', () => {
      const i = info();
      return i.aof_enabled === '1' && i.aof_rewrite_in_progress === '0' && i.aof_rewrite_scheduled === '0';
    });
    if (info().aof_last_bgrewrite_status !== 'ok') die('the AOF rewrite failed (see the redis-server output above)');
    cli(url, 'SHUTDOWN', 'NOSAVE');
    await exited;
    rmSync(join(dir, 'dump.rdb'), { force: true });
    console.log(`redis-backup: restored ${keys} keys from ${file} into ${dir}; start Hark`);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

if (cmd === 'backup') backup();
else if (cmd === 'restore') await restore();
else die('usage: redis-backup.mjs backup [--url URL] [--out FILE] | restore --in FILE [--dir DIR]');
