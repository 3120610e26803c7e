/**
 * The console's socket after network loss, twice in a row: it reconnects by
 * itself, resumes from the last stream id it saw, and shows what it missed
 * exactly once and in order (the resume cursor must advance between reconnects).
 */
import { type Server, type Socket, createConnection, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { cid, visitor } from './src/harness';
import { makeOperator, setStatus, signIn, useConsoleStack } from './console-stack';

const t = useConsoleStack();

/**
 * A TCP proxy in front of the gateway that the test can cut: while down it
 * drops every open connection and refuses new ones, like a lost network
 * (Chromium's offline emulation leaves open WebSockets alone).
 */
async function cuttableProxy(target: number): Promise<{ base: string; down(): void; up(): void; close(): Promise<void> }> {
  const open = new Set<Socket>();
  let isDown = false;
  const server: Server = createServer((client) => {
    if (isDown) return client.destroy();
    const upstream = createConnection(target);
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const port = (server.address() as { port: number }).port;
  return {
    base: `http://127.0.0.1:${port}`,
    down() {
      isDown = true;
      for (const s of open) s.destroy();
    },
    up() {
      isDown = false;
    },
    close: () => new Promise<void>((res) => server.close(() => res())),
  };
}

describe('console resume', () => {
  it('catches up on what it missed while offline, twice in a row, without duplicates', async () => {
    await makeOperator(t.stack, { email: 'rui@example.com', name: 'Rui' });
    const net = await cuttableProxy(t.stack.gw.port);
    const rui = await signIn(t.browser, net.base, 'rui@example.com');
    await setStatus(rui.page, 'online');
    const v = await visitor(t.stack.gw);
    await v.next('synced');
    v.send({ type: 'send', cid: cid(), text: 'm0 hello' });
    const { conv } = await v.next('ack');
    const row = rui.page.locator(`.conv-row[data-conv="${conv}"]`);
    await row.click();
    const texts = () => rui.page.locator('.conversation .entry.msg .text').allTextContents();
    await expect.poll(texts).toEqual(['m0 hello']);

    for (const round of [1, 2]) {
      // 1. The network goes away; the console notices and says so.
      net.down();
      await expect.poll(() => rui.page.getByTestId('connection').textContent(), { timeout: 15_000 }).not.toBe('Live');
      // 2. Meanwhile the visitor writes twice.
      for (const n of [1, 2]) {
        v.send({ type: 'send', cid: cid(), text: `r${round} m${n}` });
        await v.next('ack', (f) => f.conv === conv, 5000, v.frames.length);
      }
      // 3. Back online: reconnect, resume, exactly what was missed, in order.
      net.up();
      await expect.poll(() => rui.page.getByTestId('connection').textContent(), { timeout: 20_000 }).toBe('Live');
      const want = ['m0 hello', ...[1, 2].flatMap((r) => (r <= round ? [`r${r} m1`, `r${r} m2`] : []))];
      await expect.poll(texts).toEqual(want);
    }
    // A message written in the console while offline is sent after the reconnect, once.
    net.down();
    await expect.poll(() => rui.page.getByTestId('connection').textContent(), { timeout: 15_000 }).not.toBe('Live');
    await rui.page.locator('#composer').fill('written while offline');
    await rui.page.locator('#composer').press('Enter');
    await expect.poll(() => rui.page.locator('.entry.pending').count()).toBe(1);
    net.up();
    const got = await v.next('entry', (f) => f.entry.text === 'written while offline', 20_000);
    expect(got.entry.from).toBe('operator');
    await expect.poll(() => rui.page.locator('.entry.pending').count()).toBe(0);
    await expect.poll(async () => (await texts()).filter((t) => t === 'written while offline').length).toBe(1);
    // Stored once: a resend after reconnect carries the same client id.
    expect(v.of('entry').filter((f) => f.entry.text === 'written while offline')).toHaveLength(1);
    v.close();
    await rui.ctx.close();
    await net.close();
  });
});
