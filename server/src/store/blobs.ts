/**
 * Where attachments' bytes live, behind one small interface: the local disk under DATA_DIR (the
 * default, so `pnpm start` needs nothing), or any S3-compatible object store (FILES_S3_* settings)
 * for installations with several machines. Records about files are in Redis (store/files.ts);
 * this holds only bytes, under keys the domain chooses (never a visitor's file name).
 *
 * `put` either stores the whole object or nothing: the disk writes a temporary file and renames it
 * into place; S3 PutObject is atomic (a failed or aborted upload leaves no object). The caller
 * deletes the key too when put throws, and writes its Redis record only after put returned.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DeleteObjectCommand, GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

export interface BlobStore {
  /** Stores exactly `size` bytes of `body` under `key`, whole or not at all. */
  put(key: string, body: Readable, size: number, type: string): Promise<void>;
  /** The bytes, or null when there is no such object. */
  get(key: string): Promise<Readable | null>;
  /** Deletes the object; nothing when there is none. */
  delete(key: string): Promise<void>;
  readonly kind: 'disk' | 's3';
}

const KEY_RE = /^[A-Za-z0-9_-]{1,64}(\/[A-Za-z0-9_-]{1,64}){0,3}$/;
function checkKey(key: string): string {
  if (!KEY_RE.test(key)) throw new Error(`bad blob key ${JSON.stringify(key)}`);
  return key;
}

/** Files under `<dir>` (DATA_DIR/files by default), one per key. */
export class DiskBlobs implements BlobStore {
  readonly kind = 'disk' as const;
  private readonly root: string;
  constructor(dir: string) {
    this.root = resolve(dir);
  }
  private path(key: string): string {
    const p = join(this.root, ...checkKey(key).split('/'));
    if (!p.startsWith(this.root + sep)) throw new Error('blob key escapes the store');
    return p;
  }
  async put(key: string, body: Readable, size: number): Promise<void> {
    const p = this.path(key);
    await mkdir(dirname(p), { recursive: true });
    const tmp = `${p}.part-${process.pid}-${Date.now()}`;
    try {
      await pipeline(body, createWriteStream(tmp, { flags: 'wx' }));
      const st = await stat(tmp);
      if (st.size !== size) throw new Error(`short write: ${st.size} of ${size} bytes`);
      await rename(tmp, p);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }
  async get(key: string): Promise<Readable | null> {
    const p = this.path(key);
    try {
      await stat(p);
    } catch {
      return null;
    }
    return createReadStream(p);
  }
  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }
}

export interface S3Settings {
  endpoint?: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Path-style URLs (http://host/bucket/key): MinIO, s3rver and most self-hosted stores want them. */
  forcePathStyle: boolean;
  /** Key prefix inside the bucket (e.g. `hark/`). */
  prefix: string;
}

/** Objects in an S3-compatible bucket. */
export class S3Blobs implements BlobStore {
  readonly kind = 's3' as const;
  private readonly s3: S3Client;
  constructor(private readonly o: S3Settings) {
    this.s3 = new S3Client({
      region: o.region,
      ...(o.endpoint ? { endpoint: o.endpoint } : {}),
      forcePathStyle: o.forcePathStyle,
      credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey },
      maxAttempts: 2,
      // No default CRC trailers (aws-chunked uploads): many S3-compatible stores do not take them.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }
  private key(key: string): string {
    return this.o.prefix + checkKey(key);
  }
  async put(key: string, body: Readable, size: number, type: string): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: this.o.bucket, Key: this.key(key), Body: body, ContentLength: size, ContentType: type }));
  }
  async get(key: string): Promise<Readable | null> {
    try {
      const r = await this.s3.send(new GetObjectCommand({ Bucket: this.o.bucket, Key: this.key(key) }));
      const b = r.Body;
      if (!b) return null;
      return b instanceof Readable ? b : Readable.fromWeb(b.transformToWebStream() as never);
    } catch (e) {
      if (e instanceof NoSuchKey || (e as { name?: string }).name === 'NoSuchKey') return null;
      throw e;
    }
  }
  async delete(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.o.bucket, Key: this.key(key) }));
  }
  destroy(): void {
    this.s3.destroy();
  }
}
