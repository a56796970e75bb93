/**
 * Image audit: rules that say what sd-scripts will do wrong with an image, as plain problems
 * `{file, code, severity, message, related?, fix?}` for the Problems panel, the tree and `lwb`.
 *
 * sd-scripts loads images with Pillow (`Image.open(p).convert("RGB")`, no EXIF transpose, no
 * alpha unless `alpha_mask`), matching file names by extension but reading content by signature.
 * The per-image rules read only the header (`imageHeader.ts`); duplicates need content hashes
 * (computed here only for files whose byte sizes collide) and perceptual hashes (from the image
 * worker). Nothing here decodes pixels, and nothing throws on bad input.
 *
 * Pure Node (no `vscode`).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as path from 'node:path';
import { FORMAT_EXTENSIONS, type ImageHeader } from './imageHeader';
import { extensionOf, stemOf } from './images';
import { compareNames } from './scan';
import { groupNearDuplicates } from './perceptualHash';

export type AuditSeverity = 'error' | 'warning' | 'info';

export type AuditCode =
  | 'emptyFile'
  | 'unreadable'
  | 'truncated'
  | 'corrupt'
  | 'notAnImage'
  | 'unsupportedFormat'
  | 'extensionMismatch'
  | 'tooSmall'
  | 'lowQuality'
  | 'alpha'
  | 'cmyk'
  | 'highBitDepth'
  | 'animated'
  | 'exifOrientation'
  | 'hugeImage'
  | 'duplicate'
  | 'nearDuplicate'
  | 'captionWithoutImage'
  | 'imageWithoutCaption';

export type AuditFix =
  /** rotate/flip the pixels as the EXIF orientation says, then drop the tag */
  | { kind: 'rotateExif'; file: string; orientation: number }
  /** move these files (an image and its sidecars) to the trash */
  | { kind: 'deleteToTrash'; files: string[] }
  /** rename a file (and, for images, its sidecars with the same stem keep pairing) */
  | { kind: 'rename'; from: string; to: string };

export interface AuditProblem {
  file: string;
  code: AuditCode;
  severity: AuditSeverity;
  message: string;
  /** other files the problem is about (the rest of a duplicate group) */
  related?: string[];
  fix?: AuditFix;
}

export interface AuditOptions {
  /** The training resolution (W, H); default 1024×1024 (SDXL). */
  resolution?: readonly [number, number];
  /** "too small" below this fraction of the resolution's pixel count (default 0.5). */
  tooSmallFraction?: number;
  /**
   * "low quality for its size": a lossy (JPEG/WebP) file with fewer bytes per pixel than this.
   * Default 100,000 bytes for a 768×768 image ≈ 0.17 bytes per pixel.
   */
  lowQualityBytesPerPixel?: number;
  /** Pillow's decompression-bomb limit (Image.MAX_IMAGE_PIXELS, default 89,478,485 pixels). */
  maxImagePixels?: number;
  /** `alpha_mask` is on: alpha is used, not a problem. */
  alphaMask?: boolean;
  /** dHash bits that may differ for a near duplicate (default 6; 0 = identical hash). */
  nearDuplicateDistance?: number;
  /** report images without any caption sidecar (default true) */
  reportMissingCaptions?: boolean;
}

export const AUDIT_DEFAULTS = {
  resolution: [1024, 1024] as const,
  tooSmallFraction: 0.5,
  lowQualityBytesPerPixel: 100_000 / (768 * 768),
  maxImagePixels: 89_478_485,
  nearDuplicateDistance: 6,
};

/** What the audit knows about one image file (an image extension sd-scripts loads, or skips). */
export interface AuditImage {
  /** absolute path */
  file: string;
  header: ImageHeader;
  /** absolute paths of its sidecars (caption/tag files, latent caches) */
  sidecars?: string[];
  /** has a caption sidecar of the extension used for training */
  hasCaption?: boolean;
  /** sha-256 (or any content hash) of the file, when known */
  contentHash?: string;
  /** 16-hex-digit dHash from the image worker, when computed */
  perceptualHash?: string;
  /** the worker's full decode failed (a truncated JPEG that still has a good header, …) */
  decodeError?: string;
}

const FORMAT_NAMES: Record<string, string> = {
  png: 'PNG',
  jpeg: 'JPEG',
  webp: 'WebP',
  bmp: 'BMP',
  gif: 'GIF',
  avif: 'AVIF',
  jxl: 'JPEG XL',
};

