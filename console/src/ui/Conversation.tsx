import { compareStreamIds } from '@hark/shared/ids';
import type { ConvSummary, Entry } from '@hark/shared/protocol';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { actions, t, thresholdFor, useApp, fmtLocale } from '../app';
import { canSupervise, isOverdue } from '../inbox';
import { timeOfDay } from '../format';
import { visitorLabel } from '../state';
import { Composer } from './Composer';
import { Files } from './Files';
import { Linkify } from './Linkify';
import { ConvMail } from './ConvMail';
import { Transfer } from './Transfer';
import { useNow } from './useNow';

function EventLine({ e }: { e: Entry }) {
  // A join names the supervisor in `op` (the gateway) or `to` (the protocol note); accept both.
  const who = (e.event === 'joined' ? (e.to ?? e.op) : e.op)?.name ?? '';
  const to = e.to?.name ?? e.team ?? '';
  let text: string;
  switch (e.event) {
    case 'rated':
      text = t(e.rating === 'good' ? 'event.ratedGood' : 'event.ratedBad') + (e.comment ? `: “${e.comment}”` : '');
      break;
    case 'offline-message':
      text = t('event.offline-message', { email: e.email ?? '' });
      break;
    default:
      text = t(`event.${e.event ?? 'created'}`, { who, to });
  }
  return (
    <li class={`entry event event-${e.event}`} data-id={e.id}>
      <span>{text}</span> <time>{timeOfDay(e.at, fmtLocale())}</time>
    </li>
  );
}

function EntryItem({ e, seen }: { e: Entry; seen: boolean }) {
  if (e.kind === 'event') return <EventLine e={e} />;
  if (e.kind === 'note')
    return (
      <li class="entry note" data-id={e.id} data-kind="note">
        <div class="note-head">
          <span class="note-tag">{t('conv.noteTag')}</span> {e.op?.name} · <time>{timeOfDay(e.at, fmtLocale())}</time>
        </div>
        {e.text && (
          <div class="text">
            <Linkify text={e.text} />
          </div>
        )}
        <Files conv={e.conv} files={e.files} />
      </li>
    );
  const mine = e.from === 'operator';
  return (
    <li class={`entry msg ${mine ? 'out' : 'in'}`} data-id={e.id} data-kind="msg">
      <div class="bubble">
        {e.text && (
          <div class="text">
            <Linkify text={e.text} />
          </div>
        )}
        <Files conv={e.conv} files={e.files} />
        <div class="meta">
          {mine && e.op?.name ? `${e.op.name} · ` : ''}
          <time>{timeOfDay(e.at, fmtLocale())}</time>
          {seen && <span class="seen"> · {t('conv.seen')}</span>}
        </div>
      </div>
    </li>
  );
}

