import { describe, expect, it } from 'vitest';
import { defaultWeek, hoursToRows, parseOrigins, rowsToHours, snippet, timeZones } from './hours';

describe('business hours', () => {
  it('round-trips through the form rows', () => {
    const h = { tz: 'Europe/Zagreb', days: { '1': [['08:00', '16:00']] as [string, string][], '5': [['09:30', '12:00']] as [string, string][] } };
    const rows = hoursToRows(h);
    expect(rows[1]).toEqual({ open: true, from: '08:00', to: '16:00' });
    expect(rows[0]?.open).toBe(false);
    expect(rowsToHours(true, 'Europe/Zagreb', rows)).toEqual(h);
    expect(rowsToHours(false, 'UTC', rows)).toBeNull();
  });
  it('rejects an interval that ends before it starts', () => {
    const rows = hoursToRows(null);
    rows[2] = { open: true, from: '17:00', to: '09:00' };
    expect(() => rowsToHours(true, 'UTC', rows)).toThrow(/day 2/);
  });
});

describe('origins and snippet', () => {
  it('normalises origins and refuses paths and other schemes', () => {
    expect(parseOrigins('https://shop.example\nhttp://localhost:3000/ https://shop.example')).toEqual({
      origins: ['https://shop.example', 'http://localhost:3000'],
      bad: [],
    });
    expect(parseOrigins('self *').origins).toEqual(['self', '*']);
    expect(parseOrigins('ftp://x https://a.example/path').bad).toEqual(['ftp://x', 'https://a.example/path']);
  });
  it('builds the script tag', () => {
    expect(snippet('https://chat.example.com', 'abc')).toBe('<script async src="https://chat.example.com/widget.js" data-site="abc"></script>');
  });
});

describe('setting business hours up', () => {
  it('opens Monday to Friday, 9 to 5, when hours are turned on with no day open, and keeps a week already set', () => {
    const week = defaultWeek(hoursToRows(null));
    expect(week.map((r) => r.open)).toEqual([false, true, true, true, true, true, false]);
    expect(week[1]).toEqual({ open: true, from: '09:00', to: '17:00' });
    const set = hoursToRows({ tz: 'UTC', days: { '6': [['10:00', '12:00']] } });
    expect(defaultWeek(set)).toBe(set);
  });

  it('offers the IANA zones with UTC first, and keeps a current zone the list lacks', () => {
    const zones = timeZones('Europe/Zagreb');
    expect(zones[0]).toBe('UTC');
    expect(zones).toContain('Europe/Zagreb');
    expect(zones).toContain('America/New_York');
    expect(zones.length).toBeGreaterThan(300);
    expect(timeZones('Europe/Zagrebb', ['Europe/Zagreb'])).toEqual(['Europe/Zagrebb', 'UTC', 'Europe/Zagreb']);
  });
});
