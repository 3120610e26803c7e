/**
 * Attachments (domain/files.ts, http/files.ts), on a real Redis, a real gateway and, in turn, both
 * stores: the local disk and a real S3-protocol server (s3rver) started here on loopback.
 *
 * Both ways: a visitor uploads (streamed), sends a message carrying the file, the operator sees it
 * and downloads it byte for byte through a signed URL; the operator replies with a file the visitor
 * downloads. Images lose their location metadata. A resend stores nothing twice. Each refusal of the
 * issue answers its code and keeps nothing; a store failing mid-upload leaves no file behind; an
 * erased visitor's files are gone from the store and from Redis.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { FILE_UPLOADS_PER_OPERATOR_PER_MIN, FILE_UPLOADS_PER_VISITOR_PER_MIN, FILE_URL_TTL_MS, MAX_CONCURRENT_UPLOADS, type FileRef, MAX_FILES_PER_MESSAGE, MAX_FILE_BYTES_PER_SITE_PER_DAY, MAX_FILE_BYTES_PER_VISITOR, MAX_FILE_NAME, UNATTACHED_FILE_TTL_MS, randomId } from '@hark/shared';
import { Redis } from 'ioredis';
// s3rver ships no types.
// @ts-expect-error
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../src/config';
import { exifOrientation } from '../src/domain/file-types';
import { type BlobStore, DiskBlobs } from '../src/store/blobs';
import { ADMIN, Http, type OperatorClient, type TestGateway, type TestRedis, type VisitorClient, cid, createOp, onlineOperator, testGateway, testRedis, visitor } from './harness';
import { exe, jpegWithLocation, pdf, pngWithLocation } from './file-fixtures';

const S3 = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', bucket: 'hark-files', region: 'us-east-1' };

interface Up {
  status: number;
  body: { file?: FileRef; code?: string };
}

async function upload(gw: TestGateway, token: string, bytes: Buffer | Readable, name: string, opts: { type?: string; conv?: string; site?: string; chunked?: boolean } = {}): Promise<Up> {
  const q = new URLSearchParams({ site: opts.site ?? 'demo', name, ...(opts.conv ? { conv: opts.conv } : {}) });
  const body = Buffer.isBuffer(bytes) && !opts.chunked ? bytes : (Readable.toWeb(Buffer.isBuffer(bytes) ? Readable.from(chunks(bytes)) : bytes) as ReadableStream);
  try {
    const res = await fetch(`${gw.base}/v1/visitor/files?${q}`, {
      method: 'POST',
      headers: { origin: gw.base, authorization: `Visitor ${token}`, 'content-type': opts.type ?? 'application/octet-stream' },
      body,
      ...(Buffer.isBuffer(body) ? {} : { duplex: 'half' }),
    } as RequestInit);
    return { status: res.status, body: (await res.json()) as Up['body'] };
  } catch (e) {
    // The gateway answered and closed before the whole body was sent (a refusal while streaming).
    return { status: -1, body: { code: String((e as Error).cause ?? e) } };
  }
}

function* chunks(b: Buffer, size = 1024): Generator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function opUpload(gw: TestGateway, http: Http, conv: string, bytes: Buffer, name: string, type = 'application/octet-stream'): Promise<Up> {
  const res = await fetch(`${gw.base}/v1/conversations/${conv}/files?name=${encodeURIComponent(name)}`, { method: 'POST', headers: { origin: gw.base, cookie: http.cookie, 'content-type': type }, body: bytes });
  return { status: res.status, body: (await res.json()) as Up['body'] };
}

async function visitorUrl(gw: TestGateway, token: string, conv: string, file: string): Promise<{ status: number; body: { url?: string; code?: string } }> {
  const res = await fetch(`${gw.base}/v1/visitor/files/${conv}/${file}?site=demo`, { headers: { origin: gw.base, authorization: `Visitor ${token}` } });
  return { status: res.status, body: (await res.json()) as { url?: string; code?: string } };
}

async function download(gw: TestGateway, url: string): Promise<{ status: number; bytes: Buffer; headers: Headers; code?: string }> {
  const res = await fetch(gw.base + url, { redirect: 'manual' });
  const bytes = Buffer.from(await res.arrayBuffer());
  let code: string | undefined;
  if (res.status >= 400) code = (JSON.parse(bytes.toString()) as { code: string }).code;
  return { status: res.status, bytes, headers: res.headers, ...(code ? { code } : {}) };
}

async function sendFiles(v: VisitorClient, files: string[], text = ''): Promise<{ conv: string; id: string; c: string }> {
  const c = cid();
  v.send({ type: 'send', cid: c, text, files });
  const ack = await v.next('ack', (f) => f.cid === c);
  return { conv: ack.conv, id: ack.id, c };
}

for (const kind of ['disk', 's3'] as const) {
  describe(`attachments on the ${kind} store`, () => {
    let redis: TestRedis;
    let gw: TestGateway;
    let admin: Http;
    let raw: Redis;
    let dir: string;
    let s3server: { run(): Promise<{ port: number }>; close(): Promise<void> } | null = null;
    let s3: S3Client | null = null;
    let op: OperatorClient;
    let opHttp: Http;

    /** Every object the store holds. */
    async function objects(): Promise<string[]> {
      if (s3) {
        const r = await s3.send(new ListObjectsV2Command({ Bucket: S3.bucket }));
        return (r.Contents ?? []).map((o) => o.Key ?? '');
      }
      const root = join(dir, 'files');
      const out: string[] = [];
      const walk = (d: string) => {
        let names: string[] = [];
        try {
          names = readdirSync(d, { withFileTypes: true }).map((e) => (e.isDirectory() ? `${e.name}/` : e.name));
        } catch {
          return;
        }
        for (const n of names) n.endsWith('/') ? walk(join(d, n)) : out.push(join(d, n).slice(root.length + 1));
      };
      walk(root);
      return out;
    }
    const spool = () => {
      try {
        return readdirSync(join(dir, 'spool'));
      } catch {
        return [];
      }
    };

    beforeAll(async () => {
      redis = await testRedis();
      raw = new Redis(redis.url);
      dir = mkdtempSync(join(tmpdir(), 'hark-files-'));
      const config: Partial<Config> = { dataDir: dir };
      if (kind === 's3') {
        s3server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: join(dir, 's3'), configureBuckets: [{ name: S3.bucket, configs: [] }] });
        const addr = await s3server!.run();
        const endpoint = `http://127.0.0.1:${addr.port}`;
        config.filesS3 = { endpoint, region: S3.region, bucket: S3.bucket, accessKeyId: S3.accessKeyId, secretAccessKey: S3.secretAccessKey, forcePathStyle: true, prefix: '' };
        s3 = new S3Client({ endpoint, region: S3.region, forcePathStyle: true, credentials: S3 });
      }
      gw = await testGateway(redis.url, { config });
      admin = new Http(gw.base);
      await admin.login(ADMIN.email, ADMIN.password);
      const o = await createOp(admin, { email: `files-${kind}@example.com`, name: 'Fay', capacity: 50 });
      opHttp = o.http;
      op = await onlineOperator(gw, opHttp);
    });
    afterAll(async () => {
      op?.close();
      await gw?.close();
      raw?.disconnect();
      s3?.destroy();
      await s3server?.close();
      await redis?.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    it('a visitor sends a screenshot and a PDF, the operator sees both and downloads the PDF byte for byte; the screenshot lost its location', async () => {
      const v = await visitor(gw);
      await v.next('synced');
      const png = pngWithLocation(4, 3);
      const doc = pdf(40_000);
      const a = await upload(gw, v.token, png, 'screenshot.png', { type: 'image/png', chunked: true });
      expect(a.status).toBe(201);
      expect(a.body.file).toMatchObject({ name: 'screenshot.png', type: 'image/png', w: 4, h: 3 });
      const b = await upload(gw, v.token, doc, 'invoice.pdf', { type: 'application/pdf' });
      expect(b.status).toBe(201);
      expect(b.body.file).toMatchObject({ name: 'invoice.pdf', type: 'application/pdf', size: doc.length });
      const fa = a.body.file as FileRef;
      const fb = b.body.file as FileRef;
      const sent = await sendFiles(v, [fa.id, fb.id], 'here you go');
      // The operator's live entry carries both.
      const e = await op.next('entry', (f) => f.entry.cid === sent.c);
      expect(e.entry.files?.map((f) => f.id)).toEqual([fa.id, fb.id]);
      expect(e.entry.text).toBe('here you go');
      // The visitor's own echo too.
      const ve = await v.next('entry', (f) => f.entry.id === sent.id);
      expect(ve.entry.files?.length).toBe(2);

      // The operator's console link: a redirect to a signed URL, then the bytes.
      const red = await fetch(`${gw.base}/v1/conversations/${sent.conv}/files/${fb.id}`, { headers: { cookie: opHttp.cookie }, redirect: 'manual' });
      expect(red.status).toBe(302);
      const loc = red.headers.get('location') ?? '';
      expect(loc).toMatch(new RegExp(`^/v1/files/${sent.conv}/${fb.id}\\?e=\\d+&s=`));
      const got = await download(gw, loc);
      expect(got.status).toBe(200);
      expect(got.bytes.equals(doc)).toBe(true);
      expect(got.headers.get('content-disposition')).toMatch(/^attachment; filename="invoice.pdf"/);
      expect(got.headers.get('x-content-type-options')).toBe('nosniff');
      expect(got.headers.get('content-security-policy')).toBe('sandbox');
      expect(got.headers.get('content-type')).toBe('application/pdf');

      // The screenshot: shown inline (a raster image), its text and EXIF chunks gone, the pixels kept.
      const u = await visitorUrl(gw, v.token, sent.conv, fa.id);
      expect(u.status).toBe(200);
      const img = await download(gw, u.body.url ?? '');
      expect(img.status).toBe(200);
      expect(img.headers.get('content-disposition')).toMatch(/^inline;/);
      expect(img.headers.get('content-security-policy')).toBe('sandbox');
      expect(img.bytes.includes(Buffer.from('GPS'))).toBe(false);
      expect(img.bytes.includes(Buffer.from('IDAT'))).toBe(true);
      expect(png.includes(Buffer.from('GPS'))).toBe(true);
      expect(img.bytes.length).toBe(fa.size);
      v.close();
    });

    it("a photo's EXIF (location, comment) is stripped and only its orientation kept; the size is as it displays", async () => {
      const v = await visitor(gw);
      await v.next('synced');
      const jpg = jpegWithLocation(10, 20);
      const r = await upload(gw, v.token, jpg, 'IMG_0001.JPG', { type: 'image/jpeg' });
      expect(r.status).toBe(201);
      // Orientation 6 (rotated 90°): displayed 20 wide, 10 high.
      expect(r.body.file).toMatchObject({ type: 'image/jpeg', w: 20, h: 10 });
      const f = r.body.file as FileRef;
      const sent = await sendFiles(v, [f.id]);
      const u = await visitorUrl(gw, v.token, sent.conv, f.id);
      const d = await download(gw, u.body.url ?? '');
      expect(d.bytes.includes(Buffer.from('45.8150'))).toBe(false);
      expect(jpg.includes(Buffer.from('45.8150'))).toBe(true);
      // The one APP1 left holds only the orientation.
      const at = d.bytes.indexOf(Buffer.from('Exif\0\0', 'latin1'));
      expect(at).toBeGreaterThan(0);
      expect(exifOrientation(d.bytes.subarray(at))).toBe(6);
      // The scan data is untouched.
      expect(d.bytes.subarray(-6).equals(jpg.subarray(-6))).toBe(true);
      v.close();
    });

    it('the operator replies with a file the visitor downloads; a note file is never the visitor’s', async () => {
      const v = await visitor(gw);
      await v.next('synced');
      const c0 = cid();
      v.send({ type: 'send', cid: c0, text: 'need the form' });
      const ack = await v.next('ack', (f) => f.cid === c0);
      await op.next('conv', (f) => f.conv.id === ack.conv && f.conv.status === 'open' && f.conv.operator?.id !== undefined);
      const doc = pdf(5000);
      const up = await opUpload(gw, opHttp, ack.conv, doc, 'form.pdf', 'application/pdf');
      expect(up.status).toBe(201);
      const f = up.body.file as FileRef;
      const c = cid();
      op.send({ type: 'send', conv: ack.conv, cid: c, text: '', files: [f.id] });
      await op.next('ack', (x) => x.cid === c);
      const seen = await v.next('entry', (x) => x.entry.files?.[0]?.id === f.id);
      expect(seen.entry.text).toBe('');
      const u = await visitorUrl(gw, v.token, ack.conv, f.id);
      expect(u.status).toBe(200);
      const d = await download(gw, u.body.url ?? '');
      expect(d.bytes.equals(doc)).toBe(true);

      // A note's file: the operator sees it, the visitor can get no URL for it.
      const nup = await opUpload(gw, opHttp, ack.conv, pdf(100), 'internal.pdf');
      const nf = nup.body.file as FileRef;
      const nc = cid();
      op.send({ type: 'note', conv: ack.conv, cid: nc, text: 'for us', files: [nf.id] });
      await op.next('ack', (x) => x.cid === nc);
      const nu = await visitorUrl(gw, v.token, ack.conv, nf.id);
      expect(nu.status).toBe(404);
      expect(nu.body.code).toBe('FILE_NOT_FOUND');
      v.close();
    });

    it('a resend of a message with a file stores neither twice', async () => {
      const v = await visitor(gw);
      await v.next('synced');
      const r = await upload(gw, v.token, pdf(1000), 'a.pdf');
      const f = r.body.file as FileRef;
      const first = await sendFiles(v, [f.id]);
      const before = await objects();
      v.send({ type: 'send', cid: first.c, text: '', files: [f.id], re: true });
      const again = await v.next('ack', (x) => x.cid === first.c, 5000, v.frames.length);
      expect(again.id).toBe(first.id);
      // And without `re` (the append's cid check).
      v.send({ type: 'send', cid: first.c, text: '', files: [f.id] });
      const third = await v.next('ack', (x) => x.cid === first.c, 5000, v.frames.length);
      expect(third.id).toBe(first.id);
      const hist = await opHttp.req<{ entries: { cid?: string; files?: FileRef[] }[] }>('GET', `/v1/conversations/${first.conv}`);
      expect(hist.body.entries.filter((e) => e.cid === first.c)).toHaveLength(1);
      expect(await objects()).toEqual(before);
      // The same file in another message is refused: one file, one message.
      const c2 = cid();
      v.send({ type: 'send', cid: c2, text: '', files: [f.id] });
      const err = await v.next('error', (x) => x.cid === c2 || x.code === 'FILE_IN_USE');
      expect(err.code).toBe('FILE_IN_USE');
      v.close();
    });

    describe('refusals', () => {
      it('413 FILE_TOO_LARGE while streaming (no length given), nothing kept; and at once by Content-Length', async () => {
        const v = await visitor(gw);
        await v.next('synced');
        const res = await admin.req('PATCH', '/v1/sites/demo', { fileMaxBytes: 50_000 });
        expect(res.status).toBe(200);
        try {
          const before = await objects();
          let sentBytes = 0;
          // A body that would go on far past the limit: the gateway stops reading it.
          const big = Readable.from(
            (function* () {
              for (let i = 0; i < 50_000; i++) {
                sentBytes += 1024;
                yield i === 0 ? Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(1015, 1)]) : Buffer.alloc(1024, 2);
              }
            })(),
          );
          const r = await upload(gw, v.token, big, 'big.pdf');
          if (r.status !== -1) {
            expect(r.status).toBe(413);
            expect(r.body.code).toBe('FILE_TOO_LARGE');
          }
          // 50 MB offered; the gateway stopped reading after the limit (what sockets buffer aside).
          expect(sentBytes).toBeLessThan(25_000 * 1024);
          expect(await objects()).toEqual(before);
          expect(spool()).toEqual([]);
          const r2 = await upload(gw, v.token, Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(60_000, 1)]), 'big.pdf');
          expect(r2.status).toBe(413);
          expect(r2.body.code).toBe('FILE_TOO_LARGE');
        } finally {
          await admin.req('PATCH', '/v1/sites/demo', { fileMaxBytes: 10 * 1024 * 1024 });
        }
        v.close();
      });

      it('415 FILE_TYPE_NOT_ALLOWED from the bytes (a program named .png is refused either way; HTML and SVG unless allowed)', async () => {
        const v = await visitor(gw);
        await v.next('synced');
        const a = await upload(gw, v.token, exe(), 'setup.bin');
        expect([a.status, a.body.code]).toEqual([415, 'FILE_TYPE_NOT_ALLOWED']);
        const b = await upload(gw, v.token, exe(), 'cat.png', { type: 'image/png' });
        expect([b.status, b.body.code]).toEqual([415, 'FILE_TYPE_NOT_ALLOWED']);
        const c = await upload(gw, v.token, Buffer.from('<!doctype html><script>alert(1)</script>'), 'notes.txt', { type: 'text/plain' });
        expect([c.status, c.body.code]).toEqual([415, 'FILE_TYPE_NOT_ALLOWED']);
        const d = await upload(gw, v.token, Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'), 'x.svg');
        expect([d.status, d.body.code]).toEqual([415, 'FILE_TYPE_NOT_ALLOWED']);
        // A site that takes PDFs only refuses a PNG.
        await admin.req('PATCH', '/v1/sites/demo', { fileTypes: ['application/pdf'] });
        try {
          const e = await upload(gw, v.token, pngWithLocation(), 'a.png');
          expect([e.status, e.body.code]).toEqual([415, 'FILE_TYPE_NOT_ALLOWED']);
        } finally {
          await admin.req('PATCH', '/v1/sites/demo', { fileTypes: ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf', 'text/plain', 'image/svg+xml'] });
        }
        // SVG allowed: stored, but never served inline.
        const s = await upload(gw, v.token, Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'), 'logo.svg', { type: 'image/svg+xml' });
        expect(s.status).toBe(201);
        const f = s.body.file as FileRef;
        expect(f.type).toBe('image/svg+xml');
        const sent = await sendFiles(v, [f.id]);
        const u = await visitorUrl(gw, v.token, sent.conv, f.id);
        const dl = await download(gw, u.body.url ?? '');
        expect(dl.headers.get('content-disposition')).toMatch(/^attachment;/);
        expect(dl.headers.get('content-security-policy')).toBe('sandbox');
        await admin.req('PATCH', '/v1/sites/demo', { fileTypes: ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf', 'text/plain', 'application/zip'] });
        v.close();
      });

      it('415 FILE_TYPE_MISMATCH when the name or the declared type lies', async () => {
        const v = await visitor(gw);
        await v.next('synced');
        const a = await upload(gw, v.token, pngWithLocation(), 'invoice.pdf');
        expect([a.status, a.body.code]).toEqual([415, 'FILE_TYPE_MISMATCH']);
        const b = await upload(gw, v.token, pdf(100), 'doc', { type: 'image/png' });
        expect([b.status, b.body.code]).toEqual([415, 'FILE_TYPE_MISMATCH']);
        const c = await upload(gw, v.token, Buffer.from('hello there'), 'run.exe');
        expect([c.status, c.body.code]).toEqual([415, 'FILE_TYPE_MISMATCH']);
        v.close();
      });

      it('403 FILES_DISABLED when the site has attachments off; the widget is told (no `files` in its site config)', async () => {
        await admin.req('PATCH', '/v1/sites/demo', { attachments: false });
        try {
          const v = await visitor(gw);
          const w = await v.next('welcome');
          expect(w.site.files).toBeUndefined();
          const r = await upload(gw, v.token, pdf(100), 'a.pdf');
          expect([r.status, r.body.code]).toEqual([403, 'FILES_DISABLED']);
          v.close();
        } finally {
          await admin.req('PATCH', '/v1/sites/demo', { attachments: true });
        }
        const v = await visitor(gw);
        const w = await v.next('welcome');
        expect(w.site.files?.max).toBe(10 * 1024 * 1024);
        v.close();
      });

      it("someone else's conversation: no upload into it, no URL for it, no sending their file", async () => {
        const a = await visitor(gw);
        await a.next('synced');
        const fa = (await upload(gw, a.token, pdf(200), 'a.pdf')).body.file as FileRef;
        const sent = await sendFiles(a, [fa.id]);
        const b = await visitor(gw);
        await b.next('synced');
        const up = await upload(gw, b.token, pdf(200), 'b.pdf', { conv: sent.conv });
        expect([up.status, up.body.code]).toEqual([404, 'CONVERSATION_NOT_FOUND']);
        const u = await visitorUrl(gw, b.token, sent.conv, fa.id);
        expect([u.status, u.body.code]).toEqual([404, 'CONVERSATION_NOT_FOUND']);
        const c = cid();
        b.send({ type: 'send', cid: c, text: '', files: [fa.id] });
        const err = await b.next('error', (x) => x.cid === c || x.code === 'FILE_NOT_FOUND');
        expect(err.code).toBe('FILE_NOT_FOUND');
        // An operator of another site neither.
        const other = await createOp(admin, { email: `other-${kind}@example.com`, name: 'Otto', sites: [] });
        const ou = await opUpload(gw, other.http, sent.conv, pdf(100), 'x.pdf');
        expect([ou.status, ou.body.code]).toEqual([404, 'CONVERSATION_NOT_FOUND']);
        const ourl = await fetch(`${gw.base}/v1/conversations/${sent.conv}/files/${fa.id}`, { headers: { cookie: other.http.cookie }, redirect: 'manual' });
        expect(ourl.status).toBe(404);
        a.close();
        b.close();
      });

      it('an expired or tampered URL, and a URL of conversation A for a file of conversation B, are refused on download', async () => {
        const a = await visitor(gw);
        await a.next('synced');
        const fa = (await upload(gw, a.token, pdf(300), 'a.pdf')).body.file as FileRef;
        const sa = await sendFiles(a, [fa.id]);
        const b = await visitor(gw);
        await b.next('synced');
        const fb = (await upload(gw, b.token, pdf(300), 'b.pdf')).body.file as FileRef;
        const sb = await sendFiles(b, [fb.id]);
        const good = (await visitorUrl(gw, a.token, sa.conv, fa.id)).body.url ?? '';
        expect((await download(gw, good)).status).toBe(200);
        // Tampered: another signature, another file, another conversation in the path.
        const tampered = good.replace(/s=(.)/, (_m, ch: string) => `s=${ch === 'A' ? 'B' : 'A'}`);
        expect((await download(gw, tampered)).code).toBe('FILE_URL_INVALID');
        expect((await download(gw, good.replace(fa.id, fb.id))).code).toBe('FILE_URL_INVALID');
        expect((await download(gw, good.replace(sa.conv, sb.conv))).code).toBe('FILE_URL_INVALID');
        expect((await download(gw, good.replace(/e=\d+/, `e=${Date.now() + FILE_URL_TTL_MS}`))).code).toBe('FILE_URL_INVALID');
        // Expired: correctly signed, but its time is past.
        const files = gw.ctx.domain.files;
        const past = Date.now() - 1000;
        const expired = await download(gw, `/v1/files/${sa.conv}/${fa.id}?e=${past}&s=${await files.sign(sa.conv, fa.id, past)}`);
        expect([expired.status, expired.code]).toEqual([410, 'FILE_URL_EXPIRED']);
        // A validly signed URL naming conversation A and B's file: the download itself checks the file's conversation.
        const exp = Date.now() + 60_000;
        const cross = await download(gw, `/v1/files/${sa.conv}/${fb.id}?e=${exp}&s=${await files.sign(sa.conv, fb.id, exp)}`);
        expect([cross.status, cross.code]).toEqual([404, 'FILE_NOT_FOUND']);
        // And no URL is minted for it.
        const mint = await visitorUrl(gw, a.token, sa.conv, fb.id);
        expect([mint.status, mint.body.code]).toEqual([404, 'FILE_NOT_FOUND']);
        // Refusals carry the same protective headers.
        const t = await fetch(gw.base + tampered);
        expect(t.headers.get('content-security-policy')).toBe('sandbox');
        expect(t.headers.get('x-content-type-options')).toBe('nosniff');
        a.close();
        b.close();
      });

      it(`429 RATE_LIMITED past ${FILE_UPLOADS_PER_VISITOR_PER_MIN} uploads per visitor per minute (another visitor is not affected)`, async () => {
        const v = await visitor(gw);
        await v.next('synced');
        for (let i = 0; i < FILE_UPLOADS_PER_VISITOR_PER_MIN; i++) expect((await upload(gw, v.token, pdf(50), `${i}.pdf`)).status).toBe(201);
        const res = await fetch(`${gw.base}/v1/visitor/files?site=demo&name=x.pdf`, { method: 'POST', headers: { origin: gw.base, authorization: `Visitor ${v.token}` }, body: pdf(50) });
        expect(res.status).toBe(429);
        expect(((await res.json()) as { code: string }).code).toBe('RATE_LIMITED');
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
        const w = await visitor(gw);
        await w.next('synced');
        expect((await upload(gw, w.token, pdf(50), 'y.pdf')).status).toBe(201);
        v.close();
        w.close();
      });

      it(`413 FILE_QUOTA_EXCEEDED past ${MAX_FILE_BYTES_PER_VISITOR} bytes per visitor and ${MAX_FILE_BYTES_PER_SITE_PER_DAY} per site a day; at most ${MAX_FILES_PER_MESSAGE} files a message; names cut to ${MAX_FILE_NAME}`, async () => {
        const v = await visitor(gw);
        const w = await v.next('welcome');
        await v.next('synced');
        // Close to the visitor's bytes (as if 100 MB were stored): one more file does not fit.
        await raw.set(`{vis:${w.visitorId}}:fbytes`, String(MAX_FILE_BYTES_PER_VISITOR - 100));
        const a = await upload(gw, v.token, pdf(500), 'a.pdf');
        expect([a.status, a.body.code]).toEqual([413, 'FILE_QUOTA_EXCEEDED']);
        await raw.del(`{vis:${w.visitorId}}:fbytes`);
        // The site's day is full.
        const day = new Date().toISOString().slice(0, 10);
        await raw.set(`{site:demo}:fbytes:${day}`, String(MAX_FILE_BYTES_PER_SITE_PER_DAY - 100));
        const b = await upload(gw, v.token, pdf(500), 'b.pdf');
        expect([b.status, b.body.code]).toEqual([413, 'FILE_QUOTA_EXCEEDED']);
        await raw.del(`{site:demo}:fbytes:${day}`);
        expect(await objects()).not.toContainEqual(expect.stringContaining('b.pdf'));
        // Too many files in one message: the frame does not match the protocol.
        const c = cid();
        v.send({ type: 'send', cid: c, text: '', files: Array.from({ length: MAX_FILES_PER_MESSAGE + 1 }, () => randomId(24)) });
        const err = await v.next('error', (x) => x.code === 'BAD_FRAME');
        expect(err.code).toBe('BAD_FRAME');
        v.close();
        const v2 = await visitor(gw);
        await v2.next('synced');
        const long = `${'x'.repeat(400)}.pdf`;
        const n = await upload(gw, v2.token, pdf(50), long);
        expect(n.status).toBe(201);
        expect(n.body.file?.name).toHaveLength(MAX_FILE_NAME);
        expect(n.body.file?.name.endsWith('.pdf')).toBe(true);
        const p = await upload(gw, v2.token, pdf(50), '../../etc/passwd\\evil‮.pdf');
        expect(p.body.file?.name).toBe('evil.pdf');
        v2.close();
      });

      it('an unknown token, another origin, no token: refused', async () => {
        const r = await upload(gw, randomId(32), pdf(50), 'x.pdf');
        expect([r.status, r.body.code]).toEqual([401, 'VISITOR_TOKEN_INVALID']);
        const v = await visitor(gw);
        await v.next('synced');
        const res = await fetch(`${gw.base}/v1/visitor/files?site=demo&name=x.pdf`, { method: 'POST', headers: { origin: 'https://evil.example', authorization: `Visitor ${v.token}` }, body: pdf(50) });
        expect(res.status).toBe(403);
        expect(((await res.json()) as { code: string }).code).toBe('ORIGIN_NOT_ALLOWED');
        // The preflight answers the site's own origins only.
        const pre = await fetch(`${gw.base}/v1/visitor/files?site=demo`, { method: 'OPTIONS', headers: { origin: gw.base, 'access-control-request-method': 'POST' } });
        expect(pre.status).toBe(204);
        expect(pre.headers.get('access-control-allow-origin')).toBe(gw.base);
        v.close();
      });
    });

    it(`a file uploaded and never sent is deleted ${UNATTACHED_FILE_TTL_MS / 3600_000} h later by the files-sweep job; a sent one stays`, async () => {
      const v = await visitor(gw);
      await v.next('synced');
      const sentFile = (await upload(gw, v.token, pdf(300), 'sent.pdf')).body.file as FileRef;
      const lone = (await upload(gw, v.token, pdf(300), 'lone.pdf')).body.file as FileRef;
      const sent = await sendFiles(v, [sentFile.id]);
      expect(await raw.zscore('hark:files:unattached', sentFile.id)).toBeNull();
      expect(await raw.zscore('hark:files:unattached', lone.id)).not.toBeNull();
      // Not yet a day: kept.
      await gw.ctx.domain.files.sweepUnattached();
      expect((await objects()).some((k) => k.includes(lone.id))).toBe(true);
      // A day later (the job's clock): gone, bytes and record; the sent one is untouched.
      // (Other tests' uploads never sent go too.)
      expect(await gw.ctx.domain.files.sweepUnattached(Date.now() + UNATTACHED_FILE_TTL_MS + 1000)).toBeGreaterThanOrEqual(1);
      expect((await objects()).some((k) => k.includes(lone.id))).toBe(false);
      expect(await raw.exists(`{file:${lone.id}}:meta`)).toBe(0);
      const u = await visitorUrl(gw, v.token, sent.conv, sentFile.id);
      expect((await download(gw, u.body.url ?? '')).status).toBe(200);
      v.close();
    });

    it('erasing a visitor deletes their files from the store and every record of them', async () => {
      const v = await visitor(gw);
      await v.next('synced');
      const f1 = (await upload(gw, v.token, pdf(400), 'sent.pdf')).body.file as FileRef;
      const f2 = (await upload(gw, v.token, pngWithLocation(), 'never-sent.png')).body.file as FileRef;
      const sent = await sendFiles(v, [f1.id]);
      const welcome = v.of('welcome')[0];
      const vid = welcome?.visitorId ?? '';
      const keysOf = async () => (await objects()).filter((k) => k.includes(f1.id) || k.includes(f2.id));
      expect(await keysOf()).toHaveLength(2);
      const er = await admin.req('DELETE', `/v1/sites/demo/visitors/${vid}`);
      expect(er.status).toBe(204);
      expect(await keysOf()).toEqual([]);
      expect(await raw.exists(`{file:${f1.id}}:meta`, `{file:${f2.id}}:meta`, `{conv:${sent.conv}}:files`, `{vis:${vid}}:files`, `{vis:${vid}}:fbytes`)).toBe(0);
      const exp = Date.now() + 60_000;
      const d = await download(gw, `/v1/files/${sent.conv}/${f1.id}?e=${exp}&s=${await gw.ctx.domain.files.sign(sent.conv, f1.id, exp)}`);
      expect(d.status).toBe(404);
      v.close();
    });
  });
}

describe('a store that fails mid-upload', () => {
  let redis: TestRedis;
  let gw: TestGateway;
  let raw: Redis;
  let dir: string;
  let disk: DiskBlobs;

  beforeAll(async () => {
    redis = await testRedis();
    raw = new Redis(redis.url);
    dir = mkdtempSync(join(tmpdir(), 'hark-files-fail-'));
    disk = new DiskBlobs(join(dir, 'files'));
    // The one mock of this file: a real disk store whose write breaks after some bytes, a failure the real store cannot be made to produce on demand.
    const failing: BlobStore = {
      kind: 'disk',
      get: (k) => disk.get(k),
      delete: (k) => disk.delete(k),
      put: (k, body, size) => {
        let n = 0;
        const broken = body.map((c: Buffer) => {
          n += c.length;
          if (n > 2048) throw new Error('disk full');
          return c;
        });
        return disk.put(k, broken as Readable, size);
      },
    };
    gw = await testGateway(redis.url, { config: { dataDir: dir }, blobs: failing });
  });
  afterAll(async () => {
    await gw?.close();
    raw?.disconnect();
    await redis?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 FILE_STORE_FAILED, leaves no half file and no record a message could name', async () => {
    const v = await visitor(gw);
    await v.next('synced');
    const r = await upload(gw, v.token, pdf(20_000), 'doc.pdf');
    expect([r.status, r.body.code]).toEqual([503, 'FILE_STORE_FAILED']);
    expect(readdirSync(join(dir, 'files', 'demo'))).toEqual([]);
    expect(readdirSync(join(dir, 'spool'))).toEqual([]);
    expect(await raw.keys('{file:*')).toEqual([]);
    // A small file that fits before the break is stored, and can be sent.
    const ok = await upload(gw, v.token, pdf(100), 'small.pdf');
    expect(ok.status).toBe(201);
    const sent = await sendFiles(v, [(ok.body.file as FileRef).id]);
    expect(sent.id).toMatch(/^\d+-\d+$/);
    v.close();
  });
});

describe('upload limits of an operator and of a gateway', () => {
  let redis: TestRedis;
  let gw: TestGateway;
  let dir: string;
  let admin: Http;

  beforeAll(async () => {
    redis = await testRedis();
    dir = mkdtempSync(join(tmpdir(), 'hark-files-limits-'));
    gw = await testGateway(redis.url, { config: { dataDir: dir } });
    admin = new Http(gw.base);
    await admin.login(ADMIN.email, ADMIN.password);
  });
  afterAll(async () => {
    await gw?.close();
    await redis?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`429 RATE_LIMITED past ${FILE_UPLOADS_PER_OPERATOR_PER_MIN} uploads per operator per minute`, async () => {
    const o = await createOp(admin, { email: 'uploader@example.com', name: 'Uma', capacity: 5 });
    const op = await onlineOperator(gw, o.http);
    const v = await visitor(gw);
    await v.next('synced');
    const c = cid();
    v.send({ type: 'send', cid: c, text: 'hello' });
    const ack = await v.next('ack', (f) => f.cid === c);
    for (let i = 0; i < FILE_UPLOADS_PER_OPERATOR_PER_MIN; i++) expect((await opUpload(gw, o.http, ack.conv, pdf(20), `${i}.pdf`)).status).toBe(201);
    const r = await opUpload(gw, o.http, ack.conv, pdf(20), 'one-more.pdf');
    expect([r.status, r.body.code]).toEqual([429, 'RATE_LIMITED']);
    op.close();
    v.close();
  });

  it(`503 BUSY past ${MAX_CONCURRENT_UPLOADS} uploads in progress on a gateway; the slow ones, abandoned, leave nothing`, async () => {
    const aborts: AbortController[] = [];
    const pending: Promise<unknown>[] = [];
    const visitors: VisitorClient[] = [];
    let n = 0;
    while (n < MAX_CONCURRENT_UPLOADS) {
      const v = await visitor(gw);
      await v.next('synced');
      visitors.push(v);
      for (let i = 0; i < FILE_UPLOADS_PER_VISITOR_PER_MIN && n < MAX_CONCURRENT_UPLOADS; i++, n++) {
        const ac = new AbortController();
        aborts.push(ac);
        // A body that starts and never ends.
        const body = new ReadableStream({ start: (ctl) => ctl.enqueue(new Uint8Array(Buffer.from('%PDF-1.4\n'))) });
        pending.push(fetch(`${gw.base}/v1/visitor/files?site=demo&name=slow.pdf`, { method: 'POST', headers: { origin: gw.base, authorization: `Visitor ${v.token}` }, body, duplex: 'half', signal: ac.signal } as RequestInit).catch(() => null));
      }
    }
    // Every slow upload has reached the gateway (each holds a spool file).
    const spooled = () => {
      try {
        return readdirSync(join(dir, 'spool')).length;
      } catch {
        return 0;
      }
    };
    const end = Date.now() + 10_000;
    while (spooled() < MAX_CONCURRENT_UPLOADS && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    expect(spooled()).toBe(MAX_CONCURRENT_UPLOADS);
    const v = await visitor(gw);
    await v.next('synced');
    const r = await upload(gw, v.token, pdf(50), 'x.pdf');
    expect([r.status, r.body.code]).toEqual([503, 'BUSY']);
    for (const ac of aborts) ac.abort();
    await Promise.all(pending);
    const end2 = Date.now() + 10_000;
    while (spooled() > 0 && Date.now() < end2) await new Promise((r) => setTimeout(r, 50));
    expect(spooled()).toBe(0);
    // The gateway takes uploads again.
    expect((await upload(gw, v.token, pdf(50), 'y.pdf')).status).toBe(201);
    for (const x of [...visitors, v]) x.close();
  });
});
