/**
 * Reads what an image is from its first bytes, without decoding pixels: the format sniffed from
 * the content (not the extension), dimensions, bit depth, channels and alpha, the colour model
 * (CMYK JPEGs), whether it is animated, its EXIF orientation, and cheap signs of a truncated or
 * corrupt file.
 *
 * The parsers are generators that ask for byte ranges; `parseImageHeader` serves them from a
 * buffer and `readImageHeader` from a file, reading a few KB first and more only when the format
 * needs it (a JPEG's SOF after a large EXIF block, PNG chunks after big text chunks). Nothing here
 * throws on bad input: problems come back in `problems`. The common clean PNG, JPEG or WebP
 * whose header is in the bytes at hand is read by `fastImageFacts` (fastHeader.ts) first, which
 * gives the same facts without the generators, or leaves the file to them.
 *
 * Pure Node (no `vscode`).
 */
import * as fs from 'node:fs';
import { crcTable, exifOrientation, fastImageFacts, FACT_COLOR_MODELS, FACT_SLOTS } from './fastHeader';

export { exifOrientation };

export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'bmp' | 'gif' | 'avif' | 'jxl' | 'unknown';
export type ColorModel = 'gray' | 'rgb' | 'palette' | 'ycbcr' | 'cmyk' | 'ycck' | 'unknown';

export type HeaderProblemCode = 'empty' | 'truncated' | 'corrupt' | 'unknownFormat' | 'unreadable';

export interface HeaderProblem {
  code: HeaderProblemCode;
  message: string;
}

export interface ImageHeader {
  format: ImageFormat;
  /** Pixel size as stored (before any EXIF rotation), when it could be read. */
  width?: number;
  height?: number;
  /** Bits per channel (PNG 1/2/4/8/16, JPEG 8/12, BMP bits per pixel / channels). */
  bitDepth?: number;
  /** Colour channels including alpha (palette images: 1). */
  channels?: number;
  hasAlpha?: boolean;
  colorModel?: ColorModel;
  animated?: boolean;
  /** Frames when known (APNG acTL, GIF frames seen, up to 2). */
  frames?: number;
  /** EXIF orientation 1–8 when present. */
  orientation?: number;
  /** File size in bytes, when known. */
  fileSize?: number;
  problems: HeaderProblem[];
}

/** A byte range request; the answer may be shorter at the end of the file. */
interface Need {
  offset: number;
  length: number;
}
type Parser = Generator<Need, void, Uint8Array>;

const FIRST_READ = 4096;
const WINDOW = 65536;
/** How far we follow a format's structure before giving up (bytes). */
const WALK_LIMIT = 16 * 1024 * 1024;

