import { describe, expect, it, vi } from 'vitest';
import { inBusinessHours } from '../store/sites';
import { Bucket, Limits, SlowDown } from './limits';
import { identityHash, verifyIdentity } from '../domain/identity';
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

describe('a site limit shared by gateways', () => {
  it("each gateway enforces the site's setting over the live gateways, follows a new setting, and answers SlowDown (not a closing RATE_LIMITED)", () => {
    vi.useFakeTimers();
    vi.setSystemTime(0);
    let gateways = 2;
    const l = new Limits({ siteBurstSeconds: 1, visitorPerSec: 1000, visitorBurst: 1000, addressPerSec: 1000, addressBurst: 1000 }, () => gateways);
    const take = (lim: { take(): void }): string => {
      try {
        lim.take();
        return 'ok';
      } catch (e) {
        return e instanceof SlowDown ? `slow ${e.retryMs}` : String(e);
      }
    };
    // Setting 20 a second, 2 gateways: this one lets 10 through in the first second (burst of one second).
    const v = l.forSocket('v1', '10.0.0.1', 'shop', 20);
    const first = Array.from({ length: 12 }, () => take(v));
    expect(first.filter((x) => x === 'ok').length).toBe(10);
    expect(first.at(-1)).toBe('slow 1000');
    // One gateway left: its share is the whole 20.
    gateways = 1;
    vi.setSystemTime(1000);
    expect(Array.from({ length: 25 }, () => take(v)).filter((x) => x === 'ok').length).toBe(20);
    // The admin raises the limit: read again on the next hello.
    v.siteRate(100);
    vi.setSystemTime(2000);
    expect(Array.from({ length: 120 }, () => take(v)).filter((x) => x === 'ok').length).toBe(100);
    l.stop();
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

describe('heartbeat', () => {
  it('pings the sockets in HEARTBEAT_SLICES slices: each once per round, a slice per tick; a silent one is cut on its next turn', async () => {
    const { Gateway, HEARTBEAT_SLICES } = await import('./gateway');
    const gw = new Gateway({} as never);
    const socks = Array.from({ length: 100 }, () => {
      const s = { closed: false, alive: true, beatSlot: 0, pings: 0, cut: false, ws: { ping: () => s.pings++, terminate: () => (s.cut = true) } };
      return s;
    });
    for (const s of socks) gw.track(s as never);
    const tick = () => (gw as unknown as { heartbeat(): void }).heartbeat();
    const perTick: number[] = [];
    for (let i = 0; i < HEARTBEAT_SLICES; i++) {
      const before = socks.reduce((n, s) => n + s.pings, 0);
      tick();
      perTick.push(socks.reduce((n, s) => n + s.pings, 0) - before);
    }
    expect(socks.every((s) => s.pings === 1)).toBe(true);
    expect(Math.max(...perTick)).toBe(Math.ceil(100 / HEARTBEAT_SLICES));
    // Every socket but the first answered its ping; the first is cut on its next turn.
    for (const s of socks.slice(1)) s.alive = true;
    for (let i = 0; i < HEARTBEAT_SLICES; i++) tick();
    expect(socks.filter((s) => s.cut)).toEqual([socks[0]]);
  });
});
