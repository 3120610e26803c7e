/**
 * A real SMTP server (smtp-server) on 127.0.0.1 as the recipient of the gateway's mail: every
 * message accepted is kept raw and parsed (mailparser). `failNext(n)` answers the next n
 * messages with a temporary failure (451), as a busy mail server would.
 */
import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface Received {
  envelopeFrom: string;
  rcpt: string[];
  raw: string;
  mail: ParsedMail;
  at: number;
}

export interface SmtpSink {
  port: number;
  url: string;
  received: Received[];
  /** Messages whose data arrived but not yet answered (with `delayMs`). */
  inflight(): number;
  /** Messages whose sender hung up before the answer (never delivered: SMTP delivers at 250). */
  cut: number;
  failNext(n: number): void;
  close(): Promise<void>;
}

export async function smtpSink(o: { delayMs?: [number, number] } = {}): Promise<SmtpSink> {
  const received: Received[] = [];
  let failing = 0;
  let inflight = 0;
  const closed = new Set<string>();
  const sink = { cut: 0 };
  const server = new SMTPServer({
    onClose(session) {
      closed.add(session.id);
    },
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (failing > 0) {
          failing--;
          const e = Object.assign(new Error('Try again later'), { responseCode: 451 });
          cb(e);
          return;
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        inflight++;
        const [lo, hi] = o.delayMs ?? [0, 0];
        const wait = new Promise((r) => setTimeout(r, lo + Math.random() * (hi - lo)));
        Promise.all([simpleParser(raw), wait]).then(
          ([mail]) => {
            inflight--;
            // The sender hung up before the answer: not delivered (it will send again).
            if (closed.has(session.id)) {
              sink.cut++;
              return;
            }
            received.push({
              envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              rcpt: session.envelope.rcptTo.map((a) => a.address),
              raw,
              mail,
              at: Date.now(),
            });
            cb();
          },
          (e: Error) => {
            inflight--;
            cb(e);
          },
        );
      });
    },
  });
  // A sender killed mid-conversation (chaos/mail.test.ts SIGKILLs a gateway) resets its connection:
  // smtp-server emits that as 'error' on the server, which without a listener is an uncaught
  // exception in the test process (seen in a local CI run: read ECONNRESET). Expected there; the
  // message it was sending is counted in `cut` (or never arrived) and sent again.
  server.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'ECONNRESET' && e.code !== 'EPIPE') throw e;
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    received,
    inflight: () => inflight,
    get cut() {
      return sink.cut;
    },
    failNext(n) {
      failing = n;
    },
    close: () => new Promise<void>((res) => server.close(() => res())),
  };
}

/** Sends one message by SMTP to a listener on 127.0.0.1 (the gateway's inbound one), as a mail client would. */
export async function sendMail(port: number, msg: { from: string; to: string; subject: string; text: string; inReplyTo?: string }): Promise<void> {
  const nodemailer = await import('nodemailer');
  const t = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, connectionTimeout: 5_000 });
  try {
    await t.sendMail({ from: msg.from, to: msg.to, subject: msg.subject, text: msg.text, ...(msg.inReplyTo ? { inReplyTo: msg.inReplyTo, references: [msg.inReplyTo] } : {}) });
  } finally {
    t.close();
  }
}
