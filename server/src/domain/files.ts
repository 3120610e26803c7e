/**
 * Attachments: a visitor's or operator's upload (streamed to a spool file, judged from its bytes,
 * images stripped of their metadata, then stored whole or not at all), its binding to the message
 * or note that carries it (through the same idempotent append as text: domain/conversations.ts),
 * the short-lived signed URLs it is fetched through, and its deletion with the conversation or
 * visitor it belongs to.
 *
 * Private by construction: a file belongs to one conversation; a URL names the conversation and
 * the file and is signed for both; every download checks the signature, the expiry, and that the
 * file belongs to that conversation, which must still exist.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  FILE_UPLOADS_PER_OPERATOR_PER_MIN,
  FILE_UPLOADS_PER_VISITOR_PER_MIN,
  FILE_URL_TTL_MS,
  type FileRef,
  HarkError,
  INLINE_FILE_TYPES,
  MAX_CONCURRENT_UPLOADS,
  MAX_FILE_BYTES_PER_SITE_PER_DAY,
  MAX_FILE_BYTES_PER_VISITOR,
  MAX_FILE_NAME,
  UNATTACHED_FILE_TTL_MS,
  randomId,
} from '@hark/shared';
import { type BlobStore, DiskBlobs, S3Blobs } from '../store/blobs';
import { getMeta } from '../store/conversations';
import {
  type FileRecord,
  addOwnedFile,
  addSiteBytes,
  claimFile,
  convFileIds,
  deleteFileRecord,
  dropFileIndexes,
  fileRef,
  filesSecret,
  getFile,
  saveFile,
  takeUpload,
  visitorFileBytes,
  visitorFileIds,
  forgetUnattached,
  unattachedBefore,
} from '../store/files';
import type { Operator } from '../store/operators';
import { getSite } from '../store/sites';
import type { Deps } from './deps';
import { MalformedImage, SNIFF_BYTES, cleanName, lies, planBytes, planFor, planSize, sniff } from './file-types';
import { canRead, visitorOwns } from './policy';

export type Uploader = { kind: 'visitor'; id: string; site: string } | { kind: 'operator'; op: Operator };

export interface UploadInput {
  site: string;
  /** The conversation it is for: an operator's must name one; a visitor's may (their own). */
  conv?: string;
  name: string;
  /** The type the client declared (Content-Type); only checked against the bytes. */
  declared: string;
  /** Content-Length when the client sent one: refused at once when it is over the limit. */
  length?: number;
  body: Readable;
}

export interface Download {
  body: Readable;
  file: FileRecord;
  /** Shown in the page (a raster image) or downloaded. */
  inline: boolean;
}

const UPLOAD_WINDOW_MS = 60_000;

/** The blob store the settings choose. */
export function blobStoreFor(config: Deps['config']): BlobStore {
  return config.filesS3 ? new S3Blobs(config.filesS3) : new DiskBlobs(join(config.dataDir, 'files'));
}

function utcDay(at = Date.now()): string {
  return new Date(at).toISOString().slice(0, 10);
}

/** Counts bytes passing through and fails with FILE_TOO_LARGE past `max`: the upload is stopped while streaming. */
class Limit extends Transform {
  n = 0;
  constructor(private readonly max: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null, d?: Buffer) => void): void {
    this.n += chunk.length;
    if (this.n > this.max) cb(new HarkError('FILE_TOO_LARGE'));
    else cb(null, chunk);
  }
}

export class Files {
  readonly blobs: BlobStore;
  private secret: Promise<Buffer> | null = null;
  private uploading = 0;
  private spoolSwept = false;

  constructor(private readonly d: Deps) {
    this.blobs = d.blobs ?? blobStoreFor(d.config);
  }

  private get r() {
    return this.d.c.cmd;
  }
  private get spool(): string {
    return join(this.d.config.dataDir, 'spool');
  }

  // ---------------------------------------------------------------- upload

