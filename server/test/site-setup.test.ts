/**
 * Setting a site up (#13 item 7): business hours in a zone nobody knows are refused with a stable
 * code (they would silently mean "always closed"); the admin who creates a site serves it; an
 * operator changes their own name (and nothing else).
 */
import { describe, expect, it } from 'vitest';
import { Http, cid, createOp, onlineOperator, visitor } from './harness';
import { useStack } from './stack';

const s = useStack(1);
const week = { '1': [['09:00', '17:00']] };

describe('site setup', () => {
  it('refuses business hours in an unknown time zone, on create and on change, and keeps the site as it was', async () => {
    for (const tz of ['Europe/Zagrebb', 'Mars/Olympus', '']) {
      const r = await s.admin.req<{ code: string }>('PATCH', '/v1/sites/demo', { hours: { tz, days: week } });
      expect(r.status, tz).toBe(400);
      expect(r.body.code, tz).toBe('INVALID_TIME_ZONE');
    }
    const created = await s.admin.req<{ code: string }>('POST', '/v1/sites', { name: 'Nowhere', hours: { tz: 'Europe/Zagrebb', days: week } });
    expect(created.body.code).toBe('INVALID_TIME_ZONE');
    expect((await s.admin.req<{ name: string }[]>('GET', '/v1/sites')).body.map((x) => x.name)).not.toContain('Nowhere');
    expect((await s.admin.req<{ hours: unknown }>('GET', '/v1/sites/demo')).body.hours).toBeNull();
    // A real zone is taken.
    const ok = await s.admin.req<{ hours: { tz: string } }>('PATCH', '/v1/sites/demo', { hours: { tz: 'Europe/Zagreb', days: week } });
    expect(ok.status).toBe(200);
    expect(ok.body.hours.tz).toBe('Europe/Zagreb');
    expect((await s.admin.req('PATCH', '/v1/sites/demo', { hours: null })).status).toBe(200);
  });

  it('adds the admin who creates a site to it', async () => {
    const r = await s.admin.req<{ id: string }>('POST', '/v1/sites', { name: 'Garden shop' });
    expect(r.status).toBe(201);
    const me = (await s.admin.req<{ me: { id: string } }>('GET', '/v1/auth/me')).body.me;
    const op = (await s.admin.req<{ sites: string[] }>('GET', `/v1/operators/${me.id}`)).body;
    expect(op.sites).toContain(r.body.id);
  });

  it('lets an operator change their own name, not their role', async () => {
    const ana = await createOp(s.admin, { email: 'ana@example.com', name: 'Ana' });
    const renamed = await ana.http.req<{ name: string }>('PATCH', `/v1/operators/${ana.id}`, { name: 'Ana Horvat' });
    expect(renamed.status).toBe(200);
    expect(renamed.body.name).toBe('Ana Horvat');
    const promoted = await ana.http.req<{ code: string }>('PATCH', `/v1/operators/${ana.id}`, { name: 'Ana', role: 'admin' });
    expect(promoted.body.code).toBe('FORBIDDEN');
  });

  it('deletes an operator: signed out, their chat back to the queue, the account gone, what they wrote kept', async () => {
    const bo = await createOp(s.admin, { email: 'bo@example.com', name: 'Bo' });
    const op = await onlineOperator(s.gw, bo.http);
    const v = await visitor(s.gw);
    await v.next('synced');
    v.send({ type: 'send', cid: cid(), text: 'Hello?' });
    const { conv } = await v.next('ack');
    await op.next('conv', (f) => f.conv.id === conv && f.conv.status === 'open');
    const c = cid();
    op.send({ type: 'send', conv, cid: c, text: 'Bo here.' });
    await op.next('ack', (f) => f.cid === c);

    // Only an admin, never oneself.
    expect((await bo.http.req<{ code: string }>('DELETE', `/v1/operators/${bo.id}`)).body.code).toBe('FORBIDDEN');
    const me = (await s.admin.req<{ me: { id: string } }>('GET', '/v1/auth/me')).body.me;
    expect((await s.admin.req<{ code: string }>('DELETE', `/v1/operators/${me.id}`)).body.code).toBe('CONFLICT');

    const del = await s.admin.req('DELETE', `/v1/operators/${bo.id}`);
    expect(del.status).toBe(200);
    expect((await op.waitClose()).code).toBeGreaterThanOrEqual(1000);
    const back = await s.admin.req<{ conv: { status: string; operator?: unknown } ; entries: { text?: string; op?: { name: string } }[] }>('GET', `/v1/conversations/${conv}`);
    expect(back.body.conv.status).toBe('queued');
    expect(back.body.entries.find((e) => e.text === 'Bo here.')?.op?.name).toBe('Bo');
    expect((await s.admin.req<{ email: string }[]>('GET', '/v1/operators')).body.map((o) => o.email)).not.toContain('bo@example.com');
    expect((await s.admin.req('GET', `/v1/operators/${bo.id}`)).status).toBe(404);
    // Their session is over and they cannot sign in again; the e-mail is free for a new account.
    expect((await bo.http.req('GET', '/v1/auth/me')).status).toBe(401);
    const again = new Http(s.gw.base);
    expect((await again.req<{ code: string }>('POST', '/v1/auth/login', { email: 'bo@example.com', password: 'long enough password' })).body.code).toBe('BAD_CREDENTIALS');
    expect((await s.admin.req('DELETE', `/v1/operators/${bo.id}`)).status).toBe(404);
    await createOp(s.admin, { email: 'bo@example.com', name: 'Bo again' });
    v.close();
  });

  it('deletes a site that holds no conversation, with what hangs on it, and refuses one that holds some', async () => {
    const made = (await s.admin.req<{ id: string }>('POST', '/v1/sites', { name: 'Mistake', origins: ['self'] })).body.id;
    const cleo = await createOp(s.admin, { email: 'cleo@example.com', name: 'Cleo', sites: ['demo', made] });
    const key = (await s.admin.req<{ key: { id: string } }>('POST', '/v1/api-keys', { name: 'crm', access: 'read', site: made })).body.key.id;
    // Only an admin; a site with conversations stays (the earlier tests' chats are on demo).
    expect((await cleo.http.req<{ code: string }>('DELETE', `/v1/sites/${made}`)).body.code).toBe('FORBIDDEN');
    const busy = await s.admin.req<{ code: string; message: string }>('DELETE', '/v1/sites/demo');
    expect(busy.status).toBe(409);
    expect(busy.body.code).toBe('CONFLICT');
    expect((await s.admin.req('GET', '/v1/sites/demo')).status).toBe(200);

    expect((await s.admin.req('DELETE', `/v1/sites/${made}`)).status).toBe(200);
    expect((await s.admin.req<{ id: string }[]>('GET', '/v1/sites')).body.map((x) => x.id)).not.toContain(made);
    expect((await s.admin.req('GET', `/v1/sites/${made}`)).status).toBe(404);
    expect((await s.admin.req<{ sites: string[] }>('GET', `/v1/operators/${cleo.id}`)).body.sites).toEqual(['demo']);
    expect((await s.admin.req<{ id: string }[]>('GET', '/v1/api-keys')).body.map((k) => k.id)).not.toContain(key);
    // Its widget is refused before the handshake.
    await expect(visitor(s.gw, { site: made })).rejects.toThrow(/404/);
    expect((await s.admin.req('DELETE', `/v1/sites/${made}`)).status).toBe(404);
  });
});
