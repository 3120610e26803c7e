/** A visitor looking at the leave-a-message form sees the chat come back when an operator comes online, and go when they leave. */
import { expect, it } from 'vitest';
import { createOp, operator, visitor } from './harness';
import { useStack } from './stack';

const s = useStack(2);

it('tells connected visitors when the site becomes available and unavailable, across gateways', async () => {
  // Sign-in sets the s.admin online; take them offline so nobody is available.
  const adminSock = await operator(s.gw, s.admin);
  adminSock.send({ type: 'status', status: 'offline' });
  await adminSock.next('status', (f) => f.status === 'offline');
  adminSock.close();

  const v = await visitor(s.gw);
  const w = await v.next('welcome');
  expect(w.site.available).toBe(false);

  // 1. An operator signs in on the other gateway: the visitor hears the site is available.
  const ana = await createOp(s.admin, { email: 'avail@example.com', name: 'Ana' });
  const op = await operator(s.gw2, ana.http);
  op.send({ type: 'status', status: 'online' });
  const up = await v.next('site', (f) => f.site.available === true, 8000);
  expect(up.site.inHours).toBe(true);

  // 2. She goes away: unavailable again.
  op.send({ type: 'status', status: 'away' });
  await v.next('site', (f) => f.site.available === false, 8000, v.frames.indexOf(up) + 1);
  op.close();
  v.close();
});
