import type { ConvSummary, Entry } from '@hark/shared/protocol';
import { useRef, useState } from 'preact/hooks';
import { actions, fmtLocale, getState, t, thresholdFor, useApp } from '../app';
import { clock, dateTime, timeOfDay } from '../format';
import { SEARCH_DEBOUNCE_MS, SEARCH_MAX_QUERY_CHARS, type SearchFilters, type SearchHit, dayStartMs, dayValue, segments } from '../search';
import { isOverdue, listView, unreadCounts, viewsFor } from '../inbox';
import { visitorLabel } from '../state';
import { useNow } from './useNow';
import { EmptyState } from './Empty';

/** The last message or note: `last` of a summary is often an event (assigned, transferred). */
function lastWords(c: ConvSummary, entries: Entry[] | undefined): Entry | undefined {
  if (entries) for (let i = entries.length - 1; i >= 0; i--) if (entries[i]?.kind !== 'event') return entries[i];
  return c.last?.kind === 'event' ? undefined : c.last;
}

function Row({ c, selected, unread, now, last }: { c: ConvSummary; selected: boolean; unread: number; now: number; last: Entry | undefined }) {
  const overdue = isOverdue(c, thresholdFor(c), now);
  const waitFrom = c.status === 'queued' ? (c.queuedAt ?? c.createdAt) : c.waitingSince;
  const cls = ['conv-row', selected && 'selected', overdue && 'overdue', unread > 0 && 'unread'].filter(Boolean).join(' ');
  const preview = last?.text ?? '';
  return (
    <li>
      <button type="button" class={cls} data-conv={c.id} data-status={c.status} aria-current={selected ? 'true' : undefined} onClick={() => actions.select(c.id)}>
        <span class="row-top">
          <span class="row-name">
            {visitorLabel(c.visitor, getState().lang)}
            {c.visitor.verified && <span class="badge verified">✓</span>}
          </span>
          {waitFrom !== undefined && c.status !== 'resolved' ? (
            <span class={overdue ? 'wait overdue' : 'wait'} title={t('inbox.waiting')} data-testid="wait">
              {overdue && <span class="flag">{t('inbox.unanswered')} </span>}
              {c.offline && <span class="flag offline-msg">{t('conv.offlineMessage')} </span>}
              {clock(now - waitFrom)}
            </span>
          ) : (
            c.last && <span class="row-time">{timeOfDay(c.last.at, fmtLocale())}</span>
          )}
        </span>
        <span class="row-bottom">
          <span class="row-preview">{last?.kind === 'note' ? `${t('composer.note')}: ${preview}` : preview}</span>
          {unread > 0 && (
            <span class="count" data-testid="unread">
              {unread}
            </span>
          )}
        </span>
        {c.operator && c.status !== 'queued' && <span class="row-op">{c.operator.name}</span>}
      </button>
    </li>
  );
}

/** One search hit: who, when, and the words that matched, marked; opening it jumps to that message. */
function Hit({ h, selected }: { h: SearchHit; selected: boolean }) {
  const c = h.conv;
  const sn = h.snippet;
  return (
    <li>
      <button type="button" class={selected ? 'conv-row hit selected' : 'conv-row hit'} data-conv={c.id} data-entry={h.entry} onClick={() => actions.openHit(h)}>
        <span class="row-top">
          <span class="row-name">{visitorLabel(c.visitor, getState().lang)}</span>
          <span class="row-time">{dateTime(c.last?.at ?? c.createdAt, fmtLocale())}</span>
        </span>
        {sn && (
          <span class={`row-preview snippet snippet-${sn.kind}`}>
            {sn.kind === 'note' && `${t('composer.note')}: `}
            {segments(sn.text, sn.marks).map((p, i) => (p.mark ? <mark key={i}>{p.text}</mark> : p.text))}
          </span>
        )}
        <span class="row-op">
          {t(`convStatus.${c.status}`)}
          {c.operator ? ` · ${c.operator.name}` : ''}
        </span>
      </button>
    </li>
  );
}

