import { DEFAULT_CAPACITY } from '@hark/shared/limits';
import type { Role } from '@hark/shared/protocol';
import { useState } from 'preact/hooks';
import { actions, t, useApp } from '../app';
import { MIN_PASSWORD, api, type Operator } from '../api';
import { avatarFromFile } from '../image';
import { Avatar } from './Avatar';
import { errorText } from './Login';

const ROLES: Role[] = ['operator', 'supervisor', 'admin'];

type Draft = Omit<Operator, 'id' | 'active'> & { password: string; active: boolean };

const blank = (): Draft => ({ email: '', name: '', password: '', role: 'operator', capacity: DEFAULT_CAPACITY, sites: [], teams: [], active: true });

export function toggle(list: string[], id: string, on: boolean): string[] {
  return on ? [...new Set([...list, id])] : list.filter((x) => x !== id);
}

function OperatorForm({ initial, id, onDone }: { initial: Draft; id: string | null; onDone: () => void }) {
  const s = useApp();
  const [d, setD] = useState<Draft>(initial);
  const [error, setError] = useState<string | null>(null);
  const up = (p: Partial<Draft>) => setD({ ...d, ...p });
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const body: Partial<Draft> = { ...d };
      if (id && !d.password) delete body.password;
      if (!d.avatar) body.avatar = '';
      const saved = id ? await api.updateOperator(id, body) : await api.createOperator({ ...body, password: d.password });
      await actions.reload();
      onDone();
      actions.toast(t('admin.savedOperator', { name: saved.name }));
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <form class="card form" onSubmit={save} aria-label={id ? t('admin.editOperator') : t('admin.newOperator')}>
      <h3>{id ? t('admin.editOperator') : t('admin.newOperator')}</h3>
      <label>
        {t('field.name')}
        <input name="name" required value={d.name} onInput={(e) => up({ name: e.currentTarget.value })} />
      </label>
      <label>
        {t('field.email')}
        <input name="email" type="email" required value={d.email} onInput={(e) => up({ email: e.currentTarget.value })} />
      </label>
      <label>
        {id ? t('field.newPassword') : t('field.password')}
        <input name="password" type="password" autocomplete="new-password" minLength={MIN_PASSWORD} required={!id} value={d.password} onInput={(e) => up({ password: e.currentTarget.value })} />
      </label>
      <div class="field">
        <span>{t('field.avatar')}</span>
        <div class="row">
          <Avatar name={d.name || '?'} avatar={d.avatar} size="l" />
          <input
            type="file"
            accept="image/*"
            aria-label={t('field.avatar')}
            onChange={async (e) => {
              const f = e.currentTarget.files?.[0];
              if (!f) return;
              try {
                up({ avatar: await avatarFromFile(f) });
              } catch (err) {
                setError(errorText(err));
              }
            }}
          />
          {d.avatar && (
            <button type="button" class="small" onClick={() => up({ avatar: '' })}>
              {t('admin.useInitials')}
            </button>
          )}
        </div>
      </div>
      <label>
        {t('field.role')}
        <select name="role" value={d.role} onChange={(e) => up({ role: e.currentTarget.value as Role })}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {t(`role.${r}`)}
            </option>
          ))}
        </select>
      </label>
      <label>
        {t('field.capacity')}
        <input name="capacity" type="number" min={0} max={50} value={d.capacity} onInput={(e) => up({ capacity: Number(e.currentTarget.value) })} />
      </label>
      <fieldset>
        <legend>{t('field.sites')}</legend>
        {s.sites.map((site) => (
          <label key={site.id} class="check">
            <input type="checkbox" name={`site-${site.id}`} checked={d.sites.includes(site.id)} onChange={(e) => up({ sites: toggle(d.sites, site.id, e.currentTarget.checked) })} />
            {site.name}
          </label>
        ))}
      </fieldset>
      <fieldset>
        <legend>{t('field.teams')}</legend>
        {s.teams.length === 0 && <span class="hint">{t('admin.noTeams')}</span>}
        {s.teams.map((tm) => (
          <label key={tm.id} class="check">
            <input type="checkbox" checked={d.teams.includes(tm.id)} onChange={(e) => up({ teams: toggle(d.teams, tm.id, e.currentTarget.checked) })} />
            {tm.name}
          </label>
        ))}
      </fieldset>
      {id && (
        <label class="check">
          <input type="checkbox" name="active" checked={d.active} onChange={(e) => up({ active: e.currentTarget.checked })} />
          {t('field.active')}
        </label>
      )}
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

export function AdminOperators() {
  const s = useApp();
  const [editing, setEditing] = useState<string | null>(null);
  const siteName = (id: string) => s.sites.find((x) => x.id === id)?.name ?? id;
  const op = editing && editing !== 'new' ? s.operators.find((o) => o.id === editing) : undefined;
  return (
    <section class="admin-section">
      <div class="row">
        <h2 class="grow">{t('admin.operators')}</h2>
        <button type="button" class="primary" onClick={() => setEditing('new')}>
          {t('admin.newOperator')}
        </button>
      </div>
      {editing === 'new' && <OperatorForm key="new" id={null} initial={blank()} onDone={() => setEditing(null)} />}
      {op && (
        <OperatorForm
          key={op.id}
          id={op.id}
          initial={{ email: op.email, name: op.name, password: '', role: op.role, capacity: op.capacity, sites: op.sites, teams: op.teams, active: op.active, ...(op.avatar ? { avatar: op.avatar } : {}) }}
          onDone={() => setEditing(null)}
        />
      )}
      <table class="list">
        <thead>
          <tr>
            <th>
              <span class="sr-only">{t('field.avatar')}</span>
            </th>
            <th>{t('field.name')}</th>
            <th>{t('field.email')}</th>
            <th>{t('field.role')}</th>
            <th>{t('field.capacity')}</th>
            <th>{t('field.sites')}</th>
            <th>
              <span class="sr-only">{t('integrations.actions')}</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {s.operators.map((o) => (
            <tr key={o.id} class={o.active ? '' : 'inactive'} data-operator={o.email}>
              <td>
                <Avatar name={o.name} avatar={o.avatar} size="s" />
              </td>
              <td>
                {o.name}
                {!o.active && <span class="pill">{t('admin.deactivated')}</span>}
              </td>
              <td>{o.email}</td>
              <td>{t(`role.${o.role}`)}</td>
              <td>{o.capacity}</td>
              <td>{o.sites.map(siteName).join(', ')}</td>
              <td>
                <button type="button" class="small" onClick={() => setEditing(o.id)}>
                  {t('action.edit')}
                </button>{' '}
                {o.id !== s.rt.me?.id && (
                  <button
                    type="button"
                    class="small danger"
                    aria-label={`${t('admin.deleteOperator')}: ${o.name}`}
                    onClick={async () => {
                      if (!confirm(t('admin.confirmDeleteOperator', { name: o.name }))) return;
                      try {
                        await api.deleteOperator(o.id);
                        if (editing === o.id) setEditing(null);
                        actions.toast(t('admin.deletedOperator', { name: o.name }));
                      } catch (e) {
                        actions.toast(errorText(e));
                      }
                      await actions.reload();
                    }}
                  >
                    {t('action.delete')}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
