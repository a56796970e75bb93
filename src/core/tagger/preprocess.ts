/**
 * sd-scripts' WD14 preprocessing (`preprocess_image` + `library.utils.resize_image`), expressed on
 * raw pixel buffers so that it runs without Python and is tested on hand-made pixels:
 *
 * 1. alpha composited over white (PIL `alpha_composite` fixed-point arithmetic; an opaque pixel
 *    is unchanged); grey is replicated to RGB like PIL `convert("RGB")`
 * 2. RGB → BGR
 * 3. padded to a white (255) square of side max(w, h): left = pad_x // 2, top = pad_y // 2, the
 *    odd pixel goes right/bottom (numpy `np.pad` as sd-scripts calls it)
 * 4. resized to the model's input size: when the square is at least the model size, OpenCV
 *    `INTER_AREA` (each output pixel is the area-weighted mean of the source pixels it covers);
 *    otherwise PIL `LANCZOS` (a = 3, horizontal pass then vertical pass, 8-bit intermediate and
 *    22-bit fixed-point weights as Pillow computes them)
 * 5. float32, values 0..255 (no normalisation), NHWC, channel order BGR
 *
 * Both resizes are implemented here rather than with libvips (sharp): libvips has no area
 * kernel (its reduce is a shrink plus a convolution, which differs from INTER_AREA) and its
 * lanczos3 differs from Pillow's in rounding and intermediate precision. The worker uses sharp
 * only to decode images to RGBA; the geometry and arithmetic below are what sd-scripts does.
 */