  /**
   * Stores one upload and returns what a message will carry. Refused, with nothing kept: attachments
   * off (FILES_DISABLED), someone else's conversation (CONVERSATION_NOT_FOUND), too many uploads this
   * minute (RATE_LIMITED), over the size limit (FILE_TOO_LARGE, stopped while streaming), over the
   * visitor's or site's bytes (FILE_QUOTA_EXCEEDED), a type the site does not allow
   * (FILE_TYPE_NOT_ALLOWED), a name or declared type that lies (FILE_TYPE_MISMATCH), the store failing
   * (FILE_STORE_FAILED).
   */
  async upload(who: Uploader, u: UploadInput): Promise<FileRef> {
    const site = await getSite(this.r, u.site);
    if (!site) throw new HarkError('UNKNOWN_SITE');
    if (!site.attachments || site.fileTypes.length === 0) throw new HarkError('FILES_DISABLED');
    let conv = '';
    if (who.kind === 'operator') {
      const m = u.conv ? await getMeta(this.r, u.conv) : null;
      if (!m || m.site !== u.site || !canRead(who.op, m)) throw new HarkError('CONVERSATION_NOT_FOUND');
      conv = m.id;
    } else if (u.conv) {
      const m = await getMeta(this.r, u.conv);
      if (!m || !visitorOwns({ id: who.id, site: who.site }, m) || who.site !== u.site) throw new HarkError('CONVERSATION_NOT_FOUND');
      conv = m.id;
    }
    const max = site.fileMaxBytes;
    if (u.length !== undefined && u.length > max) throw new HarkError('FILE_TOO_LARGE');
    const wait = who.kind === 'visitor' ? await takeUpload(this.r, { visitor: who.id }, FILE_UPLOADS_PER_VISITOR_PER_MIN, UPLOAD_WINDOW_MS) : await takeUpload(this.r, { op: who.op.id }, FILE_UPLOADS_PER_OPERATOR_PER_MIN, UPLOAD_WINDOW_MS);
    if (wait) throw new HarkError('RATE_LIMITED', 'Too many uploads; wait a moment.', { retryAfterS: wait / 1000 });
    if (who.kind === 'visitor' && (await visitorFileBytes(this.r, who.id)) + Math.min(u.length ?? 0, max) > MAX_FILE_BYTES_PER_VISITOR) throw new HarkError('FILE_QUOTA_EXCEEDED');
    if (this.uploading >= MAX_CONCURRENT_UPLOADS) throw new HarkError('BUSY', undefined, { retryAfterS: 5 });
    this.uploading++;
    if (!this.spoolSwept) {
      this.spoolSwept = true;
      await this.sweepSpool();
    }
    const id = randomId(24);
    const tmp = join(this.spool, `${id}.up`);
    try {
      await mkdir(this.spool, { recursive: true });
      // 1. The body to a spool file, counted: past the limit the stream is stopped and the file removed.
      const limit = new Limit(max);
      await pipeline(u.body, limit, createWriteStream(tmp, { flags: 'wx' }));
      const size = limit.n;
      const fh = await open(tmp, 'r');
      try {
        // 2. The type from the bytes.
        const head = Buffer.alloc(Math.min(SNIFF_BYTES, size));
        await fh.read(head, 0, head.length, 0);
        const name = cleanName(u.name, MAX_FILE_NAME);
        const type = sniff(head, name);
        if (!type || !site.fileTypes.includes(type)) throw new HarkError('FILE_TYPE_NOT_ALLOWED');
        if (lies(type, name, u.declared)) throw new HarkError('FILE_TYPE_MISMATCH');
        // 3. Images lose their metadata (location); the plan streams the kept bytes from the spool.
        let plan: Awaited<ReturnType<typeof planFor>>;
        try {
          plan = await planFor(type, fh, size);
        } catch (e) {
          if (e instanceof MalformedImage) throw new HarkError('FILE_TYPE_NOT_ALLOWED', 'The image is damaged or not what it claims to be.');
          throw e;
        }
        const stored = planSize(plan.parts);
        if (who.kind === 'visitor' && !(await addSiteBytes(this.r, u.site, utcDay(), stored, MAX_FILE_BYTES_PER_SITE_PER_DAY))) throw new HarkError('FILE_QUOTA_EXCEEDED');
        // 4. The bytes to the store, whole or not at all; the record only after.
        const key = `${u.site}/${id}`;
        try {
          await this.blobs.put(key, Readable.from(planBytes(fh, plan.parts)), stored, type);
        } catch (e) {
          await this.blobs.delete(key).catch(() => {});
          this.d.log.warn({ err: e }, 'file store failed');
          throw new HarkError('FILE_STORE_FAILED');
        }
        const rec: FileRecord = {
          id,
          site: u.site,
          owner: who.kind === 'visitor' ? `v:${who.id}` : `o:${who.op.id}`,
          conv,
          cid: '',
          note: false,
          key,
          name,
          size: stored,
          type,
          at: Date.now(),
          ...(plan.w && plan.h ? { w: plan.w, h: plan.h } : {}),
        };
        // Only now, with the bytes stored whole, can a message name the file.
        await saveFile(this.r, rec);
        await addOwnedFile(this.r, rec);
        return fileRef(rec);
      } finally {
        await fh.close();
      }
    } catch (e) {
      if (e instanceof HarkError) throw e;
      if ((e as { code?: string }).code === 'FILE_TOO_LARGE') throw new HarkError('FILE_TOO_LARGE');
      // The client went away mid-upload, or the spool failed: nothing was kept.
      throw new HarkError('FILE_STORE_FAILED');
    } finally {
      this.uploading--;
      await rm(tmp, { force: true });
    }
  }