function u16be(b: Uint8Array, o: number): number {
  return ((b[o] ?? 0) << 8) | (b[o + 1] ?? 0);
}
function u16le(b: Uint8Array, o: number): number {
  return (b[o] ?? 0) | ((b[o + 1] ?? 0) << 8);
}
function u32be(b: Uint8Array, o: number): number {
  return (((b[o] ?? 0) << 24) >>> 0) + (((b[o + 1] ?? 0) << 16) | ((b[o + 2] ?? 0) << 8) | (b[o + 3] ?? 0));
}
function u32le(b: Uint8Array, o: number): number {
  return (((b[o + 3] ?? 0) << 24) >>> 0) + (((b[o + 2] ?? 0) << 16) | ((b[o + 1] ?? 0) << 8) | (b[o] ?? 0));
}
function i32le(b: Uint8Array, o: number): number {
  return u32le(b, o) | 0;
}
function ascii(b: Uint8Array, o: number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(b[o + i] ?? 0);
  return s;
}
function startsWith(b: Uint8Array, sig: readonly number[], at = 0): boolean {
  if (b.length < at + sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (b[at + i] !== sig[i]) return false;
  return true;
}

const CRC_TABLE = crcTable();
/** PNG's CRC-32 of `b[start..end)`. */
export function crc32(b: Uint8Array, start = 0, end = b.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = (CRC_TABLE[(c ^ (b[i] ?? 0)) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const PNG_SIGNATURE: readonly number[] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_SIGNATURE: readonly number[] = [0xff, 0xd8, 0xff];
const JXL_CODESTREAM: readonly number[] = [0xff, 0x0a];
const JXL_CONTAINER: readonly number[] = [0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20, 0x0d, 0x0a, 0x87, 0x0a];

/** Sniffs the format from the first bytes (at least 12 are needed for WebP/AVIF). */
export function sniffFormat(b: Uint8Array): ImageFormat {
  if (startsWith(b, PNG_SIGNATURE)) return 'png';
  if (startsWith(b, JPEG_SIGNATURE)) return 'jpeg';
  if (ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WEBP') return 'webp';
  if (ascii(b, 0, 2) === 'BM' && b.length >= 26) return 'bmp';
  if (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a') return 'gif';
  if (ascii(b, 4, 4) === 'ftyp') {
    const brands = ascii(b, 8, Math.min(64, Math.max(0, u32be(b, 0) - 8)));
    if (/avif|avis/.test(brands)) return 'avif';
  }
  if (startsWith(b, JXL_CODESTREAM)) return 'jxl';
  if (startsWith(b, JXL_CONTAINER)) return 'jxl';
  return 'unknown';
}

function problem(h: ImageHeader, code: HeaderProblemCode, message: string): void {
  if (!h.problems.some((p) => p.code === code)) h.problems.push({ code, message });
}

/** PNG colour type → colour model, channels, alpha */
const PNG_COLOUR_TYPES: Readonly<Record<number, readonly [ColorModel, number, boolean]>> = {
  0: ['gray', 1, false],
  2: ['rgb', 3, false],
  3: ['palette', 1, false],
  4: ['gray', 2, true],
  6: ['rgb', 4, true],
};

function* parsePng(h: ImageHeader, size: number | undefined, checkEnd = true): Parser {
  const head = yield { offset: 0, length: 33 };
  if (head.length < 33 || ascii(head, 12, 4) !== 'IHDR') {
    problem(h, head.length < 33 ? 'truncated' : 'corrupt', head.length < 33 ? 'the PNG header is cut short' : 'the PNG has no IHDR chunk');
    return;
  }
  h.width = u32be(head, 16);
  h.height = u32be(head, 20);
  const depth = head[24] ?? 0;
  const type = head[25] ?? 0;
  h.bitDepth = depth;
  const m = PNG_COLOUR_TYPES[type];
  if (!m) problem(h, 'corrupt', `unknown PNG colour type ${type}`);
  else [h.colorModel, h.channels, h.hasAlpha] = m;
  if (crc32(head, 12, 29) !== u32be(head, 29)) problem(h, 'corrupt', 'the PNG header checksum is wrong');
  if (h.width === 0 || h.height === 0) problem(h, 'corrupt', 'the PNG says it is 0 pixels wide or high');
  let off = 33;
  let walked = 0;
  let sawIdat = false;
  while (walked < WALK_LIMIT) {
    const ch = yield { offset: off, length: 8 };
    if (ch.length < 8) {
      problem(h, 'truncated', sawIdat ? 'the PNG ends before its IEND chunk' : 'the PNG ends before its image data');
      return;
    }
    const len = u32be(ch, 0);
    const type4 = ascii(ch, 4, 4);
    if (!/^[A-Za-z]{4}$/.test(type4)) {
      problem(h, 'corrupt', `the PNG has a damaged chunk at byte ${off}`);
      return;
    }
    if (type4 === 'IDAT') {
      sawIdat = true;
      break;
    }
    if (type4 === 'IEND') {
      problem(h, 'corrupt', 'the PNG has no image data');
      return;
    }
    if (type4 === 'acTL' || type4 === 'eXIf' || type4 === 'tRNS') {
      const data = yield { offset: off + 8, length: Math.min(len, 65536) };
      if (type4 === 'acTL') {
        const frames = u32be(data, 0);
        h.frames = frames;
        h.animated = frames > 1;
      } else if (type4 === 'tRNS') {
        h.hasAlpha = true;
      } else {
        const o = exifOrientation(data);
        if (o !== undefined) h.orientation = o;
      }
    }
    off += 12 + len;
    walked += 12 + len;
    if (size !== undefined && off > size) {
      problem(h, 'truncated', 'a PNG chunk runs past the end of the file');
      return;
    }
  }
  if (sawIdat && size !== undefined && checkEnd) {
    const tail = yield { offset: Math.max(0, size - 12), length: 12 };
    if (ascii(tail, 4, 4) !== 'IEND') problem(h, 'truncated', 'the PNG does not end with an IEND chunk: it is probably cut short');
  }
}

const SOF = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

function* parseJpeg(h: ImageHeader, size: number | undefined, checkEnd = true): Parser {
  let off = 2;
  let adobeTransform: number | undefined;
  let components: number | undefined;
  while (off < WALK_LIMIT) {
    const m = yield { offset: off, length: 4 };
    if (m.length < 2) {
      problem(h, 'truncated', 'the JPEG ends before its image data');
      return;
    }
    if (m[0] !== 0xff) {
      problem(h, 'corrupt', `the JPEG has no marker where one should be (byte ${off})`);
      return;
    }
    const marker = m[1] ?? 0;
    if (marker === 0xff) {
      off += 1; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      off += 2;
      continue;
    }
    if (marker === 0xd9) {
      problem(h, 'corrupt', 'the JPEG ends before any image data');
      return;
    }
    if (m.length < 4) {
      problem(h, 'truncated', 'the JPEG is cut short inside a header');
      return;
    }
    const len = u16be(m, 2);
    if (len < 2) {
      problem(h, 'corrupt', `the JPEG has a damaged segment at byte ${off}`);
      return;
    }
    if (SOF.has(marker)) {
      const d = yield { offset: off + 4, length: 6 };
      if (d.length < 6) {
        problem(h, 'truncated', 'the JPEG is cut short inside its frame header');
        return;
      }
      h.bitDepth = d[0] ?? 8;
      h.height = u16be(d, 1);
      h.width = u16be(d, 3);
      components = d[5] ?? 0;
      h.channels = components;
      h.hasAlpha = false;
      if (h.width === 0 || h.height === 0) problem(h, 'corrupt', 'the JPEG says it is 0 pixels wide or high');
    } else if (marker === 0xe1 && h.orientation === undefined) {
      const d = yield { offset: off + 4, length: Math.min(len - 2, 65536) };
      if (ascii(d, 0, 6) === 'Exif\0\0') {
        const o = exifOrientation(d, 6);
        if (o !== undefined) h.orientation = o;
      }
    } else if (marker === 0xee) {
      const d = yield { offset: off + 4, length: 12 };
      if (ascii(d, 0, 5) === 'Adobe' && d.length >= 12) adobeTransform = d[11];
    } else if (marker === 0xda) {
      break; // start of scan: all headers seen
    }
    off += 2 + len;
    if (size !== undefined && off > size) {
      problem(h, 'truncated', 'a JPEG segment runs past the end of the file');
      return;
    }
  }
  if (components === undefined) {
    problem(h, 'corrupt', 'the JPEG has no frame header (no size)');
    return;
  }
  if (components === 1) h.colorModel = 'gray';
  else if (components === 3) h.colorModel = adobeTransform === 0 ? 'rgb' : 'ycbcr';
  else if (components === 4) h.colorModel = adobeTransform === 2 ? 'ycck' : 'cmyk';
  else h.colorModel = 'unknown';
  if (size !== undefined && checkEnd) {
    // the end-of-image marker, allowing a little trailing padding
    const n = Math.min(size, 32);
    const tail = yield { offset: size - n, length: n };
    let found = false;
    for (let i = 0; i + 1 < tail.length; i++) if (tail[i] === 0xff && tail[i + 1] === 0xd9) found = true;
    if (!found) problem(h, 'truncated', 'the JPEG does not end with an end-of-image marker: it is probably cut short');
  }
}

function* parseWebp(h: ImageHeader, size: number | undefined): Parser {
  const b = yield { offset: 0, length: 30 };
  const riffEnd = u32le(b, 4) + 8;
  if (size !== undefined && riffEnd > size) problem(h, 'truncated', `the WebP file is cut short (${size} of ${riffEnd} bytes)`);
  const chunk = ascii(b, 12, 4);
  h.bitDepth = 8;
  h.colorModel = 'rgb';
  h.animated = false;
  if (chunk === 'VP8 ') {
    if (b.length < 30 || !startsWith(b, [0x9d, 0x01, 0x2a], 23)) {
      problem(h, b.length < 30 ? 'truncated' : 'corrupt', 'the WebP (lossy) frame header is damaged');
      return;
    }
    h.width = u16le(b, 26) & 0x3fff;
    h.height = u16le(b, 28) & 0x3fff;
    h.hasAlpha = false;
    h.channels = 3;
  } else if (chunk === 'VP8L') {
    if (b.length < 25 || b[20] !== 0x2f) {
      problem(h, b.length < 25 ? 'truncated' : 'corrupt', 'the WebP (lossless) header is damaged');
      return;
    }
    const bits = u32le(b, 21);
    h.width = (bits & 0x3fff) + 1;
    h.height = ((bits >>> 14) & 0x3fff) + 1;
    h.hasAlpha = ((bits >>> 28) & 1) === 1;
    h.channels = h.hasAlpha ? 4 : 3;
  } else if (chunk === 'VP8X') {
    if (b.length < 30) {
      problem(h, 'truncated', 'the WebP (extended) header is cut short');
      return;
    }
    const flags = b[20] ?? 0;
    h.animated = (flags & 0x02) !== 0;
    h.hasAlpha = (flags & 0x10) !== 0;
    h.channels = h.hasAlpha ? 4 : 3;
    h.width = 1 + ((b[24] ?? 0) | ((b[25] ?? 0) << 8) | ((b[26] ?? 0) << 16));
    h.height = 1 + ((b[27] ?? 0) | ((b[28] ?? 0) << 8) | ((b[29] ?? 0) << 16));
    if (flags & 0x08) {
      // walk the chunks to the EXIF one
      let off = 12;
      const end = size ?? riffEnd;
      while (off + 8 <= end && off < WALK_LIMIT) {
        const c = yield { offset: off, length: 8 };
        if (c.length < 8) break;
        const len = u32le(c, 4);
        if (ascii(c, 0, 4) === 'EXIF') {
          const d = yield { offset: off + 8, length: Math.min(len, 65536) };
          const o = exifOrientation(d);
          if (o !== undefined) h.orientation = o;
          break;
        }
        off += 8 + len + (len & 1);
      }
    }
  } else {
    problem(h, b.length < 16 ? 'truncated' : 'corrupt', `the WebP has an unknown first chunk '${chunk.replace(/[^\x20-\x7e]/g, '?')}'`);
  }
}

function* parseBmp(h: ImageHeader, size: number | undefined): Parser {
  const b = yield { offset: 0, length: 70 };
  const declared = u32le(b, 2);
  const dib = u32le(b, 14);
  if (dib === 12) {
    h.width = u16le(b, 18);
    h.height = u16le(b, 20);
    h.bitDepth = u16le(b, 24);
  } else if (dib >= 40 && b.length >= 34) {
    h.width = Math.abs(i32le(b, 18));
    h.height = Math.abs(i32le(b, 22));
    h.bitDepth = u16le(b, 28);
  } else {
    problem(h, 'corrupt', `the BMP has an unknown header size ${dib}`);
    return;
  }
  const bpp = h.bitDepth;
  const compression = dib >= 40 ? u32le(b, 30) : 0;
  h.colorModel = bpp <= 8 ? 'palette' : 'rgb';
  h.hasAlpha = bpp === 32 && dib >= 56 && compression === 3 && b.length >= 70 && u32le(b, 66) !== 0;
  h.channels = bpp <= 8 ? 1 : h.hasAlpha ? 4 : 3;
  h.bitDepth = bpp <= 8 ? bpp : 8;
  h.animated = false;
  if (size !== undefined && declared > size && declared - size > 2) {
    problem(h, 'truncated', `the BMP is cut short (${size} of ${declared} bytes)`);
  } else if (size !== undefined && dib >= 40 && compression === 0 && h.width && h.height) {
    const row = Math.floor((bpp * h.width + 31) / 32) * 4;
    const need = u32le(b, 10) + row * h.height;
    if (need > size) problem(h, 'truncated', `the BMP is cut short (${size} of ${need} bytes of pixels)`);
  }
}

function* parseGif(h: ImageHeader, size: number | undefined): Parser {
  const b = yield { offset: 0, length: 13 };
  if (b.length < 13) {
    problem(h, 'truncated', 'the GIF header is cut short');
    return;
  }
  h.width = u16le(b, 6);
  h.height = u16le(b, 8);
  h.bitDepth = 8;
  h.channels = 1;
  h.colorModel = 'palette';
  h.hasAlpha = false;
  const packed = b[10] ?? 0;
  let off = 13 + (packed & 0x80 ? 3 * (1 << ((packed & 7) + 1)) : 0);
  let frames = 0;
  const skipSubBlocks = function* (start: number): Generator<Need, number, Uint8Array> {
    let o = start;
    for (;;) {
      const n = yield { offset: o, length: 1 };
      if (n.length < 1) return -1;
      const len = n[0] ?? 0;
      o += 1 + len;
      if (len === 0) return o;
    }
  };
  while (off < WALK_LIMIT && frames < 2) {
    const t = yield { offset: off, length: 2 };
    if (t.length < 1) {
      problem(h, 'truncated', 'the GIF ends before its trailer');
      break;
    }
    const kind = t[0];
    if (kind === 0x3b) break;
    if (kind === 0x21) {
      const label = t[1];
      if (label === 0xff) {
        const app = yield { offset: off + 2, length: 12 };
        if (ascii(app, 1, 11) === 'NETSCAPE2.0' || ascii(app, 1, 11) === 'ANIMEXTS1.0') h.animated = true;
      } else if (label === 0xf9) {
        const g = yield { offset: off + 2, length: 2 };
        if (((g[1] ?? 0) & 1) === 1) h.hasAlpha = true;
      }
      const next = yield* skipSubBlocks(off + 2);
      if (next < 0) {
        problem(h, 'truncated', 'the GIF is cut short');
        break;
      }
      off = next;
    } else if (kind === 0x2c) {
      frames++;
      const d = yield { offset: off, length: 10 };
      if (d.length < 10) {
        problem(h, 'truncated', 'the GIF is cut short');
        break;
      }
      const p = d[9] ?? 0;
      off += 10 + (p & 0x80 ? 3 * (1 << ((p & 7) + 1)) : 0) + 1; // + LZW code size
      const next = yield* skipSubBlocks(off);
      if (next < 0) {
        problem(h, 'truncated', 'the GIF is cut short inside its image data');
        break;
      }
      off = next;
    } else {
      problem(h, 'corrupt', `the GIF has an unknown block at byte ${off}`);
      break;
    }
  }
  h.frames = frames;
  if (frames > 1) h.animated = true;
  h.channels = h.hasAlpha ? 2 : 1;
  void size;
}

function* parseAvif(h: ImageHeader): Parser {
  const b = yield { offset: 0, length: FIRST_READ };
  h.animated = /avis/.test(ascii(b, 8, 4));
  for (let i = 0; i + 20 <= b.length; i++) {
    if (b[i] === 0x69 && ascii(b, i, 4) === 'ispe') {
      h.width = u32be(b, i + 8);
      h.height = u32be(b, i + 12);
      break;
    }
  }
  const pixi = ascii(b, 0, b.length).indexOf('pixi');
  if (pixi >= 0) {
    const n = b[pixi + 8] ?? 0;
    h.channels = n;
    h.bitDepth = b[pixi + 9];
  }
}

function jxlSize(b: Uint8Array, start: number): { width: number; height: number } | undefined {
  let bit = 0;
  const u = (n: number): number => {
    let v = 0;
    for (let i = 0; i < n; i++, bit++) {
      const byte = b[start + (bit >> 3)];
      if (byte === undefined) throw new RangeError('short');
      v |= ((byte >> (bit & 7)) & 1) << i;
    }
    return v >>> 0;
  };
  const ratios: Array<[number, number]> = [[1, 1], [12, 10], [4, 3], [3, 2], [16, 9], [5, 4], [2, 1]];
  try {
    const dim = (): number => [9, 13, 18, 30][u(2)] ?? 9;
    const small = u(1);
    let height: number;
    if (small) height = (u(5) + 1) * 8;
    else height = u(dim()) + 1;
    const ratio = u(3);
    let width: number;
    if (ratio === 0) width = small ? (u(5) + 1) * 8 : u(dim()) + 1;
    else {
      const [n, d] = ratios[ratio - 1] ?? [1, 1];
      width = Math.floor((height * n) / d);
    }
    return { width, height };
  } catch {
    return undefined;
  }
}

function* parseJxl(h: ImageHeader): Parser {
  const b = yield { offset: 0, length: FIRST_READ };
  let at = -1;
  if (b[0] === 0xff && b[1] === 0x0a) at = 2;
  else {
    const s = ascii(b, 0, b.length);
    const c = s.indexOf('jxlc');
    const p = s.indexOf('jxlp');
    if (c >= 0 && b[c + 4] === 0xff && b[c + 5] === 0x0a) at = c + 6;
    else if (p >= 0 && b[p + 8] === 0xff && b[p + 9] === 0x0a) at = p + 10;
  }
  if (at < 0) return;
  const s = jxlSize(b, at);
  if (s) {
    h.width = s.width;
    h.height = s.height;
  }
}

function parserFor(format: ImageFormat, h: ImageHeader, size: number | undefined, checkEnd: boolean): Parser | undefined {
  switch (format) {
    case 'png':
      return parsePng(h, size, checkEnd);
    case 'jpeg':
      return parseJpeg(h, size, checkEnd);
    case 'webp':
      return parseWebp(h, size);
    case 'bmp':
      return parseBmp(h, size);
    case 'gif':
      return parseGif(h, size);
    case 'avif':
      return parseAvif(h);
    case 'jxl':
      return parseJxl(h);
    default:
      return undefined;
  }
}

function start(first: Uint8Array, size: number | undefined, checkEnd = true): { h: ImageHeader; parser: Parser | undefined } {
  const h: ImageHeader = { format: 'unknown', problems: [] };
  if (size !== undefined) h.fileSize = size;
  if (first.length === 0) {
    problem(h, 'empty', 'the file is empty (0 bytes)');
    return { h, parser: undefined };
  }
  h.format = sniffFormat(first);
  if (h.format === 'unknown') {
    problem(h, 'unknownFormat', 'the content is not an image format we know (PNG, JPEG, WebP, BMP, GIF, AVIF, JPEG XL)');
  }
  return { h, parser: parserFor(h.format, h, size, checkEnd) };
}

/** Parses a header from bytes in memory (the whole file or its beginning). Never throws. */
export function parseImageHeader(bytes: Uint8Array, fileSize?: number): ImageHeader {
  const size = fileSize ?? bytes.length;
  return fastHeader(bytes, size, undefined, true) ?? parseImageHeaderFull(bytes, fileSize);
}

/** The same with the generator parsers only (the tests hold the fast path to it). */
export function parseImageHeaderFull(bytes: Uint8Array, fileSize?: number, checkEnd = true): ImageHeader {
  const { h, parser } = start(bytes, fileSize ?? bytes.length, checkEnd);
  if (!parser) return h;
  try {
    let r = parser.next(new Uint8Array(0));
    while (!r.done) {
      const { offset, length } = r.value;
      r = parser.next(offset >= bytes.length ? new Uint8Array(0) : bytes.subarray(offset, offset + length));
    }
  } catch (e) {
    problem(h, 'corrupt', `the header could not be read: ${(e as Error).message}`);
  }
  return h;
}

const FAST_OUT = new Float64Array(FACT_SLOTS);

/** `fastImageFacts` on bytes at hand (the file's first `bytes.length` bytes of `size`), as a header. */
function fastHeader(bytes: Uint8Array, size: number, mtimeMs: number | undefined, checkEnd: boolean): FileHeader | undefined {
  const got = Math.min(bytes.length, size);
  if (!fastImageFacts(bytes, got, size, checkEnd, CRC_TABLE, exifOrientation, FAST_OUT, 0)) return undefined;
  return headerFromFacts(FAST_OUT, 0, size, mtimeMs);
}

/**
 * The problems of every header the one-pass reader makes (it makes none with a problem): one
 * frozen array, not one per image. Nothing adds problems to a finished header.
 */
const NO_PROBLEMS = Object.freeze([]) as unknown as HeaderProblem[];

const FACT_FORMATS: readonly ImageFormat[] = ['unknown', 'png', 'jpeg', 'webp', 'webp'];

/**
 * A whole number as a small integer when it is one: read from a `Float64Array` and stored in an
 * object, it would otherwise be kept as a boxed double (16 bytes and one more object for the
 * garbage collector to copy, per field and image: about 900,000 of them in an index of 100,000).
 */
function int(x: number): number {
  return x >= 0 && x <= 0x7fffffff ? x | 0 : x;
}

/**
 * The header `fastImageFacts` wrote at `f[o]`, with the properties in the order the full parser
 * sets them (so a JSON dump reads the same whichever way a file was read). The common shapes are
 * made as one object literal each: adding the properties one by one gives every header a
 * separate, twice-grown property store.
 */
export function headerFromFacts(f: Float64Array, o: number, size: number, mtimeMs: number | undefined): FileHeader {
  const code = f[o] as number;
  const format = FACT_FORMATS[code] ?? 'unknown';
  const fileSize = int(size);
  const width = int(f[o + 1] as number);
  const height = int(f[o + 2] as number);
  const bitDepth = int(f[o + 3] as number);
  const channels = int(f[o + 4] as number);
  const hasAlpha = f[o + 5] === 1;
  const colorModel = FACT_COLOR_MODELS[f[o + 6] as number] ?? 'unknown';
  const orientation = int(f[o + 7] as number);
  const frames = int(f[o + 8] as number);
  const animated = f[o + 9] === 1;
  const problems = NO_PROBLEMS;
  let h: FileHeader;
  if (format === 'png') {
    if (frames < 0 && !orientation) {
      return mtimeMs === undefined
        ? { format, problems, fileSize, width, height, bitDepth, colorModel, channels, hasAlpha }
        : { format, problems, fileSize, width, height, bitDepth, colorModel, channels, hasAlpha, mtimeMs };
    }
    h = { format, problems, fileSize, width, height, bitDepth, colorModel, channels, hasAlpha };
    if (frames >= 0) {
      h.frames = frames;
      h.animated = animated;
    }
    if (orientation) h.orientation = orientation;
  } else if (format === 'jpeg') {
    if (orientation) {
      return mtimeMs === undefined
        ? { format, problems, fileSize, orientation, bitDepth, height, width, channels, hasAlpha: false, colorModel }
        : { format, problems, fileSize, orientation, bitDepth, height, width, channels, hasAlpha: false, colorModel, mtimeMs };
    }
    return mtimeMs === undefined
      ? { format, problems, fileSize, bitDepth, height, width, channels, hasAlpha: false, colorModel }
      : { format, problems, fileSize, bitDepth, height, width, channels, hasAlpha: false, colorModel, mtimeMs };
  } else if (code === 4) {
    // VP8X: the flags come before the canvas size
    return mtimeMs === undefined
      ? { format, problems, fileSize, bitDepth, colorModel, animated, hasAlpha, channels, width, height }
      : { format, problems, fileSize, bitDepth, colorModel, animated, hasAlpha, channels, width, height, mtimeMs };
  } else {
    return mtimeMs === undefined
      ? { format, problems, fileSize, bitDepth, colorModel, animated, width, height, hasAlpha, channels }
      : { format, problems, fileSize, bitDepth, colorModel, animated, width, height, hasAlpha, channels, mtimeMs };
  }
  if (mtimeMs !== undefined) h.mtimeMs = mtimeMs;
  return h;
}

function readAt(fd: number, offset: number, length: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const buf = Buffer.allocUnsafe(length);
    fs.read(fd, buf, 0, length, offset, (err, n) => (err ? reject(err) : resolve(buf.subarray(0, n))));
  });
}
/** Reused buffers of the synchronous reader (slot 0: first read, 1: window); nothing keeps them. */
const SCRATCH = [Buffer.alloc(FIRST_READ), Buffer.alloc(WINDOW)];
function readAtSync(fd: number, offset: number, length: number, slot: number): Uint8Array {
  const scratch = SCRATCH[slot];
  const buf = scratch && length <= scratch.length ? scratch : Buffer.allocUnsafe(length);
  const n = fs.readSync(fd, buf, 0, length, offset);
  return buf.subarray(0, n);
}
function openRead(file: string): Promise<number> {
  return new Promise((resolve, reject) => fs.open(file, 'r', (err, fd) => (err ? reject(err) : resolve(fd))));
}
function fstat(fd: number): Promise<fs.Stats> {
  return new Promise((resolve, reject) => fs.fstat(fd, (err, st) => (err ? reject(err) : resolve(st))));
}
function closeFd(fd: number): Promise<void> {
  return new Promise((resolve) => fs.close(fd, () => resolve()));
}

export interface ReadHeaderOptions {
  /** The file size if already known (skips an fstat). */
  size?: number;
  /** Bytes read first (default 4096). A file shorter than this is read whole, without an fstat. */
  firstRead?: number;
  /**
   * Also read the last bytes of PNG and JPEG files to see that they end properly (catches files
   * cut short by a failed download or copy). Default true; costs one more read per large file.
   */
  checkEnd?: boolean;
}

export interface FileHeader extends ImageHeader {
  fileSize: number;
  /** modification time in ms, when the file was stat'ed (files longer than the first read) */
  mtimeMs?: number;
}

function unreadable(e: unknown, size: number): FileHeader {
  const code = (e as NodeJS.ErrnoException).code ?? 'error';
  const reason =
    code === 'EACCES' || code === 'EPERM'
      ? 'permission denied'
      : code === 'ENOENT'
        ? 'the file is gone'
        : code === 'EISDIR'
          ? 'not a regular file'
          : (e as Error).message;
  return { format: 'unknown', fileSize: size, problems: [{ code: 'unreadable', message: `cannot read the file: ${reason}` }] };
}

/**
 * The driver shared by the sync and async readers, written as a generator of I/O steps so the
 * logic exists once: it yields `{read}` or `{stat}` and gets the bytes or the stats back.
 */
type Step = { read: [number, number]; slot: number } | { stat: true };
/** What the driver needs of a file's stats. */
export interface StatFacts {
  isFile(): boolean;
  size: number;
  mtimeMs: number;
}
function* drive(options: ReadHeaderOptions): Generator<Step, FileHeader, Uint8Array | StatFacts> {
  const want = options.firstRead ?? FIRST_READ;
  let size = options.size;
  let mtimeMs: number | undefined;
  const first = (yield { read: [0, size === undefined ? want : Math.min(size, want)], slot: 0 }) as Uint8Array;
  if (size === undefined) {
    if (first.length < want) size = first.length; // the whole file is in memory: no stat needed
    else {
      const st = (yield { stat: true }) as StatFacts;
      if (!st.isFile()) return { format: 'unknown', fileSize: 0, problems: [{ code: 'unreadable', message: 'cannot read the file: not a regular file' }] };
      size = st.size;
      mtimeMs = st.mtimeMs;
    }
  }
  const { h, parser } = start(first, size, options.checkEnd ?? true);
  const out: FileHeader = Object.assign(h, { fileSize: size });
  if (mtimeMs !== undefined) out.mtimeMs = mtimeMs;
  if (!parser) return out;
  let win: Uint8Array = first;
  let winOff = 0;
  try {
    let r = parser.next(new Uint8Array(0));
    while (!r.done) {
      const { offset, length } = r.value;
      let chunk: Uint8Array;
      if (offset >= size || length <= 0) chunk = new Uint8Array(0);
      else if (offset >= winOff && offset + length <= winOff + win.length) chunk = win.subarray(offset - winOff, offset - winOff + length);
      else if (offset + length <= first.length) chunk = first.subarray(offset, offset + length);
      else if (length >= WINDOW) chunk = (yield { read: [offset, length], slot: 2 }) as Uint8Array;
      else {
        win = (yield { read: [offset, Math.min(WINDOW, size - offset)], slot: 1 }) as Uint8Array;
        winOff = offset;
        chunk = win.subarray(0, length);
      }
      r = parser.next(chunk);
    }
  } catch (e) {
    problem(h, 'corrupt', `the header could not be read: ${(e as Error).message}`);
  }
  return out;
}

/**
 * Reads a file's header: one open, one read of `firstRead` bytes (a smaller file is then read
 * whole), an fstat only for longer files, more reads only when the structure sends us further
 * (and one at the end to check the file is complete), one close. Never throws: I/O errors become
 * an `unreadable` problem.
 */
export async function readImageHeader(file: string, options: ReadHeaderOptions = {}): Promise<FileHeader> {
  let fd: number | undefined;
  try {
    fd = await openRead(file);
    const g = drive(options);
    let r = g.next(new Uint8Array(0));
    while (!r.done) {
      const step = r.value;
      r = g.next('stat' in step ? await fstat(fd) : await readAt(fd, step.read[0], step.read[1]));
    }
    return r.value;
  } catch (e) {
    return unreadable(e, options.size ?? 0);
  } finally {
    if (fd !== undefined) await closeFd(fd);
  }
}

/**
 * The same with synchronous system calls: for warm local files it is several times faster than
 * the thread-pool round trips of the async API. The index calls it in short time slices so the
 * event loop stays responsive. Never throws.
 */
export function readImageHeaderSync(file: string, options: ReadHeaderOptions = {}): FileHeader {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const want = options.firstRead ?? FIRST_READ;
    const first = readAtSync(fd, 0, options.size === undefined ? want : Math.min(options.size, want), 0);
    const stat = options.size === undefined && first.length >= want ? fs.fstatSync(fd) : undefined;
    return fromFirstRead(file, fd, first, stat, options);
  } catch (e) {
    return unreadable(e, options.size ?? 0);
  } finally {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // already closed
      }
    }
  }
}

/**
 * The same from bytes read elsewhere (the index's reader threads): `first` is what a read of
 * `firstRead` bytes at offset 0 gave (fewer bytes: the whole file), `stat` the file's stats when
 * they were taken (they are needed only when `first` is full). The rare further reads (a JPEG's
 * SOF after a large EXIF block) are made here, synchronously. Never throws.
 */
export function headerFromFirstRead(file: string, first: Uint8Array, stat: StatFacts | undefined, options: ReadHeaderOptions = {}): FileHeader {
  let fd: number | undefined;
  try {
    return fromFirstRead(file, undefined, first, stat, options, (opened) => (fd = opened));
  } catch (e) {
    return unreadable(e, options.size ?? 0);
  } finally {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // already closed
      }
    }
  }
}

