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
import { getMeta, readEntries, readEntriesBefore, summary } from '../store/conversations';
import { type Operator, listOperators } from '../store/operators';
import type { EventOf } from '../store/events';
import { BACKFILL_KEY, type QueryFilters, type ShardHit, SEARCH_SHARDS, entryById, indexTerms, indexTermsWithDoc, queryShard, readDoc, removeFromIndex, setDocField, writeDoc } from '../store/search';
import { K } from '../store/keys';
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
/** Words of the visitor's message (its longest) looked up in the index for past answers. */
export const SUGGEST_QUERY_WORDS = 3;
/** Past conversations read at most for answers to suggest (the newest the index finds). */
export const SUGGEST_PAST_CONVS = 12;
/** Entries of a past conversation read at most (oldest first) for its questions and answers. */
export const SUGGEST_PAST_ENTRIES = 200;
/** Entries read at most (newest first) to find the visitor's latest message. */
const SUGGEST_SCAN_ENTRIES = 50;
/** Conversations the backfill indexes per step (one step per tick of the search-backfill job). */
export const BACKFILL_BATCH = 50;
/** Entries of one conversation the backfill reads at most (oldest first), in pages of BACKFILL_ENTRY_PAGE. */
export const BACKFILL_MAX_ENTRIES = 10_000;
const BACKFILL_ENTRY_PAGE = 500;
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
  /** A saved reply's shortcut; '' for a past answer. */
  shortcut: string;
  text: string;
  site?: string;
  score: number;
  /** `saved`: a saved reply; `past`: what the operator or a teammate answered to a similar question (`conv`: where). */
  kind: 'saved' | 'past';
  conv?: string;
}

/** A candidate for rankReplies: a saved reply, or a past answer (`match`: the question it answered, with the answer). */
export interface ReplyCandidate {
  id: string;
  shortcut: string;
  text: string;
  site?: string;
  /** Matched instead of `text` when set. */
  match?: string;
  kind?: 'saved' | 'past';
  conv?: string;
}

/**
 * Ranks saved replies and past answers for a visitor's message: each of the message's words (but
 * SUGGEST_STOPWORDS) found in a candidate (a reply's text, or its shortcut counted twice; a past
 * answer's question) adds the word's weight, log(1 + N / (1 + candidates having it)), so rare
 * words decide; a saved reply before a past answer on a tie; the same text once. Local only: no
 * text leaves the gateway.
 */
/**
 * Words too common in chat to say what a message is about (en, hr, ru; folded as terms are), left
 * out of a message's words when replies are ranked for it (search itself keeps them).
 */
export const SUGGEST_STOPWORDS: ReadonlySet<string> = new Set(
  (
    'a an the i you we they he she it my your our me us is are was be been do does did can could will would to of in on at for and or but not no yes this that with from as by so if am have has please ' +
    'i u na je sam si smo ste su se da li ne za od do mi vi ja ti on ona to ovo moj moja moje vas vam me te kako sto ' +
    'и в на я вы мы он она оно они не что это как мне вам у с по за из к о а но ли да нет же ну мой моя ваш'
  )
    .split(' ')
    .map((w) => fold(w)),
);

export function rankReplies(message: string, replies: readonly ReplyCandidate[], max = SUGGEST_MAX): Suggestion[] {
  const q = [...new Set(terms(message))].filter((t) => !SUGGEST_STOPWORDS.has(t));
  if (q.length === 0) return [];
  const docs = replies.map((r) => ({ r, text: terms(r.match ?? r.text), short: terms(r.shortcut.replace(/[._-]/g, ' ')) }));
  const has = (d: (typeof docs)[0], t: string) => (d.short.some((x) => sameStem(x, t)) ? 2 : d.text.some((x) => sameStem(x, t)) ? 1 : 0);
  const idf = new Map(q.map((t) => [t, Math.log(1 + docs.length / (1 + docs.filter((d) => has(d, t) > 0).length))]));
  return docs
    .map((d) => ({ d, score: q.reduce((sum, t) => sum + has(d, t) * (idf.get(t) ?? 0), 0) }))
    .filter((x) => x.score > 0)
    // Ties: a saved reply before a past answer, then by shortcut.
    .sort((a, b) => b.score - a.score || Number(a.d.r.kind === 'past') - Number(b.d.r.kind === 'past') || a.d.r.shortcut.localeCompare(b.d.r.shortcut))
    .filter(({ d }, i, all) => all.findIndex((x) => x.d.r.text === d.r.text) === i)
    .slice(0, max)
    .map(({ d, score }) => ({
      id: d.r.id,
      shortcut: d.r.shortcut,
      text: d.r.text,
      ...(d.r.site ? { site: d.r.site } : {}),
      score: Math.round(score * 1000) / 1000,
      kind: d.r.kind ?? 'saved',
      ...(d.r.conv ? { conv: d.r.conv } : {}),
    }));
}

export class Search {
  constructor(private readonly d: Deps) {}

