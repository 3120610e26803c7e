/**
 * Operators as routing and the consoles see them: status, presence on their
 * sites, their record's changes taking effect at once on every gateway.
 */
import { HarkError, type Me, type OperatorPresence, type OperatorStatus, PRESENCE_TTL_MS } from '@hark/shared';
import { delMeta, setMeta } from '../store/conversations';
import { AVATAR_MIME, type AvatarType, type SniffedImage, checkAvatarDataUrl, getAvatar, putAvatar, retireAvatar } from '../store/avatars';
import { type NewOperator, type Operator, type OperatorPatch, type OperatorRecord, createOperator, deleteOperator, getOperator, listOperators, publicOperator, toMe, updateOperator } from '../store/operators';
import { seatCounts } from '../store/routing';
import { destroyAllSessions } from '../store/sessions';
import { operatorSignal, siteSignal } from '../store/signals';
import { listSites } from '../store/sites';
import type { Conversations } from './conversations';
import type { Deps } from './deps';
import type { Router } from './routing';

export type { Operator, OperatorRecord } from '../store/operators';
export { publicOperator, toMe } from '../store/operators';

/** How long a browser keeps an avatar version (its URL names its bytes, so it never changes): a year. */
export const AVATAR_CACHE_SECONDS = 365 * 24 * 3600;

export class Operators {
  /** Whether this gateway holds a console socket of the operator (their presence lease is renewed here). */
  isLiveHere: (op: string) => boolean = () => false;

  constructor(
    private readonly d: Deps,
    private readonly router: Router,
    private readonly convs: Conversations,
  ) {}

  get(id: string): Promise<OperatorRecord | null> {
    return getOperator(this.d.c.cmd, id);
  }
  list(): Promise<Operator[]> {
    return listOperators(this.d.c.cmd);
  }
  me(op: Operator): Me {
    return toMe(op);
  }

  /** Sites an operator works on: admins, every site. */
  async sitesOf(op: Pick<Operator, 'role' | 'sites'>): Promise<string[]> {
    if (op.role === 'admin') return (await listSites(this.d.c.cmd)).map((s) => s.id);
    return op.sites;
  }

  async create(input: NewOperator): Promise<Operator> {
    const { avatar, ...rest } = input;
    // Checked before anything is written: a bad photo creates no operator.
    const photo = avatar ? this.checkAvatar(avatar) : null;
    let op = await createOperator(this.d.c.cmd, rest);
    if (photo) op = publicOperator(await updateOperator(this.d.c.cmd, op.id, { avatar: await putAvatar(this.d.c.cmd, op.id, photo.img, photo.bytes) }));
    await this.refresh(op.id);
    return op;
  }

  /** The conversations an operator holds show their new photo (or none) at once, in every console and widget. */
  private async photoChanged(opId: string, path: string, sites: string[]): Promise<void> {
    for (const site of sites) {
      for (const [conv, o] of Object.entries(await this.convs.siteAssignments(site))) {
        if (o !== opId) continue;
        if (path) await setMeta(this.d.c.cmd, conv, { opAvatar: path });
        else await delMeta(this.d.c.cmd, conv, 'opAvatar');
        await this.router.doorbell(site, conv);
      }
    }
  }

  /** One version of an operator's photo, to serve (null if there is none). */
  async avatarImage(opId: string, version: string): Promise<{ type: AvatarType; mime: string; data: Buffer } | null> {
    const a = await getAvatar(this.d.c.cmd, opId, version);
    return a ? { ...a, mime: AVATAR_MIME[a.type] } : null;
  }

  /** An uploaded photo, checked (type from its bytes, AVATAR_MAX_BYTES, AVATAR_MAX_PX); throws AVATAR_INVALID or AVATAR_TOO_LARGE. */
  private checkAvatar(dataUrl: string): { img: SniffedImage; bytes: Buffer } {
    const r = checkAvatarDataUrl(dataUrl);
    if (!r.ok) throw new HarkError(r.code);
    return r;
  }

  /**
   * What a patch's `avatar` becomes on the record: '' removes it, the path it already has keeps it,
   * a `data:image/…;base64,` upload is checked and stored as an image served by the gateway.
   */
  private async avatarPath(id: string, value: string, current: string | undefined): Promise<string> {
    if (value === '' || value === current) return value;
    const photo = this.checkAvatar(value);
    return putAvatar(this.d.c.cmd, id, photo.img, photo.bytes);
  }

