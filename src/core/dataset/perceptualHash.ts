/**
 * A perceptual hash (dHash) over a small grayscale image, and grouping of near duplicates by
 * Hamming distance. The pixels come from the image worker (sharp resizes each image to 9×8
 * grayscale); nothing here decodes images.
 *
 * Pure TypeScript.
 */

export const DHASH_WIDTH = 9;
export const DHASH_HEIGHT = 8;

/**
 * dHash: for each of the 8 rows, 8 bits "this pixel is darker than its right neighbour", row by
 * row, most significant bit first; 16 hex digits. `gray` is row-major, `width`×`height` values
 * (0–255); any other size is first sampled down to 9×8 by box averaging. Returns undefined for an
 * empty or inconsistent array.
 */
export function dHash(gray: ArrayLike<number>, width = DHASH_WIDTH, height = DHASH_HEIGHT): string | undefined {
  if (!(width >= 1 && height >= 1) || gray.length < width * height) return undefined;
  const px = width === DHASH_WIDTH && height === DHASH_HEIGHT ? gray : boxResample(gray, width, height, DHASH_WIDTH, DHASH_HEIGHT);
  let hi = 0;
  let lo = 0;
  let bit = 0;
  for (let y = 0; y < DHASH_HEIGHT; y++) {
    for (let x = 0; x < DHASH_WIDTH - 1; x++) {
      const a = px[y * DHASH_WIDTH + x] ?? 0;
      const b = px[y * DHASH_WIDTH + x + 1] ?? 0;
      const v = a < b ? 1 : 0;
      if (bit < 32) hi = ((hi << 1) | v) >>> 0;
      else lo = ((lo << 1) | v) >>> 0;
      bit++;
    }
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

function boxResample(src: ArrayLike<number>, sw: number, sh: number, dw: number, dh: number): number[] {
  const out: number[] = [];
  for (let y = 0; y < dh; y++) {
    const y0 = Math.floor((y * sh) / dh);
    const y1 = Math.max(y0 + 1, Math.floor(((y + 1) * sh) / dh));
    for (let x = 0; x < dw; x++) {
      const x0 = Math.floor((x * sw) / dw);
      const x1 = Math.max(x0 + 1, Math.floor(((x + 1) * sw) / dw));
      let sum = 0;
      let n = 0;
      for (let yy = y0; yy < y1 && yy < sh; yy++) {
        for (let xx = x0; xx < x1 && xx < sw; xx++) {
          sum += src[yy * sw + xx] ?? 0;
          n++;
        }
      }
      out.push(n ? sum / n : 0);
    }
  }
  return out;
}

function popcount32(v: number): number {
  let x = v >>> 0;
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

function split(hash: string): [number, number] | undefined {
  if (!/^[0-9a-f]{16}$/i.test(hash)) return undefined;
  return [Number.parseInt(hash.slice(0, 8), 16), Number.parseInt(hash.slice(8), 16)];
}

/** Bits that differ between two 16-hex-digit hashes (64 for malformed input). */
export function hammingDistance(a: string, b: string): number {
  const x = split(a);
  const y = split(b);
  if (!x || !y) return 64;
  return popcount32(x[0] ^ y[0]) + popcount32(x[1] ^ y[1]);
}

export interface HashedFile {
  file: string;
  hash: string;
}

/**
 * Groups files whose hashes are within `maxDistance` bits (transitively: a–b and b–c put a, b, c
 * in one group). Uses the pigeonhole principle: split into maxDistance+1 bit ranges, two hashes
 * within the distance agree exactly on at least one range, so only files sharing a range value
 * are compared. Groups (size ≥ 2) and their members keep input order.
 */
export function groupNearDuplicates(items: readonly HashedFile[], maxDistance: number): string[][] {
  const valid = items.map((it, i) => ({ i, file: it.file, parts: split(it.hash) })).filter((v) => v.parts !== undefined);
  const parent = items.map((_, i) => i);
  const find = (i: number): number => {
    let r = i;
    while (parent[r] !== r) r = parent[r] as number;
    let c = i;
    while (parent[c] !== r) {
      const n = parent[c] as number;
      parent[c] = r;
      c = n;
    }
    return r;
  };
  const union = (a: number, b: number): void => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  };
  const d = Math.max(0, Math.min(63, Math.trunc(maxDistance)));
  const chunks = d + 1;
  const bitsAt = (parts: [number, number], from: number, to: number): string => {
    let s = '';
    for (let b = from; b < to; b++) {
      const word = b < 32 ? parts[0] : parts[1];
      s += (word >>> (31 - (b % 32))) & 1;
    }
    return s;
  };
  for (let c = 0; c < chunks; c++) {
    const from = Math.floor((c * 64) / chunks);
    const to = Math.floor(((c + 1) * 64) / chunks);
    const buckets = new Map<string, number[]>();
    for (const v of valid) {
      const key = bitsAt(v.parts as [number, number], from, to);
      const list = buckets.get(key);
      if (list) list.push(v.i);
      else buckets.set(key, [v.i]);
    }
    for (const list of buckets.values()) {
      if (list.length < 2) continue;
      for (let a = 0; a < list.length; a++) {
        const ia = list[a] as number;
        const pa = split((items[ia] as HashedFile).hash) as [number, number];
        for (let b = a + 1; b < list.length; b++) {
          const ib = list[b] as number;
          if (find(ia) === find(ib)) continue;
          const pb = split((items[ib] as HashedFile).hash) as [number, number];
          if (popcount32(pa[0] ^ pb[0]) + popcount32(pa[1] ^ pb[1]) <= d) union(ia, ib);
        }
      }
    }
  }
  const groups = new Map<number, string[]>();
  for (const v of valid) {
    const r = find(v.i);
    const g = groups.get(r);
    if (g) g.push(v.file);
    else groups.set(r, [v.file]);
  }
  return [...groups.values()].filter((g) => g.length > 1);
}
