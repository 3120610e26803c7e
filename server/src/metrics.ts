import { PerformanceObserver, constants, createHistogram } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one gateway (one registry per app, so tests can build many apps). */
export function createMetrics() {
  const registry = new Registry();
  // Includes the event-loop delay (nodejs_eventloop_lag_*: perf_hooks.monitorEventLoopDelay) and GC pauses (nodejs_gc_duration_seconds).
  collectDefaultMetrics({ register: registry });
  const stalls = stallMetrics(registry);
  /** The event log's consumers' counters on this gateway (set by app.ts once the runner exists). */
  let eventCounters: () => Record<string, number> = () => ({});
  new Gauge({
    name: 'hark_events_total',
    help: 'Domain events handled by this gateway\'s consumers, by outcome: handled, redelivered, failures (retried), skipped, invalid, trimmed, leaseLosses',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      for (const [outcome, n] of Object.entries(eventCounters())) this.set({ outcome }, n);
    },
  });
  return {
    /** Where the event counters come from (domain/event-consumers.ts counters). */
    setEventCounters(f: () => Record<string, number>): void {
      eventCounters = f;
    },
    registry,
    /** Stops the event-loop sampler and the GC observer (the app's close). */
    stop: () => stalls.stop(),
    /**
     * The text /metrics answers: this registry's; with several worker processes (main.ts), the
     * sum over every worker, which the primary collects (prom-client's AggregatorRegistry).
     */
    collect: (): Promise<string> => registry.metrics(),
    visitors: new Gauge({ name: 'hark_visitors_connected', help: 'Visitor sockets connected to this gateway', registers: [registry] }),
    operators: new Gauge({ name: 'hark_operators_connected', help: 'Operator sockets connected to this gateway', registers: [registry] }),
    messages: new Counter({ name: 'hark_messages_total', help: 'Messages stored through this gateway', labelNames: ['from'], registers: [registry] }),
    errors: new Counter({ name: 'hark_errors_total', help: 'Errors answered, by code', labelNames: ['code'], registers: [registry] }),
    siteLimited: new Counter({ name: 'hark_site_limited_total', help: "Visitor messages refused (with a retry hint) because their site was at its message limit (msgsPerSec); the log names the site", registers: [registry] }),
    delivery: new Histogram({
      name: 'hark_store_latency_seconds',
      help: 'Time from receiving a message to its stream append being acknowledged by Redis',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    fanout: new Histogram({
      name: 'hark_delivery_latency_seconds',
      help: 'Time from a message being stored to its dispatch to the sockets on this gateway (ms clock; includes pub/sub hop)',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry],
    }),
    // Summed over worker processes but for these two: every worker sees the same Redis and queues.
    redisRtt: new Gauge({ name: 'hark_redis_rtt_seconds', help: 'Round trip of the last PING to Redis', registers: [registry], aggregator: 'average' }),
    queueLength: new Gauge({ name: 'hark_queue_length', help: 'Conversations waiting, per site', labelNames: ['site'], registers: [registry], aggregator: 'max' }),
    connectionsOpen: new Gauge({ name: 'hark_connections_open', help: 'Open TCP connections (HTTP and WebSocket) on this gateway', registers: [registry] }),
    connectionsMax: new Gauge({ name: 'hark_connections_max', help: 'Open connections this gateway accepts (below its open-file limit)', registers: [registry] }),
    connectionsRefused: new Counter({
      name: 'hark_connections_refused_total',
      help: 'Connections closed on arrival: global = the process is at hark_connections_max, per_address = too many from one address',
      labelNames: ['reason'],
      registers: [registry],
    }),
    signinRefused: new Counter({
      name: 'hark_signin_refused_total',
      help: 'Sign-ins refused before the password was checked: rate_limited (429) or busy (503, too many hashes at once)',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;

/**
 * What stalls the event loop, for /metrics (issue 20): the event-loop delay (how late a timer
 * due every EVENT_LOOP_SAMPLE_MS runs, into a perf_hooks histogram) and garbage-collection pauses
 * (a PerformanceObserver on 'gc'), both over the interval since the previous scrape.
 * (Not monitorEventLoopDelay reset at each scrape: in server/test/metrics.test.ts it reported
 * 0 and 28 ms for stalls of 150 and 120 ms that began right after a reset.)
 *
 * prom-client's defaults (nodejs_eventloop_lag_*, nodejs_gc_duration_seconds) stay, but they
 * miss what a stall is: no p99.9, the GC histogram has no maximum and reads only the first
 * entry of each observer callback (several GCs reported together count as one), and with
 * several worker processes the primary *averages* the lag's maximum over the workers, hiding
 * the one that stalled. These take the maximum over workers for maxima and percentiles and
 * sum the counts and totals.
 */
/** The event-loop delay is sampled by a timer due every this many ms (a stall shorter than this may go unseen). */
export const EVENT_LOOP_SAMPLE_MS = 10;

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};
const gcKind = (k: number | undefined): string => (k !== undefined && GC_KINDS[k]) || 'other';

export interface StallMetrics {
  /** Stops the sampler and the observer (the app's close). */
  stop(): void;
}

export function stallMetrics(registry: Registry): StallMetrics {
  // Lateness in µs (at least 1: a histogram records positive values only).
  const delay = createHistogram();
  let last = performance.now();
  const sampler = setInterval(() => {
    const now = performance.now();
    delay.record(Math.max(1, Math.round((now - last - EVENT_LOOP_SAMPLE_MS) * 1000)));
    last = now;
  }, EVENT_LOOP_SAMPLE_MS);
  sampler.unref();
  const gcCount = new Counter({ name: 'hark_gc_pauses_total', help: 'Garbage-collection pauses, by kind (major, minor, incremental, weakcb)', labelNames: ['kind'], registers: [registry] });
  const gcSeconds = new Counter({ name: 'hark_gc_pause_seconds_total', help: 'Time the event loop spent in garbage-collection pauses, by kind', labelNames: ['kind'], registers: [registry] });
  /** The longest pause of each kind since the last scrape. */
  const longest = new Map<string, number>();
  new Gauge({
    name: 'hark_gc_pause_max_seconds',
    help: 'Longest garbage-collection pause since the previous scrape, by kind (0: none of that kind); the maximum over worker processes',
    labelNames: ['kind'],
    registers: [registry],
    aggregator: 'max',
    collect() {
      for (const kind of Object.values(GC_KINDS)) this.set({ kind }, longest.get(kind) ?? 0);
      longest.clear();
    },
  });
  const gc = new PerformanceObserver((list) => {
    // Every entry: Node may hand several GCs to one callback.
    for (const e of list.getEntries()) {
      const kind = gcKind((e as { detail?: { kind?: number } }).detail?.kind);
      const s = e.duration / 1000;
      gcCount.inc({ kind });
      gcSeconds.inc({ kind }, s);
      if (s > (longest.get(kind) ?? 0)) longest.set(kind, s);
    }
  });
  gc.observe({ entryTypes: ['gc'] });
  new Gauge({
    name: 'hark_event_loop_delay_seconds',
    help: `How late the event loop ran a timer due every ${EVENT_LOOP_SAMPLE_MS} ms, since the previous scrape: quantile 0.5, 0.99, 0.999 and 1 (the longest stall); the maximum over worker processes`,
    labelNames: ['quantile'],
    registers: [registry],
    aggregator: 'max',
    collect() {
      // No sample yet (a scrape right after the previous one): 0, not the histogram's empty-state extremes.
      const n = delay.count;
      const at = (p: number) => (n > 0 ? delay.percentile(p) / 1e6 : 0);
      this.set({ quantile: '0.5' }, at(50));
      this.set({ quantile: '0.99' }, at(99));
      this.set({ quantile: '0.999' }, at(99.9));
      this.set({ quantile: '1' }, n > 0 ? delay.max / 1e6 : 0);
      delay.reset();
    },
  });
  return {
    stop() {
      clearInterval(sampler);
      gc.disconnect();
    },
  };
}
