/**
 * The words of Hark's e-mails in the console's and the widget's three languages (en, hr, ru).
 * `{name}` variables are filled by `mailText`; a test checks every language has every key.
 */
export type MailLang = 'en' | 'hr' | 'ru';
export const MAIL_LANGS: readonly MailLang[] = ['en', 'hr', 'ru'];

const en = {
  'notify.subject': 'New message from {who} on {site}',
  'notify.intro': '{who} left a message on {site} while nobody was online:',
  'notify.email': 'Visitor e-mail: {email}',
  'notify.link': 'Open the conversation: {link}',
  'notify.how': 'Answer in the console: your answer reaches the visitor by e-mail.',
  'reply.subject': 'New reply from {site}',
  'reply.from': '{op} from {site}',
  'reply.how': 'Reply to this e-mail to answer.',
  'reply.page': 'Or continue on the page you chatted from: {page}',
  'reply.earlier': 'Earlier in the conversation:',
  'transcript.subject': 'Your conversation with {site}',
  'transcript.intro': 'Here is a copy of your conversation with {site}.',
  'who.visitor': 'You',
  'who.visitorTeam': 'Visitor',
  'who.anonymous': 'A visitor',
};
type Key = keyof typeof en;

const hr: Record<Key, string> = {
  'notify.subject': 'Nova poruka od {who} na {site}',
  'notify.intro': '{who} ostavlja poruku na {site} dok nitko nije bio na mreži:',
  'notify.email': 'E-mail posjetitelja: {email}',
  'notify.link': 'Otvori razgovor: {link}',
  'notify.how': 'Odgovorite u konzoli: vaš odgovor stiže posjetitelju e-mailom.',
  'reply.subject': 'Novi odgovor od {site}',
  'reply.from': '{op} iz {site}',
  'reply.how': 'Odgovorite na ovaj e-mail.',
  'reply.page': 'Ili nastavite na stranici s koje ste pisali: {page}',
  'reply.earlier': 'Ranije u razgovoru:',
  'transcript.subject': 'Vaš razgovor sa {site}',
  'transcript.intro': 'Evo kopije vašeg razgovora sa {site}.',
  'who.visitor': 'Vi',
  'who.visitorTeam': 'Posjetitelj',
  'who.anonymous': 'Posjetitelj',
};

const ru: Record<Key, string> = {
  'notify.subject': 'Новое сообщение от {who} на {site}',
  'notify.intro': '{who} оставил(а) сообщение на {site}, когда никого не было в сети:',
  'notify.email': 'E-mail посетителя: {email}',
  'notify.link': 'Открыть разговор: {link}',
  'notify.how': 'Ответьте в консоли: ответ придёт посетителю по e-mail.',
  'reply.subject': 'Новый ответ от {site}',
  'reply.from': '{op} из {site}',
  'reply.how': 'Ответьте на это письмо, чтобы продолжить разговор.',
  'reply.page': 'Или продолжите на странице, где вы писали: {page}',
  'reply.earlier': 'Ранее в разговоре:',
  'transcript.subject': 'Ваш разговор с {site}',
  'transcript.intro': 'Копия вашего разговора с {site}.',
  'who.visitor': 'Вы',
  'who.visitorTeam': 'Посетитель',
  'who.anonymous': 'Посетитель',
};

export const MAIL_CATALOGUES: Record<MailLang, Record<Key, string>> = { en, hr, ru };

export function mailText(lang: MailLang, key: Key, vars: Record<string, string> = {}): string {
  const s = MAIL_CATALOGUES[lang][key] ?? en[key];
  return s.replace(/\{(\w+)\}/g, (m, k: string) => vars[k] ?? m);
}

/** A visitor's or site's language tag (`hr-HR`, `ru`, …) as one of the three; English otherwise. */
export function mailLang(tag: string | undefined): MailLang {
  const base = (tag ?? '').toLowerCase().split(/[-_]/)[0];
  return base === 'hr' || base === 'ru' ? base : 'en';
}
