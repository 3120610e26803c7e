import { describe, expect, it } from 'vitest';
import { BACKOFF_MAX_MS, backoffDelay } from './backoff';
import { pickLocale } from './ctx';
import { K, translator } from './i18n';
import { en } from './i18n/en';
import { hr } from './i18n/hr';
import { ru } from './i18n/ru';
import { linkify } from './linkify';
import { toAttrs, toIdentity } from './sanitize';
import { luminance, textOn, validColor } from './theme';
import { when } from './ui';

describe('i18n', () => {
  it('every catalogue has exactly the keys of en, with plural forms its language needs', () => {
    for (const cat of [hr, ru]) expect(Object.keys(cat).sort()).toEqual(Object.keys(en).sort());
    expect(Object.keys(en)).toHaveLength(K.newMsg + 1);
    const t = translator('ru', ru);
    expect(t(K.unreadN, { n: 1 })).toContain('новое сообщение');
    expect(t(K.unreadN, { n: 3 })).toContain('новых сообщения');
    expect(t(K.unreadN, { n: 5 })).toContain('новых сообщений');
    const th = translator('hr', hr);
    expect(th(K.ahead, { n: 2 })).toBe('Ispred vas su 2 osobe.');
    expect(translator('en', en)(K.typing, { name: 'Mia' })).toBe('Mia is typing…');
  });
  it('says what an operator did without their grammatical gender in hr and ru (#13 item 8)', () => {
    // Joined, transferred: present-tense or verbless forms; a past tense (-o / -la in hr, -л / -ла in ru) would pick a gender.
    expect(translator('hr', hr)(K.joined, { name: 'Ana' })).toBe('Ana je u razgovoru');
    expect(translator('hr', hr)(K.transferred, { name: 'Ana' })).toBe('Ana sada vodi razgovor');
    expect(translator('ru', ru)(K.joined, { name: 'Анна' })).toBe('Анна в чате');
    expect(translator('ru', ru)(K.transferred, { name: 'Анна' })).toBe('Анна продолжит разговор');
    const pastHr = /\b\p{L}+(?:ao|io|eo|uo|la|lo)\b/u;
    const pastRu = /\p{L}+(?:ал|ил|ел|ял|ёл|ла|лся|лась)(?!\p{L})/u;
    for (const k of [K.joined, K.transferred]) {
      expect(hr[k] as string).not.toMatch(pastHr);
      expect(ru[k] as string).not.toMatch(pastRu);
    }
    expect('{name} se pridružio razgovoru').toMatch(pastHr);
    expect('{name} присоединился').toMatch(pastRu);
  });
  it('picks the first supported language by primary subtag', () => {
    expect(pickLocale([undefined, 'de-AT', 'hr-HR', 'ru'])).toBe('hr');
    expect(pickLocale(['RU'])).toBe('ru');
    expect(pickLocale(['fr'])).toBe('en');
  });
});

describe('linkify', () => {
  it('links http(s) only and leaves everything else as text', () => {
    expect(linkify('see https://example.com/a?b=1. ok')).toEqual(['see ', { href: 'https://example.com/a?b=1', text: 'https://example.com/a?b=1' }, '. ok']);
    expect(linkify('javascript:alert(1) <b>x</b>')).toEqual(['javascript:alert(1) <b>x</b>']);
    expect(linkify('(http://w.org/Foo_(bar))')[1]).toEqual({ href: 'http://w.org/Foo_(bar)', text: 'http://w.org/Foo_(bar)' });
  });
});

describe('theme', () => {
  it('picks a text colour with at least 4.5:1 contrast for any background', () => {
    const ratio = (a: number, b: number) => (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    for (const c of ['#000000', '#ffffff', '#ff8800', '#1d4ed8', '#777777', '#7f7f7f', '#00ff00', '#abc']) {
      const fg = textOn(c);
      expect(ratio(luminance(c), luminance(fg === '#fff' ? '#ffffff' : '#000000'))).toBeGreaterThanOrEqual(4.5);
    }
  });
  it('accepts only hex colours', () => {
    expect(validColor('red;}body{display:none')).toBeUndefined();
    expect(validColor('#12ab9f')).toBe('#12ab9f');
  });
});

describe('backoff', () => {
  it('grows, is jittered, and is capped', () => {
    expect(backoffDelay(0, () => 0)).toBe(250);
    expect(backoffDelay(0, () => 1)).toBe(500);
    expect(backoffDelay(3, () => 1)).toBe(4000);
    expect(backoffDelay(50, () => 1)).toBe(BACKOFF_MAX_MS);
  });
});

describe('host API input', () => {
  it('keeps only what the protocol accepts', () => {
    expect(toIdentity({ id: 42, name: 'Ana', extra: 1 })).toEqual({ id: '42', name: 'Ana' });
    expect(toIdentity({ name: 'no id' })).toBeNull();
    expect(toAttrs({ plan: 'pro', 'bad key!': 1, n: 3, o: { x: 1 }, ok: null })).toEqual({ plan: 'pro', n: 3, ok: null });
    expect(toAttrs('nope')).toBeNull();
  });
});

describe('message times', () => {
  it("the time alone today, date and time another day, in the chat's language", () => {
    const now = Date.now();
    expect(when('en', now)).toBe(new Intl.DateTimeFormat('en', { timeStyle: 'short' }).format(now));
    expect(when('ru', now)).toMatch(/^\d\d:\d\d$/);
    const old = new Date('2026-03-04T10:07:00').getTime();
    expect(when('hr', old)).toBe(new Intl.DateTimeFormat('hr', { dateStyle: 'medium', timeStyle: 'short' }).format(old));
    expect(when('hr', old)).toContain('2026');
  });
});
