/**
 * Visitors: their profile (what the widget and the pre-chat and offline forms tell us,
 * and the site owner's verified identity), within fixed bounds per visitor, and their
 * tokens. What one anonymous party can store is bounded here, whatever the number of
 * frames, sockets or gateways: at most MAX_ATTRS attributes in total, a name of
 * MAX_VISITOR_NAME and an e-mail of MAX_VISITOR_EMAIL characters, one current page.
 *
 * A verified identity (identify with the site secret's HMAC of the user id) locks the
 * user id, name and e-mail it came with: an unverified identify or a pre-chat form
 * cannot change them afterwards (the console shows them as verified).
 */
import { HarkError, type Identity, MAX_ATTRS, MAX_VISITOR_EMAIL, MAX_VISITOR_NAME } from '@hark/shared';
import { fnv1a } from '../store/event-log';
import { siteSignal, visitorSignal } from '../store/signals';
import { randomId } from '@hark/shared';
import { type VisitorPatch, type VisitorRecord, getVisitor, keepToken, markGone, markPresent, presentOf, registerVisitor, updateVisitor, visitorAttrs, visitorForToken } from '../store/visitors';
import type { Deps } from './deps';
import { verifyIdentity } from './identity';

export type { VisitorPatch, VisitorRecord } from '../store/visitors';
export { visitorInfo } from '../store/visitors';

/** A gateway's lease on "this visitor is on the site" lasts this long unless renewed (a gateway that dies stops renewing). */
export const VISITOR_PRESENCE_TTL_MS = 60_000;
/** Each gateway renews its visitors' leases this often (only visitors following a conversation hold one). */
export const VISITOR_PRESENCE_RENEW_MS = 20_000;
/**
 * The renewal (and the site views' presence recheck and reconcile) is done in this many parts, one
 * every VISITOR_PRESENCE_RENEW_MS / VISITOR_PRESENCE_SLICES: a gateway with thousands of visitors
 * sends a slice of their renewals each second instead of all of them in one tick every 20 s, which
 * queued ahead of chat messages on the command connection (issue 20: the periodic stall).
 */
export const VISITOR_PRESENCE_SLICES = 20;

/** One part of a round over ids: the ids whose hash modulo `n` is `k`. */
export interface Slice {
  k: number;
  n: number;
}

/** Whether `id` is in `slice` (always, without one): a stable hash, so each id is in one part of every round. */
export function inSlice(id: string, slice?: Slice): boolean {
  if (!slice || slice.n <= 1) return true;
  return fnv1a(id) % slice.n === slice.k;
}

/** A visitor whose last socket here closed is "gone" only after this long without a new one: a page load is a close and a connect. */
export const VISITOR_GONE_GRACE_MS = 3_000;

interface Here {
  site: string;
  sockets: number;
  gone?: NodeJS.Timeout;
}

export class Visitors {
  /** Visitors with a socket on this gateway that holds a presence lease, and how many. */
  private readonly here = new Map<string, Here>();
  /** This gateway's name in the visitors' presence sets. */
  private readonly gw = randomId(12);

  constructor(private readonly d: Deps) {}

  /**
   * A socket of the visitor here follows one of their conversations: the visitor is on the site.
   * The first one here takes the lease and tells the site's operators (through `conv`'s view)
   * unless the caller does (`tell` false: a hello tells them once for the new page as well).
   */
  async arrived(site: string, visitor: string, conv: string, tell = true): Promise<void> {
    const h = this.here.get(visitor);
    if (h) {
      h.sockets++;
      if (h.gone) {
        clearTimeout(h.gone);
        delete h.gone;
      }
      return;
    }
    this.here.set(visitor, { site, sockets: 1 });
    await markPresent(this.d.c.cmd, visitor, this.gw, VISITOR_PRESENCE_TTL_MS);
    if (tell) await siteSignal(this.d.c, site, { t: 'visitor-changed', conv });
  }

  /** One of those sockets closed; with the last one (and none again within the grace) the lease goes and the operators are told. */
  left(visitor: string, onError: (e: unknown) => void): void {
    const h = this.here.get(visitor);
    if (!h || --h.sockets > 0) return;
    h.gone = setTimeout(() => {
      if (this.here.get(visitor) !== h || h.sockets > 0) return;
      this.here.delete(visitor);
      void (async () => {
        await markGone(this.d.c.cmd, visitor, this.gw);
        const v = await getVisitor(this.d.c.cmd, visitor);
        if (v?.conv) await siteSignal(this.d.c, h.site, { t: 'visitor-changed', conv: v.conv });
      })().catch(onError);
    }, VISITOR_GONE_GRACE_MS);
    h.gone.unref?.();
  }

