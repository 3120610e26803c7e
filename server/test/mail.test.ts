/**
 * E-mail end to end on real parts: a private Redis, a gateway, a real SMTP server in this process
 * (smtp-server, test/smtp-sink.ts) as the recipient of what the gateway sends, and real SMTP
 * delivery (nodemailer) into the gateway's own inbound listener. Each flow in en, hr and ru.
 */
import { randomId } from '@hark/shared';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAIL_TRANSCRIPTS_PER_ADDRESS_PER_DAY, MAIL_VISITOR_TRANSCRIPTS_PER_HOUR, type MailView } from '../src/domain/mail';
import { MAIL_INBOUND_PER_SENDER_PER_HOUR, MAIL_MAX_INBOUND_BYTES, replyText } from '../src/domain/mail-inbound';
import { markBounced } from '../src/store/mail';
import { MAIL_CATALOGUES } from '../src/domain/mail-text';
import { ADMIN, Http, type OperatorClient, type TestGateway, type TestRedis, cid, createOp, onlineOperator, sleep, testGateway, testRedis, visitor, waitFor } from './harness';
import { type Received, type SmtpSink, smtpSink } from './smtp-sink';

const LANGS = ['en', 'hr', 'ru'] as const;
type Lang = (typeof LANGS)[number];
const WORDS: Record<Lang, { notify: string; reply: string; from: string; earlier: string; transcript: string }> = {
  en: { notify: 'New message from', reply: 'New reply from Demo shop', from: 'Maja from Demo shop', earlier: 'Earlier in the conversation:', transcript: 'Your conversation with Demo shop' },
  hr: { notify: 'Nova poruka od', reply: 'Novi odgovor od Demo shop', from: 'Maja iz Demo shop', earlier: 'Ranije u razgovoru:', transcript: 'Vaš razgovor sa Demo shop' },
  ru: { notify: 'Новое сообщение от', reply: 'Новый ответ от Demo shop', from: 'Maja из Demo shop', earlier: 'Ранее в разговоре:', transcript: 'Ваш разговор с Demo shop' },
};

const AWAY_MS = 400;
const BATCH_MS = 700;

let redis: TestRedis;
let gw: TestGateway;
let sink: SmtpSink;
let admin: Http;
let maja: { id: string; http: Http };
let op: OperatorClient;

const to = (addr: string) => (r: Received) => r.rcpt.includes(addr);
const mailTo = (addr: string, timeoutMs = 10_000) => waitFor(`mail to ${addr}`, () => sink.received.find(to(addr)), timeoutMs);
const log = async () => (await admin.req<MailView[]>('GET', '/v1/sites/demo/mail?limit=1000')).body;

/** Delivers a message to the gateway's inbound SMTP listener, as a visitor's mail client would. */
async function deliver(rcpt: string, msg: { from?: string; subject?: string; text?: string; html?: string; headers?: Record<string, string>; raw?: string; envelopeFrom?: string | false }) {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: gw.smtpInbound?.port, secure: false, ignoreTLS: true, connectionTimeout: 5_000 });
  try {
    return await t.sendMail({
      envelope: { from: msg.envelopeFrom === false ? '' : (msg.envelopeFrom ?? msg.from ?? 'someone@example.org'), to: [rcpt] },
      ...(msg.raw ? { raw: msg.raw } : { from: msg.from ?? 'someone@example.org', to: rcpt, subject: msg.subject ?? 'Re: hi', ...(msg.text !== undefined ? { text: msg.text } : {}), ...(msg.html ? { html: msg.html } : {}), headers: msg.headers ?? {} }),
    });
  } finally {
    t.close();
  }
}

/** A visitor (in `lang`) who leaves an offline message and closes the tab; returns their conversation. */
async function offlineVisitor(lang: Lang, email: string, text: string, o: { stay?: boolean; name?: string; on?: TestGateway } = {}) {
  const v = await visitor(o.on ?? gw, { hello: { locale: lang === 'en' ? 'en-GB' : lang === 'hr' ? 'hr-HR' : 'ru-RU' } });
  await v.next('synced');
  const c = cid();
  v.send({ type: 'offline', cid: c, email, text, ...(o.name ? { name: o.name } : {}) });
  const ack = await v.next('ack', (f) => f.cid === c);
  if (!o.stay) {
    v.close();
    await v.waitClose();
  }
  return { v, conv: ack.conv };
}

