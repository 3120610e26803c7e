/**
 * The domain layer: every change users make happens through one of these modules,
 * called alike from the sockets (realtime/), REST (http/) and jobs (jobs/). Access
 * rules are in policy.ts; events every change records are in events.ts.
 */
import { ApiKeys } from './api-keys';
import { Auth } from './auth';
import { Conversations } from './conversations';
import type { Deps } from './deps';
import { Operators } from './operators';
import { Presence } from './presence';
import { Privacy } from './privacy';
import { Reports } from './reports';
import { Router } from './routing';
import { Search } from './search';
import { Sites } from './sites';
import { Visitors } from './visitors';
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
    this.privacy = new Privacy(deps, this.router);
  }
}
