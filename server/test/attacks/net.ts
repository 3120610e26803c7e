/**
 * Loopback clients for the attack tests: raw TCP sockets and plain HTTP requests from a chosen
 * source address (Linux routes all of 127.0.0.0/8 to lo, so 127.0.0.2, .3, … are distinct
 * clients to the gateway), bypassing fetch's connection pool.
 */
import { request } from 'node:http';
import { type Socket, connect } from 'node:net';

export interface Raw {
  socket: Socket;
  /** Resolves with ms from connect to close. */
  closed: Promise<number>;
  isClosed(): boolean;
  /** Everything the server wrote. */
  received(): string;
}

/** Opens a TCP connection from `localAddress` and writes `payload` (e.g. half a request). */
export function openRaw(port: number, localAddress: string, payload = ''): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    let done = false;
    let data = '';
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    const closed = new Promise<number>((res) => {
      socket.once('close', () => {
        done = true;
        res(Date.now() - t0);
      });
    });
    socket.on('data', (b) => {
      data += b.toString();
    });
    socket.on('error', () => {});
    socket.once('connect', () => {
      if (payload) socket.write(payload);
      resolve({ socket, closed, isClosed: () => done, received: () => data });
    });
    // A connection refused outright never connects: report it as closed at once.
    socket.once('close', () => {
      if (!socket.remotePort) resolve({ socket, closed, isClosed: () => true, received: () => data });
    });
    setTimeout(() => reject(new Error('connect timed out')), 5_000).unref();
  });
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Record<string, unknown>;
}

/** One HTTP request on its own connection from `localAddress`; rejects when the connection is refused or cut. */
export function httpReq(
  port: number,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: unknown; localAddress?: string; timeoutMs?: number },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: opts.method ?? 'GET',
        path: opts.path,
        localAddress: opts.localAddress ?? '127.0.0.1',
        agent: false,
        headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers },
        timeout: opts.timeoutMs ?? 10_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => {
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {}
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Polls `cond` every 20 ms until it holds or `ms` pass; returns whether it held. */
export async function until(cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A prom-client metric's value, summed over the label values that match `labels`. */
export async function metricValue(m: { get(): Promise<{ values: { value: number; labels: object }[] }> }, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await m.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x)).reduce((a, v) => a + v.value, 0);
}
