import { describe, expect, it } from 'vitest';
import { clock, dateTime, duration, formatLocale, initials, localTime, parseUserAgent, safeHref, timeOfDay } from './format';

describe('clock', () => {
  it('formats minutes and hours', () => {
    expect(clock(7_000)).toBe('0:07');
    expect(clock(245_000)).toBe('4:05');
    expect(clock(3_723_000)).toBe('1:02:03');
    expect(clock(-5)).toBe('0:00');
  });
});

describe('duration', () => {
  it('picks a unit', () => {
    expect(duration(42_000)).toBe('42 s');
    expect(duration(180_000)).toBe('3 min');
    expect(duration(3_900_000)).toBe('1 h 5 min');
    expect(duration(null)).toBe('–');
  });
});

describe('parseUserAgent', () => {
  it('tells Edge from Chrome and Chrome from Safari', () => {
    const chrome = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
    expect(parseUserAgent(chrome)).toEqual({ browser: 'Chrome 126', os: 'Windows' });
    expect(parseUserAgent(`${chrome} Edg/126.0.2592.56`).browser).toBe('Edge 126');
    const safari = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
    expect(parseUserAgent(safari)).toEqual({ browser: 'Safari 17', os: 'iOS' });
    const ff = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
    expect(parseUserAgent(ff)).toEqual({ browser: 'Firefox 128', os: 'Linux' });
    expect(parseUserAgent(undefined)).toEqual({ browser: '?', os: '?' });
  });
});

describe('localTime', () => {
  it('shows the time in the visitor zone and ignores bad zones', () => {
    const at = new Date(Date.UTC(2025, 0, 15, 12, 30));
    expect(localTime('Asia/Tokyo', at, 'en-GB')).toMatch(/^21:30/);
    expect(localTime('Not/AZone', at, 'en-GB')).toBeNull();
    expect(localTime(undefined, at)).toBeNull();
  });
});

describe('initials and links', () => {
  it('takes first and last initials', () => {
    expect(initials('ana marija kovač')).toBe('AK');
    expect(initials('Ivan')).toBe('I');
    expect(initials('  ')).toBe('?');
  });
  it('never links a javascript: URL', () => {
    expect(safeHref('javascript:alert(1)')).toBeNull();
    expect(safeHref('https://shop.example/cart')).toBe('https://shop.example/cart');
    expect(safeHref('not a url')).toBeNull();
  });
});

describe('times in the console\'s language', () => {
  const at = Date.UTC(2026, 0, 5, 14, 5);
  it('writes 24-hour times in hr and ru even in an en-US browser, and the region the browser prefers for English', () => {
    const us = ['en-US', 'de-DE'];
    expect(formatLocale('ru', us)).toBe('ru');
    expect(formatLocale('hr', us)).toBe('hr');
    expect(formatLocale('en', us)).toBe('en-US');
    expect(formatLocale('en', ['hr-HR', 'en-GB'])).toBe('en-GB');
    expect(formatLocale('hr', ['hr-HR', 'en-GB'])).toBe('hr-HR');
    for (const lang of ['ru', 'hr']) {
      const time = timeOfDay(at, formatLocale(lang, us));
      expect(time, lang).toMatch(/^\d{2}:\d{2}$/);
      expect(dateTime(at, formatLocale(lang, us)), lang).not.toMatch(/AM|PM/);
      expect(localTime('UTC', new Date(at), formatLocale(lang, us)), lang).toMatch(/14:05/);
    }
    expect(timeOfDay(at, 'en-US')).toMatch(/AM|PM/);
  });
});