export interface RawImage {
  /** Interleaved 8-bit samples, row-major. */
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

export type ResizeMethod = 'area' | 'lanczos' | 'none';

/** Which interpolation sd-scripts' `resize_image` picks for a square of side `size`. */
export function resizeMethodFor(size: number, target: number): ResizeMethod {
  if (size === target) return 'none';
  return size >= target ? 'area' : 'lanczos';
}

/** PIL `alpha_composite` of a pixel over opaque white (fixed point, 7 bits of precision). */
export function compositeOverWhite(value: number, alpha: number): number {
  if (alpha >= 255) return value;
  // with an opaque destination: coef1 = a * 128, coef2 = (255 - a) * 128
  const tmp = (value * alpha + 255 * (255 - alpha)) * 128 + (0x80 << 7);
  return (((tmp >> 8) + tmp) >> 8) >> 7;
}

/** Where sd-scripts puts an image of w × h in its white square. */
export function padGeometry(width: number, height: number): { size: number; left: number; top: number } {
  const size = Math.max(width, height);
  return { size, left: Math.floor((size - width) / 2), top: Math.floor((size - height) / 2) };
}

function validImage(img: RawImage): boolean {
  return (
    img !== null &&
    typeof img === 'object' &&
    img.data instanceof Uint8Array &&
    Number.isInteger(img.width) &&
    Number.isInteger(img.height) &&
    img.width > 0 &&
    img.height > 0 &&
    [1, 2, 3, 4].includes(img.channels) &&
    img.data.length >= img.width * img.height * img.channels
  );
}

/**
 * Steps 1–3: composite over white, RGB → BGR, pad to a white square. Returns a 3-channel BGR
 * square, or undefined when the buffer does not hold the pixels it claims.
 */
export function toPaddedBgrSquare(img: RawImage): { data: Uint8Array; size: number } | undefined {
  if (!validImage(img)) return undefined;
  const { width: w, height: h, channels: c, data: src } = img;
  const { size, left, top } = padGeometry(w, h);
  const out = new Uint8Array(size * size * 3).fill(255);
  for (let y = 0; y < h; y++) {
    let si = y * w * c;
    let di = ((top + y) * size + left) * 3;
    for (let x = 0; x < w; x++, si += c, di += 3) {
      let r: number, g: number, b: number, a: number;
      if (c === 4 && src[si + 3] === 255) {
        out[di] = src[si + 2] as number;
        out[di + 1] = src[si + 1] as number;
        out[di + 2] = src[si] as number;
        continue;
      }
      if (c >= 3) {
        r = src[si] as number;
        g = src[si + 1] as number;
        b = src[si + 2] as number;
        a = c === 4 ? (src[si + 3] as number) : 255;
      } else {
        r = g = b = src[si] as number;
        a = c === 2 ? (src[si + 1] as number) : 255;
      }
      out[di] = compositeOverWhite(b, a);
      out[di + 1] = compositeOverWhite(g, a);
      out[di + 2] = compositeOverWhite(r, a);
    }
  }
  return { data: out, size };
}

/** Sizes are positive integers and the source holds sw × sh × channels samples. */
function validResize(src: Uint8Array, sw: number, sh: number, channels: number, dw: number, dh: number): boolean {
  const ok = (n: number): boolean => Number.isInteger(n) && n > 0 && n <= 1 << 16;
  return src instanceof Uint8Array && ok(sw) && ok(sh) && ok(channels) && ok(dw) && ok(dh) && src.length >= sw * sh * channels;
}

/** Round half to even, as OpenCV's saturate_cast (cvRound) does. */
function cvRound(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && (r & 1) === 1 ? r - 1 : r;
}

/** OpenCV INTER_AREA taps for one axis (downscale): each output covers `scale` input pixels. */
function areaTaps(inSize: number, outSize: number): { first: Int32Array; index: Int32Array; weight: Float32Array } {
  const scale = inSize / outSize;
  const first = new Int32Array(outSize + 1);
  const index: number[] = [];
  const weight: number[] = [];
  for (let o = 0; o < outSize; o++) {
    const f0 = o * scale;
    const f1 = Math.min(f0 + scale, inSize);
    first[o] = index.length;
    for (let i = Math.floor(f0); i < Math.min(Math.ceil(f1), inSize); i++) {
      const overlap = Math.min(i + 1, f1) - Math.max(i, f0);
      if (overlap > 1e-9) {
        index.push(i);
        weight.push(overlap / (f1 - f0));
      }
    }
  }
  first[outSize] = index.length;
  return { first, index: Int32Array.from(index), weight: Float32Array.from(weight) };
}

/**
 * OpenCV `cv2.resize(..., interpolation=INTER_AREA)` for a downscale of an 8-bit image:
 * area weights in float32, a horizontal pass into a float row buffer, rows accumulated with
 * their vertical weights, rounded half to even (saturate_cast).
 */
export function resizeArea(src: Uint8Array, sw: number, sh: number, channels: number, dw: number, dh: number): Uint8Array {
  if (!validResize(src, sw, sh, channels, dw, dh)) return new Uint8Array(0);
  const tx = areaTaps(sw, dw);
  const ty = areaTaps(sh, dh);
  const rowLen = dw * channels;
  // horizontal pass of every source row that some output row uses (all of them when downscaling)
  const tmp = new Float32Array(sh * rowLen);
  const { first: fx, index: ix, weight: wx } = tx;
  for (let y = 0; y < sh; y++) {
    const row = y * sw * channels;
    const orow = y * rowLen;
    if (channels === 3) {
      for (let x = 0; x < dw; x++) {
        let a0 = 0;
        let a1 = 0;
        let a2 = 0;
        const kEnd = fx[x + 1] as number;
        for (let k = fx[x] as number; k < kEnd; k++) {
          const si = row + (ix[k] as number) * 3;
          const w = wx[k] as number;
          a0 += (src[si] as number) * w;
          a1 += (src[si + 1] as number) * w;
          a2 += (src[si + 2] as number) * w;
        }
        const o = orow + x * 3;
        tmp[o] = a0;
        tmp[o + 1] = a1;
        tmp[o + 2] = a2;
      }
    } else {
      for (let x = 0; x < dw; x++) {
        const kEnd = fx[x + 1] as number;
        for (let ch = 0; ch < channels; ch++) {
          let acc = 0;
          for (let k = fx[x] as number; k < kEnd; k++) acc += (src[row + (ix[k] as number) * channels + ch] as number) * (wx[k] as number);
          tmp[orow + x * channels + ch] = acc;
        }
      }
    }
  }
  const out = new Uint8Array(dh * rowLen);
  const acc = new Float32Array(rowLen);
  for (let y = 0; y < dh; y++) {
    acc.fill(0);
    const kEnd = ty.first[y + 1] as number;
    for (let k = ty.first[y] as number; k < kEnd; k++) {
      const base = (ty.index[k] as number) * rowLen;
      const w = ty.weight[k] as number;
      for (let i = 0; i < rowLen; i++) acc[i] = (acc[i] as number) + (tmp[base + i] as number) * w;
    }
    const orow = y * rowLen;
    for (let i = 0; i < rowLen; i++) {
      const v = acc[i] as number;
      out[orow + i] = v <= 0 ? 0 : v >= 255 ? 255 : cvRound(v);
    }
  }
  return out;
}

const PIL_PRECISION_BITS = 32 - 8 - 2;

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

function lanczos3(x: number): number {
  return x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0;
}

/** Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for the LANCZOS filter. */
function lanczosTaps(inSize: number, outSize: number): { start: Int32Array; count: Int32Array; k: Int32Array; kmax: number } {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 3 * filterscale;
  const kmax = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const k = new Int32Array(outSize * kmax);
  const ss = 1 / filterscale;
  const pre = new Float64Array(kmax);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xsize = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xsize; x++) {
      const w = lanczos3((x + xmin - center + 0.5) * ss);
      pre[x] = w;
      ww += w;
    }
    for (let x = 0; x < xsize; x++) {
      const v = ww !== 0 ? (pre[x] as number) / ww : (pre[x] as number);
      k[xx * kmax + x] = v < 0 ? Math.trunc(-0.5 + v * (1 << PIL_PRECISION_BITS)) : Math.trunc(0.5 + v * (1 << PIL_PRECISION_BITS));
    }
    start[xx] = xmin;
    count[xx] = xsize;
  }
  return { start, count, k, kmax };
}

