/**
 * Reports (loaded only when this view opens: App.tsx imports it lazily, so the inbox bundle stays
 * light). Charts are hand-written SVG with presentation attributes only (no inline style: the
 * console's CSP has no 'unsafe-inline').
 */
import { useEffect, useState } from 'preact/hooks';
import { t, useApp } from '../app';
import { api } from '../api';
import { duration } from '../format';
import { canSupervise } from '../inbox';
import { type Report, type ReportNumbers, change, dayIn, heatColour, lastDays, linePoints, reportParams } from '../reports';
import { errorText } from './Login';

const W = 560;
const H = 120;
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

type Row = { key: string; label: string; get: (n: ReportNumbers) => number | null; show: (v: number | null) => string; lowerIsBetter?: boolean };

function rows(): Row[] {
  const n = (v: number | null) => (v === null ? '–' : String(v));
  return [
    { key: 'conversations', label: t('reports.conversations'), get: (x) => x.conversations, show: n },
    { key: 'missed', label: t('reports.missed'), get: (x) => x.missed, show: n, lowerIsBetter: true },
    { key: 'offline', label: t('reports.offline'), get: (x) => x.offlineMessages, show: n },
    { key: 'frt', label: t('reports.frtMedian'), get: (x) => x.firstResponseMedianMs, show: duration, lowerIsBetter: true },
    { key: 'frt90', label: t('reports.frtP90'), get: (x) => x.firstResponseP90Ms, show: duration, lowerIsBetter: true },
    { key: 'res', label: t('reports.resolution'), get: (x) => x.resolutionMedianMs, show: duration, lowerIsBetter: true },
    { key: 'mpc', label: t('reports.messagesPerChat'), get: (x) => x.messagesPerChat, show: n },
    { key: 'csat', label: t('reports.goodPct'), get: (x) => x.goodPct, show: (v) => (v === null ? '–' : `${v} %`) },
    { key: 'comments', label: t('reports.withComment'), get: (x) => x.withComment, show: n },
    { key: 'transfers', label: t('reports.transfers'), get: (x) => x.transfers, show: n },
  ];
}

function Bars({ values, label }: { values: number[]; label: string }) {
  const max = Math.max(1, ...values);
  const bw = W / Math.max(1, values.length);
  return (
    <svg class="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label}>
      {values.map((v, i) => {
        const h = (v / max) * (H - 4);
        return <rect key={i} x={i * bw + 1} y={H - h} width={Math.max(1, bw - 2)} height={h} fill="#1f5fd6" />;
      })}
    </svg>
  );
}

function Line({ values, label }: { values: (number | null)[]; label: string }) {
  const max = Math.max(1, ...values.map((v) => v ?? 0));
  return (
    <svg class="chart" viewBox={`-4 -4 ${W + 8} ${H + 8}`} role="img" aria-label={label}>
      {linePoints(values, W, H, max).map((pts, i) => (
        <polyline key={i} points={pts} fill="none" stroke="#1f5fd6" stroke-width="2" />
      ))}
    </svg>
  );
}

function Heat({ grid, label, unit }: { grid: number[][]; label: string; unit: string }) {
  const max = Math.max(0, ...grid.flat());
  const cw = 18;
  const ch = 16;
  const left = 34;
  return (
    <svg class="heat" viewBox={`0 0 ${left + 24 * cw} ${14 + 7 * ch}`} role="img" aria-label={label}>
      {[0, 6, 12, 18].map((h) => (
        <text key={h} x={left + h * cw} y={10} font-size="9" fill="#666">
          {h}
        </text>
      ))}
      {grid.map((row, d) => (
        <g key={d}>
          <text x={0} y={14 + d * ch + 11} font-size="9" fill="#666">
            {t(`reports.day.${DAYS[d] ?? 'sun'}`)}
          </text>
          {row.map((v, h) => (
            <rect key={h} x={left + h * cw} y={14 + d * ch} width={cw - 1} height={ch - 1} fill={heatColour(v, max)}>
              <title>{`${t(`reports.day.${DAYS[d] ?? 'sun'}`)} ${h}:00 · ${v} ${unit}`}</title>
            </rect>
          ))}
        </g>
      ))}
    </svg>
  );
}