  /** Renews this gateway's leases (the gateway's timer: a slice at a time, each visitor every VISITOR_PRESENCE_RENEW_MS). */
  async renewPresence(slice?: Slice): Promise<void> {
    const mine: Promise<void>[] = [];
    // Not a visitor whose last socket here closed (in the grace before the lease goes): the lease
    // outlives the grace anyway, and renewing it would write their key again after an erase
    // deleted it (privacy.test.ts: an erased visitor's presence key back in Redis).
    for (const [v, h] of this.here) if (h.sockets > 0 && inSlice(v, slice)) mine.push(markPresent(this.d.c.cmd, v, this.gw, VISITOR_PRESENCE_TTL_MS));
    await Promise.all(mine);
  }

  /** Which of these visitors a live lease says are on the site now (a dead gateway's leases lapse). */
  async present(visitors: string[]): Promise<boolean[]> {
    return Promise.all(visitors.map((v) => presentOf(this.d.c.cmd, v)));
  }

  /** Tells the site's operators to read the visitor of `conv` again (a new page, a new hello). */
  async changed(site: string, conv: string): Promise<void> {
    await siteSignal(this.d.c, site, { t: 'visitor-changed', conv });
  }

  get(id: string): Promise<VisitorRecord | null> {
    return getVisitor(this.d.c.cmd, id);
  }

  /** The visitor of a token on a site; `register` creates one for a new token (it expires unless used). */
  async forToken(site: string, token: string, register: boolean): Promise<string | null> {
    const known = await visitorForToken(this.d.c.cmd, site, token);
    if (known || !register) return known;
    return registerVisitor(this.d.c.cmd, site, token);
  }

  /** Tells the visitor's other tabs (on any gateway) that a conversation started. */
  async announceConversation(visitor: string, conv: string): Promise<void> {
    await visitorSignal(this.d.c, visitor, { t: 'new-conv', conv });
  }

  /** The visitor started a conversation: their token and record are kept from now on. */
  keep(visitor: string): Promise<void> {
    return keepToken(this.d.c.cmd, visitor);
  }

  /**
   * Updates a visitor's profile within the bounds, then tells the site's operators if the
   * visitor has an open conversation (`conv`). `verified` is true only for a patch that a
   * valid identity hash covers.
   */
  async update(site: string, visitor: string, raw: VisitorPatch, conv?: string | null): Promise<void> {
    const p: VisitorPatch = { ...raw };
    if (p.name !== undefined) p.name = p.name.trim().slice(0, MAX_VISITOR_NAME);
    if (p.email !== undefined) p.email = p.email.trim().slice(0, MAX_VISITOR_EMAIL);
    const touchesIdentity = p.name !== undefined || p.email !== undefined || p.userId !== undefined || p.verified !== undefined;
    const cur = touchesIdentity || p.attrs ? await getVisitor(this.d.c.cmd, visitor) : null;
    if (cur?.verified && p.verified !== true) {
      // Locked: what the hash covered stays as it was.
      delete p.name;
      delete p.email;
      delete p.userId;
      delete p.verified;
    }
    if (cur?.verified && p.verified === true && p.userId !== cur.userId) {
      // A new verified identity replaces the old one whole.
      p.name ??= '';
      p.email ??= '';
    }
    if (p.attrs) {
      const had = cur?.attrs ?? (await visitorAttrs(this.d.c.cmd, visitor));
      const merged = { ...had, ...p.attrs };
      if (Object.keys(merged).length > MAX_ATTRS) throw new HarkError('TOO_MANY_ATTRIBUTES');
      p.attrs = merged;
    }
    await updateVisitor(this.d.c.cmd, visitor, p);
    if (conv) await siteSignal(this.d.c, site, { t: 'visitor-changed', conv });
  }

  /** A site owner's signed identity: verified when the site has a secret and the hash matches (refused otherwise). */
  async identify(site: { id: string; secret: string }, visitor: string, u: Identity, conv?: string | null): Promise<void> {
    const verified = site.secret ? verifyIdentity(site.secret, u.id, u.hash) : false;
    if (site.secret && !verified) throw new HarkError('IDENTITY_INVALID');
    const p: VisitorPatch = { userId: u.id, verified };
    if (u.name) p.name = u.name;
    if (u.email) p.email = u.email;
    await this.update(site.id, visitor, p, conv);
    await this.d.emit({ type: 'visitor.identified', site: site.id, visitor, userId: u.id, verified });
  }
}
