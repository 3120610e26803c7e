/**
 * Compaction of resolved conversations: a compacted conversation reads back
 * identically (every page of readEntries and readEntriesBefore), costs several
 * times less memory, refuses to compact while it is open or changed, and an
 * entry written after a reopen still sorts after every packed one.
 */
import { randomId } from '@hark/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Connections, connect } from '../src/redis/client';
import { appendEntry, compactConversation, compactResolved, readEntries, readEntriesBefore } from '../src/store/conversations';
import { K } from '../src/store/keys';
import { type TestRedis, testRedis } from './harness';

let redis: TestRedis;
let c: Connections;

beforeAll(async () => {
  redis = await testRedis();
  c = connect({ url: redis.url });
});
afterAll(async () => {
  await c?.close();
  await redis?.cleanup();
});

const WORDS = 'hello thanks my order did not arrive could you check the delivery address please yes of course one moment'.split(' ');
const text = (i: number) => Array.from({ length: 4 + (i % 12) }, (_, k) => WORDS[(i * 5 + k) % WORDS.length]).join(' ');

async function conversation(n: number, site = 'cs'): Promise<string> {
  const conv = randomId(16);
  await c.cmd.hset(K.conv(conv), { site, visitor: randomId(12), status: 'open', createdAt: String(Date.now()) });
  for (let i = 0; i < n; i++) {
    const from = i % 2 ? 'operator' : 'visitor';
    await appendEntry(c, { conv, at: Date.now(), kind: 'msg', from, text: `${text(i)} #${i}`, cid: randomId(21), ...(from === 'operator' ? { op: { id: 'op1', name: 'Ana' } } : {}) }, from);
  }
  return conv;
}

/** Everything a reader can see: every page forwards (small pages) and backwards. */
async function readAll(conv: string) {
  const fwd = [];
  for (let after = ''; ; ) {
    const page = await readEntries(c.cmd, conv, after, 7);
    if (!page.length) break;
    fwd.push(...page);
    after = page.at(-1)?.id as string;
  }
  const back = [];
  for (let before = ''; ; ) {
    const { entries, more } = await readEntriesBefore(c.cmd, conv, before, 9);
    back.unshift(...entries);
    if (!more || !entries.length) break;
    before = entries[0]?.id as string;
  }
  const mid = fwd[Math.floor(fwd.length / 2)]?.id as string;
  return { fwd, back, fromMid: await readEntries(c.cmd, conv, mid, 1000), beforeMid: await readEntriesBefore(c.cmd, conv, mid, 5) };
}

const bytes = async (conv: string) => {
  let n = 0;
  for (const k of [K.convStream(conv), K.convCids(conv), K.convPacked(conv)]) n += Number((await c.cmd.memory('USAGE', k, 'SAMPLES', '0')) ?? 0);
  return n;
};

describe('compaction of resolved conversations', () => {
  it('reads back identically, costs several times less, and keeps order after a reopen', async () => {
    const conv = await conversation(120);
    expect(await compactConversation(c.cmd, conv)).toBe(false); // still open
    await c.cmd.hset(K.conv(conv), { status: 'resolved', resolvedAt: String(Date.now()) });
    const before = await readAll(conv);
    expect(before.fwd).toHaveLength(120);
    expect(before.back).toEqual(before.fwd);
    const size0 = await bytes(conv);

    expect(await compactConversation(c.cmd, conv)).toBe(true);
    expect(await c.cmd.xlen(K.convStream(conv))).toBe(0);
    expect(await c.cmd.exists(K.convCids(conv))).toBe(0);
    expect(await readAll(conv)).toEqual(before);
    const size1 = await bytes(conv);
    expect(size1 * 3).toBeLessThan(size0);
    console.log(`compaction: ${size0} B -> ${size1} B for 120 messages (${(size0 / 120).toFixed(0)} -> ${(size1 / 120).toFixed(0)} B per message, ${(size0 / size1).toFixed(1)}x)`);
    expect(await compactConversation(c.cmd, conv)).toBe(false); // nothing new

    // Reopened: new entries sort after the packed ones; compacting again keeps them all.
    await c.cmd.hset(K.conv(conv), 'status', 'open');
    const r = await appendEntry(c, { conv, at: Date.now(), kind: 'msg', from: 'visitor', text: 'one more thing', cid: randomId(21) }, 'visitor');
    const last = before.fwd.at(-1)?.id as string;
    expect(r.id > last || r.id.length > last.length).toBe(true);
    const reopened = await readAll(conv);
    expect(reopened.fwd).toEqual([...before.fwd, expect.objectContaining({ id: r.id, text: 'one more thing' })]);
    expect(reopened.back).toEqual(reopened.fwd);
    await c.cmd.hset(K.conv(conv), 'status', 'resolved');
    expect(await compactConversation(c.cmd, conv)).toBe(true);
    expect(await readAll(conv)).toEqual(reopened);
  });

  it('compacts a site\u2019s resolved conversations older than the age, and only those', async () => {
    const now = Date.now();
    const old = await conversation(10, 'site2');
    const recent = await conversation(10, 'site2');
    for (const [conv, at] of [
      [old, now - 10_000],
      [recent, now - 1_000],
    ] as const) {
      await c.cmd.hset(K.conv(conv), { status: 'resolved', resolvedAt: String(at) });
      await c.cmd.zadd(K.siteResolved('site2'), at, conv);
    }
    expect(await compactResolved(c.cmd, 'site2', 5_000, 50, now)).toBe(1);
    expect(await c.cmd.exists(K.convPacked(old))).toBe(1);
    expect(await c.cmd.exists(K.convPacked(recent))).toBe(0);
    expect(await compactResolved(c.cmd, 'site2', 5_000, 50, now)).toBe(0);
    expect(await compactResolved(c.cmd, 'site2', 5_000, 50, now + 10_000)).toBe(1);
    expect(await readEntries(c.cmd, recent, '')).toHaveLength(10);
  });
});
