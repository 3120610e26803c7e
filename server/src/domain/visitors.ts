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
import { siteSignal, visitorSignal } from '../store/signals';
import { type VisitorPatch, type VisitorRecord, getVisitor, keepToken, registerVisitor, updateVisitor, visitorAttrs, visitorForToken } from '../store/visitors';
import type { Deps } from './deps';
import { verifyIdentity } from './identity';

export type { VisitorPatch, VisitorRecord } from '../store/visitors';
export { visitorInfo } from '../store/visitors';

export class Visitors {
  constructor(private readonly d: Deps) {}

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
