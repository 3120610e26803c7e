/**
 * What the visitors on this gateway need to hear about their site, read once
 * per change (coalesced) by one watcher per site instead of once per visitor:
 * queue positions (one ZRANK per waiting visitor per change grew with the
 * square of the queue), and whether anyone is available to chat (so a visitor
 * looking at the leave-a-message form sees the chat come back when an operator
 * comes online, and the other way round).
 */
import { coalesced } from '@hark/shared/async';
import type { Domain } from '../domain';
import type { Hub, SiteListener, SiteSignal } from '../domain/live';

export interface QueueListener {
  onPositions(positions: Map<string, number>): void;
}
export interface AvailabilityListener {
  onAvailability(available: boolean, inHours: boolean): void;
}

/** Longest queue read per change; a visitor further back keeps its last known position until it moves up. */
export const QUEUE_READ_MAX = 10_000;

class SiteQueue implements SiteListener {
  readonly listeners = new Set<QueueListener>();
  readonly avail = new Set<AvailabilityListener>();
  private lastAvail: string | undefined;
  /** At most one read in flight; changes that arrive meanwhile cause one more read. */
  readonly refresh: () => void;
  /** An operator's presence changed: tell the visitors here if the site's availability did. */
  readonly refreshAvailability: () => void;

  constructor(
    private readonly domain: Domain,
    private readonly site: string,
    onError: (e: unknown) => void,
  ) {
    this.refresh = coalesced(() => this.readQueue(), onError);
    this.refreshAvailability = coalesced(() => this.readAvailability(), onError);
  }

  onSignal(s: SiteSignal): void {
    if (s.t === 'queue') this.refresh();
    else if (s.t === 'presence' && this.avail.size) this.refreshAvailability();
  }

  onResync(): void {
    this.refresh();
    if (this.avail.size) this.refreshAvailability();
  }

  rememberAvailability(available: boolean, inHours: boolean): void {
    this.lastAvail ??= `${available}/${inHours}`;
  }

  private async readAvailability(): Promise<void> {
    const { sites } = this.domain;
    const site = await sites.get(this.site);
    if (!site) return;
    const inHours = sites.inHours(site);
    const available = inHours && (await sites.available(this.site));
    const key = `${available}/${inHours}`;
    if (key === this.lastAvail) return;
    this.lastAvail = key;
    for (const l of [...this.avail]) l.onAvailability(available, inHours);
  }

  private async readQueue(): Promise<void> {
    const q = await this.domain.conversations.siteQueue(this.site, QUEUE_READ_MAX);
    const pos = new Map(q.map((conv, i) => [conv, i + 1]));
    for (const l of [...this.listeners]) l.onPositions(pos);
  }
}

export class QueueWatches {
  private readonly sites = new Map<string, SiteQueue>();
  constructor(
    private readonly domain: Domain,
    private readonly hub: Hub,
    private readonly onError: (e: unknown) => void,
  ) {}

  watch(site: string, l: QueueListener): void {
    this.siteQueue(site).listeners.add(l);
  }

  private siteQueue(site: string): SiteQueue {
    let q = this.sites.get(site);
    if (!q) {
      q = new SiteQueue(this.domain, site, this.onError);
      this.sites.set(site, q);
      void this.hub.listen('site', site, q).catch(this.onError);
    }
    return q;
  }

  unwatch(site: string, l: QueueListener): void {
    const q = this.sites.get(site);
    if (!q?.listeners.delete(l)) return;
    this.release(site, q);
  }

  /** `known` is the availability the visitor was last told, so a change before the first read is not missed. */
  watchAvailability(site: string, l: AvailabilityListener, known: { available: boolean; inHours: boolean }): void {
    const q = this.siteQueue(site);
    q.avail.add(l);
    q.rememberAvailability(known.available, known.inHours);
  }

  unwatchAvailability(site: string, l: AvailabilityListener): void {
    const q = this.sites.get(site);
    if (!q?.avail.delete(l)) return;
    this.release(site, q);
  }

  private release(site: string, q: SiteQueue): void {
    if (q.listeners.size || q.avail.size) return;
    this.sites.delete(site);
    this.hub.unlisten('site', site, q);
  }
}
