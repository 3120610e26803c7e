/**
 * Browser-side narrowing of frames from the server. Kept free of TypeBox (which
 * compiles checks with `new Function`, forbidden by a strict CSP, and is too big
 * for the widget budget): it checks the envelope and the type tag; the server is
 * the trusted side of this boundary.
 */
import type { ServerToOperator, ServerToVisitor } from './protocol';

const VISITOR_TYPES = new Set(['welcome', 'conv', 'entry', 'synced', 'ack', 'typing', 'seen', 'site', 'history', 'error']);
const OPERATOR_TYPES = new Set(['welcome', 'conv', 'entry', 'synced', 'history', 'ack', 'typing', 'seen', 'visitor', 'presence', 'status', 'error']);

function narrow(raw: unknown, types: Set<string>): Record<string, unknown> | null {
  if (typeof raw !== 'string') return null;
  let obj: unknown;
  try {
    obj = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof obj !== 'object' || obj === null) return null;
  const t = (obj as { type?: unknown }).type;
  return typeof t === 'string' && types.has(t) ? (obj as Record<string, unknown>) : null;
}

export function parseServerToVisitor(raw: unknown): ServerToVisitor | null {
  return narrow(raw, VISITOR_TYPES) as ServerToVisitor | null;
}
export function parseServerToOperator(raw: unknown): ServerToOperator | null {
  return narrow(raw, OPERATOR_TYPES) as ServerToOperator | null;
}
