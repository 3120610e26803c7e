/**
 * A conversation longer than one page (CATCHUP_PAGE entries): the console shows the latest
 * page, and "Load earlier messages" brings the rest, page by page, keeping the operator's place.
 */
import { CATCHUP_PAGE } from '@hark/shared';
import { describe, expect, it } from 'vitest';
import { K } from '../server/src/store/keys';
import { cid, visitor } from './src/harness';
import { makeOperator, setStatus, signIn, useConsoleStack } from './console-stack';

const t = useConsoleStack();

describe('console history', () => {
  it('pages back through a conversation longer than one page', async () => {
    await makeOperator(t.stack, { email: 'lea@example.com', name: 'Lea' });
    const lea = await signIn(t.browser, t.stack.base, 'lea@example.com');
    await setStatus(lea.page, 'online');
    const v = await visitor(t.stack.gw);
    await v.next('synced');
    v.send({ type: 'send', cid: cid(), text: 'the very first message' });
    const { conv } = await v.next('ack');
    await lea.page.locator(`.conv-row[data-conv="${conv}"]`).waitFor();
    // A long chat: more entries than one page, written straight into the stream (as the append script
    // stores them) so the test does not wait out the visitor's message rate limit.
    const cmd = t.stack.gw.conns.cmd;
    const extra = CATCHUP_PAGE + 20;
    const p = cmd.pipeline();
    for (let i = 1; i <= extra; i++) {
      p.xadd(K.convStream(conv), '*', 'd', JSON.stringify({ at: Date.now(), kind: 'msg', from: i % 2 ? 'visitor' : 'operator', text: `line ${i}`, cid: `fill${String(i).padStart(8, '0')}` }));
    }
    await p.exec();
    // A fresh console load: the conversation's latest page only.
    await lea.page.reload();
    await expect.poll(() => lea.page.getByTestId('connection').textContent(), { timeout: 10_000 }).toBe('Live');
    await lea.page.locator(`.conv-row[data-conv="${conv}"]`).click();
    const texts = lea.page.locator('.conversation .entry.msg .text');
    await expect.poll(() => texts.count()).toBe(CATCHUP_PAGE);
    expect(await texts.last().textContent()).toBe(`line ${extra}`);
    expect(await lea.page.locator('.conversation').textContent()).not.toContain('the very first message');
    const earlier = lea.page.getByRole('button', { name: 'Load earlier messages' });
    // Reading at the top of the page, the operator asks for more: the older ones go on top and the
    // entry that was at the top stays in view.
    const list = lea.page.locator('.conversation .entries');
    const topBefore = (await texts.first().textContent()) ?? '';
    const inView = (text: string) =>
      list.evaluate((el, want) => {
        const box = el.getBoundingClientRect();
        const hit = [...el.querySelectorAll('.entry.msg .text')].find((x) => x.textContent === want);
        const r = hit?.getBoundingClientRect();
        return !!r && r.bottom > box.top && r.top < box.bottom;
      }, text);
    await list.evaluate((el) => {
      el.scrollTop = 0;
    });
    expect(await inView(topBefore)).toBe(true);
    await earlier.click();
    await expect.poll(() => texts.count()).toBe(extra + 1);
    expect(await texts.first().textContent()).toBe('the very first message');
    expect(await inView(topBefore)).toBe(true);
    expect(await inView('the very first message')).toBe(false);
    // The start is reached: nothing more to load.
    await expect.poll(() => earlier.count()).toBe(0);
    expect(await lea.csp()).toEqual([]);
    v.close();
    await lea.ctx.close();
  });
});
