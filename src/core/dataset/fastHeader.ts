/**
 * The common case of an image header, read in one pass without generators: a PNG, JPEG or WebP
 * whose header structure lies inside the bytes already read and which has nothing to report.
 *
 * `fastImageFacts` claims a file only when the full parser in `imageHeader.ts` would give exactly
 * the same facts and no problem; anything else (a problem, a structure that goes past the bytes
 * in hand, a rare chunk) returns false and the full parser reads the file. So it never decides
 * anything the full parser would decide differently; it only skips its generator machinery,
 * which was a fifth of the main thread's time in a cold index of 100,000 images.
 *
 * The index's reader threads run these functions from their source text (`Function.toString`),
 * so `fastImageFacts`, `exifOrientation` and `crcTable` must stay self-contained: they use only
 * their parameters and their own locals (no imports, no module constants, no helpers).
 *
 * Pure TypeScript (no `vscode`).
 */

/** Slots per file in a facts array (see `fastImageFacts`). */
export const FACT_SLOTS = 10;

/** Colour models by code (slot 6). */
export const FACT_COLOR_MODELS = ['gray', 'rgb', 'palette', 'ycbcr', 'cmyk', 'ycck', 'unknown'] as const;

/** The CRC-32 table of PNG chunks. Self-contained. */
export function crcTable(): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}

/** Reads the orientation tag (0x0112) from a TIFF structure (EXIF payload). Self-contained. */
export function exifOrientation(b: Uint8Array, start = 0): number | undefined {
  const at = (i: number): number => (i >= 0 && i < b.length ? (b[i] as number) : 0);
  let s = start;
  // 'Exif\0\0'
  if (at(s) === 0x45 && at(s + 1) === 0x78 && at(s + 2) === 0x69 && at(s + 3) === 0x66 && at(s + 4) === 0 && at(s + 5) === 0) s += 6;
  const le = at(s) === 0x49 && at(s + 1) === 0x49; // II
  if (!le && !(at(s) === 0x4d && at(s + 1) === 0x4d)) return undefined; // MM
  const r16 = (o: number): number => (le ? at(s + o) | (at(s + o + 1) << 8) : (at(s + o) << 8) | at(s + o + 1));
  const r32 = (o: number): number =>
    le
      ? ((at(s + o + 3) << 24) >>> 0) + ((at(s + o + 2) << 16) | (at(s + o + 1) << 8) | at(s + o))
      : ((at(s + o) << 24) >>> 0) + ((at(s + o + 1) << 16) | (at(s + o + 2) << 8) | at(s + o + 3));
  if (r16(2) !== 42) return undefined;
  const ifd = r32(4);
  if (s + ifd + 2 > b.length) return undefined;
  const count = r16(ifd);
  for (let i = 0; i < count && i < 512; i++) {
    const e = ifd + 2 + i * 12;
    if (s + e + 12 > b.length) return undefined;
    if (r16(e) === 0x0112) {
      const v = r16(e + 8);
      return v >= 1 && v <= 8 ? v : undefined;
    }
  }
  return undefined;
}

/**
 * Tries the common case on `b[0, got)`, the first bytes of a file of `size` bytes. On success
 * writes `FACT_SLOTS` numbers at `out[o]` and returns true:
 * format (1 PNG, 2 JPEG, 3 WebP, 4 extended WebP), width, height, bit depth, channels, alpha (0/1), colour model
 * (index in `FACT_COLOR_MODELS`), EXIF orientation (0: none), frames (-1: none), animated
 * (-1: not said, 0/1). `checkEnd` also requires the end of the file in hand and checked.
 * Self-contained.
 */
