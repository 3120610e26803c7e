/**
 * Search over the conversations an operator may see (the index: store/search.ts).
 *
 * Kept current by a consumer of the event log (`consumer()`, registered in consumers.ts), never
 * by scanning: a conversation's creation indexes its visitor's profile (name, e-mail, visitor,
 * user and conversation ids, attribute values); each message, note and offline message its
 * words (read from the stream by the event's entry id); lifecycle events refresh the filter
 * fields (status, operator, team, rating) and index the operator's name. A visitor's message
 * re-indexes the profile when it changed since (identify, setAttributes). Every write is
 * idempotent (an entry at or before the last one indexed is skipped; the rest are set writes).
 *
 * A query (`search`): words folded like the index (search-text.ts), all of them required, the
 * last one as a prefix while it is being typed; every shard of every site the operator serves
 * (or the one asked for) answers its best page with the filters and the access rule applied in
 * the shard's script; the merged page is checked again against the conversation's record with
 * policy.ts `canList` (the record is the truth; the index may lag by an event) and each result
 * gets a snippet of its newest matching message or note, with the words marked, and that
 * entry's id (the console opens the conversation there).
 *
 * Notes are indexed like messages: every operator who may list a conversation may read its
 * notes (policy.ts), and only those get a result from the index.
 */
import { type ConvSummary, HarkError } from '@hark/shared';
import { getMeta, readEntriesBefore, summary } from '../store/conversations';
import type { Operator } from '../store/operators';
import type { EventOf } from '../store/events';
import { type QueryFilters, type ShardHit, SEARCH_SHARDS, entryById, indexTerms, indexTermsWithDoc, queryShard, readDoc, removeFromIndex, setDocField, writeDoc } from '../store/search';
import { listReplies } from '../store/replies';
import { listSites } from '../store/sites';
import { getVisitor } from '../store/visitors';
import type { Deps } from './deps';
import type { SideEffectConsumer } from './event-consumers';
import { canList, canRead, canSeeSite, isSupervisor } from './policy';
import { type Highlighted, type ParsedQuery, fold, matches, parseQuery, snippet, terms } from './search-text';

/** Longest query accepted (characters); a longer one is refused with SEARCH_QUERY_TOO_LONG. */
export const SEARCH_MAX_QUERY_CHARS = 500;
/** Most words in a query; more is refused with SEARCH_TOO_MANY_WORDS. */
export const SEARCH_MAX_WORDS = 8;
/** Results per page at most (the default is SEARCH_DEFAULT_LIMIT). */
export const SEARCH_MAX_LIMIT = 50;
export const SEARCH_DEFAULT_LIMIT = 20;
/** Entries of a result read at most (newest first) to find its snippet. */
export const SNIPPET_SCAN_ENTRIES = 500;
/** A visitor's profile is looked at again with their messages at most this often per conversation (ms). */
export const PROFILE_REFRESH_MS = 60_000;
/** Saved replies suggested at most for a visitor's message. */
export const SUGGEST_MAX = 3;
/** Entries read at most (newest first) to find the visitor's latest message. */
const SUGGEST_SCAN_ENTRIES = 50;
/** Sites one query covers at most (an admin of more names a site). */
export const SEARCH_MAX_SITES = 20;

export interface SearchQuery {
  q?: string;
  site?: string;
  status?: 'queued' | 'open' | 'resolved';
  operator?: string;
  team?: string;
  rating?: 'good' | 'bad';
  from?: number;
  to?: number;
  limit?: number;
}

export interface SearchResult {
  conv: ConvSummary;
  /** The entry to open the conversation at (the newest message or note with the words), if any. */
  entry?: string;
  /** What matched: a message's or note's text, or the visitor's profile, with the words marked. */
  snippet?: Highlighted & { kind: 'msg' | 'note' | 'profile' };
  /** How many of the query's words are in the visitor's profile (name, e-mail, ids, attributes); ranked on first, then recency. */
  relevance: number;
}

export interface SearchAnswer {
  results: SearchResult[];
  /** More matched than were examined or returned: narrow the query. */
  more: boolean;
  /** The words searched, folded (the last a prefix when `prefix`). */
  terms: string[];
  prefix: boolean;
}

function profileTerms(conv: string, v: { id: string; name?: string; email?: string; userId?: string; attrs: Record<string, unknown> } | null): string[] {
  const parts: string[] = [conv];
  if (v) {
    parts.push(v.id);
    if (v.name) parts.push(v.name);
    if (v.email) parts.push(v.email, v.email.replace(/@.*/, ''));
    if (v.userId) parts.push(v.userId);
    for (const val of Object.values(v.attrs)) if (typeof val === 'string' || typeof val === 'number') parts.push(String(val));
  }
  return terms(parts.join(' '));
}

/** A short signature of the profile's terms: re-index only when it changed. */
function signature(ts: string[]): string {
  let h = 0;
  for (const t of ts.join(' ')) h = (Math.imul(h, 31) + (t.codePointAt(0) ?? 0)) | 0;
  return `${ts.length}:${h >>> 0}`;
}

