import { MAX_FRAME_BYTES, MAX_MESSAGE_CHARS, randomId } from '@hark/shared';
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { K } from '../src/store/keys';
import { ADMIN, Http, cid, createOp, operator, sleep, visitor } from './harness';
import { useStack } from './stack';

const s = useStack(1);

async function refused(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((res, rej) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => rej(new Error('upgrade was accepted')));
    ws.once('unexpected-response', (_req, resp) => {
      res(resp.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', () => {});
  });
}

describe('bad input gets an error code; the socket and server stay up; nothing is stored', () => {
  it('invalid JSON, unknown type, schema mismatch, empty and oversized messages', async () => {
    const v = await visitor(s.gw);
    await v.next('synced');
    v.ws.send('{not json');
    expect((await v.next('error')).code).toBe('BAD_FRAME');
    v.send({ type: 'explode' });
    await v.next('error', (f) => f.code === 'UNKNOWN_TYPE');
    v.send({ type: 'send', cid: 'short', text: 'x' });
    await v.next('error', (f) => f.code === 'BAD_FRAME');
    const e1 = cid();
    v.send({ type: 'send', cid: e1, text: '   \n\t ' });
    expect((await v.next('error', (f) => f.cid === e1)).code).toBe('EMPTY_MESSAGE');
    const e2 = cid();
    v.send({ type: 'send', cid: e2, text: 'x'.repeat(MAX_MESSAGE_CHARS + 1) });
    expect((await v.next('error', (f) => f.cid === e2)).code).toBe('MESSAGE_TOO_LONG');
    // Still up: a good message goes through.
    const ok = cid();
    v.send({ type: 'send', cid: ok, text: 'fine' });
    const ack = await v.next('ack', (f) => f.cid === ok);
    const msgs = (await s.gw.conns.cmd.xrange(K.convStream(ack.conv), '-', '+')).filter(([, f]) => (f[1] ?? '').includes('"kind":"msg"'));
    expect(msgs).toHaveLength(1);
    v.close();
  });

  it('a frame over MAX_FRAME_BYTES closes the socket with 1009', async () => {
    const v = await visitor(s.gw);
    await v.next('synced');
    v.ws.send(JSON.stringify({ type: 'send', cid: cid(), text: 'y'.repeat(MAX_FRAME_BYTES) }));
    expect((await v.waitClose()).code).toBe(1009);
    expect((await fetch(`${s.gw.base}/healthz`)).status).toBe(200);
  });

  it("a message to someone else's conversation is refused and nothing reaches it", async () => {
    const a = await visitor(s.gw);
    await a.next('synced');
    const c = cid();
    a.send({ type: 'send', cid: c, text: 'mine' });
    const ack = await a.next('ack', (f) => f.cid === c);
    const b = await visitor(s.gw);
    await b.next('synced');
    b.send({ type: 'seen', conv: ack.conv, id: ack.id });
    expect((await b.next('error')).code).toBe('CONVERSATION_NOT_FOUND');
    b.send({ type: 'history', conv: ack.conv });
    await b.next('error', (f) => f.code === 'CONVERSATION_NOT_FOUND' && b.of('error').length === 2);
    b.send({ type: 'hello', lastIds: { [ack.conv]: '0-0' } });
    await b.next('synced', () => b.of('synced').length === 2);
    expect(b.of('entry')).toHaveLength(0);
    const r = await fetch(`${s.gw.base}/v1/visitor/conversations/${ack.conv}?site=demo`, { headers: { authorization: `Visitor ${b.token}` } });
    expect(r.status).toBe(404);
    expect(((await r.json()) as { code: string }).code).toBe('CONVERSATION_NOT_FOUND');
    a.close();
    b.close();
  });

  it('upgrades are refused before the handshake: wrong origin, no token, malformed or unknown token, unknown site', async () => {
    const base = `${s.gw.wsBase}/v1/visitor?v=1`;
    const origin = { origin: s.gw.base };
    expect(await refused(`${base}&site=demo&token=${randomId(32)}&new=1`, { origin: 'https://evil.example' })).toBe(403);
    expect(await refused(`${base}&site=demo`, origin)).toBe(401);
    expect(await refused(`${base}&site=demo&token=short`, origin)).toBe(401);
    expect(await refused(`${base}&site=demo&token=${randomId(32)}`, origin)).toBe(401);
    expect(await refused(`${base}&site=nope&token=${randomId(32)}&new=1`, origin)).toBe(404);
    // The operator socket: the console origin and a valid session only.
    expect(await refused(`${s.gw.wsBase}/v1/operator?v=1`, origin)).toBe(401);
    expect(await refused(`${s.gw.wsBase}/v1/operator?v=1`, { origin: 'https://evil.example', cookie: s.admin.cookie })).toBe(403);
  });

  it('operators: sign-in with a wrong password, a deactivated account, and notes never reach the visitor', async () => {
    const bad = await new Http(s.gw.base).req('POST', '/v1/auth/login', { email: ADMIN.email, password: 'wrong password' });
    expect(bad.status).toBe(401);
    expect((bad.body as { code: string }).code).toBe('BAD_CREDENTIALS');
    const csrf = await new Http(s.gw.base).req('POST', '/v1/auth/login', { email: ADMIN.email, password: ADMIN.password }, { origin: 'https://evil.example' });
    expect((csrf.body as { code: string }).code).toBe('CSRF');

    const n = await createOp(s.admin, { email: 'nina@example.com', name: 'Nina' });
    const op = await operator(s.gw, n.http);
    op.send({ type: 'status', status: 'online' });
    await op.next('status', (f) => f.status === 'online');
    const v = await visitor(s.gw);
    await v.next('synced');
    const c = cid();
    v.send({ type: 'send', cid: c, text: 'help' });
    const ack = await v.next('ack', (f) => f.cid === c);
    await op.next('conv', (f) => f.conv.id === ack.conv && f.conv.status === 'open');
    const nc = cid();
    op.send({ type: 'note', conv: ack.conv, cid: nc, text: 'secret internal note' });
    await op.next('entry', (f) => f.entry.cid === nc);
    const rc = cid();
    op.send({ type: 'send', conv: ack.conv, cid: rc, text: 'public reply' });
    await v.next('entry', (f) => f.entry.text === 'public reply');
    const tab2 = await visitor(s.gw, { token: v.token });
    await tab2.next('synced');
    for (const client of [v, tab2]) expect(JSON.stringify(client.frames)).not.toContain('secret internal note');

    // Deactivation ends the session and the open socket at once; sign-in is refused.
    const off = await s.admin.req('PATCH', `/v1/operators/${n.id}`, { active: false });
    expect(off.status).toBe(200);
    const closed = await op.waitClose();
    expect(closed.code).toBe(1008);
    const again = await new Http(s.gw.base).req('POST', '/v1/auth/login', { email: 'nina@example.com', password: 'long enough password' });
    expect((again.body as { code: string }).code).toBe('ACCOUNT_DISABLED');
    await sleep(50);
    v.close();
    tab2.close();
  });
});
