import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config';
import type { Domain } from '../domain';
import type { Metrics } from '../metrics';
import type { Hub } from '../domain/live';
import type { QueueWatches } from './queue-watch';

/** What every socket handler needs, built once per app. */
export interface Ctx {
  domain: Domain;
  hub: Hub;
  queues: QueueWatches;
  metrics: Metrics;
  log: FastifyBaseLogger;
  config: Config;
}
