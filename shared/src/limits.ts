/** Every limit the product enforces, in one place. The README lists each. */

/** Protocol version spoken by this build; clients send it as `?v=` on the socket URL. */
export const PROTOCOL_VERSION = 1;
/** Largest WebSocket frame accepted (ws `maxPayload`). A 4,000-char message in UTF-8 JSON fits with room. */
export const MAX_FRAME_BYTES = 32 * 1024;
/** Largest REST request body (an avatar image as a data URL fits). */
export const MAX_BODY_BYTES = 256 * 1024;
/** Longest chat message, in UTF-16 code units (what a textarea's maxLength counts). */
export const MAX_MESSAGE_CHARS = 4000;
/** Visitor messages per second, sustained, with a burst of VISITOR_BURST. */
export const VISITOR_MSGS_PER_SEC = 5;
export const VISITOR_BURST = 20;
/** All visitor messages of one site per second, per gateway, with a burst of SITE_BURST. */
export const SITE_MSGS_PER_SEC = 500;
export const SITE_BURST = 2000;
/** Frames of any kind per second per socket (typing, seen, …) before the socket is closed with 1013. */
export const FRAMES_PER_SEC = 30;
export const FRAMES_BURST = 120;
/** Concurrent WebSocket connections from one IP address, per gateway. */
export const MAX_CONNECTIONS_PER_IP = 2000;
/** Sign-in attempts per e-mail and per IP in LOGIN_WINDOW_MS. */
export const LOGIN_ATTEMPTS = 10;
export const LOGIN_WINDOW_MS = 60_000;
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
/** Visitor tokens are 32 url-safe characters (192 bits), minted by the widget. */
export const VISITOR_TOKEN_RE = /^[A-Za-z0-9_-]{32}$/;
/** Client message ids: 8–64 url-safe characters. */
export const CLIENT_ID_RE = /^[A-Za-z0-9_-]{8,64}$/;
/** Session lifetime. */
export const SESSION_TTL_MS = 7 * 24 * 3600_000;
/** Ping interval for the socket heartbeat; a socket that misses one pong is terminated. */
export const HEARTBEAT_MS = 25_000;
