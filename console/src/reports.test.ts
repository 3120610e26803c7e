import { describe, expect, it } from 'vitest';
import { change, dayIn, heatColour, lastDays, linePoints, reportParams } from './reports';

describe('reports helpers', () => {
  it('reads days in the site zone and ranges ending today', () => {
    const at = Date.parse('2026-03-01T10:30:00Z');
    expect(dayIn(at, 'Pacific/Kiritimati')).toBe('2026-03-02');
    expect(dayIn(at, 'America/Los_Angeles')).toBe('2026-03-01');
    expect(dayIn(at, 'Not/AZone')).toBe('2026-03-01');
    expect(lastDays('2026-03-02', 7)).toEqual(['2026-02-24', '2026-03-02']);
  });
  it('compares with the previous period', () => {
    expect(change(12, 10)).toBe(20);
    expect(change(5, 0)).toBeNull();
    expect(change(null, 3)).toBeNull();
  });
  it('draws lines with gaps and heat colours', () => {
    expect(linePoints([0, 5, null, 10], 30, 10, 10)).toEqual(['0,10 10,5', '30,0']);
    expect(heatColour(0, 10)).toBe('rgb(244,246,250)');
    expect(heatColour(10, 10)).toBe('rgb(31,95,214)');
    expect(reportParams({ site: 'demo', from: '2026-01-01', to: '2026-01-07', team: 't1' })).toBe('site=demo&from=2026-01-01&to=2026-01-07&team=t1');
  });
});
