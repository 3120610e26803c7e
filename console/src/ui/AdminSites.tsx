import { useState } from 'preact/hooks';
import { DEFAULT_FILE_MAX_BYTES, DEFAULT_FILE_TYPES, KNOWN_FILE_TYPES, MAX_FILE_BYTES, MAX_SITE_MSGS_PER_SEC, SITE_MSGS_PER_SEC } from '@hark/shared/limits';
import { actions, t, useApp } from '../app';
import { api, type Site } from '../api';
import { type DayRow, defaultWeek, hoursToRows, parseOrigins, rowsToHours, snippet, timeZones } from '../hours';
import { errorText } from './Login';

const WEEKDAYS = [0, 1, 2, 3, 4, 5, 6];
const ALL_LOCALES = ['en', 'hr', 'ru'];

function weekdayName(d: number, lang: string): string {
  // 2023-01-01 was a Sunday.
  return new Intl.DateTimeFormat(lang, { weekday: 'short', timeZone: 'UTC' }).format(new Date(Date.UTC(2023, 0, 1 + d)));
}

function SiteForm({ site, onDone }: { site: Site | null; onDone: () => void }) {
  const s = useApp();
  const [d, setD] = useState<Partial<Site>>(
    site ?? { name: '', origins: [], color: '#1f5fd6', position: 'right', label: 'Chat with us', greeting: 'Hi! How can we help?', locales: ['en'], prechat: false, offlineForm: true, unansweredMs: 60_000, team: '', typingPreview: false, requeueOnOffline: true, msgsPerSec: SITE_MSGS_PER_SEC, attachments: true, fileMaxBytes: DEFAULT_FILE_MAX_BYTES, fileTypes: DEFAULT_FILE_TYPES },
  );
  const [origins, setOrigins] = useState((site?.origins ?? []).join('\n'));
  const [notify, setNotify] = useState((site?.notifyEmails ?? []).join('\n'));
  const [hoursOn, setHoursOn] = useState(!!site?.hours);
  const [tz, setTz] = useState(site?.hours?.tz ?? Intl.DateTimeFormat().resolvedOptions().timeZone);
  const [rows, setRows] = useState<DayRow[]>(hoursToRows(site?.hours ?? null));
  const [error, setError] = useState<string | null>(null);
  const up = (p: Partial<Site>) => setD({ ...d, ...p });
  const setRow = (i: number, p: Partial<DayRow>) => setRows(rows.map((r, j) => (j === i ? { ...r, ...p } : r)));
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const o = parseOrigins(origins);
    if (o.bad.length) return setError(t('admin.badOrigins', { list: o.bad.join(', ') }));
    if (hoursOn && !rows.some((r) => r.open)) return setError(t('admin.noDays'));
    let hours: Site['hours'];
    try {
      hours = rowsToHours(hoursOn, tz, rows);
    } catch (err) {
      return setError(errorText(err));
    }
    const body: Partial<Site> = {
      name: d.name,
      origins: o.origins,
      color: d.color,
      position: d.position,
      label: d.label,
      greeting: d.greeting,
      greetings: Object.fromEntries(Object.entries(d.greetings ?? {}).filter(([, g]) => g.trim())),
      locales: d.locales,
      hours,
      prechat: d.prechat,
      offlineForm: d.offlineForm,
      unansweredMs: d.unansweredMs,
      team: d.team ?? '',
      typingPreview: !!d.typingPreview,
      requeueOnOffline: d.requeueOnOffline !== false,
      msgsPerSec: d.msgsPerSec ?? SITE_MSGS_PER_SEC,
      attachments: d.attachments !== false,
      fileMaxBytes: d.fileMaxBytes ?? DEFAULT_FILE_MAX_BYTES,
      fileTypes: d.fileTypes ?? DEFAULT_FILE_TYPES,
      notifyEmails: notify
        .split(/[\s,;]+/)
        .map((x) => x.trim())
        .filter(Boolean),
      mailLang: d.mailLang ?? 'en',
    };
    try {
      const saved = site ? await api.updateSite(site.id, body) : await api.createSite(body);
      await actions.reload();
      onDone();
      actions.toast(t('admin.savedSite', { name: saved.name }));
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <form class="card form" onSubmit={save} aria-label={site ? t('admin.editSite') : t('admin.newSite')}>
      <h3>{site ? t('admin.editSite') : t('admin.newSite')}</h3>
      <label>
        {t('field.name')}
        <input name="name" required value={d.name} onInput={(e) => up({ name: e.currentTarget.value })} />
      </label>
      <label>
        {t('field.origins')}
        <textarea name="origins" rows={3} placeholder="https://www.example.com" value={origins} onInput={(e) => setOrigins(e.currentTarget.value)} />
      </label>
      <div class="row">
        <label>
          {t('field.color')}
          <input name="color" type="color" value={d.color} onInput={(e) => up({ color: e.currentTarget.value })} />
        </label>
        <label>
          {t('field.position')}
          <select name="position" value={d.position} onChange={(e) => up({ position: e.currentTarget.value as 'left' | 'right' })}>
            <option value="right">{t('field.right')}</option>
            <option value="left">{t('field.left')}</option>
          </select>
        </label>
      </div>
      <label>
        {t('field.label')}
        <input name="label" maxLength={40} value={d.label} onInput={(e) => up({ label: e.currentTarget.value })} />
      </label>
      <label>
        {t('field.greeting')}
        <input name="greeting" maxLength={200} value={d.greeting} onInput={(e) => up({ greeting: e.currentTarget.value })} />
      </label>
      <fieldset>
        <legend>{t('field.greetings')}</legend>
        {[...new Set([...ALL_LOCALES, ...(d.locales ?? [])])].map((l) => (
          <label key={l}>
            {l}
            <input
              name={`greeting-${l}`}
              lang={l}
              maxLength={200}
              placeholder={d.greeting}
              value={d.greetings?.[l] ?? ''}
              onInput={(e) => up({ greetings: { ...d.greetings, [l]: e.currentTarget.value } })}
            />
          </label>
        ))}
      </fieldset>
      <fieldset>
        <legend>{t('field.languages')}</legend>
        {ALL_LOCALES.map((l) => (
          <label key={l} class="check">
            <input
              type="checkbox"
              checked={d.locales?.includes(l)}
              onChange={(e) => up({ locales: e.currentTarget.checked ? [...(d.locales ?? []), l] : (d.locales ?? []).filter((x) => x !== l) })}
            />
            {l}
          </label>
        ))}
      </fieldset>
      <fieldset>
        <legend>{t('field.hours')}</legend>
        <label class="check">
          <input
            type="checkbox"
            name="hoursOn"
            checked={hoursOn}
            onChange={(e) => {
              const on = e.currentTarget.checked;
              setHoursOn(on);
              if (on) setRows(defaultWeek(rows));
            }}
          />
          {t('field.hoursOn')}
        </label>
        {hoursOn && (
          <>
            <label>
              {t('field.timezone')}
              <select name="tz" value={tz} onChange={(e) => setTz(e.currentTarget.value)}>
                {timeZones(tz).map((z) => (
                  <option key={z} value={z}>
                    {z.replaceAll('_', ' ')}
                  </option>
                ))}
              </select>
            </label>
            <table class="hours">
              <tbody>
                {WEEKDAYS.map((i) => {
                  const r = rows[i] as DayRow;
                  return (
                    <tr key={i}>
                      <td>
                        <label class="check">
                          <input type="checkbox" checked={r.open} onChange={(e) => setRow(i, { open: e.currentTarget.checked })} />
                          {weekdayName(i, s.lang)}
                        </label>
                      </td>
                      <td>
                        <input type="time" aria-label={t('field.from')} disabled={!r.open} value={r.from} onInput={(e) => setRow(i, { from: e.currentTarget.value })} />
                      </td>
                      <td>
                        <input type="time" aria-label={t('field.to')} disabled={!r.open} value={r.to} onInput={(e) => setRow(i, { to: e.currentTarget.value })} />
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </>
        )}
      </fieldset>
      <label class="check">
        <input type="checkbox" name="prechat" checked={d.prechat} onChange={(e) => up({ prechat: e.currentTarget.checked })} />
        {t('field.prechat')}
      </label>
      <label class="check">
        <input type="checkbox" name="offlineForm" checked={d.offlineForm} onChange={(e) => up({ offlineForm: e.currentTarget.checked })} />
        {t('field.offlineForm')}
      </label>
      <label class="check">
        <input type="checkbox" name="typingPreview" checked={d.typingPreview} onChange={(e) => up({ typingPreview: e.currentTarget.checked })} />
        {t('field.typingPreview')}
      </label>
      <label class="check">
        <input type="checkbox" name="requeueOnOffline" checked={d.requeueOnOffline} onChange={(e) => up({ requeueOnOffline: e.currentTarget.checked })} />
        {t('field.requeueOnOffline')}
      </label>
      <label class="check">
        <input type="checkbox" name="attachments" checked={d.attachments !== false} onChange={(e) => up({ attachments: e.currentTarget.checked })} />
        {t('field.attachments')}
      </label>
      {d.attachments !== false && (
        <>
          <label>
            {t('field.fileMaxMb')}
            <input
              name="fileMaxMb"
              type="number"
              min={1}
              max={MAX_FILE_BYTES / 1048576}
              value={Math.round((d.fileMaxBytes ?? DEFAULT_FILE_MAX_BYTES) / 1048576)}
              onInput={(e) => up({ fileMaxBytes: Math.max(1, Math.min(MAX_FILE_BYTES / 1048576, Math.round(Number(e.currentTarget.value) || 1))) * 1048576 })}
            />
          </label>
          <fieldset class="file-types">
            <legend>{t('field.fileTypes')}</legend>
            {KNOWN_FILE_TYPES.map((ft) => (
              <label class="check" key={ft}>
                <input
                  type="checkbox"
                  name="fileTypes"
                  value={ft}
                  checked={(d.fileTypes ?? DEFAULT_FILE_TYPES).includes(ft)}
                  onChange={(e) => {
                    const cur = (d.fileTypes ?? DEFAULT_FILE_TYPES).filter((x) => x !== ft);
                    up({ fileTypes: e.currentTarget.checked ? [...cur, ft] : cur });
                  }}
                />
                {ft}
              </label>
            ))}
          </fieldset>
        </>
      )}
      <label>
        {t('field.threshold')}
        <input
          name="threshold"
          type="number"
          min={5}
          max={3600}
          value={Math.round((d.unansweredMs ?? 60_000) / 1000)}
          onInput={(e) => up({ unansweredMs: Number(e.currentTarget.value) * 1000 })}
        />
      </label>
      <label>
        {t('field.msgsPerSec')}
        <input
          name="msgsPerSec"
          type="number"
          min={1}
          max={MAX_SITE_MSGS_PER_SEC}
          value={d.msgsPerSec ?? SITE_MSGS_PER_SEC}
          onInput={(e) => up({ msgsPerSec: Math.max(1, Math.min(MAX_SITE_MSGS_PER_SEC, Math.round(Number(e.currentTarget.value) || 1))) })}
        />
        <small>{t('field.msgsPerSecHelp')}</small>
      </label>
      <label>
        {t('field.notifyEmails')}
        <textarea name="notifyEmails" rows={2} value={notify} onInput={(e) => setNotify(e.currentTarget.value)} />
        <small>{t('field.notifyEmailsHelp')}</small>
      </label>
      <label>
        {t('field.mailLang')}
        <select name="mailLang" value={d.mailLang ?? 'en'} onChange={(e) => up({ mailLang: e.currentTarget.value as Site['mailLang'] })}>
          <option value="en">English</option>
          <option value="hr">Hrvatski</option>
          <option value="ru">Русский</option>
        </select>
      </label>
      <label>
        {t('field.siteTeam')}
        <select name="team" value={d.team ?? ''} onChange={(e) => up({ team: e.currentTarget.value })}>
          <option value="">{t('admin.anyone')}</option>
          {s.teams.map((tm) => (
            <option key={tm.id} value={tm.id}>
              {tm.name}
            </option>
          ))}
        </select>
      </label>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="row">
        <button type="submit" class="primary">
          {t('action.save')}
        </button>
        <button type="button" onClick={onDone}>
          {t('action.cancel')}
        </button>
      </div>
    </form>
  );
}

function SiteCard({ site, onEdit }: { site: Site; onEdit: () => void }) {
  const [secret, setSecret] = useState<string | null>(null);
  const tag = snippet(location.origin, site.id);
  const copy = async (text: string) => {
    try {
      await navigator.clipboard.writeText(text);
      actions.toast(t('admin.copied'));
    } catch {
      actions.toast(t('admin.copyFailed'));
    }
  };
  return (
    <div class="card site-card" data-site={site.id}>
      <div class="row">
        <span class="swatch" ref={(el) => el?.style.setProperty('background', site.color)} />
        <h3 class="grow">{site.name}</h3>
        <button type="button" class="small" onClick={onEdit}>
          {t('action.edit')}
        </button>
        <button
          type="button"
          class="small danger"
          aria-label={`${t('admin.deleteSite')}: ${site.name}`}
          onClick={async () => {
            if (!confirm(t('admin.confirmDeleteSite', { name: site.name }))) return;
            try {
              await api.deleteSite(site.id);
              actions.toast(t('admin.deletedSite', { name: site.name }));
            } catch (e) {
              actions.toast(errorText(e));
            }
            await actions.reload();
          }}
        >
          {t('action.delete')}
        </button>
      </div>
      <p class="hint">
        {t('field.origins')}: {site.origins.join(', ') || '—'} · {t('field.threshold')}: {Math.round(site.unansweredMs / 1000)}
      </p>
      <label>
        {t('admin.snippet')}
        <div class="row">
          <input class="grow mono" readOnly value={tag} onFocus={(e) => e.currentTarget.select()} />
          <button type="button" class="small" onClick={() => copy(tag)}>
            {t('action.copy')}
          </button>
        </div>
      </label>
      <div class="row">
        <span class="grow">
          {t('admin.identity')}: {site.identitySecretSet ? t('admin.identityOn') : t('admin.identityOff')}
        </span>
        <button
          type="button"
          class="small"
          onClick={async () => {
            if ((site.identitySecretSet) && !confirm(t('admin.confirmRotate'))) return;
            try {
              setSecret((await api.rotateSecret(site.id)).secret);
              await actions.reload();
            } catch (e) {
              actions.toast(errorText(e));
            }
          }}
        >
          {site.identitySecretSet ? t('admin.rotateSecret') : t('admin.createSecret')}
        </button>
      </div>
      {secret && (
        <div class="secret" role="status">
          <p>{t('admin.secretOnce')}</p>
          <div class="row">
            <input class="grow mono" readOnly value={secret} data-testid="secret" onFocus={(e) => e.currentTarget.select()} />
            <button type="button" class="small" onClick={() => copy(secret)}>
              {t('action.copy')}
            </button>
            <button type="button" class="small" onClick={() => setSecret(null)}>
              {t('action.close')}
            </button>
          </div>
        </div>
      )}
    </div>
  );
}

export function AdminSites() {
  const s = useApp();
  const [editing, setEditing] = useState<string | null>(null);
  const site = s.sites.find((x) => x.id === editing) ?? null;
  return (
    <section class="admin-section">
      <div class="row">
        <h2 class="grow">{t('admin.sites')}</h2>
        <button type="button" class="primary" onClick={() => setEditing('new')}>
          {t('admin.newSite')}
        </button>
      </div>
      {editing && <SiteForm key={editing} site={site} onDone={() => setEditing(null)} />}
      {s.sites.map((x) => (
        <SiteCard key={x.id} site={x} onEdit={() => setEditing(x.id)} />
      ))}
    </section>
  );
}
