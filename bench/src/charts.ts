/**
 * Charts for BENCHMARKS.md, generated from bench/results/*.json (never drawn by
 * hand): `pnpm bench:charts`. A tiny SVG line chart, no dependencies.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { benchDir } from './lib/proc';

interface Series {
  name: string;
  points: [number, number][];
}

const COLORS = ['#888888', '#d9822b', '#2b6cd9', '#2ba84a', '#a12bd9', '#d92b4a'];
const W = 640;
const H = 360;
const M = { l: 64, r: 16, t: 36, b: 48 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function lineChart(title: string, xLabel: string, yLabel: string, series: Series[]): string {
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const xMax = niceMax(Math.max(...xs, 1));
  const yMax = niceMax(Math.max(...ys, 1));
  const px = (x: number) => M.l + (x / xMax) * (W - M.l - M.r);
  const py = (y: number) => H - M.b - (y / yMax) * (H - M.t - M.b);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const y = (yMax * i) / 5;
    const x = (xMax * i) / 5;
    out.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${py(y)}" y2="${py(y)}" stroke="#eee"/>`);
    out.push(`<text x="${M.l - 6}" y="${py(y) + 4}" text-anchor="end">${+y.toFixed(2)}</text>`);
    out.push(`<text x="${px(x)}" y="${H - M.b + 16}" text-anchor="middle">${+x.toFixed(2)}</text>`);
  }
  out.push(`<line x1="${M.l}" x2="${M.l}" y1="${M.t}" y2="${H - M.b}" stroke="#333"/><line x1="${M.l}" x2="${W - M.r}" y1="${H - M.b}" y2="${H - M.b}" stroke="#333"/>`);
  out.push(`<text x="${(W + M.l) / 2}" y="${H - 10}" text-anchor="middle">${esc(xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${(H + M.t - M.b) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const pts = s.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
    out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts}"/>`);
    for (const [x, y] of s.points) out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${c}"/>`);
    out.push(`<rect x="${M.l + 10}" y="${M.t + 6 + i * 16}" width="10" height="10" fill="${c}"/><text x="${M.l + 24}" y="${M.t + 15 + i * 16}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function load<T>(name: string): T | null {
  const f = resolve(benchDir, 'results', `${name}.json`);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as T) : null;
}

function group<T extends { system: string }>(rows: T[]): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const r of rows) m.set(r.system, [...(m.get(r.system) ?? []), r]);
  return m;
}

const written: string[] = [];
const save = (name: string, svg: string) => {
  const f = resolve(benchDir, 'results', name);
  writeFileSync(f, svg);
  written.push(f);
};

type Step = { system: string; rate: number; delivered: number; v2o: { p50: number; p99: number }; o2v: { p50: number; p99: number } };
const chatRuns = ['chat', 'chat-cluster'].map((n) => load<{ steps: Step[] }>(n)).filter((x) => x !== null);
// A step where nothing arrived has no latency to draw.
const steps = chatRuns.flatMap((r) => r.steps).filter((s) => s.delivered > 0);
if (steps.length) {
  for (const pct of ['p50', 'p99'] as const) {
    const series: Series[] = [];
    for (const [sys, rows] of group(steps)) {
      series.push({ name: `${sys} visitor→operator`, points: rows.map((r) => [r.rate, r.v2o[pct]]) });
      series.push({ name: `${sys} operator→visitor`, points: rows.map((r) => [r.rate, r.o2v[pct]]) });
    }
    save(`chat-${pct}.svg`, lineChart(`Delivery latency ${pct} against rate`, 'messages per second (both directions)', `${pct} latency, ms`, series));
  }
}
type Point = { system: string; sockets: number; rssMiB: number; heapMiB: number };
const idle = load<{ points: Point[] }>('idle');
if (idle) {
  const series: Series[] = [];
  for (const [sys, rows] of group(idle.points)) {
    series.push({ name: `${sys} RSS`, points: rows.map((r) => [r.sockets, r.rssMiB]) });
    series.push({ name: `${sys} heap`, points: rows.map((r) => [r.sockets, r.heapMiB]) });
  }
  save('idle-memory.svg', lineChart('Server memory against idle connections (after GC)', 'connected visitors', 'MiB', series));
}

// ------------------------------------------------------------ tables (markdown, pasted into BENCHMARKS.md)
const md: string[] = [];
const n = (x: number | undefined) => (x === undefined ? '—' : x.toLocaleString('en-US', { maximumFractionDigits: 1 }));
type FullStep = Step & { sent: number; lost: number; cpuPer1k: number; redisCpuPer1k: number; senderLagMs: number; loadAvg?: number; v2o: { p50: number; p99: number; p999: number }; o2v: { p50: number; p99: number; p999: number } };
for (const name of ['chat', 'chat-cluster']) {
  const run = load<{ machine: { loadAvgAtStart?: number[] }; steps: FullStep[] }>(name);
  if (!run) continue;
  md.push(`#### ${name}.json (load average at start ${run.machine.loadAvgAtStart?.join(' / ') ?? '?'})`, '');
  md.push('| system | rate/s | p50 v→o / o→v | p99 v→o / o→v | p99.9 v→o / o→v | lost | gateway CPU per 1,000 msgs | Redis CPU per 1,000 | sender lag | load avg |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of run.steps)
    md.push(`| ${r.system} | ${n(r.rate)} | ${n(r.v2o.p50)} / ${n(r.o2v.p50)} | ${n(r.v2o.p99)} / ${n(r.o2v.p99)} | ${n(r.v2o.p999)} / ${n(r.o2v.p999)} | ${n(r.lost)} of ${n(r.sent)} | ${n(r.cpuPer1k)} ms | ${n(r.redisCpuPer1k)} ms | ${n(r.senderLagMs)} ms | ${n(r.loadAvg)} |`);
  // Highest rate with p99 (both directions) under 50 ms and nothing lost.
  const best = new Map<string, number>();
  for (const r of run.steps) if (r.lost === 0 && Math.max(r.v2o.p99, r.o2v.p99) < 50) best.set(r.system, Math.max(best.get(r.system) ?? 0, r.rate));
  md.push('', `Highest rate with p99 < 50 ms: ${[...group(run.steps).keys()].map((k) => `${k} ${best.has(k) ? n(best.get(k)) : 'none measured'}`).join(', ')}.`, '');
}
const idleRun = load<{ machine: { loadAvgAtStart?: number[] }; points: (Point & { rssPerSocketKiB: number; heapPerSocketKiB: number; heapTotalPerSocketKiB?: number; cpuAtRestPct: number; connectPerSec: number })[] }>('idle');
if (idleRun) {
  md.push(`#### idle.json (load average at start ${idleRun.machine.loadAvgAtStart?.join(' / ') ?? '?'})`, '');
  md.push('| system | sockets | RSS | heap | RSS per socket | heap per socket (used / reserved) | CPU at rest | connects/s |', '|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const p of idleRun.points) md.push(`| ${p.system} | ${n(p.sockets)} | ${n(p.rssMiB)} MiB | ${n(p.heapMiB)} MiB | ${n(p.rssPerSocketKiB)} KiB | ${n(p.heapPerSocketKiB)} / ${p.heapTotalPerSocketKiB === undefined ? '?' : n(p.heapTotalPerSocketKiB)} KiB | ${n(p.cpuAtRestPct)} % | ${n(p.connectPerSec)} |`);
  md.push('');
}
for (const name of ['reconnect', 'reconnect-failover', 'storage', 'storm']) {
  const run = load<{ machine: { loadAvgAtStart?: number[] }; result: Record<string, number> }>(name);
  if (!run) continue;
  md.push(`#### ${name}.json (load average at start ${run.machine.loadAvgAtStart?.join(' / ') ?? '?'})`, '', '| figure | value |', '|---|---:|');
  for (const [k, v] of Object.entries(run.result)) if (typeof v === 'number') md.push(`| ${k} | ${n(v)} |`);
  md.push('');
}
if (md.length) {
  const f = resolve(benchDir, 'results', 'tables.md');
  writeFileSync(f, `${md.join('\n')}\n`);
  written.push(f);
}
console.log(written.join('\n'));
