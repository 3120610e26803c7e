/**
 * Reports (domain/reports.ts, store/reports.ts, http/reports.ts) on a real Redis and gateway: the
 * rollups are kept by the event log's `reports` consumer as chats happen (real sockets), in the
 * site's time zone; who sees which numbers; the CSV; bad ranges refused fast; an event delivered
 * twice counted once.
 */
import { randomId } from '@hark/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { CONV_CSV_COLUMNS, MAX_REPORT_DAYS, REPORT_CONV_PAGE, type Report, csvCell, localHour, zonedDayStart } from '../src/domain/reports';
import { K } from '../src/store/keys';
import { RK2 } from '../src/store/reports';
import { ADMIN, Http, type OperatorClient, type TestGateway, type TestRedis, cid, createOp, onlineOperator, testGateway, testRedis, visitor, waitFor } from './harness';

let redis: TestRedis;
let gw: TestGateway;
let admin: Http;
let ana: { id: string; http: Http };
let bob: { id: string; http: Http };
let sue: { id: string; http: Http };
let anaOp: OperatorClient;
let bobOp: OperatorClient;
const TZ = 'Pacific/Kiritimati'; // UTC+14: a site-local day differs from the UTC one for most of the day

const today = () => localHour(Date.now(), TZ).slice(0, 10);

beforeAll(async () => {
  redis = await testRedis();
  gw = await testGateway(redis.url);
  admin = new Http(gw.base);
  await admin.login(ADMIN.email, ADMIN.password);
  expect((await admin.req('PATCH', '/v1/sites/demo', { hours: { tz: TZ, days: {} } })).status).toBe(200);
  const team = await admin.req<{ id: string }>('POST', '/v1/teams', { name: 'Support', sites: ['demo'] });
  ana = await createOp(admin, { email: 'rep-ana@example.com', name: 'Ana', capacity: 10, teams: [team.body.id] });
  bob = await createOp(admin, { email: 'rep-bob@example.com', name: 'Bob', capacity: 0, teams: [team.body.id] });
  sue = await createOp(admin, { email: 'rep-sue@example.com', name: 'Sue', role: 'supervisor' });
  anaOp = await onlineOperator(gw, ana.http);
  bobOp = await onlineOperator(gw, bob.http);
  // Four sign-ins (scrypt) and a gateway: past the 30 s default on the shared 2-core machine at load 20+.
}, 120_000);

afterAll(async () => {
  await gw?.close();
  await redis?.cleanup();
});

async function chat(text: string): Promise<string> {
  const v = await visitor(gw);
  await v.next('synced');
  const c = cid();
  v.send({ type: 'send', cid: c, text });
  const ack = await v.next('ack', (f) => f.cid === c);
  await anaOp.next('conv', (f) => f.conv.id === ack.conv && f.conv.status === 'open');
  return ack.conv;
}
async function say(op: OperatorClient, conv: string, text: string) {
  const c = cid();
  op.send({ type: 'send', conv, cid: c, text });
  await op.next('ack', (f) => f.cid === c);
}
const q = (extra = '') => `/v1/reports?site=demo&from=${today()}&to=${today()}${extra}`;

