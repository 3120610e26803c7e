import { useEffect, useRef, useState } from 'preact/hooks';
import { actions, t, useApp, fmtLocale } from '../app';
import { type ApiKey, api } from '../api';
import { dateTime } from '../format';
import { ListState, SecretBox, problemText } from './SecretBox';

function KeyForm({ onCreated, onCancel }: { onCreated: (k: { key: ApiKey; secret: string }) => void; onCancel: () => void }) {
  const s = useApp();
  const [name, setName] = useState('');
  const [site, setSite] = useState('');
  const [access, setAccess] = useState<ApiKey['access']>('read');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => {
    first.current?.focus();
  }, []);
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    if (!name.trim()) return setError(t('integrations.nameRequired'));
    setBusy(true);
    try {
      onCreated(await api.createApiKey({ name: name.trim(), site: site || null, access }));
    } catch (err) {
      setError(problemText(err, 'apiKey'));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card form" onSubmit={save} noValidate aria-label={t('integrations.newKey')}>
      <h3>{t('integrations.newKey')}</h3>
      <label>
        {t('integrations.keyName')}
        <input ref={first} name="name" maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <label>
        {t('integrations.scope')}
        <select name="site" value={site} onChange={(e) => setSite(e.currentTarget.value)}>
          <option value="">{t('integrations.allSites')}</option>
          {s.sites.map((x) => (
            <option key={x.id} value={x.id}>
              {x.name}
            </option>
          ))}
        </select>
      </label>
      <fieldset>
        <legend>{t('integrations.access')}</legend>
        {(['read', 'write'] as const).map((a) => (
          <label key={a} class="check">
            <input type="radio" name="access" value={a} checked={access === a} onChange={() => setAccess(a)} />
            {t(`integrations.${a}`)}
          </label>
        ))}
        <p class="hint full">{t('integrations.accessHint')}</p>
      </fieldset>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="row">
        <button type="submit" class="primary" disabled={busy}>
          {t('integrations.createKey')}
        </button>
        <button type="button" onClick={onCancel}>
          {t('action.cancel')}
        </button>
      </div>
    </form>
  );
}

export function AdminApiKeys() {
  const s = useApp();
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<{ key: ApiKey; secret: string } | null>(null);
  const load = () =>
    api.apiKeys().then(
      (list) => {
        setKeys(list.sort((a, b) => b.createdAt - a.createdAt));
        setError(null);
      },
      (e) => setError(problemText(e, 'apiKey')),
    );
  useEffect(() => {
    void load();
  }, []);
  const siteName = (id: string | null) => (id === null ? t('integrations.allSites') : (s.sites.find((x) => x.id === id)?.name ?? id));
  const revoke = async (k: ApiKey) => {
    if (!confirm(t('integrations.confirmRevoke', { name: k.name }))) return;
    try {
      await api.revokeApiKey(k.id);
      actions.toast(t('integrations.revoked'));
    } catch (e) {
      actions.toast(problemText(e, 'apiKey'));
    }
    if (created?.key.id === k.id) setCreated(null);
    await load();
  };
  return (
    <div class="integration-block" data-testid="api-keys">
      <div class="row">
        <h2 class="grow">{t('integrations.apiKeys')}</h2>
        <button type="button" class="primary" onClick={() => setCreating(true)} disabled={creating}>
          {t('integrations.newKey')}
        </button>
      </div>
      <p class="hint">
        {t('integrations.apiKeysHint')}{' '}
        <a href="/docs" target="_blank" rel="noopener noreferrer">
          {t('integrations.docs')}
        </a>
      </p>
      {creating && (
        <KeyForm
          onCancel={() => setCreating(false)}
          onCreated={(k) => {
            setCreating(false);
            setCreated(k);
            void load();
          }}
        />
      )}
      {created && (
        <SecretBox title={t('integrations.keyCreated', { name: created.key.name })} secret={created.secret} onClose={() => setCreated(null)}>
          <p class="hint">
            {t('integrations.keyUsage')} <code class="mono">Authorization: Bearer {'<key>'}</code>
          </p>
        </SecretBox>
      )}
      <ListState error={error} items={keys} empty={t('integrations.noKeys')} />
      {keys && keys.length > 0 && (
        <table class="list stack" aria-label={t('integrations.apiKeys')}>
          <thead>
            <tr>
              <th>{t('field.name')}</th>
              <th>{t('integrations.scope')}</th>
              <th>{t('integrations.access')}</th>
              <th>{t('integrations.created')}</th>
              <th>{t('integrations.lastUsed')}</th>
              <th>
                <span class="sr-only">{t('integrations.actions')}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k.id} data-key={k.id}>
                <td data-label={t('field.name')}>
                  <span class="key-name">{k.name}</span> <span class="hint mono">{k.id}</span>
                </td>
                <td data-label={t('integrations.scope')}>{siteName(k.site)}</td>
                <td data-label={t('integrations.access')}>
                  <span class={`pill access-${k.access}`}>{t(`integrations.${k.access}`)}</span>
                </td>
                <td data-label={t('integrations.created')}>{dateTime(k.createdAt, fmtLocale())}</td>
                <td data-label={t('integrations.lastUsed')} data-testid="last-used">
                  {k.lastUsedAt ? dateTime(k.lastUsedAt, fmtLocale()) : t('integrations.never')}
                </td>
                <td class="actions">
                  <button type="button" class="small danger" onClick={() => void revoke(k)} aria-label={`${t('integrations.revoke')}: ${k.name}`}>
                    {t('integrations.revoke')}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
