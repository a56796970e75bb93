/**
 * Worker: decodes images with sharp, in its own process (never in the extension host), and
 * returns per image sharp's metadata, whether the full decode succeeds, and a 9×8 grayscale
 * thumbnail with its dHash for near-duplicate search.
 *
 * Requests: an IPC message `ImageProbeRequest` (when forked), or file paths as arguments
 * (`node dist/workers/imageProbe.js a.png b.jpg`, JSON on stdout). One reply, then exit.
 */
import * as path from 'node:path';
import type { ImageProbeItem, ImageProbeReply, ImageProbeRequest, ImageProbeWorkerReply } from '../core/dataset/imageProbeProtocol';
import { dHash, DHASH_HEIGHT, DHASH_WIDTH } from '../core/dataset/perceptualHash';

type Sharp = typeof import('sharp').default;

export interface ProbeOptions {
  /** sharp itself (tests pass the one from the repository's node_modules) */
  sharp?: Sharp;
  concurrency?: number;
  fullDecode?: boolean;
}

function loadSharp(): Sharp {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('sharp') as Sharp;
}

async function probeOne(sharp: Sharp, file: string, fullDecode: boolean): Promise<ImageProbeItem> {
  const item: ImageProbeItem = { file, ok: false };
  try {
    // limitInputPixels: false so huge images are measured, not refused (the audit reports them)
    const meta = await sharp(file, { limitInputPixels: false }).metadata();
    item.format = meta.format;
    if (meta.width !== undefined) item.width = meta.width;
    if (meta.height !== undefined) item.height = meta.height;
    if (meta.channels !== undefined) item.channels = meta.channels;
    item.hasAlpha = meta.hasAlpha;
    if (meta.depth !== undefined) item.depth = meta.depth;
    if (meta.space !== undefined) item.space = meta.space;
    if (meta.pages !== undefined) item.pages = meta.pages;
    if (meta.orientation !== undefined) item.orientation = meta.orientation;
    if (fullDecode) {
      // failOn 'truncated' makes a cut-short file an error instead of grey padding
      await sharp(file, { failOn: 'truncated', limitInputPixels: false }).raw().toBuffer();
    }
    const { data } = await sharp(file, { limitInputPixels: false })
      .greyscale()
      .resize(DHASH_WIDTH, DHASH_HEIGHT, { fit: 'fill', kernel: 'cubic' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const gray = Array.from(data.subarray(0, DHASH_WIDTH * DHASH_HEIGHT));
    item.gray = gray;
    const h = dHash(gray);
    if (h) item.dhash = h;
    const mean = gray.reduce((a, b) => a + b, 0) / gray.length;
    item.mean = mean;
    item.stdev = Math.sqrt(gray.reduce((a, b) => a + (b - mean) ** 2, 0) / gray.length);
    item.ok = true;
  } catch (e) {
    item.ok = false;
    item.error = (e as Error).message.split('\n')[0] ?? String(e);
  }
  return item;
}

/** Probes files with bounded concurrency; a file that fails is an item with ok: false. */
export async function probeImages(files: readonly string[], options: ProbeOptions = {}): Promise<ImageProbeReply> {
  const sharp = options.sharp ?? loadSharp();
  const items = new Array<ImageProbeItem>(files.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const i = next++;
      items[i] = await probeOne(sharp, files[i] as string, options.fullDecode ?? true);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 4, files.length) }, worker));
  return { type: 'imageProbe', sharp: sharp.versions.sharp ?? 'unknown', items };
}

function reply(msg: ImageProbeWorkerReply): void {
  if (process.send) process.send(msg, () => process.exit(0));
  else {
    process.stdout.write(JSON.stringify(msg) + '\n');
    process.exit(0);
  }
}

function run(req: Omit<ImageProbeRequest, 'type'>): void {
  probeImages(req.files, {
    ...(req.concurrency !== undefined ? { concurrency: req.concurrency } : {}),
    ...(req.fullDecode !== undefined ? { fullDecode: req.fullDecode } : {}),
  }).then(reply, (e: unknown) => reply({ type: 'error', message: String(e) }));
}

// only when run as the worker script (not when bundled into a test or another module)
if (require.main === module && /^imageProbe(\.[cm]?js)?$/.test(path.basename(process.argv[1] ?? ''))) {
  const args = process.argv.slice(2);
  if (args.length > 0 || !process.send) run({ files: args });
  else {
    process.once('message', (m: unknown) => {
      const req = m as Partial<ImageProbeRequest> | null;
      if (req && req.type === 'imageProbeRequest' && Array.isArray(req.files)) run(req as ImageProbeRequest);
      else reply({ type: 'error', message: 'expected an imageProbeRequest message' });
    });
  }
}
