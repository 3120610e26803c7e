import type { ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { actions, getState as getStateForKeys, t, useApp } from '../app';
import { keyAction } from '../shortcuts';
import { Account } from './Account';
import { EmptyState } from './Empty';
import { Admin } from './Admin';
import { Header } from './Header';
import { Help } from './Help';
import { Login } from './Login';
import { Stats } from './Stats';
import { Workspace } from './Workspace';

function isTyping(el: Element | null): boolean {
  if (!el) return false;
  const tag = el.tagName;
  return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || (el as HTMLElement).isContentEditable;
}

function onKey(ev: KeyboardEvent): void {
  const action = keyAction(ev, isTyping(document.activeElement));
  const state = getStateForKeys();
  if (!action || state.auth !== 'signed-in') return;
  if (action === 'close') {
    actions.toggleHelp(false);
    return;
  }
  if (action === 'blur') {
    (document.activeElement as HTMLElement | null)?.blur();
    return;
  }
  if (action === 'help') {
    ev.preventDefault();
    actions.toggleHelp();
    return;
  }
  if (state.screen !== 'inbox') return;
  ev.preventDefault();
  const sel = state.selected;
  const run: Record<typeof action, () => void> = {
    next: () => actions.move(1),
    prev: () => actions.move(-1),
    composer: () => document.getElementById('composer')?.focus(),
    resolve: () => sel && actions.resolve(sel),
    take: () => sel && actions.take(sel),
    view1: () => actions.setView('mine'),
    view2: () => actions.setView('queue'),
    view3: () => actions.setView('all'),
    view4: () => actions.setView('resolved'),
  };
  run[action]();
}

/** The Reports view and its charts, fetched the first time it opens (a chunk of its own). */
function LazyReports() {
  const [View, setView] = useState<ComponentType | null>(null);
  useEffect(() => {
    let live = true;
    void import('./Reports').then((m) => live && setView(() => m.Reports));
    return () => {
      live = false;
    };
  }, []);
  return View ? <View /> : <EmptyState kind="loading" icon="" title={t('app.loading')} />;
}

export function App() {
  const s = useApp();
  useEffect(() => {
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, []);
  if (s.auth === 'unknown') return <EmptyState kind="loading" icon="" title={t('app.loading')} />;
  if (s.auth === 'signed-out') return <Login />;
  return (
    <div class="shell">
      <Header />
      <main class="main">
        {/* The page's one level-one heading: the screen's name, for screen readers (the header shows it as the active tab). */}
        <h1 class="sr-only">{t(`screen.${s.screen}`)}</h1>
        {s.screen === 'inbox' && <Workspace />}
        {s.screen === 'stats' && <Stats />}
        {s.screen === 'reports' && <LazyReports />}
        {s.screen === 'admin' && <Admin />}
        {s.screen === 'account' && <Account />}
      </main>
      {s.help && <Help />}
      {s.toast && (
        <div class="toast" role="alert">
          <span>{s.toast}</span>
          <button type="button" class="link" onClick={() => actions.toast(null)} aria-label={t('action.close')}>
            ×
          </button>
        </div>
      )}
    </div>
  );
}
