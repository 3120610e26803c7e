/**
 * A friendly, stable name for a visitor who has not given one ("Calm Beaver", "Mirni dabar",
 * "Спокойный бобр"), derived from the visitor id alone: the same visitor has the same name in
 * every console, list, typing line and notification, in the operator's language, until they
 * give a real name (or e-mail). Animals are grammatically masculine in Croatian and Russian so
 * the adjective always agrees.
 */
import type { Lang } from './i18n';

const ADJECTIVES: Record<Lang, readonly string[]> = {
  en: ['Calm', 'Brave', 'Bright', 'Gentle', 'Swift', 'Clever', 'Curious', 'Cheerful', 'Quiet', 'Bold', 'Kind', 'Lucky', 'Patient', 'Friendly', 'Wise', 'Sunny', 'Nimble', 'Polite', 'Playful', 'Steady'],
  hr: ['Mirni', 'Hrabri', 'Vedri', 'Blagi', 'Brzi', 'Pametni', 'Znatiželjni', 'Veseli', 'Tihi', 'Smjeli', 'Dobri', 'Sretni', 'Strpljivi', 'Ljubazni', 'Mudri', 'Sunčani', 'Spretni', 'Uljudni', 'Razigrani', 'Postojani'],
  ru: ['Спокойный', 'Смелый', 'Ясный', 'Кроткий', 'Быстрый', 'Умный', 'Любопытный', 'Весёлый', 'Тихий', 'Отважный', 'Добрый', 'Везучий', 'Терпеливый', 'Дружелюбный', 'Мудрый', 'Солнечный', 'Ловкий', 'Вежливый', 'Игривый', 'Стойкий'],
};

const ANIMALS: Record<Lang, readonly string[]> = {
  en: ['Fox', 'Bear', 'Wolf', 'Beaver', 'Hedgehog', 'Falcon', 'Dolphin', 'Badger', 'Eagle', 'Raven', 'Penguin', 'Tiger', 'Lion', 'Elk', 'Deer', 'Hare', 'Swan', 'Seal', 'Walrus', 'Sparrow'],
  hr: ['lisac', 'medvjed', 'vuk', 'dabar', 'jež', 'sokol', 'dupin', 'jazavac', 'orao', 'gavran', 'pingvin', 'tigar', 'lav', 'los', 'jelen', 'zec', 'labud', 'tuljan', 'morž', 'vrabac'],
  ru: ['лис', 'медведь', 'волк', 'бобр', 'ёж', 'сокол', 'дельфин', 'барсук', 'орёл', 'ворон', 'пингвин', 'тигр', 'лев', 'лось', 'олень', 'заяц', 'лебедь', 'тюлень', 'морж', 'воробей'],
};

/** FNV-1a over the id's UTF-16 units: fast, stable across browsers and reloads. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** The friendly name of a visitor id in `lang`: the same pair of words in every language. */
export function friendlyName(id: string, lang: Lang): string {
  const h = hash(id);
  const adj = ADJECTIVES[lang] ?? ADJECTIVES.en;
  const animal = ANIMALS[lang] ?? ANIMALS.en;
  const a = adj[h % adj.length] as string;
  const b = animal[Math.floor(h / adj.length) % animal.length] as string;
  return `${a} ${b}`;
}

/** Number of distinct friendly names (two visitors may share one; the console shows the id too where it matters). */
export const FRIENDLY_NAMES = ADJECTIVES.en.length * ANIMALS.en.length;