export function Conversation({ conv }: { conv: ConvSummary }) {
  const s = useApp();
  const now = useNow();
  const [transfer, setTransfer] = useState(false);
  const list = s.rt.entries[conv.id] ?? [];
  const me = s.rt.me;
  const supervisor = canSupervise(me?.role);
  const mine = conv.operator?.id === me?.id;
  const joined = list.some((e) => e.event === 'joined' && (e.to ?? e.op)?.id === me?.id);
  const canWrite = conv.status === 'open' && (mine || joined);
  const overdue = isOverdue(conv, thresholdFor(conv), now);
  const typing = s.rt.typing[conv.id];
  const seenId = s.rt.seenByVisitor[conv.id];
  // The seen marker goes under the last operator message the visitor has seen.
  let seenAt: string | null = null;
  if (seenId) for (const e of list) if (e.kind === 'msg' && e.from === 'operator' && compareStreamIds(e.id, seenId) <= 0) seenAt = e.id;
  const stored = new Set(list.map((e) => e.cid).filter(Boolean));
  const pending = actions.pending(conv.id).filter((p) => !stored.has(p.cid));
  const scroller = useRef<HTMLOListElement>(null);
  const first = list[0]?.id;
  const shown = useRef<{ conv: string; first: string | undefined; height: number }>({ conv: '', first: undefined, height: 0 });
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const was = shown.current;
    // Earlier entries went in on top: stay where the operator was reading. Anything else: the newest.
    if (was.conv === conv.id && was.first && first && compareStreamIds(first, was.first) < 0) el.scrollTop += el.scrollHeight - was.height;
    else el.scrollTop = el.scrollHeight;
    shown.current = { conv: conv.id, first, height: el.scrollHeight };
  }, [list.length, pending.length, conv.id]);
  useEffect(() => setTransfer(false), [conv.id]);
  // A search hit opened here: scroll to its entry once it is shown (loading earlier pages until it is).
  const jump = s.jump?.conv === conv.id ? s.jump.entry : null;
  useLayoutEffect(() => {
    if (!jump) return;
    const el = scroller.current?.querySelector<HTMLElement>(`[data-id="${CSS.escape(jump)}"]`);
    if (el) {
      el.scrollIntoView({ block: 'center' });
      el.classList.add('jumped');
      actions.jumped();
    } else if (s.rt.loaded[conv.id] && s.rt.more[conv.id]) actions.loadEarlier(conv.id);
    else if (s.rt.loaded[conv.id]) actions.jumped();
  }, [jump, list.length, conv.id, s.rt.loaded[conv.id]]);

  return (
    <section class="conversation" aria-label={t('conv.title')} data-conv={conv.id}>
      <div class="conv-head">
        <button type="button" class="back" aria-label={t('conv.back')} title={t('conv.back')} onClick={() => actions.back()}>
          ←
        </button>
        <div class="conv-title">
          <h2>{visitorLabel(conv.visitor, s.lang)}</h2>
          <span class={`pill status-${conv.status}`}>{t(`convStatus.${conv.status}`)}</span>
          {conv.operator && <span class="hint"> · {conv.operator.name}</span>}
          {conv.team && <span class="hint"> · {s.teams.find((x) => x.id === conv.team)?.name ?? conv.team}</span>}
          {overdue && <span class="pill overdue">{t('inbox.unanswered')}</span>}
          {conv.offline && <span class="pill offline-msg">{t('conv.offlineMessage')}</span>}
          {s.watching[conv.id] && <span class="pill watching">{t('conv.watching')}</span>}
        </div>
        <div class="conv-actions">
          <button type="button" class="details-btn" aria-label={t('conv.details')} title={t('conv.details')} onClick={() => actions.details(true)}>
            i
          </button>
          {conv.status === 'queued' && (
            <button type="button" class="primary" onClick={() => actions.take(conv.id)}>
              {t('action.take')}
            </button>
          )}
          {conv.status === 'open' && supervisor && !mine && !joined && (
            <>
              <button type="button" onClick={() => actions.watch(conv.id, !s.watching[conv.id])}>
                {s.watching[conv.id] ? t('action.unwatch') : t('action.watch')}
              </button>
              <button type="button" onClick={() => actions.join(conv.id)}>
                {t('action.join')}
              </button>
            </>
          )}
          {conv.status !== 'resolved' && (mine || supervisor) && (
            <button type="button" onClick={() => setTransfer(!transfer)}>
              {t('action.transfer')}
            </button>
          )}
          {conv.status === 'open' && (mine || supervisor || joined) && (
            <button type="button" onClick={() => actions.resolve(conv.id)}>
              {t('action.resolve')}
            </button>
          )}
          {conv.status === 'resolved' && (
            <button type="button" onClick={() => actions.reopen(conv.id)}>
              {t('action.reopen')}
            </button>
          )}
        </div>
      </div>
      {transfer && <Transfer conv={conv} onDone={() => setTransfer(false)} />}
      <ConvMail conv={conv} />
      {conv.rating && (
        <div class={`rating rating-${conv.rating}`} data-testid="rating">
          {t(conv.rating === 'good' ? 'event.ratedGood' : 'event.ratedBad')}
          {conv.ratingComment ? `: “${conv.ratingComment}”` : ''}
        </div>
      )}
      <ol class="entries" ref={scroller}>
        {!s.rt.loaded[conv.id] && <li class="hint">{t('app.loading')}</li>}
        {s.rt.more[conv.id] && (
          <li class="earlier">
            <button type="button" onClick={() => actions.loadEarlier(conv.id)}>
              {t('conv.earlier')}
            </button>
          </li>
        )}
        {list.map((e) => (
          <EntryItem key={e.id} e={e} seen={e.id === seenAt} />
        ))}
        {pending.map((p) => (
          <li key={p.cid} class={`entry pending ${p.type === 'note' ? 'note' : 'msg out'}`}>
            <div class="bubble">
              {p.text && (
                <div class="text">
                  <Linkify text={p.text} />
                </div>
              )}
              {p.files?.length ? <div class="hint">{t('composer.files', { n: p.files.length })}</div> : null}
              <div class="meta">{t('conv.sending')}</div>
            </div>
          </li>
        ))}
      </ol>
      <div class="typing" aria-live="polite">
        {typing?.on && now - typing.at < 30_000 && (
          <span data-testid="typing">
            {t('conv.typing', { name: visitorLabel(conv.visitor, s.lang) })}
            {typing.preview ? `: ${typing.preview}` : ''}
          </span>
        )}
      </div>
      <Composer conv={conv} canWrite={canWrite} />
    </section>
  );
}
