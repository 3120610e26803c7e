import { useEffect, useState } from 'preact/hooks';
import { actions, t, useApp } from '../app';
import { type MailView, api } from '../api';
import { dateTime } from '../format';
import { errorText } from './Login';
import { ListState } from './SecretBox';

/** The open mail log is read again this often (the send job changes states on its own). */
export const MAIL_LOG_REFRESH_MS = 3_000;

/**
 * Admin → Mail: every e-mail of a site, sent, kept in the local mailbox (no SMTP_URL) or
 * received, with its state, error and attempts; a failed one can be sent again; each one's
 * text is readable here (which is how the local mailbox is read). Below: the visitors'
 * addresses that bounce.
 */
export function AdminMail() {
  const s = useApp();
  const [picked, setPicked] = useState('');
  const site = s.sites.some((x) => x.id === picked) ? picked : (s.sites[0]?.id ?? '');
  const [rows, setRows] = useState<{ site: string; mail: MailView[] } | null>(null);
  const [bounced, setBounced] = useState<{ address: string; reason: string; at: number }[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!site) return;
    let live = true;
    const load = () =>
      Promise.all([api.mailLog(site), api.bouncedAddresses(site)]).then(
        ([mail, b]) => {
          if (!live) return;
          setRows({ site, mail });
          setBounced(b);
          setError(null);
        },
        (e) => live && setError(errorText(e)),
      );
    void load();
    const timer = setInterval(() => void load(), MAIL_LOG_REFRESH_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [site, tick]);
  const mail = rows?.site === site ? rows.mail : null;
  const resend = async (m: MailView) => {
    try {
      await api.resendMail(site, m.id);
      actions.toast(t('mail.resent'));
    } catch (e) {
      actions.toast(errorText(e));
    }
    setTick((n) => n + 1);
  };
  return (
    <section class="admin-section mail" data-testid="mail-log">
      <h2>{t('mail.title')}</h2>
      <p class="hint">{t('mail.hint')}</p>
      {s.sites.length > 1 && (
        <label class="site-pick">
          {t('integrations.site')}
          <select name="mail-site" value={site} onChange={(e) => setPicked(e.currentTarget.value)}>
            {s.sites.map((x) => (
              <option key={x.id} value={x.id}>
                {x.name}
              </option>
            ))}
          </select>
        </label>
      )}
      <ListState error={error} items={mail} empty={t('mail.empty')} />
      {mail && mail.length > 0 && (
        <table class="list stack mail-log" aria-label={t('mail.title')}>
          <thead>
            <tr>
              <th>{t('mail.col.time')}</th>
              <th>{t('mail.col.kind')}</th>
              <th>{t('mail.col.to')}</th>
              <th>{t('mail.col.subject')}</th>
              <th>{t('mail.col.state')}</th>
              <th>{t('mail.col.attempts')}</th>
              <th>
                <span class="sr-only">{t('integrations.actions')}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {mail.map((m) => (
              <>
                <tr key={m.id} data-mail={m.id} data-state={m.state}>
                  <td data-label={t('mail.col.time')}>{dateTime(m.sentAt ?? m.createdAt, s.lang)}</td>
                  <td data-label={t('mail.col.kind')}>{t(`mail.kind.${m.kind}`)}</td>
                  <td data-label={t('mail.col.to')} class="break">
                    {m.to || '—'}
                  </td>
                  <td data-label={t('mail.col.subject')} class="break">
                    {m.subject || '—'}
                  </td>
                  <td data-label={t('mail.col.state')} data-testid="mail-state">
                    <span class={`pill mail-${m.state}`}>{t(`mail.state.${m.state}`)}</span>
                    {m.error && <span class="hint break"> {m.error}</span>}
                    {m.state === 'pending' && m.nextAt !== null && <span class="hint"> · {t('integrations.nextTry', { time: dateTime(m.nextAt, s.lang) })}</span>}
                  </td>
                  <td data-label={t('mail.col.attempts')}>{m.attempts}</td>
                  <td class="actions">
                    {m.text && (
                      <button type="button" class="small" aria-expanded={open === m.id} onClick={() => setOpen(open === m.id ? null : m.id)}>
                        {t('mail.read')}
                      </button>
                    )}
                    {m.state === 'failed' && (
                      <button type="button" class="small" onClick={() => void resend(m)}>
                        {t('mail.resend')}
                      </button>
                    )}
                  </td>
                </tr>
                {open === m.id && (
                  <tr key={`${m.id}-text`} class="mail-text">
                    <td colSpan={7}>
                      <p class="hint break">
                        {t('mail.from')}: {m.from || '—'}
                      </p>
                      <pre class="break">{m.text}</pre>
                    </td>
                  </tr>
                )}
              </>
            ))}
          </tbody>
        </table>
      )}
      <h3>{t('mail.bounced')}</h3>
      {bounced.length === 0 ? (
        <p class="hint">{t('mail.noBounced')}</p>
      ) : (
        <ul data-testid="bounced">
          {bounced.map((b) => (
            <li key={b.address} class="break">
              <span class="mono">{b.address}</span> — {b.reason} ({dateTime(b.at, s.lang)})
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
