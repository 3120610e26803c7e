import { actions, t, useApp } from '../app';
import { AdminIntegrations } from './AdminIntegrations';
import { AdminMail } from './AdminMail';
import { AdminOperators } from './AdminOperators';
import { AdminReplies } from './AdminReplies';
import { AdminSites } from './AdminSites';
import { AdminTeams } from './AdminTeams';

type Tab = 'operators' | 'sites' | 'teams' | 'replies' | 'integrations' | 'mail';

export function Admin() {
  const s = useApp();
  const isAdmin = s.rt.me?.role === 'admin';
  const tabs: Tab[] = isAdmin ? ['operators', 'sites', 'teams', 'replies', 'integrations', 'mail'] : ['replies'];
  const current = tabs.find((x) => x === s.adminTab) ?? (tabs[0] as Tab);
  return (
    <div class="admin">
      <div class="views" role="tablist">
        {tabs.map((x) => (
          <button key={x} type="button" role="tab" aria-selected={current === x} class={current === x ? 'tab active' : 'tab'} onClick={() => actions.patch({ adminTab: x })}>
            {t(`admin.${x}`)}
          </button>
        ))}
      </div>
      {current === 'operators' && <AdminOperators />}
      {current === 'sites' && <AdminSites />}
      {current === 'teams' && <AdminTeams />}
      {current === 'replies' && <AdminReplies />}
      {current === 'integrations' && <AdminIntegrations />}
      {current === 'mail' && <AdminMail />}
    </div>
  );
}
