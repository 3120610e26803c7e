/**
 * "Never ignore": a short knock, a notification while the tab is not focused (through the
 * service worker when there is one), and a counter in the tab title. The knock is synthesised
 * with WebAudio so there is no audio file to fetch (and nothing for the CSP to allow).
 */

/** The knock: two short, low, woody taps (synthesised: no file to fetch, nothing for the CSP to allow). */
const KNOCKS_S = [0, 0.14];
const KNOCK_S = 0.09;
const KNOCK_HZ = [190, 80];
const KNOCK_GAIN = 0.5;
const MUTE_KEY = 'hark:console:sound';

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

/** Whether the operator turned the knock off (kept in this browser). */
export function soundOff(): boolean {
  try {
    return localStorage.getItem(MUTE_KEY) === 'off';
  } catch {
    return false;
  }
}

export function setSoundOff(off: boolean): void {
  try {
    if (off) localStorage.setItem(MUTE_KEY, 'off');
    else localStorage.removeItem(MUTE_KEY);
  } catch {
    // Storage disabled: the setting lasts as long as the page.
  }
}

/** The knock of a new chat (or of a message the operator is not looking at), unless muted. */
export function knock(): void {
  if (!audio || soundOff()) return;
  if (audio.state === 'suspended') void audio.resume();
  const t0 = audio.currentTime;
  for (const at of KNOCKS_S) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = 'triangle';
    // A falling pitch and a fast decay read as a knuckle on wood, not a beep.
    osc.frequency.setValueAtTime(KNOCK_HZ[0] as number, t0 + at);
    osc.frequency.exponentialRampToValueAtTime(KNOCK_HZ[1] as number, t0 + at + KNOCK_S);
    gain.gain.setValueAtTime(0.0001, t0 + at);
    gain.gain.exponentialRampToValueAtTime(KNOCK_GAIN, t0 + at + 0.004);
    gain.gain.exponentialRampToValueAtTime(0.0001, t0 + at + KNOCK_S);
    osc.connect(gain).connect(audio.destination);
    osc.start(t0 + at);
    osc.stop(t0 + at + KNOCK_S);
  }
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

/**
 * Shows a notification when the tab is not focused. Through the service worker when it controls
 * the page (the only way on Android, and it outlives a closed tab: a click focuses a console window
 * at `path`, or opens one, sw.js); else a page notification whose click calls `onClick`.
 */
export function desktopNotify(title: string, body: string, tag: string, path: string, onClick: () => void): void {
  if (typeof Notification === 'undefined' || Notification.permission !== 'granted' || tabHasFocus()) return;
  const options = { body, tag, icon: '/console/icon-192.png', data: { path } };
  const sw = typeof navigator !== 'undefined' ? navigator.serviceWorker : undefined;
  if (sw?.controller) {
    void sw.ready.then((r) => r.showNotification(title, options)).catch(() => {});
    return;
  }
  let n: Notification;
  try {
    n = new Notification(title, options);
  } catch {
    // Some platforms allow notifications only from a service worker; the knock and title still work.
    return;
  }
  n.onclick = () => {
    window.focus();
    onClick();
    n.close();
  };
}

/** How long a new chat's notification, shown before the visitor's first words reached this console, waits to take them in. */
export const FIRST_WORDS_MS = 30_000;

/**
 * New chats notified by name only: their summary came before the visitor's first message. That
 * message then replaces the same notification (same tag) with its words, with no second knock,
 * rather than arriving as a separate "new message" under another title.
 */
export class Wordless {
  private readonly since = new Map<string, number>();

  mark(conv: string, now: number): void {
    for (const [id, at] of this.since) if (now - at > FIRST_WORDS_MS) this.since.delete(id);
    this.since.set(conv, now);
  }

  /** Whether this conversation's first words complete its new-chat notification (asked once). */
  take(conv: string, now: number): boolean {
    const at = this.since.get(conv);
    this.since.delete(conv);
    return at !== undefined && now - at <= FIRST_WORDS_MS;
  }
}

export function titleWithCount(base: string, count: number): string {
  return count > 0 ? `(${count}) ${base}` : base;
}
