/**
 * Rate limits of anonymous visitors on one gateway, layered so that one abuser
 * cannot spend another's budget: per visitor (shared by all of the visitor's
 * sockets here, so reconnecting does not reset it), per source address (shared by
 * every visitor from it), then per site, fairly between addresses (SiteBudget). A
 * message is charged to the narrowest first and refused there, so a flood from one
 * visitor or address is stopped before it reaches the site's budget, and a site at
 * its limit slows the heaviest senders first. A visitor or address over its own limit
 * is a flood and its socket is closed (RATE_LIMITED, 1013); a site at its limit is not
 * the visitor's fault: the message is refused with a retry hint (SlowDown) and the
 * socket stays open. The site's limit is its own setting (msgsPerSec) for the whole
 * installation; each gateway enforces its share, the setting over the live gateways. Across gateways, the append script
 * also limits each visitor's conversation (redis/scripts.ts), so a visitor spread
 * over several gateways is held to the same rate.
 */
import {
  ADDRESS_BURST,
  ADDRESS_MSGS_PER_SEC,
  CONVS_PER_ADDRESS_PER_HOUR,
  HarkError,
  SITE_BURST_SECONDS,
  SITE_MSGS_PER_SEC,
  SITE_RETRY_MS,
  TOKENS_PER_ADDRESS_PER_MIN,
  VISITOR_BURST,
  VISITOR_MSGS_PER_SEC,
} from '@hark/shared';

/** Token bucket: `rate` per second sustained, `burst` at once. */
export class Bucket {
  private tokens: number;
  private at = Date.now();
  constructor(
    private rate: number,
    private burst: number,
  ) {
    this.tokens = burst;
  }
  /** Changes the rate and burst from now on (tokens above the new burst are dropped). */
  reset(rate: number, burst: number): void {
    if (rate === this.rate && burst === this.burst) return;
    this.fill();
    this.rate = rate;
    this.burst = burst;
    this.tokens = Math.min(this.tokens, burst);
  }
  take(n = 1): boolean {
    this.fill();
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }
  /** Whether the bucket is full (unused long enough to forget). */
  full(): boolean {
    this.fill();
    return this.tokens >= this.burst;
  }
  private fill(): void {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.rate);
    this.at = now;
  }
}

/**
 * A site's budget, fair between source addresses: a token bucket, and when it is empty the
 * heaviest senders are refused first. An address that has sent no more than its fair share this
 * second (the site's rate over the addresses sending this second) still gets through, so a flood
 * from a few addresses cannot spend everyone else's budget; what is let through beyond the bucket
 * is at most one more second's budget.
 */
export class SiteBudget {
  private readonly bucket: Bucket;
  private counts = new Map<string, number>();
  private windowAt = Date.now();
  constructor(
    private rate: number,
    burst: number,
  ) {
    this.bucket = new Bucket(rate, burst);
  }
  /** A new rate (the site's setting changed, or the number of gateways sharing it). */
  setRate(rate: number, burst: number): void {
    this.rate = rate;
    this.bucket.reset(rate, burst);
  }
  take(address: string): boolean {
    const now = Date.now();
    if (now - this.windowAt >= 1000) {
      this.counts = new Map();
      this.windowAt = now;
    }
    const n = (this.counts.get(address) ?? 0) + 1;
    this.counts.set(address, n);
    if (this.bucket.take()) return true;
    return n <= this.rate / this.counts.size;
  }
}

interface Shared<T> {
  value: T;
  users: number;
}

/** A message refused because its site is at its limit: the socket stays open and the client sends it again after `retryMs`. */
export class SlowDown extends HarkError {
  constructor(readonly retryMs: number) {
    super('RATE_LIMITED', 'This site is receiving many messages right now; your message will be sent again in a moment.');
  }
}

/** The limits' numbers: the product's are the constants; a test may lower them (AppOptions.testLimits). */
export interface LimitSettings {
  visitorPerSec: number;
  visitorBurst: number;
  addressPerSec: number;
  addressBurst: number;
  /** Used for a site until its setting is known (Limits.siteRate). */
  sitePerSec: number;
  /** Seconds of the site's rate it may send at once. */
  siteBurstSeconds: number;
  siteRetryMs: number;
  convsPerAddressPerHour: number;
  tokensPerAddressPerMin: number;
}

export const LIMITS: LimitSettings = {
  visitorPerSec: VISITOR_MSGS_PER_SEC,
  visitorBurst: VISITOR_BURST,
  addressPerSec: ADDRESS_MSGS_PER_SEC,
  addressBurst: ADDRESS_BURST,
  sitePerSec: SITE_MSGS_PER_SEC,
  siteBurstSeconds: SITE_BURST_SECONDS,
  siteRetryMs: SITE_RETRY_MS,
  convsPerAddressPerHour: CONVS_PER_ADDRESS_PER_HOUR,
  tokensPerAddressPerMin: TOKENS_PER_ADDRESS_PER_MIN,
};

