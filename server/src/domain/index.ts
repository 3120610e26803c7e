/**
 * The domain layer: every change users make happens through one of these modules,
 * called alike from the sockets (realtime/), REST (http/) and jobs (jobs/). Access
 * rules are in policy.ts; events every change records are in events.ts.
 */
import { HarkError } from '@hark/shared';
import { deleteSiteKeys, relistSite, siteConversationCount, unlistSite } from '../store/sites';
import { ApiKeys } from './api-keys';
import { Auth } from './auth';
import { Conversations } from './conversations';
import type { Deps } from './deps';
import { Files } from './files';
import { Operators } from './operators';
import { Presence } from './presence';
import { Privacy } from './privacy';
import { Reports } from './reports';
import { Router } from './routing';
import { Search } from './search';
import { Sites } from './sites';
import { Visitors } from './visitors';
import { Mail } from './mail';
import { Inbound } from './mail-inbound';
import { Webhooks } from './webhooks';
import { Replies, Stats, Teams } from './workspace';

export type { Deps } from './deps';

export class Domain {
  readonly router: Router;
  readonly conversations: Conversations;
  readonly operators: Operators;
  readonly visitors: Visitors;
  readonly sites: Sites;
  readonly presence: Presence;
  readonly teams: Teams;
  readonly replies: Replies;
  readonly stats: Stats;
  readonly auth: Auth;
  readonly apiKeys: ApiKeys;
  readonly webhooks: Webhooks;
  readonly privacy: Privacy;
  readonly files: Files;
  readonly mail: Mail;
  readonly search: Search;
  readonly reports: Reports;

  constructor(readonly deps: Deps) {
    this.router = new Router(deps);
    this.conversations = new Conversations(deps, this.router);
    this.operators = new Operators(deps, this.router, this.conversations);
    this.visitors = new Visitors(deps);
    this.sites = new Sites(deps);
    this.presence = new Presence(deps, this.sites, this.operators, this.conversations);
    this.teams = new Teams(deps, this.operators);
    this.replies = new Replies(deps);
    this.stats = new Stats(deps);
    this.auth = new Auth(deps, this.operators);
    this.apiKeys = new ApiKeys(deps);
    this.webhooks = new Webhooks(deps);
    this.search = new Search(deps);
    this.reports = new Reports(deps);
    this.files = new Files(deps);
    this.privacy = new Privacy(deps, this.router, this.files);
    this.mail = new Mail(deps);
    this.mail.inbound = new Inbound(deps, this.mail, this.conversations);
  }

  /**
   * Deletes a site that holds no conversation (CONFLICT otherwise: its conversations and visitors
   * would need erasing first, which deleting a site does not do on the side). Its widget is refused
   * from the first step; its operators stop serving it (their consoles reconnect), its webhook
   * endpoints and API keys bound to it go, then its settings and every key of its own. Teams that
   * name it keep the dead id, which matches nothing (emptying a team's list would mean "any site").
   */
  async deleteSite(id: string): Promise<void> {
    if (!(await this.sites.get(id))) throw new HarkError('NOT_FOUND');
    const r = this.deps.c.cmd;
    const refuse = (held: number) => new HarkError('CONFLICT', `The site holds ${held} conversation${held === 1 ? '' : 's'}; a site can be deleted only before it has any.`);
    const held = await siteConversationCount(r, id);
    if (held > 0) throw refuse(held);
    const hooks = (await this.webhooks.list(id)).webhooks;
    await unlistSite(r, id);
    // A conversation started between the count and the unlisting (the visitor socket checks the list first): keep the site.
    const late = await siteConversationCount(r, id);
    if (late > 0) {
      await relistSite(r, id);
      throw refuse(late);
    }
    for (const op of await this.operators.list()) if (op.sites.includes(id)) await this.operators.update(op.id, { sites: op.sites.filter((s) => s !== id) });
    for (const w of hooks) await this.webhooks.delete(id, w.id);
    for (const k of await this.apiKeys.list()) if (k.site === id) await this.apiKeys.revoke(k.id);
    await deleteSiteKeys(r, id);
  }
}
