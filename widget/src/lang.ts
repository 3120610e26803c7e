/** i18n.<lang>.js: one catalogue, handed to the chat that loaded it through its `<script>` element (no global). */
import type { Catalogue } from './i18n';
import { en } from './i18n/en';
import { hr } from './i18n/hr';
import { ru } from './i18n/ru';

declare const __LANG__: string;

/** Folded to one catalogue at build time (the others are dropped as unused). */
export const CATALOGUE: Catalogue = __LANG__ === 'hr' ? hr : __LANG__ === 'ru' ? ru : en;
