/**
 * Limits on TCP connections, before any HTTP is read: open connections per source address and
 * per process (below the open-file limit), plus the timeouts that end a request whose headers or
 * body never finish. A half-open request otherwise holds a file descriptor for 60–90 s (Node's
 * headersTimeout, checked every 30 s), and ~20,000 of them exhaust the process's descriptors.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import {
  CONNECTION_FD_RESERVE,
  DEFAULT_MAX_CONNECTIONS,
  HEADERS_TIMEOUT_MS,
  KEEP_ALIVE_TIMEOUT_MS,
  MAX_TCP_CONNECTIONS_PER_ADDRESS,
  REQUEST_TIMEOUT_MS,
} from '@hark/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { Metrics } from '../metrics';

/** How often Node looks for requests past their headers or request timeout (its default, 30 s, lets one live up to 90 s). */
export const CONNECTION_CHECK_MS = 1_000;
/** At most one log line per kind of refusal in this interval (a flood must not become a log flood). */
export const REFUSAL_LOG_INTERVAL_MS = 10_000;

export interface ConnectionLimits {
  /** Open TCP connections per source address; 0 = no per-address cap (behind a trusted proxy). */
  perAddress: number;
  /** Open connections per process. */
  max: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  checkIntervalMs: number;
}

/** Test-only overrides, from AppOptions.testLimits. */
export interface ConnectionTestLimits {
  maxConnectionsPerAddress?: number;
  maxConnections?: number;
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  connectionCheckMs?: number;
}

/** The process's open-file limit (RLIMIT_NOFILE, soft, as Node raised it at start), or undefined when it cannot be read. */
export function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m) return Number(m[1]);
  } catch {}
  try {
    const n = Number(execFileSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8', timeout: 2_000 }).trim());
    if (Number.isInteger(n) && n > 0) return n;
  } catch {}
  return undefined;
}

/** Open connections allowed per process: the open-file limit less CONNECTION_FD_RESERVE, but at least half of it. */
export function connectionCap(nofile: number | undefined): number {
  if (!nofile) return DEFAULT_MAX_CONNECTIONS;
  return Math.max(Math.floor(nofile / 2), nofile - CONNECTION_FD_RESERVE);
}

export function connectionLimits(trustProxy: boolean, t: ConnectionTestLimits = {}): ConnectionLimits {
  return {
    perAddress: t.maxConnectionsPerAddress ?? (trustProxy ? 0 : MAX_TCP_CONNECTIONS_PER_ADDRESS),
    max: t.maxConnections ?? connectionCap(openFileLimit()),
    headersTimeoutMs: t.headersTimeoutMs ?? HEADERS_TIMEOUT_MS,
    requestTimeoutMs: t.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: t.keepAliveTimeoutMs ?? KEEP_ALIVE_TIMEOUT_MS,
    checkIntervalMs: t.connectionCheckMs ?? CONNECTION_CHECK_MS,
  };
}

/**
 * The Fastify options that set the HTTP timeouts. A WebSocket is not subject to them once upgraded:
 * Node stops tracking the request when it emits 'upgrade', and ws clears the socket's timeout.
 */
export function timeoutOptions(l: ConnectionLimits) {
  return {
    requestTimeout: l.requestTimeoutMs,
    keepAliveTimeout: l.keepAliveTimeoutMs,
    http: { headersTimeout: l.headersTimeoutMs, requestTimeout: l.requestTimeoutMs, connectionsCheckingInterval: l.checkIntervalMs },
  };
}

/**
 * The key an address is counted under: IPv4 as is (also when IPv4-mapped), IPv6 by its /64, the
 * smallest block one subscriber usually gets (one host can use any address in it).
 */
export function addressKey(ip: string | undefined): string {
  if (!ip) return '';
  if (ip.startsWith('::ffff:') && ip.includes('.')) return ip.slice(7);
  if (!ip.includes(':')) return ip;
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t] : h;
  return `${groups
    .slice(0, 4)
    .map((g) => (Number.parseInt(g, 16) || 0).toString(16))
    .join(':')}::/64`;
}

/** Whether an address is the machine itself (127.0.0.0/8, ::1, IPv4-mapped loopback). */
export function isLoopback(ip: string | undefined): boolean {
  if (!ip) return false;
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  return v4.startsWith('127.') || ip === '::1';
}

/**
 * Caps open connections on `server`: per source address (counted on 'connection', closed at once
 * past the cap) and per process (Node's maxConnections, which closes the connection before it
 * reaches HTTP and emits 'drop'). Each refusal counts in hark_connections_refused_total; the first
 * of a burst logs a warning.
 */
export function limitConnections(server: Server, l: ConnectionLimits, metrics: Metrics, log: FastifyBaseLogger): void {
  server.maxConnections = l.max;
  metrics.connectionsMax.set(l.max);
  const lastLog = { global: 0, per_address: 0 };
  const refused = (reason: 'global' | 'per_address', detail: object, msg: string) => {
    metrics.connectionsRefused.inc({ reason });
    const now = Date.now();
    if (now - lastLog[reason] < REFUSAL_LOG_INTERVAL_MS) return;
    lastLog[reason] = now;
    log.warn({ ...detail, reason }, msg);
  };
  server.on('drop', (d?: { remoteAddress?: string }) =>
    refused('global', { max: l.max, remoteAddress: d?.remoteAddress }, `connection limit reached: ${l.max} open connections; new ones are closed until some end`),
  );
  const perAddress = new Map<string, number>();
  // After the HTTP server's own listener: a refused connection then ends like any reset one.
  // One 'close' listener per connection (memory per idle socket is budgeted, BENCHMARKS.md); 'close' comes once.
  server.on('connection', (socket: Socket) => {
    metrics.connectionsOpen.inc();
    if (!l.perAddress) {
      socket.on('close', () => metrics.connectionsOpen.dec());
      return;
    }
    const key = addressKey(socket.remoteAddress);
    const n = perAddress.get(key) ?? 0;
    if (n >= l.perAddress) {
      socket.on('close', () => metrics.connectionsOpen.dec());
      refused('per_address', { address: key, max: l.perAddress }, `connections per address: ${key} has ${n} open; new ones are closed`);
      socket.destroy();
      return;
    }
    perAddress.set(key, n + 1);
    socket.on('close', () => {
      metrics.connectionsOpen.dec();
      const left = (perAddress.get(key) ?? 1) - 1;
      if (left <= 0) perAddress.delete(key);
      else perAddress.set(key, left);
    });
  });
}
