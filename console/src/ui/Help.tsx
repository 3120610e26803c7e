import { actions, t } from '../app';
import { SHORTCUTS } from '../shortcuts';

export function Help() {
  return (
    <div class="overlay">
      <div class="card help" role="dialog" aria-modal="true" aria-label={t('help.title')}>
        <h2>{t('help.title')}</h2>
        <table>
          <tbody>
            {SHORTCUTS.map((k) => (
              <tr key={k.keys}>
                <td>
                  <kbd>{k.keys}</kbd>
                </td>
                <td>{t(`key.${k.action}`)}</td>
              </tr>
            ))}
            <tr>
              <td>
                <kbd>Enter</kbd> / <kbd>Shift+Enter</kbd>
              </td>
              <td>{t('key.send')}</td>
            </tr>
            <tr>
              <td>
                <kbd>/</kbd>
              </td>
              <td>{t('key.replies')}</td>
            </tr>
          </tbody>
        </table>
        <button type="button" onClick={() => actions.toggleHelp(false)}>
          {t('action.close')}
        </button>
      </div>
    </div>
  );
}