function SearchBox() {
  const s = useApp();
  const [q, setQ] = useState(s.search.q);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const f = s.search.filters;
  const filter = (patch: Partial<SearchFilters>) => void actions.search(q, { ...f, ...patch });
  const run = (v: string, wait: number) => {
    clearTimeout(timer.current);
    timer.current = setTimeout(() => void actions.search(v), wait);
  };
  return (
    <div class="search-box">
      <form
        class="search"
        onSubmit={(e) => {
          e.preventDefault();
          run(q, 0);
        }}
      >
        <input
          type="search"
          maxLength={SEARCH_MAX_QUERY_CHARS}
          placeholder={t('search.placeholder')}
          aria-label={t('search.placeholder')}
          value={q}
          onInput={(e) => {
            setQ(e.currentTarget.value);
            run(e.currentTarget.value, SEARCH_DEBOUNCE_MS);
          }}
          onKeyDown={(e) => {
            if (e.key === 'Escape' && q) {
              e.stopPropagation();
              setQ('');
              run('', 0);
            }
          }}
        />
      </form>
      {(q || s.search.answer) && (
        <div class="search-filters">
          <select aria-label={t('search.status')} value={f.status ?? ''} onChange={(e) => filter({ status: (e.currentTarget.value || undefined) as SearchFilters['status'] })}>
            <option value="">{t('search.anyStatus')}</option>
            <option value="queued">{t('convStatus.queued')}</option>
            <option value="open">{t('convStatus.open')}</option>
            <option value="resolved">{t('convStatus.resolved')}</option>
          </select>
          <select aria-label={t('search.rating')} value={f.rating ?? ''} onChange={(e) => filter({ rating: (e.currentTarget.value || undefined) as SearchFilters['rating'] })}>
            <option value="">{t('search.anyRating')}</option>
            <option value="good">{t('event.ratedGood')}</option>
            <option value="bad">{t('event.ratedBad')}</option>
          </select>
          {s.sites.length > 1 && (
            <select aria-label={t('search.site')} value={f.site ?? ''} onChange={(e) => filter({ site: e.currentTarget.value || undefined })}>
              <option value="">{t('search.anySite')}</option>
              {s.sites.map((x) => (
                <option key={x.id} value={x.id}>
                  {x.name}
                </option>
              ))}
            </select>
          )}
          {s.operators.length > 1 && (
            <select aria-label={t('search.operator')} value={f.operator ?? ''} onChange={(e) => filter({ operator: e.currentTarget.value || undefined })}>
              <option value="">{t('search.anyOperator')}</option>
              {s.operators.map((o) => (
                <option key={o.id} value={o.id}>
                  {o.name}
                </option>
              ))}
            </select>
          )}
          {s.teams.length > 0 && (
            <select aria-label={t('search.team')} value={f.team ?? ''} onChange={(e) => filter({ team: e.currentTarget.value || undefined })}>
              <option value="">{t('search.anyTeam')}</option>
              {s.teams.map((x) => (
                <option key={x.id} value={x.id}>
                  {x.name}
                </option>
              ))}
            </select>
          )}
          <label class="search-date">
            {t('search.from')}
            <input type="date" value={dayValue(f.from)} max={dayValue(f.to, true) || undefined} onChange={(e) => filter({ from: dayStartMs(e.currentTarget.value) })} />
          </label>
          <label class="search-date">
            {t('search.to')}
            <input type="date" value={dayValue(f.to, true)} min={dayValue(f.from) || undefined} onChange={(e) => filter({ to: dayStartMs(e.currentTarget.value, true) })} />
          </label>
        </div>
      )}
    </div>
  );
}

export function Inbox() {
  const s = useApp();
  const now = useNow();
  const me = s.rt.me;
  const views = viewsFor(me);
  const counts = unreadCounts(s.rt.convs, s.rt.unread, me);
  const list = listView(s.rt.convs, s.view, me);
  const found = s.search.answer;
  if (found || s.search.busy || s.search.error) {
    return (
      <aside class="inbox">
        <SearchBox />
        {s.search.error && <p class="error pad">{t('search.error', { code: s.search.error })}</p>}
        {found && (
          <ul class="conv-list search-results" aria-label={t('search.results')} aria-busy={s.search.busy}>
            {found.results.map((h) => (
              <Hit key={h.conv.id} h={h} selected={h.conv.id === s.selected} />
            ))}
          </ul>
        )}
        {found && found.results.length === 0 && !s.search.busy && (
          <EmptyState icon="🔍" title={t('search.none')} testId="search-empty">
            {t('search.noneHint')}
          </EmptyState>
        )}
        {found?.more && <p class="hint pad">{t('search.more')}</p>}
      </aside>
    );
  }
  return (
    <aside class="inbox">
      <SearchBox />
      <div class="views" role="tablist">
        {views.map((v) => (
          <button key={v} type="button" role="tab" class={s.view === v ? 'tab active' : 'tab'} aria-selected={s.view === v} data-view={v} onClick={() => actions.setView(v)}>
            {t(`view.${v}`)}
            {counts[v] > 0 && v !== 'resolved' && <span class="count">{counts[v]}</span>}
          </button>
        ))}
      </div>
      <ul class="conv-list" aria-label={t(`view.${s.view}`)}>
        {list.map((c) => (
          <Row key={c.id} c={c} selected={c.id === s.selected} unread={s.rt.unread[c.id] ?? 0} now={now} last={lastWords(c, s.rt.entries[c.id])} />
        ))}
      </ul>
      {list.length === 0 && (
        <EmptyState icon={s.view === 'resolved' ? '✓' : '☕'} title={t(`inbox.empty.${s.view}`)} testId="inbox-empty">
          {t(`inbox.emptyHint.${s.view}`)}
        </EmptyState>
      )}
    </aside>
  );
}
