/**
 * Thumbnail cache keys and a priority queue of thumbnails to make. A thumbnail is stored under
 * a key derived from the image's path, byte size, modification time and the thumbnail size, so
 * an edited image gets a new thumbnail and an unchanged one is never decoded again. Pure Node.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';

/** Bump when the way thumbnails are made changes, so old files are not reused. */
export const THUMBNAIL_FORMAT_VERSION = 1;
export const THUMBNAIL_SIZE = 256;

export interface ThumbnailSource {
  path: string;
  size: number;
  mtimeMs: number;
}

export function thumbnailKey(src: ThumbnailSource, thumbSize = THUMBNAIL_SIZE): string {
  return createHash('sha1')
    .update(`v${THUMBNAIL_FORMAT_VERSION}\0${path.resolve(src.path)}\0${src.size}\0${Math.floor(src.mtimeMs)}\0${thumbSize}`)
    .digest('hex');
}

/** `<cache>/<first two hex digits>/<key>.webp`: no folder holds more than 1/256 of the files. */
export function thumbnailPath(cacheDir: string, key: string): string {
  return path.join(cacheDir, key.slice(0, 2), `${key}.webp`);
}

/**
 * Wanted thumbnails in priority order. `want(list)` replaces the wish list (what is visible now,
 * most important first): anything not in it is cancelled unless already running; `next()` hands
 * out the most important pending job.
 */
export class ThumbnailQueue<T extends { key: string }> {
  private pending: T[] = [];
  private readonly running = new Set<string>();

  want(list: readonly T[]): void {
    const seen = new Set<string>();
    this.pending = [];
    for (const j of list) {
      if (seen.has(j.key) || this.running.has(j.key)) continue;
      seen.add(j.key);
      this.pending.push(j);
    }
  }

  next(): T | undefined {
    const j = this.pending.shift();
    if (j) this.running.add(j.key);
    return j;
  }

  done(key: string): void {
    this.running.delete(key);
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  get runningCount(): number {
    return this.running.size;
  }

  isRunning(key: string): boolean {
    return this.running.has(key);
  }
}

// ---- worker messages (src/workers/thumbnails.ts) ----------------------------------------------
export interface ThumbnailRequest {
  type: 'thumbnail';
  key: string;
  file: string;
  /** where the WebP goes (written to a temporary name, then renamed) */
  out: string;
  size: number;
}

export type ThumbnailReply =
  | { type: 'thumbnail'; key: string; ok: true }
  | { type: 'thumbnail'; key: string; ok: false; error: string }
  | { type: 'ready'; sharp: string };
