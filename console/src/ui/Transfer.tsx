import type { ConvSummary } from '@hark/shared/protocol';
import { useState } from 'preact/hooks';
import { actions, t, useApp } from '../app';

/** Transfer to an operator of the conversation's site, or to a team, with a note for the receiver. */
export function Transfer({ conv, onDone }: { conv: ConvSummary; onDone: () => void }) {
  const s = useApp();
  const [target, setTarget] = useState('');
  const [note, setNote] = useState('');
  const me = s.rt.me;
  const ops = Object.values(s.rt.operators).filter((o) => o.id !== me?.id && o.sites.includes(conv.site));
  const teams = s.teams.filter((tm) => tm.sites.length === 0 || tm.sites.includes(conv.site));
  const submit = (e: Event) => {
    e.preventDefault();
    if (!target) return;
    const [kind, id] = target.split(':') as [string, string];
    actions.transfer(conv.id, kind === 'op' ? { to: id } : { team: id }, note);
    onDone();
  };
  return (
    <form class="transfer card" onSubmit={submit} aria-label={t('action.transfer')}>
      <label>
        {t('transfer.to')}
        <select name="target" value={target} onChange={(e) => setTarget(e.currentTarget.value)} required>
          <option value="">—</option>
          <optgroup label={t('transfer.operators')}>
            {ops.map((o) => (
              <option key={o.id} value={`op:${o.id}`}>
                {o.name} ({t(`status.${o.status}`)}, {o.load}/{o.capacity})
              </option>
            ))}
          </optgroup>
          <optgroup label={t('transfer.teams')}>
            {teams.map((tm) => (
              <option key={tm.id} value={`team:${tm.id}`}>
                {tm.name}
              </option>
            ))}
          </optgroup>
        </select>
      </label>
      <label>
        {t('transfer.note')}
        <textarea name="note" rows={2} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
      </label>
      <div class="row">
        <button type="submit" class="primary">
          {t('action.transfer')}
        </button>
        <button type="button" onClick={onDone}>
          {t('action.cancel')}
        </button>
      </div>
    </form>
  );
}