/** Maja (online) has the conversation (the queue drains to her, or she takes it). */
async function majaHas(conv: string) {
  op.send({ type: 'take', conv });
  await waitFor('assigned to Maja', async () => (await maja.http.req<{ conv?: { status: string; operator?: { id: string } } }>('GET', `/v1/conversations/${conv}`)).body?.conv?.operator?.id === maja.id);
}

function says(conv: string, text: string) {
  op.send({ type: 'send', conv, cid: cid(), text });
}

/** A visitor who stays on the site (on `on`) is answered: they see it in the widget, and their reply mail is skipped, not sent. */
async function answeredWhileHere(tag: string, text: string, answer: string, on?: TestGateway) {
  const email = `${tag}-${randomId(6)}@example.net`;
  const { conv, v } = await offlineVisitor('en', email, text, { stay: true, ...(on ? { on } : {}) });
  await majaHas(conv);
  says(conv, answer);
  await v.next('entry', (f) => f.entry.text === answer);
  await sleep(BATCH_MS + AWAY_MS + 600);
  expect(sink.received.filter(to(email))).toHaveLength(0);
  const rec = (await log()).find((x) => x.conv === conv && x.kind === 'reply');
  expect(rec?.state).toBe('skipped');
  expect(rec?.error).toContain('on the site');
  v.close();
}

beforeAll(async () => {
  sink = await smtpSink();
  redis = await testRedis();
  gw = await testGateway(redis.url, {
    config: { smtpUrl: sink.url, mailDomain: 'hark.test', mailFrom: 'support@hark.test', smtpInboundPort: 0 },
    testLimits: { mail: { awayMs: AWAY_MS, batchMs: BATCH_MS, retryBaseMs: 150, retryCapMs: 300, pollMs: 100, notifyWaitMs: 2_000, unansweredEveryMs: 200 } },
  });
  admin = new Http(gw.base);
  await admin.login(ADMIN.email, ADMIN.password);
  maja = await createOp(admin, { email: 'maja@example.com', name: 'Maja', capacity: 50 });
  op = await onlineOperator(gw, maja.http);
}, 60_000);

afterAll(async () => {
  op?.close();
  await gw?.close();
  await redis?.cleanup();
  await sink?.close();
});

describe('the words', () => {
  it('every language has every key', () => {
    for (const lang of ['hr', 'ru'] as const) expect(Object.keys(MAIL_CATALOGUES[lang]).sort()).toEqual(Object.keys(MAIL_CATALOGUES.en).sort());
  });
});

