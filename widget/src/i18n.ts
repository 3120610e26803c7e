/**
 * Every string the chat shows lives in a catalogue under i18n/, one file per
 * language. A plural entry is keyed by the categories of Intl.PluralRules (one, few,
 * many, other); `{x}` is replaced by the value of `x`.
 *
 * Each chat.<lang>.js carries only its own catalogue (the budget counts "the visitor's
 * language", not all of them); `setLocale` to another one loads i18n.<lang>.js.
 * Add a language: a file here with every key of en.ts, its code in LANGS (ctx.ts),
 * and a branch in lang.ts.
 */
import type { en } from './i18n/en';

type Plural = Partial<Record<Intl.LDMLPluralRule, string>> & { other: string };
export type Key = keyof typeof en;
export type Catalogue = Record<Key, string | Plural>;
export type T = (key: Key, vars?: Record<string, string | number>) => string;

export function translator(locale: string, cat: Catalogue): T {
  let rules: Intl.PluralRules | undefined;
  return (key, vars = {}) => {
    let s = cat[key];
    if (typeof s !== 'string') {
      rules ||= new Intl.PluralRules(locale);
      s = s[rules.select(Number(vars.n))] ?? s.other;
    }
    return s.replace(/\{(\w+)\}/g, (_, k: string) => String(vars[k] ?? ''));
  };
}
