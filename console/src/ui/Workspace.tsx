import { Conversation } from './Conversation';
import { Inbox } from './Inbox';
import { VisitorPanel } from './VisitorPanel';
import { t, useApp } from '../app';

export function Workspace() {
  const s = useApp();
  const conv = s.selected ? s.rt.convs[s.selected] : undefined;
  return (
    // Which view a phone shows (styles.css stacks them: list → conversation → details); wide screens show them side by side.
    <div class="workspace" data-pane={!conv ? 'list' : s.details ? 'details' : 'conv'}>
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
