import { actions, t, useApp } from '../app';
import { LANGS } from '../i18n';

/** The language picker of the sign-in form and the header (one control, one behaviour). */
export function LangPicker() {
  const s = useApp();
  return (
    <select class="lang" aria-label={t('header.language')} value={s.lang} onChange={(e) => actions.setLang(e.currentTarget.value as never)}>
      {LANGS.map((l) => (
        <option key={l.id} value={l.id}>
          {l.name}
        </option>
      ))}
    </select>
  );
}
