/**
 * The built-in SMTP listener for replies (SMTP_INBOUND_PORT, off unless set): accepts only this
 * installation's reply addresses (anything else: 550 at RCPT time, nothing stored), at most
 * MAIL_MAX_INBOUND_BYTES (SIZE, and 552 past it), then hands the message to the domain
 * (domain/mail-inbound.ts). A sender over the hourly limit gets 450 (try later).
 */
import type { AddressInfo } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { SMTPServer } from 'smtp-server';
import type { Inbound } from '../domain/mail-inbound';
import { MAIL_MAX_INBOUND_BYTES } from '../domain/mail-inbound';

/** Recipients of one inbound message, at most. */
export const MAIL_MAX_INBOUND_RCPT = 5;

export interface InboundListener {
  port: number;
  close(): Promise<void>;
}

function smtpError(message: string, code: number): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

export async function startInboundSmtp(inbound: Inbound, o: { port: number; host: string; name: string; log: FastifyBaseLogger }): Promise<InboundListener> {
  const server = new SMTPServer({
    name: o.name,
    banner: 'Hark reply listener',
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    size: MAIL_MAX_INBOUND_BYTES,
    maxClients: 50,
    socketTimeout: 60_000,
    logger: false,
    onRcptTo(address, session, cb) {
      if (session.envelope.rcptTo.length >= MAIL_MAX_INBOUND_RCPT) return cb(smtpError('Too many recipients', 452));
      inbound.recipient(address.address).then(
        (conv) => (conv ? cb() : cb(smtpError('No such recipient here', 550))),
        (e: unknown) => {
          o.log.warn({ err: e }, 'inbound mail: recipient check failed');
          cb(smtpError('Try again later', 451));
        },
      );
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if ((stream as unknown as { sizeExceeded?: boolean }).sizeExceeded) return cb(smtpError('Message too large', 552));
        const mf = session.envelope.mailFrom;
        inbound
          .receive(Buffer.concat(chunks), { rcpt: session.envelope.rcptTo.map((a) => a.address), envelopeFrom: mf ? mf.address : '', via: 'smtp' })
          .then(
            (r) => {
              if (r.reason === 'rate-limited') return cb(smtpError('Too many messages from this sender; try later', 450));
              if (r.reason === 'unknown-address') return cb(smtpError('No such recipient here', 550));
              // Posted, or refused but accepted (a bounce, an auto-reply: answering those would make a loop).
              cb();
            },
            (e: unknown) => {
              o.log.warn({ err: e }, 'inbound mail failed');
              cb(smtpError('Try again later', 451));
            },
          );
      });
    },
  });
  server.on('error', (e) => o.log.warn({ err: e }, 'inbound smtp'));
  await new Promise<void>((res, rej) => {
    server.server.once('error', rej);
    server.listen(o.port, o.host, () => res());
  });
  const port = (server.server.address() as AddressInfo).port;
  return { port, close: () => new Promise<void>((res) => server.close(() => res())) };
}
