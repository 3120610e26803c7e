/**
 * Words for the search index (domain/search.ts): the same folding for what is indexed and
 * what is searched, so "Čokolada", "cokolada" and "ČOKOLADA" are one term, and "Ёлка" is "елка".
 *
 * Folding: lower case, decomposed (NFD) with every combining mark dropped (č ć š ž → c c s z,
 * é → e, ё → е, й → и), then the letters that do not decompose (đ → d, ł → l, ø → o, ß → ss,
 * æ → ae, œ → oe, þ → th). A word is a run of letters and digits (any script); shorter than
 * MIN_TERM_LENGTH is not a term, longer than MAX_TERM_LENGTH is cut.
 */

/** Words shorter than this (after folding) are not indexed nor searched. */
export const MIN_TERM_LENGTH = 2;
/** A longer word is indexed and searched by its first MAX_TERM_LENGTH characters. */
export const MAX_TERM_LENGTH = 40;

const SPECIAL: Record<string, string> = { đ: 'd', ł: 'l', ø: 'o', ß: 'ss', æ: 'ae', œ: 'oe', þ: 'th', ı: 'i', ħ: 'h', ŧ: 't' };
const SPECIAL_RE = /[đłøßæœþıħŧ]/g;
const MARKS_RE = /\p{M}+/gu;
const WORD_RE = /[\p{L}\p{N}]+/gu;
const LONE_RE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Lone surrogates (invalid UTF-16) replaced by U+FFFD. */
export function wellFormed(s: string): string {
  return s.replace(LONE_RE, '\uFFFD');
}

/** Folds a piece of text (see the top of this file). Lone surrogates are replaced first. */
export function fold(text: string): string {
  return wellFormed(text).toLowerCase().normalize('NFD').replace(MARKS_RE, '').replace(SPECIAL_RE, (c) => SPECIAL[c] ?? c);
}

/** A folded word as a term, or null when it is too short. */
function asTerm(word: string): string | null {
  const t = fold(word).replace(MARKS_RE, '');
  if ([...t].length < MIN_TERM_LENGTH) return null;
  return [...t].slice(0, MAX_TERM_LENGTH).join('');
}

/** The distinct terms of a text, in order of first appearance. */
export function terms(text: string): string[] {
  const out = new Set<string>();
  for (const m of wellFormed(text).matchAll(WORD_RE)) {
    const t = asTerm(m[0]);
    if (t) out.add(t);
  }
  return [...out];
}

/** A query's words: its terms, and whether the last one is to be matched as a prefix (it was still being typed). */
export interface ParsedQuery {
  terms: string[];
  /** The last term is a prefix: the query does not end with a space or punctuation. */
  prefix: boolean;
}

export function parseQuery(q: string): ParsedQuery {
  const clean = wellFormed(q);
  const list = terms(clean);
  const tail = /[\p{L}\p{N}]$/u.test(clean);
  return { terms: list, prefix: tail && list.length > 0 };
}

export interface Highlighted {
  /** The piece of text shown (at most SNIPPET_CHARS characters, cut at word edges where possible). */
  text: string;
  /** [start, end) ranges in `text` of the words that matched. */
  marks: [number, number][];
}

/** Characters of a snippet. */
export const SNIPPET_CHARS = 160;

/**
 * Which words of `text` match the query (a term, or the prefix for the last one), as ranges in
 * `text`; the count of distinct query terms found.
 */
export function matches(text: string, q: ParsedQuery): { ranges: [number, number][]; found: number } {
  const ranges: [number, number][] = [];
  const found = new Set<string>();
  const last = q.terms.length - 1;
  for (const m of text.matchAll(WORD_RE)) {
    const t = asTerm(m[0]);
    if (!t) continue;
    const i = q.terms.findIndex((qt, k) => t === qt || (q.prefix && k === last && t.startsWith(qt)));
    if (i < 0) continue;
    found.add(q.terms[i] as string);
    ranges.push([m.index, m.index + m[0].length]);
  }
  return { ranges, found: found.size };
}

/** A snippet of `text` around its first match, with the matching words marked. */
export function snippet(text: string, q: ParsedQuery, chars = SNIPPET_CHARS): Highlighted {
  const safe = wellFormed(text);
  const { ranges } = matches(safe, q);
  if (safe.length <= chars) return { text: safe, marks: ranges };
  const first = ranges[0]?.[0] ?? 0;
  let start = Math.max(0, first - Math.floor(chars / 3));
  if (start > 0) {
    const space = safe.lastIndexOf(' ', start);
    if (space >= 0 && start - space < 20) start = space + 1;
  }
  // Never start or end inside a surrogate pair.
  if (start > 0 && /[\uDC00-\uDFFF]/.test(safe[start] ?? '')) start--;
  let end = Math.min(safe.length, start + chars);
  if (end < safe.length && /[\uD800-\uDBFF]/.test(safe[end - 1] ?? '')) end--;
  const prefix = start > 0 ? '…' : '';
  const suffix = end < safe.length ? '…' : '';
  const shift = prefix.length - start;
  const marks = ranges.filter(([a, b]) => a >= start && b <= end).map(([a, b]): [number, number] => [a + shift, b + shift]);
  return { text: prefix + safe.slice(start, end) + suffix, marks };
}