describe('offline messages reach the team', () => {
  for (const lang of LANGS) {
    it(`e-mails the site's operators in the team's language (${lang}), with the text, the visitor's e-mail and a console link`, async () => {
      expect((await admin.req('PATCH', '/v1/sites/demo', { mailLang: lang })).status).toBe(200);
      const email = `off-${lang}-${randomId(6)}@example.net`;
      const text = `Where is my order? (${lang})`;
      const { conv } = await offlineVisitor(lang, email, text);
      const got = await waitFor('notification', () => sink.received.find((r) => r.mail.text?.includes(email)));
      expect(got.mail.subject).toContain(WORDS[lang].notify);
      // Default recipients: the site's operators (the admin and Maja).
      expect(got.rcpt.sort()).toEqual([ADMIN.email, 'maja@example.com'].sort());
      expect(got.mail.text).toContain(text);
      expect(got.mail.text).toContain(`/console/queue/${conv}`);
      expect(got.mail.headers.get('auto-submitted')).toBe('auto-generated');
      expect(got.envelopeFrom).toBe('support@hark.test');
      expect(got.mail.messageId).toMatch(/@hark\.test>$/);
      const entry = (await log()).find((m) => m.conv === conv && m.kind === 'notify');
      expect(entry?.state).toBe('sent');
      expect(entry?.to).toContain(ADMIN.email);
    });
  }

  it('goes to the notification addresses when the site has them', async () => {
    await admin.req('PATCH', '/v1/sites/demo', { mailLang: 'en', notifyEmails: ['team@shop.example'] });
    const email = `off-addr-${randomId(6)}@example.net`;
    await offlineVisitor('en', email, 'hello team');
    const got = await waitFor('notification', () => sink.received.find((r) => r.mail.text?.includes(email)));
    expect(got.rcpt).toEqual(['team@shop.example']);
    await admin.req('PATCH', '/v1/sites/demo', { notifyEmails: [] });
    // A list that is not addresses is refused with a clear error.
    const bad = await admin.req<{ code: string }>('PATCH', '/v1/sites/demo', { notifyEmails: ['a@b.example, evil@x.example'] });
    expect(bad.status).toBe(400);
  });

  it('an offline message waits in the queue marked offline, taking no seat, until taken; a visitor who comes back to chat makes it live', async () => {
    const conv = async (id: string) => (await admin.req<{ conv: { status: string; offline?: boolean; operator?: { id: string } | null } }>('GET', `/v1/conversations/${id}`)).body.conv;
    // Maja is online with room: a live chat would be hers at once; an offline message is not.
    const a = await offlineVisitor('en', `seat-a-${randomId(5)}@example.net`, 'Offline, no seat');
    await sleep(300);
    expect(await conv(a.conv)).toMatchObject({ status: 'queued', offline: true, operator: null });
    await majaHas(a.conv);
    expect(await conv(a.conv)).toMatchObject({ status: 'open' });
    expect((await conv(a.conv)).offline).toBeUndefined();
    // Another one whose visitor comes back and writes in the chat: a live chat, drained to Maja.
    const b = await offlineVisitor('en', `seat-b-${randomId(5)}@example.net`, 'Offline first', { stay: true });
    await sleep(300);
    expect(await conv(b.conv)).toMatchObject({ status: 'queued', offline: true });
    const c = cid();
    b.v.send({ type: 'send', cid: c, text: 'I am back' });
    await b.v.next('ack', (f) => f.cid === c);
    await waitFor('live and assigned', async () => (await conv(b.conv)).operator?.id === maja.id);
    b.v.close();
  });

  it("a chat nobody answered within the site's threshold while no operator is available reaches the team too", async () => {
    op.send({ type: 'status', status: 'away' });
    await op.next('status', (f) => f.status === 'away');
    await admin.req('PATCH', '/v1/sites/demo', { unansweredMs: 1_000 });
    try {
      const v = await visitor(gw);
      await v.next('synced');
      const c = cid();
      const text = `Hello? anyone ${randomId(6)}`;
      v.send({ type: 'send', cid: c, text });
      const ack = await v.next('ack', (f) => f.cid === c);
      const got = await waitFor('unanswered notification', () => sink.received.find((r) => (r.mail.text ?? '').includes(text)), 10_000);
      expect(got.mail.text).toContain(`/console/queue/${ack.conv}`);
      expect(got.rcpt).toContain('maja@example.com');
      // Once per time it was queued.
      await sleep(1_000);
      expect(sink.received.filter((r) => (r.mail.text ?? '').includes(text))).toHaveLength(1);
      v.close();
    } finally {
      await admin.req('PATCH', '/v1/sites/demo', { unansweredMs: 60_000 });
      const from = op.frames.length;
      op.send({ type: 'status', status: 'online' });
      await op.next('status', (f) => f.status === 'online', 5_000, from);
    }
  });

  it('a redelivered event queues one e-mail (the mail id comes from the event)', async () => {
    const before = (await log()).length;
    const c = gw.ctx.domain.mail.consumer();
    const e = { id: `offline:x${randomId(6)}:1-0`, at: Date.now(), type: 'offline_message.created' as const, site: 'demo', conv: 'nosuchconv', entry: '1-0', email: 'a@b.example' };
    await c.handle(e);
    await c.handle(e);
    expect((await log()).length).toBe(before + 1);
  });
});

