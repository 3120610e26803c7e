/** Splits message text into plain text and http(s) links. The UI renders both as text nodes / `<a>`; nothing is ever parsed as HTML. */

export type Part = string | { href: string; text: string };

const URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;
/** Punctuation that usually ends a sentence rather than a URL. */
const TRAILING = /[.,;:!?)\]}»”’]+$/;

export function linkify(text: string): Part[] {
  const out: Part[] = [];
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    let raw = m[0].replace(TRAILING, '');
    // Give back a closing bracket that belongs to the URL, as in Wikipedia's "Foo_(bar)".
    if (raw.split('(').length > raw.split(')').length && m[0][raw.length] === ')') raw += ')';
    const href = safeHref(raw);
    if (!href) continue;
    const start = m.index ?? 0;
    if (start > last) out.push(text.slice(last, start));
    out.push({ href, text: raw });
    last = start + raw.length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

function safeHref(raw: string): string | null {
  try {
    const u = new URL(raw);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}
