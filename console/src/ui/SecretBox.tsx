/** Pieces the integrations screens share: a secret shown once, copying, and readable errors. */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { actions, t } from '../app';
import { ApiError } from '../api';
import { integrationErrorKey } from '../integrations';
import { errorText } from './Login';
import { EmptyState } from './Empty';

/** An error of an integrations call as a readable message: by its code, in context; else the general one. */
export function problemText(e: unknown, what: 'apiKey' | 'webhook' | 'visitor'): string {
  if (e instanceof ApiError) {
    const key = integrationErrorKey(e.code, what);
    if (key) return t(key, { detail: e.message });
  }
  return errorText(e);
}

export async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    actions.toast(t('admin.copied'));
  } catch {
    actions.toast(t('admin.copyFailed'));
  }
}

/** A secret shown once: focused (so a keyboard user lands on it), with Copy and a clear "you will not see it again". */
export function SecretBox({ title, secret, onClose, children }: { title: string; secret: string; onClose: () => void; children?: ComponentChildren }) {
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    input.current?.focus();
  }, [secret]);
  const id = `secret-${secret.slice(-8).replace(/[^A-Za-z0-9]/g, '')}`;
  return (
    <section class="secret" aria-labelledby={id}>
      <p id={id}>
        <strong>{title}</strong>
      </p>
      <p>{t('integrations.secretOnce')}</p>
      {children}
      <div class="row secret-row">
        <input ref={input} class="grow mono" readOnly value={secret} data-testid="secret" aria-label={title} onFocus={(e) => e.currentTarget.select()} />
        <button type="button" class="small" onClick={() => void copyText(secret)}>
          {t('action.copy')}
        </button>
        <button type="button" class="small" onClick={onClose}>
          {t('integrations.done')}
        </button>
      </div>
    </section>
  );
}

/** The states of a list being fetched: its error, "Loading…" before the first answer, the empty text. */
export function ListState({ error, items, empty }: { error: string | null; items: readonly unknown[] | null | undefined; empty: string }) {
  return (
    <>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {items === null && !error && <EmptyState kind="loading" icon="" title={t('app.loading')} />}
      {items?.length === 0 && <EmptyState icon="∅" title={empty} />}
    </>
  );
}
