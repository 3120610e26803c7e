import { useState } from 'preact/hooks';
import { actions, t, useApp } from '../app';
import { MIN_PASSWORD, api } from '../api';
import { avatarFromFile } from '../image';
import { Avatar } from './Avatar';
import { errorText } from './Login';

/** The operator's own photo: visitors see it in the chat's header. */
function MyPhoto() {
  const me = useApp().rt.me;
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  if (!me) return null;
  const save = async (avatar: string) => {
    try {
      await actions.setMyAvatar(avatar);
      setMsg({ ok: true, text: t('account.photoSaved') });
    } catch (err) {
      setMsg({ ok: false, text: errorText(err) });
    }
  };
  return (
    <div class="card form" data-testid="my-photo">
      <h3>{t('account.photo')}</h3>
      <div class="row">
        <Avatar name={me.name} avatar={me.avatar} size="l" />
        <input
          type="file"
          accept="image/png,image/jpeg,image/webp"
          aria-label={t('account.photo')}
          onChange={async (e) => {
            const f = e.currentTarget.files?.[0];
            if (!f) return;
            try {
              await save(await avatarFromFile(f));
            } catch (err) {
              setMsg({ ok: false, text: errorText(err) });
            }
          }}
        />
        {me.avatar && (
          <button type="button" class="small" onClick={() => void save('')}>
            {t('admin.useInitials')}
          </button>
        )}
      </div>
      <p class="hint">{t('account.photoHint')}</p>
      {msg && (
        <p class={msg.ok ? 'ok' : 'error'} role="alert">
          {msg.text}
        </p>
      )}
    </div>
  );
}

/** The operator's own name (what visitors see beside their messages); the avatar is set beside it. */
function NameForm() {
  const s = useApp();
  const me = s.rt.me;
  const [name, setName] = useState(me?.name ?? '');
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  if (!me) return null;
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      const op = await api.updateOperator(me.id, { name: name.trim() });
      // The socket's record doorbell carries the status only: the header shows the new name now.
      actions.patch((st) => ({ rt: st.rt.me ? { ...st.rt, me: { ...st.rt.me, name: op.name } } : st.rt }));
      setMsg({ ok: true, text: t('account.nameSaved') });
      void actions.reload();
    } catch (err) {
      setMsg({ ok: false, text: errorText(err) });
    }
  };
  return (
    <form class="card form" onSubmit={submit} aria-label={t('account.yourName')}>
      <h3>{t('account.yourName')}</h3>
      <label>
        {t('field.name')}
        <input name="name" required maxLength={100} autocomplete="name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <p class="hint">{t('account.nameHint')}</p>
      {msg && (
        <p class={msg.ok ? 'ok' : 'error'} role="alert">
          {msg.text}
        </p>
      )}
      <button type="submit" class="primary">
        {t('action.save')}
      </button>
    </form>
  );
}

export function Account() {
  const s = useApp();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (next !== again) return setMsg({ ok: false, text: t('account.mismatch') });
    try {
      await api.changePassword(current, next);
      setCurrent('');
      setNext('');
      setAgain('');
      setMsg({ ok: true, text: t('account.changed') });
    } catch (err) {
      setMsg({ ok: false, text: errorText(err) });
    }
  };
  return (
    <div class="account">
      <div class="card">
        <h2>{s.rt.me?.name}</h2>
        <p class="hint">
          {s.rt.me?.email} · {s.rt.me ? t(`role.${s.rt.me.role}`) : ''}
        </p>
      </div>
      <NameForm />
      <MyPhoto />
      <form class="card form" onSubmit={submit} aria-label={t('account.changePassword')}>
        <h3>{t('account.changePassword')}</h3>
        <label>
          {t('account.current')}
          <input type="password" name="current" autocomplete="current-password" required value={current} onInput={(e) => setCurrent(e.currentTarget.value)} />
        </label>
        <label>
          {t('account.new')}
          <input type="password" name="next" autocomplete="new-password" minLength={MIN_PASSWORD} required value={next} onInput={(e) => setNext(e.currentTarget.value)} />
        </label>
        <label>
          {t('account.again')}
          <input type="password" name="again" autocomplete="new-password" minLength={MIN_PASSWORD} required value={again} onInput={(e) => setAgain(e.currentTarget.value)} />
        </label>
        <p class="hint">{t('account.othersSignedOut')}</p>
        {msg && (
          <p class={msg.ok ? 'ok' : 'error'} role="alert">
            {msg.text}
          </p>
        )}
        <button type="submit" class="primary">
          {t('account.changePassword')}
        </button>
      </form>
    </div>
  );
}
