/**
 * What a file is, from its bytes (magic numbers), never from its name or the browser's claim; and
 * images' metadata stripped before anyone else sees them: EXIF, XMP, IPTC and comments from JPEG
 * (only the orientation is kept, rewritten in a minimal EXIF block of its own, so a phone's photo
 * still stands upright), text and EXIF chunks from PNG, EXIF and XMP chunks from WebP. Location
 * lives in exactly those places.
 *
 * The image passes are plans over the spooled upload (`Part`s: byte ranges of the original to
 * keep, and small buffers to put between them), so the bytes stream from disk to the store and
 * are never held whole in memory.
 */
import type { FileHandle } from 'node:fs/promises';

export type Part = { from: number; to: number } | Buffer;

const ZIP_OFFICE: Record<string, string> = {
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
};

/** The extensions each type may have in a name; a name with a known extension of another type lies. */
export const EXTENSIONS: Record<string, string[]> = {
  'image/png': ['png'],
  'image/jpeg': ['jpg', 'jpeg', 'jpe', 'jfif'],
  'image/gif': ['gif'],
  'image/webp': ['webp'],
  'application/pdf': ['pdf'],
  'text/plain': ['txt', 'text', 'log', 'csv', 'md', 'json'],
  'application/zip': ['zip'],
  [ZIP_OFFICE.docx as string]: ['docx'],
  [ZIP_OFFICE.xlsx as string]: ['xlsx'],
  [ZIP_OFFICE.pptx as string]: ['pptx'],
  'image/svg+xml': ['svg'],
  'text/html': ['html', 'htm', 'xhtml'],
};
const BY_EXT = new Map<string, string>();
for (const [t, exts] of Object.entries(EXTENSIONS)) for (const x of exts) BY_EXT.set(x, t);
/** Extensions that name something the gateway never accepts as what it claims (programs, scripts). */
const DANGEROUS_EXT = new Set(['exe', 'dll', 'bat', 'cmd', 'com', 'msi', 'scr', 'js', 'mjs', 'vbs', 'ps1', 'sh', 'jar', 'apk', 'app', 'dmg', 'php', 'hta', 'lnk']);

export function extensionOf(name: string): string {
  const i = name.lastIndexOf('.');
  return i > 0 ? name.slice(i + 1).toLowerCase() : '';
}

/** Bytes looked at to decide the type. */
export const SNIFF_BYTES = 4096;

function startsWith(b: Buffer, sig: number[], at = 0): boolean {
  if (b.length < at + sig.length) return false;
  return sig.every((x, i) => b[at + i] === x);
}

/**
 * The type of a file from its first SNIFF_BYTES bytes, or null when it is none the gateway knows.
 * ZIP-based office documents are told apart from a plain ZIP by the name's extension (their bytes
 * are a ZIP either way: the name can only choose among what the bytes allow).
 */
