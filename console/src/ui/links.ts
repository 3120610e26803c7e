/**
 * Finds links in message text, for ui/Linkify.tsx. Only http:, https: and mailto: become links
 * (a bare `www.` host is read as https, a bare address as mailto); everything else, `javascript:`
 * and HTML included, stays text. The caller renders the parts as Preact elements, never as HTML.
 */

export type LinkPart = { kind: 'text'; text: string } | { kind: 'link'; text: string; href: string };

/** Links longer than this stay text (no real link is; it keeps the scan cheap on hostile input). */
export const MAX_LINK_CHARS = 2048;

const SAFE_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);
// A link starts at a word boundary with a scheme we allow, `www.`, or looks like an e-mail address;
// it ends at whitespace, a quote or an angle bracket.
const CANDIDATE = /\b(?:https?:\/\/|mailto:|www\.)[^\s<>"'`]+|\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b/gi;
const TRAILING = /[.,;:!?'"]+$/;

/** Drops sentence punctuation after a link, and a closing bracket that has no opening one inside it. */
function trim(raw: string): string {
  let s = raw.replace(TRAILING, '');
  for (const [open, close] of [['(', ')'], ['[', ']'], ['{', '}']] as const) {
    while (s.endsWith(close) && s.split(close).length > s.split(open).length) s = s.slice(0, -1).replace(TRAILING, '');
  }
  return s;
}

/** The safe href for a candidate, or null when it is not a link we allow. */
export function safeHref(candidate: string): string | null {
  if (candidate.length > MAX_LINK_CHARS) return null;
  let target = candidate;
  if (/^www\./i.test(target)) target = `https://${target}`;
  else if (!/^(?:https?:\/\/|mailto:)/i.test(target)) target = `mailto:${target}`;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return null;
  }
  if (!SAFE_PROTOCOLS.has(url.protocol)) return null;
  if (url.protocol !== 'mailto:' && !url.hostname) return null;
  if (url.protocol === 'mailto:' && !/^[^@\s]+@[^@\s]+$/.test(decodeURIComponent(url.pathname))) return null;
  return url.href;
}

/** Splits `text` into text and link parts; joined, the parts' texts are `text` again. */
export function linkParts(text: string): LinkPart[] {
  const parts: LinkPart[] = [];
  let last = 0;
  const push = (s: string) => {
    if (!s) return;
    const prev = parts[parts.length - 1];
    if (prev?.kind === 'text') prev.text += s;
    else parts.push({ kind: 'text', text: s });
  };
  for (const m of text.matchAll(CANDIDATE)) {
    const start = m.index ?? 0;
    const shown = trim(m[0]);
    const href = shown ? safeHref(shown) : null;
    if (!href) continue;
    push(text.slice(last, start));
    parts.push({ kind: 'link', text: shown, href });
    last = start + shown.length;
  }
  push(text.slice(last));
  return parts;
}