type Handled = EventOf<'conversation.created' | 'conversation.queued' | 'conversation.assigned' | 'conversation.transferred' | 'conversation.resolved' | 'conversation.reopened' | 'conversation.rated' | 'message.created' | 'note.created' | 'offline_message.created' | 'visitor.identified'>;

/** Two words match when equal or sharing a long prefix (a crude stem for en/hr/ru endings: lozinka/lozinku, заказ/заказа, refund/refunds). */
export function sameStem(a: string, b: string): boolean {
  if (a === b) return true;
  const min = Math.min(a.length, b.length);
  if (min < 4) return false;
  let k = 0;
  while (k < min && a[k] === b[k]) k++;
  return k >= Math.max(4, min - 2);
}

export interface Suggestion {
  id: string;
  shortcut: string;
  text: string;
  site?: string;
  score: number;
}

/**
 * Ranks saved replies for a visitor's message: each of the message's words found in a reply (its
 * text, or its shortcut counted twice) adds the word's weight, log(1 + N / (1 + replies having it)),
 * so rare words decide. Local only: no text leaves the gateway.
 */
export function rankReplies(message: string, replies: readonly { id: string; shortcut: string; text: string; site?: string }[], max = SUGGEST_MAX): Suggestion[] {
  const q = terms(message);
  if (q.length === 0) return [];
  const docs = replies.map((r) => ({ r, text: terms(r.text), short: terms(r.shortcut.replace(/[._-]/g, ' ')) }));
  const has = (d: (typeof docs)[0], t: string) => (d.short.some((x) => sameStem(x, t)) ? 2 : d.text.some((x) => sameStem(x, t)) ? 1 : 0);
  const idf = new Map(q.map((t) => [t, Math.log(1 + docs.length / (1 + docs.filter((d) => has(d, t) > 0).length))]));
  return docs
    .map((d) => ({ d, score: q.reduce((sum, t) => sum + has(d, t) * (idf.get(t) ?? 0), 0) }))
    .filter((x) => x.score > 0)
    .sort((a, b) => b.score - a.score || a.d.r.shortcut.localeCompare(b.d.r.shortcut))
    .slice(0, max)
    .map(({ d, score }) => ({ id: d.r.id, shortcut: d.r.shortcut, text: d.r.text, ...(d.r.site ? { site: d.r.site } : {}), score: Math.round(score * 1000) / 1000 }));
}

export class Search {
  constructor(private readonly d: Deps) {}

  consumer(): SideEffectConsumer {
    return {
      name: 'search-index',
      types: [
        'conversation.created',
        'conversation.queued',
        'conversation.assigned',
        'conversation.transferred',
        'conversation.resolved',
        'conversation.reopened',
        'conversation.rated',
        'message.created',
        'note.created',
        'offline_message.created',
        'visitor.identified',
      ],
      handle: async (e) => {
        await this.index(e as Handled);
      },
    };
  }

  /** Indexes one event (idempotent). Exposed for the bench and tests; the consumer calls it. */
  async index(e: Handled): Promise<void> {
    const r = this.d.c.cmd;
    if (!e.conv) return;
    if (e.type === 'message.created' || e.type === 'note.created' || e.type === 'offline_message.created') {
      // The entry still in the conversation says it was not erased (an erase deletes the entries first).
      const entry = await entryById(r, e.conv, e.entry);
      if (!entry) return;
      const extra = e.type === 'offline_message.created' ? ` ${e.email}` : '';
      const { profileAt } = await indexTermsWithDoc(r, e.site, e.conv, terms(`${entry.text ?? ''}${extra}`), entry.at, 0, e.entry);
      // The visitor's profile may have changed without an event (name, e-mail, attributes): looked at
      // again with their messages, at most every PROFILE_REFRESH_MS per conversation.
      const visitorSaid = (e.type === 'message.created' && e.by === 'visitor') || e.type === 'offline_message.created';
      if (!visitorSaid || entry.at - profileAt < PROFILE_REFRESH_MS) return;
    }
    const m = await getMeta(r, e.conv);
    // Gone (erased) or a tombstone: nothing to index; an erase removes what was.
    if (!m || m.visitor === '-') return;
    if (e.type.startsWith('conversation.')) {
      await writeDoc(r, m.site, m.id, { status: m.status, op: m.op, team: m.team, rating: m.rating, createdAt: m.createdAt });
      if (m.opName && m.op) await indexTerms(r, m.site, m.id, terms(`${m.opName} ${m.op}`), e.at, 0);
      if (e.type !== 'conversation.created' && e.type !== 'visitor.identified') return;
    }
    // The visitor's profile: (re-)indexed when it changed since the last time.
    const v = await getVisitor(r, m.visitor);
    const ts = profileTerms(m.id, v);
    const sig = signature(ts);
    const doc = await readDoc(r, m.site, m.id);
    await setDocField(r, m.site, m.id, 'pr', String(Math.floor(e.at)));
    if (doc?.vs === sig) return;
    if (!doc?.st) await writeDoc(r, m.site, m.id, { status: m.status, op: m.op, team: m.team, rating: m.rating, createdAt: m.createdAt });
    await indexTerms(r, m.site, m.id, ts, e.at, 1);
    await setDocField(r, m.site, m.id, 'vs', sig);
  }

