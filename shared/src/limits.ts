/** Every limit the product enforces, in one place. The README lists each. */

/** Protocol version spoken by this build; clients send it as `?v=` on the socket URL. */
export const PROTOCOL_VERSION = 1;
/** Largest WebSocket frame accepted (ws `maxPayload`). A 4,000-char message in UTF-8 JSON fits with room. */
export const MAX_FRAME_BYTES = 32 * 1024;
/** Largest REST request body (an avatar image as a data URL fits). */
export const MAX_BODY_BYTES = 256 * 1024;
/** Largest operator photo, in bytes of the image (PNG, JPEG or WebP; uploaded as a base64 data URL). */
export const AVATAR_MAX_BYTES = 128 * 1024;
/** Widest and tallest operator photo, in pixels (the console sends 96 × 96). */
export const AVATAR_MAX_PX = 1024;
/** Longest chat message, in UTF-16 code units (what a textarea's maxLength counts). */
export const MAX_MESSAGE_CHARS = 4000;
/** Visitor messages per second, sustained, with a burst of VISITOR_BURST. */
export const VISITOR_MSGS_PER_SEC = 5;
export const VISITOR_BURST = 20;
/**
 * A site's default for all its visitors' messages per second, for the whole installation (a site
 * setting, `msgsPerSec`, that admins may change up to MAX_SITE_MSGS_PER_SEC). Each gateway enforces
 * its share (the setting over the live gateways), with a burst of SITE_BURST_SECONDS of it. 2,000
 * open chats with every visitor writing once a second stay under the default. Past it the heaviest
 * senders are slowed first: RATE_LIMITED with a retry hint of SITE_RETRY_MS, and the socket stays
 * open (the widget sends the message again after the hint).
 */
export const SITE_MSGS_PER_SEC = 2000;
export const MAX_SITE_MSGS_PER_SEC = 100_000;
export const SITE_BURST_SECONDS = 2;
export const SITE_RETRY_MS = 1_000;
/** Frames of any kind per second per socket (typing, seen, …) before the socket is closed with 1013. */
export const FRAMES_PER_SEC = 30;
export const FRAMES_BURST = 120;
/** Concurrent WebSocket connections from one IP address, per gateway. */
export const MAX_CONNECTIONS_PER_IP = 2000;
/**
 * Sign-in attempts for one account from one address (an IPv6 address counts by its /64) that go
 * through at once; after that each further attempt from that address for that account must wait
 * LOGIN_DELAY_MS, doubling with every attempt, up to LOGIN_DELAY_MAX_MS (429 LOGIN_RATE_LIMITED
 * with Retry-After). Other addresses are not affected, so an attacker cannot lock the owner out.
 * A successful sign-in clears the pair's count.
 */
export const LOGIN_ATTEMPTS = 10;
export const LOGIN_DELAY_MS = 1_000;
export const LOGIN_DELAY_MAX_MS = 15 * 60_000;
/** Sign-in attempts from one address across all accounts in LOGIN_WINDOW_MS (successful ones are given back). */
export const LOGIN_ATTEMPTS_PER_ADDRESS = 50;
/** How long sign-in attempts are remembered: the per-address window, and a pair's count after its last attempt. */
export const LOGIN_WINDOW_MS = 3_600_000;
/**
 * Password hashes (scrypt, 128 MiB, ~0.5 s each) computed at once per gateway process, and how many
 * more may wait for a turn; past that, 503 BUSY with Retry-After. Keeps libuv's thread pool (4
 * threads) free for static files and everything else, and bounds scrypt's memory to 256 MiB.
 */
