import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { actions, t, useApp, fmtLocale } from '../app';
import { ApiError, api, type Webhook, type WebhookDelivery, type WebhookNotice } from '../api';
import { dateTime } from '../format';
import { WEBHOOK_EVENTS, deliveryKind, endpointState, excerpt, openNotices, webhookUrlProblem } from '../integrations';
import { ListState, SecretBox, problemText } from './SecretBox';

/** How often an open delivery log, and the site's endpoints, are read again. */
export const DELIVERY_LOG_REFRESH_MS = 2_000;
export const WEBHOOKS_REFRESH_MS = 5_000;

function WebhookForm({ site, hook, onSaved, onCancel }: { site: string; hook: Webhook | null; onSaved: (w: Webhook & { secret?: string }) => void; onCancel: () => void }) {
  const [url, setUrl] = useState(hook?.url ?? '');
  const [description, setDescription] = useState(hook?.description ?? '');
  const [all, setAll] = useState(hook ? hook.events === 'all' : true);
  const [events, setEvents] = useState<string[]>(hook && hook.events !== 'all' ? hook.events : []);
  const [enabled, setEnabled] = useState(hook?.enabled ?? true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => {
    first.current?.focus();
  }, []);
  const title = hook ? t('integrations.editWebhook') : t('integrations.newWebhook');
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const bad = webhookUrlProblem(url);
    if (bad) return setError(t(bad));
    if (!all && events.length === 0) return setError(t('integrations.pickEvents'));
    const body = { url: url.trim(), description: description.trim(), events: all ? ('all' as const) : WEBHOOK_EVENTS.filter((x) => events.includes(x)) };
    setBusy(true);
    try {
      onSaved(hook ? await api.updateWebhook(site, hook.id, { ...body, ...(enabled !== hook.enabled ? { enabled } : {}) }) : await api.createWebhook(site, body));
    } catch (err) {
      setError(problemText(err, 'webhook'));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card form" onSubmit={save} noValidate aria-label={title}>
      <h3>{title}</h3>
      <label>
        {t('integrations.url')}
        <input ref={first} name="url" type="url" inputMode="url" class="mono" placeholder="https://example.com/hark-webhook" maxLength={2048} value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
      </label>
      <label>
        {t('integrations.description')}
        <input name="description" maxLength={500} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
      </label>
      <fieldset class="events">
        <legend>{t('integrations.events')}</legend>
        <label class="check full">
          <input type="radio" name="events-mode" value="all" checked={all} onChange={() => setAll(true)} />
          {t('integrations.allEvents')}
        </label>
        <label class="check full">
          <input type="radio" name="events-mode" value="some" checked={!all} onChange={() => setAll(false)} />
          {t('integrations.someEvents')}
        </label>
        {!all &&
          WEBHOOK_EVENTS.map((ev) => (
            <label key={ev} class="check event-type">
              <input
                type="checkbox"
                name="event"
                value={ev}
                checked={events.includes(ev)}
                onChange={(e) => setEvents(e.currentTarget.checked ? [...events, ev] : events.filter((x) => x !== ev))}
              />
              <span class="mono">{ev}</span>
            </label>
          ))}
      </fieldset>
      {hook && (
        <label class="check">
          <input type="checkbox" name="enabled" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} />
          {t('integrations.enabled')}
        </label>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="row">
        <button type="submit" class="primary" disabled={busy}>
          {t('action.save')}
        </button>
        <button type="button" onClick={onCancel}>
          {t('action.cancel')}
        </button>
      </div>
    </form>
  );
}

function DeliveryLog({ site, hook, tick }: { site: string; hook: string; tick: number }) {
  useApp(); // re-renders on a language change (times)
  const [rows, setRows] = useState<WebhookDelivery[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [again, setAgain] = useState(0);
  useEffect(() => {
    let live = true;
    const load = () =>
      api.webhookDeliveries(site, hook).then(
        (r) => {
          if (!live) return;
          setRows(r.deliveries);
          setError(null);
        },
        (e) => live && setError(problemText(e, 'webhook')),
      );
    void load();
    // Deliveries change on their own (the gateway's delivery job): the open log follows them.
    const timer = setInterval(() => void load(), DELIVERY_LOG_REFRESH_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [site, hook, tick, again]);
  const sendAgain = async (d: WebhookDelivery) => {
    try {
      await api.retryDelivery(site, hook, d.id);
      actions.toast(t('integrations.sentAgain'));
    } catch (e) {
      actions.toast(problemText(e, 'webhook'));
    }
    setAgain((n) => n + 1);
  };
  return (
    <div class="delivery-log" id={`log-${hook}`}>
      <div class="row">
        <h4 class="grow">{t('integrations.deliveries')}</h4>
        <button type="button" class="small" onClick={() => setAgain((n) => n + 1)}>
          {t('integrations.refresh')}
        </button>
      </div>
      <ListState error={error} items={rows} empty={t('integrations.noDeliveries')} />
      {rows && rows.length > 0 && (
        <table class="list stack deliveries" aria-label={t('integrations.deliveries')}>
          <thead>
            <tr>
              <th>{t('integrations.col.event')}</th>
              <th>{t('integrations.col.time')}</th>
              <th>{t('integrations.col.attempts')}</th>
              <th>{t('integrations.col.status')}</th>
              <th>{t('integrations.col.response')}</th>
              <th>{t('integrations.col.duration')}</th>
              <th>
                <span class="sr-only">{t('integrations.actions')}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((d) => {
              const kind = deliveryKind(d);
              return (
                <tr key={d.id} data-delivery={d.id} data-state={kind}>
                  <td data-label={t('integrations.col.event')}>
                    <span class="mono">{d.type}</span>
                  </td>
                  <td data-label={t('integrations.col.time')}>{dateTime(d.createdAt, fmtLocale())}</td>
                  <td data-label={t('integrations.col.attempts')}>{d.attempts}</td>
                  <td data-label={t('integrations.col.status')} data-testid="delivery-status">
                    <span class={`pill delivery-${kind}`}>{t(`integrations.delivery.${kind}`)}</span>
                    {d.lastStatus !== null && <span class="mono"> HTTP {d.lastStatus}</span>}
                    {d.error && d.lastStatus === null && <span class="hint break"> {d.error}</span>}
                    {kind === 'retrying' && d.nextRetryAt !== null && <span class="hint"> · {t('integrations.nextTry', { time: dateTime(d.nextRetryAt, fmtLocale()) })}</span>}
                  </td>
                  <td data-label={t('integrations.col.response')}>
                    {d.responseExcerpt ? (
                      <code class="mono break" title={d.responseExcerpt}>
                        {excerpt(d.responseExcerpt)}
                      </code>
                    ) : (
                      <span class="hint">—</span>
                    )}
                    {d.truncated && <span class="hint"> {t('integrations.cut')}</span>}
                  </td>
                  <td data-label={t('integrations.col.duration')}>{d.durationMs === null ? '—' : t('integrations.ms', { n: Math.round(d.durationMs) })}</td>
                  <td class="actions">
                    <button type="button" class="small" onClick={() => void sendAgain(d)}>
                      {t('integrations.sendAgain')}
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}

interface Shown {
  hook: string;
  secret: string;
  /** A rotation: the previous secret signs too until then. */
  until: number | null;
}

function WebhookCard(p: { site: string; hook: Webhook; onChanged: () => void; onEdit: () => void; shown: Shown | null; setShown: (s: Shown | null) => void; form: ComponentChildren }) {
  const { site, hook, onChanged, onEdit, shown, setShown } = p;
  useApp(); // re-renders on a language change (times)
  const [open, setOpen] = useState(false);
  const [tick, setTick] = useState(0);
  const state = endpointState(hook);
  const run = async (f: () => Promise<unknown>, done?: string) => {
    try {
      await f();
      if (done) actions.toast(done);
    } catch (e) {
      actions.toast(problemText(e, 'webhook'));
      if (e instanceof ApiError && e.code === 'NOT_FOUND') setOpen(false);
    }
    onChanged();
  };
  const sendTest = () =>
    run(async () => {
      await api.testWebhook(site, hook.id);
      setOpen(true);
      setTick((n) => n + 1);
    }, hook.enabled ? t('integrations.testQueued') : t('integrations.testQueuedDisabled'));
  const rotate = () => {
    if (!confirm(t('integrations.confirmRotate'))) return;
    void run(async () => {
      const r = await api.rotateWebhook(site, hook.id);
      setShown({ hook: hook.id, secret: r.secret, until: r.previousSecretUntil });
    });
  };
  const remove = () => {
    if (!confirm(t('integrations.confirmDeleteWebhook'))) return;
    void run(() => api.deleteWebhook(site, hook.id));
  };
  return (
    <div class="card webhook" data-webhook={hook.id} data-state={state}>
      <div class="row">
        <span class="grow mono break webhook-url">{hook.url}</span>
        <span class={`pill webhook-${state}`} data-testid="webhook-state">
          {t(`integrations.state.${state}`)}
        </span>
      </div>
      {p.form}
      {hook.description && <p class="break">{hook.description}</p>}
      <p class="hint break">
        {t('integrations.events')}: {hook.events === 'all' ? t('integrations.allEventsShort') : hook.events.join(', ')}
      </p>
      {state === 'failing' && hook.failingSince !== null && (
        <p class="warn-note">{t('integrations.failingSince', { time: dateTime(hook.failingSince, fmtLocale()) })}</p>
      )}
      {state === 'disabledAuto' && (
        <p class="warn-note break" data-testid="disabled-reason">
          {t('integrations.disabledAuto', { time: hook.disabledAt ? dateTime(hook.disabledAt, fmtLocale()) : '—', reason: hook.disabledReason ?? '' })}
        </p>
      )}
      {state === 'disabledAdmin' && <p class="hint">{t('integrations.disabledAdmin')}</p>}
      {hook.previousSecretUntil !== null && <p class="hint">{t('integrations.previousUntil', { time: dateTime(hook.previousSecretUntil, fmtLocale()) })}</p>}
      {shown?.hook === hook.id && (
        <SecretBox title={shown.until === null ? t('integrations.webhookCreated') : t('integrations.secretRotated')} secret={shown.secret} onClose={() => setShown(null)}>
          {shown.until !== null && <p>{t('integrations.overlap', { time: dateTime(shown.until, fmtLocale()) })}</p>}
          <p class="hint">{t('integrations.signingHint')}</p>
        </SecretBox>
      )}
      <div class="row actions">
        <button type="button" class="small" onClick={onEdit}>
          {t('action.edit')}
        </button>
        <button type="button" class="small" onClick={() => void run(() => api.updateWebhook(site, hook.id, { enabled: !hook.enabled }))}>
          {hook.enabled ? t('integrations.disable') : t('integrations.enable')}
        </button>
        <button type="button" class="small" onClick={() => void sendTest()}>
          {t('integrations.sendTest')}
        </button>
        <button type="button" class="small" onClick={rotate}>
          {t('integrations.rotate')}
        </button>
        <button type="button" class="small danger" onClick={remove}>
          {t('action.delete')}
        </button>
        <button type="button" class="small" aria-expanded={open} aria-controls={`log-${hook.id}`} onClick={() => setOpen(!open)}>
          {t('integrations.deliveries')}
        </button>
      </div>
      {open && <DeliveryLog site={site} hook={hook.id} tick={tick} />}
    </div>
  );
}

/** The site's admins are told here when the gateway disabled an endpoint (after failing for a day), until it is enabled again. */
function Notices({ list }: { list: WebhookNotice[] }) {
  useApp(); // re-renders on a language change (times)
  if (list.length === 0) return null;
  return (
    <div class="notices" role="alert" data-testid="webhook-notices">
      <h4>{t('integrations.disabledNotices')}</h4>
      <ul>
        {list.map((n) => (
          <li key={`${n.endpoint}-${n.at}`} class="break">
            {t('integrations.notice', { time: dateTime(n.at, fmtLocale()), url: n.url, reason: n.reason })}
          </li>
        ))}
      </ul>
    </div>
  );
}

export function AdminWebhooks() {
  const s = useApp();
  const [picked, setPicked] = useState('');
  const site = s.sites.some((x) => x.id === picked) ? picked : (s.sites[0]?.id ?? '');
  const [data, setData] = useState<{ site: string; webhooks: Webhook[]; disabled: WebhookNotice[] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const [shown, setShown] = useState<Shown | null>(null);
  const [tick, setTick] = useState(0);
  const reload = () => setTick((n) => n + 1);
  useEffect(() => {
    if (!site) return;
    let live = true;
    const load = () =>
      api.webhooks(site).then(
        (r) => {
          if (!live) return;
          setData({ site, ...r });
          setError(null);
        },
        (e) => live && setError(problemText(e, 'webhook')),
      );
    void load();
    // An endpoint's state changes with its deliveries (failing, disabled after a day): kept current while open.
    const timer = setInterval(() => void load(), WEBHOOKS_REFRESH_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [site, tick]);
  const hooks = data?.site === site ? data.webhooks : null;
  const form = (hook: Webhook | null) => (
    <WebhookForm
      key={`${site}-${hook?.id ?? 'new'}`}
      site={site}
      hook={hook}
      onCancel={() => setEditing(null)}
      onSaved={(w) => {
        setEditing(null);
        if (w.secret) setShown({ hook: w.id, secret: w.secret, until: null });
        reload();
      }}
    />
  );
  return (
    <div class="integration-block" data-testid="webhooks">
      <div class="row">
        <h2 class="grow">{t('integrations.webhooks')}</h2>
        {site && (
          <button type="button" class="primary" onClick={() => setEditing('new')} disabled={editing === 'new'}>
            {t('integrations.newWebhook')}
          </button>
        )}
      </div>
      <p class="hint">{t('integrations.webhooksHint')}</p>
      {s.sites.length === 0 ? (
        <p class="hint">{t('integrations.noSites')}</p>
      ) : (
        <label class="site-pick">
          {t('integrations.site')}
          <select
            name="webhook-site"
            value={site}
            onChange={(e) => {
              setPicked(e.currentTarget.value);
              setEditing(null);
              setShown(null);
            }}
          >
            {s.sites.map((x) => (
              <option key={x.id} value={x.id}>
                {x.name}
              </option>
            ))}
          </select>
        </label>
      )}
      {editing === 'new' && form(null)}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {data?.site === site && <Notices list={openNotices(data.disabled, data.webhooks)} />}
      {site && hooks === null && !error && <p class="hint">{t('app.loading')}</p>}
      {hooks?.length === 0 && <p class="hint">{t('integrations.noWebhooks')}</p>}
      {hooks?.map((w) => (
        <WebhookCard key={w.id} site={site} hook={w} onChanged={reload} onEdit={() => setEditing(w.id)} shown={shown} setShown={setShown} form={editing === w.id ? form(w) : null} />
      ))}
    </div>
  );
}
