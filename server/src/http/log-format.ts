/**
 * The log as a person reads it (LOG_FORMAT=pretty, the default in a terminal): one line per
 * record, `12:03:04.567 INFO  message key=value …`, a request as `GET /path → 200 2.7 ms`, an
 * error's stack below its line. Records arrive as pino's JSON lines, after its serializers and
 * redaction (logging.ts): this only re-lays them out, so nothing secret can appear here that the
 * JSON log would not hold. In production (not a terminal, or NODE_ENV=production) the log stays
 * JSON, one object per line, for the log shipper.
 */
import type { Writable } from 'node:stream';

const LEVELS: Record<number, [string, string]> = {
  10: ['TRACE', '\x1b[90m'],
  20: ['DEBUG', '\x1b[36m'],
  30: ['INFO ', '\x1b[32m'],
  40: ['WARN ', '\x1b[33m'],
  50: ['ERROR', '\x1b[31m'],
  60: ['FATAL', '\x1b[35m'],
};
/** Fields every record has, or that the line shows in its own way. */
const SHOWN = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'req', 'res', 'err', 'responseTime', 'v']);

const two = (n: number, w = 2) => String(n).padStart(w, '0');
function clock(ms: number): string {
  const d = new Date(ms);
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${two(d.getMilliseconds(), 3)}`;
}
const value = (v: unknown) => (typeof v === 'string' && !/[\s"=]/.test(v) && v !== '' ? v : JSON.stringify(v));

/** One pino JSON line laid out for a person; a line that is not JSON passes through as it is. */
export function prettyLine(line: string, color = false): string {
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const [name, tint] = LEVELS[r.level as number] ?? [String(r.level).padEnd(5), ''];
  const lvl = color ? `${tint}${name}\x1b[0m` : name;
  const parts = [clock(typeof r.time === 'number' ? r.time : Date.now()), lvl];
  const req = r.req as { method?: string; url?: string; remoteAddress?: string } | undefined;
  const res = r.res as { statusCode?: number } | undefined;
  if (req) parts.push(`${req.method ?? ''} ${req.url ?? ''}${req.remoteAddress ? ` from ${req.remoteAddress}` : ''}`);
  if (res) parts.push(`→ ${res.statusCode ?? '?'}${typeof r.responseTime === 'number' ? ` ${r.responseTime.toFixed(1)} ms` : ''}`);
  // Fastify's own two request messages say nothing the method, path and status do not.
  if (typeof r.msg === 'string' && r.msg && !((req || res) && (r.msg === 'incoming request' || r.msg === 'request completed'))) parts.push(r.msg);
  const err = r.err as { type?: string; message?: string; stack?: string } | undefined;
  if (err) parts.push(`${err.type ?? 'Error'}: ${err.message ?? ''}`);
  for (const [k, v] of Object.entries(r)) if (!SHOWN.has(k)) parts.push(`${k}=${value(v)}`);
  let out = parts.join(' ');
  if (err?.stack) out += `\n${err.stack.split('\n').slice(1).join('\n')}`;
  return out;
}

/** A destination for pino that writes each record through prettyLine. */
export function prettyStream(out: Writable & { isTTY?: boolean }): { write(chunk: string): void } {
  const color = out.isTTY === true && !process.env.NO_COLOR;
  let rest = '';
  return {
    write(chunk: string) {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) if (l) out.write(`${prettyLine(l, color)}\n`);
    },
  };
}
