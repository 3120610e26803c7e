import { Conversation } from './Conversation';
import { EmptyState } from './Empty';
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
        <section class="empty-pane" aria-label={t('conv.none')}>
          <EmptyState icon="💬" title={t('conv.none')}>
            {t('conv.hint')}
          </EmptyState>
        </section>
      )}
    </div>
  );
}
