import { useState } from 'preact/hooks';
import { actions, t, useApp } from '../app';
import { api } from '../api';
import type { SavedReply } from '../replies';
import { errorText } from './Login';
import { EmptyState } from './Empty';

function ReplyForm({ reply, onDone }: { reply: SavedReply | null; onDone: () => void }) {
  const s = useApp();
  const me = s.rt.me;
  // Site-wide replies: admins for any site, supervisors for their own sites (the server checks the same).
  const shareable = s.sites.filter((site) => me?.role === 'admin' || (me?.role === 'supervisor' && me.sites.includes(site.id)));
  const [shortcut, setShortcut] = useState(reply?.shortcut ?? '');
  const [text, setText] = useState(reply?.text ?? '');
  // '' = personal; a site id = shared with everyone on that site (admins only).
  const [scope, setScope] = useState(reply?.site ?? '');
  const [error, setError] = useState<string | null>(null);
  const save = async (e: Event) => {
    e.preventDefault();
    const body: Omit<SavedReply, 'id'> = { shortcut: shortcut.trim().replace(/^\//, ''), text };
    if (scope) body.site = scope;
    try {
      if (reply) await api.updateReply(reply.id, body);
      else await api.createReply(body);
      await actions.reload();
      onDone();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <form class="card form" onSubmit={save} aria-label={t('admin.newReply')}>
      <label>
        {t('field.shortcut')}
        <input name="shortcut" required pattern="/?[A-Za-z0-9_.\-]+" value={shortcut} onInput={(e) => setShortcut(e.currentTarget.value)} />
      </label>
      <label>
        {t('field.text')}
        <textarea name="text" required rows={4} value={text} onInput={(e) => setText(e.currentTarget.value)} />
      </label>
      <p class="hint">{t('admin.replyHint')}</p>
      <label>
        {t('field.scope')}
        <select name="scope" value={scope} onChange={(e) => setScope(e.currentTarget.value)} disabled={!!reply}>
          <option value="">{t('admin.personal')}</option>
          {shareable.map((site) => (
              <option key={site.id} value={site.id}>
                {t('admin.forSite', { site: site.name })}
              </option>
            ))}
        </select>
      </label>
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

export function AdminReplies() {
  const s = useApp();
  const [editing, setEditing] = useState<string | null>(null);
  const reply = s.replies.find((r) => r.id === editing) ?? null;
  const me = s.rt.me;
  const canEdit = (r: SavedReply) => (r.site ? me?.role === 'admin' || (me?.role === 'supervisor' && me.sites.includes(r.site)) : r.owner === me?.id);
  return (
    <section class="admin-section">
      <div class="row">
        <h2 class="grow">{t('admin.replies')}</h2>
        <button type="button" class="primary" onClick={() => setEditing('new')}>
          {t('admin.newReply')}
        </button>
      </div>
      {editing && <ReplyForm key={editing} reply={reply} onDone={() => setEditing(null)} />}
      {s.replies.length === 0 && !editing && (
        <EmptyState icon="⚡" title={t('replies.empty')} testId="replies-empty">
          {t('replies.emptyHint')}
        </EmptyState>
      )}
      <table class="list" hidden={s.replies.length === 0}>
        <tbody>
          {s.replies.map((r) => (
            <tr key={r.id} data-reply={r.shortcut}>
              <td>
                <code>/{r.shortcut}</code>
              </td>
              <td class="pre">{r.text}</td>
              <td class="hint">{r.site ? (s.sites.find((x) => x.id === r.site)?.name ?? r.site) : t('admin.personal')}</td>
              <td>
                {canEdit(r) && (
                  <>
                    <button type="button" class="small" onClick={() => setEditing(r.id)}>
                      {t('action.edit')}
                    </button>{' '}
                    <button
                      type="button"
                      class="small danger"
                      onClick={async () => {
                        if (!confirm(t('admin.confirmDelete'))) return;
                        await api.deleteReply(r.id).catch((e) => actions.toast(errorText(e)));
                        await actions.reload();
                      }}
                    >
                      {t('action.delete')}
                    </button>
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
