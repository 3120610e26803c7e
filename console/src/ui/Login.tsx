import { useState } from 'preact/hooks';
import { actions, t, useApp } from '../app';
import { ApiError } from '../api';
import { LangPicker } from './LangPicker';

export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    const key = `error.${e.code}`;
    const known = t(key as never);
    return known === key ? e.message : known;
  }
  return e instanceof Error ? e.message : String(e);
}

export function Login() {
  const s = useApp();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await actions.signIn(email.trim(), password);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <form class="card login-card" onSubmit={submit}>
        <span class="login-brand brand" aria-hidden="true">
          Hark
        </span>
        <h1>{t('login.title')}</h1>
        {s.unreachable && (
          <p class="warn-note" role="status" data-testid="unreachable">
            {t('login.unreachable')}
          </p>
        )}
        <label>
          {t('login.email')}
          <input type="email" name="email" autocomplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label>
          {t('login.password')}
          <input
            type="password"
            name="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {t('login.submit')}
        </button>
        <LangPicker />
      </form>
    </main>
  );
}