describe('answers follow the visitor', () => {
  for (const lang of LANGS) {
    it(`an away visitor gets the operator's messages of one window as one e-mail in their language (${lang}), and can reply to it`, async () => {
      const email = `away-${lang}-${randomId(6)}@example.net`;
      const { conv } = await offlineVisitor(lang, email, `First question ${lang}`);
      await majaHas(conv);
      says(conv, `Answer one ${lang}`);
      says(conv, `Answer two ${lang}`);
      const got = await mailTo(email);
      await sleep(BATCH_MS);
      expect(sink.received.filter(to(email))).toHaveLength(1);
      const m = got.mail;
      expect(m.subject).toBe(WORDS[lang].reply);
      expect(m.from?.value[0]?.name).toBe(WORDS[lang].from);
      expect(m.from?.value[0]?.address).toBe('support@hark.test');
      expect(m.text).toContain(`Answer one ${lang}`);
      expect(m.text).toContain(`Answer two ${lang}`);
      expect(m.text).toContain(WORDS[lang].earlier);
      expect(m.text).toContain(`> ${MAIL_CATALOGUES[lang]['who.visitor']}: First question ${lang}`);
      expect(m.text).toContain(`${gw.base}/`);
      const replyTo = m.replyTo?.value[0]?.address ?? '';
      expect(replyTo).toMatch(new RegExp(`^reply\\+${conv}\\.[a-f0-9]{24}@hark\\.test$`));
      expect(String(m.references)).toContain(`conv.${conv}@hark.test`);

      // The visitor answers from their mail client: the reply lands in the conversation, quoted history and signature gone.
      const entriesBefore = op.frames.length;
      await deliver(replyTo, {
        from: email,
        subject: `Re: ${m.subject}`,
        text: `Thanks, that helps (${lang})\n\n-- \nAna, Zagreb\n\nOn Mon, 1 Dec 2026 at 10:00, Maja wrote:\n> Answer one ${lang}\n`,
        headers: { 'In-Reply-To': m.messageId ?? '' },
      });
      const entry = await op.next('entry', (f) => f.entry.conv === conv && f.entry.from === 'visitor' && (f.entry.text ?? '').startsWith('Thanks'), 5_000, entriesBefore);
      expect(entry.entry.text).toBe(`Thanks, that helps (${lang})`);
      expect((await log()).find((x) => x.kind === 'inbound' && x.conv === conv)?.state).toBe('received');
    });
  }

  it('a visitor back on the site sees it in the widget and gets no e-mail', async () => {
    await answeredWhileHere('here', 'Still here', 'Hello, you are here');
  });

  it('a visitor on a gateway that leaves the event log to a consumer worker (role gateway) is on the site too', async () => {
    // The mail consumer runs on the first gateway; the visitor's socket is on one that handles no
    // events: its sockets count because it serves, not because it shares the mail consumer's work.
    const serving = await testGateway(redis.url, { role: 'gateway' });
    try {
      await answeredWhileHere('there', 'Here, on the other gateway', 'Hello over there', serving);
    } finally {
      await serving.close();
    }
  });

  it('an operator sends a transcript to the visitor (notes never in it)', async () => {
    const email = `tr-${randomId(6)}@example.net`;
    const { conv } = await offlineVisitor('hr', email, 'Transcript please');
    await majaHas(conv);
    op.send({ type: 'note', conv, cid: cid(), text: 'SECRET NOTE' });
    says(conv, 'Public answer');
    const res = await maja.http.req<MailView>('POST', `/v1/conversations/${conv}/transcript`);
    expect(res.status).toBe(202);
    const got = await waitFor('transcript', () => sink.received.find((r) => r.rcpt.includes(email) && r.mail.subject === WORDS.hr.transcript));
    expect(got.mail.text).toContain('Transcript please');
    expect(got.mail.text).not.toContain('SECRET NOTE');
    // Only the visitor's own address: an operator of another site may not even see it.
    const other = await createOp(admin, { email: `o-${randomId(5)}@example.com`, name: 'Other', sites: [] });
    expect((await other.http.req('POST', `/v1/conversations/${conv}/transcript`)).status).toBe(404);
  });
});