  consumer(): SideEffectConsumer {
    return {
      name: 'search-index',
      // Every write is idempotent (see above): handled a read at a time, conversations at once (event-consumers.ts).
      batch: true,
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
    const candidates: ReplyCandidate[] = [...(await listReplies(r, { owner: me.id })), ...(await listReplies(r, { site: m.site })).map((x) => ({ ...x, site: m.site }))];
    candidates.push(...(await this.pastAnswers(me, m.site, conv, last.text)));
    return { message: last.id, replies: rankReplies(last.text, candidates) };
  }

  /**
   * What the operator and their teammates answered before to questions like `text`, on the site:
   * the conversations the index finds for each of the question's SUGGEST_QUERY_WORDS longest words
   * (the rarer ones, mostly), newest first, of which those assigned to the operator or a teammate
   * (an operator without a team: their own), at most SUGGEST_PAST_CONVS; in each, every operator
   * message with the visitor's messages just before it as its question. Only conversations the
   * index names are read, a bounded number of entries each.
   */
  private async pastAnswers(me: Operator, site: string, current: string, text: string): Promise<ReplyCandidate[]> {
    const r = this.d.c.cmd;
    const words = [...new Set(terms(text))].filter((w) => w.length >= 3 && !SUGGEST_STOPWORDS.has(w)).sort((a, b) => b.length - a.length || (a < b ? -1 : 1)).slice(0, SUGGEST_QUERY_WORDS);
    if (words.length === 0) return [];
    const hits = new Map<string, number>();
    await Promise.all(
      words.flatMap((w) =>
        Array.from({ length: SEARCH_SHARDS }, async (_, n) => {
          const got = await queryShard(r, site, n, { terms: [w], prefix: false, limit: SUGGEST_PAST_CONVS, me: me.id, supervisor: true, filters: {} });
          for (const h of got.hits) if (h.conv !== current) hits.set(h.conv, Math.max(hits.get(h.conv) ?? 0, h.last));
        }),
      ),
    );
    const mates = new Set([me.id, ...(await listOperators(r)).filter((o) => o.teams.some((t) => me.teams.includes(t))).map((o) => o.id)]);
    const out: ReplyCandidate[] = [];
    let convs = 0;
    for (const [id] of [...hits].sort((a, b) => b[1] - a[1])) {
      if (convs >= SUGGEST_PAST_CONVS) break;
      const m = await getMeta(r, id);
      if (!m || m.visitor === '-' || m.site !== site || !m.op || !mates.has(m.op)) continue;
      convs++;
      const entries = await readEntries(r, id, '', SUGGEST_PAST_ENTRIES);
      let question: string[] = [];
      for (const e of entries) {
        if (e.kind !== 'msg' || !e.text) continue;
        if (e.from === 'visitor') {
          question.push(e.text);
        } else if (e.from === 'operator' && question.length) {
          out.push({ id: `past:${id}:${e.id}`, shortcut: '', text: e.text, match: question.join(' '), kind: 'past', conv: id });
          question = [];
        }
      }
    }
    return out;
  }

  /**
   * One step of the backfill (conversations written before the index existed; migrations.ts
   * search-backfill lists every site's open and resolved sets in BACKFILL_KEY): up to `max`
   * conversations of one set, from its cursor, each indexed whole (its profile, filter fields,
   * operator, and every message and note). Idempotent: the index's writes are set writes that
   * only raise scores, and entries go in without the per-entry `up` mark, so a conversation the
   * consumer has indexed since is not held back by it. Open sets go first: a conversation
   * resolved while the backfill runs moves to the end of its resolved set, still ahead of the
   * cursor. `pending`: sets left after this step (0: done, the key is gone).
   */
  async backfill(max = BACKFILL_BATCH): Promise<{ indexed: number; pending: number }> {
    const r = this.d.c.cmd;
    const todo = await r.hgetall(BACKFILL_KEY);
    const fields = Object.keys(todo).sort((a, b) => Number(b.endsWith('|open')) - Number(a.endsWith('|open')) || (a < b ? -1 : 1));
    const field = fields[0];
    if (field === undefined) return { indexed: 0, pending: 0 };
    const cut = field.lastIndexOf('|');
    const site = field.slice(0, cut);
    const key = field.slice(cut + 1) === 'open' ? K.siteOpen(site) : K.siteResolved(site);
    const [s0 = '-inf', c0 = '0'] = (todo[field] || '-inf:0').split(':');
    const rows = await r.zrangebyscore(key, s0, '+inf', 'WITHSCORES', 'LIMIT', Number(c0), max);
    let indexed = 0;
    let score = s0;
    let count = Number(c0);
    for (let i = 0; i + 1 < rows.length; i += 2) {
      const conv = rows[i] as string;
      const at = rows[i + 1] as string;
      if (await this.indexWhole(conv)) indexed++;
      if (at === score) count++;
      else {
        score = at;
        count = 1;
      }
    }
    if (rows.length / 2 < max) {
      await r.hdel(BACKFILL_KEY, field);
      return { indexed, pending: fields.length - 1 };
    }
    await r.hset(BACKFILL_KEY, field, `${score}:${count}`);
    return { indexed, pending: fields.length };
  }

  /** Indexes a conversation whole, as its events would have (backfill). False when it is gone. */
  private async indexWhole(conv: string): Promise<boolean> {
    const r = this.d.c.cmd;
    const m = await getMeta(r, conv);
    if (!m || m.visitor === '-') return false;
    // The profile, filter fields and operator, as its creation would.
    await this.index({ id: `backfill:${conv}`, type: 'conversation.created', at: m.createdAt, site: m.site, conv, visitor: m.visitor } as Handled);
    let after = '';
    for (let read = 0; read < BACKFILL_MAX_ENTRIES; ) {
      const page = await readEntries(r, conv, after, Math.min(BACKFILL_ENTRY_PAGE, BACKFILL_MAX_ENTRIES - read));
      for (const e of page) {
        if ((e.kind === 'msg' || e.kind === 'note') && e.text) await indexTerms(r, m.site, conv, terms(e.text), e.at, 0);
      }
      read += page.length;
      const last = page[page.length - 1];
      if (!last || page.length < BACKFILL_ENTRY_PAGE) break;
      after = last.id;
    }
    // Erased meanwhile: take out what this wrote.
    const still = await getMeta(r, conv);
    if (!still || still.visitor === '-') {
      await removeFromIndex(r, m.site, conv);
      return false;
    }
    return true;
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