  /**
   * Changes an operator's record. Taking effect at once everywhere: a deactivation or a new
   * password ends their sessions (their sockets close on every gateway); a site taken away
   * removes them from its routing and returns their open chats there to the queue.
   */
  async update(id: string, patch: OperatorPatch): Promise<Operator> {
    const before = await getOperator(this.d.c.cmd, id);
    if (!before) throw new HarkError('NOT_FOUND');
    if (patch.avatar !== undefined) patch = { ...patch, avatar: await this.avatarPath(id, patch.avatar, before.avatar) };
    const op = await updateOperator(this.d.c.cmd, id, patch);
    if (patch.avatar !== undefined && patch.avatar !== before.avatar) {
      await retireAvatar(this.d.c.cmd, before.avatar);
      await this.photoChanged(op.id, op.avatar ?? '', await this.sitesOf(op));
    }
    if (patch.active === false || patch.password !== undefined) {
      const ended = await destroyAllSessions(this.d.c.cmd, id);
      await this.endSessions(id, patch.active === false ? '*' : ended);
    }
    await this.refresh(id, await this.sitesOf(before));
    return publicOperator(op);
  }

  /**
   * Deletes an operator (admin; never oneself, never the last active admin): first as a
   * deactivation does (signed out everywhere, out of routing on every site they served, their
   * open chats back to the queue), then their account goes. Past conversations keep their name.
   */
  async remove(by: Pick<Operator, 'id'>, id: string): Promise<void> {
    const op = await getOperator(this.d.c.cmd, id);
    if (!op) throw new HarkError('NOT_FOUND');
    if (op.id === by.id) throw new HarkError('CONFLICT', 'You cannot delete your own account; ask another admin.');
    if (op.role === 'admin' && op.active) {
      const admins = (await listOperators(this.d.c.cmd)).filter((o) => o.role === 'admin' && o.active && o.id !== id);
      if (!admins.length) throw new HarkError('CONFLICT', 'This is the last active admin.');
    }
    const served = await this.sitesOf(op);
    await updateOperator(this.d.c.cmd, id, { active: false, status: 'offline' });
    await destroyAllSessions(this.d.c.cmd, id);
    await this.endSessions(id, '*');
    await this.refresh(id, served);
    await deleteOperator(this.d.c.cmd, id);
  }

  /** Sets an operator's own status; routing honours it at once on every site. */
  async setStatus(opId: string, status: OperatorStatus): Promise<void> {
    const op = await updateOperator(this.d.c.cmd, opId, { status });
    const live = this.isLiveHere(opId);
    for (const s of await this.sitesOf(op)) {
      await this.router.setOperator(s, op, live ? Date.now() + PRESENCE_TTL_MS : undefined);
      await siteSignal(this.d.c, s, { t: 'presence', op: opId });
    }
    await operatorSignal(this.d.c, opId, { t: 'record-changed' });
    await this.d.emit({ type: 'operator.status_changed', op: opId, status });
  }

  /** An operator's sessions ended (password change, deactivation): close their sockets everywhere. */
  async endSessions(opId: string, hashes: string[] | '*'): Promise<void> {
    await operatorSignal(this.d.c, opId, { t: 'sessions-ended', which: hashes });
  }

  /**
   * After an operator's record changed: their sockets re-read it, and routing on each of their
   * sites (and on any site in `hadSites` they no longer serve) follows it.
   */
  async refresh(opId: string, hadSites: string[] = []): Promise<void> {
    await operatorSignal(this.d.c, opId, { t: 'record-changed' });
    const op = await getOperator(this.d.c.cmd, opId);
    if (!op) return;
    const sites = op.active ? await this.sitesOf(op) : op.sites;
    for (const s of sites) {
      if (!op.active) await this.router.removeOperator(s, op.id);
      else await this.router.setOperator(s, op, this.isLiveHere(opId) ? Date.now() + PRESENCE_TTL_MS : undefined);
      await siteSignal(this.d.c, s, { t: 'presence', op: opId });
    }
    // Sites they no longer serve (all of them when deactivated): out of routing, their chats back to the queue.
    const serves = new Set(op.active ? sites : []);
    for (const s of new Set([...hadSites, ...(op.active ? [] : sites)])) {
      if (serves.has(s)) continue;
      await this.router.removeOperator(s, op.id);
      const assigned = await this.convs.siteAssignments(s);
      for (const [conv, o] of Object.entries(assigned)) if (o === op.id) await this.router.requeue(s, conv);
      await siteSignal(this.d.c, s, { t: 'presence', op: opId });
    }
  }

  /** Every active operator sharing a site with `op`, with their operator-wide load (chats on every site). */
  async presenceFor(op: Operator): Promise<OperatorPresence[]> {
    const sites = new Set(await this.sitesOf(op));
    const all = await listOperators(this.d.c.cmd);
    const shown = all.filter((o) => o.active && (o.id === op.id || (o.role === 'admin' ? sites.size > 0 : o.sites.some((s) => sites.has(s)))));
    const loads = await seatCounts(this.d.c, shown.map((o) => o.id));
    return shown.map((o) => ({ id: o.id, name: o.name, status: o.status, load: loads.get(o.id) ?? 0, capacity: o.capacity, sites: o.sites }));
  }

  /** An operator's open chats on every site (their seats: capacity is the operator's). */
  load(opId: string): Promise<number> {
    return this.router.load(opId);
  }
}
