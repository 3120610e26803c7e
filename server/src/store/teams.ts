/**
 * Teams (departments): named groups of operators. A team is global (an
 * operator's `teams` list holds its id, routing keeps `,team,` per operator in
 * `{site:ID}:opteams`); `sites` says which sites it serves, empty = any.
 */
import { HarkError, randomId } from '@hark/shared';
import type { ScriptedRedis } from '../redis/scripts';
import { TK } from './keys';
import { json, num } from './util';


export interface Team {
  id: string;
  name: string;
  sites: string[];
  createdAt: number;
}

export async function getTeam(r: ScriptedRedis, id: string): Promise<Team | null> {
  const h = await r.hgetall(TK.team(id));
  if (h.name === undefined) return null;
  return { id, name: h.name, sites: json(h.sites, []), createdAt: num(h.createdAt) };
}

export async function listTeams(r: ScriptedRedis): Promise<Team[]> {
  const ids = await r.smembers(TK.teams);
  const teams = await Promise.all(ids.map((id) => getTeam(r, id)));
  return teams.filter((t): t is Team => t !== null).sort((a, b) => a.name.localeCompare(b.name));
}

export async function createTeam(r: ScriptedRedis, input: { name: string; sites?: string[] }): Promise<Team> {
  const id = randomId(10);
  await r.hset(TK.team(id), { name: input.name.trim(), sites: JSON.stringify(input.sites ?? []), createdAt: String(Date.now()) });
  await r.sadd(TK.teams, id);
  return (await getTeam(r, id)) as Team;
}

export async function updateTeam(r: ScriptedRedis, id: string, patch: { name?: string; sites?: string[] }): Promise<Team> {
  if (!(await getTeam(r, id))) throw new HarkError('NOT_FOUND');
  const h: Record<string, string> = {};
  if (patch.name !== undefined) h.name = patch.name.trim();
  if (patch.sites !== undefined) h.sites = JSON.stringify(patch.sites);
  if (Object.keys(h).length) await r.hset(TK.team(id), h);
  return (await getTeam(r, id)) as Team;
}

/** Removes the team record; the caller takes it off operators and sites (they are the lead's records). */
export async function deleteTeam(r: ScriptedRedis, id: string): Promise<void> {
  await r.del(TK.team(id));
  await r.srem(TK.teams, id);
}
