import type { ConvSummary } from '@hark/shared/protocol';
import { useEffect, useState } from 'preact/hooks';
import { actions, t } from '../app';
import { type ConvMailStatus, api } from '../api';
import { errorText } from './Login';

/**
 * E-mail in a conversation: a transcript to the visitor's own address (never notes), and a
 * warning when mail to that address bounces (answers then cannot reach them by e-mail).
 */
export function ConvMail({ conv }: { conv: ConvSummary }) {
  const [st, setSt] = useState<ConvMailStatus | null>(null);
  const [busy, setBusy] = useState(false);
  const email = conv.visitor.email ?? '';
  useEffect(() => {
    let live = true;
    setSt(null);
    if (!email) return;
    api.convMail(conv.id).then(
      (r) => live && setSt(r),
      () => live && setSt(null),
    );
    return () => {
      live = false;
    };
  }, [conv.id, email]);
  if (!st?.email) return null;
  const send = async () => {
    setBusy(true);
    try {
      await api.sendTranscript(conv.id);
      actions.toast(t('conv.transcriptSent', { email: st.email ?? '' }));
    } catch (e) {
      actions.toast(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="conv-mail row">
      {st.bounced ? (
        <p class="warn-note break" role="status" data-testid="email-failing">
          {t('conv.emailFailing', { email: st.email, reason: st.bounced })}
        </p>
      ) : (
        <button type="button" class="small" disabled={busy} onClick={() => void send()}>
          {t('conv.transcript')}
        </button>
      )}
    </div>
  );
}
