/**
 * Scenario 1, idle visitors: N visitor sockets on one server process, each with
 * a conversation (ours: created by a first message and assigned to one operator
 * on the same gateway, so the gateway follows every conversation). Memory after
 * a full GC, per socket, and CPU at rest.
 */
import { type Fleet, floorFleet, oursFleet, socketioFleet } from '../lib/fleets';
import { sleep } from '../lib/pace';
import { startServer } from '../lib/proc';
import { seed } from '../lib/seed';

export interface IdlePoint {
  system: string;
  sockets: number;
  rssMiB: number;
  heapMiB: number;
  rssPerSocketKiB: number;
  /** Heap V8 reserved per socket (used or not): RSS beyond heapUsed is mostly this and native memory. */
  heapTotalPerSocketKiB: number;
  heapPerSocketKiB: number;
  /** Share of one core used while nobody says anything, %. */
  cpuAtRestPct: number;
  connectPerSec: number;
}

/** RSS is read this long after a GC, once V8 has given freed pages back. */
const SETTLE_MS = 3_000;
const REST_MS = 5_000;
/** Peers' operators list their conversations in the URL; keep it far under ws's 16 KB header limit. */
const PEER_CONVS_PER_OP = 200;
const noHooks = { atOperator: () => null, atVisitor: () => {} };

export async function idle(o: { systems: string[]; steps: number[]; redisUrl: string }): Promise<IdlePoint[]> {
  const out: IdlePoint[] = [];
  for (const system of o.systems) {
    const seeded = system === 'ours' ? await seed(o.redisUrl, 40, 1, 1_000_000) : null;
    const file = system === 'ours' ? 'src/servers/gateway.ts' : `peers/${system}/server.ts`;
    const srv = await startServer(`${system}-idle`, file, { REDIS_URL: o.redisUrl });
    const fleets: Fleet[] = [];
    try {
      await sleep(500);
      const base = await srv.stats(SETTLE_MS);
      let have = 0;
      for (const n of o.steps) {
        const add = n - have;
        const t0 = performance.now();
        // Fleets expect two ports; on one gateway both sides are the same process.
        const f =
          system === 'ours'
            ? await oursFleet(srv.port, srv.port, seeded?.sites ?? [], have === 0 ? (seeded?.ops ?? []) : [], add, noHooks, false, have)
            : system === 'floor'
              ? await floorFleet(srv.port, srv.port, Math.ceil(add / PEER_CONVS_PER_OP), add, noHooks)
              : await socketioFleet(srv.port, srv.port, Math.ceil(add / PEER_CONVS_PER_OP), add, noHooks);
        const connectPerSec = Math.round((add / (performance.now() - t0)) * 1000);
        fleets.push(f);
        have = n;
        await sleep(1_000);
        const c0 = await srv.cpuMs();
        await sleep(REST_MS);
        const c1 = await srv.cpuMs();
        const s = await srv.stats(SETTLE_MS);
        const p: IdlePoint = {
          system,
          sockets: n,
          rssMiB: Math.round((s.rss / 2 ** 20) * 10) / 10,
          heapMiB: Math.round((s.heapUsed / 2 ** 20) * 10) / 10,
          rssPerSocketKiB: Math.round(((s.rss - base.rss) / n / 1024) * 10) / 10,
          heapPerSocketKiB: Math.round(((s.heapUsed - base.heapUsed) / n / 1024) * 10) / 10,
          heapTotalPerSocketKiB: Math.round(((s.heapTotal - base.heapTotal) / n / 1024) * 10) / 10,
          cpuAtRestPct: Math.round(((c1 - c0) / REST_MS) * 1000) / 10,
          connectPerSec,
        };
        out.push(p);
        console.log(`  ${system} ${n} idle: rss ${p.rssMiB} MiB (${p.rssPerSocketKiB} KiB/socket), heap ${p.heapMiB} MiB (${p.heapPerSocketKiB} KiB/socket), cpu at rest ${p.cpuAtRestPct} %, ${connectPerSec} connects/s`);
      }
    } finally {
      for (const f of fleets) f.close();
      await srv.stop();
    }
  }
  return out;
}
