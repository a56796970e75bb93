/**
 * The dataset index: one source of truth for the Datasets tree, the gallery, diagnostics and
 * `lwb`. For a folder tree it holds every image sd-scripts would load (path, byte size,
 * dimensions and header facts from `imageHeader.ts`), its sidecars (paired by
 * `pairFolderEntries`, exactly as the scanner pairs them), the image-like files sd-scripts skips,
 * and what could not be read, with a reason.
 *
 * - `DatasetIndex.build(root)` indexes cold, reading headers with bounded concurrency.
 * - `index.update(changes)` applies file-watcher events with minimal work (one stem group of one
 *   folder per changed file; a new folder is indexed on its own) and returns what changed.
 * - `index.query(...)` pages, filters (name, problem code, tag) and sorts.
 *
 * Bad input never throws: unreadable folders, symlink loops, names that are not valid UTF-8,
 * 0-byte or non-image files with image extensions are recorded with a reason.
 *
 * Pure Node (no `vscode`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { headerFromFirstRead, readImageHeader, readImageHeaderSync, unreadableHeader, type FileHeader, type ImageFormat, type ImageHeader } from './imageHeader';
import { startThreadedReads, type ThreadedReads } from './headerThreads';
import { extensionOf, normaliseSidecarExtension, stemOf } from './images';
import {
  compareNames,
  compareNamesFast,
  DEFAULT_EXCLUDE,
  DEFAULT_SIDECAR_EXTENSIONS,
  pairFolderEntries,
  pairFolderNames,
  parseConceptFolderName,
  type ConceptName,
  type FolderScan,
  type IgnoredFile,
  type ImageEntry,
  type ScanResult,
} from './scan';
import { auditImage, type AuditOptions, type AuditProblem } from './audit';
import { decodeCaption, readCaptionFile, tagsForFrequency } from '../captions/readCaption';

export interface IndexOptions {
  /** Folder levels below the root to visit (0 = the root only). Default 1. */
  depth?: number;
  exclude?: readonly string[];
  sidecarExtensions?: readonly string[];
  /**
   * How headers are read: 'threads' (the default for a cold build of at least
   * `THREADED_MIN_FILES` images) makes the open/read/close calls on a few worker threads while
   * this thread parses what they sent; 'sliced' makes synchronous reads in slices of a few
   * milliseconds, yielding to the event loop between slices (the default for fewer images and
   * for updates); 'async' uses libuv's thread pool with `concurrency` reads at once (for slow
   * network drives).
   */
  io?: 'threads' | 'sliced' | 'async';
  /**
   * Read the end of each PNG/JPEG to catch files cut short (one more read per large file).
   * Default false for the index (the audit and the image worker check it); true for `lwb scan --audit`.
   */
  checkEnds?: boolean;
  /** header reads at once in 'async' mode (default 32) */
  concurrency?: number;
  /** Read tags from this caption extension's files (first line, comma separated) for tag filters. */
  tagExtension?: string;
  /** Options of the per-image audit rules used by `problems()` and problem filters. */
  audit?: AuditOptions;
  signal?: AbortSignal;
  /**
   * Called once the folders are listed and images paired, before any header is read: names,
   * sidecars and counts are final, sizes and dimensions not yet (the tree can paint now).
   */
  onListed?: (index: DatasetIndex) => void;
  /**
   * Called while folders are still being listed, at most every `progressMs` (default 250 ms):
   * the folders listed so far are final (names, sidecars), the others not there yet. Lets the
   * tree paint its first page before a big tree is fully listed.
   */
  onProgress?: (index: DatasetIndex) => void;
  progressMs?: number;
}

export interface IndexedImage {
  /** absolute path */
  path: string;
  /** absolute path of its folder */
  folder: string;
  name: string;
  size: number;
  mtimeMs: number;
  format: ImageFormat;
  width?: number;
  height?: number;
  header: ImageHeader;
  /** sidecar extension → file name */
  sidecars: Record<string, string>;
  hasLatentCache: boolean;
  /** tags from the tag file, lower-cased, when `tagExtension` is set */
  tags?: string[];
}

/** Image-extension-like files sd-scripts does not load. */
export interface SkippedFile {
  name: string;
  reason: string;
  kind: IgnoredFile['kind'] | 'notLoaded';
}

export interface IndexedFolder {
  path: string;
  /** relative to the root, `/` separators, '' for the root */
  relPath: string;
  concept: ConceptName;
  /** set when sd-scripts will not read this folder's images although the name may look right */
  skipReason?: string;
  /** image names, natural order */
  images: string[];
  skipped: SkippedFile[];
  orphanSidecars: string[];
}

/**
 * A folder the tree shows: it holds images or image-like files sd-scripts skips, or it is named
 * like a concept folder (`5_name`, also `0_name`) and has no images yet (just created, or its last
 * image was deleted), so the user sees it and why sd-scripts will leave it out.
 */
export function isShownFolder(f: Pick<IndexedFolder, 'images' | 'skipped' | 'path'>): boolean {
  return f.images.length > 0 || f.skipped.length > 0 || /^\s*[+-]?\d+\s*_/.test(path.basename(f.path));
}

export interface IndexIssue {
  path: string;
  code: 'unreadableFolder' | 'symlinkLoop' | 'invalidName' | 'unreadableFile';
  reason: string;
}

export type ChangeKind = 'created' | 'changed' | 'deleted';
export interface FileChange {
  path: string;
  /** optional: the index checks the disk anyway */
  kind?: ChangeKind;
}

export interface IndexDelta {
  /** images added / whose header or sidecars changed / removed (absolute paths) */
  added: string[];
  changed: string[];
  removed: string[];
  /** folders whose listing changed (images, sidecars, skipped files), including new ones */
  folders: string[];
  /** folders no longer in the index */
  removedFolders: string[];
}

