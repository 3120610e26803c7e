/**
 * Every Redis key and channel, in one place. Routing state of a site shares the
 * hash tag {site:ID} so one Lua script can touch all of it, on one node or a
 * cluster; a conversation's data shares {conv:ID}; a visitor's, {vis:ID}.
 */
export const K = {
  sites: 'hark:sites',
  site: (s: string) => `{site:${s}}:cfg`,
  /** hash op -> online|away|offline, as the operator set it (routing honours it). */
  siteStatus: (s: string) => `{site:${s}}:status`,
  /** hash op -> max concurrent chats. */
  siteCap: (s: string) => `{site:${s}}:cap`,
  /** hash op -> open chats assigned. */
  siteLoad: (s: string) => `{site:${s}}:load`,
  /** hash op -> ms of the last assignment (ties go to the longest idle). */
  siteIdle: (s: string) => `{site:${s}}:idle`,
  /** zset op -> presence lease expiry (ms); renewed by gateways holding the operator's sockets. */
  siteLease: (s: string) => `{site:${s}}:lease`,
  /** hash op -> ",team1,team2," */
  siteOpTeams: (s: string) => `{site:${s}}:opteams`,
  /** zset conv -> ms it started waiting; oldest first. */
  siteQueue: (s: string) => `{site:${s}}:queue`,
  /** hash conv -> op, for every assigned, unresolved conversation. */
  siteAssign: (s: string) => `{site:${s}}:assign`,
  /** hash conv -> seat token: the reservation in the assignee's seat ledger (K.opSeats) that backs the assignment. */
  siteSeat: (s: string) => `{site:${s}}:seat`,
  /** hash conv -> team the conversation is routed to. */
  siteConvTeam: (s: string) => `{site:${s}}:cteam`,
  /** zset conv -> created ms: every unresolved conversation (queued or open). */
  siteOpen: (s: string) => `{site:${s}}:open`,
  /** zset conv -> resolved ms. */
  siteResolved: (s: string) => `{site:${s}}:resolved`,
  /** Channel: lifecycle doorbells of the site's conversations and operators. */
  siteChannel: (s: string) => `{site:${s}}:ev`,
  /** string: resolved-at (ms) up to which the site's resolved conversations are compacted. */
  siteCompacted: (s: string) => `{site:${s}}:compacted`,

  /**
   * hash seat token -> JSON {s: site, c: conv, at: ms reserved}: the operator's seat ledger, one entry per
   * chat they hold on any site (and per reservation in flight). Its length is the operator-wide load.
   */
  opSeats: (o: string) => `{op:${o}}:seats`,

  conv: (c: string) => `{conv:${c}}:meta`,
  convStream: (c: string) => `{conv:${c}}:s`,
  convCids: (c: string) => `{conv:${c}}:cids`,
  /** A compacted conversation's entries (deflated JSON of [id, entry json] pairs); the stream keeps only newer ones. */
  convPacked: (c: string) => `{conv:${c}}:packed`,
  /** Channel: every entry of the conversation (published in the same script as the XADD), typing, seen, state. */
  convChannel: (c: string) => `{conv:${c}}:ev`,

  visitor: (v: string) => `{vis:${v}}:info`,
  visitorConvs: (v: string) => `{vis:${v}}:convs`,
  visitorChannel: (v: string) => `{vis:${v}}:ev`,
  /** Zset: gateway holding a socket of the visitor → until when (ms); expires on its own. */
  visitorOnline: (v: string) => `{vis:${v}}:on`,
  /** hash gateway -> the visitor's open sockets there; `gone` -> ms the last one closed (store/mail.ts: is the visitor away?). */
  visitorSockets: (v: string) => `{vis:${v}}:socks`,
  visitorToken: (tokenHash: string) => `hark:vtok:${tokenHash}`,
  visitorByUser: (site: string, userId: string) => `hark:vuser:${site}:${userId}`,
  /** set: the visitor's uploaded files (attached or not); erase deletes them. */
  visitorFiles: (v: string) => `{vis:${v}}:files`,
  /** string: bytes the visitor has stored in files (MAX_FILE_BYTES_PER_VISITOR). */
  visitorFileBytes: (v: string) => `{vis:${v}}:fbytes`,
  /** string: the visitor's uploads in the current minute (FILE_UPLOADS_PER_VISITOR_PER_MIN), expiring with it. */
  visitorUploads: (v: string) => `{vis:${v}}:uploads`,
  /** hash: one stored file (store/files.ts): site, owner, conversation and message it is attached to, name, size, type, blob key. */
  file: (f: string) => `{file:${f}}:meta`,
  /** set: the files attached in a conversation; erase deletes them. */
  convFiles: (c: string) => `{conv:${c}}:files`,
  /** string: an operator's uploads in the current minute (FILE_UPLOADS_PER_OPERATOR_PER_MIN). */
  operatorUploads: (o: string) => `hark:op:${o}:uploads`,
  /** string: bytes the site's visitors uploaded on a UTC day (MAX_FILE_BYTES_PER_SITE_PER_DAY); expires after 2 days. */
  siteFileBytes: (s: string, day: string) => `{site:${s}}:fbytes:${day}`,
  /** zset file -> upload ms: files not yet sent in a message (the files-sweep job deletes old ones). */
  filesUnattached: 'hark:files:unattached',
  /** string: the key download URLs are signed with (made once, unless FILES_URL_SECRET is set). */
  filesSecret: 'hark:files:secret',

  operators: 'hark:ops',
  /** hash {type: png|jpeg|webp, data: bytes}: one version of an operator's photo (store/avatars.ts); a replaced one expires. */
  avatar: (o: string, v: string) => `hark:avatar:${o}:${v}`,
  operator: (o: string) => `hark:op:${o}`,
  operatorByEmail: (email: string) => `hark:opemail:${email.toLowerCase()}`,
  operatorSessions: (o: string) => `hark:op:${o}:sessions`,
  /** Channel: an operator's own doorbell (status change, sessions ended). */
  operatorChannel: (o: string) => `hark:op:${o}:ev`,
  session: (h: string) => `hark:sess:${h}`,
  /** Job leases (jobs/jobs.ts): the gateway that runs a background job now. */
  jobLease: (job: string) => `hark:job:${job}:lease`,
  loginAttempts: (k: string) => `hark:login:${k}`,
  /** API keys (store/api-keys.ts): the set of key ids, each key's record, and SHA-256 of the secret -> key id. */
  apiKeys: 'hark:apikeys',
  apiKey: (id: string) => `hark:apikey:${id}`,
  apiKeyByHash: (h: string) => `hark:apikeyh:${h}`,
  /** A key's request bucket (API_KEY_REQUESTS_PER_MIN): tokens and when they were counted. */
  apiKeyRate: (id: string) => `hark:apirate:${id}`,
  /** Failed key authentications from one address (API_KEY_FAILURES_PER_ADDRESS), expiring with its window. */
  apiKeyFailures: (addr: string) => `hark:apifail:${addr}`,
  /** Webhooks (store/webhooks.ts). set: every webhook endpoint id (the delivery job walks it). */
  webhooks: 'hark:webhooks',
  /** set: a site's webhook endpoint ids. */
  siteWebhooks: (s: string) => `{site:${s}}:webhooks`,
  /** list: notices for the site's admins (a webhook endpoint disabled after failing), newest first, capped. */
  siteWebhookNotices: (s: string) => `{site:${s}}:whnotices`,
  /** hash: a webhook endpoint's record (url, events, secrets, enabled, failure state). One endpoint's keys share {wh:E}. */
  webhook: (e: string) => `{wh:${e}}:cfg`,
  /** zset lane -> ms its head delivery is due (a lane: the endpoint's deliveries of one conversation). */
  webhookDue: (e: string) => `{wh:${e}}:due`,
  /** list: a lane's delivery ids in order; the head is the one being tried. */
  webhookLane: (e: string, lane: string) => `{wh:${e}}:q:${lane}`,
  /** hash: one delivery (event, attempts, last status, state). */
  webhookDelivery: (e: string, d: string) => `{wh:${e}}:d:${d}`,
  /** zset delivery id -> created ms: the endpoint's delivery log, capped. */
  webhookLog: (e: string) => `{wh:${e}}:log`,
} as const;

/** Teams. */
export const TK = {
  teams: 'hark:teams',
  team: (id: string) => `hark:team:${id}`,
} as const;

/** Saved replies: a site's, and an operator's own. */
export const RK = {
  site: (site: string) => `{site:${site}}:replies`,
  personal: (op: string) => `hark:op:${op}:replies`,
} as const;

/**
 * Operators' numbers, per operator and UTC day (store/stats.ts): first-response times, resolution
 * times (ZCARD = chats handled), ratings. One operator's keys share a hash tag (one cluster slot).
 */
export const SK = {
  frt: (op: string, day: string) => `{opstats:${op}}:${day}:frt`,
  res: (op: string, day: string) => `{opstats:${op}}:${day}:res`,
  rate: (op: string, day: string) => `{opstats:${op}}:${day}:rate`,
} as const;
