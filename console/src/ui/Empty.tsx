import type { ComponentChildren } from 'preact';

/** An empty, loading or error state: centred in its pane, a title and a sentence that says what to do. */
export function EmptyState({ icon, title, children, kind = 'empty', testId }: { icon: string; title: string; children?: ComponentChildren; kind?: 'empty' | 'error' | 'loading'; testId?: string }) {
  return (
    <div class={`empty-state ${kind}`} role={kind === 'error' ? 'alert' : kind === 'loading' ? 'status' : undefined} data-testid={testId}>
      <span class="empty-icon" aria-hidden="true">
        {kind === 'loading' ? <span class="spinner" /> : icon}
      </span>
      <p class="empty-title">{title}</p>
      {children && <p>{children}</p>}
    </div>
  );
}