export type SortKey = 'name' | 'size' | 'pixels' | 'width' | 'height' | 'tags';
export interface ImageQuery {
  /** only this folder (absolute) */
  folder?: string;
  /** case-insensitive substring of the file name */
  name?: string;
  /** images with this audit problem code (or any problem: '*') */
  problem?: string;
  /** images carrying all these tags (needs `tagExtension`) */
  tags?: string[];
  /** images with no caption sidecar */
  withoutCaption?: boolean;
  /** any further condition (e.g. "has a diagnostic" from the editor); applied after the others */
  predicate?: (image: IndexedImage) => boolean;
  sort?: SortKey;
  descending?: boolean;
  offset?: number;
  limit?: number;
}
export interface ImagePage {
  total: number;
  items: IndexedImage[];
}

/**
 * A cold build of at least this many images reads headers on worker threads (see `IndexOptions.io`);
 * below it, starting the threads costs more than they save (measured with `bench/index.ts`).
 */
export const THREADED_MIN_FILES = 20_000;
/** Bytes of each image the threads read first (as `readImageHeaderSync`: a shorter file is read whole). */
const FIRST_READ_BYTES = 4096;

const INVALID_NAME_REASON = 'the name is not valid UTF-8: it cannot be opened by name here, and sd-scripts cannot read its caption reliably; rename it';
const BROKEN_LINK_REASON = 'a broken or looping symbolic link';

/** Extensions of files people take for training images that sd-scripts never loads. */
const NOT_LOADED_IMAGE_EXTENSIONS = new Set(['.gif', '.tif', '.tiff', '.heic', '.heif', '.jfif', '.jpe', '.svg', '.psd', '.ico']);
/** `NOT_LOADED_IMAGE_EXTENSIONS` in any case, remembered per extension (asked once per file that is not an image) */
const notLoadedByExt = new Map<string, boolean>();
function isNotLoaded(ext: string): boolean {
  let v = notLoadedByExt.get(ext);
  if (v === undefined) {
    v = NOT_LOADED_IMAGE_EXTENSIONS.has(ext.toLowerCase());
    if (notLoadedByExt.size < 1000) notLoadedByExt.set(ext, v);
  }
  return v;
}

/** A build's header reads (see `DatasetIndex.startReads`). */
interface HeaderReads {
  signal?: AbortSignal;
  /** images queued and not handed to threads (read on this thread when the listing is done) */
  waiting: Array<readonly IndexedImage[]>;
  /** images in `waiting` */
  waitingCount: number;
  /** every image queued, when the caller needs the list (an update's new folder) */
  all?: IndexedImage[];
  threads?: { reads: ThreadedReads; list: IndexedImage[] };
  /** hand reads out while the listing goes on (else once it is done) */
  overlap: boolean;
  /** the handing out of `waiting` to the threads, scheduled */
  flush?: NodeJS.Immediate;
}

interface FolderState {
  info: IndexedFolder;
  /** the folder's file names as listed; the lookup tables below are built on the first update */
  files: string[] | undefined;
  names?: Set<string>;
  byStem?: Map<string, Set<string>>;
  /**
   * The folder's image records in the order of `info.images`, as the cold build made them (a
   * folder's scan reuses them without a lookup per image); dropped on the folder's first update.
   */
  entries?: IndexedImage[];
  /** the folder's image records by name, made from `entries` when first asked for (see `recordsOf`) */
  byName?: Map<string, IndexedImage>;
}

/**
 * A folder's image records by name. The index keeps no map of every path: a cold build of
 * 100,000 images spent about a tenth of its main-thread time putting them into one (the joined
 * paths had to be flattened and hashed), for lookups that come later, one folder at a time.
 */
function recordsOf(state: FolderState): Map<string, IndexedImage> {
  if (!state.byName) {
    const m = new Map<string, IndexedImage>();
    for (const img of state.entries ?? []) m.set(img.name, img);
    state.byName = m;
  }
  return state.byName;
}

/** A folder's image records in the order of its `images`. */
function orderedRecords(state: FolderState): IndexedImage[] {
  const names = state.info.images;
  if (state.entries && state.entries.length === names.length) return state.entries;
  const byName = recordsOf(state);
  const out: IndexedImage[] = [];
  for (const n of names) {
    const img = byName.get(n);
    if (img) out.push(img);
  }
  return out;
}

/** Builds a folder's name tables when an update first needs them (the cold build skips this). */
function tables(state: FolderState): { names: Set<string>; byStem: Map<string, Set<string>> } {
  if (!state.names || !state.byStem) {
    const files = state.files ?? [];
    state.names = new Set(files);
    state.byStem = new Map();
    for (const n of files) {
      const st = stemOf(n);
      const g = state.byStem.get(st);
      if (g) g.add(n);
      else state.byStem.set(st, new Set([n]));
    }
    state.files = undefined;
  }
  recordsOf(state);
  state.entries = undefined;
  return { names: state.names, byStem: state.byStem };
}

/** Placeholder until the header is read (never mutated). */
const UNREAD: ImageHeader = Object.freeze({ format: 'unknown', problems: Object.freeze([]) as unknown as ImageHeader['problems'] }) as ImageHeader;

function toPosix(rel: string): string {
  return rel.split(path.sep).join('/');
}

function statP(p: string): Promise<fs.Stats | undefined> {
  return new Promise((resolve) => fs.stat(p, (err, st) => resolve(err ? undefined : st)));
}

const KIND_FILE = 0;
const KIND_DIR = 1;
const KIND_LINK = 2;
const KIND_OTHER = 3;
/** A folder's entries in listing order: names and what each is (KIND_*; links not followed yet). */
interface Listing {
  names: string[];
  kinds: number[];
}