function clip8(ss: number): number {
  const v = Math.floor(ss / (1 << PIL_PRECISION_BITS));
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Pillow `Image.resize(..., Image.LANCZOS)` of an 8-bit image (horizontal, then vertical). */
export function resizeLanczos(src: Uint8Array, sw: number, sh: number, channels: number, dw: number, dh: number): Uint8Array {
  if (!validResize(src, sw, sh, channels, dw, dh)) return new Uint8Array(0);
  let cur = src;
  let cw = sw;
  if (dw !== sw) {
    const t = lanczosTaps(sw, dw);
    const out = new Uint8Array(dw * sh * channels);
    for (let y = 0; y < sh; y++) {
      const row = y * sw * channels;
      for (let x = 0; x < dw; x++) {
        const s = t.start[x] as number;
        const n = t.count[x] as number;
        const kb = x * t.kmax;
        for (let ch = 0; ch < channels; ch++) {
          let acc = 1 << (PIL_PRECISION_BITS - 1);
          for (let j = 0; j < n; j++) acc += (src[row + (s + j) * channels + ch] as number) * (t.k[kb + j] as number);
          out[(y * dw + x) * channels + ch] = clip8(acc);
        }
      }
    }
    cur = out;
    cw = dw;
  }
  if (dh === sh) return cur;
  const t = lanczosTaps(sh, dh);
  const rowLen = cw * channels;
  const out = new Uint8Array(dh * rowLen);
  for (let y = 0; y < dh; y++) {
    const s = t.start[y] as number;
    const n = t.count[y] as number;
    const kb = y * t.kmax;
    for (let i = 0; i < rowLen; i++) {
      let acc = 1 << (PIL_PRECISION_BITS - 1);
      for (let j = 0; j < n; j++) acc += (cur[(s + j) * rowLen + i] as number) * (t.k[kb + j] as number);
      out[y * rowLen + i] = clip8(acc);
    }
  }
  return out;
}

/** Step 4: a BGR square resized to `target` × `target` the way sd-scripts picks. */
export function resizeSquare(square: { data: Uint8Array; size: number }, target: number): Uint8Array {
  switch (resizeMethodFor(square.size, target)) {
    case 'none':
      return square.data;
    case 'area':
      return resizeArea(square.data, square.size, square.size, 3, target, target);
    case 'lanczos':
      return resizeLanczos(square.data, square.size, square.size, 3, target, target);
  }
}

/** Steps 1–4 for one decoded image: the model's `target` × `target` BGR bytes (HWC). */
export function preprocessImage(img: RawImage, target: number): Uint8Array | undefined {
  if (!Number.isInteger(target) || target <= 0) return undefined;
  const square = toPaddedBgrSquare(img);
  return square && resizeSquare(square, target);
}

/**
 * Step 5: packs preprocessed images (each target × target × 3 BGR bytes) into one float32 NHWC
 * tensor buffer, values 0..255. A missing slot (undefined) stays white.
 */
export function toNhwcFloat32(images: readonly (Uint8Array | undefined)[], target: number): Float32Array {
  const per = target * target * 3;
  const out = new Float32Array(images.length * per);
  images.forEach((img, n) => {
    const base = n * per;
    if (!img || img.length < per) {
      out.fill(255, base, base + per);
      return;
    }
    for (let i = 0; i < per; i++) out[base + i] = img[i] as number;
  });
  return out;
}

/** NCHW layout (for models of sd-scripts' "other structure": x / 127.5 - 1, channels first). */
export function toNchwFloat32(images: readonly (Uint8Array | undefined)[], target: number, normalise: boolean): Float32Array {
  const plane = target * target;
  const out = new Float32Array(images.length * plane * 3);
  images.forEach((img, n) => {
    for (let c = 0; c < 3; c++) {
      const base = (n * 3 + c) * plane;
      for (let p = 0; p < plane; p++) {
        const v = img && img.length >= plane * 3 ? (img[p * 3 + c] as number) : 255;
        out[base + p] = normalise ? v / 127.5 - 1 : v;
      }
    }
  });
  return out;
}