  /**
   * Up to SUGGEST_MAX saved replies (the operator's own and the conversation's site's) for the
   * visitor's latest message in a conversation the operator may read.
   */
  async suggest(me: Operator, conv: string): Promise<{ message: string | null; replies: Suggestion[] }> {
    const r = this.d.c.cmd;
    const m = await getMeta(r, conv);
    if (!m || m.visitor === '-' || !canRead(me, m)) throw new HarkError('CONVERSATION_NOT_FOUND');
    const { entries } = await readEntriesBefore(r, conv, '', SUGGEST_SCAN_ENTRIES);
    const last = [...entries].reverse().find((e) => e.kind === 'msg' && e.from === 'visitor' && e.text);
    if (!last?.text) return { message: null, replies: [] };
    const candidates = [...(await listReplies(r, { owner: me.id })), ...(await listReplies(r, { site: m.site })).map((x) => ({ ...x, site: m.site }))];
    return { message: last.id, replies: rankReplies(last.text, candidates) };
  }

  /** Takes a conversation out of the index (privacy.ts calls it on erase). */
  remove(site: string, conv: string): Promise<number> {
    return removeFromIndex(this.d.c.cmd, site, conv);
  }

  async search(me: Operator, q: SearchQuery): Promise<SearchAnswer> {
    const r = this.d.c.cmd;
    const text = q.q ?? '';
    if (text.length > SEARCH_MAX_QUERY_CHARS) throw new HarkError('SEARCH_QUERY_TOO_LONG');
    const parsed: ParsedQuery = parseQuery(text);
    if (parsed.terms.length > SEARCH_MAX_WORDS) throw new HarkError('SEARCH_TOO_MANY_WORDS');
    if ((q.from !== undefined && !Number.isFinite(q.from)) || (q.to !== undefined && !Number.isFinite(q.to)) || (q.from !== undefined && q.to !== undefined && q.from >= q.to)) {
      throw new HarkError('SEARCH_BAD_RANGE');
    }
    const limit = Math.max(1, Math.min(SEARCH_MAX_LIMIT, Math.floor(q.limit ?? SEARCH_DEFAULT_LIMIT)));
    const sites = (await listSites(r)).map((s) => s.id).filter((s) => canSeeSite(me, s) && (!q.site || q.site === s));
    if (sites.length > SEARCH_MAX_SITES) throw new HarkError('BAD_REQUEST', `This query covers more than ${SEARCH_MAX_SITES} sites; choose a site.`);
    const filters: QueryFilters = { status: q.status, op: q.operator, team: q.team, rating: q.rating, from: q.from, to: q.to };
    const supervisor = isSupervisor(me);
    const jobs: Promise<{ site: string; hits: ShardHit[]; more: boolean }>[] = [];
    for (const site of sites) {
      for (let n = 0; n < SEARCH_SHARDS; n++) {
        jobs.push(queryShard(r, site, n, { terms: parsed.terms, prefix: parsed.prefix, limit, me: me.id, supervisor, filters }).then((x) => ({ site, ...x })));
      }
    }
    const answers = await Promise.all(jobs);
    let more = answers.some((a) => a.more);
    const hits = answers.flatMap((a) => a.hits);
    hits.sort((a, b) => b.tier - a.tier || b.last - a.last || (a.conv < b.conv ? -1 : 1));
    if (hits.length > limit) more = true;
    const page = hits.slice(0, limit);
    const results = await Promise.all(page.map((h) => this.result(me, h, parsed)));
    return { results: results.filter((x): x is SearchResult => x !== null), more, terms: parsed.terms, prefix: parsed.prefix };
  }

  private async result(me: Operator, h: ShardHit, q: ParsedQuery): Promise<SearchResult | null> {
    const r = this.d.c.cmd;
    const m = await getMeta(r, h.conv);
    // The record decides (the index may lag by an event): gone, erased or not this operator's to list.
    if (!m || m.visitor === '-' || !canList(me, m)) return null;
    const conv = await summary(r, m);
    const out: SearchResult = { conv, relevance: h.tier };
    if (q.terms.length === 0) return out;
    const { entries } = await readEntriesBefore(r, m.id, '', SNIPPET_SCAN_ENTRIES);
    let best: { id: string; kind: 'msg' | 'note'; text: string; found: number } | null = null;
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i];
      if (!e || (e.kind !== 'msg' && e.kind !== 'note') || !e.text) continue;
      const { found } = matches(e.text, q);
      if (found > (best?.found ?? 0)) best = { id: e.id, kind: e.kind, text: e.text, found };
      if (found === q.terms.length) break;
    }
    if (best) {
      out.entry = best.id;
      out.snippet = { kind: best.kind, ...snippet(best.text, q) };
    } else {
      const v = conv.visitor;
      const profile = [v.name, v.email, v.userId, v.id, ...Object.values(v.attrs).map(String)].filter(Boolean).join(' · ');
      if (fold(profile) && matches(profile, q).found > 0) out.snippet = { kind: 'profile', ...snippet(profile, q) };
    }
    return out;
  }
}
