import type { Entry } from './protocol';
import { compareStreamIds } from './ids';

/**
 * What a visitor may see of an entry: internal notes never, and no operator-only
 * fields. This is the one gate on the fan-out path and the request path alike.
 */
export function toVisitorEntry(e: Entry): Entry | null {
  if (e.kind === 'note') return null;
  if (e.kind === 'event' && (e.event === 'rated' || e.event === 'queued' || e.event === 'offline-message' || e.event === 'created')) return null;
  const out: Entry = { id: e.id, conv: e.conv, at: e.at, kind: e.kind };
  if (e.from) out.from = e.from;
  if (e.text !== undefined && e.kind === 'msg') out.text = e.text;
  if (e.files && e.kind === 'msg') out.files = e.files;
  if (e.cid && e.from === 'visitor') out.cid = e.cid;
  if (e.op) out.op = e.op;
  if (e.event) out.event = e.event;
  if (e.to) out.to = e.to;
  return out;
}

/** Inserts an entry into a list kept in stream order, ignoring one already there (by id). Returns the same array when nothing changed. */
export function insertEntry(list: Entry[], e: Entry): Entry[] {
  let i = list.length;
  while (i > 0 && compareStreamIds((list[i - 1] as Entry).id, e.id) > 0) i--;
  if (i > 0 && (list[i - 1] as Entry).id === e.id) return list;
  const out = list.slice();
  out.splice(i, 0, e);
  return out;
}
