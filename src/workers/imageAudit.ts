/**
 * Worker of the image audit, in its own process (sharp never loads in the extension host):
 * - `auditRequest`: lists folders with the dataset index (headers read to the end, stray
 *   captions, unreadable names and links), reads the headers of single changed files, and decodes
 *   each readable image with sharp into a 9×8 grayscale thumbnail for its dHash (a decode error is
 *   reported too). Progress messages come while it works; one result at the end.
 * - `transformRequest`: writes a fixed copy of one image (pixels rotated upright, or 8-bit RGB)
 *   to a file the host names; the host puts it in place through the journal.
 * One request per process, then exit.
 */
import * as path from 'node:path';
import { DatasetIndex } from '../core/dataset/index';
import { readImageHeader } from '../core/dataset/imageHeader';
import type { AuditImage } from '../core/dataset/audit';
import type { AuditedFolder } from '../core/dataset/auditSession';
import { dHash, DHASH_HEIGHT, DHASH_WIDTH } from '../core/dataset/perceptualHash';
import type {
  AuditWorkerMessage,
  AuditWorkerProgress,
  AuditWorkerRequest,
  AuditWorkerResult,
  TransformRequest,
  TransformResult,
} from '../core/dataset/imageAuditProtocol';

type Sharp = typeof import('sharp').default;

function loadSharp(): Sharp {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('sharp') as Sharp;
}

/** Formats sharp decodes and sd-scripts loads (no BMP in libvips). */
const DECODABLE = new Set(['png', 'jpeg', 'webp']);

export interface AuditRunOptions {
  sharp?: Sharp | null;
  onProgress?: (p: AuditWorkerProgress) => void;
}

async function perceptualHash(sharp: Sharp, img: AuditImage): Promise<void> {
  try {
    const { data } = await sharp(img.file, { limitInputPixels: false, failOn: 'truncated' })
      .greyscale()
      .resize(DHASH_WIDTH, DHASH_HEIGHT, { fit: 'fill', kernel: 'cubic' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const h = dHash(Array.from(data.subarray(0, DHASH_WIDTH * DHASH_HEIGHT)));
    if (h) img.perceptualHash = h;
  } catch (e) {
    img.decodeError = ((e as Error).message.split('\n')[0] ?? String(e)).trim();
  }
}

/** The audit request's work, exported for tests (which pass sharp from the repository). */
export async function runAudit(req: Omit<AuditWorkerRequest, 'type'>, options: AuditRunOptions = {}): Promise<AuditWorkerResult> {
  const progress = options.onProgress ?? (() => undefined);
  let last = 0;
  const tick = (phase: AuditWorkerProgress['phase'], done: number, total: number, force = false): void => {
    const now = Date.now();
    if (force || now - last > 250) {
      last = now;
      progress({ type: 'progress', phase, done, total });
    }
  };
  const folders: AuditedFolder[] = [];
  const all: AuditImage[] = [];
  let done = 0;
  const estimate = req.files.length;
  for (const folder of req.folders) {
    const index = await DatasetIndex.build(folder, { depth: 0, checkEnds: true, sidecarExtensions: req.sidecarExtensions });
    const info = index.folder(folder);
    const images: AuditImage[] = [];
    for (const n of info?.images ?? []) {
      const img = index.image(path.join(index.root, n));
      if (!img) continue;
      const sidecars = Object.values(img.sidecars).map((s) => path.join(img.folder, s));
      images.push({ file: img.path, header: img.header, sidecars, hasCaption: sidecars.length > 0 });
    }
    folders.push({
      folder: index.root,
      images,
      strays: (info?.orphanSidecars ?? []).map((o) => path.join(index.root, o)),
      issues: index.issues.map((i) => ({ path: i.path, folder: index.root, code: i.code, reason: i.reason })),
    });
    all.push(...images);
    done += images.length;
    tick('reading', done, done + estimate);
  }
  const files: AuditImage[] = [];
  for (const file of req.files) {
    const header = await readImageHeader(file, { checkEnd: true });
    files.push({ file: path.resolve(file), header });
    tick('reading', ++done, done + estimate);
  }
  all.push(...files);

  let sharpVersion = 'not used';
  if (req.perceptual) {
    let sharp: Sharp | null = null;
    try {
      sharp = options.sharp === undefined ? loadSharp() : options.sharp;
      sharpVersion = sharp?.versions.sharp ?? 'unknown';
    } catch (e) {
      sharpVersion = `not loaded: ${(e as Error).message.split('\n')[0]}`;
    }
    if (sharp) {
      const s = sharp;
      const todo = all.filter((i) => i.header.problems.length === 0 && DECODABLE.has(i.header.format));
      let next = 0;
      let decoded = 0;
      const worker = async (): Promise<void> => {
        while (next < todo.length) {
          await perceptualHash(s, todo[next++] as AuditImage);
          tick('decoding', ++decoded, todo.length);
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, Math.min(req.concurrency ?? 2, todo.length)) }, worker));
      tick('decoding', decoded, todo.length, true);
    }
  }
  return { type: 'auditResult', folders, files, sharp: sharpVersion };
}

/** Writes the fixed image to `req.out`. Exported for tests. */
export async function runTransform(req: Omit<TransformRequest, 'type'>, sharpIn?: Sharp): Promise<TransformResult> {
  const sharp = sharpIn ?? loadSharp();
  const meta = await sharp(req.file, { limitInputPixels: false }).metadata();
  let img = sharp(req.file, { limitInputPixels: false, failOn: 'truncated' });
  const format = meta.format === 'jpeg' || meta.format === 'webp' ? meta.format : 'png';
  if (req.op === 'rotateExif') {
    // autoOrient (rotate() without an angle): applies the EXIF orientation to the pixels and drops it
    img = img.rotate();
    if (meta.icc) img = img.keepIccProfile();
  } else {
    if (meta.hasAlpha) img = img.flatten({ background: '#ffffff' });
    img = img.toColourspace('srgb');
  }
  const out =
    format === 'jpeg'
      ? img.jpeg({ quality: 95, chromaSubsampling: '4:4:4' })
      : format === 'webp'
        ? img.webp(req.op === 'rotateExif' ? { quality: 95 } : { lossless: true })
        : img.png();
  const info = await out.toFile(req.out);
  return { type: 'transformResult', out: req.out, format: info.format, width: info.width, height: info.height };
}

function reply(msg: AuditWorkerMessage): void {
  if (process.send) process.send(msg, () => process.exit(0));
  else {
    process.stdout.write(JSON.stringify(msg) + '\n');
    process.exit(0);
  }
}

// only when run as the worker script (not when bundled into a test or another module)
if (require.main === module && /^imageAudit(\.[cm]?js)?$/.test(path.basename(process.argv[1] ?? ''))) {
  process.once('message', (m: unknown) => {
    const req = m as { type?: string } | null;
    const fail = (e: unknown): void => reply({ type: 'error', message: (e as Error)?.message ?? String(e) });
    if (req?.type === 'auditRequest') {
      runAudit(req as AuditWorkerRequest, { onProgress: (p) => process.send?.(p) }).then(reply, fail);
    } else if (req?.type === 'transformRequest') {
      runTransform(req as TransformRequest).then(reply, fail);
    } else reply({ type: 'error', message: 'expected an auditRequest or transformRequest message' });
  });
}