  /** Spool files left by a gateway that died mid-upload (older than an hour): removed at this gateway's first upload. */
  private async sweepSpool(): Promise<void> {
    try {
      const cutoff = Date.now() - 3600_000;
      for (const n of await readdir(this.spool)) {
        const p = join(this.spool, n);
        if ((await stat(p)).mtimeMs < cutoff) await rm(p, { force: true });
      }
    } catch {
      // no spool yet
    }
  }

  // ---------------------------------------------------------------- attach

  /**
   * The files a message or note `cid` in `conv` carries, bound to it (only the sender's own files
   * of that site, each in one message only: FILE_NOT_FOUND, FILE_IN_USE). A resend binds them again
   * to the same message and stores nothing new. `movedFrom`: the conversation the same message was
   * refused in (resolved meanwhile), whose binding may move.
   */
  async attach(owner: { visitor: string } | { op: string }, site: string, conv: string, cid: string, ids: readonly string[], note: boolean, movedFrom?: string): Promise<FileRef[]> {
    const who = 'visitor' in owner ? `v:${owner.visitor}` : `o:${owner.op}`;
    const out: FileRef[] = [];
    for (const id of new Set(ids)) {
      const f = await getFile(this.r, id);
      if (!f || f.owner !== who || f.site !== site) throw new HarkError('FILE_NOT_FOUND');
      const res = await claimFile(this.r, id, who, site, conv, cid, note, !!movedFrom && f.conv === movedFrom && f.cid === cid);
      if (res === 'missing') throw new HarkError('FILE_NOT_FOUND');
      if (res === 'used') throw new HarkError('FILE_IN_USE');
      out.push(fileRef(f));
    }
    return out;
  }

  // ---------------------------------------------------------------- URLs and downloads

  private key(): Promise<Buffer> {
    if (!this.secret) {
      const fixed = this.d.config.filesUrlSecret;
      this.secret = (fixed ? Promise.resolve(fixed) : filesSecret(this.r)).then((s) => Buffer.from(s, 'utf8'));
      this.secret.catch(() => {
        this.secret = null;
      });
    }
    return this.secret;
  }

  /** The signature of a URL for `file` in `conv` until `exp` (ms). */
  async sign(conv: string, file: string, exp: number): Promise<string> {
    return createHmac('sha256', await this.key()).update(`files:${conv}:${file}:${exp}`).digest('base64url');
  }

  private async url(f: FileRecord, conv: string, now: number): Promise<{ url: string; expiresAt: number }> {
    const exp = now + FILE_URL_TTL_MS;
    return { url: `/v1/files/${conv}/${f.id}?e=${exp}&s=${await this.sign(conv, f.id, exp)}`, expiresAt: exp };
  }

