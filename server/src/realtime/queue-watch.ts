/**
 * Queue positions for the waiting visitors on this gateway. One watcher per
 * site reads the queue once per change (coalesced) and tells every waiting
 * visitor here its position, instead of one ZRANK per visitor per change, which
 * grew with the square of the queue.
 */
import type { Connections } from '../redis/client';
import { K } from '../store/keys';
import type { ChannelListener, Hub } from './hub';

export interface QueueListener {
  onPositions(positions: Map<string, number>): void;
}

/** Longest queue read per change; a visitor further back keeps its last known position until it moves up. */
export const QUEUE_READ_MAX = 10_000;

class SiteQueue implements ChannelListener {
  readonly listeners = new Set<QueueListener>();
  private running = false;
  private again = false;

  constructor(
    private readonly c: Connections,
    private readonly site: string,
    private readonly onError: (e: unknown) => void,
  ) {}

  onSignal(p: string): void {
    if (p === 'q') this.refresh();
  }

  onResync(): void {
    this.refresh();
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
    let q = this.sites.get(site);
    if (!q) {
      q = new SiteQueue(this.c, site, this.onError);
      this.sites.set(site, q);
      void this.hub.listen(K.siteChannel(site), q).catch(this.onError);
    }
    q.listeners.add(l);
  }

  unwatch(site: string, l: QueueListener): void {
    const q = this.sites.get(site);
    if (!q?.listeners.delete(l) || q.listeners.size) return;
    this.sites.delete(site);
    this.hub.unlisten(K.siteChannel(site), q);
  }
}
