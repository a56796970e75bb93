/**
 * Small images written byte by byte (PNG, BMP, GIF, WebP headers) or generated with sharp, for
 * the dataset tests. Not a test file itself.
 */
import * as path from 'node:path';
import { deflateSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { ROOT } from './helpers';

type Sharp = typeof import('sharp').default;
/** sharp from the repository's node_modules (the tests run from a temporary folder) */
export function loadSharp(): Sharp {
  return createRequire(path.join(ROOT, 'package.json'))('sharp') as Sharp;
}

const CRC = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = (CRC[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const c = Buffer.alloc(4);
  c.writeUInt32BE(crc(td));
  return Buffer.concat([len, td, c]);
}

/** A TIFF block with one IFD entry: the orientation tag. */
export function exifTiff(orientation: number, bigEndian = false): Buffer {
  const b = Buffer.alloc(26);
  if (bigEndian) {
    b.write('MM', 0, 'latin1');
    b.writeUInt16BE(42, 2);
    b.writeUInt32BE(8, 4);
    b.writeUInt16BE(1, 8);
    b.writeUInt16BE(0x0112, 10);
    b.writeUInt16BE(3, 12);
    b.writeUInt32BE(1, 14);
    b.writeUInt16BE(orientation, 18);
  } else {
    b.write('II', 0, 'latin1');
    b.writeUInt16LE(42, 2);
    b.writeUInt32LE(8, 4);
    b.writeUInt16LE(1, 8);
    b.writeUInt16LE(0x0112, 10);
    b.writeUInt16LE(3, 12);
    b.writeUInt32LE(1, 14);
    b.writeUInt16LE(orientation, 18);
  }
  return b;
}

export interface PngSpec {
  width: number;
  height: number;
  /** 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA */
  colorType?: number;
  depth?: number;
  /** APNG frames (adds acTL) */
  frames?: number;
  orientation?: number;
  tRNS?: boolean;
  /** a big text chunk before IDAT (ComfyUI-style metadata) */
  textBytes?: number;
  /** pixel value function (0–255) by x, y, channel */
  pixel?: (x: number, y: number, c: number) => number;
}

/** A valid PNG (decodable by sharp). */
export function makePng(s: PngSpec): Buffer {
  const type = s.colorType ?? 2;
  const depth = s.depth ?? 8;
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[type] ?? 3;
  const bytesPer = depth === 16 ? 2 : 1;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(s.width, 0);
  ihdr.writeUInt32BE(s.height, 4);
  ihdr[8] = depth;
  ihdr[9] = type;
  const rows: Buffer[] = [];
  for (let y = 0; y < s.height; y++) {
    const row = Buffer.alloc(1 + s.width * channels * bytesPer);
    for (let x = 0; x < s.width; x++) {
      for (let c = 0; c < channels; c++) {
        const v = s.pixel ? s.pixel(x, y, c) : (x * 7 + y * 13 + c * 50) % 256;
        const o = 1 + (x * channels + c) * bytesPer;
        if (bytesPer === 2) row.writeUInt16BE(v * 257, o);
        else row[o] = v;
      }
    }
    rows.push(row);
  }
  const parts = [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr)];
  if (type === 3) parts.push(pngChunk('PLTE', Buffer.from(Array.from({ length: 256 * 3 }, (_, i) => i % 256))));
  if (s.textBytes) parts.push(pngChunk('tEXt', Buffer.concat([Buffer.from('workflow\0'), Buffer.alloc(s.textBytes, 0x61)])));
  if (s.frames) {
    const ac = Buffer.alloc(8);
    ac.writeUInt32BE(s.frames, 0);
    parts.push(pngChunk('acTL', ac));
  }
  if (s.orientation) parts.push(pngChunk('eXIf', exifTiff(s.orientation, true)));
  if (s.tRNS) parts.push(pngChunk('tRNS', Buffer.from([0, 0, 0, 0, 0, 0])));
  parts.push(pngChunk('IDAT', deflateSync(Buffer.concat(rows))));
  parts.push(pngChunk('IEND', Buffer.alloc(0)));
  return Buffer.concat(parts);
}

/** A 24-bit (or 32-bit) BMP. */
export function makeBmp(width: number, height: number, bpp = 24): Buffer {
  const row = Math.floor((bpp * width + 31) / 32) * 4;
  const size = 54 + row * height;
  const b = Buffer.alloc(size);
  b.write('BM', 0, 'latin1');
  b.writeUInt32LE(size, 2);
  b.writeUInt32LE(54, 10);
  b.writeUInt32LE(40, 14);
  b.writeInt32LE(width, 18);
  b.writeInt32LE(height, 22);
  b.writeUInt16LE(1, 26);
  b.writeUInt16LE(bpp, 28);
  b.writeUInt32LE(row * height, 34);
  for (let i = 54; i < size; i++) b[i] = i % 251;
  return b;
}

/** A GIF with `frames` 2×2 frames (header-valid; enough for Pillow's and our parser). */
export function makeGif(width: number, height: number, frames: number, netscape = frames > 1): Buffer {
  const parts: Buffer[] = [Buffer.from('GIF89a', 'latin1')];
  const lsd = Buffer.alloc(7);
  lsd.writeUInt16LE(width, 0);
  lsd.writeUInt16LE(height, 2);
  lsd[4] = 0x80; // global colour table of 2 entries
  parts.push(lsd, Buffer.from([0, 0, 0, 255, 255, 255]));
  if (netscape) parts.push(Buffer.from([0x21, 0xff, 0x0b]), Buffer.from('NETSCAPE2.0', 'latin1'), Buffer.from([3, 1, 0, 0, 0]));
  for (let f = 0; f < frames; f++) {
    parts.push(Buffer.from([0x21, 0xf9, 4, 0, 10, 0, 0, 0]));
    const d = Buffer.alloc(10);
    d[0] = 0x2c;
    d.writeUInt16LE(width, 5);
    d.writeUInt16LE(height, 7);
    parts.push(d, Buffer.from([2, 2, 0x4c, 0x01, 0]));
  }
  parts.push(Buffer.from([0x3b]));
  return Buffer.concat(parts);
}

/** A WebP header of the given kind (VP8X with flags, or simple lossless), sized correctly. */
export function makeWebpHeader(kind: 'VP8X' | 'VP8L', width: number, height: number, opts: { animated?: boolean; alpha?: boolean; orientation?: number } = {}): Buffer {
  const chunks: Buffer[] = [];
  if (kind === 'VP8X') {
    const d = Buffer.alloc(10);
    d[0] = (opts.animated ? 0x02 : 0) | (opts.alpha ? 0x10 : 0) | (opts.orientation ? 0x08 : 0);
    d.writeUIntLE(width - 1, 4, 3);
    d.writeUIntLE(height - 1, 7, 3);
    chunks.push(riffChunk('VP8X', d));
    if (opts.orientation) chunks.push(riffChunk('EXIF', exifTiff(opts.orientation)));
    if (opts.animated) chunks.push(riffChunk('ANIM', Buffer.alloc(6)));
  } else {
    const d = Buffer.alloc(5);
    d[0] = 0x2f;
    d.writeUInt32LE(((width - 1) & 0x3fff) | (((height - 1) & 0x3fff) << 14) | ((opts.alpha ? 1 : 0) << 28), 1);
    chunks.push(riffChunk('VP8L', d));
  }
  const body = Buffer.concat([Buffer.from('WEBP', 'latin1'), ...chunks]);
  const head = Buffer.alloc(8);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(body.length, 4);
  return Buffer.concat([head, body]);
}
function riffChunk(type: string, data: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.write(type, 0, 'latin1');
  h.writeUInt32LE(data.length, 4);
  return Buffer.concat([h, data, data.length & 1 ? Buffer.alloc(1) : Buffer.alloc(0)]);
}

/** A smooth test picture (different `seed`s give different pictures) as raw RGB. */
export function rawPicture(width: number, height: number, seed = 0): { data: Buffer; info: { width: number; height: number; channels: 3 } } {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      const v = seed === 0 ? (x * 255) / width : 128 + 120 * Math.sin((x + y * seed) / (7 + seed));
      data[o] = v;
      data[o + 1] = seed === 0 ? (y * 255) / height : 255 - v;
      data[o + 2] = (x ^ y) & 0xff;
    }
  }
  return { data, info: { width, height, channels: 3 } };
}
