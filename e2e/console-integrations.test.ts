/**
 * Admin → Integrations in real Chromium, against a real gateway and a real HTTP receiver on
 * 127.0.0.1 (the stack allows private webhook targets, as WEBHOOKS_ALLOW_PRIVATE=1 does):
 * an API key is created from the console (its secret shown once, focused, gone after a
 * reload), works against the REST API with its scope, and answers 401 once revoked; a
 * webhook is created with events chosen from the list the gateway accepts, a test event is
 * delivered signed with the secret the console showed, a failure is shown in the delivery
 * log and "send again" delivers it (same id) once the receiver is fixed; a rotation's
 * secret signs beside the old one. On a phone-sized screen the page has no horizontal
 * scroll and its tables are stacked rows. The visitor panel's export and erase, when the
 * gateway has those routes.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../server/src/domain/events';
import { signIn, useConsoleStack } from './console-stack';
import { cid, sleep, visitor } from './src/harness';

// The delivery job looks every 100 ms; a failed attempt is retried only after 10 minutes, so
// what sends it again in these tests is the console's "send again", not the automatic retry; an
// endpoint whose attempts have all failed for 2 s (not a day) is disabled.
const DISABLE_AFTER_MS = 2000;
const t = useConsoleStack({
  config: { webhooksAllowPrivate: true },
  testLimits: { webhooks: { pollMs: 100, retryBaseMs: 600_000, retryCapMs: 600_000, timeoutMs: 3000, disableAfterMs: DISABLE_AFTER_MS } },
});

// ---------------------------------------------------------------- the receiver

interface Got {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}
const received: Got[] = [];
let failing = false;
let receiver: http.Server;
let rport = 0;

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (failing || req.url?.startsWith('/down')) res.writeHead(500).end('receiver down');
      else res.end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  rport = (receiver.address() as AddressInfo).port;
});

afterAll(async () => {
  receiver?.closeAllConnections();
  await new Promise((r) => receiver?.close(r));
});

/** Whether one of the request's `webhook-signature` entries is HMAC-SHA256 of id.timestamp.body with the secret (Standard Webhooks). */
function signedWith(secret: string, g: Got): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${g.headers['webhook-id']}.${g.headers['webhook-timestamp']}.${g.body}`).digest();
  return String(g.headers['webhook-signature'])
    .split(' ')
    .some((part) => {
      const sig = Buffer.from(part.replace(/^v1,/, ''), 'base64');
      return sig.length === expected.length && timingSafeEqual(sig, expected);
    });
}

// ---------------------------------------------------------------- helpers

async function openIntegrations(page: Page): Promise<void> {
  // On a phone the screens sit behind the header's menu.
  const menu = page.locator('.header .menu-btn');
  if (await menu.isVisible()) await menu.click();
  await page.getByRole('button', { name: 'Admin' }).click();
  await page.getByRole('tab', { name: 'Integrations' }).click();
  await page.getByTestId('api-keys').waitFor();
}

/** Accepts the next confirm() and returns its text. */
function acceptNextDialog(page: Page): Promise<string> {
  return new Promise((resolve) => {
    page.once('dialog', (d) => {
      const text = d.message();
      void d.accept().then(() => resolve(text));
    });
  });
}

async function callApi(base: string, secret: string, method: string, path: string): Promise<{ status: number; code?: string }> {
  const res = await fetch(base + path, { method, headers: { authorization: `Bearer ${secret}` } });
  const body = (await res.json().catch(() => ({}))) as { code?: string };
  return { status: res.status, ...(body.code ? { code: body.code } : {}) };
}

// ---------------------------------------------------------------- tests

describe('console integrations', () => {
  it('API keys: created from the keyboard, the secret shown once, working with its scope, revoked at once', async () => {
    const admin = await signIn(t.browser, t.stack.base, t.stack.admin.email, t.stack.admin.password);
    const page = admin.page;
    await openIntegrations(page);
    const keys = page.getByTestId('api-keys');

    // Keyboard only: the button opens the form with the name field focused; Enter submits it.
    await keys.getByRole('button', { name: 'New API key' }).focus();
    await page.keyboard.press('Enter');
    const form = page.getByRole('form', { name: 'New API key' });
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('name')), { timeout: 5000 }).toBe('name');
    await page.keyboard.press('Enter');
    await expect.poll(() => form.getByRole('alert').textContent(), { timeout: 5000 }).toBe('Give the key a name.');
    await page.keyboard.type('CRM sync');
    await form.getByLabel('Read-only').check();
    await form.locator('input[name=name]').press('Enter');

    // The secret: shown once, focused so a keyboard user lands on it, with Copy and the warning.
    const secretInput = keys.getByTestId('secret');
    await secretInput.waitFor();
    const secret = await secretInput.inputValue();
    expect(secret).toMatch(/^hark_[A-Za-z0-9_-]{43}$/);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('secret');
    const box = keys.locator('section.secret');
    expect(await box.textContent()).toContain('you will not see it again');
    expect(await box.getByRole('button', { name: 'Copy' }).count()).toBe(1);

    // It works: a read-only key reads, and is refused a change.
    expect(await callApi(t.stack.base, secret, 'GET', '/v1/api/operators')).toEqual({ status: 200 });
    expect(await callApi(t.stack.base, secret, 'POST', '/v1/api/conversations/nope/resolve')).toEqual({ status: 403, code: 'API_KEY_READ_ONLY' });

    // After a reload: the name, scope, access and last use, never the secret.
    await box.getByRole('button', { name: 'Done, I copied it' }).click();
    expect(await keys.getByTestId('secret').count()).toBe(0);
    await page.reload();
    await expect.poll(() => page.getByTestId('connection').textContent(), { timeout: 5000 }).toBe('Live');
    await openIntegrations(page);
    const row = keys.locator('tr', { hasText: 'CRM sync' });
    await expect.poll(() => row.count(), { timeout: 5000 }).toBe(1);
    const text = (await row.textContent()) ?? '';
    expect(text).toContain('All sites');
    expect(text).toContain('Read-only');
    expect(await row.getByTestId('last-used').textContent()).not.toBe('Never');
    expect(await page.content()).not.toContain(secret);

    // Revoke, confirmed: gone from the list, and the API answers 401 at once.
    const asked = acceptNextDialog(page);
    await row.getByRole('button', { name: /Revoke/ }).click();
    expect(await asked).toContain('cannot be undone');
    await expect.poll(() => row.count(), { timeout: 5000 }).toBe(0);
    expect(await callApi(t.stack.base, secret, 'GET', '/v1/api/operators')).toEqual({ status: 401, code: 'API_KEY_INVALID' });
    expect(await admin.csp()).toEqual([]);
    await admin.ctx.close();
  });

  it('webhooks: chosen events, a signed test event delivered, a failure shown, sent again, secret rotated', async () => {
    const admin = await signIn(t.browser, t.stack.base, t.stack.admin.email, t.stack.admin.password);
    const page = admin.page;
    await openIntegrations(page);
    const hooks = page.getByTestId('webhooks');
    await hooks.getByRole('button', { name: 'New webhook' }).click();
    const form = page.getByRole('form', { name: 'New webhook' });
    const url = `http://127.0.0.1:${rport}/hark`;

    // The console's own check, then the server's answer shown readably.
    await form.locator('input[name=url]').fill('ftp://files.example.com/in');
    await form.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => form.getByRole('alert').textContent(), { timeout: 5000 }).toBe('The URL must start with https:// or http://.');
    await form.locator('input[name=url]').fill(`http://user:pw@127.0.0.1:${rport}/hark`);
    await form.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => form.getByRole('alert').textContent(), { timeout: 5000 }).toBe('Not accepted: A webhook URL must not contain credentials.');

    // Events: exactly the gateway's list to choose from.
    await form.locator('input[name=url]').fill(url);
    await form.getByLabel('Only the events chosen below').check();
    await form.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => form.getByRole('alert').textContent(), { timeout: 5000 }).toBe('Choose at least one event, or all events.');
    expect(await form.locator('input[name=event]').evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value))).toEqual(EVENT_TYPES);
    await form.locator('input[name=event][value="conversation.resolved"]').check();
    await form.locator('input[name=description]').fill('CRM');
    await form.getByRole('button', { name: 'Save' }).click();

    const card = hooks.locator('.webhook', { hasText: url });
    await card.waitFor();
    const secret = await card.getByTestId('secret').inputValue();
    expect(secret).toMatch(/^whsec_/);
    expect(await card.locator('section.secret').textContent()).toContain('you will not see it again');
    await card.getByRole('button', { name: 'Done, I copied it' }).click();
    expect(await card.getByTestId('webhook-state').textContent()).toBe('Enabled');
    expect(await card.textContent()).toContain('Events: conversation.resolved');

    // A test event: delivered, signed with the secret the console showed, in the log.
    await card.getByRole('button', { name: 'Send a test event' }).click();
    const log = card.locator('.delivery-log');
    const delivered = log.locator('tr[data-state=delivered]');
    await expect.poll(() => delivered.count(), { timeout: 10_000 }).toBe(1);
    const first = received.at(-1) as Got;
    expect(JSON.parse(first.body)).toMatchObject({ type: 'webhook.test' });
    expect(signedWith(secret, first)).toBe(true);
    const okRow = (await delivered.textContent()) ?? '';
    for (const part of ['webhook.test', 'Delivered', 'HTTP 200', 'ok', ' ms']) expect(okRow).toContain(part);

    // The receiver fails: the attempt is in the log with its status and answer, the endpoint is failing.
    failing = true;
    await card.getByRole('button', { name: 'Send a test event' }).click();
    const retrying = log.locator('tr[data-state=retrying]');
    await expect.poll(() => retrying.count(), { timeout: 10_000 }).toBe(1);
    const badRow = (await retrying.textContent()) ?? '';
    for (const part of ['Failed, will retry', 'HTTP 500', 'receiver down', 'next try']) expect(badRow).toContain(part);
    expect(await retrying.locator('td').nth(2).textContent()).toContain('1');
    await expect.poll(() => card.getByTestId('webhook-state').textContent(), { timeout: 10_000 }).toBe('Failing');
    const failedId = received.at(-1)?.headers['webhook-id'];

    // Fixed; "send again" delivers it now (the automatic retry is 10 minutes away), with the same id.
    failing = false;
    const before = received.length;
    await retrying.getByRole('button', { name: 'Send again' }).click();
    await expect.poll(() => delivered.count(), { timeout: 10_000 }).toBe(2);
    expect(await retrying.count()).toBe(0);
    expect(received.length).toBe(before + 1);
    expect(received.at(-1)?.headers['webhook-id']).toBe(failedId);
    await expect.poll(() => card.getByTestId('webhook-state').textContent(), { timeout: 10_000 }).toBe('Enabled');

    // Rotation: a new secret shown once; the old one keeps signing beside it during the overlap.
    const asked = acceptNextDialog(page);
    await card.getByRole('button', { name: 'Rotate secret' }).click();
    expect(await asked).toContain('keeps signing');
    const box = card.locator('section.secret');
    await box.waitFor();
    const rotated = await box.getByTestId('secret').inputValue();
    expect(rotated).not.toBe(secret);
    expect(await box.textContent()).toContain('The previous secret keeps signing beside the new one until');
    await box.getByRole('button', { name: 'Done, I copied it' }).click();
    await card.getByRole('button', { name: 'Send a test event' }).click();
    await expect.poll(() => delivered.count(), { timeout: 10_000 }).toBe(3);
    const third = received.at(-1) as Got;
    expect(signedWith(rotated, third) && signedWith(secret, third)).toBe(true);

    // Edit: disable it from the form; the state says so.
    await card.getByRole('button', { name: 'Edit' }).click();
    const edit = card.getByRole('form', { name: 'Edit webhook' });
    expect(await edit.locator('input[name=url]').inputValue()).toBe(url);
    await edit.locator('input[name=enabled]').uncheck();
    await edit.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => card.getByTestId('webhook-state').textContent(), { timeout: 5000 }).toBe('Disabled');
    const stored = (await t.stack.adminHttp.req<{ webhooks: { url: string; enabled: boolean; events: string[]; description: string }[] }>('GET', '/v1/sites/demo/webhooks')).body.webhooks;
    expect(stored).toEqual([expect.objectContaining({ url, enabled: false, events: ['conversation.resolved'], description: 'CRM' })]);
    expect(await page.content()).not.toContain(rotated);
    expect(await admin.csp()).toEqual([]);
    await admin.ctx.close();
  });

  it('an endpoint failing past the limit is disabled, says why, and its admins are told until it is enabled again', async () => {
    const url = `http://127.0.0.1:${rport}/down/hark`;
    const hook = await t.stack.adminHttp.req<{ id: string }>('POST', '/v1/sites/demo/webhooks', { url, events: ['conversation.resolved'] });
    expect(hook.status).toBe(201);
    const admin = await signIn(t.browser, t.stack.base, t.stack.admin.email, t.stack.admin.password);
    const page = admin.page;
    await openIntegrations(page);
    const card = page.locator(`.webhook[data-webhook="${hook.body.id}"]`);
    await card.getByRole('button', { name: 'Send a test event' }).click();
    const retrying = card.locator('tr[data-state=retrying]');
    await expect.poll(() => retrying.count(), { timeout: 10_000 }).toBe(1);
    // Past the limit, one more failed attempt (sent again by hand) disables it.
    await sleep(DISABLE_AFTER_MS + 200);
    await retrying.getByRole('button', { name: 'Send again' }).click();
    await expect.poll(() => card.getByTestId('webhook-state').textContent(), { timeout: 10_000 }).toBe('Disabled automatically');
    expect(await card.getByTestId('disabled-reason').textContent()).toMatch(/Disabled automatically on .+ Reason: every delivery attempt failed for .+HTTP 500/);
    const notices = page.getByTestId('webhook-notices');
    await expect.poll(() => notices.textContent(), { timeout: 5000 }).toContain(`${url} was disabled`);

    // Enabled again: the state and the notice clear.
    await card.getByRole('button', { name: 'Enable' }).click();
    await expect.poll(() => card.getByTestId('webhook-state').textContent(), { timeout: 5000 }).toBe('Enabled');
    await expect.poll(() => notices.count(), { timeout: 5000 }).toBe(0);
    await card.getByRole('button', { name: 'Disable' }).click();
    await expect.poll(() => card.getByTestId('webhook-state').textContent(), { timeout: 5000 }).toBe('Disabled');
    expect(await card.textContent()).toContain('Disabled by an admin');
    await admin.ctx.close();
  });

  it('on a 375 px wide screen: no horizontal scroll, tables become stacked rows', async () => {
    // A key and a webhook with a delivery, so that both tables are there.
    expect((await t.stack.adminHttp.req('POST', '/v1/api-keys', { name: 'A key with a rather long name for a narrow screen', site: 'demo', access: 'write' })).status).toBe(201);
    const hook = await t.stack.adminHttp.req<{ id: string }>('POST', '/v1/sites/demo/webhooks', { url: `http://127.0.0.1:${rport}/a/very/long/path/that/would/not/fit/on/a/phone/screen/at/all?with=query&and=more`, events: 'all' });
    expect(hook.status).toBe(201);
    expect((await t.stack.adminHttp.req('POST', `/v1/sites/demo/webhooks/${hook.body.id}/test`, {})).status).toBe(202);

    const admin = await signIn(t.browser, t.stack.base, t.stack.admin.email, t.stack.admin.password);
    const page = admin.page;
    await page.setViewportSize({ width: 375, height: 740 });
    await openIntegrations(page);
    const card = page.locator(`.webhook[data-webhook="${hook.body.id}"]`);
    await card.getByRole('button', { name: 'Delivery log' }).click();
    await expect.poll(() => card.locator('tr[data-state=delivered]').count(), { timeout: 10_000 }).toBe(1);
    await page.getByTestId('webhooks').getByRole('button', { name: 'New webhook' }).click();
    await page.getByRole('form', { name: 'New webhook' }).getByLabel('Only the events chosen below').check();

    const layout = await page.evaluate(() => {
      const main = document.querySelector('.main') as HTMLElement;
      const wide = [...document.querySelectorAll('body *')]
        .filter((el) => {
          const r = el.getBoundingClientRect();
          return r.width > 0 && (r.right > innerWidth + 0.5 || r.left < -0.5);
        })
        .map((el) => `${el.tagName.toLowerCase()}.${el.className} ${Math.round(el.getBoundingClientRect().left)}..${Math.round(el.getBoundingClientRect().right)} in ${el.parentElement?.className}`);
      const cells = [...document.querySelectorAll('table.list.stack td')].map((td) => getComputedStyle(td).display);
      return { doc: document.documentElement.scrollWidth - innerWidth, main: main.scrollWidth - main.clientWidth, wide, cells };
    });
    expect(layout.wide).toEqual([]);
    expect(layout.doc).toBeLessThanOrEqual(0);
    expect(layout.main).toBeLessThanOrEqual(0);
    expect(layout.cells.length).toBeGreaterThan(5);
    expect(new Set(layout.cells)).toEqual(new Set(['block']));
    await admin.ctx.close();
  });

  it("the visitor panel: an admin exports a visitor's data and erases the visitor", async (ctx) => {
    // The export and erase routes come with the visitor-data work (issue 16, item 4); without them there is nothing to drive.
    const has = (method: 'GET' | 'DELETE', url: string) => t.stack.gw.app.hasRoute({ method, url });
    if (!has('GET', '/v1/sites/:site/visitors/:visitor/export') || !has('DELETE', '/v1/sites/:site/visitors/:visitor')) ctx.skip();

    const admin = await signIn(t.browser, t.stack.base, t.stack.admin.email, t.stack.admin.password);
    const page = admin.page;
    const v = await visitor(t.stack.gw, { hello: { page: { url: `${t.stack.base}/pricing`, title: 'Pricing' }, locale: 'en' } });
    await v.next('synced');
    v.send({ type: 'send', cid: cid(), text: 'My order number is 4471, please delete my data' });
    const { conv } = await v.next('ack');
    await page.locator('[data-view=all]').click();
    const row = page.locator(`.conv-row[data-conv="${conv}"]`);
    await row.click();
    const panel = page.getByRole('complementary', { name: 'Visitor' });
    const data = panel.getByTestId('visitor-data');
    await data.waitFor();

    // Export: a JSON file holding what the visitor wrote.
    const [download] = await Promise.all([page.waitForEvent('download'), data.getByRole('button', { name: 'Export data' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^hark-visitor-.+\.json$/);
    const file = await readFile((await download.path()) as string, 'utf8');
    expect(() => JSON.parse(file)).not.toThrow();
    expect(file).toContain('My order number is 4471, please delete my data');

    const vid = (await t.stack.adminHttp.req<{ conv: { visitor: { id: string } } }>('GET', `/v1/conversations/${conv}`)).body.conv.visitor.id;
    expect(file).toContain(vid);

    // Erase: the confirmation says it cannot be undone; then the visitor is gone from the console and the gateway.
    const asked = acceptNextDialog(page);
    await data.getByRole('button', { name: 'Erase visitor' }).click();
    expect(await asked).toContain('cannot be undone');
    await expect.poll(() => panel.count(), { timeout: 10_000 }).toBe(0);
    await expect.poll(() => row.count(), { timeout: 5000 }).toBe(0);
    expect((await t.stack.adminHttp.req('GET', `/v1/sites/demo/visitors/${vid}/export`)).status).toBe(404);
    await page.reload();
    await expect.poll(() => page.getByTestId('connection').textContent(), { timeout: 5000 }).toBe('Live');
    for (const view of ['all', 'resolved']) {
      await page.locator(`[data-view=${view}]`).click();
      await sleep(300);
      expect(await page.locator(`.conv-row[data-conv="${conv}"]`).count(), view).toBe(0);
    }
    expect(await admin.csp()).toEqual([]);
    v.close();
    await admin.ctx.close();
  });
});