  /** A URL for an operator who may read the conversation (domain/policy.ts canRead). */
  async urlForOperator(op: Operator, conv: string, file: string, now = Date.now()): Promise<{ url: string; expiresAt: number }> {
    const m = await getMeta(this.r, conv);
    if (!m || !canRead(op, m)) throw new HarkError('CONVERSATION_NOT_FOUND');
    const f = await getFile(this.r, file);
    if (!f || f.conv !== conv) throw new HarkError('FILE_NOT_FOUND');
    return this.url(f, conv, now);
  }

  /** A URL for the visitor whose conversation it is; never for a note's file or one not yet sent. */
  async urlForVisitor(visitor: { id: string; site: string }, conv: string, file: string, now = Date.now()): Promise<{ url: string; expiresAt: number }> {
    const m = await getMeta(this.r, conv);
    if (!m || !visitorOwns(visitor, m)) throw new HarkError('CONVERSATION_NOT_FOUND');
    const f = await getFile(this.r, file);
    const mine = f?.owner === `v:${visitor.id}`;
    if (!f || f.conv !== conv || f.note || (!f.cid && !mine)) throw new HarkError('FILE_NOT_FOUND');
    return this.url(f, conv, now);
  }

  /**
   * A download: the URL's signature (FILE_URL_INVALID), its expiry (FILE_URL_EXPIRED), then, on every
   * download, that the file belongs to the conversation the URL names and that it still exists
   * (FILE_NOT_FOUND).
   */
  async open(conv: string, file: string, exp: number, sig: string, now = Date.now()): Promise<Download> {
    const want = Buffer.from(await this.sign(conv, file, exp));
    const got = Buffer.from(sig);
    if (!Number.isSafeInteger(exp) || got.length !== want.length || !timingSafeEqual(got, want)) throw new HarkError('FILE_URL_INVALID');
    if (exp < now) throw new HarkError('FILE_URL_EXPIRED');
    if (exp > now + FILE_URL_TTL_MS + 60_000) throw new HarkError('FILE_URL_INVALID');
    const f = await getFile(this.r, file);
    if (!f || f.conv !== conv) throw new HarkError('FILE_NOT_FOUND');
    const m = await getMeta(this.r, conv);
    if (!m || m.visitor === '-' || m.site !== f.site) throw new HarkError('FILE_NOT_FOUND');
    const body = await this.blobs.get(f.key);
    if (!body) throw new HarkError('FILE_NOT_FOUND');
    return { body, file: f, inline: INLINE_FILE_TYPES.includes(f.type) };
  }

  // ---------------------------------------------------------------- erase

  /**
   * The `files-sweep` job: files uploaded UNATTACHED_FILE_TTL_MS ago or more and never sent in a
   * message are deleted, bytes and record, so an upload without a message does not stay for ever
   * (a visitor whose token expired unused leaves nothing). A batch of 500 per run. Returns how many.
   */
  async sweepUnattached(now = Date.now()): Promise<number> {
    let n = 0;
    for (const id of await unattachedBefore(this.r, now - UNATTACHED_FILE_TTL_MS, 500)) {
      const f = await getFile(this.r, id);
      if (f && !f.cid) {
        await this.blobs.delete(f.key);
        await deleteFileRecord(this.r, f);
        n++;
      } else await forgetUnattached(this.r, id);
    }
    return n;
  }

  /** Deletes every file of these conversations and visitors, bytes first, then records and indexes. Idempotent. */
  async erase(t: { convs?: readonly string[]; visitors?: readonly string[] }): Promise<number> {
    let n = 0;
    const ids = new Set<string>();
    for (const c of t.convs ?? []) for (const id of await convFileIds(this.r, c)) ids.add(id);
    for (const v of t.visitors ?? []) for (const id of await visitorFileIds(this.r, v)) ids.add(id);
    for (const id of ids) {
      const f = await getFile(this.r, id);
      if (!f) continue;
      await this.blobs.delete(f.key);
      await deleteFileRecord(this.r, f);
      n++;
    }
    for (const c of t.convs ?? []) await dropFileIndexes(this.r, { conv: c });
    for (const v of t.visitors ?? []) await dropFileIndexes(this.r, { visitor: v });
    return n;
  }
}
