import { describe, expect, it } from 'vitest';
import { hoursToRows, parseOrigins, rowsToHours, snippet } from './hours';

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