export function sniff(head: Buffer, name: string): string | null {
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (startsWith(head, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (head.subarray(0, 6).toString('latin1') === 'GIF87a' || head.subarray(0, 6).toString('latin1') === 'GIF89a') return 'image/gif';
  if (head.subarray(0, 4).toString('latin1') === 'RIFF' && head.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  if (head.subarray(0, 5).toString('latin1') === '%PDF-') return 'application/pdf';
  if (startsWith(head, [0x50, 0x4b, 0x03, 0x04]) || startsWith(head, [0x50, 0x4b, 0x05, 0x06])) return ZIP_OFFICE[extensionOf(name)] ?? 'application/zip';
  return sniffText(head);
}

/** Text: valid UTF-8 (allowing a character cut at the end of the sample) with no NUL or other binary control bytes. Markup is told apart: HTML and SVG are never plain text. */
function sniffText(head: Buffer): string | null {
  if (head.length === 0) return null;
  for (const c of head) if (c === 0 || (c < 0x09) || (c > 0x0d && c < 0x20 && c !== 0x1b)) return null;
  let s: string;
  try {
    // Drop up to 3 bytes of a character cut by the sample's end.
    let end = head.length;
    for (let k = 0; k < 3 && end > 0 && ((head[end - 1] as number) & 0xc0) === 0x80; k++) end--;
    if (end > 0 && ((head[end - 1] as number) & 0xc0) === 0xc0) end--;
    s = new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, end));
  } catch {
    return null;
  }
  const t = s.replace(/^\uFEFF/, '').trimStart().slice(0, 1024).toLowerCase();
  if (t.startsWith('<svg') || (t.startsWith('<?xml') && t.includes('<svg'))) return 'image/svg+xml';
  if (/^<(!doctype html|html|head|body|script|iframe|div|a |img|meta|!--)/.test(t) || (t.startsWith('<?xml') && t.includes('xhtml'))) return 'text/html';
  return 'text/plain';
}

/**
 * Whether a name or a declared type contradicts the type from the bytes: a known extension of
 * another type, a dangerous one (a program's), or a declared type other than the real one (empty
 * and application/octet-stream declare nothing; text/* types agree with plain text).
 */
export function lies(real: string, name: string, declared: string): boolean {
  const ext = extensionOf(name);
  if (DANGEROUS_EXT.has(ext)) return true;
  const byName = BY_EXT.get(ext);
  if (byName && byName !== real && !(real === 'application/zip' && Object.values(ZIP_OFFICE).includes(byName))) return true;
  const d = declared.split(';')[0]?.trim().toLowerCase() ?? '';
  if (!d || d === 'application/octet-stream' || d === real) return false;
  if (real === 'text/plain' && (d.startsWith('text/') || d === 'application/json')) return false;
  if (real === 'image/jpeg' && d === 'image/jpg') return false;
  if (real === 'application/zip' && (d === 'application/x-zip-compressed' || d === 'application/x-zip')) return false;
  return true;
}

/** A file name safe to keep and show: no path, no control characters, at most `max` characters (keeping the extension). */
export function cleanName(raw: string, max: number): string {
  let n = raw.split(/[\\/]/).pop() ?? '';
  n = n.replace(/[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069"]/g, '').trim();
  if (!n || n === '.' || n === '..') n = 'file';
  if (n.length > max) {
    const ext = extensionOf(n);
    const keep = ext && ext.length < 12 ? `.${ext}` : '';
    n = n.slice(0, max - keep.length) + keep;
  }
  return n;
}

// ---------------------------------------------------------------- images

export interface ImagePlan {
  parts: Part[];
  w?: number;
  h?: number;
}

async function read(fh: FileHandle, at: number, n: number): Promise<Buffer> {
  const b = Buffer.alloc(n);
  const { bytesRead } = await fh.read(b, 0, n, at);
  return b.subarray(0, bytesRead);
}

/** The plan for a type: images lose their metadata and tell their size; anything else passes whole. */
export async function planFor(type: string, fh: FileHandle, size: number): Promise<ImagePlan> {
  try {
    if (type === 'image/jpeg') return await planJpeg(fh, size);
    if (type === 'image/png') return await planPng(fh, size);
    if (type === 'image/webp') return await planWebp(fh, size);
    if (type === 'image/gif') {
      const b = await read(fh, 6, 4);
      return { parts: [{ from: 0, to: size }], w: b.readUInt16LE(0), h: b.readUInt16LE(2) };
    }
  } catch (e) {
    if (e instanceof MalformedImage) throw e;
    throw new MalformedImage(String(e));
  }
  return { parts: [{ from: 0, to: size }] };
}

export class MalformedImage extends Error {}

/** A minimal EXIF block (APP1) holding only the orientation (big-endian TIFF, one IFD entry). */
function orientationApp1(o: number): Buffer {
  const tiff = Buffer.from([0x4d, 0x4d, 0x00, 0x2a, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, o, 0, 0, 0, 0, 0, 0, 0, 0]);
  const body = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const head = Buffer.from([0xff, 0xe1, 0, 0]);
  head.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([head, body]);
}

/** The orientation tag (1–8) of an EXIF APP1 body, or 1. */
export function exifOrientation(app1: Buffer): number {
  if (app1.subarray(0, 6).toString('latin1') !== 'Exif\0\0') return 1;
  const t = app1.subarray(6);
  const le = t.subarray(0, 2).toString('latin1') === 'II';
  const u16 = (o: number) => (le ? t.readUInt16LE(o) : t.readUInt16BE(o));
  const u32 = (o: number) => (le ? t.readUInt32LE(o) : t.readUInt32BE(o));
  if (t.length < 8) return 1;
  const ifd = u32(4);
  if (ifd + 2 > t.length) return 1;
  const n = u16(ifd);
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > t.length) break;
    if (u16(e) === 0x0112) {
      const v = u16(e + 8);
      return v >= 1 && v <= 8 ? v : 1;
    }
  }
  return 1;
}

async function planJpeg(fh: FileHandle, size: number): Promise<ImagePlan> {
  const parts: Part[] = [{ from: 0, to: 2 }];
  let at = 2;
  let w: number | undefined;
  let h: number | undefined;
  let orientation = 1;
  // The orientation block goes right after SOI, or after a JFIF APP0 that follows it.
  let insertAt = 1;
  for (;;) {
    if (at + 4 > size) throw new MalformedImage('JPEG ends before its image data');
    const m = await read(fh, at, 4);
    if (m[0] !== 0xff) throw new MalformedImage('JPEG marker expected');
    const marker = m[1] as number;
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      parts.push({ from: at, to: at + 2 });
      at += 2;
      continue;
    }
    const len = m.readUInt16BE(2);
    if (len < 2 || at + 2 + len > size) throw new MalformedImage('JPEG segment runs past the end');
    const end = at + 2 + len;
    if (marker === 0xda || marker === 0xd9) {
      // Start of scan: the entropy-coded data and everything after it is kept as it is.
      parts.push({ from: at, to: size });
      break;
    }
    const isApp1 = marker === 0xe1;
    const drop = isApp1 || marker === 0xed || marker === 0xfe || marker === 0xec || (marker >= 0xe3 && marker <= 0xef && marker !== 0xee);
    if (isApp1 && len <= 65535 && orientation === 1) {
      const body = await read(fh, at + 4, Math.min(len - 2, 64 * 1024));
      const o = exifOrientation(body);
      if (o !== 1) orientation = o;
    }
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      const sof = await read(fh, at + 5, 4);
      h = sof.readUInt16BE(0);
      w = sof.readUInt16BE(2);
    }
    if (!drop) parts.push({ from: at, to: end });
    if (marker === 0xe0 && at === 2) insertAt = parts.length;
    at = end;
  }
  if (orientation !== 1) {
    parts.splice(insertAt, 0, orientationApp1(orientation));
    if (orientation >= 5 && w !== undefined && h !== undefined) [w, h] = [h, w];
  }
  return { parts: merge(parts), ...(w ? { w } : {}), ...(h ? { h } : {}) };
}

