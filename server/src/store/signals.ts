/**
 * The doorbells gateways ring for each other over pub/sub, as one typed union.
 * Pub/sub is the doorbell, the stream is the truth: a signal only says "look
 * again" (or carries something ephemeral, like typing); nothing depends on a
 * signal arriving. The wire form is a one-letter prefix per kind, unchanged from
 * earlier versions so that gateways of two versions can share one Redis during a
 * rolling upgrade; only this file knows it.
 *
 * Channels (store/keys.ts): a conversation's, a site's, a visitor's and an
 * operator's. The same letter may mean different things on different channels,
 * so decoding takes the channel's kind.
 */
import type { Connections } from '../redis/client';
import { publish } from '../redis/publish';
import { K } from './keys';

export interface TypingBody {
  by: 'visitor' | 'operator';
  on: boolean;
  preview?: string;
  op?: { id: string; name: string };
}
export interface SeenBody {
  by: 'visitor' | 'operator';
  id: string;
  op?: { id: string; name: string };
}

/** On a conversation's channel (besides entries, which the append script publishes itself). */
export type ConvSignal = { t: 'changed' } | { t: 'typing'; body: TypingBody } | { t: 'seen'; body: SeenBody };
/** On a site's channel. */
export type SiteSignal = { t: 'conv-changed'; conv: string } | { t: 'presence'; op: string } | { t: 'queue' } | { t: 'visitor-changed'; conv: string };
/** On a visitor's channel: another tab started a conversation; the visitor's data was erased (their sockets close). */
export type VisitorSignal = { t: 'new-conv'; conv: string } | { t: 'erased' };
/** On an operator's channel. */
export type OperatorSignal = { t: 'sessions-ended'; which: '*' | string[] } | { t: 'record-changed' };

export type Signal = ConvSignal | SiteSignal | VisitorSignal | OperatorSignal;
export type ChannelKind = 'conv' | 'site' | 'visitor' | 'operator';

/** The conversation channel's entry prefix; written by the append script (redis/scripts.ts). */
export const ENTRY_PREFIX = 'e';

export function encodeSignal(s: Signal): string {
  switch (s.t) {
    case 'changed':
      return 'c';
    case 'typing':
      return `t${JSON.stringify(s.body)}`;
    case 'seen':
      return `s${JSON.stringify(s.body)}`;
    case 'conv-changed':
      return `c${s.conv}`;
    case 'presence':
      return `p${s.op}`;
    case 'queue':
      return 'q';
    case 'visitor-changed':
      return `v${s.conv}`;
    case 'new-conv':
      return `n${s.conv}`;
    case 'erased':
      return 'x';
    case 'sessions-ended':
      return `k${s.which === '*' ? '*' : s.which.join(',')}`;
    case 'record-changed':
      return 's';
  }
}

function body<T>(raw: string, ok: (b: Record<string, unknown>) => boolean): T | null {
  try {
    const b = JSON.parse(raw) as unknown;
    return b && typeof b === 'object' && ok(b as Record<string, unknown>) ? (b as T) : null;
  } catch {
    return null;
  }
}
const by = (b: Record<string, unknown>) => b.by === 'visitor' || b.by === 'operator';

/** The signal a payload on a channel of `kind` carries; null for anything unknown or malformed (ignored). */
export function decodeSignal(kind: ChannelKind, p: string): Signal | null {
  const k = p[0];
  const rest = p.slice(1);
  switch (kind) {
    case 'conv':
      if (k === 'c') return { t: 'changed' };
      if (k === 't') {
        const b = body<TypingBody>(rest, by);
        return b ? { t: 'typing', body: b } : null;
      }
      if (k === 's') {
        const b = body<SeenBody>(rest, (x) => by(x) && typeof x.id === 'string');
        return b ? { t: 'seen', body: b } : null;
      }
      return null;
    case 'site':
      if (k === 'c' && rest) return { t: 'conv-changed', conv: rest };
      if (k === 'p' && rest) return { t: 'presence', op: rest };
      if (k === 'q') return { t: 'queue' };
      if (k === 'v' && rest) return { t: 'visitor-changed', conv: rest };
      return null;
    case 'visitor':
      if (k === 'x') return { t: 'erased' };
      return k === 'n' && rest ? { t: 'new-conv', conv: rest } : null;
    case 'operator':
      if (k === 'k') return { t: 'sessions-ended', which: rest === '*' ? '*' : rest.split(',') };
      if (k === 's') return { t: 'record-changed' };
      return null;
  }
}

export function convSignal(c: Connections, conv: string, s: ConvSignal): Promise<unknown> {
  return publish(c, K.convChannel(conv), encodeSignal(s));
}
export function siteSignal(c: Connections, site: string, s: SiteSignal): Promise<unknown> {
  return publish(c, K.siteChannel(site), encodeSignal(s));
}
export function visitorSignal(c: Connections, visitor: string, s: VisitorSignal): Promise<unknown> {
  return publish(c, K.visitorChannel(visitor), encodeSignal(s));
}
export function operatorSignal(c: Connections, op: string, s: OperatorSignal): Promise<unknown> {
  return publish(c, K.operatorChannel(op), encodeSignal(s));
}
