/** Keyboard shortcuts of the workspace, as a pure key → action map (tested without a DOM). */

export type Action = 'next' | 'prev' | 'composer' | 'resolve' | 'take' | 'help' | 'view1' | 'view2' | 'view3' | 'view4' | 'blur' | 'close';

export interface KeyLike {
  key: string;
  altKey: boolean;
  ctrlKey: boolean;
  metaKey: boolean;
  shiftKey: boolean;
}

/** Shown by `?`; the i18n key of each description is `key.<action>`. */
export const SHORTCUTS: { keys: string; action: Action }[] = [
  { keys: 'j / Alt+↓', action: 'next' },
  { keys: 'k / Alt+↑', action: 'prev' },
  { keys: 'r / Enter', action: 'composer' },
  { keys: 'e / Alt+E', action: 'resolve' },
  { keys: 't', action: 'take' },
  { keys: '1 2 3 4', action: 'view1' },
  { keys: 'Esc', action: 'blur' },
  { keys: '?', action: 'help' },
];

/**
 * `typing` is true while focus is in a text field: then only modified keys
 * act, so an operator can type "j" or "?" in a message.
 */
export function keyAction(ev: KeyLike, typing: boolean): Action | null {
  if (ev.ctrlKey || ev.metaKey) return null;
  if (ev.altKey) {
    if (ev.key === 'ArrowDown') return 'next';
    if (ev.key === 'ArrowUp') return 'prev';
    if (ev.key === 'e' || ev.key === 'E' || ev.key === '€') return 'resolve';
    return null;
  }
  if (ev.key === 'Escape') return typing ? 'blur' : 'close';
  if (typing) return null;
  switch (ev.key) {
    case 'j':
      return 'next';
    case 'k':
      return 'prev';
    case 'r':
    case 'Enter':
      return 'composer';
    case 'e':
      return 'resolve';
    case 't':
      return 'take';
    case '?':
      return 'help';
    case '1':
      return 'view1';
    case '2':
      return 'view2';
    case '3':
      return 'view3';
    case '4':
      return 'view4';
    default:
      return null;
  }
}