const PNG_DROP = new Set(['eXIf', 'tEXt', 'zTXt', 'iTXt', 'tIME']);
async function planPng(fh: FileHandle, size: number): Promise<ImagePlan> {
  const parts: Part[] = [{ from: 0, to: 8 }];
  let at = 8;
  let w: number | undefined;
  let h: number | undefined;
  while (at < size) {
    if (at + 12 > size) throw new MalformedImage('PNG chunk cut short');
    const c = await read(fh, at, 16);
    const len = c.readUInt32BE(0);
    const type = c.subarray(4, 8).toString('latin1');
    const end = at + 12 + len;
    if (end > size) throw new MalformedImage('PNG chunk runs past the end');
    if (type === 'IHDR') {
      w = c.readUInt32BE(8);
      h = c.readUInt32BE(12);
    }
    if (!PNG_DROP.has(type)) parts.push({ from: at, to: end });
    at = end;
    if (type === 'IEND') break;
  }
  return { parts: merge(parts), ...(w ? { w } : {}), ...(h ? { h } : {}) };
}

async function planWebp(fh: FileHandle, size: number): Promise<ImagePlan> {
  const parts: Part[] = [];
  let at = 12;
  let w: number | undefined;
  let h: number | undefined;
  let total = 4; // "WEBP"
  while (at + 8 <= size) {
    const c = await read(fh, at, 30);
    const type = c.subarray(0, 4).toString('latin1');
    const len = c.readUInt32LE(4);
    const end = at + 8 + len + (len & 1);
    if (at + 8 + len > size) throw new MalformedImage('WebP chunk runs past the end');
    const stop = Math.min(end, size);
    if (type === 'VP8X') {
      w = (c.readUIntLE(12, 3) as number) + 1;
      h = (c.readUIntLE(15, 3) as number) + 1;
      // Flags: the EXIF (0x08) and XMP (0x04) bits go with their chunks.
      const head = Buffer.from(c.subarray(0, 9));
      head[8] = (head[8] as number) & ~0x0c;
      parts.push(head, { from: at + 9, to: stop });
      total += stop - at;
    } else if (type === 'EXIF' || type === 'XMP ') {
      // dropped
    } else {
      if (type === 'VP8 ' && w === undefined && len >= 10) {
        w = c.readUInt16LE(14) & 0x3fff;
        h = c.readUInt16LE(16) & 0x3fff;
      } else if (type === 'VP8L' && w === undefined && len >= 5) {
        const b = c.readUInt32LE(9);
        w = (b & 0x3fff) + 1;
        h = ((b >> 14) & 0x3fff) + 1;
      }
      parts.push({ from: at, to: stop });
      total += stop - at;
    }
    at = end;
  }
  const riff = Buffer.alloc(12);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(total, 4);
  riff.write('WEBP', 8, 'latin1');
  return { parts: merge([riff, ...parts]), ...(w ? { w } : {}), ...(h ? { h } : {}) };
}

/** Joins adjacent ranges. */
function merge(parts: Part[]): Part[] {
  const out: Part[] = [];
  for (const p of parts) {
    const last = out[out.length - 1];
    if (last && !Buffer.isBuffer(last) && !Buffer.isBuffer(p) && last.to === p.from) last.to = p.to;
    else out.push(Buffer.isBuffer(p) ? p : { ...p });
  }
  return out;
}

export function planSize(parts: readonly Part[]): number {
  return parts.reduce((n, p) => n + (Buffer.isBuffer(p) ? p.length : p.to - p.from), 0);
}

/** The plan's bytes, read from the spooled file in chunks. */
export async function* planBytes(fh: FileHandle, parts: readonly Part[], chunk = 64 * 1024): AsyncGenerator<Buffer> {
  for (const p of parts) {
    if (Buffer.isBuffer(p)) {
      yield p;
      continue;
    }
    for (let at = p.from; at < p.to; at += chunk) {
      const b = await read(fh, at, Math.min(chunk, p.to - at));
      if (b.length === 0) throw new Error('spool shorter than planned');
      yield b;
    }
  }
}
