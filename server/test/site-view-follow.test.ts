/**
 * A site view whose follow of a new conversation fails (its SUBSCRIBE refused or flushed while
 * the subscriber reconnects; in the chaos runs ioredis flushed it with "Connection in subscriber
 * mode, only subscriber commands may be used") must still tell its operators about the
 * conversation and pass every later entry on: it used to throw, leaving the conversation's
 * live entries held for a history read that never came, for good.
 *
 * The failure is a race inside ioredis's reconnect handshake, which a test cannot time
 * reliably, so it is injected once at the hub (after the real follow, which registers the view).
 */
import { describe, expect, it } from 'vitest';
import { SiteView } from '../src/realtime/site-view';
import { cid, createOp, operator, visitor } from './harness';
import { useStack } from './stack';

const s = useStack(1);

describe('site view: a failed follow', () => {
  it('the operator still gets the conversation and every entry of it', async () => {
    const cy = await createOp(s.admin, { email: 'cy@example.com', name: 'Cy' });
    const op = await operator(s.gw, cy.http);
    op.send({ type: 'status', status: 'online' });
    await op.next('status', (f) => f.status === 'online');

    const hub = s.gw.ctx.hub;
    const real = hub.followConv.bind(hub);
    let failed = 0;
    hub.followConv = async (conv, l) => {
      await real(conv, l);
      if (l instanceof SiteView && failed++ === 0) throw new Error('Connection in subscriber mode, only subscriber commands may be used');
    };
    try {
      const v = await visitor(s.gw);
      await v.next('synced');
      const c1 = cid();
      v.send({ type: 'send', cid: c1, text: 'first' });
      const ack = await v.next('ack', (f) => f.cid === c1);
      await op.next('conv', (f) => f.conv.id === ack.conv && f.conv.status === 'open');
      await op.next('entry', (f) => f.entry.cid === c1);
      expect(failed).toBe(1);

      const c2 = cid();
      v.send({ type: 'send', cid: c2, text: 'second' });
      await v.next('ack', (f) => f.cid === c2);
      const e2 = await op.next('entry', (f) => f.entry.cid === c2);
      expect(e2.entry.text).toBe('second');
      v.close();
    } finally {
      hub.followConv = real;
      op.close();
    }
  });
});