export const MAX_CONCURRENT_HASHES = 2;
export const MAX_QUEUED_HASHES = 8;
/** A request's headers must arrive within HEADERS_TIMEOUT_MS of its first byte (Node's default: 60 s), the whole request within REQUEST_TIMEOUT_MS; else 408 and the connection is closed. */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 30_000;
/** An idle keep-alive HTTP connection is closed after this. A WebSocket, once upgraded, is not subject to any of these three. */
export const KEEP_ALIVE_TIMEOUT_MS = 10_000;
/**
 * Open TCP connections (HTTP and WebSocket alike) from one address, per gateway, counted when the
 * connection is accepted, before any HTTP is read; past it the connection is closed at once. Above
 * MAX_CONNECTIONS_PER_IP so a WebSocket past that limit still gets its 429. Not applied with
 * TRUST_PROXY=1 (every connection then comes from the proxy).
 */
export const MAX_TCP_CONNECTIONS_PER_ADDRESS = 2_200;
/**
 * Open connections per gateway process: its open-file limit (RLIMIT_NOFILE, as the process runs)
 * less CONNECTION_FD_RESERVE for Redis, files and logs (at least half the limit); when the limit
 * cannot be read, DEFAULT_MAX_CONNECTIONS. Past it new connections are closed at once.
 */
export const CONNECTION_FD_RESERVE = 1_000;
export const DEFAULT_MAX_CONNECTIONS = 10_000;
/** Default concurrent chats per operator. */
export const DEFAULT_CAPACITY = 3;
/** Presence lease: a gateway renews every PRESENCE_RENEW_MS; it lapses after PRESENCE_TTL_MS. */
export const PRESENCE_TTL_MS = 15_000;
export const PRESENCE_RENEW_MS = 5_000;
/** After an operator's last console socket is gone this long, they are set offline. */
export const OFFLINE_GRACE_MS = 30_000;
/** Default "unanswered" threshold of a site. */
export const DEFAULT_UNANSWERED_MS = 60_000;
/** Bytes buffered for one socket before it counts as a slow consumer and is closed. */
export const MAX_SOCKET_BUFFER_BYTES = 1024 * 1024;
/** Entries sent per catch-up read; a longer gap is paged. */
export const CATCHUP_PAGE = 500;
/** Custom attributes per visitor, and the longest key and value. */
export const MAX_ATTRS = 50;
export const MAX_ATTR_KEY = 64;
export const MAX_ATTR_VALUE = 512;
/**
 * What one visitor can store in total, whatever the number of frames: at most MAX_ATTRS
 * attributes (merged over every `attrs` frame; a new key beyond it is refused with
 * TOO_MANY_ATTRIBUTES), a name and e-mail of these lengths, one current page.
 */
export const MAX_VISITOR_NAME = 100;
export const MAX_VISITOR_EMAIL = 320;
/**
 * New visitors (tokens registered with `new=1`) per source address per minute, per gateway (the
 * burst is the same number); beyond it the upgrade is refused 429 RATE_LIMITED. Sized for many
 * people behind one NAT, not for one party minting tokens by the thousand.
 */
export const TOKENS_PER_ADDRESS_PER_MIN = 120;
/** A registered visitor token that never starts a conversation expires after this long (its visitor record with it). */
export const UNUSED_TOKEN_TTL_MS = 24 * 3600_000;
/**
 * Messages (chat and offline form) per second from one source address across all its visitors and
 * sockets on a gateway, and the burst: a flood from one address is stopped before it reaches the
 * site's shared budget (SITE_MSGS_PER_SEC), leaving the rest of it to everyone else.
 */
