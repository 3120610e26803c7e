/**
 * Every string the chat shows lives in a catalogue under i18n/, one file per
 * language. A plural entry is keyed by the categories of Intl.PluralRules (one, few,
 * many, other); `{x}` is replaced by the value of `x`.
 *
 * Each chat.<lang>.js carries only its own catalogue (the budget counts "the visitor's
 * language", not all of them); `setLocale` to another one loads i18n.<lang>.js.
 * Add a language: a file here with every key of `K`, its code and launcher name in LANGS (ctx.ts),
 * and a branch in lang.ts.
 */
/**
 * Message keys, numbered from 0. esbuild inlines enum members across files, so the
 * bundles carry numbers, not names: call sites become `t(3)`, and build.mjs ships each
 * catalogue as an array in this order.
 */
export enum K {
  open,
  unreadN,
  close,
  title,
  online,
  away,
  connecting,
  reconnecting,
  message,
  placeholder,
  send,
  sending,
  sent,
  seen,
  failed,
  retry,
  discard,
  typing,
  someone,
  waiting,
  ahead,
  next,
  joined,
  transferred,
  resolved,
  reopened,
  offTitle,
  offText,
  name,
  email,
  badEmail,
  emptyMsg,
  badName,
  submit,
  offThanks,
  preTitle,
  start,
  rateQ,
  good,
  bad,
  comment,
  rateSend,
  rateThanks,
  newMsg,
}

type Plural = Partial<Record<Intl.LDMLPluralRule, string>> & { other: string };
export type Catalogue = Record<K, string | Plural>;
export type T = (key: K, vars?: Record<string, string | number>) => string;

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
