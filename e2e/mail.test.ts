/**
 * E-mail end to end in real Chromium, with a real SMTP server as the mailbox of the team and of
 * the visitor (smtp-server, server/test/smtp-sink.ts) and real SMTP delivery into the gateway's
 * reply listener: a visitor with nobody online leaves a message with their e-mail; the team's
 * notification arrives; an operator answers in the console; the answer arrives by e-mail; the
 * visitor replies to it from their "mail client"; the reply shows in the console, and in the
 * widget when the visitor comes back.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SmtpSink, sendMail, smtpSink } from '../server/test/smtp-sink';
import { PASSWORD, makeOperator, setStatus, signIn, widgetText } from './console-stack';
import { type Stack, launchBrowser, startStack } from './src/harness';

let sink: SmtpSink;
let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  sink = await smtpSink();
  stack = await startStack({
    config: { smtpUrl: sink.url, mailDomain: 'hark.test', mailFrom: 'support@hark.test', smtpInboundPort: 0 },
    testLimits: { mail: { awayMs: 500, batchMs: 500, pollMs: 100 } },
  });
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await stack?.close();
  await sink?.close();
});

const waitMail = (what: string, pred: (r: SmtpSink['received'][number]) => boolean) => expect.poll(() => sink.received.find(pred), { timeout: 15_000, message: what }).toBeTruthy().then(() => sink.received.find(pred) as SmtpSink['received'][number]);

describe('the conversation outlives the tab', () => {
  it('offline message → team e-mail → answer in the console → e-mail → reply by SMTP → console and widget', async () => {
    await makeOperator(stack, { email: 'maja@example.com', name: 'Maja', capacity: 5 });
    const email = 'ana.visitor@example.net';

    // 1. Nobody online: the widget offers the leave-a-message form, which says we reply by e-mail.
    const vctx = await browser.newContext({ locale: 'en-US' });
    vctx.setDefaultTimeout(8000);
    let vp = await vctx.newPage();
    await vp.goto(`${stack.base}/`);
    await vp.locator('hark-chat button').first().click();
    await expect.poll(() => widgetText(vp)).toContain('we will reply by e-mail');
    await vp.locator('hark-chat').getByLabel('Message').fill('Do you ship to Split? e2e-mail');
    await vp.locator('hark-chat').getByLabel('Your e-mail').fill(email);
    await vp.locator('hark-chat').getByRole('button', { name: 'Send message' }).click();
    await expect.poll(() => widgetText(vp)).toContain(`We will reply to ${email}`);

    // 2. The team's notification arrives (the site's operators), with the text, the e-mail and a console link.
    const note = await waitMail('team notification', (r) => r.rcpt.includes('maja@example.com') && (r.mail.text ?? '').includes('e2e-mail'));
    expect(note.mail.subject).toBe(`New message from ${email} on Demo shop`);
    expect(note.mail.text).toContain(`Visitor e-mail: ${email}`);
    const link = /\/console\/queue\/[A-Za-z0-9_-]+/.exec(note.mail.text ?? '')?.[0] ?? '';
    expect(link).not.toBe('');

    // 3. The visitor closes the tab.
    await vp.close();

    // 4. Maja signs in, goes online (the waiting conversation comes to her), follows the e-mail's link
    //    straight to the conversation and answers in the console.
    const maja = await signIn(browser, stack.base, 'maja@example.com', PASSWORD);
    await setStatus(maja.page, 'online');
    await maja.page.goto(`${stack.base}${link}`);
    await expect.poll(() => maja.page.locator('.conversation').textContent(), { timeout: 10_000 }).toContain('e2e-mail');
    // It waited in the queue as an offline message (no seat taken): Maja takes it.
    expect(await maja.page.locator('.conversation').textContent()).toContain('Offline message');
    await maja.page.getByRole('button', { name: 'Take' }).click();
    await expect.poll(() => maja.page.locator('.conversation .pill.status-open').count(), { timeout: 10_000 }).toBe(1);
    await maja.page.locator('#composer').fill('Yes, we ship to Split in 2 days.');
    await maja.page.locator('#composer').press('Enter');

    // 5. The answer arrives by e-mail: from "Maja from Demo shop", with a reply address.
    const answer = await waitMail('answer', (r) => r.rcpt.includes(email));
    expect(answer.mail.from?.value[0]?.name).toBe('Maja from Demo shop');
    expect(answer.mail.text).toContain('Yes, we ship to Split in 2 days.');
    expect(answer.mail.text).toContain('> You: Do you ship to Split? e2e-mail');
    const replyTo = answer.mail.replyTo?.value[0]?.address ?? '';
    expect(replyTo).toMatch(/^reply\+.+@hark\.test$/);

    // 6. The visitor answers from their mail client: delivered by SMTP to the gateway's listener.
    await sendMail(stack.gw.smtpInbound?.port ?? 0, {
      from: email,
      to: replyTo,
      subject: `Re: ${answer.mail.subject}`,
      text: 'Great, I will order today.\n\nOn Tue, Maja wrote:\n> Yes, we ship to Split in 2 days.\n',
      inReplyTo: answer.mail.messageId ?? '',
    });

    // 7. It shows in the console (quoted history stripped)…
    await expect.poll(() => maja.page.locator('.conversation').textContent(), { timeout: 10_000 }).toContain('Great, I will order today.');
    expect(await maja.page.locator('.conversation').textContent()).not.toContain('Maja wrote');

    // 8. …and in the widget when the visitor comes back.
    vp = await vctx.newPage();
    await vp.goto(`${stack.base}/`);
    await vp.locator('hark-chat button').first().click();
    await expect.poll(() => widgetText(vp), { timeout: 10_000 }).toContain('Great, I will order today.');
    expect(await widgetText(vp)).toContain('Yes, we ship to Split in 2 days.');
    // Only one e-mail went to the visitor (the window batched, and they were not back in between).
    expect(sink.received.filter((r) => r.rcpt.includes(email))).toHaveLength(1);

    // 9. Maja resolves the chat; the visitor asks for a copy from the widget (chat-files.js, loaded lazily).
    await maja.page.getByRole('button', { name: 'Resolve' }).click();
    const copy = vp.locator('hark-chat').getByRole('button', { name: 'E-mail me a copy of this chat' });
    await copy.click();
    await expect.poll(() => widgetText(vp)).toContain(`A copy is on its way to ${email}.`);
    const transcripts = () => sink.received.filter((r) => r.rcpt.includes(email) && r.mail.subject === 'Your conversation with Demo shop');
    await expect.poll(() => transcripts().length, { timeout: 10_000 }).toBe(1);
    expect(transcripts()[0]?.mail.text).toContain('Great, I will order today.');

    // 10. Maja sends one from the console too.
    await maja.page.getByRole('button', { name: 'E-mail a transcript' }).click();
    await expect.poll(() => transcripts().length, { timeout: 10_000 }).toBe(2);

    // 11. The admin reads the mail log (Admin → Mail): notification, answer, reply received, transcript.
    const adm = await signIn(browser, stack.base, stack.admin.email, stack.admin.password);
    await adm.page.getByRole('button', { name: 'Admin' }).click();
    await adm.page.getByRole('tab', { name: 'Mail' }).click();
    const logRows = adm.page.locator('table.mail-log tbody tr[data-mail]');
    await expect.poll(() => logRows.count(), { timeout: 10_000 }).toBeGreaterThanOrEqual(4);
    const states = await adm.page.locator('[data-testid=mail-state]').allTextContents();
    expect(states.filter((x) => x.startsWith('Sent')).length).toBeGreaterThanOrEqual(3);
    expect(states.some((x) => x.startsWith('Posted'))).toBe(true);
    await adm.page.locator('tr[data-state=received]').getByRole('button', { name: 'Read' }).click();
    await expect.poll(() => adm.page.locator('tr.mail-text').textContent()).toContain('Great, I will order today.');
    await adm.ctx.close();
    await vctx.close();
    await maja.ctx.close();
  });
});
