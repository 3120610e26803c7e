import { describe, expect, it } from 'vitest';
import type { HarkError } from './errors';
import { MAX_MESSAGE_CHARS } from './limits';
import { checkText, parseOperatorToServer, parseVisitorToServer } from './parse';

const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as HarkError).code;
  }
  return 'no error';
};

describe('parseVisitorToServer', () => {
  it('accepts each well-formed frame and narrows its type', () => {
    const f = parseVisitorToServer(JSON.stringify({ type: 'send', cid: 'abcdefgh12', text: 'hi' }));
    expect(f.type).toBe('send');
    expect(parseVisitorToServer(JSON.stringify({ type: 'hello', lastIds: { c1: '1-0' } })).type).toBe('hello');
  });
  it('gives BAD_FRAME, UNKNOWN_TYPE with stable codes', () => {
    expect(code(() => parseVisitorToServer('{'))).toBe('BAD_FRAME');
    expect(code(() => parseVisitorToServer('[]'))).toBe('BAD_FRAME');
    expect(code(() => parseVisitorToServer('null'))).toBe('BAD_FRAME');
    expect(code(() => parseVisitorToServer('{"type":1}'))).toBe('BAD_FRAME');
    expect(code(() => parseVisitorToServer('{"type":"nope"}'))).toBe('UNKNOWN_TYPE');
    expect(code(() => parseVisitorToServer('{"type":"__proto__"}'))).toBe('UNKNOWN_TYPE');
    // Extra properties, wrong id shapes, operator-only frames.
    expect(code(() => parseVisitorToServer(JSON.stringify({ type: 'send', cid: 'abcdefgh12', text: 'x', admin: true })))).toBe('BAD_FRAME');
    expect(code(() => parseVisitorToServer(JSON.stringify({ type: 'send', cid: 'a b', text: 'x' })))).toBe('BAD_FRAME');
    expect(code(() => parseVisitorToServer(JSON.stringify({ type: 'hello', lastIds: { c1: 'not-an-id' } })))).toBe('BAD_FRAME');
    expect(code(() => parseVisitorToServer(JSON.stringify({ type: 'resolve', conv: 'c1' })))).toBe('UNKNOWN_TYPE');
  });
});

describe('parseOperatorToServer', () => {
  it('knows the operator frames and refuses visitor-only ones', () => {
    expect(parseOperatorToServer(JSON.stringify({ type: 'resolve', conv: 'c1' })).type).toBe('resolve');
    expect(code(() => parseOperatorToServer(JSON.stringify({ type: 'rate', conv: 'c1', rating: 'good' })))).toBe('UNKNOWN_TYPE');
    expect(code(() => parseOperatorToServer(JSON.stringify({ type: 'status', status: 'asleep' })))).toBe('BAD_FRAME');
  });
});

describe('checkText', () => {
  it('trims, refuses empty and over-long text', () => {
    expect(checkText('  hi \n')).toBe('hi');
    expect(code(() => checkText(' \n\t '))).toBe('EMPTY_MESSAGE');
    expect(code(() => checkText('x'.repeat(MAX_MESSAGE_CHARS + 1)))).toBe('MESSAGE_TOO_LONG');
    expect(checkText('x'.repeat(MAX_MESSAGE_CHARS))).toHaveLength(MAX_MESSAGE_CHARS);
  });
});
