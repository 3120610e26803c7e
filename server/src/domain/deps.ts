/** What every domain module is built with, once per gateway. */
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config';
import type { Metrics } from '../metrics';
import type { Connections } from '../redis/client';
import type { BlobStore } from '../store/blobs';
import type { EventInput, EventType } from './events';

export interface Deps {
  c: Connections;
  config: Config;
  metrics: Metrics;
  log: FastifyBaseLogger;
  /** This gateway's id (unique among live gateways): the owner of its claims (domain/mail.ts). */
  gatewayId?: string;
  /**
   * Records a domain event in the durable log (store/event-log.ts). `id` makes the record
   * idempotent: the same fact emitted twice (a resend after a lost ack) is stored once.
   */
  emit(e: EventInput, id?: string): Promise<void>;
  /** An event recorded another way (by the append script, with its entry): wakes this gateway's consumers that want it. */
  emitted?(partition: number, type: EventType): void;
  /** Where attachments' bytes go (default: chosen from the config, domain/files.ts blobStoreFor). */
  blobs?: BlobStore;
}
