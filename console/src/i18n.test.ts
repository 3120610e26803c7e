/// <reference types="node" />
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CATALOGUES, pickLang, t } from './i18n';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    if (d.isDirectory()) return sources(p);
    return /\.tsx?$/.test(d.name) && !d.name.endsWith('.test.ts') ? [p] : [];
  });
}

describe('catalogues', () => {
  const en = Object.keys(CATALOGUES.en).sort();
  it('Croatian and Russian have exactly the English keys, none empty', () => {
    for (const lang of ['hr', 'ru'] as const) {
      expect(Object.keys(CATALOGUES[lang]).sort()).toEqual(en);
      for (const [k, v] of Object.entries(CATALOGUES[lang])) expect(v.trim(), `${lang} ${k}`).not.toBe('');
    }
  });
  it('keeps the same {placeholders} in every language', () => {
    for (const k of en) {
      const vars = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort();
      const base = vars((CATALOGUES.en as Record<string, string>)[k] ?? '');
      expect(vars((CATALOGUES.hr as Record<string, string>)[k] ?? ''), `hr ${k}`).toEqual(base);
      expect(vars((CATALOGUES.ru as Record<string, string>)[k] ?? ''), `ru ${k}`).toEqual(base);
    }
  });
  it('names what an operator did, and their status, without a grammatical gender in hr and ru (#13 item 8)', () => {
    const hr = CATALOGUES.hr as Record<string, string>;
    const ru = CATALOGUES.ru as Record<string, string>;
    expect(hr['event.joined']).toBe('{who} je u razgovoru');
    expect(ru['event.joined']).toBe('{who} в чате');
    expect([hr['status.online'], hr['status.away'], hr['status.offline']]).toEqual(['Na mreži', 'Na pauzi', 'Izvan mreže']);
    expect(ru['status.away']).toBe('Нет на месте');
    // No past tense (which picks a gender in both languages) in the lines about people: joined, assigned, transferred, handed over, away, left a message.
    const pastHr = /\b\p{L}+(?:ao|io|eo|uo|la)\b/u;
    const pastRu = /\p{L}+(?:ал|ил|ел|ял|ёл|ла|лся|лась)(?!\p{L})/u;
    const keys = ['event.joined', 'event.assigned', 'event.transferred', 'event.offline-message', 'conv.handedOver', 'status.online', 'status.away', 'status.offline'];
    for (const k of keys) {
      expect(hr[k], `hr ${k}`).not.toMatch(pastHr);
      expect(ru[k], `ru ${k}`).not.toMatch(pastRu);
    }
    expect('{who} se pridružio razgovoru').toMatch(pastHr);
    expect('Отошёл').toMatch(pastRu);
    expect('Ostavio poruku').toMatch(pastHr);
  });
  it('has every literal key the code asks for', () => {
    const dir = new URL('.', import.meta.url).pathname;
    const used = new Set<string>();
    for (const f of sources(dir)) for (const m of readFileSync(f, 'utf8').matchAll(/\bt\('([^']+)'/g)) used.add(m[1] as string);
    expect(used.size).toBeGreaterThan(50);
    const missing = [...used].filter((k) => !(k in CATALOGUES.en));
    expect(missing).toEqual([]);
  });
});

describe('pickLang and t', () => {
  it('picks from the browser preferences', () => {
    expect(pickLang(['hr-HR', 'en'])).toBe('hr');
    expect(pickLang(['de-DE', 'ru'])).toBe('ru');
    expect(pickLang(['sr-Latn'])).toBe('hr');
    expect(pickLang(['fr'])).toBe('en');
  });
  it('fills variables and falls back to the key', () => {
    expect(t('ru', 'conv.typing', { name: 'Ана' })).toBe('Ана печатает…');
    expect(t('hr', 'error.NO_SUCH_CODE')).toBe('error.NO_SUCH_CODE');
  });
});
