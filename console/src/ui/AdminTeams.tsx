import { useState } from 'preact/hooks';
import { actions, t, useApp } from '../app';
import { api, type Team } from '../api';
import { toggle } from './AdminOperators';
import { errorText } from './Login';

function TeamForm({ team, onDone }: { team: Team | null; onDone: () => void }) {
  const s = useApp();
  const [name, setName] = useState(team?.name ?? '');
  const [sites, setSites] = useState<string[]>(team?.sites ?? []);
  const [error, setError] = useState<string | null>(null);
  const save = async (e: Event) => {
    e.preventDefault();
    try {
      if (team) await api.updateTeam(team.id, { name, sites });
      else await api.createTeam({ name, sites });
      await actions.reload();
      onDone();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <form class="card form" onSubmit={save} aria-label={t('admin.newTeam')}>
      <label>
        {t('field.name')}
        <input name="name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <fieldset>
        <legend>{t('field.sites')}</legend>
        {s.sites.map((site) => (
          <label key={site.id} class="check">
            <input type="checkbox" checked={sites.includes(site.id)} onChange={(e) => setSites(toggle(sites, site.id, e.currentTarget.checked))} />
            {site.name}
          </label>
        ))}
      </fieldset>
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

export function AdminTeams() {
  const s = useApp();
  const [editing, setEditing] = useState<string | null>(null);
  const members = (id: string) =>
    s.operators
      .filter((o) => o.teams.includes(id))
      .map((o) => o.name)
      .join(', ');
  const team = s.teams.find((x) => x.id === editing) ?? null;
  return (
    <section class="admin-section">
      <div class="row">
        <h2 class="grow">{t('admin.teams')}</h2>
        <button type="button" class="primary" onClick={() => setEditing('new')}>
          {t('admin.newTeam')}
        </button>
      </div>
      <p class="hint">{t('admin.teamsHint')}</p>
      {editing && <TeamForm key={editing} team={team} onDone={() => setEditing(null)} />}
      <table class="list">
        <tbody>
          {s.teams.map((tm) => (
            <tr key={tm.id}>
              <td>{tm.name}</td>
              <td class="hint">{members(tm.id) || '—'}</td>
              <td>
                <button type="button" class="small" onClick={() => setEditing(tm.id)}>
                  {t('action.edit')}
                </button>{' '}
                <button
                  type="button"
                  class="small danger"
                  onClick={async () => {
                    if (!confirm(t('admin.confirmDelete'))) return;
                    await api.deleteTeam(tm.id).catch((e) => actions.toast(errorText(e)));
                    await actions.reload();
                  }}
                >
                  {t('action.delete')}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
