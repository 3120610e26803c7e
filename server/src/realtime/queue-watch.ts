/**
 * What the visitors on this gateway need to hear about their site, read once
 * per change (coalesced) by one watcher per site instead of once per visitor:
 * queue positions (one ZRANK per waiting visitor per change grew with the
 * square of the queue), and whether anyone is available to chat (so a visitor
 * looking at the leave-a-message form sees the chat come back when an operator
 * comes online, and the other way round).
 */
import type { Connections } from '../redis/client';
import { K } from '../store/keys';
import { anyOperatorAvailable, getSite, inBusinessHours } from '../store/sites';
import type { ChannelListener, Hub } from './hub';

export interface QueueListener {
  onPositions(positions: Map<string, number>): void;
}
export interface AvailabilityListener {
  onAvailability(available: boolean, inHours: boolean): void;
}

/** Longest queue read per change; a visitor further back keeps its last known position until it moves up. */
export const QUEUE_READ_MAX = 10_000;

class SiteQueue implements ChannelListener {
  readonly listeners = new Set<QueueListener>();
  readonly avail = new Set<AvailabilityListener>();
  private running = false;
  private again = false;
  private availRunning = false;
  private availAgain = false;
  private lastAvail: string | undefined;

  constructor(
    private readonly c: Connections,
    private readonly site: string,
    private readonly onError: (e: unknown) => void,
  ) {}

  onSignal(p: string): void {
    if (p === 'q') this.refresh();
    else if (p[0] === 'p' && this.avail.size) this.refreshAvailability();
  }

  onResync(): void {
    this.refresh();
    if (this.avail.size) this.refreshAvailability();
  }

  rememberAvailability(available: boolean, inHours: boolean): void {
    this.lastAvail ??= `${available}/${inHours}`;
  }

  /** An operator's presence changed: tell the visitors here if the site's availability did. */
  refreshAvailability(): void {
    if (this.availRunning) {
      this.availAgain = true;
      return;
    }
    this.availRunning = true;
    void (async () => {
      try {
        do {
          this.availAgain = false;
          const site = await getSite(this.c.cmd, this.site);
          if (!site) return;
          const inHours = inBusinessHours(site.hours);
          const available = inHours && (await anyOperatorAvailable(this.c.cmd, this.site));
          const key = `${available}/${inHours}`;
          if (key === this.lastAvail) continue;
          this.lastAvail = key;
          for (const l of [...this.avail]) l.onAvailability(available, inHours);
        } while (this.availAgain);
      } catch (e) {
        this.onError(e);
      } finally {
        this.availRunning = false;
      }
    })();
  }

  /** At most one read in flight; changes that arrive meanwhile cause one more read. */
  refresh(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void (async () => {
      try {
        do {
          this.again = false;
          const q = await this.c.cmd.zrange(K.siteQueue(this.site), 0, QUEUE_READ_MAX - 1);
          const pos = new Map(q.map((conv, i) => [conv, i + 1]));
          for (const l of [...this.listeners]) l.onPositions(pos);
        } while (this.again);
      } catch (e) {
        this.onError(e);
      } finally {
        this.running = false;
      }
    })();
  }
}

export class QueueWatches {
  private readonly sites = new Map<string, SiteQueue>();
  constructor(
    private readonly c: Connections,
    private readonly hub: Hub,
    private readonly onError: (e: unknown) => void,
  ) {}

  watch(site: string, l: QueueListener): void {
    this.siteQueue(site).listeners.add(l);
  }

  private siteQueue(site: string): SiteQueue {
    let q = this.sites.get(site);
    if (!q) {
      q = new SiteQueue(this.c, site, this.onError);
      this.sites.set(site, q);
      void this.hub.listen(K.siteChannel(site), q).catch(this.onError);
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
    this.hub.unlisten(K.siteChannel(site), q);
  }
}
