/**
 * What the gateway's log may contain. No secret reaches it: a visitor's token travels in the socket
 * URL's query string, a session in the Cookie header (and Set-Cookie), passwords in request bodies,
 * the metrics token and visitor tokens in Authorization. Request lines are logged without their
 * query string, headers and bodies are never logged, and a client error's raw packet is dropped.
 */
import type { FastifyServerOptions } from 'fastify';

/** A URL without its query string or fragment (where the visitor token and anything else secret would be). */
export function logUrl(url: string | undefined): string {
  if (!url) return '';
  const i = url.search(/[?#]/);
  return i === -1 ? url : `${url.slice(0, i)}?…`;
}

interface LoggedRequest {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

/** Fastify's own serializers with the URL stripped and nothing else added. */
export const LOG_SERIALIZERS = {
  req(req: LoggedRequest) {
    return { method: req.method, url: logUrl(req.url), host: req.host, remoteAddress: req.ip, remotePort: req.socket?.remotePort };
  },
  res(reply: { statusCode?: number }) {
    return { statusCode: reply.statusCode };
  },
  /** pino's own shape (type, message, stack and the error's own fields), less `rawPacket`: Node's HTTP parser errors carry the bytes received, request line and cookies included. */
  err(err: Error): { [key: string]: unknown; type: string; message: string; stack: string } {
    const { rawPacket: _raw, ...own } = err as Error & Record<string, unknown>;
    return { ...own, type: err.constructor?.name ?? 'Error', message: err.message, stack: err.stack ?? '' };
  },
};

/** Paths redacted in case some code ever logs headers: belt and braces on top of the serializers. */
export const LOG_REDACT = [
  'req.headers.cookie',
  'req.headers.authorization',
  'headers.cookie',
  'headers.authorization',
  'res.headers["set-cookie"]',
  'password',
  'token',
  '*.password',
  '*.token',
];

type LoggerOption = FastifyServerOptions['logger'];

/** The logger options for Fastify: `false` stays off; anything else gets the serializers and redaction above. */
export function loggerOptions(opt: LoggerOption | undefined): LoggerOption {
  if (!opt) return false;
  const base = (opt === true ? {} : opt) as Record<string, unknown> & { serializers?: object; redact?: string[] | { paths: string[] } };
  const more = Array.isArray(base.redact) ? base.redact : (base.redact?.paths ?? []);
  return { ...base, serializers: { ...base.serializers, ...LOG_SERIALIZERS }, redact: { paths: [...new Set([...LOG_REDACT, ...more])], censor: '[redacted]' } };
}