const ORIENTATION_TEXT: Record<number, string> = {
  2: 'mirrored',
  3: 'upside down',
  4: 'upside down and mirrored',
  5: 'sideways and mirrored',
  6: 'sideways (rotated 90°)',
  7: 'sideways and mirrored',
  8: 'sideways (rotated 270°)',
};

function mb(n: number): string {
  return n >= 1_000_000 ? `${(n / 1_000_000).toFixed(1)} MP` : `${n.toLocaleString('en-US')} px`;
}
function kb(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1048576).toFixed(1)} MB` : `${Math.round(n / 1024)} KB`;
}

/** The rules that need only one image's header. */
export function auditImage(img: AuditImage, options: AuditOptions = {}): AuditProblem[] {
  const out: AuditProblem[] = [];
  const h = img.header;
  const file = img.file;
  const push = (code: AuditCode, severity: AuditSeverity, message: string, fix?: AuditFix): void => {
    out.push(fix ? { file, code, severity, message, fix } : { file, code, severity, message });
  };
  try {
    for (const p of h.problems) {
      if (p.code === 'empty') push('emptyFile', 'error', 'The file is empty (0 bytes): sd-scripts stops when it loads it.', { kind: 'deleteToTrash', files: [file, ...(img.sidecars ?? [])] });
      else if (p.code === 'unreadable') push('unreadable', 'error', `The file cannot be read: ${p.message.replace(/^cannot read the file: /, '')}.`);
      else if (p.code === 'truncated') push('truncated', 'error', `The image looks cut short (${p.message}): Pillow stops with "image file is truncated".`);
      else if (p.code === 'corrupt') push('corrupt', 'error', `The image is damaged (${p.message}): Pillow cannot load it.`);
      else if (p.code === 'unknownFormat') push('notAnImage', 'error', 'The content is not an image Pillow reads (no PNG/JPEG/WebP/BMP signature): sd-scripts stops with "cannot identify image file".');
    }
    if (img.decodeError && !h.problems.some((p) => p.code === 'truncated' || p.code === 'corrupt')) {
      push('corrupt', 'error', `The image does not decode: ${img.decodeError}`);
    }
    if (h.format === 'unknown') return out;

    const ext = extensionOf(path.basename(file));
    const lower = ext.toLowerCase();
    const formatName = FORMAT_NAMES[h.format] ?? h.format;
    if (h.format === 'avif' || h.format === 'jxl') {
      push('unsupportedFormat', 'error', `${formatName} content: Pillow loads it only with a plugin (pillow-avif-plugin / pillow-jxl), which sd-scripts does not install.`);
    } else if (h.format === 'gif') {
      push('unsupportedFormat', 'warning', 'GIF content: sd-scripts does not list .gif, and Pillow reads only the first frame, in 256 colours. Convert it to PNG.');
    }
    const expected = FORMAT_EXTENSIONS[h.format];
    if (lower && !expected.includes(lower)) {
      const to = path.join(path.dirname(file), stemOf(path.basename(file)) + (expected[0] ?? ''));
      push(
        'extensionMismatch',
        'warning',
        `The content is ${formatName} but the name ends in ${ext}. Pillow reads it anyway, but other tools (and you) will be misled.`,
        expected[0] ? { kind: 'rename', from: file, to } : undefined,
      );
    }

    const w = h.width ?? 0;
    const ht = h.height ?? 0;
    const pixels = w * ht;
    const [rw, rh] = options.resolution ?? AUDIT_DEFAULTS.resolution;
    const maxPixels = options.maxImagePixels ?? AUDIT_DEFAULTS.maxImagePixels;
    if (pixels > 2 * maxPixels) {
      push('hugeImage', 'error', `${w}×${ht} is ${mb(pixels)}: over twice Pillow's limit of ${mb(maxPixels)}, so loading it raises DecompressionBombError and training stops.`);
    } else if (pixels > maxPixels) {
      push('hugeImage', 'warning', `${w}×${ht} is ${mb(pixels)}, over Pillow's decompression-bomb limit of ${mb(maxPixels)}: it warns, and decoding it takes a lot of memory. Downscale it.`);
    }
    const fraction = options.tooSmallFraction ?? AUDIT_DEFAULTS.tooSmallFraction;
    if (pixels > 0 && pixels < fraction * rw * rh) {
      const factor = Math.sqrt((rw * rh) / pixels);
      push('tooSmall', 'warning', `${w}×${ht} is small for ${rw}×${rh} training: it is upscaled about ${factor.toFixed(1)}× and trains blurry.`);
    }
    const bpp = options.lowQualityBytesPerPixel ?? AUDIT_DEFAULTS.lowQualityBytesPerPixel;
    const size = h.fileSize;
    if ((h.format === 'jpeg' || (h.format === 'webp' && !h.hasAlpha)) && pixels > 0 && size !== undefined && size > 0 && size < bpp * pixels) {
      push('lowQuality', 'info', `${kb(size)} for ${w}×${ht} (${(size / pixels).toFixed(2)} bytes per pixel, under ${bpp.toFixed(2)}): likely heavily compressed, with artifacts the model learns.`);
    }
    if (h.hasAlpha) {
      if (options.alphaMask) push('alpha', 'info', 'Has an alpha channel: used as the loss mask (alpha_mask is on).');
      else push('alpha', 'warning', 'Has an alpha channel: sd-scripts converts to RGB and drops it, so transparent areas train as whatever colour they store (often black). Flatten it onto a background, or set alpha_mask.');
    }
    if (h.colorModel === 'cmyk' || h.colorModel === 'ycck') {
      push('cmyk', 'warning', `${h.colorModel.toUpperCase()} JPEG: Pillow's conversion to RGB ignores the colour profile, so colours come out wrong. Convert it to RGB.`);
    }
    if (h.bitDepth !== undefined && h.bitDepth > 8) {
      if (h.format === 'png' && h.colorModel === 'gray') push('highBitDepth', 'warning', `16-bit grayscale PNG: Pillow opens it as 32-bit integers and converting to RGB clips it, so it trains nearly white. Save it as 8-bit.`);
      else push('highBitDepth', 'info', `${h.bitDepth}-bit ${formatName}: Pillow reduces it to 8 bits per channel (the file is larger than it needs to be).`);
    }
    if (h.animated) {
      push('animated', 'warning', `Animated ${formatName}${h.frames && h.frames > 1 ? ` (${h.frames}${h.format === 'gif' ? '+' : ''} frames)` : ''}: only the first frame is trained.`);
    }
    if (h.orientation !== undefined && h.orientation !== 1) {
      push(
        'exifOrientation',
        'warning',
        `EXIF orientation ${h.orientation}: viewers show it upright, but sd-scripts ignores the tag, so it trains ${ORIENTATION_TEXT[h.orientation] ?? 'turned'}. Rotate the pixels.`,
        { kind: 'rotateExif', file, orientation: h.orientation },
      );
    }
    if (img.hasCaption === false && options.reportMissingCaptions !== false) {
      push('imageWithoutCaption', 'info', 'No caption or tag file: sd-scripts trains it with the class tokens only (or an empty caption).');
    }
  } catch (e) {
    push('corrupt', 'error', `The audit could not check this file: ${(e as Error).message}`);
  }
  return out;
}