/**
 * Lists a folder. The listing is read a buffer at a time, in slices of a few milliseconds with the
 * event loop served between them (a huge or slow folder does not block it), and each directory
 * entry object is dropped at once: `readdir` with file types makes one object per name that
 * lives until the whole folder is listed, which for 200,000 names costs more in garbage
 * collection than the listing itself.
 */
async function listFolder(dir: string): Promise<Listing> {
  const handle = await new Promise<fs.Dir>((resolve, reject) => fs.opendir(dir, { bufferSize: 1024 }, (err, d) => (err ? reject(err) : resolve(d))));
  const names: string[] = [];
  const kinds: number[] = [];
  try {
    for (;;) {
      const t0 = performance.now();
      for (let k = 0; ; k++) {
        const d = handle.readSync();
        if (d === null) return { names, kinds };
        names.push(d.name);
        kinds.push(d.isFile() ? KIND_FILE : d.isDirectory() ? KIND_DIR : d.isSymbolicLink() ? KIND_LINK : KIND_OTHER);
        if ((k & 255) === 255 && performance.now() - t0 >= LIST_SLICE_MS) break;
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    try {
      handle.closeSync();
    } catch {
      // already closed
    }
  }
}
const LIST_SLICE_MS = 8;

function skippedFor(name: string, kind: IgnoredFile['kind']): SkippedFile {
  return {
    name,
    kind,
    reason:
      kind === 'mixedCase'
        ? `sd-scripts matches extensions in lower or upper case only, so ${extensionOf(name)} is skipped`
        : 'loaded only when a Pillow plugin for it is installed (pillow-avif-plugin, pillow-jxl)',
  };
}

export class DatasetIndex {
  readonly root: string;
  readonly sidecarExtensions: string[];
  readonly issues: IndexIssue[] = [];
  private readonly depth: number;
  private readonly exclude: Set<string>;
  private readonly concurrency: number;
  private readonly io: 'threads' | 'sliced' | 'async' | undefined;
  private readonly headerOptions: { checkEnd: boolean };
  private readonly tagExtension: string | undefined;
  private readonly auditOptions: AuditOptions;
  private readonly foldersByPath = new Map<string, FolderState>();
  private readonly problemCache = new Map<string, AuditProblem[]>();
  private progress: { fn: (index: DatasetIndex) => void; every: number; last: number; painted: boolean } | undefined;

  private constructor(root: string, options: IndexOptions) {
    this.root = path.resolve(root);
    this.depth = options.depth ?? 1;
    this.exclude = new Set(options.exclude ?? DEFAULT_EXCLUDE);
    this.sidecarExtensions = (options.sidecarExtensions ?? DEFAULT_SIDECAR_EXTENSIONS).map(normaliseSidecarExtension);
    this.concurrency = Math.max(1, options.concurrency ?? 32);
    this.io = options.io;
    this.headerOptions = { checkEnd: options.checkEnds ?? false };
    this.tagExtension = options.tagExtension ? normaliseSidecarExtension(options.tagExtension) : undefined;
    this.auditOptions = options.audit ?? {};
  }

  /**
   * Indexes `root` cold. Never throws for bad content; a root that is missing or not a folder
   * gives an empty index with an issue.
   */
  static async build(root: string, options: IndexOptions = {}): Promise<DatasetIndex> {
    const index = new DatasetIndex(root, options);
    const st = await statP(index.root);
    if (!st || !st.isDirectory()) {
      index.issues.push({ path: index.root, code: 'unreadableFolder', reason: st ? 'not a folder' : 'does not exist or cannot be read' });
      return index;
    }
    index.progress = options.onProgress ? { fn: options.onProgress, every: options.progressMs ?? 250, last: performance.now(), painted: false } : undefined;
    // headers are read while the next folders are listed (on threads for a big tree), unless
    // someone waits for the listing: the tree and the gallery paint when it is done, and parsing
    // the threads' replies between the listing's slices made "all listed" come 0.3–0.5 s later
    // for 100,000 images (the whole index no sooner when tag files are read too)
    const reads = index.startReads(options.signal, false, !options.onListed && !options.onProgress);
    await index.walk(index.root, 0, new Set(), reads, options.signal);
    index.progress = undefined;
    try {
      options.onListed?.(index);
    } catch {
      // a listener's error must not stop the index
    }
    await index.finishReads(reads);
    return index;
  }

  // ---- building ------------------------------------------------------------------------------

  private async walk(dir: string, level: number, ancestors: Set<string>, reads: HeaderReads, signal?: AbortSignal): Promise<void> {
    const queue: Array<{ dir: string; level: number; ancestors: Set<string> }> = [{ dir, level, ancestors }];
    const visitOne = async (item: { dir: string; level: number; ancestors: Set<string> }): Promise<void> => {
      const st = await statP(item.dir);
      if (!st) {
        this.issues.push({ path: item.dir, code: 'unreadableFolder', reason: 'cannot be read' });
        return;
      }
      const id = `${st.dev}:${st.ino}`;
      if (item.ancestors.has(id)) {
        this.issues.push({ path: item.dir, code: 'symlinkLoop', reason: 'a symbolic link leads back to a folder above it; not followed' });
        return;
      }
      const anc = new Set(item.ancestors).add(id);
      let listing: Listing;
      try {
        listing = await listFolder(item.dir);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        this.issues.push({
          path: item.dir,
          code: 'unreadableFolder',
          reason: code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (e as Error).message,
        });
        return;
      }
      const files: string[] = [];
      const { names, kinds } = listing;
      for (let i = 0; i < names.length; i++) {
        const name = names[i] as string;
        if (name.includes('\ufffd')) {
          this.issues.push({ path: path.join(item.dir, name), code: 'invalidName', reason: INVALID_NAME_REASON });
          continue;
        }
        let kind = kinds[i] as number;
        if (kind === KIND_LINK) {
          const t = await statP(path.join(item.dir, name));
          if (!t) {
            this.issues.push({ path: path.join(item.dir, name), code: 'unreadableFile', reason: BROKEN_LINK_REASON });
            continue;
          }
          kind = t.isFile() ? KIND_FILE : t.isDirectory() ? KIND_DIR : KIND_OTHER;
        }
        if (kind === KIND_FILE) files.push(name);
        else if (kind === KIND_DIR && item.level < this.depth && !this.exclude.has(name) && !name.startsWith('.')) {
          queue.push({ dir: path.join(item.dir, name), level: item.level + 1, ancestors: anc });
        }
      }
      const state = this.addFolder(item.dir, files);
      if (state.entries) this.queueReads(reads, state.entries);
      if (queue.length > 0) this.reportProgress(state.info.images.length > 0);
    };
    while (queue.length > 0) {
      if (signal?.aborted) return;
      const batch = queue.splice(0, 8);
      await Promise.all(batch.map(visitOne));
    }
  }

  /** During a build: tell the listener, at once for the first folder with images, then every `every` ms. */
  private reportProgress(folderHasImages: boolean): void {
    const p = this.progress;
    if (!p) return;
    const now = performance.now();
    if ((folderHasImages && !p.painted) || now - p.last >= p.every) {
      p.painted ||= folderHasImages;
      p.last = now;
      try {
        p.fn(this);
      } catch {
        // a listener's error must not stop the index
      }
    }
  }

  private addFolder(dir: string, files: string[]): FolderState {
    const prefix = dir.endsWith(path.sep) ? dir : dir + path.sep;
    const notLoaded: SkippedFile[] = [];
    // the image records are made while pairing (no intermediate entry per image)
    const paired = pairFolderNames(
      files,
      this.sidecarExtensions,
      (name, sidecars, hasLatentCache): IndexedImage => ({
        path: prefix + name,
        folder: dir,
        name,
        size: 0,
        mtimeMs: 0,
        format: 'unknown',
        width: undefined,
        height: undefined,
        header: UNREAD,
        sidecars,
        hasLatentCache,
      }),
      (name, ext) => {
        if (isNotLoaded(ext)) notLoaded.push({ name, kind: 'notLoaded', reason: `sd-scripts does not load ${ext} files` });
      },
    );
    const skipped: SkippedFile[] = paired.ignored.map((i) => skippedFor(i.name, i.kind));
    for (const n of notLoaded) skipped.push(n);
    skipped.sort((a, b) => compareNamesFast(a.name, b.name));
    const images = new Array<string>(paired.images.length);
    for (let i = 0; i < images.length; i++) images[i] = (paired.images[i] as IndexedImage).name;
    const info: IndexedFolder = {
      path: dir,
      relPath: toPosix(path.relative(this.root, dir)),
      concept: parseConceptFolderName(path.basename(dir)),
      images,
      skipped,
      orphanSidecars: paired.orphanSidecars,
    };
    const parent = this.foldersByPath.get(path.dirname(dir));
    if (parent && parent.info.concept.ok && dir !== this.root) {
      info.skipReason = `inside the concept folder ${path.basename(parent.info.path)}: sd-scripts reads only the images directly in it`;
    }
    const state: FolderState = { info, files, entries: paired.images };
    this.foldersByPath.set(dir, state);
    return state;
  }

  private applyHeader(img: IndexedImage, h: FileHeader): void {
    img.header = h;
    img.size = h.fileSize;
    img.mtimeMs = h.mtimeMs ?? 0;
    img.format = h.format;
    // assigned (never deleted) so every image keeps one object shape
    img.width = h.width;
    img.height = h.height;
    // (asked only when something is cached: hashing the path would make a flat copy of it)
    if (this.problemCache.size) this.problemCache.delete(img.path);
  }

  private async readOne(img: IndexedImage): Promise<void> {
    this.applyHeader(img, await readImageHeader(img.path, this.headerOptions));
    if (this.tagExtension) await this.readTags(img);
  }

  private async readTags(img: IndexedImage): Promise<void> {
    if (!this.tagExtension) return;
    const side = img.sidecars[this.tagExtension];
    if (!side) {
      delete img.tags;
      return;
    }
    const r = await readCaptionFile(path.join(img.folder, side));
    img.tags = tagsForFrequency(r.firstLine);
  }

  private readTagsSync(img: IndexedImage): void {
    if (!this.tagExtension) return;
    const side = img.sidecars[this.tagExtension];
    if (!side) {
      delete img.tags;
      return;
    }
    try {
      img.tags = tagsForFrequency(decodeCaption(fs.readFileSync(path.join(img.folder, side))).firstLine);
    } catch {
      img.tags = [];
    }
  }

  /**
   * The header reads of a build. With `io: 'threads'` the reader threads start at once; by
   * default they start as soon as the folders listed so far hold `THREADED_MIN_FILES` images
   * (the folders listed before are handed to them then, the later ones as they are listed), and
   * a smaller tree is read with sliced synchronous reads once it is listed. Without `overlap`
   * (a build with an `onListed`/`onProgress` listener) nothing is handed out before the listing
   * is done, so the listing comes first.
   */
  private startReads(signal?: AbortSignal, keep = false, overlap = true): HeaderReads {
    const reads: HeaderReads = { waiting: [], waitingCount: 0, overlap, ...(keep ? { all: [] } : {}), ...(signal ? { signal } : {}) };
    if (this.io === 'threads') this.startThreads(reads);
    return reads;
  }

  /**
   * Queues a folder's images. They are handed to the threads on the next turn of the event loop,
   * so a progress call (the first paint) made right after a folder is listed does not wait for
   * threads to start or for the paths to be handed out.
   */
  private queueReads(reads: HeaderReads, images: readonly IndexedImage[]): void {
    if (images.length === 0) return;
    if (reads.all) for (const img of images) reads.all.push(img);
    reads.waiting.push(images);
    reads.waitingCount += images.length;
    if (reads.overlap) reads.flush ??= setImmediate(() => this.flushReads(reads));
  }

  private flushReads(reads: HeaderReads): void {
    if (reads.flush) clearImmediate(reads.flush);
    reads.flush = undefined;
    if (!reads.threads && this.io === undefined && reads.waitingCount >= THREADED_MIN_FILES) this.startThreads(reads);
    if (!reads.threads || reads.waitingCount === 0) return;
    const waiting = reads.waiting;
    reads.waiting = [];
    reads.waitingCount = 0;
    for (const images of waiting) this.sendToThreads(reads.threads, images);
  }

  private startThreads(reads: HeaderReads): void {
    const list: IndexedImage[] = [];
    const tagExt = this.tagExtension;
    let threaded: ThreadedReads;
    try {
      const parse = this.headerOptions;
      threaded = startThreadedReads({ firstRead: FIRST_READ_BYTES, parse, ...(reads.signal ? { signal: reads.signal } : {}) }, (i, read) => {
        const img = list[i] as IndexedImage;
        this.applyHeader(
          img,
          read.error ? unreadableHeader(read.error.code, read.error.message) : (read.header ?? headerFromFirstRead(img.path, read.bytes, read.stat, this.headerOptions)),
        );
        if (tagExt) {
          if (read.sidecar) img.tags = tagsForFrequency(decodeCaption(read.sidecar).firstLine);
          else this.readTagsSync(img);
        }
      });
    } catch {
      // no threads here: the images are read on this thread once listed
      return;
    }
    reads.threads = { reads: threaded, list };
  }

  /** Hands records to the threads, folder by folder: names under the folder's prefix (less to copy). */
  private sendToThreads(t: NonNullable<HeaderReads['threads']>, images: readonly IndexedImage[]): void {
    const tagExt = this.tagExtension;
    for (let start = 0; start < images.length; ) {
      const head = images[start] as IndexedImage;
      let end = start + 1;
      while (end < images.length && (images[end] as IndexedImage).folder === head.folder) end++;
      // the folder's prefix as the records' paths have it (path = prefix + name)
      const prefix = head.path.slice(0, head.path.length - head.name.length);
      const names = new Array<string>(end - start);
      const sidecars = tagExt ? new Array<string | undefined>(end - start) : undefined;
      for (let k = start; k < end; k++) {
        const img = images[k] as IndexedImage;
        t.list.push(img);
        names[k - start] = img.name;
        if (sidecars) sidecars[k - start] = img.sidecars[tagExt as string];
      }
      t.reads.add(prefix, names, sidecars);
      start = end;
    }
  }

  /** Waits for the threads (reading on this thread what they could not) or reads what waits. */
  private async finishReads(reads: HeaderReads): Promise<void> {
    const signal = reads.signal;
    this.flushReads(reads);
    let list: readonly IndexedImage[] = reads.waiting.flat();
    reads.waiting = [];
    reads.waitingCount = 0;
    if (reads.threads) {
      const t = reads.threads;
      reads.threads = undefined;
      const { unreported } = await t.reads.finish();
      if (signal?.aborted) return;
      // images queued after the threads stopped (none normally) and those their threads could not read
      list = list.concat(unreported.map((i) => t.list[i] as IndexedImage));
    }
    if (list.length === 0 || signal?.aborted) return;
    if (this.io !== 'async') {
      const SLICE_MS = 8;
      let i = 0;
      while (i < list.length) {
        if (signal?.aborted) return;
        const t0 = performance.now();
        do {
          const img = list[i++] as IndexedImage;
          this.applyHeader(img, readImageHeaderSync(img.path, this.headerOptions));
          if (this.tagExtension) this.readTagsSync(img);
        } while (i < list.length && performance.now() - t0 < SLICE_MS);
        if (i < list.length) await new Promise<void>((resolve) => setImmediate(resolve));
      }
      return;
    }
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < list.length) {
        if (signal?.aborted) return;
        await this.readOne(list[next++] as IndexedImage);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, list.length) }, worker));
  }

  // ---- reading -------------------------------------------------------------------------------

  /** Folders with images or skipped image files, and empty concept folders (what the tree shows), sorted by relPath. */
  folders(): IndexedFolder[] {
    return [...this.foldersByPath.values()]
      .map((f) => f.info)
      .filter(isShownFolder)
      .sort((a, b) => compareNames(a.relPath, b.relPath));
  }

  folder(dir: string): IndexedFolder | undefined {
    return this.foldersByPath.get(path.resolve(dir))?.info;
  }

  image(file: string): IndexedImage | undefined {
    const p = path.resolve(file);
    const state = this.foldersByPath.get(path.dirname(p));
    return state ? recordsOf(state).get(path.basename(p)) : undefined;
  }

  get imageCount(): number {
    let n = 0;
    for (const state of this.foldersByPath.values()) n += state.byName ? state.byName.size : (state.entries?.length ?? 0);
    return n;
  }

  /** All images, folder by folder in tree order. */
  *allImages(): IterableIterator<IndexedImage> {
    for (const f of this.folders()) {
      const state = this.foldersByPath.get(f.path);
      if (state) yield* orderedRecords(state);
    }
  }

  /** The per-image audit problems (header rules; duplicates need `auditDataset`). Cached. */
  problems(file: string): AuditProblem[] {
    const img = this.image(file);
    if (!img) return [];
    let p = this.problemCache.get(img.path);
    if (!p) {
      p = auditImage(
        {
          file: img.path,
          header: img.header,
          sidecars: Object.values(img.sidecars).map((s) => path.join(img.folder, s)),
          hasCaption: Object.keys(img.sidecars).length > 0,
        },
        this.auditOptions,
      );
      this.problemCache.set(img.path, p);
    }
    return p;
  }

  /** Pages through images with filters. `total` counts every match. */
  query(q: ImageQuery = {}): ImagePage {
    // one folder in name order with no filter: a slice of its (sorted) list
    if (q.folder && !q.name && !q.problem && !q.tags?.length && !q.withoutCaption && !q.predicate && (!q.sort || q.sort === 'name') && !q.descending) {
      const f = this.folder(q.folder);
      if (!f) return { total: 0, items: [] };
      const offset = Math.max(0, q.offset ?? 0);
      const limit = Math.max(0, q.limit ?? f.images.length);
      // the cold build's records in order, while the folder has had no update: no lookup per image
      const state = this.foldersByPath.get(f.path);
      if (!state) return { total: 0, items: [] };
      if (state.entries && state.entries.length === f.images.length) return { total: f.images.length, items: state.entries.slice(offset, offset + limit) };
      const byName = recordsOf(state);
      const items: IndexedImage[] = [];
      for (const n of f.images.slice(offset, offset + limit)) {
        const img = byName.get(n);
        if (img) items.push(img);
      }
      return { total: f.images.length, items };
    }
    const folders = q.folder ? [this.folder(q.folder)].filter((f): f is IndexedFolder => f !== undefined) : this.folders();
    const needle = q.name?.toLowerCase();
    const tags = q.tags?.map((t) => t.trim().toLowerCase()).filter(Boolean);
    const matches: IndexedImage[] = [];
    for (const f of folders) {
      const state = this.foldersByPath.get(f.path);
      if (!state) continue;
      for (const img of orderedRecords(state)) {
        if (needle && !img.name.toLowerCase().includes(needle)) continue;
        if (q.withoutCaption && Object.keys(img.sidecars).length > 0) continue;
        if (tags && tags.length > 0) {
          const have = new Set(img.tags ?? []);
          if (!tags.every((t) => have.has(t))) continue;
        }
        if (q.problem) {
          const ps = this.problems(img.path);
          if (q.problem === '*' ? ps.length === 0 : !ps.some((p) => p.code === q.problem)) continue;
        }
        if (q.predicate && !q.predicate(img)) continue;
        matches.push(img);
      }
    }
    if (q.sort && q.sort !== 'name') {
      const key = (i: IndexedImage): number =>
        q.sort === 'size'
          ? i.size
          : q.sort === 'width'
            ? (i.width ?? 0)
            : q.sort === 'height'
              ? (i.height ?? 0)
              : q.sort === 'tags'
                ? (i.tags?.length ?? -1)
                : (i.width ?? 0) * (i.height ?? 0);
      matches.sort((a, b) => key(a) - key(b) || compareNames(a.path, b.path));
    }
    if (q.descending) matches.reverse();
    const offset = Math.max(0, q.offset ?? 0);
    const limit = Math.max(0, q.limit ?? matches.length);
    return { total: matches.length, items: matches.slice(offset, offset + limit) };
  }

  /** One folder as a `FolderScan` (what `scanDataset` returns for it). */
  folderScan(f: IndexedFolder): FolderScan {
    const state = this.foldersByPath.get(f.path);
    // plain entries, a snapshot as before
    // (the index replaces an image's sidecar record when it changes, never edits it, so it is shared)
    // (no name map for the cold build's records: the first page must not wait for 100,000 insertions)
    const byName = state && state.info !== f ? recordsOf(state) : undefined;
    const images: ImageEntry[] =
      state && state.info === f
        ? orderedRecords(state).map((img) => ({ name: img.name, sidecars: img.sidecars, hasLatentCache: img.hasLatentCache }))
        : f.images.map((n) => {
            const img = byName?.get(n);
            return { name: n, sidecars: img?.sidecars ?? {}, hasLatentCache: img?.hasLatentCache ?? false };
          });
    return {
      path: f.path,
      relPath: f.relPath,
      concept: f.concept,
      images,
      ignored: f.skipped.filter((s) => s.kind !== 'notLoaded').map((s) => ({ name: s.name, kind: s.kind as IgnoredFile['kind'] })),
      orphanSidecars: [...f.orphanSidecars],
    };
  }

  /** The index as a `ScanResult`, for code written against `scanDataset` (groups, overview). */
  toScanResult(): ScanResult {
    const folders: FolderScan[] = this.folders().map((f) => this.folderScan(f));
    const withSidecar: Record<string, number> = Object.fromEntries(this.sidecarExtensions.map((e) => [e, 0]));
    let images = 0;
    let withoutSidecar = 0;
    let ignored = 0;
    for (const f of folders) {
      images += f.images.length;
      ignored += f.ignored.length;
      for (const i of f.images) {
        const keys = Object.keys(i.sidecars);
        if (keys.length === 0) withoutSidecar++;
        for (const k of keys) withSidecar[k] = (withSidecar[k] ?? 0) + 1;
      }
    }
    return {
      root: this.root,
      sidecarExtensions: [...this.sidecarExtensions],
      folders,
      errors: this.issues.filter((i) => i.code === 'unreadableFolder').map((i) => ({ path: i.path, message: i.reason })),
      totals: { images, withSidecar, withoutSidecar, ignored },
    };
  }

  // ---- incremental updates -------------------------------------------------------------------

  private levelOf(dir: string): number {
    const rel = path.relative(this.root, dir);
    if (rel === '') return 0;
    if (rel.startsWith('..') || path.isAbsolute(rel)) return -1;
    const parts = rel.split(path.sep);
    if (parts.some((p) => this.exclude.has(p) || p.startsWith('.'))) return -1;
    return parts.length;
  }

  /**
   * Applies file-system changes (from a watcher; `kind` is a hint, the disk is checked). Per
   * changed file only its stem group in its folder is re-paired and only a changed image's header
   * is re-read; a new folder is indexed alone; a removed folder drops its subtree. Never throws.
   */
  async update(changes: readonly FileChange[]): Promise<IndexDelta> {
    const delta: IndexDelta = { added: [], changed: [], removed: [], folders: [], removedFolders: [] };
    const touch = (set: string[], p: string): void => {
      if (!set.includes(p)) set.push(p);
    };
    for (const c of changes) {
      try {
        await this.applyOne(path.resolve(c.path), delta, touch);
      } catch (e) {
        this.issues.push({ path: path.resolve(c.path), code: 'unreadableFile', reason: `update failed: ${(e as Error).message}` });
      }
    }
    // an image both added and changed is just added
    delta.changed = delta.changed.filter((p) => !delta.added.includes(p) && !delta.removed.includes(p));
    return delta;
  }

  /**
   * Keeps the per-file issues (names that are not valid UTF-8, broken links, failed updates) in
   * step with a change at `p`; true when they changed. A watcher reports a name that is not valid
   * UTF-8 with U+FFFD in it, which cannot be opened by that name: its folder is listed again to
   * see which such names are still there.
   */
  private async refreshFileIssues(p: string, st: fs.Stats | undefined): Promise<boolean> {
    const dir = path.dirname(p);
    const inDir = (list: readonly IndexIssue[]): string =>
      list
        .filter((i) => path.dirname(i.path) === dir)
        .map((i) => `${i.code}:${i.path}`)
        .sort()
        .join('\n');
    const before = inDir(this.issues);
    // (a name with U+FFFD has only the invalidName issue, settled below by listing its folder)
    const kept = this.issues.filter((i) => !(i.path === p && i.code === 'unreadableFile'));
    if (path.basename(p).includes('\ufffd')) {
      let names: string[] = [];
      try {
        names = (await listFolder(dir)).names.filter((n) => n.includes('\ufffd'));
      } catch {
        // the folder went away: its folder event drops it
      }
      const now = new Set(names.map((n) => path.join(dir, n)));
      const old = new Set<string>();
      for (let k = kept.length - 1; k >= 0; k--) {
        const i = kept[k] as IndexIssue;
        if (i.code !== 'invalidName' || path.dirname(i.path) !== dir) continue;
        old.add(i.path);
        if (!now.has(i.path)) kept.splice(k, 1);
      }
      for (const n of now) if (!old.has(n)) kept.push({ path: n, code: 'invalidName', reason: INVALID_NAME_REASON });
    } else if (!st) {
      const link = await new Promise<fs.Stats | undefined>((resolve) => fs.lstat(p, (err, l) => resolve(err ? undefined : l)));
      if (link?.isSymbolicLink()) kept.push({ path: p, code: 'unreadableFile', reason: BROKEN_LINK_REASON });
    }
    if (inDir(kept) === before) return false;
    this.issues.splice(0, this.issues.length, ...kept);
    return true;
  }

  private async applyOne(p: string, delta: IndexDelta, touch: (set: string[], p: string) => void): Promise<void> {
    const st = await statP(p);
    const known = this.foldersByPath.get(p);
    if (st?.isDirectory()) {
      if (known) return;
      const level = this.levelOf(p);
      if (level < 0 || level > this.depth) return;
      const reads = this.startReads(undefined, true);
      const before = new Set(this.foldersByPath.keys());
      await this.walk(p, level, new Set(), reads);
      await this.finishReads(reads);
      for (const k of this.foldersByPath.keys()) if (!before.has(k)) touch(delta.folders, k);
      for (const img of reads.all ?? []) touch(delta.added, img.path);
      return;
    }
    if (!st && known) {
      // a folder (and everything below it) went away
      for (const [dir, state] of [...this.foldersByPath]) {
        if (dir === p || dir.startsWith(p + path.sep)) {
          for (const n of state.info.images) {
            const ip = path.join(dir, n);
            this.problemCache.delete(ip);
            touch(delta.removed, ip);
          }
          this.foldersByPath.delete(dir);
          touch(delta.removedFolders, dir);
        }
      }
      return;
    }
    const dir = path.dirname(p);
    const name = path.basename(p);
    if (await this.refreshFileIssues(p, st)) touch(delta.folders, dir);
    let folder = this.foldersByPath.get(dir);
    if (!folder) {
      if (!st) return;
      const level = this.levelOf(dir);
      if (level < 0 || level > this.depth) return;
      folder = this.addFolder(dir, []);
      touch(delta.folders, dir);
    }
    const exists = st !== undefined && st.isFile();
    const { names, byStem } = tables(folder);
    const records = recordsOf(folder);
    const had = names.has(name);
    const stem = stemOf(name);
    if (exists && !had) {
      names.add(name);
      const g = byStem.get(stem);
      if (g) g.add(name);
      else byStem.set(stem, new Set([name]));
    } else if (!exists && had) {
      names.delete(name);
      const g = byStem.get(stem);
      g?.delete(name);
      if (g && g.size === 0) byStem.delete(stem);
    }
    // re-pair this stem group only: pairing depends only on names that share the stem
    const group = [...(byStem.get(stem) ?? [])];
    const paired = pairFolderEntries(group, this.sidecarExtensions);
    const info = folder.info;
    let listingChanged = exists !== had;
    // images of this stem group
    const newImages = new Map(paired.images.map((e) => [e.name, e]));
    // the images of this stem before the change: the group's names (and the changed name) that are listed
    const oldImages = [...new Set([...group, name])].filter((n) => hasSorted(info.images, n));
    for (const n of oldImages) {
      if (!newImages.has(n)) {
        removeSorted(info.images, n);
        const ip = path.join(dir, n);
        records.delete(n);
        this.problemCache.delete(ip);
        touch(delta.removed, ip);
        listingChanged = true;
      }
    }
    for (const [n, e] of newImages) {
      const ip = path.join(dir, n);
      let img = records.get(n);
      if (!img) {
        insertSorted(info.images, n);
        img = {
          path: ip,
          folder: dir,
          name: n,
          size: 0,
          mtimeMs: 0,
          format: 'unknown',
          width: undefined,
          height: undefined,
          header: UNREAD,
          sidecars: e.sidecars,
          hasLatentCache: e.hasLatentCache,
        };
        records.set(n, img);
        await this.readOne(img);
        touch(delta.added, ip);
        listingChanged = true;
        continue;
      }
      const sidecarsChanged = JSON.stringify(img.sidecars) !== JSON.stringify(e.sidecars) || img.hasLatentCache !== e.hasLatentCache;
      img.sidecars = e.sidecars;
      img.hasLatentCache = e.hasLatentCache;
      if (n === name && exists) {
        await this.readOne(img);
        touch(delta.changed, ip);
      } else if (sidecarsChanged) {
        this.problemCache.delete(ip);
        if (this.tagExtension) await this.readTags(img);
        touch(delta.changed, ip);
      } else if (this.tagExtension && name === stem + this.tagExtension) {
        await this.readTags(img);
        touch(delta.changed, ip);
      }
    }
    // orphans and skipped files of this stem group
    const orphanBefore = info.orphanSidecars.filter((n) => stemOf(n) === stem);
    info.orphanSidecars = info.orphanSidecars.filter((n) => stemOf(n) !== stem).concat(paired.orphanSidecars).sort(compareNames);
    if (orphanBefore.join('\n') !== paired.orphanSidecars.join('\n')) listingChanged = true;
    const skippedNow: SkippedFile[] = paired.ignored.map((i) => skippedFor(i.name, i.kind));
    for (const n of group) {
      if (NOT_LOADED_IMAGE_EXTENSIONS.has(extensionOf(n).toLowerCase())) skippedNow.push({ name: n, kind: 'notLoaded', reason: `sd-scripts does not load ${extensionOf(n)} files` });
    }
    info.skipped = info.skipped.filter((s) => stemOf(s.name) !== stem).concat(skippedNow).sort((a, b) => compareNames(a.name, b.name));
    if (listingChanged) touch(delta.folders, dir);
  }
}

