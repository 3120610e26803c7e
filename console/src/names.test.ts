import { describe, expect, it } from 'vitest';
import { LANGS } from './i18n';
import { FRIENDLY_NAMES, friendlyName } from './names';
import { visitorLabel } from './state';

describe('friendly visitor names', () => {
  it('names a visitor the same way every time, in the operator\'s language, and the same pair of words across languages', () => {
    const id = 'bK3DIAq9xZ0pLm2w';
    expect(friendlyName(id, 'en')).toBe(friendlyName(id, 'en'));
    const [adj, animal] = friendlyName(id, 'en').split(' ');
    expect(adj).toMatch(/^[A-Z][a-z]+$/);
    expect(animal).toMatch(/^[A-Z][a-z]+$/);
    expect(friendlyName(id, 'hr')).toMatch(/^[A-ZČĆŽŠĐ][a-zčćžšđ]+ [a-zčćžšđ]+$/);
    expect(friendlyName(id, 'ru')).toMatch(/^[А-ЯЁ][а-яё]+ [а-яё]+$/);
    // Known answers: a change of the lists or the hash would rename every visitor on screen.
    expect(friendlyName('visitor-1', 'en')).toBe('Sunny Hedgehog');
    expect(friendlyName('visitor-1', 'hr')).toBe('Sunčani jež');
    expect(friendlyName('visitor-1', 'ru')).toBe('Солнечный ёж');
    expect(friendlyName(id, 'en')).toBe('Lucky Hedgehog');
    const pairs = new Set(LANGS.map((l) => friendlyName(id, l.id)));
    expect(pairs.size).toBe(LANGS.length);
  });

  it('spreads visitors over many names', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) seen.add(friendlyName(`v${i}x${i * 7919}`, 'en'));
    expect(FRIENDLY_NAMES).toBe(400);
    expect(seen.size).toBeGreaterThan(300);
  });

  it('is what the console calls an anonymous visitor, until they give a name or an e-mail', () => {
    const v = { id: 'bK3DIAq9xZ0pLm2w', verified: false, attrs: {} };
    expect(visitorLabel(v, 'ru')).toBe(friendlyName(v.id, 'ru'));
    expect(visitorLabel(v, 'en')).not.toContain('#');
    expect(visitorLabel({ ...v, email: 'a@b.c' }, 'en')).toBe('a@b.c');
    expect(visitorLabel({ ...v, name: 'Mara' }, 'hr')).toBe('Mara');
  });
});
