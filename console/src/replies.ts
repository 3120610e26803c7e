/** Saved replies: `/` search in the composer and placeholder filling. */

export interface SavedReply {
  id: string;
  /** Site id for a site-wide reply; absent for a personal one. */
  site?: string;
  /** Operator id for a personal reply. */
  owner?: string;
  shortcut: string;
  text: string;
}

/**
 * The `/query` being typed at the caret, if any: a slash at the start of the
 * text or after whitespace, followed by non-space characters up to the caret.
 */
export function slashQuery(text: string, caret: number): { start: number; query: string } | null {
  const before = text.slice(0, caret);
  const m = /(^|\s)\/([^\s/]*)$/.exec(before);
  if (!m) return null;
  const query = m[2] ?? '';
  return { start: caret - query.length - 1, query };
}

/** Replies matching a query: shortcut prefix first, then shortcut or text containing it. */
export function searchReplies(all: SavedReply[], query: string, site: string | null, limit = 8): SavedReply[] {
  const q = query.toLowerCase();
  const usable = all.filter((r) => !r.site || r.site === site);
  const rank = (r: SavedReply) => {
    const s = r.shortcut.toLowerCase();
    if (s.startsWith(q)) return 0;
    if (s.includes(q)) return 1;
    if (r.text.toLowerCase().includes(q)) return 2;
    return 3;
  };
  return usable
    .map((r) => ({ r, k: rank(r) }))
    .filter((x) => x.k < 3)
    .sort((a, b) => a.k - b.k || a.r.shortcut.localeCompare(b.r.shortcut))
    .slice(0, limit)
    .map((x) => x.r);
}

/** Fills `{name}` with the visitor's name; without a name the placeholder and a space before it go. */
export function fillPlaceholders(text: string, vars: { name?: string | undefined }): string {
  const name = vars.name?.trim();
  if (name) return text.replace(/\{name\}/g, name);
  return text.replace(/\s?\{name\}/g, '');
}

/** Replaces the `/query` at [start, caret) with the reply; returns the new text and caret. */
export function insertReply(text: string, start: number, caret: number, reply: string): { text: string; caret: number } {
  const next = text.slice(0, start) + reply + text.slice(caret);
  return { text: next, caret: start + reply.length };
}
