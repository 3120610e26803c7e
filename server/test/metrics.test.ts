/** /metrics shows the stalls' causes (event-loop delay, GC pauses) and the event log's consumers at work. */
import { AggregatorRegistry } from 'prom-client';
import { expect, it } from 'vitest';
import { EVENT_LOOP_SAMPLE_MS, createMetrics } from '../src/metrics';
import { cid, createOp, operator, visitor } from './harness';
import { useStack } from './stack';

const s = useStack(1);

it('exports event-loop delay, GC pauses and the event consumers’ counters', async () => {
  const op = await createOp(s.admin, { email: 'metrics@example.com', name: 'Mo' });
  const o = await operator(s.gw, op.http);
  o.send({ type: 'status', status: 'online' });
  await o.next('status', (f) => f.status === 'online');
  const v = await visitor(s.gw);
  await v.next('synced');
  const c = cid();
  v.send({ type: 'send', cid: c, text: 'hello' });
  const { conv } = await v.next('ack', (a) => a.cid === c);
  await o.next('conv', (f) => f.conv.id === conv && f.conv.status === 'open');
  const r = cid();
  o.send({ type: 'send', conv, cid: r, text: 'hi there' });
  await o.next('ack', (a) => a.cid === r);
  // The first reply is the stats consumer's to handle: the counter moves once it has.
  let text = '';
  for (let i = 0; i < 50; i++) {
    text = await (await fetch(`${s.gw.base}/metrics`)).text();
    if (/hark_events_total\{outcome="handled"\} [1-9]/.test(text)) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  expect(text).toMatch(/hark_events_total\{outcome="handled"\} [1-9]/);
  expect(text).toMatch(/nodejs_eventloop_lag_p99_seconds \d/);
  expect(text).toMatch(/nodejs_gc_duration_seconds_count\{kind="\w+"\}/);
  o.close();
  v.close();
});

/** One sample's value from Prometheus text (`name{labels} value`). */
function sample(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  if (!line) throw new Error(`no ${name}{${labels}} in /metrics`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

it('shows a stall of the event loop in the delay’s maximum, then forgets it at the next scrape', async () => {
  const scrape = async () => (await fetch(`${s.gw.base}/metrics`)).text();
  await scrape();
  // The gateway runs in this process: a real 150 ms stall of its event loop.
  const t = performance.now();
  while (performance.now() - t < 150) {}
  await new Promise((res) => setTimeout(res, 3 * EVENT_LOOP_SAMPLE_MS));
  const after = await scrape();
  expect(sample(after, 'hark_event_loop_delay_seconds', 'quantile="1"')).toBeGreaterThanOrEqual(0.13);
  expect(sample(after, 'hark_event_loop_delay_seconds', 'quantile="0.5"')).toBeLessThan(0.13);
  await new Promise((res) => setTimeout(res, 5 * EVENT_LOOP_SAMPLE_MS));
  expect(sample(await scrape(), 'hark_event_loop_delay_seconds', 'quantile="1"')).toBeLessThan(0.13);
});

it('counts every garbage-collection pause by kind, with its total and longest', async () => {
  const scrape = async () => (await fetch(`${s.gw.base}/metrics`)).text();
  const before = sample(await scrape(), 'hark_gc_pauses_total', 'kind="minor"');
  // Short-lived garbage: young-generation (minor) collections, for real. The objects escape into an
  // array (dropped every 10,000), so the optimiser cannot leave them unallocated (CI failed once
  // with none counted when they did not escape).
  let kept: { i: number; s: string }[] = [];
  let made = 0;
  for (let i = 0; i < 400_000; i++) {
    kept.push({ i, s: `x${i}` });
    made++;
    if (kept.length === 10_000) kept = [];
  }
  expect(made).toBe(400_000);
  // The observer is told after the pause, asynchronously: a busy machine may take a while.
  let text = await scrape();
  for (let t = performance.now(); sample(text, 'hark_gc_pauses_total', 'kind="minor"') <= before && performance.now() - t < 5_000; ) {
    await new Promise((res) => setTimeout(res, 50));
    text = await scrape();
  }
  expect(sample(text, 'hark_gc_pauses_total', 'kind="minor"')).toBeGreaterThan(before);
  expect(sample(text, 'hark_gc_pause_seconds_total', 'kind="minor"')).toBeGreaterThan(0);
  expect(sample(text, 'hark_gc_pause_max_seconds', 'kind="minor"')).toBeGreaterThan(0);
  expect(sample(text, 'hark_gc_pause_max_seconds', 'kind="minor"')).toBeLessThanOrEqual(sample(text, 'hark_gc_pause_seconds_total', 'kind="minor"'));
});

it('takes the maximum, not the sum or mean, of the stall figures over worker processes', async () => {
  // What the primary of HARK_WORKERS does (main.ts): prom-client's aggregation of each worker's registry.
  const [a, b] = [createMetrics(), createMetrics()];
  try {
    const t = performance.now();
    while (performance.now() - t < 120) {}
    await new Promise((res) => setTimeout(res, 3 * EVENT_LOOP_SAMPLE_MS));
    const ja = await a.registry.getMetricsAsJSON();
    const jb = await b.registry.getMetricsAsJSON();
    const stall = (j: typeof ja) => j.find((m) => m.name === 'hark_event_loop_delay_seconds')?.values.find((v) => v.labels.quantile === '1')?.value ?? -1;
    expect(stall(ja)).toBeGreaterThanOrEqual(0.1);
    expect(stall(jb)).toBeGreaterThanOrEqual(0.1);
    expect(stall(ja)).toBeLessThan(1);
    // Both saw the stall; the second stands for a worker that did not (its figures made small).
    const merged = await AggregatorRegistry.aggregate([ja, [...jb].map((m) => (m.name === 'hark_event_loop_delay_seconds' ? { ...m, values: m.values.map((v) => ({ ...v, value: 0.001 })) } : m))]).getSingleMetricAsString('hark_event_loop_delay_seconds');
    expect(merged).toContain(`hark_event_loop_delay_seconds{quantile="1"} ${stall(ja)}`);
  } finally {
    a.stop();
    b.stop();
  }
});
