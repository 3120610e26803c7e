import { Conversation } from './Conversation';
import { Inbox } from './Inbox';
import { VisitorPanel } from './VisitorPanel';
import { t, useApp } from '../app';

export function Workspace() {
  const s = useApp();
  const conv = s.selected ? s.rt.convs[s.selected] : undefined;
  return (
    <div class="workspace">
      <Inbox />
      {conv ? (
        <>
          <Conversation conv={conv} />
          <VisitorPanel conv={conv} />
        </>
      ) : (
        <section class="empty-pane">
          <p>{t('conv.none')}</p>
          <p class="hint">{t('conv.hint')}</p>
        </section>
      )}
    </div>
  );
}
