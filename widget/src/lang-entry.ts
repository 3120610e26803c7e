import { CATALOGUE } from './lang';

(document.currentScript as (HTMLScriptElement & { hark?: (c: typeof CATALOGUE) => void }) | null)?.hark?.(CATALOGUE);
