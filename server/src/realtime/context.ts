import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config';
import type { Metrics } from '../metrics';
import type { Connections } from '../redis/client';
import type { Router } from '../routing/router';
import type { Hub } from './hub';
import type { QueueWatches } from './queue-watch';

/** What every socket handler needs, built once per app. */
export interface Ctx {
  c: Connections;
  hub: Hub;
  queues: QueueWatches;
  router: Router;
  metrics: Metrics;
  log: FastifyBaseLogger;
  config: Config;
  /** Called on facts the numbers are built from (stats); no-op until a recorder is set. */
  hooks: StatsHooks;
}

export interface StatsHooks {
  firstResponse(site: string, op: string, conv: string, ms: number): Promise<void>;
  resolved(site: string, op: string, conv: string, ms: number): Promise<void>;
  rated(site: string, op: string, conv: string, rating: 'good' | 'bad', comment: string): Promise<void>;
}

export const noHooks: StatsHooks = {
  async firstResponse() {},
  async resolved() {},
  async rated() {},
};
