/**
 * Presence upkeep, run as jobs (jobs/): operators whose lease lapsed go offline
 * and, per the site's setting, their chats return to the queue; chats unanswered
 * past the site's threshold whose operator is away return to the queue; old
 * resolved conversations are compacted. Every step is idempotent, so a second
 * runner (a new owner after a gateway died mid-pass) changes nothing twice.
 */
import { OFFLINE_GRACE_MS } from '@hark/shared';
import { compactResolved } from '../store/conversations';
import { dropLease, lapsedLeases, siteStatuses } from '../store/routing';
import type { Conversations } from './conversations';
import type { Deps } from './deps';
import type { Operators } from './operators';
import type { Sites } from './sites';

export class Presence {
  constructor(
    private readonly d: Deps,
    private readonly sites: Sites,
    private readonly ops: Operators,
    private readonly convs: Conversations,
  ) {}

  /** One pass over every site: lapsed leases, then chats left unanswered by someone away. */
  async sweep(now = Date.now()): Promise<void> {
    for (const site of await this.sites.list()) {
      for (const opId of await lapsedLeases(this.d.c, site.id, now - OFFLINE_GRACE_MS)) {
        // Renewed by a gateway holding their socket meanwhile: not lapsed.
        if (this.ops.isLiveHere(opId)) continue;
        await dropLease(this.d.c, site.id, opId);
        const op = await this.ops.get(opId);
        if (op && op.status !== 'offline') await this.ops.setStatus(opId, 'offline');
        if (site.requeueOnOffline) {
          const assign = await this.convs.siteAssignments(site.id);
          for (const [conv, o] of Object.entries(assign)) if (o === opId) await this.convs.requeue(site.id, conv);
        }
      }
      const assign = await this.convs.siteAssignments(site.id);
      if (!Object.keys(assign).length) continue;
      const status = await siteStatuses(this.d.c, site.id);
      for (const [conv, opId] of Object.entries(assign)) {
        if (status[opId] === 'online') continue;
        const m = await this.convs.meta(conv);
        if (m?.waitingSince && now - m.waitingSince > site.unansweredMs) await this.convs.requeue(site.id, conv);
      }
    }
  }

  /**
   * Reconciles the operators' seat ledgers with the sites' assignments (what a gateway that died
   * between the two steps of an assignment or a release left behind), then drains every site: seats
   * it freed, and any wake-up a lost race left undone, are given to waiting chats.
   */
  async repairSeats(now = Date.now()): Promise<{ added: number; dropped: number }> {
    const sites = (await this.sites.list()).map((s) => s.id);
    const ops = (await this.ops.list()).map((o) => o.id);
    const r = await this.convs.router.repairSeats(sites, ops, now);
    for (const s of sites) await this.convs.router.drain(s, undefined, false);
    return r;
  }

  /** Compacts every site's conversations resolved longer ago than the setting (a batch per site per pass). */
  async compact(now = Date.now()): Promise<void> {
    if (this.d.config.compactAfterMs <= 0) return;
    for (const site of await this.sites.list()) await compactResolved(this.d.c.cmd, site.id, this.d.config.compactAfterMs, 50, now);
  }
}
