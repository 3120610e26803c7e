/**
 * Outside business hours the widget says when the site is back (#13 item 8): the gateway computes the next
 * opening from the site's hours and IANA zone, and sends it in the welcome as epoch ms.
 */
import { describe, expect, it } from 'vitest';
import type { BusinessHours } from '@hark/shared';
import { nextOpening } from '../src/store/next-opening';
import { visitor } from './harness';
import { useStack } from './stack';

const WEEKDAYS = { 1: [['09:00', '17:00']], 2: [['09:00', '17:00']], 3: [['09:00', '17:00']], 4: [['09:00', '17:00']], 5: [['09:00', '17:00']] } as BusinessHours['days'];
const zg = (days: BusinessHours['days']): BusinessHours => ({ tz: 'Europe/Zagreb', days });
const at = (iso: string) => Date.parse(iso);

describe('nextOpening', () => {
  it('is the next day at opening time after closing, and the same day before opening', () => {
    // Tuesday 1 December 2026, 20:00 in Zagreb (UTC+1) → Wednesday 09:00 Zagreb.
    expect(nextOpening(zg(WEEKDAYS), at('2026-12-01T19:00:00Z'))).toBe(at('2026-12-02T08:00:00Z'));
    // Wednesday 07:30 Zagreb → that morning.
    expect(nextOpening(zg(WEEKDAYS), at('2026-12-02T06:30:00Z'))).toBe(at('2026-12-02T08:00:00Z'));
    // Friday 18:00 → Monday 09:00.
    expect(nextOpening(zg(WEEKDAYS), at('2026-12-04T17:00:00Z'))).toBe(at('2026-12-07T08:00:00Z'));
  });

  it('crosses midnight in the site zone, not in UTC', () => {
    // 23:30 Zagreb on Tuesday is 22:30 UTC the same day; 00:30 Zagreb on Wednesday is still Tuesday in UTC.
    expect(nextOpening(zg(WEEKDAYS), at('2026-12-01T22:30:00Z'))).toBe(at('2026-12-02T08:00:00Z'));
    expect(nextOpening(zg(WEEKDAYS), at('2026-12-01T23:30:00Z'))).toBe(at('2026-12-02T08:00:00Z'));
    // A zone ahead of UTC by more than the hour: Tokyo Wednesday 08:00 is Tuesday 23:00 UTC.
    expect(nextOpening({ tz: 'Asia/Tokyo', days: WEEKDAYS }, at('2026-12-01T23:00:00Z'))).toBe(at('2026-12-02T00:00:00Z'));
    // A night shift: Friday 22:00–24:00 then Saturday 00:00–06:00; at Saturday 07:00 the next is the next Friday 22:00.
    const night = zg({ 5: [['22:00', '24:00']], 6: [['00:00', '06:00']] });
    expect(nextOpening(night, at('2026-12-04T20:00:00Z'))).toBe(at('2026-12-04T21:00:00Z'));
    expect(nextOpening(night, at('2026-12-05T06:00:00Z'))).toBe(at('2026-12-11T21:00:00Z'));
  });

  it('follows daylight saving: the offset of the opening day, a skipped hour, a repeated hour', () => {
    // Clocks go forward in Zagreb on Sunday 29 March 2026 (02:00 → 03:00): Monday 09:00 is 07:00 UTC, not 08:00.
    expect(nextOpening(zg(WEEKDAYS), at('2026-03-27T17:00:00Z'))).toBe(at('2026-03-30T07:00:00Z'));
    // Back on Sunday 25 October 2026 (03:00 → 02:00): Monday 09:00 is 08:00 UTC again.
    expect(nextOpening(zg(WEEKDAYS), at('2026-10-23T16:00:00Z'))).toBe(at('2026-10-26T08:00:00Z'));
    // Opening at 02:30 on the night the clocks skip it: open when they jump to 03:00 (01:00 UTC).
    const sunday = zg({ 0: [['02:30', '05:00']] });
    expect(nextOpening(sunday, at('2026-03-28T22:00:00Z'))).toBe(at('2026-03-29T01:00:00Z'));
    // ... on the night 02:30 comes twice: the first one (still summer time, 00:30 UTC).
    expect(nextOpening(sunday, at('2026-10-24T21:00:00Z'))).toBe(at('2026-10-25T00:30:00Z'));
    // An opening only inside the skipped hour never happens that night: the next Sunday.
    const lost = zg({ 0: [['02:10', '02:50']] });
    expect(nextOpening(lost, at('2026-03-28T22:00:00Z'))).toBe(at('2026-04-05T00:10:00Z'));
    // New York springs forward on 8 March 2026: Monday 09:00 EDT is 13:00 UTC.
    expect(nextOpening({ tz: 'America/New_York', days: WEEKDAYS }, at('2026-03-07T12:00:00Z'))).toBe(at('2026-03-09T13:00:00Z'));
  });

  it('finds the one open day of the week, up to seven days ahead', () => {
    const wed = zg({ 3: [['10:00', '12:00']] });
    // Wednesday 12:30 Zagreb: next Wednesday 10:00.
    expect(nextOpening(wed, at('2026-12-02T11:30:00Z'))).toBe(at('2026-12-09T09:00:00Z'));
    // Wednesday 09:59: a minute later.
    expect(nextOpening(wed, at('2026-12-02T08:59:00Z'))).toBe(at('2026-12-02T09:00:00Z'));
    // Of two intervals the day has, the next one.
    const split = zg({ 3: [['08:00', '10:00'], ['14:00', '16:00']] });
    expect(nextOpening(split, at('2026-12-02T10:00:00Z'))).toBe(at('2026-12-02T13:00:00Z'));
  });

  it('is null when there is nothing to say: closed all week, open now, no hours, an unknown zone', () => {
    expect(nextOpening(zg({ 0: [], 1: [], 3: [] }), at('2026-12-02T11:30:00Z'))).toBeNull();
    expect(nextOpening(zg({ 2: [['10:00', '10:00']], 4: [['12:00', '09:00']] }), at('2026-12-02T11:30:00Z'))).toBeNull();
    expect(nextOpening(zg(WEEKDAYS), at('2026-12-02T10:00:00Z'))).toBeNull();
    expect(nextOpening(null, at('2026-12-02T10:00:00Z'))).toBeNull();
    expect(nextOpening({ tz: 'Europe/Zagrebb', days: WEEKDAYS }, at('2026-12-02T10:00:00Z'))).toBeNull();
  });
});

