/**
 * E-mail under a gateway SIGKILL: three gateway processes on one Redis and a real SMTP server in
 * this process (smtp-server, test/smtp-sink.ts) that answers each message slowly, so mail is in
 * flight. Visitors leave offline messages (each one queues a notification to the team); the
 * gateway running the `mail-delivery` job is SIGKILLed while the SMTP server holds messages of
 * its, and started again.
 *
 * Then: every offline message acknowledged has exactly one mail record, `sent`; every one of them
 * reached the SMTP server (by its Message-ID, the idempotency key a receiver de-duplicates on);
 * no Message-ID came with two different bodies, none is unknown; a Message-ID received twice is
 * only one whose attempt the kill cut after the server had it (SMTP has no acknowledgement of
 * the 250: the claim ends and the next owner sends it again with the same Message-ID).
 */
import { randomId } from '@hark/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAIL_CONCURRENCY } from '../src/domain/mail';
import { K } from '../src/store/keys';
import { MK } from '../src/store/mail';
import { ADMIN, sleep, visitor } from '../test/harness';
import { type SmtpSink, smtpSink } from '../test/smtp-sink';
import { type GatewayProc, spawnGateway } from './accounting';
import { type Fleet, startFleet, waitFor } from './fleet';
import { note } from './report';

/** Offline messages left, spread over the gateways and over this many ms. */
const MESSAGES = 60;
const SPREAD_MS = 6_000;
/** The scenario's bound, start to checked. */
const BOUND_MS = 90_000;

let sink: SmtpSink;
let f: Fleet;
const env = process.env.HARK_CHAOS_MAIL;

beforeAll(async () => {
  sink = await smtpSink({ delayMs: [100, 600] });
  // The gateway processes read this (chaos/gateway-proc.ts): a claim ends after 3 s (the product: 90 s).
  process.env.HARK_CHAOS_MAIL = JSON.stringify({ smtpUrl: sink.url, pollMs: 100, claimMs: 3_000, retryBaseMs: 300, retryCapMs: 1_000 });
  f = await startFleet({ gateways: 3, operators: 0 });
}, 120_000);

afterAll(async () => {
  await f?.close();
  await sink?.close();
  if (env === undefined) delete process.env.HARK_CHAOS_MAIL;
  else process.env.HARK_CHAOS_MAIL = env;
});

