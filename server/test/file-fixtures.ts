/** Small files built byte by byte for the attachment tests: images with location metadata, a PDF, a program. */
import { crc32, deflateSync } from 'node:zlib';

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A real w×h RGB PNG (one colour) with a tEXt and an eXIf chunk holding a location. */
export function pngWithLocation(w = 4, h = 3): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(w * 3, 0x80)]);
  const raw = Buffer.concat(Array.from({ length: h }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('tEXt', Buffer.from('Location\0GPS 45.8150N 15.9819E', 'latin1')),
    pngChunk('eXIf', Buffer.from('MM\0*GPSLatitude 45.8150', 'latin1')),
    pngChunk('IDAT', deflateSync(raw)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A JPEG's structure: JFIF, an EXIF block with orientation 6 (rotated) and a GPS text, a comment, SOF0 of w×h, a scan. */
export function jpegWithLocation(w = 10, h = 20): Buffer {
  const seg = (marker: number, body: Buffer) => {
    const head = Buffer.from([0xff, marker, 0, 0]);
    head.writeUInt16BE(body.length + 2, 2);
    return Buffer.concat([head, body]);
  };
  // Little-endian TIFF: IFD0 with Orientation (0x0112) = 6 and one ASCII tag holding the location.
  const gps = Buffer.from('GPSLatitude 45.8150N\0', 'latin1');
  const tiff = Buffer.alloc(8 + 2 + 2 * 12 + 4);
  tiff.write('II', 0, 'latin1');
  tiff.writeUInt16LE(42, 2);
  tiff.writeUInt32LE(8, 4);
  tiff.writeUInt16LE(2, 8);
  tiff.writeUInt16LE(0x0112, 10);
  tiff.writeUInt16LE(3, 12);
  tiff.writeUInt32LE(1, 14);
  tiff.writeUInt16LE(6, 18);
  tiff.writeUInt16LE(0x010e, 22);
  tiff.writeUInt16LE(2, 24);
  tiff.writeUInt32LE(gps.length, 26);
  tiff.writeUInt32LE(tiff.length, 30);
  const exif = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff, gps]);
  const sof = Buffer.from([8, 0, 0, 0, 0, 1, 1, 0x11, 0]);
  sof.writeUInt16BE(h, 1);
  sof.writeUInt16BE(w, 3);
  return Buffer.concat([
    Buffer.from([0xff, 0xd8]),
    seg(0xe0, Buffer.from('JFIF\0\x01\x01\0\0\x01\0\x01\0\0', 'latin1')),
    seg(0xe1, exif),
    seg(0xfe, Buffer.from('taken at 45.8150N', 'latin1')),
    seg(0xdb, Buffer.alloc(65, 1)),
    seg(0xc0, sof),
    seg(0xda, Buffer.from([1, 1, 0, 0, 0x3f, 0])),
    Buffer.from([0x12, 0x34, 0x56, 0x78, 0xff, 0xd9]),
  ]);
}

/** A small but well-formed PDF with some binary bytes. */
export function pdf(n = 3000): Buffer {
  const body = Buffer.alloc(n);
  for (let i = 0; i < n; i++) body[i] = (i * 31 + 7) & 0xff;
  return Buffer.concat([Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Length ' + n + ' >>\nstream\n', 'latin1'), body, Buffer.from('\nendstream\nendobj\n%%EOF\n', 'latin1')]);
}

/** A Windows program's first bytes. */
export function exe(): Buffer {
  return Buffer.concat([Buffer.from('MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff', 'latin1'), Buffer.alloc(200, 0)]);
}
