import { render } from 'preact';
import { actions, getState } from './app';
import { unlockAudio } from './notify';
import { App } from './ui/App';

const root = document.getElementById('app');
if (root) render(<App />, root);
void actions.boot();

// Audio may only start after a gesture; the first one unlocks the knock for the shift.
for (const ev of ['pointerdown', 'keydown'] as const) addEventListener(ev, unlockAudio, { once: true, capture: true });
addEventListener('offline', () => actions.offline());
addEventListener('online', () => {
  if (getState().unreachable) void actions.boot();
  else actions.kick();
});

// The service worker (written by the build, console/pwa.ts) caches the shell, so the console opens
// without a network, installs as an app, and shows notifications while it is in the background.
if ('serviceWorker' in navigator) {
  addEventListener('load', () => {
    // A click on a notification while this window is open: the worker asks it to show that conversation.
    navigator.serviceWorker.addEventListener('message', (ev: MessageEvent<{ type?: string; path?: string }>) => {
      if (ev.data?.type === 'hark:open' && typeof ev.data.path === 'string') actions.openPath(ev.data.path);
    });
    navigator.serviceWorker.register('/console/sw.js', { scope: '/console/' }).catch(() => {
      // Not available (the dev server has none, a private window, an old browser): the console works without it.
    });
  });
}
