/**
 * The console's URLs (history API): each screen, inbox view and conversation has its own,
 * under /console/, so a reload keeps what was on screen and back/forward walk it. Pure, so
 * it is unit-tested directly; app.ts pushes and applies them.
 *
 *   /console/                      the inbox, Mine
 *   /console/queue                 an inbox view (mine, queue, all, resolved)
 *   /console/queue/CONV            a conversation, in that view
 *   /console/queue/CONV/visitor    its visitor's details (a view of their own on a phone)
 *   /console/stats, /console/reports, /console/account
 *   /console/admin, /console/admin/TAB
 */
import { VIEWS, type View } from './inbox';

export const CONSOLE_BASE = '/console/';

export type Route =
  | { screen: 'inbox'; view: View; conv: string | null; details?: true }
  | { screen: 'stats' }
  | { screen: 'reports' }
  | { screen: 'account' }
  | { screen: 'admin'; tab: string | null };

/** What a conversation id or an admin tab may look like in a URL (the protocol's ids). */
const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

export const HOME: Route = { screen: 'inbox', view: 'mine', conv: null };

/** The route of a path; anything unknown is the inbox. */
export function parseRoute(pathname: string): Route {
  const rest = pathname.startsWith(CONSOLE_BASE) ? pathname.slice(CONSOLE_BASE.length) : '';
  const parts = rest.split('/').filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return '';
    }
  });
  const [head, second, third] = parts;
  if (head === 'stats' || head === 'reports' || head === 'account') return { screen: head };
  if (head === 'admin') return { screen: 'admin', tab: second && ID_RE.test(second) ? second : null };
  if (head && (VIEWS as readonly string[]).includes(head)) {
    const conv = second && ID_RE.test(second) ? second : null;
    return conv && third === 'visitor' ? { screen: 'inbox', view: head as View, conv, details: true } : { screen: 'inbox', view: head as View, conv };
  }
  return HOME;
}

/** The path of a route (parseRoute's inverse). */
export function routePath(r: Route): string {
  switch (r.screen) {
    case 'inbox':
      if (!r.conv) return r.view === 'mine' ? CONSOLE_BASE : `${CONSOLE_BASE}${r.view}`;
      return `${CONSOLE_BASE}${r.view}/${encodeURIComponent(r.conv)}${r.details ? '/visitor' : ''}`;
    case 'admin':
      return r.tab ? `${CONSOLE_BASE}admin/${encodeURIComponent(r.tab)}` : `${CONSOLE_BASE}admin`;
    default:
      return `${CONSOLE_BASE}${r.screen}`;
  }
}