describe('a visitor asks for a transcript', () => {
  it(`goes to their own address only, bounded per visitor (${MAIL_VISITOR_TRANSCRIPTS_PER_HOUR}/h) and per address (${MAIL_TRANSCRIPTS_PER_ADDRESS_PER_DAY}/day)`, async () => {
    const email = `vt-${randomId(6)}@example.net`;
    const a = await offlineVisitor('ru', email, 'Copy please', { stay: true });
    for (let i = 0; i < MAIL_VISITOR_TRANSCRIPTS_PER_HOUR; i++) {
      const from = a.v.frames.length;
      a.v.send({ type: 'transcript', conv: a.conv });
      const f = await a.v.next('transcript', () => true, 5_000, from);
      expect(f.to).toBe(email);
    }
    const got = await waitFor('transcript', () => sink.received.find((r) => r.rcpt.includes(email) && r.mail.subject === WORDS.ru.transcript));
    expect(got.mail.text).toContain('Copy please');
    await sleep(300);
    // Asked three times within the hour for one conversation: one e-mail (its id is the conversation and the hour).
    expect(sink.received.filter((r) => r.rcpt.includes(email))).toHaveLength(1);
    const from = a.v.frames.length;
    a.v.send({ type: 'transcript', conv: a.conv });
    expect((await a.v.next('error', () => true, 5_000, from)).code).toBe('MAIL_LIMIT');
    // Another visitor typing the same address: the address's own daily bound.
    const b = await offlineVisitor('en', email, 'Me too', { stay: true });
    const codes: string[] = [];
    for (let i = 0; i < MAIL_VISITOR_TRANSCRIPTS_PER_HOUR; i++) {
      const n = b.v.frames.length;
      b.v.send({ type: 'transcript', conv: b.conv });
      const f = await Promise.race([b.v.next('transcript', () => true, 5_000, n), b.v.next('error', () => true, 5_000, n)]);
      codes.push(f.type === 'error' ? f.code : 'ok');
    }
    expect(codes).toEqual(['ok', 'ok', 'MAIL_LIMIT']);
    // Someone else's conversation: not found, nothing sent.
    const n = b.v.frames.length;
    b.v.send({ type: 'transcript', conv: a.conv });
    expect((await b.v.next('error', () => true, 5_000, n)).code).toBe('CONVERSATION_NOT_FOUND');
    a.v.close();
    b.v.close();
  });

  it('a visitor without an e-mail is told to leave one', async () => {
    const v = await visitor(gw);
    await v.next('synced');
    const c = cid();
    v.send({ type: 'send', cid: c, text: 'no mail here' });
    const ack = await v.next('ack', (f) => f.cid === c);
    v.send({ type: 'transcript', conv: ack.conv });
    expect((await v.next('error')).code).toBe('BAD_REQUEST');
    v.close();
  });
});

