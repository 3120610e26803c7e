import type { ConvSummary, Entry } from '@hark/shared/protocol';
import { useState } from 'preact/hooks';
import { actions, getState, t, thresholdFor, useApp, fmtLocale } from '../app';
import { clock, timeOfDay } from '../format';
import { isOverdue, listView, unreadCounts, viewsFor } from '../inbox';
import { visitorLabel } from '../state';
import { useNow } from './useNow';

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

export function Inbox() {
  const s = useApp();
  const now = useNow();
  const [q, setQ] = useState(s.resolvedQuery);
  const me = s.rt.me;
  const views = viewsFor(me);
  const counts = unreadCounts(s.rt.convs, s.rt.unread, me);
  const list = listView(s.rt.convs, s.view, me);
  return (
    <aside class="inbox">
      <div class="views" role="tablist">
        {views.map((v) => (
          <button key={v} type="button" role="tab" class={s.view === v ? 'tab active' : 'tab'} aria-selected={s.view === v} data-view={v} onClick={() => actions.setView(v)}>
            {t(`view.${v}`)}
            {counts[v] > 0 && v !== 'resolved' && <span class="count">{counts[v]}</span>}
          </button>
        ))}
      </div>
      {s.view === 'resolved' && (
        <form
          class="search"
          onSubmit={(e) => {
            e.preventDefault();
            void actions.searchResolved(q.trim());
          }}
        >
          <input type="search" placeholder={t('inbox.search')} aria-label={t('inbox.search')} value={q} onInput={(e) => setQ(e.currentTarget.value)} />
          <button type="submit" class="small">
            {t('action.search')}
          </button>
        </form>
      )}
      <ul class="conv-list" aria-label={t(`view.${s.view}`)}>
        {list.map((c) => (
          <Row key={c.id} c={c} selected={c.id === s.selected} unread={s.rt.unread[c.id] ?? 0} now={now} last={lastWords(c, s.rt.entries[c.id])} />
        ))}
      </ul>
      {list.length === 0 && <p class="hint pad">{t(`inbox.empty.${s.view}`)}</p>}
    </aside>
  );
}
