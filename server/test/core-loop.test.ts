import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { K } from '../src/store/keys';
import { cid, createOp, onlineOperator, visitor } from './harness';
import { useStack } from './stack';

const s = useStack(1);

describe('core loop', () => {
  it('a visitor message reaches an online operator, who answers with their name', async () => {
    const ana = await createOp(s.admin, { email: 'ana@example.com', name: 'Ana' });
    const op = await onlineOperator(s.gw, ana.http);

    const v = await visitor(s.gw);
    await v.next('welcome');
    await v.next('synced');
    const c1 = cid();
    v.send({ type: 'send', cid: c1, text: 'Hello, is anyone there?' });
    const ack = await v.next('ack', (f) => f.cid === c1);
    expect(ack.id).toMatch(/^\d+-\d+$/);

    // 1. The conversation arrives at once, assigned to Ana.
    const conv = await op.next('conv', (f) => f.conv.id === ack.conv && f.conv.status === 'open');
    expect(conv.conv.operator?.name).toBe('Ana');
    expect(conv.conv.last?.text).toBe('Hello, is anyone there?');
    // The first message also arrives live as an entry, though it was stored before anyone followed the conversation.
    await op.next('entry', (f) => f.entry.cid === c1);
    op.send({ type: 'open', conv: ack.conv });
    const hist = await op.next('history', (f) => f.conv === ack.conv);
    expect(hist.entries.filter((e) => e.kind === 'msg').map((e) => e.cid)).toEqual([c1]);

    // 2. The visitor sees who is answering.
    const vconv = await v.next('conv', (f) => f.conv.status === 'open');
    expect(vconv.conv.operator?.name).toBe('Ana');

    // 3. Ana answers; the visitor sees it with her name.
    const c2 = cid();
    op.send({ type: 'send', conv: ack.conv, cid: c2, text: 'Hi! Ana here.' });
    await op.next('ack', (f) => f.cid === c2);
    const reply = await v.next('entry', (f) => f.entry.kind === 'msg' && f.entry.from === 'operator');
    expect(reply.entry.text).toBe('Hi! Ana here.');
    expect(reply.entry.op?.name).toBe('Ana');

    // 4. A second tab (same token) gets the whole history.
    const tab2 = await visitor(s.gw, { token: v.token });
    await tab2.next('synced');
    const texts = tab2.of('entry').filter((f) => f.entry.kind === 'msg').map((f) => f.entry.text);
    expect(texts).toEqual(['Hello, is anyone there?', 'Hi! Ana here.']);
    v.close();
    tab2.close();
    op.close();
  });

  it('a visitor who writes on after the operator resolved, on the same socket, starts a new conversation', async () => {
    const bo = await createOp(s.admin, { email: 'bo@example.com', name: 'Bo' });
    const op = await onlineOperator(s.gw, bo.http);
    const v = await visitor(s.gw);
    await v.next('synced');
    const c1 = cid();
    v.send({ type: 'send', cid: c1, text: 'first' });
    const a1 = await v.next('ack', (f) => f.cid === c1);
    await op.next('conv', (f) => f.conv.id === a1.conv && f.conv.status === 'open');
    const c2 = cid();
    v.send({ type: 'send', cid: c2, text: 'second, same conversation' });
    expect((await v.next('ack', (f) => f.cid === c2)).conv).toBe(a1.conv);

    op.send({ type: 'resolve', conv: a1.conv });
    await v.next('conv', (f) => f.conv.id === a1.conv && f.conv.status === 'resolved');
    const c3 = cid();
    v.send({ type: 'send', cid: c3, text: 'one more question' });
    const a3 = await v.next('ack', (f) => f.cid === c3);
    expect(a3.conv).not.toBe(a1.conv);
    const e3 = await v.next('entry', (f) => f.entry.cid === c3);
    expect(e3.entry.conv).toBe(a3.conv);
    // The resolved conversation was not written into.
    op.send({ type: 'open', conv: a1.conv });
    const hist = await op.next('history', (f) => f.conv === a1.conv);
    expect(hist.entries.filter((e) => e.kind === 'msg').map((e) => e.cid)).toEqual([c1, c2]);
    v.close();
    op.close();
  });

  it("an operator's send is checked again where it is stored: a conversation taken from them behind their view's back refuses it", async () => {
    const cy = await createOp(s.admin, { email: 'cy@example.com', name: 'Cy' });
    const op = await onlineOperator(s.gw, cy.http);
    const v = await visitor(s.gw);
    await v.next('synced');
    const c1 = cid();
    v.send({ type: 'send', cid: c1, text: 'hi' });
    const a1 = await v.next('ack', (f) => f.cid === c1);
    await op.next('conv', (f) => f.conv.id === a1.conv && f.conv.status === 'open' && f.conv.operator?.id === cy.id);
    const c2 = cid();
    op.send({ type: 'send', conv: a1.conv, cid: c2, text: 'allowed' });
    const a2 = await op.next('ack', (f) => f.cid === c2);
    const n1 = cid();
    op.send({ type: 'note', conv: a1.conv, cid: n1, text: 'a note' });
    const an1 = await op.next('ack', (f) => f.cid === n1);
    // Reassigned in Redis with no doorbell: the gateway's site view still says Cy.
    const r = new Redis(s.redis.url);
    await r.hset(K.conv(a1.conv), 'op', 'someone-else');
    const c3 = cid();
    op.send({ type: 'send', conv: a1.conv, cid: c3, text: 'not allowed' });
    // Cy may no longer even read it: the same answer as for a conversation that does not exist.
    expect((await op.next('error', (f) => f.cid === c3)).code).toBe('CONVERSATION_NOT_FOUND');
    const texts = (await r.xrange(K.convStream(a1.conv), '-', '+')).map(([, f]) => JSON.parse(f[1] as string).text);
    expect(texts).toContain('allowed');
    expect(texts).not.toContain('not allowed');
    // A resend of what Cy had stored before the conversation was taken (the first ack lost with a dying
    // socket) is acknowledged again with the same id, not refused: it was delivered. Stored once.
    const acks = op.of('ack').length;
    op.send({ type: 'send', conv: a1.conv, cid: c2, text: 'allowed' });
    op.send({ type: 'note', conv: a1.conv, cid: n1, text: 'a note' });
    expect((await op.next('ack', (f) => f.cid === c2, 5000, acks)).id).toBe(a2.id);
    expect((await op.next('ack', (f) => f.cid === n1, 5000, acks)).id).toBe(an1.id);
    const after = (await r.xrange(K.convStream(a1.conv), '-', '+')).map(([, f]) => JSON.parse(f[1] as string).cid);
    expect(after.filter((x) => x === c2 || x === n1)).toEqual([c2, n1]);
    await r.quit();
    v.close();
    op.close();
  });
});
