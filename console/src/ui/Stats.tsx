import { useEffect, useState } from 'preact/hooks';
import { t, useApp, fmtLocale } from '../app';
import { api, type DayStats, type OperatorStats } from '../api';
import { dateTime, duration } from '../format';
import { canSupervise } from '../inbox';
import { errorText } from './Login';

function Figures({ d }: { d: DayStats }) {
  return (
    <>
      <td data-stat="handled">{d.handled}</td>
      <td data-stat="frt">{duration(d.medianFirstResponseMs)}</td>
      <td data-stat="resolution">{duration(d.medianResolutionMs)}</td>
      <td data-stat="ratings">
        <span class="good">
          {t('rating.good')} {d.good}
        </span>{' '}
        <span class="bad">
          {t('rating.bad')} {d.bad}
        </span>
      </td>
    </>
  );
}

/** How often the open "My numbers" view reads the numbers again. */
export const STATS_REFRESH_MS = 3_000;

export function Stats() {
  const s = useApp();
  const supervisor = canSupervise(s.rt.me?.role);
  const [everyone, setEveryone] = useState(false);
  const [data, setData] = useState<OperatorStats[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setData(null);
    const load = () =>
      api
        .stats(everyone ? 'all' : undefined)
        .then(setData)
        .catch((e) => setError(errorText(e)));
    void load();
    // The numbers are kept by the event log's stats consumer a moment after things happen:
    // while the view is open it stays current.
    const timer = setInterval(() => void load(), STATS_REFRESH_MS);
    return () => clearInterval(timer);
  }, [everyone]);
  const ratings = (data ?? []).flatMap((o) => o.ratings.map((r) => ({ ...r, who: o.operator.name }))).sort((a, b) => b.at - a.at);
  return (
    <div class="stats">
      <div class="row">
        <h2 class="grow">{t('stats.title')}</h2>
        {supervisor && (
          <label class="check">
            <input type="checkbox" checked={everyone} onChange={(e) => setEveryone(e.currentTarget.checked)} />
            {t('stats.everyone')}
          </label>
        )}
      </div>
      {error && <p class="error">{error}</p>}
      {!data && !error && <p class="hint">{t('app.loading')}</p>}
      {data && (
        <table class="list stats-table">
          <thead>
            <tr>
              <th>{t('stats.operator')}</th>
              <th>{t('stats.period')}</th>
              <th>{t('stats.handled')}</th>
              <th>{t('stats.frt')}</th>
              <th>{t('stats.resolution')}</th>
              <th>{t('stats.ratings')}</th>
            </tr>
          </thead>
          <tbody>
            {data.flatMap((o) => [
              <tr key={`${o.operator.id}-today`} data-operator={o.operator.id} data-period="today">
                <td rowSpan={2}>{o.operator.name}</td>
                <td>{t('stats.today')}</td>
                <Figures d={o.today} />
              </tr>,
              <tr key={`${o.operator.id}-week`} data-operator={o.operator.id} data-period="week">
                <td>{t('stats.week')}</td>
                <Figures d={o.week} />
              </tr>,
            ])}
          </tbody>
        </table>
      )}
      {ratings.length > 0 && (
        <>
          <h3>{t('stats.comments')}</h3>
          <ul class="ratings">
            {ratings.map((r) => (
              <li key={`${r.conv}`} class={`rating rating-${r.rating}`}>
                <b>{t(`rating.${r.rating}`)}</b> {r.comment ? `“${r.comment}”` : <span class="hint">{t('stats.noComment')}</span>}{' '}
                <span class="hint">
                  — {everyone ? `${r.who}, ` : ''}
                  {dateTime(r.at, fmtLocale())}
                </span>
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}
