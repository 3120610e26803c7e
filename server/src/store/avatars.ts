/**
 * Operators' photos, kept as images (not data: URLs on the record): each version under its
 * own key, named by the hash of its bytes, served by `GET /v1/avatars/:op/:version.:ext`
 * (http/avatars.ts). The operator record and the conversation hold that path; messages
 * never hold the photo. The type is decided from the bytes (PNG, JPEG, WebP, each walked far
 * enough to read its size), never from what the uploader said.
 */
import { createHash } from 'node:crypto';
import { AVATAR_MAX_BYTES, AVATAR_MAX_PX } from '@hark/shared';
import type { ScriptedRedis } from '../redis/scripts';
import { K } from './keys';

export type AvatarType = 'png' | 'jpeg' | 'webp';
export const AVATAR_MIME: Record<AvatarType, string> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' };
/** A replaced photo stays served this long (open conversations and cached consoles still name it), then expires. */
export const AVATAR_OLD_TTL_MS = 7 * 24 * 3600_000;
/** The path an avatar is served at, as the records hold it. */
export const AVATAR_PATH_RE = /^\/v1\/avatars\/([A-Za-z0-9_-]{1,64})\/([0-9a-f]{16})\.(png|jpeg|webp)$/;

export interface SniffedImage {
  type: AvatarType;
  width: number;
  height: number;
}

function png(b: Buffer): SniffedImage | null {
  if (b.length < 33 || b.readUInt32BE(0) !== 0x89504e47 || b.readUInt32BE(4) !== 0x0d0a1a0a || b.toString('latin1', 12, 16) !== 'IHDR') return null;
  // Every chunk within the bytes, ending with IEND.
  let p = 8;
  let ended = false;
  while (p + 12 <= b.length) {
    const len = b.readUInt32BE(p);
    const type = b.toString('latin1', p + 4, p + 8);
    p += 12 + len;
    if (p > b.length) return null;
    if (type === 'IEND') {
      ended = true;
      break;
    }
  }
  if (!ended) return null;
  return { type: 'png', width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

function jpeg(b: Buffer): SniffedImage | null {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8 || b[2] !== 0xff || b[b.length - 2] !== 0xff || b[b.length - 1] !== 0xd9) return null;
  // Segments up to the start of scan; the frame header (SOF0…SOF15 but DHT, JPG, DAC) has the size.
  let p = 2;
  let size: { width: number; height: number } | null = null;
  while (p + 4 <= b.length) {
    if (b[p] !== 0xff) return null;
    const m = b[p + 1] as number;
    if (m === 0xff) {
      p++;
      continue;
    }
    const len = b.readUInt16BE(p + 2);
    if (len < 2 || p + 2 + len > b.length) return null;
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      if (len < 7) return null;
      size = { height: b.readUInt16BE(p + 5), width: b.readUInt16BE(p + 7) };
    }
    if (m === 0xda) return size ? { type: 'jpeg', ...size } : null;
    p += 2 + len;
  }
  return null;
}

function webp(b: Buffer): SniffedImage | null {
  if (b.length < 30 || b.toString('latin1', 0, 4) !== 'RIFF' || b.toString('latin1', 8, 12) !== 'WEBP' || b.readUInt32LE(4) + 8 !== b.length) return null;
  const chunk = b.toString('latin1', 12, 16);
  if (chunk === 'VP8 ') {
    if (b[23] !== 0x9d || b[24] !== 0x01 || b[25] !== 0x2a) return null;
    return { type: 'webp', width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff };
  }
  if (chunk === 'VP8L') {
    if (b[20] !== 0x2f) return null;
    const [b1, b2, b3, b4] = [b[21], b[22], b[23], b[24]] as number[] as [number, number, number, number];
    return { type: 'webp', width: 1 + (((b2 & 0x3f) << 8) | b1), height: 1 + (((b4 & 0x0f) << 10) | (b3 << 2) | ((b2 & 0xc0) >> 6)) };
  }
  if (chunk === 'VP8X') return { type: 'webp', width: 1 + b.readUIntLE(24, 3), height: 1 + b.readUIntLE(27, 3) };
  return null;
}

/** What the bytes are (PNG, JPEG or WebP, with their size), or null: SVG, GIF, HTML and the rest are not avatars. */
export function sniffImage(b: Buffer): SniffedImage | null {
  const img = png(b) ?? jpeg(b) ?? webp(b);
  return img && img.width > 0 && img.height > 0 ? img : null;
}

export type AvatarCheck = { ok: true; img: SniffedImage; bytes: Buffer } | { ok: false; code: 'AVATAR_INVALID' | 'AVATAR_TOO_LARGE' };

/** Decodes and checks an uploaded `data:image/…;base64,` URL: bytes within AVATAR_MAX_BYTES, an image within AVATAR_MAX_PX. */
export function checkAvatarDataUrl(url: string): AvatarCheck {
  const m = /^data:image\/[a-z0-9.+-]{1,30};base64,([A-Za-z0-9+/]+={0,2})$/.exec(url);
  if (!m) return { ok: false, code: 'AVATAR_INVALID' };
  const b64 = m[1] as string;
  if (Math.floor((b64.length * 3) / 4) - 2 > AVATAR_MAX_BYTES) return { ok: false, code: 'AVATAR_TOO_LARGE' };
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.length > AVATAR_MAX_BYTES) return { ok: false, code: 'AVATAR_TOO_LARGE' };
  const img = sniffImage(bytes);
  if (!img || img.width > AVATAR_MAX_PX || img.height > AVATAR_MAX_PX) return { ok: false, code: 'AVATAR_INVALID' };
  return { ok: true, img, bytes };
}

/** Stores a checked image as the operator's avatar version; returns the path it is served at. Idempotent (the version is the bytes' hash). */
export async function putAvatar(r: ScriptedRedis, op: string, img: SniffedImage, bytes: Buffer): Promise<string> {
  const version = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  const key = K.avatar(op, version);
  await r.hset(key, { type: img.type, data: bytes });
  await r.persist(key);
  return `/v1/avatars/${op}/${version}.${img.type}`;
}

/** A version no longer the operator's: it expires after AVATAR_OLD_TTL_MS. */
export async function retireAvatar(r: ScriptedRedis, path: string | undefined): Promise<void> {
  const m = path ? AVATAR_PATH_RE.exec(path) : null;
  if (m) await r.pexpire(K.avatar(m[1] as string, m[2] as string), AVATAR_OLD_TTL_MS);
}

/** An avatar version's bytes and type, or null. */
export async function getAvatar(r: ScriptedRedis, op: string, version: string): Promise<{ type: AvatarType; data: Buffer } | null> {
  const [type, data] = await r.hmgetBuffer(K.avatar(op, version), 'type', 'data');
  const t = type?.toString('latin1');
  if (!data || (t !== 'png' && t !== 'jpeg' && t !== 'webp')) return null;
  return { type: t, data };
}
