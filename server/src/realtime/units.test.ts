import { describe, expect, it, vi } from 'vitest';
import { inBusinessHours } from '../store/sites';
import { Bucket } from './bucket';
import { identityHash, verifyIdentity } from './identity';
import { originAllowed } from '../http/origin';

describe('Bucket', () => {
  it('allows a burst, then the sustained rate', () => {
    vi.useFakeTimers();
    vi.setSystemTime(0);
    const b = new Bucket(2, 3);
    expect([b.take(), b.take(), b.take(), b.take()]).toEqual([true, true, true, false]);
    vi.setSystemTime(500);
    expect([b.take(), b.take()]).toEqual([true, false]);
    vi.useRealTimers();
  });
});

describe('identity verification', () => {
  it('accepts the HMAC of the user id with the secret, and nothing else', () => {
    const h = identityHash('s3cret', 'user-42');
    expect(verifyIdentity('s3cret', 'user-42', h)).toBe(true);
    expect(verifyIdentity('s3cret', 'user-42', h.toUpperCase())).toBe(true);
    expect(verifyIdentity('s3cret', 'user-43', h)).toBe(false);
    expect(verifyIdentity('other', 'user-42', h)).toBe(false);
    expect(verifyIdentity('s3cret', 'user-42', undefined)).toBe(false);
    expect(verifyIdentity('s3cret', 'user-42', h.slice(1))).toBe(false);
  });
});

describe('originAllowed', () => {
  it("matches exact origins, 'self' and '*', and refuses a missing origin", () => {
    expect(originAllowed('https://shop.example', ['https://shop.example'], 'http://gw')).toBe(true);
    expect(originAllowed('https://shop.example.evil', ['https://shop.example'], 'http://gw')).toBe(false);
    expect(originAllowed('http://gw', ['self'], 'http://gw')).toBe(true);
    expect(originAllowed('http://other', ['self'], 'http://gw')).toBe(false);
    expect(originAllowed(undefined, ['*'], 'http://gw')).toBe(false);
    expect(originAllowed('https://any', ['*'], 'http://gw')).toBe(true);
  });
});

describe('inBusinessHours', () => {
  const hours = { tz: 'Europe/Zagreb', days: { '1': [['09:00', '17:00']] as [string, string][] } };
  it('is open inside the day’s intervals in the site’s time zone, closed outside', () => {
    // Monday 2026-11-23 10:00 in Zagreb = 09:00 UTC.
    expect(inBusinessHours(hours, new Date('2026-11-23T09:00:00Z'))).toBe(true);
    expect(inBusinessHours(hours, new Date('2026-11-23T16:30:00Z'))).toBe(false);
    expect(inBusinessHours(hours, new Date('2026-11-24T09:00:00Z'))).toBe(false);
    expect(inBusinessHours(null)).toBe(true);
  });
});
