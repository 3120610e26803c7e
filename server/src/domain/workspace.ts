/** Teams, saved replies and each operator's numbers: what the console's admin and self-review views change and read. */
import { HarkError } from '@hark/shared';
import { type Operator, listOperators, updateOperator } from '../store/operators';
import { type ReplyScope, type SavedReply, deleteReply, getReply, listReplies, saveReply } from '../store/replies';
import { listSites, saveSite } from '../store/sites';
import { type OperatorNumbers, operatorNumbers } from '../store/stats';
import { type Team, createTeam, deleteTeam, getTeam, listTeams, updateTeam } from '../store/teams';
import type { Deps } from './deps';
import type { Operators } from './operators';
import { canSeeSite, mayEditSiteReplies } from './policy';

export type { ReplyScope, SavedReply } from '../store/replies';
export type { Team } from '../store/teams';

export class Teams {
  constructor(
    private readonly d: Deps,
    private readonly ops: Operators,
  ) {}
  /** Teams an operator may see: those of their sites, and those of no site. */
  async listFor(me: Operator): Promise<Team[]> {
    return (await listTeams(this.d.c.cmd)).filter((t) => t.sites.length === 0 || t.sites.some((s) => canSeeSite(me, s)));
  }
  create(input: { name: string; sites?: string[] }): Promise<Team> {
    return createTeam(this.d.c.cmd, input);
  }
  update(id: string, patch: { name?: string; sites?: string[] }): Promise<Team> {
    return updateTeam(this.d.c.cmd, id, patch);
  }
  /** Deleting a team takes it off its operators (and their routing) and off sites that sent chats to it. */
  async delete(id: string): Promise<void> {
    const r = this.d.c.cmd;
    if (!(await getTeam(r, id))) throw new HarkError('NOT_FOUND');
    for (const op of await listOperators(r)) {
      if (!op.teams.includes(id)) continue;
      await updateOperator(r, op.id, { teams: op.teams.filter((t) => t !== id) });
      await this.ops.refresh(op.id);
    }
    for (const s of await listSites(r)) if (s.team === id) await saveSite(r, s.id, { team: '' });
    await deleteTeam(r, id);
  }
}

export class Replies {
  constructor(private readonly d: Deps) {}
  /** The operator's own replies, then their sites'. */
  async listFor(me: Operator): Promise<SavedReply[]> {
    const r = this.d.c.cmd;
    const out = await listReplies(r, { owner: me.id });
    for (const s of await listSites(r)) if (canSeeSite(me, s.id)) out.push(...(await listReplies(r, { site: s.id })));
    return out;
  }
  /** Finds a reply by id among the ones this operator may see: their own, then their sites'. */
  async find(me: Operator, id: string): Promise<{ scope: ReplyScope; reply: SavedReply } | null> {
    const r = this.d.c.cmd;
    const own: ReplyScope = { owner: me.id };
    const mine = await getReply(r, own, id);
    if (mine) return { scope: own, reply: mine };
    for (const s of await listSites(r)) {
      if (!canSeeSite(me, s.id)) continue;
      const scope: ReplyScope = { site: s.id };
      const reply = await getReply(r, scope, id);
      if (reply) return { scope, reply };
    }
    return null;
  }
  async create(me: Operator, body: { shortcut: string; text: string; site?: string }): Promise<SavedReply> {
    if (body.site && !mayEditSiteReplies(me, body.site)) throw new HarkError('FORBIDDEN', "Only admins and the site's supervisors can add site-wide replies; add a personal one instead.");
    if (body.site && !(await listSites(this.d.c.cmd)).some((s) => s.id === body.site)) throw new HarkError('NOT_FOUND');
    const scope: ReplyScope = body.site ? { site: body.site } : { owner: me.id };
    return saveReply(this.d.c.cmd, scope, { shortcut: body.shortcut, text: body.text });
  }
  async update(me: Operator, id: string, patch: { shortcut?: string; text?: string }): Promise<SavedReply> {
    const found = await this.editable(me, id);
    return saveReply(this.d.c.cmd, found.scope, { id: found.reply.id, shortcut: patch.shortcut ?? found.reply.shortcut, text: patch.text ?? found.reply.text });
  }
  async delete(me: Operator, id: string): Promise<void> {
    const found = await this.editable(me, id);
    await deleteReply(this.d.c.cmd, found.scope, found.reply.id);
  }
  private async editable(me: Operator, id: string) {
    const found = await this.find(me, id);
    if (!found) throw new HarkError('NOT_FOUND');
    if ('site' in found.scope && !mayEditSiteReplies(me, found.scope.site)) throw new HarkError('FORBIDDEN');
    return found;
  }
}

export class Stats {
  constructor(private readonly d: Deps) {}
  numbers(op: string, now = Date.now()): Promise<OperatorNumbers> {
    return operatorNumbers(this.d.c.cmd, op, now);
  }
}
