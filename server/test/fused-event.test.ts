/**
 * On a single Redis a message's domain event is recorded by the append script in the same step as
 * the entry (store/event-log.ts fusedEvent): the log holds exactly the event the two-step path
 * records (same id, same fields), an operator's first answer still carries its first-response time
 * (and `conversation.answered`), and a resend records nothing twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DomainEvent, parseEvent } from '../src/domain/events';
import { appendEntry } from '../src/store/conversations';
import { EVENT_PARTITIONS, EVK, fusedEvent } from '../src/store/event-log';
import { ADMIN, Http, type TestGateway, type TestRedis, cid, createOp, onlineOperator, testGateway, testRedis, visitor, waitFor } from './harness';

let redis: TestRedis;
let gw: TestGateway;
let admin: Http;

beforeAll(async () => {
  redis = await testRedis();
  gw = await testGateway(redis.url);
  admin = new Http(gw.base);
  await admin.login(ADMIN.email, ADMIN.password);
});
afterAll(async () => {
  await gw?.close();
  await redis?.cleanup();
});

async function logged(): Promise<{ raw: string; e: DomainEvent | null }[]> {
  const out: { raw: string; e: DomainEvent | null }[] = [];
  for (let p = 0; p < EVENT_PARTITIONS; p++) {
    for (const [, f] of await gw.conns.cmd.xrange(EVK.stream(p), '-', '+')) {
      const raw = f[f.indexOf('e') + 1] as string;
      out.push({ raw, e: parseEvent(raw) });
    }
  }
  return out;
}

describe('the event recorded with its entry', () => {
  it('a visitor message, an operator answer, a note: each event once, well formed, with the entry id', async () => {
    const op = await createOp(admin, { email: 'fused@example.com', name: 'Fu', capacity: 5 });
    const o = await onlineOperator(gw, op.http);
    const v = await visitor(gw);
    await v.next('synced');
    const c1 = cid();
    v.send({ type: 'send', cid: c1, text: 'hello' });
    const a1 = await v.next('ack', (f) => f.cid === c1);
    await o.next('entry', (f) => f.entry.id === a1.id);
    // The operator's first answer (recorded by the caller, with its first-response time), then a second one and a note.
    const answers: string[] = [];
    for (const text of ['first answer', 'second answer']) {
      const c = cid();
      o.send({ type: 'send', conv: a1.conv, cid: c, text });
      answers.push((await o.next('ack', (f) => f.cid === c)).id);
    }
    const cn = cid();
    o.send({ type: 'note', conv: a1.conv, cid: cn, text: 'a note' });
    const note = (await o.next('ack', (f) => f.cid === cn)).id;
    // A resend of the visitor's message (its ack lost): stored once, its event once.
    const v2 = await visitor(gw, { token: v.token });
    await v2.next('synced');
    v2.send({ type: 'send', cid: c1, text: 'hello', re: true });
    expect((await v2.next('ack', (f) => f.cid === c1)).id).toBe(a1.id);

    const all = await waitFor('the events', async () => {
      const l = await logged();
      return l.filter((x) => x.e?.type === 'message.created').length >= 3 ? l : null;
    });
    for (const x of all) expect(x.e, x.raw).not.toBeNull();
    const mine = all.map((x) => x.e as DomainEvent).filter((e) => 'conv' in e && e.conv === a1.conv);
    const msgs = mine.filter((e) => e.type === 'message.created');
    expect(msgs.map((e) => e.id)).toEqual([`msg:${a1.conv}:${a1.id}`, `msg:${a1.conv}:${answers[0]}`, `msg:${a1.conv}:${answers[1]}`]);
    expect(msgs[0]).toMatchObject({ type: 'message.created', site: 'demo', conv: a1.conv, by: 'visitor', entry: a1.id, cid: c1 });
    expect(msgs[1]).toMatchObject({ by: 'operator', entry: answers[0], op: op.id });
    expect(typeof (msgs[1] as { firstResponseMs?: number }).firstResponseMs).toBe('number');
    expect(msgs[2]).toMatchObject({ by: 'operator', entry: answers[1], op: op.id });
    expect((msgs[2] as { firstResponseMs?: number }).firstResponseMs).toBeUndefined();
    expect(mine.filter((e) => e.type === 'conversation.answered').map((e) => e.id)).toEqual([`answered:${a1.conv}`]);
    expect(mine.filter((e) => e.type === 'note.created')).toEqual([expect.objectContaining({ id: `note:${a1.conv}:${note}`, entry: note, op: op.id })]);
    // Each event's id is remembered (a later re-record stores nothing).
    const p = all.findIndex((x) => x.e?.id === msgs[0]?.id);
    expect(p).toBeGreaterThanOrEqual(0);
    let found = 0;
    for (let q = 0; q < EVENT_PARTITIONS; q++) found += await gw.conns.cmd.exists(EVK.id(q, `msg:${a1.conv}:${a1.id}`));
    expect(found).toBe(1);
    v.close();
    v2.close();
    o.close();
  });

  it('the append records the event itself, in the same step, and a resend of it records nothing more', async () => {
    const conv = `fz${cid().slice(0, 10)}`;
    const ev = fusedEvent({ type: 'message.created', site: 'demo', conv, by: 'visitor', entry: '', cid: 'c-1' }, `msg:${conv}:`, 1234);
    const entry = { conv, at: Date.now(), kind: 'msg' as const, from: 'visitor' as const, text: 'x', cid: 'c-1' };
    const r = await appendEntry(gw.conns, entry, 'other', undefined, undefined, ev);
    expect(r).toMatchObject({ stored: true, eventRecorded: true });
    const again = await appendEntry(gw.conns, entry, 'other', undefined, undefined, ev);
    expect(again).toMatchObject({ id: r.id, stored: false, eventRecorded: false });
    const rows = await gw.conns.cmd.xrange(ev.args[0], '-', '+');
    const mine = rows.map(([, f]) => parseEvent(f[1] as string)).filter((e) => e && 'conv' in e && e.conv === conv);
    expect(mine).toEqual([{ id: `msg:${conv}:${r.id}`, at: 1234, type: 'message.created', site: 'demo', conv, by: 'visitor', entry: r.id, cid: 'c-1' }]);
    expect(await gw.conns.cmd.exists(`${ev.args[1]}${r.id}`)).toBe(1);
  });
});
