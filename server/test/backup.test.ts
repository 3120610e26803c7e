/**
 * Backup and restore (scripts/redis-backup.mjs, `pnpm backup` / `pnpm restore`): a snapshot of
 * a live Redis under a running gateway, restored into a fresh data directory, brings back every
 * conversation with every entry; the restore refuses to run under a live Redis.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { startRedis } from '../src/redis/supervisor';
import { ADMIN, Http, type TestGateway, cid, newChat, testGateway } from './harness';

const run = promisify(execFile);
const SCRIPT = resolve(import.meta.dirname, '../../scripts/redis-backup.mjs');
const root = mkdtempSync(join(tmpdir(), 'hark-backup-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

type Conv = { conv: { id: string; status: string }; entries: { id: string; text?: string }[] };

it('a restore brings back every conversation as it was at the backup', async () => {
  const dirA = join(root, 'a', 'redis');
  const redisA = await startRedis({ dir: dirA });
  let gw: TestGateway | undefined = await testGateway(redisA.url);
  const admin = new Http(gw.base);
  await admin.login(ADMIN.email, ADMIN.password);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const { v, conv } = await newChat(gw, `question ${i}`);
    const c = cid();
    v.send({ type: 'send', cid: c, text: `and another thing ${i}` });
    await v.next('ack', (f) => f.cid === c);
    v.close();
    ids.push(conv);
  }
  const before = new Map<string, Conv>();
  for (const id of ids) before.set(id, (await admin.req<Conv>('GET', `/v1/conversations/${id}`)).body);
  expect([...before.values()].every((c) => c.entries.filter((e) => e.text).length >= 2)).toBe(true);

  // Hot backup: the gateway keeps running.
  const file = join(root, 'snap.rdb');
  writeFileSync(join(dirA, 'redis.url'), `${redisA.url}\n`);
  const b = await run(process.execPath, [SCRIPT, 'backup', '--dir', dirA, '--out', file]);
  expect(b.stdout).toContain('→');
  // Written after the snapshot: not in the restore.
  const late = await newChat(gw, 'after the backup');
  late.v.close();

  // The restore refuses while that Redis runs.
  await expect(run(process.execPath, [SCRIPT, 'restore', '--in', file, '--dir', dirA])).rejects.toThrow(/stop Hark first/);

  await gw.close();
  gw = undefined;
  await redisA.stop();

  // Restored over the old directory (moved aside), then started as `pnpm start` starts it (AOF on).
  const r = await run(process.execPath, [SCRIPT, 'restore', '--in', file, '--dir', dirA]);
  expect(r.stdout).toMatch(/restored \d+ keys/);
  expect(readdirSync(join(root, 'a')).some((n) => n.startsWith('redis.before-restore-'))).toBe(true);
  expect(existsSync(join(dirA, 'dump.rdb'))).toBe(false);
  const redisB = await startRedis({ dir: dirA });
  const gwB = await testGateway(redisB.url);
  try {
    const adminB = new Http(gwB.base);
    await adminB.login(ADMIN.email, ADMIN.password);
    for (const id of ids) {
      const got = await adminB.req<Conv>('GET', `/v1/conversations/${id}`);
      expect(got.status).toBe(200);
      expect(got.body.entries).toEqual(before.get(id)?.entries);
      expect(got.body.conv.status).toBe(before.get(id)?.conv.status);
    }
    expect((await adminB.req('GET', `/v1/conversations/${late.conv}`)).status).toBe(404);
  } finally {
    await gwB.close();
    await redisB.stop();
  }
});
