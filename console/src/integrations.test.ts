import type { ConvSummary } from '@hark/shared/protocol';
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../server/src/store/events';
import { WEBHOOK_EVENTS, deliveryKind, endpointState, excerpt, exportFileName, forgetVisitor, integrationErrorKey, openNotices, webhookUrlProblem } from './integrations';
import { initialState } from './state';

describe('integrations helpers', () => {
  it('offers exactly the event types the gateway accepts, in its order', () => {
    expect([...WEBHOOK_EVENTS]).toEqual(EVENT_TYPES);
  });

  it('checks a webhook URL for what the console can tell', () => {
    expect(webhookUrlProblem('')).toBe('integrations.urlRequired');
    expect(webhookUrlProblem('   ')).toBe('integrations.urlRequired');
    expect(webhookUrlProblem('not a url')).toBe('integrations.urlInvalid');
    expect(webhookUrlProblem('ftp://example.com/x')).toBe('integrations.urlScheme');
    expect(webhookUrlProblem('javascript:alert(1)')).toBe('integrations.urlScheme');
    expect(webhookUrlProblem(`https://example.com/${'a'.repeat(2100)}`)).toBe('integrations.urlInvalid');
    expect(webhookUrlProblem('https://hooks.example.com/hark')).toBeNull();
    expect(webhookUrlProblem(' http://127.0.0.1:9000/x ')).toBeNull();
  });

  it('names the state of an endpoint and of a delivery', () => {
    expect(endpointState({ enabled: true, disabledReason: null, failingSince: null })).toBe('enabled');
    expect(endpointState({ enabled: true, disabledReason: null, failingSince: 5 })).toBe('failing');
    expect(endpointState({ enabled: false, disabledReason: 'every delivery attempt failed', failingSince: 5 })).toBe('disabledAuto');
    expect(endpointState({ enabled: false, disabledReason: null, failingSince: null })).toBe('disabledAdmin');
    expect(deliveryKind({ state: 'pending', attempts: 0 })).toBe('queued');
    expect(deliveryKind({ state: 'pending', attempts: 2 })).toBe('retrying');
    expect(deliveryKind({ state: 'delivered', attempts: 1 })).toBe('delivered');
    expect(deliveryKind({ state: 'failed', attempts: 9 })).toBe('failed');
  });

  it('keeps the notices of endpoints still disabled by the gateway, newest per endpoint', () => {
    const n = (endpoint: string, at: number) => ({ endpoint, url: `https://x/${endpoint}`, reason: 'failing', at });
    const hooks = [
      { id: 'a', enabled: false, disabledReason: 'failing' },
      { id: 'b', enabled: true, disabledReason: null },
      { id: 'c', enabled: false, disabledReason: null },
    ];
    expect(openNotices([n('a', 1), n('b', 2), n('a', 3), n('c', 4), n('gone', 5)], hooks)).toEqual([n('a', 3)]);
    expect(openNotices([], hooks)).toEqual([]);
  });

  it('shortens an answer to one line', () => {
    expect(excerpt(null)).toBe('');
    expect(excerpt('ok\n  fine')).toBe('ok fine');
    expect(excerpt('x'.repeat(300), 10)).toBe(`${'x'.repeat(9)}…`);
  });

  it('maps error codes to messages by context', () => {
    expect(integrationErrorKey('CONFLICT', 'apiKey')).toBe('integrations.tooManyKeys');
    expect(integrationErrorKey('CONFLICT', 'webhook')).toBeNull();
    expect(integrationErrorKey('NOT_FOUND', 'visitor')).toBe('visitor.notFound');
    expect(integrationErrorKey('NOT_FOUND', 'webhook')).toBe('integrations.notFound');
    expect(integrationErrorKey('WEBHOOK_TARGET_FORBIDDEN', 'webhook')).toBeNull();
  });

  it('names the export file safely', () => {
    expect(exportFileName('demo', 'v_1-a')).toBe('hark-visitor-demo-v_1-a.json');
    expect(exportFileName('demo', '../x')).toBe('hark-visitor-demo-___x.json');
  });

  it('forgets every conversation of an erased visitor and nothing else', () => {
    const conv = (id: string, visitor: string) => ({ id, site: 'demo', visitor: { id: visitor } }) as unknown as ConvSummary;
    const rt = {
      ...initialState(),
      convs: { a: conv('a', 'v1'), b: conv('b', 'v2'), c: conv('c', 'v1') },
      entries: { a: [], b: [] },
      loaded: { a: true, b: true, c: true },
      lastIds: { a: '1-0', b: '2-0' },
      unread: { c: 2, b: 1 },
    };
    const out = forgetVisitor(rt, 'v1');
    expect(Object.keys(out.convs)).toEqual(['b']);
    expect(Object.keys(out.entries)).toEqual(['b']);
    expect(out.loaded).toEqual({ b: true });
    expect(out.lastIds).toEqual({ b: '2-0' });
    expect(out.unread).toEqual({ b: 1 });
    expect(forgetVisitor(rt, 'nobody')).toBe(rt);
    // A conversation known to be theirs before the erase goes too, whatever its summary says now.
    const tomb = { ...rt, convs: { ...rt.convs, a: conv('a', '-') } };
    expect(Object.keys(forgetVisitor(tomb, 'v1', ['a', 'c', 'unknown']).convs)).toEqual(['b']);
  });
});
