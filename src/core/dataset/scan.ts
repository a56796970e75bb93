/**
 * Lists image folders and pairs every image with its sidecar files (caption, tags, latent cache),
 * the way sd-scripts pairs them: the sidecar of `a/b.png` for extension `.txt` is `a/b.txt`.
 *
 * Pure Node (no `vscode`): used by the Datasets view, the CLI and the tests alike.
 */
import { promises as fsp, type Dirent } from 'node:fs';
import * as path from 'node:path';
import {
  classifyImageName,
  extensionOf,
  normaliseSidecarExtension,
  stemOf,
  type ImageKind,
} from './images';

export interface ScanOptions {
  /** Folder levels below the root to visit (0 = the root only). Default 1. */
  depth?: number;
  /** Folder names never entered. */
  exclude?: readonly string[];
  /** Sidecar extensions to pair with images, e.g. ['.txt', '.caption']. */
  sidecarExtensions?: readonly string[];
  signal?: AbortSignal;
}

export interface ImageEntry {
  /** File name, e.g. `1.png`. */
  name: string;
  /** Sidecar extension (normalised, with dot) → file name, for each one that exists. */
  sidecars: Record<string, string>;
  /** `name_without_ext.npz` exists (sd-scripts' latent cache). */
  hasLatentCache: boolean;
}

export interface IgnoredFile {
  name: string;
  kind: Exclude<ImageKind, 'image' | 'notImage'>;
}

/** How sd-scripts reads a folder's name when it is a subfolder of `train_data_dir`/`reg_data_dir`. */
export type ConceptName =
  | { ok: true; repeats: number; classTokens: string }
  | { ok: false; reason: string };

export interface FolderScan {
  /** Absolute path. */
  path: string;
  /** Path relative to the scan root, with `/` separators; '' for the root itself. */
  relPath: string;
  images: ImageEntry[];
  /** Image-like files sd-scripts would not load, with the reason. */
  ignored: IgnoredFile[];
  /** Sidecar files with no image of the same stem next to them. */
  orphanSidecars: string[];
  /** The folder's name read as a kohya concept folder (`5_tk girl`). */
  concept: ConceptName;
}

export interface ScanError {
  path: string;
  message: string;
}

export interface ScanResult {
  root: string;
  sidecarExtensions: string[];
  /** Folders that hold at least one image or image-like file, sorted by relPath. */
  folders: FolderScan[];
  errors: ScanError[];
  totals: {
    images: number;
    /** images per sidecar extension */
    withSidecar: Record<string, number>;
    /** images with none of the sidecar extensions */
    withoutSidecar: number;
    ignored: number;
  };
}

export const DEFAULT_SIDECAR_EXTENSIONS: readonly string[] = ['.txt', '.caption'];
export const DEFAULT_EXCLUDE: readonly string[] = ['node_modules', '.git', 'venv', '.venv', '__pycache__'];

/** Thrown when the root itself cannot be scanned. */
export class ScanRootError extends Error {
  constructor(
    readonly root: string,
    readonly code: 'ENOENT' | 'ENOTDIR' | 'EACCES' | 'OTHER',
    message: string,
  ) {
    super(message);
    this.name = 'ScanRootError';
  }
}

/**
 * Reads a folder name as sd-scripts' `generate_dreambooth_subsets_config_by_subdirs` does:
 * split on `_`, the first piece must be an integer ≥ 1 (the repeats), the rest joined by `_`
 * are the class tokens.
 */
export function parseConceptFolderName(name: string): ConceptName {
  const pieces = name.split('_');
  const first = pieces[0] ?? '';
  // Python's int() accepts surrounding white space and a sign.
  if (!/^\s*[+-]?\d+\s*$/.test(first)) {
    return { ok: false, reason: 'no repeat count: sd-scripts ignores folders not named like "5_name"' };
  }
  const repeats = Number.parseInt(first.trim(), 10);
  if (repeats < 1) {
    return { ok: false, reason: `repeat count ${repeats} is below 1: sd-scripts skips this folder` };
  }
  return { ok: true, repeats, classTokens: pieces.slice(1).join('_') };
}

function toPosix(rel: string): string {
  return rel.split(path.sep).join('/');
}

async function isDirentFile(dir: string, d: Dirent): Promise<'file' | 'dir' | 'other'> {
  if (d.isFile()) return 'file';
  if (d.isDirectory()) return 'dir';
  if (d.isSymbolicLink()) {
    try {
      const st = await fsp.stat(path.join(dir, d.name));
      return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other';
    } catch {
      return 'other';
    }
  }
  return 'other';
}

/** Groups one folder's file names into images and sidecars. Pure; exported for tests and the index. */
export function pairFolderEntries(
  fileNames: readonly string[],
  sidecarExtensions: readonly string[],
): Pick<FolderScan, 'images' | 'ignored' | 'orphanSidecars'> {
  const exts = sidecarExtensions.map(normaliseSidecarExtension);
  const byStem = new Map<string, string[]>();
  const images: string[] = [];
  const ignored: IgnoredFile[] = [];
  for (const name of fileNames) {
    const kind = classifyImageName(name);
    if (kind === 'image') images.push(name);
    else if (kind === 'mixedCase' || kind === 'needsPlugin') ignored.push({ name, kind });
    const stem = stemOf(name);
    const list = byStem.get(stem);
    if (list) list.push(name);
    else byStem.set(stem, [name]);
  }
  images.sort(compareNames);
  ignored.sort((a, b) => compareNames(a.name, b.name));
  const imageStems = new Set(images.map(stemOf));
  const entries: ImageEntry[] = images.map((name) => {
    const siblings = byStem.get(stemOf(name)) ?? [];
    const sidecars: Record<string, string> = {};
    let hasLatentCache = false;
    for (const sib of siblings) {
      const ext = extensionOf(sib);
      // sd-scripts builds the candidate as splitext(image)[0] + ext: the match is exact.
      if (exts.includes(ext)) sidecars[ext] = sib;
      if (ext === '.npz') hasLatentCache = true;
    }
    return { name, sidecars, hasLatentCache };
  });
  const orphanSidecars = fileNames
    .filter((n) => exts.includes(extensionOf(n)) && !imageStems.has(stemOf(n)))
    .sort(compareNames);
  return { images: entries, ignored, orphanSidecars };
}

