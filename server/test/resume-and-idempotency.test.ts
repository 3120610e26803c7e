import { describe, expect, it } from 'vitest';
import { K } from '../src/store/keys';
import { cid, createOp, onlineOperator, operator, sleep, visitor } from './harness';
import { useStack } from './stack';

const s = useStack(2);

describe('resume and idempotent resend', () => {
  it('a resend with the same client id stores nothing and gets the same ack', async () => {
    const v = await visitor(s.gw);
    await v.next('synced');
    const c = cid();
    v.send({ type: 'send', cid: c, text: 'once' });
    const a1 = await v.next('ack', (f) => f.cid === c);
    // 1. Same socket, same cid, three more times.
    for (let i = 0; i < 3; i++) v.send({ type: 'send', cid: c, text: 'once' });
    await sleep(300);
    expect(v.of('ack').filter((f) => f.cid === c).map((f) => f.id)).toEqual([a1.id, a1.id, a1.id, a1.id]);
    // 2. After a reconnect through the other gateway.
    v.close();
    const v2 = await visitor(s.gw2, { token: v.token, hello: { lastIds: { [a1.conv]: a1.id } } });
    await v2.next('synced');
    v2.send({ type: 'send', cid: c, text: 'once' });
    const a2 = await v2.next('ack', (f) => f.cid === c);
    expect(a2.id).toBe(a1.id);
    expect(await s.gw.conns.cmd.xlen(K.convStream(a1.conv))).toBe((await s.gw.conns.cmd.xrange(K.convStream(a1.conv), '-', '+')).length);
    const msgs = (await s.gw.conns.cmd.xrange(K.convStream(a1.conv), '-', '+')).filter(([, f]) => (f[1] ?? '').includes('"kind":"msg"'));
    expect(msgs).toHaveLength(1);
    v2.close();
  });

  it('a resend (re) of a message stored before its conversation was resolved is acknowledged there, not stored again in a new one', async () => {
    const ana = await createOp(s.admin, { email: 'resend-ana@example.com', name: 'Ana' });
    const op = await onlineOperator(s.gw, ana.http);
    const v = await visitor(s.gw);
    await v.next('synced');
    const c1 = cid();
    v.send({ type: 'send', cid: c1, text: 'stored, ack lost' });
    const a1 = await v.next('ack', (f) => f.cid === c1);
    v.close();
    await op.next('conv', (f) => f.conv.id === a1.conv && f.conv.status === 'open');
    op.send({ type: 'resolve', conv: a1.conv });
    await op.next('conv', (f) => f.conv.id === a1.conv && f.conv.status === 'resolved');
    // Another tab has since started the visitor's next conversation.
    const tab = await visitor(s.gw2, { token: v.token });
    await tab.next('synced');
    const c2 = cid();
    tab.send({ type: 'send', cid: c2, text: 'a new question' });
    const a2 = await tab.next('ack', (f) => f.cid === c2);
    expect(a2.conv).not.toBe(a1.conv);
    // The first tab comes back without naming the first conversation and resends, marked `re`.
    const back = await visitor(s.gw2, { token: v.token });
    await back.next('synced');
    expect(back.of('welcome')[0]?.convs.map((c) => c.id)).not.toContain(a1.conv);
    back.send({ type: 'send', cid: c1, text: 'stored, ack lost', re: true });
    const again = await back.next('ack', (f) => f.cid === c1);
    expect(again).toMatchObject({ conv: a1.conv, id: a1.id });
    // Told about that conversation before the ack: its state and its entries, its own message among them.
    expect(back.of('conv').some((f) => f.conv.id === a1.conv && f.conv.status === 'resolved')).toBe(true);
    expect(back.of('entry').some((f) => f.entry.cid === c1)).toBe(true);
    const copies = async (conv: string) => (await s.gw.conns.cmd.xrange(K.convStream(conv), '-', '+')).filter(([, f]) => (f[1] ?? '').includes(`"cid":"${c1}"`)).length;
    expect(await copies(a1.conv)).toBe(1);
    expect(await copies(a2.conv)).toBe(0);
    // A first send (no `re`) is not looked up: a fresh cid goes into the open conversation.
    const c3 = cid();
    back.send({ type: 'send', cid: c3, text: 'fresh' });
    expect((await back.next('ack', (f) => f.cid === c3)).conv).toBe(a2.conv);
    back.close();
    tab.close();
    op.close();
  });

  it('a reconnecting visitor gets exactly what it missed, in order, and two reconnects in a row replay nothing', async () => {
    const ana = await createOp(s.admin, { email: 'ana2@example.com', name: 'Ana' });
    const op = await operator(s.gw, ana.http);
    op.send({ type: 'status', status: 'online' });
    await op.next('status', (f) => f.status === 'online');

    const v = await visitor(s.gw);
    await v.next('synced');
    const c = cid();
    v.send({ type: 'send', cid: c, text: 'start' });
    const ack = await v.next('ack', (f) => f.cid === c);
    await v.next('conv', (f) => f.conv.status === 'open');
    const seenSoFar = v.of('entry').map((f) => f.entry.id);
    const lastId = seenSoFar.at(-1) as string;
    v.close();

    // 1. While the visitor is away, the operator writes five messages.
    const sent: string[] = [];
    for (let i = 1; i <= 5; i++) {
      const oc = cid();
      op.send({ type: 'send', conv: ack.conv, cid: oc, text: `answer ${i}` });
      await op.next('ack', (f) => f.cid === oc);
      sent.push(`answer ${i}`);
    }
    // 2. Resume on the other gateway from the last id seen: exactly the five, in order.
    const r1 = await visitor(s.gw2, { token: v.token, hello: { lastIds: { [ack.conv]: lastId } } });
    await r1.next('synced');
    const got = r1.of('entry').filter((f) => f.entry.kind === 'msg').map((f) => f.entry.text);
    expect(got).toEqual(sent);
    const all = r1.of('entry').map((f) => f.entry.id);
    expect(new Set(all).size).toBe(all.length);
    const newest = all.at(-1) as string;
    r1.close();

    // 3. Two more reconnects with no new traffic: nothing at all is replayed.
    for (let i = 0; i < 2; i++) {
      const again = await visitor(i ? s.gw : s.gw2, { token: v.token, hello: { lastIds: { [ack.conv]: newest } } });
      await again.next('synced');
      expect(again.of('entry')).toHaveLength(0);
      again.close();
    }
    // 4. The operator console resumes the same way.
    op.close();
    const op2 = await operator(s.gw2, ana.http, { [ack.conv]: newest });
    await op2.next('synced');
    expect(op2.of('entry')).toHaveLength(0);
    op2.send({ type: 'resolve', conv: ack.conv });
    op2.send({ type: 'status', status: 'offline' });
    await op2.next('status', (f) => f.status === 'offline');
    op2.close();
  });

  it('live delivery crosses gateways: visitor on one, operator on the other, a second tab on the first', async () => {
    const b = await createOp(s.admin, { email: 'boris@example.com', name: 'Boris' });
    const op = await operator(s.gw2, b.http);
    op.send({ type: 'status', status: 'online' });
    await op.next('status', (f) => f.status === 'online');
    const v = await visitor(s.gw);
    await v.next('synced');
    const c = cid();
    v.send({ type: 'send', cid: c, text: 'hello across' });
    const ack = await v.next('ack', (f) => f.cid === c);
    await op.next('conv', (f) => f.conv.id === ack.conv && f.conv.status === 'open');
    const tab2 = await visitor(s.gw, { token: v.token });
    await tab2.next('synced');
    const texts: string[] = [];
    for (let i = 0; i < 10; i++) {
      const oc = cid();
      op.send({ type: 'send', conv: ack.conv, cid: oc, text: `m${i}` });
      texts.push(`m${i}`);
    }
    for (const client of [v, tab2]) {
      await client.next('entry', (f) => f.entry.text === 'm9');
      const got = client.of('entry').filter((f) => f.entry.from === 'operator' && f.entry.kind === 'msg').map((f) => f.entry.text);
      expect(got).toEqual(texts);
    }
    op.send({ type: 'resolve', conv: ack.conv });
    op.send({ type: 'status', status: 'offline' });
    await op.next('status', (f) => f.status === 'offline');
    for (const x of [v, tab2, op]) x.close();
  });
});
