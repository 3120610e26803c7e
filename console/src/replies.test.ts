import { describe, expect, it } from 'vitest';
import { fillPlaceholders, insertReply, type SavedReply, searchReplies, slashQuery } from './replies';

const replies: SavedReply[] = [
  { id: '1', site: 's1', shortcut: 'hello', text: 'Hello {name}, how can I help?' },
  { id: '2', owner: 'op', shortcut: 'bye', text: 'Thanks for chatting!' },
  { id: '3', site: 's2', shortcut: 'help', text: 'Other site' },
  { id: '4', site: 's1', shortcut: 'refund', text: 'Refunds take 5 days; hello accounting.' },
];

describe('slashQuery', () => {
  it('finds a slash command at the caret', () => {
    expect(slashQuery('/he', 3)).toEqual({ start: 0, query: 'he' });
    expect(slashQuery('ok /b', 5)).toEqual({ start: 3, query: 'b' });
    expect(slashQuery('/', 1)).toEqual({ start: 0, query: '' });
  });
  it('ignores slashes inside words and URLs', () => {
    expect(slashQuery('and/or', 6)).toBeNull();
    expect(slashQuery('see http://x', 12)).toBeNull();
    expect(slashQuery('/hello world', 12)).toBeNull();
  });
});

describe('searchReplies', () => {
  it('ranks shortcut prefix over text match and hides other sites', () => {
    expect(searchReplies(replies, 'hel', 's1').map((r) => r.id)).toEqual(['1', '4']);
    expect(searchReplies(replies, '', 's1').map((r) => r.id)).toEqual(['2', '1', '4']);
    expect(searchReplies(replies, 'help', 's2').map((r) => r.id)).toEqual(['3']);
  });
});

describe('fillPlaceholders', () => {
  it('puts in the name, or drops the placeholder cleanly', () => {
    expect(fillPlaceholders('Hello {name}, hi', { name: 'Ana' })).toBe('Hello Ana, hi');
    expect(fillPlaceholders('Hello {name}, hi', {})).toBe('Hello, hi');
  });
});

describe('insertReply', () => {
  it('replaces only the slash query', () => {
    expect(insertReply('ok /he there', 3, 6, 'Hello!')).toEqual({ text: 'ok Hello! there', caret: 9 });
  });
});
