/**
 * Main-thread cost of the widget at page load, in real Chromium against the real
 * gateway: a fixture page with and without the tag, several runs each in a fresh
 * browser context (cold HTTP cache), a Chromium performance trace per run.
 *
 *   pnpm bench:widget [--runs 15] [--throttle 4]   (builds first)
 *
 * Scenarios:
 *  - first visit: no conversation on this device; only widget.js runs (the chat waits for intent);
 *  - returning visitor: this device has a conversation, so chat.<lang>.js loads at once,
 *    opens its socket and renders the (closed) panel;
 *  - first open: the click on the launcher of a first visit (chat.js load, socket, render),
 *    measured from the click until the composer is shown.
 *
 * Per run, from the trace (renderer main thread, CPU time of the thread, so a shared machine's
 * other processes do not inflate it): "widget scripting" = compile, evaluation and every
 * function call whose script is widget.js, chat.*.js or i18n.*.js (nested events counted
 * once); "main thread busy" = all top-level tasks. The widget's cost is reported
 * both ways: its own scripting, and busy(with tag) − busy(without tag) (which also holds the
 * style, layout and paint its DOM causes). Medians over the runs; the machine may be shared,
 * so the spread (p90) is printed too. Writes bench/results/widget-load[-xN].json.
 * BENCH_DEBUG=1 prints, per run, the widget's script events by function.
 *
 * Bytes on the wire (`--wire-only` runs just this): one browser context through a first visit,
 * the first open, a first message and a returning visit, counting from Chromium's network
 * events the requests to the gateway (the socket apart) and their bytes as transferred
 * (headers + compressed body), and those served from the browser's cache.
 * Writes bench/results/widget-wire.json.
 *
 * Page-load metrics of issue 20 (`--tbt`, 5 runs by default): Lighthouse's mobile preset as far as
 * Chromium itself gives it (a 412×823 touch viewport at DPR 1.75, 4× CPU throttling through CDP),
 * the fixture page without the tag and for a returning visitor with an open chat, each in a fresh
 * context. From the trace: Total Blocking Time = Σ max(0, task − 50 ms) over the page main thread's
 * top-level tasks from First Contentful Paint to the end of the trace (5 s after load: the chat's
 * own tasks are in it); wall time, as Lighthouse counts it, so a busy machine inflates it (record
 * the load average); Cumulative Layout Shift = the largest session window (gaps < 1 s, windows
 * ≤ 5 s) of LayoutShift events without recent input. Writes bench/results/widget-tbt.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type Page, chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, createOp, operator, startStack, visitor } from './src/harness';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const RUNS = arg('runs', process.argv.includes('--tbt') ? 5 : 15);
const WIRE_ONLY = process.argv.includes('--wire-only');
const TBT = process.argv.includes('--tbt');
const THROTTLE = arg('throttle', 1);
/** Lighthouse's mobile CPU slowdown: its default (simulated) throttling scales the tasks' measured time by 4. */
const SLOWDOWN = arg('slowdown', 4);
const SETTLE_MS = 1_500;

interface TraceEvent {
  name: string;
  ph: string;
  ts: number;
  dur?: number;
  /** Thread (CPU) time of the event, µs: unlike `dur`, not inflated when the OS runs another process meanwhile. */
  tdur?: number;
  pid: number;
  tid: number;
  args?: { name?: string; frame?: string; data?: { url?: string; stackTrace?: { url?: string }[]; score?: number; had_recent_input?: boolean; is_main_frame?: boolean } };
}

/**
 * Total Blocking Time and Cumulative Layout Shift of one page load, as Lighthouse defines them,
 * from its trace: TBT over the main thread's top-level tasks after First Contentful Paint (wall
 * time), CLS as the largest session window of shifts without recent input.
 */