describe('the welcome', () => {
  const s = useStack(1);

  it('carries the next opening outside business hours, and none when closed all week or open', async () => {
    // Open only on the UTC weekday three days from now, 09:00–10:00: closed now, opens then.
    const now = new Date();
    const day = (now.getUTCDay() + 3) % 7;
    const expected = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 3, 9, 0);
    expect((await s.admin.req('PATCH', '/v1/sites/demo', { hours: { tz: 'UTC', days: { [day]: [['09:00', '10:00']] } } })).status).toBe(200);
    let v = await visitor(s.gw);
    let w = await v.next('welcome');
    expect(w.site.inHours).toBe(false);
    expect(w.site.opens).toBe(expected);
    v.close();

    expect((await s.admin.req('PATCH', '/v1/sites/demo', { hours: { tz: 'UTC', days: { [day]: [] } } })).status).toBe(200);
    v = await visitor(s.gw);
    w = await v.next('welcome');
    expect(w.site.inHours).toBe(false);
    expect('opens' in w.site).toBe(false);
    v.close();

    expect((await s.admin.req('PATCH', '/v1/sites/demo', { hours: null })).status).toBe(200);
    v = await visitor(s.gw);
    w = await v.next('welcome');
    expect(w.site.inHours).toBe(true);
    expect('opens' in w.site).toBe(false);
    v.close();
  });
});
