import { DEFAULT_CAPACITY, HarkError, type Me, type OperatorAccount, type OperatorStatus, type Role, randomId } from '@hark/shared';
import { K, RK } from './keys';
import { hashPassword } from './passwords';
import type { ScriptedRedis } from '../redis/scripts';
import { bool, jsonStrings, num, oneOf } from './util';

const ROLES: readonly Role[] = ['admin', 'supervisor', 'operator'];
const STATUSES: readonly OperatorStatus[] = ['online', 'away', 'offline'];

export interface Operator extends OperatorAccount {
  status: OperatorStatus;
  createdAt: number;
}

export interface OperatorRecord extends Operator {
  passhash: string;
}

function fromHash(id: string, h: Record<string, string>): OperatorRecord {
  const op: OperatorRecord = {
    id,
    email: h.email ?? '',
    name: h.name ?? '',
    role: oneOf<Role>(h.role, ROLES, 'operator'),
    capacity: num(h.capacity, DEFAULT_CAPACITY),
    sites: jsonStrings(h.sites),
    teams: jsonStrings(h.teams),
    active: h.active === undefined ? true : bool(h.active),
    status: oneOf<OperatorStatus>(h.status, STATUSES, 'offline'),
    createdAt: num(h.createdAt),
    passhash: h.passhash ?? '',
  };
  if (h.avatar) op.avatar = h.avatar;
  return op;
}

export function publicOperator(o: OperatorRecord | Operator): Operator {
  const { passhash: _p, ...rest } = o as OperatorRecord;
  return rest;
}

export function toMe(o: Operator): Me {
  const me: Me = { id: o.id, email: o.email, name: o.name, role: o.role, capacity: o.capacity, sites: o.sites, teams: o.teams, status: o.status };
  if (o.avatar) me.avatar = o.avatar;
  return me;
}

export async function getOperator(r: ScriptedRedis, id: string): Promise<OperatorRecord | null> {
  const h = await r.hgetall(K.operator(id));
  return h.email === undefined ? null : fromHash(id, h);
}

export async function getOperatorByEmail(r: ScriptedRedis, email: string): Promise<OperatorRecord | null> {
  const id = await r.get(K.operatorByEmail(email.trim()));
  return id ? getOperator(r, id) : null;
}

export async function listOperators(r: ScriptedRedis): Promise<Operator[]> {
  const ids = await r.smembers(K.operators);
  const ops = await Promise.all(ids.map((id) => getOperator(r, id)));
  return ops.filter((o): o is OperatorRecord => o !== null).map(publicOperator).sort((a, b) => a.name.localeCompare(b.name));
}

export interface NewOperator {
  email: string;
  name: string;
  password: string;
  role?: Role;
  capacity?: number;
  sites?: string[];
  teams?: string[];
  avatar?: string;
}

export async function createOperator(r: ScriptedRedis, input: NewOperator): Promise<Operator> {
  const email = input.email.trim().toLowerCase();
  const id = randomId(12);
  if (!(await r.set(K.operatorByEmail(email), id, 'NX'))) throw new HarkError('CONFLICT', 'An operator with this e-mail already exists.');
  const h: Record<string, string> = {
    email,
    name: input.name.trim(),
    role: input.role ?? 'operator',
    capacity: String(input.capacity ?? DEFAULT_CAPACITY),
    sites: JSON.stringify(input.sites ?? []),
    teams: JSON.stringify(input.teams ?? []),
    active: '1',
    status: 'offline',
    createdAt: String(Date.now()),
    passhash: await hashPassword(input.password),
  };
  if (input.avatar) h.avatar = input.avatar;
  await r.hset(K.operator(id), h);
  await r.sadd(K.operators, id);
  const op = await getOperator(r, id);
  if (!op) throw new Error('operator vanished');
  return publicOperator(op);
}

export type OperatorPatch = Partial<Pick<Operator, 'name' | 'avatar' | 'role' | 'capacity' | 'sites' | 'teams' | 'active' | 'status' | 'email'>> & { password?: string };

export async function updateOperator(r: ScriptedRedis, id: string, patch: OperatorPatch): Promise<OperatorRecord> {
  const cur = await getOperator(r, id);
  if (!cur) throw new HarkError('NOT_FOUND');
  const h: Record<string, string> = {};
  if (patch.email !== undefined && patch.email.trim().toLowerCase() !== cur.email) {
    const email = patch.email.trim().toLowerCase();
    if (!(await r.set(K.operatorByEmail(email), id, 'NX'))) throw new HarkError('CONFLICT', 'An operator with this e-mail already exists.');
    await r.del(K.operatorByEmail(cur.email));
    h.email = email;
  }
  if (patch.name !== undefined) h.name = patch.name.trim();
  if (patch.avatar !== undefined) h.avatar = patch.avatar;
  if (patch.role !== undefined) h.role = patch.role;
  if (patch.capacity !== undefined) h.capacity = String(patch.capacity);
  if (patch.sites !== undefined) h.sites = JSON.stringify(patch.sites);
  if (patch.teams !== undefined) h.teams = JSON.stringify(patch.teams);
  if (patch.active !== undefined) h.active = patch.active ? '1' : '0';
  if (patch.status !== undefined) h.status = patch.status;
  if (patch.password !== undefined) h.passhash = await hashPassword(patch.password);
  if (Object.keys(h).length) await r.hset(K.operator(id), h);
  const op = await getOperator(r, id);
  if (!op) throw new HarkError('NOT_FOUND');
  return op;
}

/** Operators who may work on a site's data: admins see every site; others, the sites they belong to. */
export function canSeeSite(op: Operator, site: string): boolean {
  return op.role === 'admin' || op.sites.includes(site);
}
export function isSupervisor(op: Operator): boolean {
  return op.role === 'admin' || op.role === 'supervisor';
}

/**
 * Removes an operator's account: their record, e-mail index entry, session index and personal
 * saved replies. What they wrote stays in the conversations (entries carry the name they had).
 */
export async function deleteOperator(r: ScriptedRedis, id: string): Promise<void> {
  const cur = await getOperator(r, id);
  if (!cur) throw new HarkError('NOT_FOUND');
  if ((await r.get(K.operatorByEmail(cur.email))) === id) await r.del(K.operatorByEmail(cur.email));
  await r.srem(K.operators, id);
  await r.del(K.operator(id));
  await r.del(K.operatorSessions(id));
  await r.del(RK.personal(id));
}
