/**
 * Operators' photos are images served by the gateway (issue #13, item 4): an upload (a data: URL,
 * as the console sends it) is checked by its bytes and stored; the record and the conversation
 * hold its versioned path; it is served with its own type, nosniff, a year's immutable cache and
 * Cross-Origin-Resource-Policy: cross-origin; messages never carry it.
 */
import { crc32, deflateSync, inflateRawSync } from 'node:zlib';
import { AVATAR_MAX_BYTES, AVATAR_MAX_PX } from '@hark/shared';
import { describe, expect, it } from 'vitest';
import { AVATAR_CACHE_SECONDS } from '../src/domain/operators';
import { AVATAR_OLD_TTL_MS, sniffImage } from '../src/store/avatars';
import { compactConversation, getMeta, readEntries } from '../src/store/conversations';
import { K } from '../src/store/keys';
import { cid, createOp, newChat, onlineOperator } from './harness';
import { useStack } from './stack';

const s = useStack();

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
}

/** A real PNG, w × h, RGBA, one colour; `extra` bytes of an ancillary chunk make it as large as a test needs. */
export function png(w: number, h: number, rgba = [200, 40, 40, 255], extra = 0): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: w }, () => rgba).flat())]);
  const raw = Buffer.concat(Array.from({ length: h }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    ...(extra ? [chunk('tEXt', Buffer.alloc(extra, 0x61))] : []),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
const dataUrl = (b: Buffer, type = 'image/png') => `data:${type};base64,${b.toString('base64')}`;

describe('avatars', () => {
  it('an operator uploads their own photo: stored as an image, served with its type and headers, at a versioned URL', async () => {
    const ana = await createOp(s.admin, { email: 'ana@av.test', name: 'Ana' });
    const img = png(96, 96);
    // Declared as JPEG: the type is decided from the bytes.
    const r = await ana.http.req<{ avatar: string }>('PATCH', `/v1/operators/${ana.id}`, { avatar: dataUrl(img, 'image/jpeg') });
    expect(r.status).toBe(200);
    expect(r.body.avatar).toMatch(new RegExp(`^/v1/avatars/${ana.id}/[0-9a-f]{16}\\.png$`));
    // The record holds the path, not the image.
    expect(await s.gw.conns.cmd.hget(K.operator(ana.id), 'avatar')).toBe(r.body.avatar);

    const res = await fetch(s.gw.base + r.body.avatar);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    expect(res.headers.get('cache-control')).toBe(`public, max-age=${AVATAR_CACHE_SECONDS}, immutable`);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(Buffer.from(await res.arrayBuffer())).toEqual(img);

    // Another version or extension of it: not found.
    expect((await fetch(s.gw.base + r.body.avatar.replace('.png', '.webp'))).status).toBe(404);
    expect((await fetch(`${s.gw.base}/v1/avatars/${ana.id}/0000000000000000.png`)).status).toBe(404);
    expect((await fetch(`${s.gw.base}/v1/avatars/${ana.id}/x.svg`)).status).toBe(400);

    // Saving the form again with the path it has keeps it; a new photo gets a new URL and the old one expires.
    expect((await ana.http.req<{ avatar: string }>('PATCH', `/v1/operators/${ana.id}`, { name: 'Ana B', avatar: r.body.avatar })).body.avatar).toBe(r.body.avatar);
    const r2 = await ana.http.req<{ avatar: string }>('PATCH', `/v1/operators/${ana.id}`, { avatar: dataUrl(png(64, 64, [0, 90, 200, 255])) });
    expect(r2.body.avatar).not.toBe(r.body.avatar);
    const old = r.body.avatar.split('/').pop()?.split('.')[0] as string;
    const ttl = await s.gw.conns.cmd.pttl(K.avatar(ana.id, old));
    expect(ttl).toBeGreaterThan(AVATAR_OLD_TTL_MS - 60_000);
    expect(ttl).toBeLessThanOrEqual(AVATAR_OLD_TTL_MS);
    expect(await s.gw.conns.cmd.pttl(K.avatar(ana.id, r2.body.avatar.split('/').pop()?.split('.')[0] as string))).toBe(-1);
    // Removing it.
    expect((await ana.http.req<{ avatar?: string }>('PATCH', `/v1/operators/${ana.id}`, { avatar: '' })).body.avatar).toBeUndefined();
  });

  it('refuses what is not a PNG, JPEG or WebP within the limits, with stable codes', async () => {
    const bo = await createOp(s.admin, { email: 'bo@av.test', name: 'Bo' });
    const patch = (avatar: string) => bo.http.req<{ code: string }>('PATCH', `/v1/operators/${bo.id}`, { avatar });
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>');
    for (const bad of [
      dataUrl(svg, 'image/svg+xml'),
      dataUrl(svg, 'image/png'),
      dataUrl(Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1'), 'image/gif'),
      dataUrl(png(8, 8).subarray(0, 40)),
      'https://evil.example/me.png',
      'javascript:alert(1)',
      dataUrl(png(AVATAR_MAX_PX + 1, 1)),
    ]) {
      const r = await patch(bad);
      expect([r.status, r.body.code], bad.slice(0, 40)).toEqual([400, 'AVATAR_INVALID']);
    }
    const big = png(8, 8, undefined, AVATAR_MAX_BYTES);
    expect(big.length).toBeGreaterThan(AVATAR_MAX_BYTES);
    const r = await patch(dataUrl(big));
    expect([r.status, r.body.code]).toEqual([413, 'AVATAR_TOO_LARGE']);
    // Just within: accepted.
    const fits = png(8, 8, undefined, AVATAR_MAX_BYTES - png(8, 8).length - 12);
    expect(fits.length).toBeLessThanOrEqual(AVATAR_MAX_BYTES);
    expect((await patch(dataUrl(fits))).status).toBe(200);
    // At creation too: a bad one creates nobody.
    const made = await s.admin.req<{ code: string }>('POST', '/v1/operators', { email: 'cy@av.test', name: 'Cy', password: 'long enough password', avatar: dataUrl(svg) });
    expect([made.status, made.body.code]).toEqual([400, 'AVATAR_INVALID']);
    expect((await s.admin.req<{ email: string }[]>('GET', '/v1/operators')).body.some((o) => o.email === 'cy@av.test')).toBe(false);
  });

  it('sniffs WebP and JPEG by their bytes', () => {
    // A 1 × 1 lossless WebP.
    expect(sniffImage(Buffer.from('UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==', 'base64'))).toEqual({ type: 'webp', width: 1, height: 1 });
    // A JPEG's segments up to the start of scan: SOI, APP0, SOF0 (3 × 2), SOS, data, EOI.
    const app0 = [0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00];
    const sof0 = [0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0x02, 0x00, 0x03, 0x01, 0x01, 0x11, 0x00];
    const sos = [0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00, 0x12, 0x34];
    expect(sniffImage(Buffer.from([0xff, 0xd8, ...app0, ...sof0, ...sos, 0xff, 0xd9]))).toEqual({ type: 'jpeg', width: 3, height: 2 });
    expect(sniffImage(Buffer.from([0xff, 0xd8, ...app0, ...sos, 0xff, 0xd9]))).toBeNull();
    expect(sniffImage(Buffer.from('<html><body>hi</body></html>'))).toBeNull();
  });

  it('the conversation names the photo by URL; messages and events never copy it', async () => {
    const dee = await createOp(s.admin, { email: 'dee@av.test', name: 'Dee', capacity: 5 });
    const path = (await dee.http.req<{ avatar: string }>('PATCH', `/v1/operators/${dee.id}`, { avatar: dataUrl(png(96, 96)) })).body.avatar;
    const op = await onlineOperator(s.gw, dee.http);
    const c = await newChat(s.gw, 'hello');
    expect(c.state.operator).toEqual({ id: dee.id, name: 'Dee', avatar: path });
    const id = cid();
    op.send({ type: 'send', conv: c.conv, cid: id, text: 'Hi, Dee here' });
    const got = await c.v.next('entry', (f) => f.entry.text === 'Hi, Dee here');
    expect(got.entry.op).toEqual({ id: dee.id, name: 'Dee' });
    expect((await getMeta(s.gw.conns.cmd, c.conv))?.opAvatar).toBe(path);
    for (const e of await readEntries(s.gw.conns.cmd, c.conv, '')) expect(JSON.stringify(e)).not.toContain('avatar');
    const raw = await s.gw.conns.cmd.xrange(K.convStream(c.conv), '-', '+');
    expect(JSON.stringify(raw)).not.toContain('avatar');
    // A new photo reaches the chat she holds at once.
    const path2 = (await dee.http.req<{ avatar: string }>('PATCH', `/v1/operators/${dee.id}`, { avatar: dataUrl(png(48, 48, [10, 160, 60, 255])) })).body.avatar;
    expect(path2).not.toBe(path);
    expect((await c.v.next('conv', (f) => f.conv.id === c.conv && f.conv.operator?.avatar === path2)).conv.status).toBe('open');
    op.send({ type: 'resolve', conv: c.conv });
    await c.v.next('conv', (f) => f.conv.status === 'resolved');
    // An entry as the previous code wrote it (the photo copied into it) loses the copy when the
    // resolved conversation is compacted; readers never pass it on before that either.
    const photo = dataUrl(png(96, 96));
    await s.gw.conns.cmd.xadd(K.convStream(c.conv), '*', 'd', JSON.stringify({ at: Date.now(), kind: 'msg', from: 'operator', text: 'old style', op: { id: dee.id, name: 'Dee', avatar: photo } }));
    const read = (await readEntries(s.gw.conns.cmd, c.conv, '')).find((e) => e.text === 'old style');
    expect(read?.op).toEqual({ id: dee.id, name: 'Dee' });
    expect(await compactConversation(s.gw.conns.cmd, c.conv)).toBe(true);
    const packed = inflateRawSync((await s.gw.conns.cmd.getBuffer(K.convPacked(c.conv))) as Buffer).toString('utf8');
    expect(packed).toContain('old style');
    expect(packed).not.toContain('avatar');
    op.close();
    c.v.close();
  });
});
