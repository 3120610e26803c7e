import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one gateway (one registry per app, so tests can build many apps). */
export function createMetrics() {
  const registry = new Registry();
  // Includes the event-loop delay (nodejs_eventloop_lag_*: perf_hooks.monitorEventLoopDelay) and GC pauses (nodejs_gc_duration_seconds).
  collectDefaultMetrics({ register: registry });
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