export const ADDRESS_MSGS_PER_SEC = 200;
export const ADDRESS_BURST = 400;
/** Conversations one source address may start per hour on a gateway (the burst is the same number; each visitor has at most one open at a time). */
export const CONVS_PER_ADDRESS_PER_HOUR = 300;
/** Visitor tokens are 32 url-safe characters (192 bits), minted by the widget. */
export const VISITOR_TOKEN_RE = /^[A-Za-z0-9_-]{32}$/;
/** Client message ids: 8–64 url-safe characters. */
export const CLIENT_ID_RE = /^[A-Za-z0-9_-]{8,64}$/;
/** Session lifetime. */
export const SESSION_TTL_MS = 7 * 24 * 3600_000;
/** Ping interval for the socket heartbeat; a socket that misses one pong is terminated. */
export const HEARTBEAT_MS = 25_000;
/** API keys one installation keeps at most (POST /v1/api-keys answers CONFLICT past it). */
export const MAX_API_KEYS = 100;
/** A key's last-use time is written at most this often (one write a minute per key, not per request). */
export const API_KEY_TOUCH_MS = 60_000;
/**
 * Public API requests (`/v1/api/…`) one API key may make per minute, across every gateway: a token
 * bucket per key in Redis, refilled evenly (one request every 100 ms), holding at most this many
 * (the burst). Past it: 429 RATE_LIMITED with Retry-After.
 */
export const API_KEY_REQUESTS_PER_MIN = 600;
/**
 * Failed API key authentications (a bearer secret that is malformed, unknown or revoked) from one
 * address (an IPv6 address counts by its /64) in API_KEY_FAILURE_WINDOW_MS, across every gateway.
 * Past it, every API request from that address is refused 429 RATE_LIMITED with Retry-After until
 * the window (counted from the first failure) ends, with a valid key too, so guessing learns nothing.
 */
export const API_KEY_FAILURES_PER_ADDRESS = 100;
export const API_KEY_FAILURE_WINDOW_MS = 10 * 60_000;
/** Webhook endpoints per site (POST /v1/sites/:site/webhooks answers TOO_MANY_WEBHOOKS past it). */
export const MAX_WEBHOOKS_PER_SITE = 20;

/** Attachments one message or note may carry. */
export const MAX_FILES_PER_MESSAGE = 10;
/** A site's default size limit for one attachment; admins set it per site up to MAX_FILE_BYTES. */
export const DEFAULT_FILE_MAX_BYTES = 10 * 1024 * 1024;
export const MAX_FILE_BYTES = 100 * 1024 * 1024;
/** The longest file name kept (longer ones are cut, keeping the extension). */
export const MAX_FILE_NAME = 200;
/** Uploads one visitor may start per minute, across every gateway (429 RATE_LIMITED with Retry-After past it). */
export const FILE_UPLOADS_PER_VISITOR_PER_MIN = 10;
/** Uploads one operator may start per minute. */
export const FILE_UPLOADS_PER_OPERATOR_PER_MIN = 60;
/** Bytes one visitor may have stored in total (413 FILE_QUOTA_EXCEEDED past it); erasing the visitor frees them. */
export const MAX_FILE_BYTES_PER_VISITOR = 100 * 1024 * 1024;
/** Bytes all of one site's visitors may upload per UTC day (413 FILE_QUOTA_EXCEEDED past it). */
export const MAX_FILE_BYTES_PER_SITE_PER_DAY = 5 * 1024 * 1024 * 1024;
/** A file uploaded but never sent in a message is deleted (bytes and record) this long after its upload, by the `files-sweep` job. */
export const UNATTACHED_FILE_TTL_MS = 24 * 3600_000;
/** How long a signed download URL works. Every download checks it again, with the file's conversation. */
export const FILE_URL_TTL_MS = 5 * 60_000;
/** Uploads in progress at once per gateway (503 BUSY past it), so a flood of slow uploads cannot hold every socket and spool. */
export const MAX_CONCURRENT_UPLOADS = 64;
/** Types a site allows by default (decided from the bytes): raster images, PDF, plain text, ZIP and office documents. */
export const DEFAULT_FILE_TYPES = [
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'application/pdf',
  'text/plain',
  'application/zip',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation',
];
/** Every type the gateway can recognise from the bytes (what an admin may allow). SVG and HTML are never shown inline. */
export const KNOWN_FILE_TYPES = [...DEFAULT_FILE_TYPES, 'image/svg+xml', 'text/html'];
/** Types shown inline (thumbnails): raster images only. */
export const INLINE_FILE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];
