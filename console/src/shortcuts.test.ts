import { describe, expect, it } from 'vitest';
import { keyAction } from './shortcuts';

const k = (key: string, mods: Partial<{ altKey: boolean; ctrlKey: boolean; metaKey: boolean; shiftKey: boolean }> = {}) => ({
  key,
  altKey: false,
  ctrlKey: false,
  metaKey: false,
  shiftKey: false,
  ...mods,
});

describe('keyAction', () => {
  it('maps single keys outside text fields', () => {
    expect(keyAction(k('j'), false)).toBe('next');
    expect(keyAction(k('k'), false)).toBe('prev');
    expect(keyAction(k('?', { shiftKey: true }), false)).toBe('help');
    expect(keyAction(k('e'), false)).toBe('resolve');
    expect(keyAction(k('2'), false)).toBe('view2');
  });
  it('lets an operator type letters in the composer', () => {
    expect(keyAction(k('j'), true)).toBeNull();
    expect(keyAction(k('?'), true)).toBeNull();
    expect(keyAction(k('Escape'), true)).toBe('blur');
  });
  it('keeps Alt shortcuts working while typing, and leaves Ctrl/Cmd to the browser', () => {
    expect(keyAction(k('ArrowDown', { altKey: true }), true)).toBe('next');
    expect(keyAction(k('e', { altKey: true }), true)).toBe('resolve');
    expect(keyAction(k('j', { ctrlKey: true }), false)).toBeNull();
  });
});
