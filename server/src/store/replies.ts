/**
 * Saved replies. Site replies live with the site (`{site:ID}:replies`, hash
 * id -> JSON) so they share the site's slot; personal ones with the operator
 * (`hark:op:ID:replies`). Shortcuts are unique within their scope.
 */
import { HarkError, randomId } from '@hark/shared';
import type { ScriptedRedis } from '../redis/scripts';
import { RK } from './keys';
import { json } from './util';


export interface SavedReply {
  id: string;
  site?: string;
  owner?: string;
  shortcut: string;
  text: string;
  updatedAt: number;
}

/** Where a reply lives: a site's shared list or one operator's own. */
export type ReplyScope = { site: string } | { owner: string };

const keyOf = (scope: ReplyScope) => ('site' in scope ? RK.site(scope.site) : RK.personal(scope.owner));

function decode(scope: ReplyScope, id: string, raw: string): SavedReply | null {
  const v = json<{ shortcut?: string; text?: string; updatedAt?: number } | null>(raw, null);
  if (!v?.shortcut || typeof v.text !== 'string') return null;
  return { id, ...scope, shortcut: v.shortcut, text: v.text, updatedAt: v.updatedAt ?? 0 };
}

export async function listReplies(r: ScriptedRedis, scope: ReplyScope): Promise<SavedReply[]> {
  const h = await r.hgetall(keyOf(scope));
  return Object.entries(h)
    .map(([id, raw]) => decode(scope, id, raw))
    .filter((x): x is SavedReply => x !== null)
    .sort((a, b) => a.shortcut.localeCompare(b.shortcut));
}

export async function getReply(r: ScriptedRedis, scope: ReplyScope, id: string): Promise<SavedReply | null> {
  const raw = await r.hget(keyOf(scope), id);
  return raw ? decode(scope, id, raw) : null;
}

async function assertFreeShortcut(r: ScriptedRedis, scope: ReplyScope, shortcut: string, except?: string): Promise<void> {
  const all = await listReplies(r, scope);
  if (all.some((x) => x.id !== except && x.shortcut.toLowerCase() === shortcut.toLowerCase())) {
    throw new HarkError('CONFLICT', `A saved reply with the shortcut /${shortcut} already exists here; pick another.`);
  }
}

export async function saveReply(r: ScriptedRedis, scope: ReplyScope, input: { id?: string; shortcut: string; text: string }): Promise<SavedReply> {
  const id = input.id ?? randomId(12);
  await assertFreeShortcut(r, scope, input.shortcut, id);
  const updatedAt = Date.now();
  await r.hset(keyOf(scope), id, JSON.stringify({ shortcut: input.shortcut, text: input.text, updatedAt }));
  return { id, ...scope, shortcut: input.shortcut, text: input.text, updatedAt };
}

export async function deleteReply(r: ScriptedRedis, scope: ReplyScope, id: string): Promise<boolean> {
  return (await r.hdel(keyOf(scope), id)) > 0;
}