/** Buckets keyed by visitor, address and site, kept while used or not yet refilled. */
export class Limits {
  private readonly visitors = new Map<string, Shared<Bucket>>();
  private readonly addresses = new Map<string, { msgs: Bucket; convs: Bucket; tokens: Bucket; users: number }>();
  private readonly sites = new Map<string, { budget: SiteBudget; setting: number; gateways: number }>();
  private timer: NodeJS.Timeout;
  /** Called when a site refuses a message for being at its limit. */
  onSiteLimited: (site: string) => void = () => {};

  readonly l: LimitSettings;

  /** `gateways`: how many gateways share the sites' limits now (each enforces its share). */
  constructor(
    settings: Partial<LimitSettings> = {},
    private readonly gateways: () => number = () => 1,
  ) {
    this.l = { ...LIMITS, ...settings };
    // Buckets nobody uses and that have refilled are forgotten (an address that minted tokens and left).
    this.timer = setInterval(() => this.prune(), 60_000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private address(ip: string) {
    let a = this.addresses.get(ip);
    if (!a) {
      const { l } = this;
      a = { msgs: new Bucket(l.addressPerSec, l.addressBurst), convs: new Bucket(l.convsPerAddressPerHour / 3600, l.convsPerAddressPerHour), tokens: new Bucket(l.tokensPerAddressPerMin / 60, l.tokensPerAddressPerMin), users: 0 };
      this.addresses.set(ip, a);
    }
    return a;
  }

  /** A new visitor token from `ip`: false when the address minted too many lately. */
  mayRegister(ip: string): boolean {
    return this.address(ip).tokens.take();
  }

  /** The limits one visitor socket answers to; release() when the socket closes. `siteMsgsPerSec`: the site's setting as just read. */
  forSocket(visitor: string, ip: string, site: string, siteMsgsPerSec?: number): VisitorLimits {
    if (siteMsgsPerSec !== undefined) this.siteRate(site, siteMsgsPerSec);
    let v = this.visitors.get(visitor);
    if (!v) {
      v = { value: new Bucket(this.l.visitorPerSec, this.l.visitorBurst), users: 0 };
      this.visitors.set(visitor, v);
    }
    v.users++;
    const a = this.address(ip);
    a.users++;
    const vb = v;
    let released = false;
    return {
      take: () => {
        if (!vb.value.take() || !a.msgs.take()) throw new HarkError('RATE_LIMITED');
        if (!this.site(site).take(ip)) {
          this.onSiteLimited(site);
          throw new SlowDown(this.l.siteRetryMs);
        }
      },
      siteRate: (n: number) => this.siteRate(site, n),
      newConversation: () => {
        if (!a.convs.take()) throw new HarkError('RATE_LIMITED', 'Too many new conversations from this address; try again later.');
      },
      release: () => {
        if (released) return;
        released = true;
        vb.users--;
        a.users--;
      },
    };
  }

  /** The site's setting (msgs per second for the whole installation), as last read from its record. */
  siteRate(site: string, msgsPerSec: number): void {
    const s = this.sites.get(site);
    if (s) s.setting = msgsPerSec;
    else this.site(site, msgsPerSec);
  }

  /** This gateway's budget for a site: its share of the site's setting, kept current with the number of gateways. */
  private site(site: string, setting?: number) {
    let s = this.sites.get(site);
    if (!s) {
      s = { budget: new SiteBudget(1, 1), setting: setting ?? this.l.sitePerSec, gateways: 0 };
      this.sites.set(site, s);
    }
    const n = Math.max(1, this.gateways());
    const rate = Math.max(1, s.setting / n);
    s.budget.setRate(rate, Math.max(1, Math.round(rate * this.l.siteBurstSeconds)));
    s.gateways = n;
    return s.budget;
  }

  private prune(): void {
    for (const [k, v] of this.visitors) if (v.users <= 0 && v.value.full()) this.visitors.delete(k);
    for (const [k, a] of this.addresses) if (a.users <= 0 && a.msgs.full() && a.convs.full() && a.tokens.full()) this.addresses.delete(k);
  }
}

export interface VisitorLimits {
  /** Charges one message (chat or offline form); throws RATE_LIMITED when the visitor's or address's bucket is empty (a flood: the socket closes), SlowDown when the site is at its limit. */
  take(): void;
  /** The site's msgsPerSec setting, as read again. */
  siteRate(msgsPerSec: number): void;
  /** Charges a new conversation to the source address; throws RATE_LIMITED beyond its share. */
  newConversation(): void;
  release(): void;
}
