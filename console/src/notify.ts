/**
 * "Never ignore": a short beep, a desktop notification while the tab is not
 * focused, and a counter in the tab title. The beep is synthesised with
 * WebAudio so there is no audio file to fetch (and nothing for the CSP to block).
 */

/** Long enough to hear over office noise, short enough not to annoy. */
const BEEP_MS = 180;
const BEEP_HZ = 880;
const BEEP_GAIN = 0.15;

let audio: AudioContext | null = null;

/** Browsers only let audio start after a user gesture; call this from the first click or key. */
export function unlockAudio(): void {
  if (audio || typeof AudioContext === 'undefined') return;
  try {
    audio = new AudioContext();
  } catch {
    audio = null;
  }
}

export function beep(): void {
  if (!audio) return;
  if (audio.state === 'suspended') void audio.resume();
  const osc = audio.createOscillator();
  const gain = audio.createGain();
  osc.type = 'sine';
  osc.frequency.value = BEEP_HZ;
  gain.gain.value = BEEP_GAIN;
  osc.connect(gain).connect(audio.destination);
  const t = audio.currentTime;
  gain.gain.setValueAtTime(BEEP_GAIN, t);
  gain.gain.exponentialRampToValueAtTime(0.0001, t + BEEP_MS / 1000);
  osc.start(t);
  osc.stop(t + BEEP_MS / 1000);
}

export function tabHasFocus(): boolean {
  return document.visibilityState === 'visible' && document.hasFocus();
}

export function notificationPermission(): NotificationPermission | 'unsupported' {
  return typeof Notification === 'undefined' ? 'unsupported' : Notification.permission;
}

export async function askNotificationPermission(): Promise<NotificationPermission | 'unsupported'> {
  if (typeof Notification === 'undefined') return 'unsupported';
  return Notification.requestPermission();
}

/** Shows a desktop notification when the tab is not focused; clicking it brings the conversation up. */
export function desktopNotify(title: string, body: string, tag: string, onClick: () => void): Notification | null {
  if (typeof Notification === 'undefined' || Notification.permission !== 'granted' || tabHasFocus()) return null;
  let n: Notification;
  try {
    n = new Notification(title, { body, tag });
  } catch {
    // Some platforms (Android Chrome) allow notifications only from a service worker; the beep and title still work.
    return null;
  }
  n.onclick = () => {
    window.focus();
    onClick();
    n.close();
  };
  return n;
}

export function titleWithCount(base: string, count: number): string {
  return count > 0 ? `(${count}) ${base}` : base;
}