/** Captions / tag files with no image of the same stem. */
export function strayCaptionProblems(captionFiles: readonly string[]): AuditProblem[] {
  return captionFiles.map((file) => ({
    file,
    code: 'captionWithoutImage' as const,
    severity: 'info' as const,
    message: 'No image with this name: sd-scripts never reads this file.',
    fix: { kind: 'deleteToTrash' as const, files: [file] },
  }));
}

/** Groups of files with equal keys (groups of one dropped), in input order. */
export function groupBy<T>(items: readonly T[], key: (t: T) => string | undefined, file: (t: T) => string): string[][] {
  const m = new Map<string, string[]>();
  for (const it of items) {
    const k = key(it);
    if (k === undefined) continue;
    const g = m.get(k);
    if (g) g.push(file(it));
    else m.set(k, [file(it)]);
  }
  return [...m.values()].filter((g) => g.length > 1);
}

function groupProblems(
  groups: readonly string[][],
  code: 'duplicate' | 'nearDuplicate',
  sidecarsOf: (f: string) => string[],
): AuditProblem[] {
  const out: AuditProblem[] = [];
  for (const g of groups) {
    g.forEach((file, i) => {
      const others = g.filter((o) => o !== file);
      const names = others.map((o) => path.basename(o)).join(', ');
      const p: AuditProblem = {
        file,
        code,
        severity: code === 'duplicate' ? 'warning' : 'info',
        message:
          code === 'duplicate'
            ? `Same content as ${names}: the image trains ${g.length}× as often as the others.`
            : `Looks almost the same as ${names} (perceptual hash): near duplicates over-weight one picture.`,
        related: others,
      };
      // keep the first of a group; offer to trash the others
      if (i > 0) p.fix = { kind: 'deleteToTrash', files: [file, ...sidecarsOf(file)] };
      out.push(p);
    });
  }
  return out;
}