describe('reports', () => {
  it('counts chats as they happen, in the site’s time zone, against the previous period', async () => {
    // 1: answered, resolved, rated good with a comment.
    const v1 = await visitor(gw);
    await v1.next('synced');
    const c = cid();
    v1.send({ type: 'send', cid: c, text: 'hello' });
    const c1 = (await v1.next('ack', (f) => f.cid === c)).conv;
    await anaOp.next('conv', (f) => f.conv.id === c1 && f.conv.status === 'open');
    await say(anaOp, c1, 'hi, how can I help?');
    anaOp.send({ type: 'resolve', conv: c1 });
    await v1.next('conv', (f) => f.conv.id === c1 && f.conv.status === 'resolved');
    v1.send({ type: 'rate', conv: c1, rating: 'good', comment: 'fast' });
    // 2: resolved before anyone answered: missed.
    const c2 = await chat('anyone there?');
    anaOp.send({ type: 'resolve', conv: c2 });
    await anaOp.next('conv', (f) => f.conv.id === c2 && f.conv.status === 'resolved');
    // 3: answered, then handed to Bob.
    const c3 = await chat('I need billing');
    await say(anaOp, c3, 'one moment');
    anaOp.send({ type: 'transfer', conv: c3, to: bob.id });
    await anaOp.next('conv', (f) => f.conv.id === c3 && f.conv.operator?.id === bob.id);

    const rep = await waitFor('all of it counted', async () => {
      const r = await sue.http.req<Report>('GET', q());
      const t = r.body.totals;
      return t?.conversations === 3 && t.good === 1 && t.missed === 1 && t.transfers === 1 && t.messages >= 5 ? r.body : null;
    });
    expect(rep.tz).toBe(TZ);
    expect(rep.scope).toEqual({ kind: 'site', id: 'demo' });
    expect(rep.totals).toMatchObject({ conversations: 3, missed: 1, good: 1, bad: 0, goodPct: 100, withComment: 1, transfers: 1, messages: 5, messagesPerChat: 1.7 });
    expect(rep.totals.firstResponseMedianMs).toBeGreaterThanOrEqual(0);
    expect(rep.totals.resolutionMedianMs).not.toBeNull();
    expect(rep.previous.totals.conversations).toBe(0);
    expect(rep.days).toHaveLength(1);
    expect(rep.days[0]?.day).toBe(today());
    // The heat-map: the three chats at this site-local weekday and hour.
    const [day, hour] = [new Date(`${today()}T00:00:00Z`).getUTCDay(), Number(localHour(Date.now(), TZ).slice(11))];
    expect(rep.heat.incoming.flat().reduce((a, b) => a + b, 0)).toBe(3);
    expect((rep.heat.incoming[day] as number[])[hour]).toBeGreaterThanOrEqual(1);
  });

  it('shows operators their own numbers with the team median; supervisors whom they oversee', async () => {
    const mine = await ana.http.req<Report>('GET', q());
    expect(mine.status).toBe(200);
    expect(mine.body.scope).toEqual({ kind: 'operator', id: ana.id });
    // Ana answered two first; ratings and resolutions are hers too.
    expect(mine.body.totals).toMatchObject({ conversations: 2, good: 1, transfers: 1 });
    expect(mine.body.teamMedian).toMatchObject({ conversations: 1 });
    // Another operator's numbers: not for an operator, whatever they ask.
    const other = await ana.http.req<{ code: string }>('GET', q(`&operator=${bob.id}`));
    expect([other.status, other.body.code]).toEqual([403, 'FORBIDDEN']);
    expect((await ana.http.req<Report>('GET', q('&team=x'))).body.scope).toEqual({ kind: 'operator', id: ana.id });
    const ofAna = await sue.http.req<Report>('GET', q(`&operator=${ana.id}`));
    expect([ofAna.status, ofAna.body.scope.id, ofAna.body.totals.conversations]).toEqual([200, ana.id, 2]);
    expect(ofAna.body.teamMedian).toBeUndefined();
    expect((await new Http(gw.base).req<{ code: string }>('GET', q())).body.code).toBe('NOT_AUTHENTICATED');
  });

  it('counts operator-hours online into the site-local hours', async () => {
    await new Promise((r) => setTimeout(r, 1000));
    bobOp.send({ type: 'status', status: 'away' });
    await bobOp.next('status', (f) => f.status === 'away');
    const rep = await waitFor(
      'Bob’s online time',
      async () => {
      const r = await sue.http.req<Report>('GET', q());
      return r.body.heat.online.flat().some((x) => x > 0) ? r.body : null;
      },
      20_000,
    );
    expect(rep.totals.operatorHoursOnline).toBeGreaterThan(0);
  });

  it('exports the report as CSV, streamed', async () => {
    const res = await fetch(gw.base + q().replace('/v1/reports', '/v1/reports.csv'), { headers: { cookie: sue.http.cookie } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/csv');
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="hark-report-demo-site-${today()}-${today()}.csv"`);
    const lines = (await res.text()).trim().split('\n');
    expect(lines[0]).toMatch(/^day,conversations,missed,offline_messages,/);
    expect(lines).toHaveLength(1 + 1 + 2);
    expect(lines[1]?.startsWith(`${today()},3,1,0,5,1.7,`)).toBe(true);
  });

  it('refuses bad and too long ranges at once', async () => {
    const t0 = Date.now();
    for (const [from, to, code] of [
      ['2026-13-40', '2026-01-01', 'REPORT_BAD_RANGE'],
      ['2026-02-01', '2026-01-01', 'REPORT_BAD_RANGE'],
      ['x', 'y', 'REPORT_BAD_RANGE'],
      ['2016-01-01', '2026-01-01', 'REPORT_RANGE_TOO_LONG'],
    ] as const) {
      const r = await sue.http.req<{ code: string }>('GET', `/v1/reports?site=demo&from=${from}&to=${to}`);
      expect([r.status, r.body.code], `${from}..${to}`).toEqual([400, code]);
    }
    // The longest allowed range answers.
    const end = today();
    const start = new Date(Date.parse(`${end}T00:00:00Z`) - (MAX_REPORT_DAYS - 1) * 86_400_000).toISOString().slice(0, 10);
    const full = await sue.http.req<Report>('GET', `/v1/reports?site=demo&from=${start}&to=${end}`);
    expect([full.status, full.body.days?.length, full.body.totals?.conversations]).toEqual([200, MAX_REPORT_DAYS, 3]);
    expect((await sue.http.req<{ code: string }>('GET', `/v1/reports?site=nope&from=${end}&to=${end}`)).status).toBe(404);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('counts an event delivered twice once, in the hour of the site’s zone', async () => {
    const reports = gw.ctx.domain.reports;
    // 2026-03-01 (a Sunday) 10:30 UTC is Monday 00:30 in UTC+14.
    const at = Date.parse('2026-03-01T10:30:00Z');
    expect(localHour(at, TZ)).toBe('2026-03-02T00');
    const e = { id: `t:${randomId(8)}`, at, type: 'offline_message.created' as const, site: 'demo', conv: `nx${randomId(8)}`, entry: '1-0', email: 'x@example.com' };
    await reports.count(e);
    await reports.count(e);
    const r = await sue.http.req<Report>('GET', '/v1/reports?site=demo&from=2026-03-02&to=2026-03-02');
    expect(r.body.totals.offlineMessages).toBe(1);
    expect((r.body.heat.incoming[1] as number[])[0]).toBe(0);
    expect(r.body.days[0]?.numbers.offlineMessages).toBe(1);
  });

  it('counts a read of the event log once, however often it is delivered: past a watermark per site and partition, no key per event', async () => {
    const reports = gw.ctx.domain.reports;
    const at = Date.parse('2026-04-06T10:30:00Z');
    const day = localHour(at, TZ).slice(0, 10);
    const admin = new Redis(redis.url);
    try {
      const p = 7;
      const at0 = Date.now();
      const msg = (i: number) => ({
        streamId: `${at0}-${i}`,
        event: { id: `rb:${randomId(8)}:${i}`, at, type: 'message.created' as const, site: 'demo', conv: `nx${randomId(8)}`, by: 'visitor' as const, entry: `${i}-0` },
      });
      const read = [msg(1), msg(2), msg(3)];
      await reports.countRead(read, p);
      // Delivered again (a gateway died before its ack), then again with more behind it (a later read from the same place).
      await reports.countRead(read, p);
      await reports.countRead([...read, msg(4), msg(5)], p);
      const r = await sue.http.req<Report>('GET', `/v1/reports?site=demo&from=${day}&to=${day}`);
      expect(r.body.totals.messages).toBe(5);
      expect(await admin.get(`{rep:demo}:w:${p}`)).toBe(`${at0}-5`);
      // No key per event (countOnce's `seen`): the watermark tells what was counted.
      for (const x of read) expect(await admin.exists(RK2.seen('demo', x.event.id))).toBe(0);
      expect(await admin.pttl(`{rep:demo}:d:${day}`)).toBeGreaterThan(700 * 86_400_000);
    } finally {
      admin.disconnect();
    }
  });

  it('exports the conversations behind the report as CSV: the scope’s, started within the range’s site-local days', async () => {
    const csv = async (who: Http, extra = '') => {
      const res = await fetch(gw.base + q(extra).replace('/v1/reports', '/v1/reports/conversations.csv'), { headers: { cookie: who.cookie } });
      return { res, lines: (await res.text()).trim().split('\n') };
    };
    const all = await csv(sue.http);
    expect(all.res.status).toBe(200);
    expect(all.res.headers.get('content-type')).toContain('text/csv');
    expect(all.res.headers.get('content-disposition')).toBe(`attachment; filename="hark-conversations-demo-site-${today()}-${today()}.csv"`);
    expect(all.lines[0]).toBe(CONV_CSV_COLUMNS.join(','));
    const rows = all.lines.slice(1).map((l) => l.split(','));
    expect(rows).toHaveLength(3);
    const col = (name: (typeof CONV_CSV_COLUMNS)[number]) => CONV_CSV_COLUMNS.indexOf(name);
    // Started today in the site's zone (UTC+14), shown in it.
    for (const r of rows) expect(r[col('started')]?.startsWith(today())).toBe(true);
    expect(rows.map((r) => r[col('status')]).sort()).toEqual(['open', 'resolved', 'resolved']);
    expect(rows.filter((r) => r[col('missed')] === '1')).toHaveLength(1);
    expect(rows.find((r) => r[col('rating')] === 'good')?.[col('rating_comment')]).toBe('fast');
    // An operator: their own (assigned to them now); Bob's only for who oversees him.
    const anas = await csv(ana.http);
    // (Cells as the export writes them: an id may start with '-', which csvCell makes text with a quote.)
    expect(anas.lines.slice(1).map((l) => l.split(',')[col('operator')])).toEqual([csvCell(ana.id), csvCell(ana.id)]);
    const other = await fetch(gw.base + q(`&operator=${bob.id}`).replace('/v1/reports', '/v1/reports/conversations.csv'), { headers: { cookie: ana.http.cookie } });
    expect([other.status, ((await other.json()) as { code: string }).code]).toEqual([403, 'FORBIDDEN']);
    const bobs = await csv(sue.http, `&operator=${bob.id}`);
    expect(bobs.lines.slice(1).map((l) => l.split(',')[col('operator')])).toEqual([csvCell(bob.id)]);
    // Refused like the report.
    const bad = await sue.http.req<{ code: string }>('GET', '/v1/reports/conversations.csv?site=demo&from=2016-01-01&to=2026-01-01');
    expect([bad.status, bad.body.code]).toEqual([400, 'REPORT_RANGE_TOO_LONG']);
  });

  it(`streams any number of them, REPORT_CONV_PAGE (${REPORT_CONV_PAGE}) records a page, each once, cells escaped`, async () => {
    const raw = new Redis(redis.url);
    try {
      const start = zonedDayStart(today(), TZ);
      const now = Date.now();
      const n = 2 * REPORT_CONV_PAGE + 7;
      const p = raw.pipeline();
      const made: string[] = [];
      for (let i = 0; i < n + 5; i++) {
        const id = `csv${i}x${randomId(4)}`;
        // The last five started the day before the range: left out. Half resolved in the same millisecond (the cursor counts ties).
        const created = i < n ? start + 1000 + i : start - 1000 - i;
        const resolved = i % 2 === 0 ? now : now + i;
        p.hset(K.conv(id), { site: 'demo', visitor: `v${id}`, status: 'resolved', createdAt: String(created), resolvedAt: String(resolved), op: ana.id, opName: 'Ana, the "first"', rating: 'bad', ratingComment: i === 0 ? '=HYPERLINK("http://x"),\nok' : '' });
        p.zadd(K.siteResolved('demo'), resolved, id);
        if (i < n) made.push(id);
      }
      await p.exec();
      const res = await fetch(gw.base + q().replace('/v1/reports', '/v1/reports/conversations.csv'), { headers: { cookie: sue.http.cookie } });
      expect(res.status).toBe(200);
      // Streamed: no length known up front.
      expect(res.headers.get('content-length')).toBeNull();
      expect(res.headers.get('transfer-encoding')).toBe('chunked');
      const body = await res.text();
      const ids = body.split('\n').filter((l) => l.startsWith('csv')).map((l) => l.split(',')[0]);
      expect(ids.length).toBe(n);
      expect(new Set(ids)).toEqual(new Set(made));
      expect(csvCell('Ana, the "first"')).toBe('"Ana, the ""first"""');
      expect(body).toContain(`,${csvCell('Ana, the "first"')},`);
      // A formula is text; the line break stays inside the quoted cell.
      expect(body).toContain(`"'=HYPERLINK(""http://x""),\nok"`);
      expect([csvCell('-1'), csvCell('@x'), csvCell('+1'), csvCell('plain')]).toEqual(["'-1", "'@x", "'+1", 'plain']);
    } finally {
      raw.disconnect();
    }
  });
});
