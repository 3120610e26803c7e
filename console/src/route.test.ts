import { describe, expect, it } from 'vitest';
import { HOME, parseRoute, routePath, type Route } from './route';

describe('console URLs', () => {
  it('gives each view, conversation, screen and admin tab its own path, and reads it back', () => {
    const routes: [Route, string][] = [
      [HOME, '/console/'],
      [{ screen: 'inbox', view: 'queue', conv: null }, '/console/queue'],
      [{ screen: 'inbox', view: 'mine', conv: 'c_7-X' }, '/console/mine/c_7-X'],
      [{ screen: 'inbox', view: 'resolved', conv: 'abc' }, '/console/resolved/abc'],
      [{ screen: 'inbox', view: 'mine', conv: 'abc', details: true }, '/console/mine/abc/visitor'],
      [{ screen: 'stats' }, '/console/stats'],
      [{ screen: 'reports' }, '/console/reports'],
      [{ screen: 'account' }, '/console/account'],
      [{ screen: 'admin', tab: null }, '/console/admin'],
      [{ screen: 'admin', tab: 'sites' }, '/console/admin/sites'],
    ];
    for (const [r, path] of routes) {
      expect(routePath(r)).toBe(path);
      expect(parseRoute(path)).toEqual(r);
    }
  });

  it('reads anything else as the inbox, and never takes a malformed id', () => {
    for (const p of ['/', '/console', '/console/nope', '/elsewhere/queue', '/console/%E0%A4%A']) expect(parseRoute(p)).toEqual(HOME);
    expect(parseRoute('/console/all/')).toEqual({ screen: 'inbox', view: 'all', conv: null });
    expect(parseRoute('/console/mine/a%20b')).toEqual({ screen: 'inbox', view: 'mine', conv: null });
    expect(parseRoute(`/console/mine/${'x'.repeat(65)}`)).toEqual({ screen: 'inbox', view: 'mine', conv: null });
    expect(parseRoute('/console/admin/<script>')).toEqual({ screen: 'admin', tab: null });
    // Details need a conversation; anything else after one is ignored.
    expect(parseRoute('/console/mine/abc/other')).toEqual({ screen: 'inbox', view: 'mine', conv: 'abc' });
  });
});
