import type { OperatorStatus } from '@hark/shared/protocol';
import { useEffect, useState } from 'preact/hooks';
import { actions, type Screen, t, useApp } from '../app';
import { askNotificationPermission, notificationPermission, setSoundOff, soundOff } from '../notify';
import { Avatar } from './Avatar';
import { LangPicker } from './LangPicker';

const STATUSES: OperatorStatus[] = ['online', 'away', 'offline'];

export function Header() {
  const s = useApp();
  const me = s.rt.me;
  const [perm, setPerm] = useState(notificationPermission());
  // On a phone everything but the brand, the connection and the status sits behind this menu (styles.css).
  const [menu, setMenu] = useState(false);
  const [sound, setSound] = useState(!soundOff());
  const open = menu ? 'yes' : 'no';
  // Going to another screen closes it.
  useEffect(() => setMenu(false), [s.screen]);
  const screens: Screen[] = ['inbox', 'stats', 'reports', ...(me?.role === 'admin' ? (['admin'] as Screen[]) : []), 'account'];
  return (
    <header class="header">
      <span class="brand">Hark</span>
      <span class="header-more" id="header-more" data-open={open}>
        <nav class="nav">
          {screens.map((sc) => (
            <button key={sc} type="button" class={s.screen === sc ? 'tab active' : 'tab'} aria-current={s.screen === sc ? 'page' : undefined} onClick={() => actions.go(sc)}>
              {t(`screen.${sc}`)}
            </button>
          ))}
          {me?.role !== 'admin' && (
            <button type="button" class={s.screen === 'admin' ? 'tab active' : 'tab'} onClick={() => actions.go('admin')}>
              {t('admin.replies')}
            </button>
          )}
        </nav>
      </span>
      {/* The real socket state: connecting, syncing, live, or offline with a way to retry now (socket.ts). */}
      <span class={`conn conn-${s.rt.connection}`} data-testid="connection" role="status" title={s.rt.connection === 'offline' ? t('conn.offlineHint') : undefined}>
        {t(`conn.${s.rt.connection}`)}
      </span>
      {s.rt.connection === 'offline' && (
        <button type="button" class="small conn-retry" data-testid="reconnect" onClick={() => actions.kick()}>
          {t('conn.retry')}
        </button>
      )}
      <button type="button" class="menu-btn" aria-expanded={menu} aria-controls="header-more" aria-label={t('header.menu')} onClick={() => setMenu(!menu)}>
        ☰
      </button>
      <span class="header-more" data-open={open}>
        {perm === 'default' && (
          <button type="button" class="small" onClick={async () => setPerm(await askNotificationPermission())}>
            {t('header.enableNotifications')}
          </button>
        )}
        <label class="check sound">
          <input
            type="checkbox"
            checked={sound}
            onChange={(e) => {
              setSoundOff(!e.currentTarget.checked);
              setSound(e.currentTarget.checked);
            }}
          />
          {t('header.sound')}
        </label>
        <LangPicker />
      </span>
      {me && (
        <label class={`status status-${me.status}`} data-status={me.status} data-testid="my-status">
          <span class="sr-only">{t('header.status')}</span>
          <select aria-label={t('header.status')} name="status" value={me.status} onChange={(e) => actions.setStatus(e.currentTarget.value as OperatorStatus)}>
            {STATUSES.map((st) => (
              <option key={st} value={st}>
                {t(`status.${st}`)}
              </option>
            ))}
          </select>
        </label>
      )}
      <span class="header-more" data-open={open}>
        {me && <Avatar name={me.name} avatar={me.avatar} />}
        {me && <span class="me-name">{me.name}</span>}
        <button type="button" class="small" onClick={() => void actions.signOut()}>
          {t('header.signOut')}
        </button>
      </span>
    </header>
  );
}