describe('replies come back', () => {
  let conv: string;
  let replyTo: string;
  const email = `in-${randomId(6)}@example.net`;
  beforeAll(async () => {
    ({ conv } = await offlineVisitor('en', email, 'Inbound tests'));
    replyTo = await gw.ctx.domain.mail.replyAddress(conv);
  });

  it('an unknown or forged reply address is refused at RCPT time (550), nothing stored', async () => {
    const inbound = async () => (await log()).filter((m) => m.kind === 'inbound').length;
    const before = await inbound();
    const forged = replyTo.replace(/\.([a-f0-9]{24})@/, (_m, t: string) => `.${t.slice(0, 23)}${t.endsWith('0') ? '1' : '0'}@`);
    for (const rcpt of [forged, 'postmaster@hark.test', `reply+${conv}.000000000000000000000000@hark.test`, replyTo.replace('@hark.test', '@other.test')]) {
      const err = await deliver(rcpt, { text: 'hi' }).then(
        () => null,
        (e: { responseCode?: number }) => e,
      );
      expect(err?.responseCode).toBe(550);
    }
    expect(await inbound()).toBe(before);
  });

  it('HTML only is turned into text; the resolved conversation reopens', async () => {
    await majaHas(conv);
    op.send({ type: 'resolve', conv });
    await waitFor('resolved', async () => (await admin.req<{ conv: { status: string } }>('GET', `/v1/conversations/${conv}`)).body.conv.status === 'resolved');
    const from = op.frames.length;
    await deliver(replyTo, { from: email, html: '<p>Hello <b>again</b></p><blockquote>old stuff</blockquote>' });
    const e = await op.next('entry', (f) => f.entry.conv === conv && f.entry.from === 'visitor' && (f.entry.text ?? '').includes('again'), 5_000, from);
    expect(e.entry.text).toContain('Hello again');
    await waitFor('reopened', async () => (await admin.req<{ conv: { status: string } }>('GET', `/v1/conversations/${conv}`)).body.conv.status === 'open');
  });

  it('auto-replies, our own mail and mail without text are not posted', async () => {
    const from = op.frames.length;
    await deliver(replyTo, { from: email, text: 'I am out of office', headers: { 'Auto-Submitted': 'auto-replied' } });
    await deliver(replyTo, { from: email, text: 'Bulk', headers: { Precedence: 'bulk' } });
    await deliver(replyTo, { from: email, text: 'Loop', headers: { 'X-Hark-Mail': 'abc' } });
    await deliver(replyTo, { from: 'support@hark.test', text: 'From ourselves' });
    await deliver(replyTo, { from: email, text: '> only a quote\n' });
    await sleep(500);
    expect(op.frames.slice(from).filter((f) => f.type === 'entry' && f.entry.conv === conv && f.entry.from === 'visitor')).toHaveLength(0);
    const errors = (await log()).filter((x) => x.kind === 'inbound' && x.conv === conv && x.state === 'refused').map((x) => x.error ?? '');
    expect(errors.some((x) => x.startsWith('auto-reply'))).toBe(true);
    expect(errors.filter((x) => x.startsWith('loop'))).toHaveLength(2);
    expect(errors).toContain('no text');
  });

  it('a bounce marks the visitor address as failing (shown to operators) and is not posted', async () => {
    const raw = [
      'From: Mail Delivery System <MAILER-DAEMON@mx.example.net>',
      `To: ${replyTo}`,
      'Subject: Undelivered Mail Returned to Sender',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain',
      '',
      'Your message could not be delivered.',
      '--b1',
      'Content-Type: message/delivery-status',
      '',
      `Final-Recipient: rfc822; ${email}`,
      'Action: failed',
      'Status: 5.1.1',
      '--b1--',
      '',
    ].join('\r\n');
    await deliver(replyTo, { raw, envelopeFrom: false });
    const bounced = await waitFor('bounced', async () => (await admin.req<{ address: string; reason: string }[]>('GET', '/v1/sites/demo/mail/bounced')).body.find((b) => b.address === email.toLowerCase()));
    expect(bounced.reason).toContain('Undelivered');
    // No transcript to a failing address.
    const t = await maja.http.req<{ code: string }>('POST', `/v1/conversations/${conv}/transcript`);
    expect(t.status).toBe(409);
  });

  it(`oversized mail is refused (552 past ${MAIL_MAX_INBOUND_BYTES} bytes)`, async () => {
    const err = await deliver(replyTo, { from: email, text: 'x'.repeat(MAIL_MAX_INBOUND_BYTES + 10) }).then(
      () => null,
      (e: { responseCode?: number }) => e,
    );
    expect(err?.responseCode).toBe(552);
  });

  it(`one sender gets at most ${MAIL_INBOUND_PER_SENDER_PER_HOUR} messages in per hour (then 450)`, async () => {
    const sender = `flood-${randomId(5)}@example.org`;
    let refused: number | undefined;
    for (let i = 0; i < MAIL_INBOUND_PER_SENDER_PER_HOUR + 1 && refused === undefined; i++) {
      await deliver(replyTo, { from: sender, text: `flood ${i}` }).catch((e: { responseCode?: number }) => {
        refused = i;
        expect(e.responseCode).toBe(450);
      });
    }
    expect(refused).toBe(MAIL_INBOUND_PER_SENDER_PER_HOUR);
  }, 30_000);

  it('the inbound hook takes raw MIME with the secret only', async () => {
    const raw = `From: ${email}\r\nTo: ${replyTo}\r\nSubject: hook\r\nMessage-ID: <hook-${randomId(6)}@example.net>\r\n\r\nVia the hook\r\n`;
    const post = (auth?: string) => fetch(`${gw.base}/v1/mail/inbound`, { method: 'POST', headers: { 'content-type': 'message/rfc822', ...(auth ? { authorization: auth } : {}) }, body: raw });
    // Off without MAIL_INBOUND_SECRET.
    expect((await post('Bearer x')).status).toBe(404);
    gw.ctx.config.mailInboundSecret = 'hook-secret-123456';
    try {
      expect((await post('Bearer wrong')).status).toBe(401);
      // Without a bearer the request is a browser's: refused by the CSRF check.
      expect((await post()).status).toBe(403);
      const from = op.frames.length;
      const ok = await post('Bearer hook-secret-123456');
      expect(ok.status).toBe(200);
      await op.next('entry', (f) => f.entry.conv === conv && f.entry.text === 'Via the hook', 5_000, from);
    } finally {
      gw.ctx.config.mailInboundSecret = undefined;
    }
  });
});