export function Reports() {
  const s = useApp();
  const me = s.rt.me;
  const sup = canSupervise(me?.role);
  const sites = s.sites;
  const [site, setSite] = useState(sites[0]?.id ?? me?.sites[0] ?? '');
  const tz = sites.find((x) => x.id === site)?.hours?.tz || 'UTC';
  const today = dayIn(Date.now(), tz);
  const [range, setRange] = useState<[string, string]>(lastDays(today, 7));
  const [scope, setScope] = useState('');
  const [rep, setRep] = useState<Report | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!site && sites[0]) setSite(sites[0].id);
  }, [sites.length]);
  const query = { site, from: range[0], to: range[1], ...(scope.startsWith('t:') ? { team: scope.slice(2) } : scope.startsWith('o:') ? { operator: scope.slice(2) } : {}) };
  const params = reportParams(query);
  useEffect(() => {
    if (!site) return;
    let live = true;
    setError(null);
    api
      .report(params)
      .then((r) => live && setRep(r))
      .catch((e: unknown) => live && setError(errorText(e)));
    return () => {
      live = false;
    };
  }, [params]);
  const n = rep?.totals;
  const p = rep?.previous.totals;
  return (
    <section class="reports pad" aria-label={t('screen.reports')}>
      <div class="report-controls">
        <select aria-label={t('search.site')} value={site} onChange={(e) => setSite(e.currentTarget.value)}>
          {sites.map((x) => (
            <option key={x.id} value={x.id}>
              {x.name}
            </option>
          ))}
        </select>
        {sup && (
          <select aria-label={t('reports.scope')} value={scope} onChange={(e) => setScope(e.currentTarget.value)}>
            <option value="">{t('reports.wholeSite')}</option>
            {s.teams.map((x) => (
              <option key={x.id} value={`t:${x.id}`}>
                {t('reports.team')}: {x.name}
              </option>
            ))}
            {s.operators.map((o) => (
              <option key={o.id} value={`o:${o.id}`}>
                {o.name}
              </option>
            ))}
          </select>
        )}
        {[7, 30, 90].map((d) => (
          <button key={d} type="button" class="small" onClick={() => setRange(lastDays(today, d))}>
            {t('reports.lastDays', { n: d })}
          </button>
        ))}
        <input type="date" aria-label={t('reports.from')} value={range[0]} onChange={(e) => setRange([e.currentTarget.value, range[1]])} />
        <input type="date" aria-label={t('reports.to')} value={range[1]} onChange={(e) => setRange([range[0], e.currentTarget.value])} />
        <a class="button small" href={`/v1/reports.csv?${params}`} download>
          {t('reports.csv')}
        </a>
        <a class="button small" href={`/v1/reports/conversations.csv?${params}`} download data-testid="export-conversations">
          {t('reports.csvConversations')}
        </a>
      </div>
      {error && <p class="error">{error}</p>}
      {rep && n && p && (
        <>
          <p class="hint">{t('reports.period', { from: rep.from, to: rep.to, prevFrom: rep.previous.from, prevTo: rep.previous.to, tz: rep.tz })}</p>
          <table class="report-table">
            <thead>
              <tr>
                <td />
                <th>{t('reports.thisPeriod')}</th>
                <th>{t('reports.previous')}</th>
                <th>{t('reports.change')}</th>
                {rep.teamMedian && <th>{t('reports.teamMedian')}</th>}
              </tr>
            </thead>
            <tbody>
              {rows().map((r) => {
                const c = change(r.get(n), r.get(p));
                const better = c === null || c === 0 ? '' : (c < 0) === !!r.lowerIsBetter ? 'better' : 'worse';
                const tm = rep.teamMedian;
                const team = tm && r.key === 'conversations' ? String(tm.conversations) : tm && r.key === 'frt' ? duration(tm.firstResponseMedianMs) : tm && r.key === 'res' ? duration(tm.resolutionMedianMs) : tm && r.key === 'csat' && tm.goodPct !== null ? `${tm.goodPct} %` : '';
                return (
                  <tr key={r.key} data-metric={r.key}>
                    <th>{r.label}</th>
                    <td>{r.show(r.get(n))}</td>
                    <td>{r.show(r.get(p))}</td>
                    <td class={better}>{c === null ? '' : `${c > 0 ? '+' : ''}${c} %`}</td>
                    {tm && <td>{team}</td>}
                  </tr>
                );
              })}
            </tbody>
          </table>
          <h2>{t('reports.volume')}</h2>
          <Bars values={rep.days.map((d) => d.numbers.conversations)} label={t('reports.volume')} />
          <h2>{t('reports.frtOverTime')}</h2>
          <Line values={rep.days.map((d) => d.numbers.firstResponseMedianMs)} label={t('reports.frtOverTime')} />
          <div class="heats">
            <div>
              <h2>{t('reports.heatIncoming')}</h2>
              <Heat grid={rep.heat.incoming} label={t('reports.heatIncoming')} unit={t('reports.conversations')} />
            </div>
            <div>
              <h2>{t('reports.heatOnline')}</h2>
              <Heat grid={rep.heat.online} label={t('reports.heatOnline')} unit="h" />
            </div>
          </div>
        </>
      )}
    </section>
  );
}