function pageMetrics(events: TraceEvent[], pageUrl: string, slowdown: number): { tbt: number; tbtWall: number; cls: number; longest: number; fcp: number } {
  const parse = events.find((e) => e.name === 'ParseHTML' && ((e.args as { beginData?: { url?: string } })?.beginData?.url ?? '').startsWith(pageUrl));
  if (!parse) throw new Error('the page main thread is not in the trace');
  const onMain = (e: TraceEvent) => e.pid === parse.pid && e.tid === parse.tid;
  const nav = events.filter((e) => e.name === 'navigationStart' && onMain(e) && e.ts <= parse.ts).at(-1)?.ts ?? parse.ts;
  const fcp = events.find((e) => e.name === 'firstContentfulPaint' && onMain(e))?.ts;
  if (fcp === undefined) throw new Error('no firstContentfulPaint in the trace');
  const complete = events.filter((e) => e.ph === 'X' && typeof e.dur === 'number' && onMain(e));
  const task = complete.some((e) => e.name === 'RunTask') ? 'RunTask' : 'ThreadControllerImpl::RunTask';
  let tbt = 0;
  let tbtWall = 0;
  let longest = 0;
  for (const e of complete) {
    if (e.name !== task || e.ts + (e.dur as number) <= fcp) continue;
    // A task that straddles FCP counts only its part after FCP (Lighthouse does the same).
    const part = (e.ts + (e.dur as number) - Math.max(e.ts, fcp)) / (e.dur as number) || 0;
    const cpu = ((e.tdur ?? (e.dur as number)) * slowdown * part) / 1000;
    longest = Math.max(longest, cpu);
    tbt += Math.max(0, cpu - 50);
    tbtWall += Math.max(0, ((e.dur as number) * part) / 1000 - 50);
  }
  const shifts = events.filter((e) => e.name === 'LayoutShift' && e.pid === parse.pid && !e.args?.data?.had_recent_input).sort((a, b) => a.ts - b.ts);
  let cls = 0;
  let win = 0;
  let first = -Infinity;
  let last = -Infinity;
  for (const e of shifts) {
    if (e.ts - last > 1e6 || e.ts - first > 5e6) {
      win = 0;
      first = e.ts;
    }
    last = e.ts;
    win += e.args?.data?.score ?? 0;
    if (process.env.BENCH_DEBUG) console.error('layout shift', JSON.stringify(e.args?.data));
    cls = Math.max(cls, win);
  }
  return { tbt, tbtWall, cls, longest, fcp: (fcp - nav) / 1000 };
}

const SCRIPT_EVENTS = new Set(['EvaluateScript', 'v8.compile', 'v8.compileModule', 'FunctionCall', 'v8.evaluateModule', 'v8.produceCache', 'CompileScript']);

/**
 * Sums the page's main-thread time in a trace: all top-level tasks, and the script events
 * of the widget's files (nested ones counted once). The page's main thread is the one that
 * parsed the fixture's HTML (other renderers and threads are left out).
 */
function analyse(events: TraceEvent[], pageUrl: string, isWidget: (url: string) => boolean): { busy: number; widget: number; longest: number } {
  // After load (first open), the thread that ran the widget's click handler.
  const parse =
    events.find((e) => e.name === 'ParseHTML' && ((e.args as { beginData?: { url?: string } })?.beginData?.url ?? '').startsWith(pageUrl)) ??
    events.find((e) => SCRIPT_EVENTS.has(e.name) && isWidget(e.args?.data?.url ?? ''));
  if (!parse) throw new Error('the page main thread is not in the trace');
  const onMain = (e: TraceEvent) => e.pid === parse.pid && e.tid === parse.tid;
  const complete = events.filter((e) => e.ph === 'X' && typeof e.dur === 'number' && onMain(e));
  // Top-level tasks: 'RunTask' (devtools.timeline); some builds name them ThreadControllerImpl::RunTask. One kind only (they nest).
  const task = complete.some((e) => e.name === 'RunTask') ? 'RunTask' : 'ThreadControllerImpl::RunTask';
  // CPU time of the thread (`tdur`) where the trace has it: on a shared machine wall time
  // (`dur`) also counts the moments the OS ran another process.
  const cpu = (e: TraceEvent) => e.tdur ?? (e.dur as number);
  let busy = 0;
  let longest = 0;
  for (const e of complete) {
    if (e.name !== task) continue;
    busy += cpu(e);
    longest = Math.max(longest, cpu(e));
  }
  const mine = complete.filter((e) => SCRIPT_EVENTS.has(e.name) && isWidget(e.args?.data?.url ?? '')).sort((a, b) => a.ts - b.ts);
  let widget = 0;
  let end = -1;
  for (const e of mine) {
    // Events nested in one already counted (a compile inside an evaluation) are in its time.
    if (e.ts < end) continue;
    widget += cpu(e);
    end = e.ts + (e.dur as number);
  }
  if (process.env.BENCH_DEBUG) {
    const by = new Map<string, [number, number]>();
    for (const e of mine) {
      const d = e.args?.data as { url?: string; functionName?: string } | undefined;
      const k = `${e.name} ${d?.functionName ?? ''} ${(d?.url ?? '').replace(/^.*\//, '')}`;
      const [n, t] = by.get(k) ?? [0, 0];
      by.set(k, [n + 1, t + cpu(e) / 1000]);
    }
    console.error([...by].sort((x, y) => y[1][1] - x[1][1]).slice(0, 15).map(([k, [n, t]]) => `${k} x${n} ${t.toFixed(1)}ms`).join('\n'));
  }
  return { busy: busy / 1000, widget: widget / 1000, longest: longest / 1000 };
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * (s.length - 1) + 0.5))] ?? 0;
};
const ms = (x: number) => x.toFixed(1);

