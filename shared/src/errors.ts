/**
 * The one registry of error codes. Tests assert on `code`, never on message text.
 * `status` is the HTTP status for REST; `close` is the WebSocket close code used
 * when the error ends a socket (otherwise it is sent as an `error` frame and the
 * socket stays open).
 */
export const ERRORS = {
  BAD_FRAME: { status: 400, close: 1007, message: 'The frame is not valid JSON or does not match the protocol; see shared/src/protocol.ts.' },
  UNKNOWN_TYPE: { status: 400, close: 1007, message: 'Unknown frame type; see shared/src/protocol.ts for the types this version accepts.' },
  BAD_REQUEST: { status: 400, close: 1007, message: 'The request body does not match the schema.' },
  PROTOCOL_VERSION: { status: 400, close: 1002, message: 'Unsupported protocol version; reload the page to get the current client.' },
  EMPTY_MESSAGE: { status: 400, close: 1007, message: 'A message must contain some non-whitespace text.' },
  MESSAGE_TOO_LONG: { status: 413, close: 1009, message: 'The message is longer than MAX_MESSAGE_CHARS; split it.' },
  BODY_TOO_LARGE: { status: 413, close: 1009, message: 'The request body is larger than MAX_BODY_BYTES.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, close: 1003, message: 'Send the request body as JSON (Content-Type: application/json).' },
  AVATAR_INVALID: { status: 400, close: 1007, message: 'The avatar is not a PNG, JPEG or WebP image (send it as a data:image/…;base64, URL), or its size in pixels is over AVATAR_MAX_PX.' },
  AVATAR_TOO_LARGE: { status: 413, close: 1009, message: 'The avatar image is larger than AVATAR_MAX_BYTES; send a smaller one.' },
  FRAME_TOO_LARGE: { status: 413, close: 1009, message: 'The frame is larger than MAX_FRAME_BYTES.' },
  RATE_LIMITED: { status: 429, close: 1013, message: 'Too many messages; slow down and retry after a moment.' },
  TOO_MANY_CONNECTIONS: { status: 429, close: 1013, message: 'Too many connections from this address.' },
  LOGIN_RATE_LIMITED: { status: 429, close: 1008, message: 'Too many sign-in attempts; wait a minute and try again.' },
  ORIGIN_NOT_ALLOWED: { status: 403, close: 1008, message: "This origin is not on the site's allowed origins." },
  UNKNOWN_SITE: { status: 404, close: 1008, message: 'No site with this key; check data-site on the script tag.' },
  VISITOR_TOKEN_MISSING: { status: 401, close: 1008, message: 'A visitor token is required.' },
  VISITOR_TOKEN_INVALID: { status: 401, close: 1008, message: 'The visitor token is malformed, unknown or belongs to another site; mint a new one.' },
  API_KEY_INVALID: { status: 401, close: 1008, message: 'The API key is missing, malformed, unknown or revoked.' },
  API_KEY_READ_ONLY: { status: 403, close: 1008, message: 'This API key is read-only; use a read-write key for changes.' },
  NOT_AUTHENTICATED: { status: 401, close: 1008, message: 'Sign in first.' },
  BAD_CREDENTIALS: { status: 401, close: 1008, message: 'Wrong e-mail or password.' },
  ACCOUNT_DISABLED: { status: 403, close: 1008, message: 'This account is deactivated; ask an admin.' },
  FORBIDDEN: { status: 403, close: 1008, message: 'You are not allowed to do this.' },
  CSRF: { status: 403, close: 1008, message: 'State-changing requests must come from the console origin.' },
  NOT_FOUND: { status: 404, close: 1008, message: 'Not found.' },
  CONVERSATION_NOT_FOUND: { status: 404, close: 1008, message: 'No such conversation, or it is not yours.' },
  CONVERSATION_RESOLVED: { status: 409, close: 1008, message: 'The conversation is resolved; reopen it first.' },
  CONFLICT: { status: 409, close: 1008, message: 'The request conflicts with the current state.' },
  INVALID_TIME_ZONE: { status: 400, close: 1008, message: 'Unknown time zone; use an IANA name such as Europe/Zagreb (Intl.supportedValuesOf("timeZone") lists them).' },
  TOO_MANY_ATTRIBUTES: { status: 413, close: 1009, message: 'A visitor keeps at most MAX_ATTRS attributes; update existing ones or drop some first.' },
  IDENTITY_INVALID: { status: 403, close: 1008, message: "The identity hash does not match; sign the user id with the site's secret." },
  WEBHOOK_TARGET_FORBIDDEN: { status: 400, close: 1008, message: 'The webhook target is not a public address (loopback, private, link-local, unspecified or multicast); WEBHOOKS_ALLOW_PRIVATE=1 allows it.' },
  TOO_MANY_WEBHOOKS: { status: 409, close: 1008, message: 'A site has at most MAX_WEBHOOKS_PER_SITE webhook endpoints; delete one first.' },
  FILES_DISABLED: { status: 403, close: 1008, message: 'This site does not take attachments.' },
  FILE_TOO_LARGE: { status: 413, close: 1009, message: "The file is larger than the site's size limit." },
  FILE_TYPE_NOT_ALLOWED: { status: 415, close: 1003, message: 'This type of file is not allowed here (judged from its contents).' },
  FILE_TYPE_MISMATCH: { status: 415, close: 1003, message: "The file's name or declared type does not match its contents." },
  FILE_QUOTA_EXCEEDED: { status: 413, close: 1009, message: 'Too much stored in files already; try later or send a smaller file.' },
  FILE_NOT_FOUND: { status: 404, close: 1008, message: 'No such file in this conversation.' },
  FILE_IN_USE: { status: 409, close: 1008, message: 'The file is attached to another message already; upload it again.' },
  FILE_URL_INVALID: { status: 403, close: 1008, message: 'The file link is not valid; ask for a new one.' },
  FILE_URL_EXPIRED: { status: 410, close: 1008, message: 'The file link has expired; ask for a new one.' },
  FILE_STORE_FAILED: { status: 503, close: 1013, message: 'The file could not be stored; nothing was kept. Try again.' },
  MAIL_LIMIT: { status: 429, close: 1008, message: 'Too many e-mails asked for; try again later.' },
  SEARCH_QUERY_TOO_LONG: { status: 400, close: 1009, message: 'A search query has at most SEARCH_MAX_QUERY_CHARS characters.' },
  SEARCH_TOO_MANY_WORDS: { status: 400, close: 1008, message: 'A search query has at most SEARCH_MAX_WORDS words.' },
  SEARCH_BAD_RANGE: { status: 400, close: 1008, message: 'The date range is not valid: from and to are ms since the epoch, from before to.' },
  REPORT_BAD_RANGE: { status: 400, close: 1008, message: 'A report needs from and to as YYYY-MM-DD days in the site’s time zone, from not after to.' },
  REPORT_RANGE_TOO_LONG: { status: 400, close: 1008, message: 'A report covers at most MAX_REPORT_DAYS (366) days; ask for a shorter range.' },
  OVERLOADED: { status: 503, close: 1013, message: 'The server is temporarily unable to store messages; your client will retry.' },
  SLOW_CONSUMER: { status: 503, close: 1008, message: 'The socket stopped reading; reconnect.' },
  BUSY: { status: 503, close: 1013, message: 'The server is busy; retry after the time in Retry-After.' },
  RIGHTS_CHANGED: { status: 409, close: 1012, message: 'Your sites or role changed; reconnect to see what you may now.' },
  SHUTTING_DOWN: { status: 503, close: 1012, message: 'The gateway is restarting; reconnect.' },
  INTERNAL: { status: 500, close: 1011, message: 'Internal error; it has been logged.' },
} as const satisfies Record<string, { status: number; close: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class HarkError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Seconds the client should wait before trying again; REST answers carry it as `Retry-After`. */
  readonly retryAfterS: number | undefined;
  constructor(code: ErrorCode, message?: string, opts?: { retryAfterS?: number }) {
    super(message ?? ERRORS[code].message);
    this.code = code;
    this.status = ERRORS[code].status;
    this.retryAfterS = opts?.retryAfterS;
  }
}

export function isErrorCode(x: unknown): x is ErrorCode {
  return typeof x === 'string' && Object.hasOwn(ERRORS, x);
}
