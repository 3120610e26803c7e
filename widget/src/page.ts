/**
 * Where the visitor is. SPAs change routes with history.pushState, which fires no
 * event; rather than patch the page's `history` (no prototype or global changes),
 * the widget listens to popstate/hashchange and also polls location.href, which is
 * a string compare.
 */
import type { PageInfo } from '@hark/shared/protocol';

export const PAGE_POLL_MS = 1_000;

export function pageInfo(title: string): PageInfo {
  const p: PageInfo = { url: location.href.slice(0, 2048), title: title.slice(0, 512) };
  if (document.referrer) p.referrer = document.referrer.slice(0, 2048);
  return p;
}

/** Calls `fn` after the URL changes; returns a function that stops watching. */
export function watchPage(fn: () => void): () => void {
  let href = location.href;
  const check = () => {
    if (location.href === href) return;
    href = location.href;
    fn();
  };
  addEventListener('popstate', check);
  addEventListener('hashchange', check);
  const t = setInterval(check, PAGE_POLL_MS);
  return () => {
    removeEventListener('popstate', check);
    removeEventListener('hashchange', check);
    clearInterval(t);
  };
}