/** Exact duplicates from content hashes, one problem per file with the rest of its group. */
export function duplicateProblems(images: readonly AuditImage[]): AuditProblem[] {
  const side = new Map(images.map((i) => [i.file, i.sidecars ?? []]));
  return groupProblems(groupBy(images, (i) => i.contentHash, (i) => i.file), 'duplicate', (f) => side.get(f) ?? []);
}

/** Near duplicates from perceptual hashes; groups made only of exact duplicates are left out. */
export function nearDuplicateProblems(images: readonly AuditImage[], maxDistance = AUDIT_DEFAULTS.nearDuplicateDistance): AuditProblem[] {
  const byFile = new Map(images.map((i) => [i.file, i]));
  const groups = groupNearDuplicates(
    images.filter((i) => i.perceptualHash).map((i) => ({ file: i.file, hash: i.perceptualHash as string })),
    maxDistance,
  ).filter((g) => new Set(g.map((f) => byFile.get(f)?.contentHash ?? f)).size > 1);
  return groupProblems(groups, 'nearDuplicate', (f) => byFile.get(f)?.sidecars ?? []);
}

/** sha-256 of a file's content; undefined when it cannot be read. */
export function hashFileContent(file: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    try {
      const h = createHash('sha256');
      const s = createReadStream(file);
      s.on('data', (d) => h.update(d));
      s.on('error', () => resolve(undefined));
      s.on('end', () => resolve(h.digest('hex')));
    } catch {
      resolve(undefined);
    }
  });
}

/**
 * Fills `contentHash` for the images whose byte size equals another image's (only those can be
 * exact duplicates), reading at most `concurrency` files at once. Returns how many were hashed.
 */
export async function hashSizeCollisions(images: AuditImage[], concurrency = 8): Promise<number> {
  const bySize = new Map<number, AuditImage[]>();
  for (const i of images) {
    const s = i.header.fileSize;
    if (!s) continue;
    const g = bySize.get(s);
    if (g) g.push(i);
    else bySize.set(s, [i]);
  }
  // a group may mix hashed files with new ones (after a change): hash only the new ones
  const todo = [...bySize.values()].filter((g) => g.length > 1).flat().filter((i) => !i.contentHash);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < todo.length) {
      const img = todo[next++] as AuditImage;
      const h = await hashFileContent(img.file);
      if (h) img.contentHash = h;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, todo.length) }, worker));
  return todo.length;
}

export interface AuditInput {
  images: AuditImage[];
  /** caption/tag files with no image next to them */
  strayCaptions?: string[];
}

const SEVERITY_ORDER: Record<AuditSeverity, number> = { error: 0, warning: 1, info: 2 };

/**
 * The whole audit: per-image rules, stray captions, exact duplicates (hashing only same-size
 * files) and near duplicates (when perceptual hashes are filled in). Sorted by file, then
 * severity. Never throws.
 */
export async function auditDataset(input: AuditInput, options: AuditOptions = {}): Promise<AuditProblem[]> {
  const out: AuditProblem[] = [];
  for (const img of input.images) out.push(...auditImage(img, options));
  out.push(...strayCaptionProblems(input.strayCaptions ?? []));
  try {
    const hashable = input.images.filter((i) => (i.header.fileSize ?? 0) > 0);
    await hashSizeCollisions(hashable);
    out.push(...duplicateProblems(hashable));
    out.push(...nearDuplicateProblems(hashable, options.nearDuplicateDistance ?? AUDIT_DEFAULTS.nearDuplicateDistance));
  } catch (e) {
    out.push({ file: input.images[0]?.file ?? '', code: 'unreadable', severity: 'error', message: `duplicate search failed: ${(e as Error).message}` });
  }
  return sortProblems(out);
}

export function sortProblems(problems: AuditProblem[]): AuditProblem[] {
  return problems.sort(
    (a, b) => compareNames(a.file, b.file) || SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0),
  );
}