/**
 * The header from a first read: the one-pass reader when it can, else the full parser, which
 * reads further from `fd` (opened here when undefined, and handed to `opened` to close). Throws
 * on I/O errors.
 */
function fromFirstRead(file: string, fd: number | undefined, first: Uint8Array, stat: StatFacts | undefined, options: ReadHeaderOptions, opened?: (fd: number) => void): FileHeader {
  const want = options.firstRead ?? FIRST_READ;
  const size = options.size ?? (first.length < want ? first.length : stat?.isFile() ? stat.size : undefined);
  if (size !== undefined) {
    const mtimeMs = options.size === undefined && first.length >= want ? stat?.mtimeMs : undefined;
    const fast = fastHeader(first.subarray(0, Math.min(size, want)), size, mtimeMs, options.checkEnd ?? true);
    if (fast) return fast;
  }
  const open = (): number => {
    if (fd === undefined) {
      fd = fs.openSync(file, 'r');
      opened?.(fd);
    }
    return fd;
  };
  const g = drive(options);
  let r = g.next(new Uint8Array(0));
  let firstServed = false;
  while (!r.done) {
    const step = r.value;
    if ('stat' in step) r = g.next(stat ?? fs.fstatSync(open()));
    else if (!firstServed && step.read[0] === 0) {
      firstServed = true;
      r = g.next(first.subarray(0, step.read[1]));
    } else r = g.next(readAtSync(open(), step.read[0], step.read[1], step.slot));
  }
  return r.value;
}

/** An I/O error that happened elsewhere (a reader thread), as the header's `unreadable` problem. */
export function unreadableHeader(code: string | undefined, message: string): FileHeader {
  return unreadable(Object.assign(new Error(message), { code }), 0);
}

/** The extensions whose content is each format, for "PNG named .jpg". */
export const FORMAT_EXTENSIONS: Readonly<Record<ImageFormat, readonly string[]>> = {
  png: ['.png'],
  jpeg: ['.jpg', '.jpeg', '.jpe', '.jfif'],
  webp: ['.webp'],
  bmp: ['.bmp', '.dib'],
  gif: ['.gif'],
  avif: ['.avif'],
  jxl: ['.jxl'],
  unknown: [],
};
