/**
 * Teams, saved replies and stats over real REST against a real Redis: who may
 * do what, and that the numbers follow the events the gateway reports.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, Http, type TestGateway, type TestRedis, cid, createOp, operator, testGateway, testRedis, visitor } from './harness';

let redis: TestRedis;
let gw: TestGateway;
let admin: Http;

beforeAll(async () => {
  redis = await testRedis();
  // No hooks passed: the stats routes install the Redis recorder, as in production.
  gw = await testGateway(redis.url);
  admin = new Http(gw.base);
  await admin.login(ADMIN.email, ADMIN.password);
});
afterAll(async () => {
  await gw?.close();
  await redis?.cleanup();
});

describe('teams', () => {
  it('admins create, rename and delete; deleting takes the team off its operators', async () => {
    const made = await admin.req<{ id: string; name: string }>('POST', '/v1/teams', { name: 'Billing', sites: ['demo'] });
    expect(made.status).toBe(201);
    const id = made.body.id;
    expect((await admin.req('PATCH', `/v1/teams/${id}`, { name: 'Billing & refunds' })).body).toMatchObject({ name: 'Billing & refunds' });
    const bo = await createOp(admin, { email: 'bo@example.com', name: 'Bo', sites: ['demo'], teams: [id] });
    // An operator lists teams but cannot create them.
    expect((await bo.http.req<unknown[]>('GET', '/v1/teams')).body).toHaveLength(1);
    expect((await bo.http.req<{ code: string }>('POST', '/v1/teams', { name: 'Mine' })).body.code).toBe('FORBIDDEN');
    expect((await admin.req('DELETE', `/v1/teams/${id}`)).status).toBe(200);
    const after = await admin.req<{ id: string; teams: string[] }[]>('GET', '/v1/operators');
    expect(after.body.find((o) => o.id === bo.id)?.teams).toEqual([]);
    expect((await admin.req<unknown[]>('GET', '/v1/teams')).body).toEqual([]);
  });
});

describe('saved replies', () => {
  it('keeps personal replies private and site replies to admins and supervisors', async () => {
    const cy = await createOp(admin, { email: 'cy@example.com', name: 'Cy', sites: ['demo'] });
    const dee = await createOp(admin, { email: 'dee@example.com', name: 'Dee', sites: ['demo'] });
    const site = await admin.req<{ id: string }>('POST', '/v1/replies', { shortcut: 'hello', text: 'Hello {name}!', site: 'demo' });
    expect(site.status).toBe(201);
    const own = await cy.http.req<{ id: string }>('POST', '/v1/replies', { shortcut: 'bye', text: 'Bye!' });
    expect(own.status).toBe(201);
    expect((await cy.http.req<{ code: string }>('POST', '/v1/replies', { shortcut: 'x', text: 'y', site: 'demo' })).body.code).toBe('FORBIDDEN');
    // Same shortcut twice in one scope is a conflict.
    expect((await cy.http.req<{ code: string }>('POST', '/v1/replies', { shortcut: 'BYE', text: 'again' })).body.code).toBe('CONFLICT');

    const cyList = (await cy.http.req<{ shortcut: string }[]>('GET', '/v1/replies')).body.map((r) => r.shortcut).sort();
    const deeList = (await dee.http.req<{ shortcut: string }[]>('GET', '/v1/replies')).body.map((r) => r.shortcut);
    expect(cyList).toEqual(['bye', 'hello']);
    expect(deeList).toEqual(['hello']);
    // Dee can neither edit Cy's reply nor the site's.
    expect((await dee.http.req('PATCH', `/v1/replies/${own.body.id}`, { text: 'hacked' })).status).toBe(404);
    expect((await dee.http.req('DELETE', `/v1/replies/${site.body.id}`)).status).toBe(403);
    expect((await cy.http.req<{ text: string }>('PATCH', `/v1/replies/${own.body.id}`, { text: 'Goodbye!' })).body.text).toBe('Goodbye!');
  });
});

describe('stats', () => {
  it('counts a handled chat, its first response and its rating as they happen', async () => {
    const eve = await createOp(admin, { email: 'eve@example.com', name: 'Eve', sites: ['demo'] });
    const op = await operator(gw, eve.http);
    op.send({ type: 'status', status: 'online' });
    await op.next('status', (f) => f.status === 'online');
    const v = await visitor(gw);
    await v.next('synced');
    v.send({ type: 'send', cid: cid(), text: 'Hi' });
    const ack = await v.next('ack');
    await op.next('conv', (f) => f.conv.id === ack.conv && f.conv.status === 'open');
    const c = cid();
    op.send({ type: 'send', conv: ack.conv, cid: c, text: 'Hello!' });
    await op.next('ack', (f) => f.cid === c);
    op.send({ type: 'resolve', conv: ack.conv });
    await op.next('conv', (f) => f.conv.id === ack.conv && f.conv.status === 'resolved');
    v.send({ type: 'rate', conv: ack.conv, rating: 'bad', comment: 'Too slow' });
    await op.next('conv', (f) => f.conv.id === ack.conv && f.conv.rating === 'bad');

    type S = { operator: { id: string }; today: { handled: number; medianFirstResponseMs: number | null; bad: number }; week: { handled: number }; ratings: { comment?: string }[] };
    let mine: S | undefined;
    // The hooks run after the frames go out; give them a moment.
    for (let i = 0; i < 20 && !(mine?.today.bad === 1); i++) {
      mine = (await eve.http.req<S[]>('GET', '/v1/stats')).body[0];
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(mine?.today.handled).toBe(1);
    expect(mine?.week.handled).toBe(1);
    expect(mine?.today.medianFirstResponseMs).toBeGreaterThanOrEqual(0);
    expect(mine?.today.bad).toBe(1);
    expect(mine?.ratings[0]?.comment).toBe('Too slow');
    // An operator sees only their own numbers; the admin sees everyone's.
    expect((await eve.http.req('GET', '/v1/stats?operator=all')).status).toBe(403);
    const all = (await admin.req<S[]>('GET', '/v1/stats?operator=all')).body;
    expect(all.find((x) => x.operator.id === eve.id)?.today.handled).toBe(1);
    op.close();
    v.close();
  });
});