/** Natural order: `2.png` before `10.png`, as people expect (sd-scripts itself sorts plainly). */
export function compareNames(a: string, b: string): number {
  return COLLATOR.compare(a, b);
}
const COLLATOR = new Intl.Collator('en', { numeric: true, sensitivity: 'variant' });

/**
 * Scans `root` and its subfolders down to `depth` levels. Folders are read concurrently with a
 * small limit; unreadable subfolders are reported in `errors`, never thrown.
 */
export async function scanDataset(root: string, options: ScanOptions = {}): Promise<ScanResult> {
  const depth = options.depth ?? 1;
  const exclude = new Set(options.exclude ?? DEFAULT_EXCLUDE);
  const sidecarExtensions = (options.sidecarExtensions ?? DEFAULT_SIDECAR_EXTENSIONS).map(
    normaliseSidecarExtension,
  );
  const absRoot = path.resolve(root);
  try {
    const st = await fsp.stat(absRoot);
    if (!st.isDirectory()) throw new ScanRootError(absRoot, 'ENOTDIR', `${absRoot} is not a folder`);
  } catch (e) {
    if (e instanceof ScanRootError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ScanRootError(absRoot, 'ENOENT', `${absRoot} does not exist`);
    if (code === 'EACCES' || code === 'EPERM') {
      throw new ScanRootError(absRoot, 'EACCES', `${absRoot} cannot be read (permission denied)`);
    }
    throw new ScanRootError(absRoot, 'OTHER', `${absRoot} cannot be read: ${(e as Error).message}`);
  }

  const folders: FolderScan[] = [];
  const errors: ScanError[] = [];
  const queue: Array<{ dir: string; level: number }> = [{ dir: absRoot, level: 0 }];
  const CONCURRENCY = 8;

  const visit = async (dir: string, level: number): Promise<void> => {
    let dirents: Dirent[];
    try {
      dirents = await fsp.readdir(dir, { withFileTypes: true });
    } catch (e) {
      if (dir === absRoot) {
        throw new ScanRootError(absRoot, 'OTHER', `${absRoot} cannot be read: ${(e as Error).message}`);
      }
      errors.push({ path: dir, message: (e as Error).message });
      return;
    }
    const files: string[] = [];
    for (const d of dirents) {
      // only symlinks need a stat; everything else is known from the directory entry
      const kind = d.isFile() ? 'file' : d.isDirectory() ? 'dir' : await isDirentFile(dir, d);
      if (kind === 'file') files.push(d.name);
      else if (kind === 'dir' && level < depth && !exclude.has(d.name) && !d.name.startsWith('.')) {
        queue.push({ dir: path.join(dir, d.name), level: level + 1 });
      }
    }
    const paired = pairFolderEntries(files, sidecarExtensions);
    if (paired.images.length > 0 || paired.ignored.length > 0) {
      folders.push({
        path: dir,
        relPath: toPosix(path.relative(absRoot, dir)),
        ...paired,
        concept: parseConceptFolderName(path.basename(dir)),
      });
    }
  };

  const workers: Promise<void>[] = [];
  const runWorker = async (): Promise<void> => {
    while (queue.length > 0) {
      if (options.signal?.aborted) throw new Error('scan cancelled');
      const next = queue.shift();
      if (!next) break;
      await visit(next.dir, next.level);
    }
  };
  // Breadth-first with a bounded pool: a worker that finds the queue empty stops, so we loop
  // until the queue stays empty after all workers have finished.
  while (queue.length > 0) {
    for (let i = 0; i < CONCURRENCY && queue.length > 0; i++) workers.push(runWorker());
    await Promise.all(workers.splice(0));
  }

  folders.sort((a, b) => compareNames(a.relPath, b.relPath));
  const withSidecar: Record<string, number> = Object.fromEntries(sidecarExtensions.map((e) => [e, 0]));
  let images = 0;
  let withoutSidecar = 0;
  let ignored = 0;
  for (const f of folders) {
    images += f.images.length;
    ignored += f.ignored.length;
    for (const img of f.images) {
      const keys = Object.keys(img.sidecars);
      if (keys.length === 0) withoutSidecar++;
      for (const k of keys) withSidecar[k] = (withSidecar[k] ?? 0) + 1;
    }
  }
  errors.sort((a, b) => compareNames(a.path, b.path));
  return { root: absRoot, sidecarExtensions, folders, errors, totals: { images, withSidecar, withoutSidecar, ignored } };
}

/**
 * Every image file under `root` (its subfolders too when `recursive`, like Python's rglob: hidden
 * folders included, at most 64 levels), sorted by path. Unreadable folders are passed over.
 * Used where sd-scripts' scripts glob a folder (tagger, metadata merge), not for training folders.
 */
export async function listImageFiles(root: string, recursive: boolean): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const d of entries) {
      const p = path.join(dir, d.name);
      if (d.isDirectory()) {
        if (recursive && depth < 64) await walk(p, depth + 1);
      } else if ((d.isFile() || d.isSymbolicLink()) && classifyImageName(d.name) === 'image') out.push(p);
    }
  };
  await walk(root, 0);
  return out.sort();
}
