import type { ConvSummary } from '@hark/shared/protocol';
import { useEffect, useState } from 'preact/hooks';
import { actions, getState, t, useApp, fmtLocale } from '../app';
import { api } from '../api';
import { dateTime, localTime, parseUserAgent, safeHref } from '../format';
import { canSupervise } from '../inbox';
import { visitorLabel } from '../state';
import { exportFileName, forgetVisitor } from '../integrations';
import { problemText } from './SecretBox';
import { useNow } from './useNow';

function Link({ url }: { url: string | undefined }) {
  const href = safeHref(url);
  if (!url) return <span class="hint">—</span>;
  return href ? (
    <a href={href} target="_blank" rel="noopener noreferrer">
      {url}
    </a>
  ) : (
    <span>{url}</span>
  );
}

/**
 * The visitor's data on request: everything held about them as a JSON download (admins and
 * supervisors, as the gateway allows), or erased (admins only; cannot be undone).
 */
function VisitorData({ conv, canErase }: { conv: ConvSummary; canErase: boolean }) {
  const v = conv.visitor;
  const [busy, setBusy] = useState<'export' | 'erase' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const label = visitorLabel(v, getState().lang);
  const download = async () => {
    setBusy('export');
    setError(null);
    try {
      const data = await api.exportVisitor(conv.site, v.id);
      const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = exportFileName(conv.site, v.id);
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      actions.toast(t('visitor.exported'));
    } catch (e) {
      setError(problemText(e, 'visitor'));
    } finally {
      setBusy(null);
    }
  };
  const erase = async () => {
    if (!confirm(t('visitor.confirmErase', { name: label }))) return;
    setBusy('erase');
    setError(null);
    const theirs = [conv.id, ...Object.values(getState().rt.convs).filter((c) => c.visitor.id === v.id).map((c) => c.id)];
    try {
      await api.eraseVisitor(conv.site, v.id);
    } catch (e) {
      setBusy(null);
      return setError(problemText(e, 'visitor'));
    }
    // The visitor and their conversations are gone: so is every trace of them on this screen.
    actions.patch((st) => {
      const sel = st.selected ? st.rt.convs[st.selected] : undefined;
      const gone = !!st.selected && (theirs.includes(st.selected) || sel?.visitor.id === v.id);
      return { rt: forgetVisitor(st.rt, v.id, theirs), selected: gone ? null : st.selected };
    });
    actions.toast(t('visitor.erased'));
  };
  return (
    <div class="visitor-data" data-testid="visitor-data">
      <h4>{t('visitor.data')}</h4>
      <p class="hint">{canErase ? t('visitor.dataHint') : t('visitor.dataHintExport')}</p>
      <div class="row">
        <button type="button" class="small" disabled={busy !== null} onClick={() => void download()}>
          {t('visitor.export')}
        </button>
        {canErase && (
          <button type="button" class="small danger" disabled={busy !== null} onClick={() => void erase()}>
            {t('visitor.erase')}
          </button>
        )}
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

export function VisitorPanel({ conv }: { conv: ConvSummary }) {
  const s = useApp();
  const now = useNow(30_000);
  const v = conv.visitor;
  const agent = parseUserAgent(v.ua);
  const [previous, setPrevious] = useState<ConvSummary[] | null>(null);
  useEffect(() => {
    setPrevious(null);
    let live = true;
    // Previous conversations of the same visitor; the server filters by visitor id.
    api
      .conversations({ status: 'resolved', visitor: v.id, site: conv.site })
      .then((list) => live && setPrevious(list.filter((c) => c.id !== conv.id && c.visitor.id === v.id)))
      .catch(() => live && setPrevious([]));
    return () => {
      live = false;
    };
  }, [v.id, conv.id]);
  const site = s.sites.find((x) => x.id === conv.site);
  const attrs = Object.entries(v.attrs ?? {});
  return (
    <aside class="visitor" aria-label={t('visitor.title')}>
      <button type="button" class="back" aria-label={t('visitor.back')} title={t('visitor.back')} onClick={() => actions.back()}>
        ←
      </button>
      <h3>
        {visitorLabel(v, s.lang)}
        {!v.name && !v.email && <span class="hint"> · {t('visitor.anonymous')}</span>}
        {v.verified && (
          <span class="badge verified" title={t('visitor.verifiedHint')}>
            {t('visitor.verified')}
          </span>
        )}
        <span class={v.online ? 'dot online' : 'dot'} role="img" data-testid="visitor-presence" data-online={v.online ? 'yes' : 'no'} title={v.online ? t('visitor.online') : t('visitor.away')} aria-label={v.online ? t('visitor.online') : t('visitor.away')} />
      </h3>
      <dl>
        {v.email && (
          <>
            <dt>{t('visitor.email')}</dt>
            <dd>{v.email}</dd>
          </>
        )}
        {site && (
          <>
            <dt>{t('visitor.site')}</dt>
            <dd>{site.name}</dd>
          </>
        )}
        <dt>{t('visitor.page')}</dt>
        <dd data-testid="visitor-page">
          {v.page ? (
            <>
              <div class="page-title">{v.page.title || '—'}</div>
              <Link url={v.page.url} />
            </>
          ) : (
            '—'
          )}
        </dd>
        <dt>{t('visitor.referrer')}</dt>
        <dd>
          <Link url={v.page?.referrer} />
        </dd>
        <dt>{t('visitor.browser')}</dt>
        <dd>
          {agent.browser} · {agent.os}
        </dd>
        <dt>{t('visitor.language')}</dt>
        <dd data-testid="visitor-language">{v.locale ?? '—'}</dd>
        <dt>{t('visitor.localTime')}</dt>
        <dd>
          {localTime(v.tz, new Date(now), fmtLocale()) ?? '—'} {v.tz && <span class="hint">({v.tz})</span>}
        </dd>
        {v.userId && (
          <>
            <dt>{t('visitor.userId')}</dt>
            <dd>{v.userId}</dd>
          </>
        )}
      </dl>
      {attrs.length > 0 && (
        <>
          <h4>{t('visitor.attributes')}</h4>
          <dl class="attrs">
            {attrs.map(([k, val]) => (
              <>
                <dt key={`k${k}`}>{k}</dt>
                <dd key={`v${k}`}>{String(val)}</dd>
              </>
            ))}
          </dl>
        </>
      )}
      <h4>{t('visitor.previous')}</h4>
      {previous === null ? (
        <p class="hint">{t('app.loading')}</p>
      ) : previous.length === 0 ? (
        <p class="hint">{t('visitor.noPrevious')}</p>
      ) : (
        <ul class="previous">
          {previous.map((c) => (
            <li key={c.id}>
              <button type="button" class="link" onClick={() => actions.openConv(c)}>
                {dateTime(c.createdAt, fmtLocale())}
                {c.operator ? ` · ${c.operator.name}` : ''}
                {c.rating ? ` · ${t(`rating.${c.rating}`)}` : ''}
              </button>
            </li>
          ))}
        </ul>
      )}
      {canSupervise(s.rt.me?.role) && <VisitorData key={v.id} conv={conv} canErase={s.rt.me?.role === 'admin'} />}
    </aside>
  );
}
