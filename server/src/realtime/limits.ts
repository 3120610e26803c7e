/**
 * Rate limits of anonymous visitors on one gateway, layered so that one abuser
 * cannot spend another's budget: per visitor (shared by all of the visitor's
 * sockets here, so reconnecting does not reset it), per source address (shared by
 * every visitor from it), then per site, fairly between addresses (SiteBudget). A
 * message is charged to the narrowest first and refused there, so a flood from one
 * visitor or address is stopped before it reaches the site's budget, and a site at
 * its limit refuses the heaviest senders first. Across gateways, the append script
 * also limits each visitor's conversation (redis/scripts.ts), so a visitor spread
 * over several gateways is held to the same rate.
 */
import {
  ADDRESS_BURST,
  ADDRESS_MSGS_PER_SEC,
  CONVS_PER_ADDRESS_PER_HOUR,
  HarkError,
  SITE_BURST,
  SITE_MSGS_PER_SEC,
  TOKENS_PER_ADDRESS_PER_MIN,
  VISITOR_BURST,
  VISITOR_MSGS_PER_SEC,
} from '@hark/shared';

/** Token bucket: `rate` per second sustained, `burst` at once. */
export class Bucket {
  private tokens: number;
  private at = Date.now();
  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
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
  constructor(private readonly rate: number, burst: number) {
    this.bucket = new Bucket(rate, burst);
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

/** The limits' numbers: the product's are the constants; a test may lower them (AppOptions.testLimits). */
export interface LimitSettings {
  visitorPerSec: number;
  visitorBurst: number;
  addressPerSec: number;
  addressBurst: number;
  sitePerSec: number;
  siteBurst: number;
  convsPerAddressPerHour: number;
  tokensPerAddressPerMin: number;
}

export const LIMITS: LimitSettings = {
  visitorPerSec: VISITOR_MSGS_PER_SEC,
  visitorBurst: VISITOR_BURST,
  addressPerSec: ADDRESS_MSGS_PER_SEC,
  addressBurst: ADDRESS_BURST,
  sitePerSec: SITE_MSGS_PER_SEC,
  siteBurst: SITE_BURST,
  convsPerAddressPerHour: CONVS_PER_ADDRESS_PER_HOUR,
  tokensPerAddressPerMin: TOKENS_PER_ADDRESS_PER_MIN,
};

/** Buckets keyed by visitor, address and site, kept while used or not yet refilled. */
export class Limits {
  private readonly visitors = new Map<string, Shared<Bucket>>();
  private readonly addresses = new Map<string, { msgs: Bucket; convs: Bucket; tokens: Bucket; users: number }>();
  private readonly sites = new Map<string, SiteBudget>();
  private timer: NodeJS.Timeout;

  readonly l: LimitSettings;

  constructor(settings: Partial<LimitSettings> = {}) {
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

  /** The limits one visitor socket answers to; release() when the socket closes. */
  forSocket(visitor: string, ip: string, site: string): VisitorLimits {
    let v = this.visitors.get(visitor);
    if (!v) {
      v = { value: new Bucket(this.l.visitorPerSec, this.l.visitorBurst), users: 0 };
      this.visitors.set(visitor, v);
    }
    v.users++;
    const a = this.address(ip);
    a.users++;
    let s = this.sites.get(site);
    if (!s) {
      s = new SiteBudget(this.l.sitePerSec, this.l.siteBurst);
      this.sites.set(site, s);
    }
    const siteBucket = s;
    const vb = v;
    let released = false;
    return {
      take: () => {
        if (!vb.value.take() || !a.msgs.take() || !siteBucket.take(ip)) throw new HarkError('RATE_LIMITED');
      },
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

  private prune(): void {
    for (const [k, v] of this.visitors) if (v.users <= 0 && v.value.full()) this.visitors.delete(k);
    for (const [k, a] of this.addresses) if (a.users <= 0 && a.msgs.full() && a.convs.full() && a.tokens.full()) this.addresses.delete(k);
  }
}

export interface VisitorLimits {
  /** Charges one message (chat or offline form); throws RATE_LIMITED when a bucket is empty. */
  take(): void;
  /** Charges a new conversation to the source address; throws RATE_LIMITED beyond its share. */
  newConversation(): void;
  release(): void;
}
