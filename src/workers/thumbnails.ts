/**
 * Worker: makes gallery thumbnails with sharp, in its own long-lived process (never in the
 * extension host). Each request names an image and the cache file to write; the WebP is written
 * under a temporary name and renamed, so a cache file is never half written. A corrupt image
 * gets an answer with the decoder's message instead of a thumbnail.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ThumbnailReply, ThumbnailRequest } from '../core/gallery/thumbnails';

type Sharp = typeof import('sharp').default;

function loadSharp(): Sharp {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('sharp') as Sharp;
}

/** Writes one thumbnail; resolves with the error message when the image cannot be decoded. */
export async function makeThumbnail(sharp: Sharp, req: Pick<ThumbnailRequest, 'file' | 'out' | 'size'>): Promise<string | undefined> {
  const tmp = `${req.out}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    const st = await fs.promises.stat(req.file);
    if (st.size === 0) return 'the file is empty (0 bytes)';
    await fs.promises.mkdir(path.dirname(req.out), { recursive: true });
    await sharp(req.file, { failOn: 'truncated', limitInputPixels: 268_402_689 })
      .rotate() // show it upright, as a viewer would (EXIF orientation)
      .resize(req.size, req.size, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 78, effort: 2 })
      .toFile(tmp);
    await fs.promises.rename(tmp, req.out);
    return undefined;
  } catch (e) {
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    // sharp's message is "Input file has corrupt header: <decoder>: <detail>" over several lines
    const msg = ((e as Error).message ?? String(e))
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .join(' ')
      .replace(/^Input file /, 'the file ')
      .replace(/:\s*$/, '');
    return explainDecodeError(msg);
  }
}

/** sharp's terse messages in words a user can act on (the original kept in brackets). */
export function explainDecodeError(msg: string): string {
  const short = msg.length > 160 ? `${msg.slice(0, 159)}…` : msg;
  if (/corrupt header/i.test(msg)) return `the header is damaged: the file is cut short or is not the format its name says (${short})`;
  if (/unsupported image format/i.test(msg)) return `not an image format that can be read (${short})`;
  if (/premature end|truncated|unexpected end|read error/i.test(msg)) return `the image data is cut short (${short})`;
  return short;
}

function send(m: ThumbnailReply): void {
  process.send?.(m);
}

if (require.main === module && /^thumbnails(\.[cm]?js)?$/.test(path.basename(process.argv[1] ?? '')) && process.send) {
  const sharp = loadSharp();
  // two cores shared with everything else: one libvips thread per image, a few images at once
  sharp.concurrency(1);
  sharp.cache(false);
  send({ type: 'ready', sharp: sharp.versions.sharp ?? 'unknown' });
  process.on('message', (m: unknown) => {
    const req = m as Partial<ThumbnailRequest> | null;
    if (!req || req.type !== 'thumbnail' || typeof req.file !== 'string' || typeof req.out !== 'string' || typeof req.key !== 'string') return;
    const key = req.key;
    makeThumbnail(sharp, { file: req.file, out: req.out, size: typeof req.size === 'number' ? req.size : 256 }).then(
      (error) => send(error === undefined ? { type: 'thumbnail', key, ok: true } : { type: 'thumbnail', key, ok: false, error }),
      (e: unknown) => send({ type: 'thumbnail', key, ok: false, error: String(e) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}
