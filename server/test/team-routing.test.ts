/**
 * Team routing: chats of a conversation routed to a team go only to the team's
 * members, and a queued chat that no member can take does not block the ones behind
 * it (the drain skips it and goes on: the ROUTE script's `drain`, redis/scripts.ts).
 */
import { describe, expect, it } from 'vitest';
import { type Http, createOp, newChat, operator } from './harness';
import { useStack } from './stack';

const s = useStack(1);

async function connected(http: Http, status: 'online' | 'away') {
  const o = await operator(s.gw, http);
  o.send({ type: 'status', status });
  await o.next('status', (f) => f.status === status);
  return o;
}

describe('team routing', () => {
  it("a site's chats go only to its team's members, whoever else is free", async () => {
    const team = (await s.admin.req<{ id: string }>('POST', '/v1/teams', { name: 'Billing', sites: ['demo'] })).body.id;
    const member = await createOp(s.admin, { email: 'tina@example.com', name: 'Tina', capacity: 1, teams: [team] });
    const other = await createOp(s.admin, { email: 'oto@example.com', name: 'Oto', capacity: 5 });
    expect((await s.admin.req('PATCH', '/v1/sites/demo', { team })).status).toBe(200);
    const mo = await connected(member.http, 'online');
    const oo = await connected(other.http, 'online');

    const a = await newChat(s.gw, 'team one');
    expect(a.state.status).toBe('open');
    expect(a.state.operator?.name).toBe('Tina');
    // Tina is full (capacity 1) and Oto is free but not in the team: the next one waits.
    const b = await newChat(s.gw, 'team two');
    expect(b.state.status).toBe('queued');
    expect(b.state.position).toBe(1);

    // Tina frees her seat: the team's waiting chat is hers.
    mo.send({ type: 'resolve', conv: a.conv });
    const got = await b.v.next('conv', (f) => f.conv.status === 'open');
    expect(got.conv.operator?.name).toBe('Tina');

    mo.send({ type: 'resolve', conv: b.conv });
    await b.v.next('conv', (f) => f.conv.status === 'resolved');
    expect((await s.admin.req('PATCH', '/v1/sites/demo', { team: '' })).status).toBe(200);
    // Both go offline, so the next test starts with nobody available.
    for (const o of [mo, oo]) {
      o.send({ type: 'status', status: 'offline' });
      await o.next('status', (f) => f.status === 'offline');
    }
    for (const c of [mo, oo, a.v, b.v]) c.close();
  });

  it('a queued chat no member can take does not block the chats behind it', async () => {
    const team = (await s.admin.req<{ id: string }>('POST', '/v1/teams', { name: 'Returns', sites: ['demo'] })).body.id;
    const member = await createOp(s.admin, { email: 'rea@example.com', name: 'Rea', capacity: 1, teams: [team] });
    const other = await createOp(s.admin, { email: 'bo@example.com', name: 'Bo', capacity: 1 });
    // Nobody is online: both chats wait, the team's first.
    const bo = await connected(other.http, 'away');
    const first = await newChat(s.gw, 'for the returns team');
    expect(first.state.status).toBe('queued');
    // A waiting chat may be sent to a team by anyone on the site.
    bo.send({ type: 'transfer', conv: first.conv, team });
    await bo.next('conv', (f) => f.conv.id === first.conv && f.conv.team === team);
    const second = await newChat(s.gw, 'for anyone');
    expect(second.state.status).toBe('queued');
    expect(second.state.position).toBe(2);

    // Bo (not in the team) comes online: the team's chat ahead of the queue is skipped, the next is his.
    bo.send({ type: 'status', status: 'online' });
    const taken = await second.v.next('conv', (f) => f.conv.status === 'open');
    expect(taken.conv.operator?.name).toBe('Bo');
    const still = await s.admin.req<{ conv: { status: string; position?: number } }>('GET', `/v1/conversations/${first.conv}`);
    expect(still.body.conv.status).toBe('queued');
    expect(still.body.conv.position).toBe(1);

    // The team's member comes online: the skipped chat is hers.
    const ro = await connected(member.http, 'online');
    const hers = await first.v.next('conv', (f) => f.conv.status === 'open');
    expect(hers.conv.operator?.name).toBe('Rea');
    for (const c of [bo, ro, first.v, second.v]) c.close();
  });
});