export function fastImageFacts(
  b: Uint8Array,
  got: number,
  size: number,
  checkEnd: boolean,
  crc: Uint32Array,
  exif: (b: Uint8Array, start?: number) => number | undefined,
  out: Float64Array,
  o: number,
): boolean {
  if (got > b.length || got > size || got < 12) return false;
  const u16be = (p: number): number => ((b[p] as number) << 8) | (b[p + 1] as number);
  const u16le = (p: number): number => (b[p] as number) | ((b[p + 1] as number) << 8);
  const u32be = (p: number): number => (((b[p] as number) << 24) >>> 0) + (((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number));
  const u32le = (p: number): number => (((b[p + 3] as number) << 24) >>> 0) + (((b[p + 2] as number) << 16) | ((b[p + 1] as number) << 8) | (b[p] as number));
  const is = (p: number, s: string): boolean => {
    for (let i = 0; i < s.length; i++) if (b[p + i] !== s.charCodeAt(i)) return false;
    return true;
  };
  const letter = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
  const WALK_LIMIT = 16 * 1024 * 1024;
  let orientation = 0;
  let frames = -1;
  let animated = -1;
  const put = (format: number, w: number, h: number, depth: number, channels: number, alpha: boolean, model: number): true => {
    out[o] = format;
    out[o + 1] = w;
    out[o + 2] = h;
    out[o + 3] = depth;
    out[o + 4] = channels;
    out[o + 5] = alpha ? 1 : 0;
    out[o + 6] = model;
    out[o + 7] = orientation;
    out[o + 8] = frames;
    out[o + 9] = animated;
    return true;
  };

  // PNG: IHDR, then the chunks up to the first IDAT
  if (b[0] === 0x89 && is(1, 'PNG\r\n\x1a\n')) {
    if (got < 33 || !is(12, 'IHDR')) return false;
    const w = u32be(16);
    const h = u32be(20);
    const depth = b[24] as number;
    const type = b[25] as number;
    let model: number;
    let channels: number;
    let alpha: boolean;
    if (type === 0) [model, channels, alpha] = [0, 1, false];
    else if (type === 2) [model, channels, alpha] = [1, 3, false];
    else if (type === 3) [model, channels, alpha] = [2, 1, false];
    else if (type === 4) [model, channels, alpha] = [0, 2, true];
    else if (type === 6) [model, channels, alpha] = [1, 4, true];
    else return false;
    let c = 0xffffffff;
    for (let i = 12; i < 29; i++) c = (crc[(c ^ (b[i] as number)) & 0xff] as number) ^ (c >>> 8);
    if (((c ^ 0xffffffff) >>> 0) !== u32be(29)) return false;
    if (w === 0 || h === 0) return false;
    let off = 33;
    for (;;) {
      if (off + 8 > got || off >= WALK_LIMIT) return false;
      const len = u32be(off);
      if (!letter(b[off + 4] as number) || !letter(b[off + 5] as number) || !letter(b[off + 6] as number) || !letter(b[off + 7] as number)) return false;
      if (is(off + 4, 'IDAT')) break;
      if (is(off + 4, 'IEND')) return false;
      if (is(off + 4, 'acTL')) {
        if (len < 4 || off + 12 > got) return false;
        frames = u32be(off + 8);
        animated = frames > 1 ? 1 : 0;
      } else if (is(off + 4, 'tRNS')) alpha = true;
      else if (is(off + 4, 'eXIf')) {
        const n = Math.min(len, 65536);
        if (off + 8 + n > got) return false;
        const v = exif(b.subarray(off + 8, off + 8 + n));
        if (v !== undefined) orientation = v;
      }
      off += 12 + len;
      if (off > size) return false;
    }
    if (checkEnd && (size > got || !is(size - 8, 'IEND'))) return false;
    return put(1, w, h, depth, channels, alpha, model);
  }

  // JPEG: the markers up to the start of scan
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) {
    let off = 2;
    let adobe = -1;
    let components = -1;
    let depth = 0;
    let w = 0;
    let h = 0;
    for (;;) {
      if (off + 4 > got || off >= WALK_LIMIT) return false;
      if (b[off] !== 0xff) return false;
      const marker = b[off + 1] as number;
      if (marker === 0xff) {
        off += 1;
        continue;
      }
      if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
        off += 2;
        continue;
      }
      if (marker === 0xd9) return false;
      const len = u16be(off + 2);
      if (len < 2) return false;
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        if (off + 10 > got) return false;
        depth = b[off + 4] as number;
        h = u16be(off + 5);
        w = u16be(off + 7);
        components = b[off + 9] as number;
        if (w === 0 || h === 0) return false;
      } else if (marker === 0xe1 && orientation === 0) {
        const n = Math.min(len - 2, 65536);
        if (off + 4 + n > got) return false;
        const d = b.subarray(off + 4, off + 4 + n);
        const at = (i: number): number => (i < d.length ? (d[i] as number) : 0);
        if (at(0) === 0x45 && at(1) === 0x78 && at(2) === 0x69 && at(3) === 0x66 && at(4) === 0 && at(5) === 0) {
          const v = exif(d, 6);
          if (v !== undefined) orientation = v;
        }
      } else if (marker === 0xee) {
        if (off + 16 > got) return false;
        if (is(off + 4, 'Adobe')) adobe = b[off + 15] as number;
      } else if (marker === 0xda) break;
      off += 2 + len;
      if (off > size) return false;
    }
    if (components < 0) return false;
    if (checkEnd) {
      if (size > got) return false;
      const n = Math.min(size, 32);
      let found = false;
      for (let i = size - n; i + 1 < size; i++) if (b[i] === 0xff && b[i + 1] === 0xd9) found = true;
      if (!found) return false;
    }
    const model = components === 1 ? 0 : components === 3 ? (adobe === 0 ? 1 : 3) : components === 4 ? (adobe === 2 ? 5 : 4) : 6;
    return put(2, w, h, depth, components, false, model);
  }

  // WebP: the first chunk (an extended one with EXIF is left to the full parser)
  if (is(0, 'RIFF') && is(8, 'WEBP')) {
    if (got < 30 || u32le(4) + 8 > size) return false;
    if (is(12, 'VP8 ')) {
      if (b[23] !== 0x9d || b[24] !== 0x01 || b[25] !== 0x2a) return false;
      animated = 0;
      return put(3, u16le(26) & 0x3fff, u16le(28) & 0x3fff, 8, 3, false, 1);
    }
    if (is(12, 'VP8L')) {
      if (b[20] !== 0x2f) return false;
      const bits = u32le(21);
      const alpha = ((bits >>> 28) & 1) === 1;
      animated = 0;
      return put(3, (bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1, 8, alpha ? 4 : 3, alpha, 1);
    }
    if (is(12, 'VP8X')) {
      const flags = b[20] as number;
      if (flags & 0x08) return false;
      const alpha = (flags & 0x10) !== 0;
      animated = flags & 0x02 ? 1 : 0;
      const w = 1 + ((b[24] as number) | ((b[25] as number) << 8) | ((b[26] as number) << 16));
      const h = 1 + ((b[27] as number) | ((b[28] as number) << 8) | ((b[29] as number) << 16));
      return put(4, w, h, 8, alpha ? 4 : 3, alpha, 1);
    }
    return false;
  }
  return false;
}