async function main(): Promise<void> {
  const stack = await startStack();
  const pages: Record<string, string> = {};
  // A modest host page: some text and a list, no scripts of its own.
  const content = `<main><h1>Fixture shop</h1>${Array.from({ length: 40 }, (_, i) => `<p>Paragraph ${i} of ordinary host page text, with <a href="#p${i}">a link</a>.</p>`).join('')}<ul>${Array.from({ length: 50 }, (_, i) => `<li>Item ${i}</li>`).join('')}</ul></main>`;
  const tag = `<script async src="${stack.base}/widget.js" data-site="demo"></script>`;
  const doc = (withTag: boolean) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Fixture shop</title></head><body>${content}${withTag ? tag : ''}</body></html>`;
  pages['/with'] = doc(true);
  pages['/without'] = doc(false);
  const server = createServer((req, res) => {
    const body = pages[(req.url ?? '/').split('?')[0] ?? ''];
    if (!body) res.writeHead(404).end();
    else res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await stack.adminHttp.req('PATCH', '/v1/sites/demo', { origins: [origin, stack.base] });
  const isWidget = (url: string) => url.startsWith(stack.base);

  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  const categories = ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8', 'v8.execute'];

  // Nothing of Playwright runs in the page while a trace records (no locators, no evaluate, no
  // init script: its injected script would be counted as page work); the page is checked after.
  const settle = (p: Page, ms: number) => p.waitForTimeout(ms);

  /** One page load in a fresh context (cold HTTP cache); `token` = a returning visitor's stored token. */
  async function load(path: string, token?: string): Promise<{ busy: number; widget: number; longest: number }> {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    if (token) {
      await p.goto(`${origin}/without`);
      await p.evaluate((t) => localStorage.setItem('hark:demo:token', t), token);
    }
    const cdp = await ctx.newCDPSession(p);
    if (THROTTLE > 1) await cdp.send('Emulation.setCPUThrottlingRate', { rate: THROTTLE });
    await browser.startTracing(p, { categories });
    await p.goto(`${origin}${path}`, { waitUntil: 'load' });
    await settle(p, token ? SETTLE_MS + 1_000 : SETTLE_MS);
    const trace = JSON.parse((await browser.stopTracing()).toString()) as { traceEvents: TraceEvent[] };
    if (path === '/with') {
      const ok = await p.evaluate(() => document.querySelector('hark-chat')?.shadowRoot?.querySelector('.lc')?.getAttribute('aria-controls') ?? 'launcher');
      if (ok !== (token ? 'hark-panel' : 'launcher')) throw new Error(`${path}: the widget did not come up as expected (${ok})`);
    }
    await ctx.close();
    return analyse(trace.traceEvents, origin, isWidget);
  }

  /** A first visit's hover and click on the launcher (CDP input events), until the chat is open and connected. */
  async function firstOpen(): Promise<{ busy: number; widget: number; longest: number }> {
    const ctx = await browser.newContext();
    const p: Page = await ctx.newPage();
    const cdp = await ctx.newCDPSession(p);
    if (THROTTLE > 1) await cdp.send('Emulation.setCPUThrottlingRate', { rate: THROTTLE });
    await p.goto(`${origin}/with`, { waitUntil: 'load' });
    const box = await p.locator('hark-chat .lc').boundingBox();
    if (!box) throw new Error('no launcher');
    await settle(p, 300);
    await browser.startTracing(p, { categories });
    await p.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await p.mouse.down();
    await p.mouse.up();
    await settle(p, SETTLE_MS + 1_000);
    const trace = JSON.parse((await browser.stopTracing()).toString()) as { traceEvents: TraceEvent[] };
    if (!(await p.locator('hark-chat').getByRole('textbox', { name: 'Message' }).isVisible())) throw new Error('first open: no composer');
    await ctx.close();
    return analyse(trace.traceEvents, origin, isWidget);
  }

  /** Requests to the gateway (the socket apart) during `step`, with the bytes each took on the wire. */
  interface WireStep {
    requests: number;
    fromCache: number;
    bytes: number;
    files: string[];
  }
  async function wire(): Promise<Record<string, WireStep>> {
    // An operator online, so the visitor gets the chat (and the first message registers them).
    const op = await createOp(stack.adminHttp, { email: 'bench-wire@example.com', name: 'Bench' });
    const opSocket = await operator(stack.gw, op.http);
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    const cdp = await ctx.newCDPSession(p);
    await cdp.send('Network.enable');
    const urls = new Map<string, string>();
    let cur: WireStep = { requests: 0, fromCache: 0, bytes: 0, files: [] };
    const name = (u: string) => new URL(u).pathname.slice(1);
    cdp.on('Network.requestWillBeSent', (e: { requestId: string; request: { url: string } }) => {
      if (!isWidget(e.request.url) || e.request.url.startsWith(stack.base.replace(/^http/, 'ws'))) return;
      urls.set(e.requestId, e.request.url);
    });
    cdp.on('Network.requestServedFromCache', (e: { requestId: string }) => {
      const u = urls.get(e.requestId);
      if (u) cur.fromCache++;
    });
    const seen = new Map<string, string>();
    cdp.on('Network.responseReceived', (e: { requestId: string; response: { url: string; fromDiskCache?: boolean; status: number; headers: Record<string, string> } }) => {
      const u = urls.get(e.requestId);
      if (!u) return;
      if (e.response.fromDiskCache) cur.fromCache++;
      else seen.set(e.requestId, `${name(u)} ${e.response.status} ${e.response.headers['content-encoding'] ?? 'identity'}`);
    });
    cdp.on('Network.loadingFinished', (e: { requestId: string; encodedDataLength: number }) => {
      if (!urls.has(e.requestId)) return;
      // 0 bytes: served from the memory cache (no request went out).
      if (e.encodedDataLength > 0) {
        cur.requests++;
        cur.bytes += e.encodedDataLength;
        cur.files.push(`${seen.get(e.requestId)} ${e.encodedDataLength} B`);
      }
    });
    const out: Record<string, WireStep> = {};
    const step = async (label: string, f: () => Promise<void>) => {
      cur = { requests: 0, fromCache: 0, bytes: 0, files: [] };
      await f();
      await p.waitForTimeout(500);
      out[label] = cur;
    };
    const composer = () => p.locator('hark-chat').getByRole('textbox', { name: 'Message' });
    await step('first visit (widget.js)', async () => {
      await p.goto(`${origin}/with`, { waitUntil: 'load' });
      await p.locator('hark-chat .lc').waitFor();
    });
    await step('first open (chat bundle)', async () => {
      await p.locator('hark-chat .lc').click();
      await composer().waitFor();
    });
    await composer().fill('Hello, bytes');
    await composer().press('Enter');
    // The first message registers the visitor: from then on a visit loads the chat at once.
    await p.waitForFunction(() => localStorage.getItem('hark:demo:token'), undefined, { timeout: 15_000 });
    await step('returning visit, within 5 min (navigation)', async () => {
      await p.goto(`${origin}/with`, { waitUntil: 'load' });
      await p.locator('hark-chat .lc').click();
      await composer().waitFor();
    });
    await ctx.close();
    opSocket.close();
    // After the loader's 5 minutes: the browser revalidates it; what that costs (a raw socket, every byte counted).
    const etag = (await fetch(`${stack.base}/widget.js`)).headers.get('etag') ?? '';
    const revalidate = await new Promise<{ bytes: number; status: string }>((res, rej) => {
      const sock = connect(Number(new URL(stack.base).port), '127.0.0.1', () =>
        sock.end(`GET /widget.js HTTP/1.1\r\nhost: ${new URL(stack.base).host}\r\naccept-encoding: gzip, deflate, br, zstd\r\nif-none-match: ${etag}\r\nconnection: close\r\n\r\n`),
      );
      const chunks: Buffer[] = [];
      sock.on('data', (c: Buffer) => chunks.push(c));
      sock.on('end', () => {
        const b = Buffer.concat(chunks);
        res({ bytes: b.length, status: b.toString().split('\r\n')[0] ?? '' });
      });
      sock.on('error', rej);
    });
    out['returning visit after 5 min (widget.js revalidated)'] = { requests: 1, fromCache: 1, bytes: revalidate.bytes, files: [`widget.js ${revalidate.status.replace('HTTP/1.1 ', '')}`] };
    return out;
  }

  if (TBT) {
    const v = await visitor(stack.gw, { origin: stack.base });
    await v.next('synced');
    v.send({ type: 'send', cid: 'bench-tbt-first-msg', text: 'Hello from a returning visitor' });
    await v.next('ack');
    v.close();
    type M = ReturnType<typeof pageMetrics>;
    /** One load on a phone-sized touch viewport with the CPU throttled, in a fresh context; the returning visitor has visited once before (a warm HTTP cache, as on a second page view). */
    const mobile = async (path: string, token?: string): Promise<M> => {
      const ctx = await browser.newContext({ viewport: { width: 412, height: 823 }, deviceScaleFactor: 1.75, isMobile: true, hasTouch: true });
      const p = await ctx.newPage();
      if (token) {
        await p.goto(`${origin}/without`);
        await p.evaluate((t) => localStorage.setItem('hark:demo:token', t), token);
        // The page view before: the chat's files come from the HTTP cache on this one.
        await p.goto(`${origin}${path}`, { waitUntil: 'load' });
        await p.waitForTimeout(1_000);
        await p.goto(`${origin}/without`);
      }
      const cdp = await ctx.newCDPSession(p);
      if (THROTTLE > 1) await cdp.send('Emulation.setCPUThrottlingRate', { rate: THROTTLE });
      await browser.startTracing(p, { categories: [...categories, 'loading', 'blink.user_timing'] });
      await p.goto(`${origin}${path}`, { waitUntil: 'load' });
      await p.waitForTimeout(5_000);
      const trace = JSON.parse((await browser.stopTracing()).toString()) as { traceEvents: TraceEvent[] };
      if (token) {
        if (THROTTLE > 1) await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 });
        const ok = await p.evaluate(() => document.querySelector('hark-chat')?.shadowRoot?.querySelector('.lc')?.getAttribute('aria-controls'));
        if (ok !== 'hark-panel') throw new Error('returning visitor: the chat did not come up');
      }
      await ctx.close();
      if (process.env.BENCH_DEBUG) analyse(trace.traceEvents, origin, isWidget);
      return pageMetrics(trace.traceEvents, origin, SLOWDOWN);
    };
    const scen: [string, () => Promise<M>][] = [
      ['without tag', () => mobile('/without')],
      ['returning visitor, open chat', () => mobile('/with', v.token)],
    ];
    const res: Record<string, M[]> = Object.fromEntries(scen.map(([n]) => [n, []]));
    const loads: string[] = [];
    // A warm-up round, then the scenarios interleaved, every other round in the opposite order.
    for (let i = 0; i <= RUNS; i++) {
      for (const [name, f] of i % 2 ? scen : [...scen].reverse()) {
        const r = await f();
        if (i > 0) res[name]?.push(r);
      }
      loads.push(readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '));
      process.stderr.write(`round ${i}/${RUNS} load ${loads.at(-1)}\n`);
    }
    const rows = [
      `412x823 touch viewport, tasks' CPU time x${SLOWDOWN} (Lighthouse's simulated slowdown), CDP CPU throttle ${THROTTLE}x, ${RUNS} runs each, median (max)`,
      '| scenario | TBT (CPU time × slowdown) | TBT (wall time) | CLS | longest task (CPU × slowdown) | FCP |',
      '|---|---:|---:|---:|---:|---:|',
    ];
    const out: Record<string, unknown> = { runs: RUNS, slowdown: SLOWDOWN, cpuThrottle: THROTTLE, date: new Date().toISOString(), loadavg: loads, scenarios: {} };
    for (const [name, runs] of Object.entries(res)) {
      const q = (k: keyof M, x: number) => quantile(runs.map((r) => r[k]), x);
      rows.push(`| ${name} | ${ms(q('tbt', 0.5))} ms (${ms(q('tbt', 1))}) | ${ms(q('tbtWall', 0.5))} ms (${ms(q('tbtWall', 1))}) | ${q('cls', 0.5).toFixed(4)} (${q('cls', 1).toFixed(4)}) | ${ms(q('longest', 0.5))} ms | ${ms(q('fcp', 0.5))} ms |`);
      (out.scenarios as Record<string, unknown>)[name] = { runs };
    }
    console.log(rows.join('\n'));
    const dir = join(dirname(fileURLToPath(import.meta.url)), '../bench/results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `widget-tbt${process.env.BENCH_TAG ? `-${process.env.BENCH_TAG}` : ''}.json`), `${JSON.stringify(out, null, 2)}\n`);
    await browser.close();
    server.close();
    await stack.close();
    return;
  }

  if (WIRE_ONLY || RUNS > 0) {
    const w = await wire();
    const rows = ['| step | requests to the gateway (socket apart) | bytes on the wire | from cache | what |', '|---|---:|---:|---:|---|'];
    for (const [k, x] of Object.entries(w)) rows.push(`| ${k} | ${x.requests} | ${x.bytes} | ${x.fromCache} | ${x.files.join(', ')} |`);
    console.log(rows.join('\n'));
    const dir = join(dirname(fileURLToPath(import.meta.url)), '../bench/results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'widget-wire.json'), `${JSON.stringify({ date: new Date().toISOString(), steps: w }, null, 2)}\n`);
    if (WIRE_ONLY) {
      await browser.close();
      server.close();
      await stack.close();
      return;
    }
  }

  // A returning visitor: a registered token with a conversation (made over a real visitor socket).
  const v = await visitor(stack.gw, { origin: stack.base });
  await v.next('synced');
  v.send({ type: 'send', cid: 'bench-load-first-msg', text: 'Hello from a returning visitor' });
  await v.next('ack');
  v.close();

  type Run = { busy: number; widget: number; longest: number };
  const scenarios: [string, () => Promise<Run>][] = [
    ['without tag', () => load('/without')],
    ['first visit', () => load('/with')],
    ['returning visitor', () => load('/with', v.token)],
    ['first open (click)', firstOpen],
  ];
  const results: Record<string, { runs: Run[] }> = Object.fromEntries(scenarios.map(([n]) => [n, { runs: [] }]));
  // Warm-up round (browser start, first compiles) not counted; then the scenarios interleaved,
  // so that a busy spell of a shared machine spreads over all of them.
  for (let i = 0; i <= RUNS; i++) {
    for (const [name, f] of scenarios) {
      const r = await f();
      if (i > 0) results[name]?.runs.push(r);
    }
    process.stderr.write(`round ${i}/${RUNS}\n`);
  }
  await browser.close();
  server.close();
  await stack.close();

  const base = results['without tag']?.runs ?? [];
  const baseBusy = quantile(
    base.map((r) => r.busy),
    0.5,
  );
  const rows: string[] = [];
  const out: Record<string, unknown> = { runs: RUNS, cpuThrottle: THROTTLE, date: new Date().toISOString(), scenarios: {} };
  rows.push(`CPU throttle ${THROTTLE}x, ${RUNS} runs each (median, p90 in brackets), ms of renderer main-thread CPU time`);
  rows.push('| scenario | widget scripting | main thread busy | busy − without tag | longest task |');
  rows.push('|---|---:|---:|---:|---:|');
  for (const [name, { runs }] of Object.entries(results)) {
    const w = runs.map((r) => r.widget);
    const b = runs.map((r) => r.busy);
    const l = runs.map((r) => r.longest);
    const delta = name === 'without tag' || name.startsWith('first open') ? '' : ms(quantile(b, 0.5) - baseBusy);
    rows.push(`| ${name} | ${ms(quantile(w, 0.5))} (${ms(quantile(w, 0.9))}) | ${ms(quantile(b, 0.5))} (${ms(quantile(b, 0.9))}) | ${delta} | ${ms(quantile(l, 0.5))} |`);
    (out.scenarios as Record<string, unknown>)[name] = {
      widgetScriptingMs: { p50: quantile(w, 0.5), p90: quantile(w, 0.9) },
      mainThreadBusyMs: { p50: quantile(b, 0.5), p90: quantile(b, 0.9) },
      longestTaskMs: { p50: quantile(l, 0.5) },
    };
  }
  console.log(rows.join('\n'));
  const dir = join(dirname(fileURLToPath(import.meta.url)), '../bench/results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `widget-load${THROTTLE > 1 ? `-x${THROTTLE}` : ''}.json`), `${JSON.stringify(out, null, 2)}\n`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
