/** /metrics shows the stalls' causes (event-loop delay, GC pauses) and the event log's consumers at work. */
import { expect, it } from 'vitest';
import { cid, createOp, operator, visitor } from './harness';
import { useStack } from './stack';

const s = useStack(1);

it('exports event-loop delay, GC pauses and the event consumers’ counters', async () => {
  const op = await createOp(s.admin, { email: 'metrics@example.com', name: 'Mo' });
  const o = await operator(s.gw, op.http);
  o.send({ type: 'status', status: 'online' });
  await o.next('status', (f) => f.status === 'online');
  const v = await visitor(s.gw);
  await v.next('synced');
  const c = cid();
  v.send({ type: 'send', cid: c, text: 'hello' });
  const { conv } = await v.next('ack', (a) => a.cid === c);
  await o.next('conv', (f) => f.conv.id === conv && f.conv.status === 'open');
  const r = cid();
  o.send({ type: 'send', conv, cid: r, text: 'hi there' });
  await o.next('ack', (a) => a.cid === r);
  // The first reply is the stats consumer's to handle: the counter moves once it has.
  let text = '';
  for (let i = 0; i < 50; i++) {
    text = await (await fetch(`${s.gw.base}/metrics`)).text();
    if (/hark_events_total\{outcome="handled"\} [1-9]/.test(text)) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  expect(text).toMatch(/hark_events_total\{outcome="handled"\} [1-9]/);
  expect(text).toMatch(/nodejs_eventloop_lag_p99_seconds \d/);
  expect(text).toMatch(/nodejs_gc_duration_seconds_count\{kind="\w+"\}/);
  o.close();
  v.close();
});