describe('e-mail under a gateway SIGKILL', () => {
  it('every notification sent, each Message-ID with one body, duplicates only from attempts the kill cut', async () => {
    const t0 = Date.now();
    const acked: { conv: string; email: string }[] = [];
    let killed: { at: number; inflight: number } | null = null;
    const leave = async (i: number) => {
      const target = f.targets.list[i % f.targets.list.length] as { base: string; wsBase: string };
      const email = `chaos-${i}-${randomId(5)}@example.net`;
      const v = await visitor(target);
      try {
        await v.next('synced', () => true, 10_000);
        const cid = randomId(21);
        v.send({ type: 'offline', cid, email, text: `offline ${i}` });
        const ack = await v.next('ack', (x) => x.cid === cid, 10_000);
        acked.push({ conv: ack.conv, email });
      } finally {
        v.close();
      }
    };
    const sends = Array.from({ length: MESSAGES }, (_, i) => sleep((i * SPREAD_MS) / MESSAGES).then(() => leave(i).catch(() => {})));
    // The gateway running the delivery job (its lease names it: host:pid:…), killed while the SMTP server holds messages of its.
    await sleep(2_000);
    await waitFor(() => sink.inflight() > 0, 15_000, 'mail in flight');
    const owner = await f.r.get(K.jobLease('mail-delivery'));
    const pid = Number(owner?.split(':')[1]);
    const i = f.gws.findIndex((g) => g.child.pid === pid);
    expect(i).toBeGreaterThanOrEqual(0);
    const victim = f.gws[i] as GatewayProc;
    f.targets.list = f.targets.list.filter((t) => t !== victim.target);
    killed = { at: Date.now(), inflight: sink.inflight() };
    await victim.kill('SIGKILL');
    await Promise.all(sends);
    await sleep(1_000);
    const fresh = await spawnGateway(f.redisUrl, victim.port);
    f.gws[i] = fresh;
    f.targets.list.push(fresh.target);

    // Every acknowledged offline message's notification: wait until each is sent (or the bound).
    const recordOf = async (conv: string) => {
      for (const id of await f.r.zrange(MK.log('demo'), 0, -1)) {
        const h = await f.r.hgetall(MK.mail(id));
        if (h.conv === conv && h.kind === 'notify') return { id, ...h };
      }
      return null;
    };
    let records: ({ id: string } & Record<string, string>)[] = [];
    for (;;) {
      records = [];
      for (const a of acked) {
        const r = await recordOf(a.conv);
        if (r) records.push(r);
      }
      if (records.length === acked.length && records.every((r) => r.state === 'sent') && sink.inflight() === 0) break;
      if (Date.now() - t0 > BOUND_MS - 5_000) break;
      await sleep(500);
    }
    const ms = Date.now() - t0;
    const perConv = new Map<string, number>();
    for (const id of await f.r.zrange(MK.log('demo'), 0, -1)) {
      const h = await f.r.hgetall(MK.mail(id));
      if (h.kind === 'notify' && h.conv) perConv.set(h.conv, (perConv.get(h.conv) ?? 0) + 1);
    }
    const mids = new Map(records.map((r) => [`<${r.messageId}>`, r]));
    const got = new Map<string, Set<string>>();
    for (const m of sink.received) {
      const id = m.mail.messageId ?? '';
      got.set(id, (got.get(id) ?? new Set()).add(m.mail.text ?? ''));
    }
    const counts = new Map<string, number>();
    for (const m of sink.received) counts.set(m.mail.messageId ?? '', (counts.get(m.mail.messageId ?? '') ?? 0) + 1);
    const missing = [...mids.keys()].filter((id) => !got.has(id));
    const unknown = [...got.keys()].filter((id) => !mids.has(id));
    const twoBodies = [...got].filter(([, b]) => b.size > 1).map(([id]) => id);
    const twice = [...counts.values()].filter((n) => n > 1).length;
    const notOne = acked.filter((a) => perConv.get(a.conv) !== 1).map((a) => a.conv);
    const notSent = records.filter((r) => r.state !== 'sent').map((r) => `${r.id} ${r.state} ${r.error ?? ''}`);
    const summary = {
      ms,
      offlineAcked: acked.length,
      mails: records.length,
      received: sink.received.length,
      distinctMessageIds: got.size,
      receivedTwice: twice,
      inFlightAtKill: killed?.inflight ?? 0,
      cutByKill: sink.cut,
      missing: missing.length,
      unknown: unknown.length,
      twoBodies: twoBodies.length,
      notOneRecord: notOne.length,
      notSent: notSent.length,
    };
    note(`mail-sigkill ${JSON.stringify(summary)}`);

    expect(acked.length).toBeGreaterThan(MESSAGES * 0.9);
    expect(killed?.inflight ?? 0).toBeGreaterThan(0);
    expect(notOne).toEqual([]);
    expect(notSent).toEqual([]);
    expect(missing).toEqual([]);
    expect(unknown).toEqual([]);
    expect(twoBodies).toEqual([]);
    // A Message-ID twice only for a claim the killed gateway held (at most MAIL_CONCURRENCY attempts at once).
    expect(twice).toBeLessThanOrEqual(MAIL_CONCURRENCY);
    expect(sink.received.every((m) => m.rcpt.length === 1 && m.rcpt[0] === ADMIN.email)).toBe(true);
    expect(ms).toBeLessThan(BOUND_MS);
  }, 150_000);
});
