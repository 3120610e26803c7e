/**
 * Background work with one owner across gateways: each job runs on whichever
 * gateway holds its lease (store/leases.ts), every `everyMs`. A gateway that dies
 * stops renewing; another takes the job over within JOB_LEASE_MS. Every job is
 * idempotent, so a pass cut short and run again by the next owner is harmless.
 *
 * - presence-sweep: lapsed operator leases → offline, chats back to the queue
 *   (domain/presence.ts), every PRESENCE_RENEW_MS;
 * - compaction: resolved conversations older than the setting packed, every minute.
 * - seat-repair: the operators' seat ledgers reconciled with the sites' assignments
 *   (domain/routing.ts repairSeats), every SEAT_REPAIR_EVERY_MS;
 * - webhook-delivery: due webhook deliveries sent (domain/webhooks.ts), every WEBHOOK_POLL_MS;
 *   its attempts in flight are cut when the gateway stops (the next owner sends them again).
 * - files-sweep: files uploaded a day ago or more and never sent in a message deleted
 *   (domain/files.ts), every FILES_SWEEP_EVERY_MS.
 * - mail-delivery: due e-mail claimed and sent (domain/mail.ts), every MAIL_POLL_MS; attempts in
 *   flight are finished when the gateway stops (a killed one's claim ends and the next owner sends it).
 * - search-backfill: conversations written before the search index existed indexed, BACKFILL_BATCH
 *   per tick (domain/search.ts backfill; migration 5 lists them), every SEARCH_BACKFILL_EVERY_MS;
 *   one HGETALL of an empty key once done.
 * - retention: conversations older than HARK_RETENTION_DAYS (last activity) erased
 *   (domain/privacy.ts), every RETENTION_EVERY_MS; nothing when the setting is off.
 */
import { PRESENCE_RENEW_MS } from '@hark/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { Domain } from '../domain';
import { holdLease, jobLeaseKey, releaseLease } from '../domain/leases';
import { RETENTION_EVERY_MS } from '../domain/privacy';
import { SEAT_REPAIR_EVERY_MS } from '../domain/routing';

/** How often the files-sweep job looks for files uploaded and never sent. */
export const FILES_SWEEP_EVERY_MS = 10 * 60_000;
/** A job's lease; renewed at every tick of the job (ticks are shorter). */
export const JOB_LEASE_MS = 15_000;
export const COMPACTION_EVERY_MS = 60_000;
/** How often the search-backfill job indexes its next batch. */
export const SEARCH_BACKFILL_EVERY_MS = 1_000;

interface Job {
  name: string;
  everyMs: number;
  run(): Promise<void>;
  /** Called when the gateway stops (after the timers are cleared). */
  stop?(): Promise<void>;
}

export class Jobs {
  private timers: NodeJS.Timeout[] = [];
  private readonly running = new Set<string>();
  private readonly held = new Set<string>();

  constructor(
    private readonly domain: Domain,
    private readonly owner: string,
    private readonly log: FastifyBaseLogger,
  ) {}

  private jobs(): Job[] {
    const { presence } = this.domain;
    return [
      { name: 'presence-sweep', everyMs: PRESENCE_RENEW_MS, run: () => presence.sweep() },
      { name: 'seat-repair', everyMs: SEAT_REPAIR_EVERY_MS, run: async () => void (await presence.repairSeats()) },
      { name: 'compaction', everyMs: COMPACTION_EVERY_MS, run: () => presence.compact() },
      { name: 'webhook-delivery', everyMs: this.domain.webhooks.settings.pollMs, run: () => this.domain.webhooks.deliverDue(), stop: () => this.domain.webhooks.stop() },
      { name: 'mail-delivery', everyMs: this.domain.mail.settings.pollMs, run: () => this.domain.mail.deliverDue(), stop: () => this.domain.mail.stop() },
      // stop: also cancels the second passes of erases this gateway ran (domain/privacy.ts).
      { name: 'files-sweep', everyMs: FILES_SWEEP_EVERY_MS, run: async () => void (await this.domain.files.sweepUnattached()) },
      { name: 'search-backfill', everyMs: SEARCH_BACKFILL_EVERY_MS, run: async () => void (await this.domain.search.backfill()) },
      { name: 'retention', everyMs: RETENTION_EVERY_MS, run: async () => void (await this.domain.privacy.retention()), stop: async () => this.domain.privacy.stop() },
    ];
  }

  start(): void {
    for (const job of this.jobs()) {
      const t = setInterval(() => void this.tick(job), Math.min(job.everyMs, JOB_LEASE_MS / 3));
      t.unref();
      this.timers.push(t);
    }
  }

  private lastRun = new Map<string, number>();

  private async tick(job: Job): Promise<void> {
    if (this.running.has(job.name)) return;
    this.running.add(job.name);
    try {
      const mine = await holdLease(this.domain.deps.c, jobLeaseKey(job.name), this.owner, JOB_LEASE_MS);
      if (mine) this.held.add(job.name);
      else this.held.delete(job.name);
      const due = Date.now() - (this.lastRun.get(job.name) ?? 0) >= job.everyMs - 50;
      if (mine && due) {
        this.lastRun.set(job.name, Date.now());
        await job.run();
      }
    } catch (e) {
      this.log.warn({ err: e, job: job.name }, 'job failed');
    } finally {
      this.running.delete(job.name);
    }
  }

  /** Whether this gateway holds a job now (tests, metrics). */
  holds(name: string): boolean {
    return this.held.has(name);
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const job of this.jobs()) await job.stop?.().catch((e: unknown) => this.log.warn({ err: e, job: job.name }, 'job stop failed'));
    for (const name of this.held) await releaseLease(this.domain.deps.c, jobLeaseKey(name), this.owner).catch(() => {});
    this.held.clear();
  }
}