function bisect(list: readonly string[], name: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareNames(list[mid] as string, name) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
function hasSorted(list: readonly string[], name: string): boolean {
  const at = list[bisect(list, name)];
  if (at === name) return true;
  // names the collation ranks equal (canonically equivalent Unicode) sit side by side: look plainly
  return at !== undefined && compareNames(at, name) === 0 ? list.includes(name) : false;
}
function insertSorted(list: string[], name: string): void {
  const i = bisect(list, name);
  if (list[i] !== name) list.splice(i, 0, name);
}
function removeSorted(list: string[], name: string): void {
  const i = bisect(list, name);
  if (list[i] === name) list.splice(i, 1);
  else {
    const j = list.indexOf(name);
    if (j >= 0) list.splice(j, 1);
  }
}

/**
 * A folder's scan after a delta: a copy with only the added, removed and changed images patched
 * (a big folder's scan is not rebuilt for one file). Falls back to a rebuild if the result does
 * not match the index's listing.
 */
export function patchFolderScan(old: FolderScan, info: IndexedFolder, index: DatasetIndex, e: { added: string[]; removed: string[]; changed: string[] }): FolderScan {
  const images = old.images.slice();
  const find = (name: string): number => {
    let lo = 0;
    let hi = images.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareNames((images[mid] as ImageEntry).name, name) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const entryOf = (p: string): ImageEntry | undefined => {
    const img = index.image(p);
    return img ? { name: img.name, sidecars: img.sidecars, hasLatentCache: img.hasLatentCache } : undefined;
  };
  for (const p of e.removed) {
    const i = find(path.basename(p));
    if (images[i]?.name === path.basename(p)) images.splice(i, 1);
  }
  for (const p of e.changed) {
    const i = find(path.basename(p));
    const next = entryOf(p);
    if (next && images[i]?.name === next.name) images[i] = next;
  }
  for (const p of e.added) {
    const next = entryOf(p);
    if (!next) continue;
    const i = find(next.name);
    if (images[i]?.name === next.name) images[i] = next;
    else images.splice(i, 0, next);
  }
  if (images.length !== info.images.length || images.some((img, i) => i % 997 === 0 && img.name !== info.images[i])) return index.folderScan(info);
  return {
    ...old,
    images,
    ignored: info.skipped.filter((s) => s.kind !== 'notLoaded').map((s) => ({ name: s.name, kind: s.kind as IgnoredFile['kind'] })),
    orphanSidecars: [...info.orphanSidecars],
  };
}

/** Convenience: a cold index (see `DatasetIndex.build`). */
export function buildDatasetIndex(root: string, options: IndexOptions = {}): Promise<DatasetIndex> {
  return DatasetIndex.build(root, options);
}