describe('the queue', () => {
  it('retries a refused attempt with backoff, then fails; an admin resends it', async () => {
    sink.failNext(2);
    const email = `retry-${randomId(6)}@example.net`;
    await offlineVisitor('en', email, 'Retry me');
    const got = await waitFor('notification after retries', () => sink.received.find((r) => r.mail.text?.includes(email)));
    expect(got).toBeTruthy();
    const rec = (await log()).find((m) => m.kind === 'notify' && m.text.includes(email));
    expect(rec?.state).toBe('sent');
    expect(rec?.attempts).toBe(3);

    gw.ctx.domain.mail.configure({ retryForMs: 0 });
    try {
      sink.failNext(1);
      const email2 = `fail-${randomId(6)}@example.net`;
      await offlineVisitor('en', email2, 'Fail me');
      const failed = await waitFor('failed', async () => (await log()).find((m) => m.kind === 'notify' && m.text.includes(email2) && m.state === 'failed'));
      expect(failed.error).toContain('451');
      expect(sink.received.filter((r) => r.mail.text?.includes(email2))).toHaveLength(0);
      const again = await admin.req<MailView>('POST', `/v1/sites/demo/mail/${failed.id}/resend`);
      expect(again.status).toBe(200);
      await waitFor('resent', () => sink.received.find((r) => r.mail.text?.includes(email2)));
      expect((await admin.req<{ code: string }>('POST', `/v1/sites/demo/mail/${failed.id}/resend`)).status).toBe(409);
    } finally {
      gw.ctx.domain.mail.configure({ retryForMs: 12 * 3600_000 });
    }
  });

  it('header injection through names and subjects is impossible', async () => {
    const email = `inj-${randomId(6)}@example.net`;
    await admin.req('PATCH', '/v1/sites/demo', { name: 'Shop\r\nBcc: victim@evil.test' });
    try {
      await offlineVisitor('en', email, 'Inject', { name: 'Ann\r\nBcc: victim2@evil.test\r\nX-Evil: 1' });
      const got = await waitFor('notification', () => sink.received.find((r) => r.mail.text?.includes(email)));
      expect(got.rcpt.every((a) => !a.includes('evil.test'))).toBe(true);
      const head = got.raw.split('\r\n\r\n')[0] ?? '';
      expect(head).not.toMatch(/^(Bcc|X-Evil):/im);
      expect(got.mail.headers.has('bcc')).toBe(false);
      expect(got.mail.headers.has('x-evil')).toBe(false);
    } finally {
      await admin.req('PATCH', '/v1/sites/demo', { name: 'Demo shop' });
    }
  });

  it('erasing the visitor deletes their mail', async () => {
    const email = `erase-${randomId(6)}@example.net`;
    const { conv } = await offlineVisitor('en', email, 'Forget me');
    await waitFor('notification', () => sink.received.find((r) => r.mail.text?.includes(email)));
    expect((await log()).some((m) => m.conv === conv)).toBe(true);
    const c = await admin.req<{ conv: { visitor: { id: string } } }>('GET', `/v1/conversations/${conv}`);
    const vid = c.body.conv.visitor.id;
    // The visitor's export carries the mail of their conversations.
    const exp = await admin.req<{ mail: { conv: string; to: string }[] }>('GET', `/v1/sites/demo/visitors/${vid}/export`);
    expect(exp.status).toBe(200);
    expect(exp.body.mail.some((m) => m.conv === conv)).toBe(true);
    // Their address had bounced: the failing-address list names them until the erase.
    await markBounced(gw.conns.cmd, 'demo', email, 'mailbox full', 100);
    expect((await admin.req<{ address: string }[]>('GET', '/v1/sites/demo/mail/bounced')).body.some((b) => b.address === email.toLowerCase())).toBe(true);
    expect((await admin.req('DELETE', `/v1/sites/demo/visitors/${vid}`)).status).toBe(204);
    expect((await admin.req<{ address: string }[]>('GET', '/v1/sites/demo/mail/bounced')).body.some((b) => b.address === email.toLowerCase())).toBe(false);
    expect((await log()).some((m) => m.conv === conv || m.text.includes(email) || m.to.includes(email))).toBe(false);
    // Only the erased conversation's short-lived tombstone is left (ARCHITECTURE.md).
    expect((await gw.conns.cmd.keys(`*${conv}*`)).filter((k) => !k.endsWith(':meta'))).toEqual([]);
  });

  it('replyText strips quotes and signatures in the three languages', () => {
    expect(replyText('Yes\n\nOn Tue, 2 Dec 2026, Maja wrote:\n> q')).toBe('Yes');
    expect(replyText('Da\n\nuto, 2. pro 2026. u 10:00 Maja <m@x.hr> je napisala:\n> q')).toBe('Da');
    expect(replyText('Да\n\n2 дек. 2026 г., в 10:00, Maja написал(а):\n> q')).toBe('Да');
    expect(replyText('Fine\n-- \nAna')).toBe('Fine');
    expect(replyText('Ok\n\nSent from my iPhone')).toBe('Ok');
  });
});

describe('without SMTP_URL', () => {
  let redis2: TestRedis;
  let gw2: TestGateway;
  beforeAll(async () => {
    redis2 = await testRedis();
    gw2 = await testGateway(redis2.url, { testLimits: { mail: { pollMs: 100 } } });
  }, 30_000);
  afterAll(async () => {
    await gw2?.close();
    await redis2?.cleanup();
  });

  it('keeps every e-mail in the local mailbox, readable in the mail log', async () => {
    const a = new Http(gw2.base);
    await a.login(ADMIN.email, ADMIN.password);
    const v = await visitor(gw2);
    await v.next('synced');
    const c = cid();
    v.send({ type: 'offline', cid: c, email: 'local@example.net', text: 'Kept locally' });
    await v.next('ack', (f) => f.cid === c);
    const m = await waitFor('local mail', async () => (await a.req<MailView[]>('GET', '/v1/sites/demo/mail')).body.find((x) => x.state === 'local'));
    expect(m.text).toContain('Kept locally');
    expect(m.to).toContain(ADMIN.email);
    expect(m.sentAt).toBeGreaterThan(0);
    v.close();
  });
});
