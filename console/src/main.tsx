import { render } from 'preact';
import { actions } from './app';
import { unlockAudio } from './notify';
import { App } from './ui/App';

const root = document.getElementById('app');
if (root) render(<App />, root);
void actions.boot();

// Audio may only start after a gesture; the first one unlocks the beep for the shift.
for (const ev of ['pointerdown', 'keydown'] as const) addEventListener(ev, unlockAudio, { once: true, capture: true });
addEventListener('online', () => actions.kick());
