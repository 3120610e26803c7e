/**
 * One gateway in its own process, so a chaos test can really SIGKILL it.
 * Env: REDIS_URL, PORT (0 = any); WEBHOOKS_ALLOW_PRIVATE=1 as for the product (the webhook
 * scenario's receiver is on 127.0.0.1); HARK_CHAOS_WEBHOOKS, JSON of webhook settings to shorten
 * (domain/webhooks.ts WebhookSettings: pollMs, retryBaseMs, …); HARK_CHAOS_MAIL, JSON of `smtpUrl` and mail
 * settings (domain/mail.ts MailSettings). Prints `PORT <n>` once listening.
 * SIGTERM drains (every socket closed with 1012), then exits.
 */
import { buildApp } from '../src/app';
import { bootstrap } from '../src/bootstrap';
import type { MailSettings } from '../src/domain/mail';
import type { WebhookSettings } from '../src/domain/webhooks';
import { connect } from '../src/redis/client';
import { ADMIN } from '../test/harness';
import { chaosConsumers } from './event-count';

// The event log's witnesses (event-count.ts) on their own connection, as any consumer's reads would be.
const witness = connect({ url: process.env.REDIS_URL ?? '' });
// Redis restarts and partitions are the point of the suite: reconnects are expected, not news.
witness.cmd.on('error', () => {});
witness.sub.on('error', () => {});
// HARK_CHAOS_MAIL: {smtpUrl, …MailSettings to shorten} (the mail scenario's SMTP server is in the test process).
const mail = process.env.HARK_CHAOS_MAIL ? (JSON.parse(process.env.HARK_CHAOS_MAIL) as Partial<MailSettings> & { smtpUrl: string }) : undefined;
const webhooks = process.env.HARK_CHAOS_WEBHOOKS ? (JSON.parse(process.env.HARK_CHAOS_WEBHOOKS) as Partial<WebhookSettings>) : undefined;
const hark = await buildApp({
  redis: { url: process.env.REDIS_URL ?? '' },
  logger: process.env.HARK_CHAOS_LOG === '1' ? { level: 'warn' } : false,
  consumers: chaosConsumers(witness.cmd),
  config: { ...(process.env.WEBHOOKS_ALLOW_PRIVATE === '1' ? { webhooksAllowPrivate: true } : {}), ...(mail ? { smtpUrl: mail.smtpUrl, mailDomain: 'hark.test' } : {}) },
  ...(webhooks || mail ? { testLimits: { ...(webhooks ? { webhooks } : {}), ...(mail ? { mail } : {}) } } : {}),
});
await bootstrap(hark.conns, { adminEmail: ADMIN.email, adminPassword: ADMIN.password });
await hark.app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
const addr = hark.app.server.address();
process.stdout.write(`PORT ${typeof addr === 'object' && addr ? addr.port : 0}\n`);
process.on('SIGTERM', () => {
  void hark.close().finally(() => process.exit(0));
});
