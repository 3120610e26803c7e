/**
 * The site's greeting per language (#13 item 8): set in Admin → Sites next to the old single greeting, which stays the
 * default; the widget gets both and shows its language's. Sites saved before the field existed keep working (no migration).
 */
import { expect, it } from 'vitest';
import { connect } from '../src/redis/client';
import { K } from '../src/store/keys';
import { visitor } from './harness';
import { useStack } from './stack';

const s = useStack(1);

it('a site saved before per-language greetings shows its one greeting, and none is sent per language', async () => {
  const c = connect({ url: s.redis.url });
  try {
    // As the site's hash was before the field: no `greetings` (and one that is not an object reads as none).
    await c.cmd.hdel(K.site('demo'), 'greetings');
    let v = await visitor(s.gw);
    let w = await v.next('welcome');
    expect(w.site.greeting).toBe('Hi! Ask us anything about the demo shop.');
    expect('greetings' in w.site).toBe(false);
    v.close();
    expect((await s.admin.req<{ greetings: unknown }>('GET', '/v1/sites/demo')).body.greetings).toEqual({});
    await c.cmd.hset(K.site('demo'), 'greetings', '["not", "an object"]');
    v = await visitor(s.gw);
    w = await v.next('welcome');
    expect('greetings' in w.site).toBe(false);
    v.close();
  } finally {
    await c.close();
  }
});

it('saves a greeting per language (an empty one is dropped) and sends them in the welcome', async () => {
  const r = await s.admin.req<{ greeting: string; greetings: Record<string, string> }>('PATCH', '/v1/sites/demo', { greetings: { hr: 'Bok! Pitajte nas bilo što.', ru: 'Здравствуйте! Спрашивайте.', en: '' } });
  expect(r.status).toBe(200);
  expect(r.body.greetings).toEqual({ hr: 'Bok! Pitajte nas bilo što.', ru: 'Здравствуйте! Спрашивайте.' });
  expect(r.body.greeting).toBe('Hi! Ask us anything about the demo shop.');
  const v = await visitor(s.gw);
  const w = await v.next('welcome');
  expect(w.site.greeting).toBe('Hi! Ask us anything about the demo shop.');
  expect(w.site.greetings).toEqual({ hr: 'Bok! Pitajte nas bilo što.', ru: 'Здравствуйте! Спрашивайте.' });
  v.close();
});

it('refuses a key that is not a language code, or a greeting too long, with BAD_REQUEST, and keeps the site as it was', async () => {
  for (const greetings of [{ 'not a language': 'Hi' }, { hr: 'x'.repeat(4001) }, Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`l${String.fromCharCode(97 + i)}`, 'Hi']))]) {
    const r = await s.admin.req<{ code: string }>('PATCH', '/v1/sites/demo', { greetings });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('BAD_REQUEST');
  }
  expect((await s.admin.req<{ greetings: Record<string, string> }>('GET', '/v1/sites/demo')).body.greetings).toEqual({ hr: 'Bok! Pitajte nas bilo što.', ru: 'Здравствуйте! Спрашивайте.' });
});
