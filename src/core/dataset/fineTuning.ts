/**
 * The images of a fine-tuning subset (`metadata_file` in a dataset config, or a training config's
 * `in_json` with `train_data_dir` as the image folder) as current sd-scripts' FineTuningDataset
 * finds them:
 *
 * - each key is resolved as it is (absolute) or as `join(image_dir, key)` (relative), with no
 *   extension globbing (removed in sd-scripts c6bc632e): keys that do not name an existing file
 *   are left out here, bare stems (`1` for `1.png`, written without `--full_path`) told apart;
 * - each image's size comes from the entry's `image_size` (in `.jsonl` also `width` + `height`),
 *   else from a latent cache `{path without ext}_{W:04d}x{H:04d}_sdxl.npz` next to it, else the
 *   image itself has to be read (the caller supplies that size).
 *
 * Only keys and sizes are kept (no captions), so a 100,000-key metadata file costs a string per
 * key and two numbers. Pure TypeScript: directory listings come from the caller.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Metadata } from './metadata';
import { metadataKeySummary, type MetadataKeyResult, type MetadataKeyStatus, type MetadataKeySummary } from './discovery';
import { KOHYA_IMAGE_EXTENSIONS } from './images';

/** What a metadata file says about its images: keys in file order and the sizes it gives. */
export interface MetadataSizes {
  keys: string[];
  /** `[w0, h0, w1, h1, …]`; 0 where the entry gives no usable size */
  sizes: Uint32Array;
}

const positiveInt = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) && v > 0 && v < 2 ** 31 ? v : undefined);

function setSize(sizes: Uint32Array, i: number, entry: unknown, jsonl: boolean): void {
  if (!entry || typeof entry !== 'object') return;
  const e = entry as Record<string, unknown>;
  let w: number | undefined;
  let h: number | undefined;
  // FineTuningDataset reads a .jsonl line's width/height over its image_size
  if (jsonl && positiveInt(e.width) && positiveInt(e.height)) [w, h] = [e.width as number, e.height as number];
  else if (Array.isArray(e.image_size) && e.image_size.length === 2) [w, h] = [positiveInt(e.image_size[0]), positiveInt(e.image_size[1])];
  if (w && h) {
    sizes[i * 2] = w;
    sizes[i * 2 + 1] = h;
  }
}

/** Keys and `image_size` of parsed metadata (`.jsonl` lines may give `width` and `height` instead). */
export function metadataSizes(metadata: Metadata, jsonl = false): MetadataSizes {
  const keys: string[] = [];
  const sizes = new Uint32Array(metadata.size * 2);
  let i = 0;
  for (const [key, entry] of metadata) {
    keys.push(key);
    setSize(sizes, i++, entry, jsonl);
  }
  return { keys, sizes };
}

/**
 * Keys and sizes straight from the text (one `JSON.parse`, no key-order pass: bucketing does not
 * depend on the order; `.jsonl`: one object per line with `image_path`). Never throws.
 */
export function parseMetadataSizes(text: string, jsonl = false): MetadataSizes | { error: string } {
  if (jsonl) {
    const keys: string[] = [];
    const entries: unknown[] = [];
    const lines = text.split(/\r?\n/);
    for (let n = 0; n < lines.length; n++) {
      const line = (lines[n] as string).trim();
      if (!line) continue;
      let o: unknown;
      try {
        o = JSON.parse(line);
      } catch (e) {
        return { error: `line ${n + 1}: ${(e as Error).message}` };
      }
      if (!o || typeof o !== 'object' || typeof (o as { image_path?: unknown }).image_path !== 'string') return { error: `line ${n + 1}: no "image_path"` };
      keys.push((o as { image_path: string }).image_path);
      entries.push(o);
    }
    const sizes = new Uint32Array(keys.length * 2);
    entries.forEach((e, i) => setSize(sizes, i, e, true));
    return { keys, sizes };
  }
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch (e) {
    return { error: (e as Error).message };
  }
  if (!whole || typeof whole !== 'object' || Array.isArray(whole)) return { error: 'the metadata is not a JSON object' };
  const obj = whole as Record<string, unknown>;
  const keys = Object.keys(obj);
  const sizes = new Uint32Array(keys.length * 2);
  keys.forEach((k, i) => setSize(sizes, i, obj[k], false));
  return { keys, sizes };
}

/** A directory's file names, and the SDXL latent caches among them by the image stem they belong to. */
export interface DirFiles {
  names: ReadonlySet<string>;
  /** `1_0512x0704_sdxl.npz` → `1` → [512, 704] (the original image size) */
  npz: ReadonlyMap<string, readonly [number, number]>;
}

const NPZ_NAME = /^(.+)_(\d{4,})x(\d{4,})_sdxl\.npz$/;

export function dirFiles(names: Iterable<string>): DirFiles {
  const set = new Set<string>();
  const npz = new Map<string, readonly [number, number]>();
  for (const n of names) {
    set.add(n);
    const m = NPZ_NAME.exec(n);
    if (m) {
      const w = Number(m[2]);
      const h = Number(m[3]);
      if (w > 0 && h > 0 && !npz.has(m[1] as string)) npz.set(m[1] as string, [w, h]);
    }
  }
  return { names: set, npz };
}

/** Where the last path separator is (`/`, and `\\` on Windows), -1 for none. */
function lastSep(p: string): number {
  return path.sep === '\\' ? Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\')) : p.lastIndexOf('/');
}

/**
 * Splits a key into the folder and name it names: absolute keys as they are, relative ones joined
 * to the image folder (the common case, a plain name, without path.join). The folder is raw:
 * resolve it once per distinct value.
 */
function splitKey(key: string, imageDir: string | undefined): [string, string] | undefined {
  if (path.isAbsolute(key)) {
    const i = lastSep(key);
    return [key.slice(0, i) || path.sep, key.slice(i + 1)];
  }
  if (!imageDir) return undefined;
  if (lastSep(key) < 0 && key !== '.' && key !== '..') return [imageDir, key];
  const full = path.join(imageDir, key);
  const i = lastSep(full);
  return [full.slice(0, i) || path.sep, full.slice(i + 1)];
}

/** The folders whose listings resolve these keys (the image folder and the folder of each key). */
export function keyFolders(keys: readonly string[], imageDir: string | undefined): string[] {
  const raw = new Set<string>();
  if (imageDir) raw.add(imageDir);
  for (const key of keys) {
    const s = splitKey(key, imageDir);
    if (s) raw.add(s[0]);
  }
  return [...new Set([...raw].map((d) => path.resolve(d)))];
}

export type LeftOutReason = 'bareStem' | 'missing';

export interface LeftOutKey {
  key: string;
  reason: LeftOutReason;
  /** for a bare stem: the image older sd-scripts would have found by trying extensions */
  image?: string;
}

/** The resolved images of one fine-tuning subset. */
export interface FineTuningKeys {
  metadataFile: string;
  imageDir?: string;
  /** keys in the metadata */
  total: number;
  /** the images the keys resolve to, in key order */
  files: string[];
  /** `[w, h]` per file from the metadata or a latent-cache name; 0 = the image has to be read */
  sizes: Uint32Array;
  fromMetadata: number;
  fromNpz: number;
  leftOut: Record<LeftOutReason, number>;
  /** the first keys left out (up to the limit), with the reason */
  examples: LeftOutKey[];
  /** relative keys with no image_dir: sd-scripts stops on them */
  stop?: string;
  summary: MetadataKeySummary;
}

/**
 * Resolves the keys of one subset's metadata with the listings of their folders (see
 * {@link keyFolders}); `listing(dir)` is undefined for a folder that does not exist.
 */
export function resolveFineTuningKeys(
  meta: MetadataSizes,
  metadataFile: string,
  imageDir: string | undefined,
  listing: (dir: string) => DirFiles | undefined,
  limit = 50,
): FineTuningKeys {
  // one path.resolve per distinct folder, not per key
  const folders = new Map<string, DirFiles | undefined>();
  const folder = (raw: string): DirFiles | undefined => {
    if (folders.has(raw)) return folders.get(raw);
    const l = listing(path.resolve(raw));
    folders.set(raw, l);
    return l;
  };
  const results: MetadataKeyResult[] = meta.keys.map((key): MetadataKeyResult => {
    const split = splitKey(key, imageDir);
    if (!split) return { key, status: 'missing' };
    const [dir, name] = split;
    const l = folder(dir);
    const status: MetadataKeyStatus = path.isAbsolute(key) ? 'fullPath' : 'withExtension';
    if (l?.names.has(name)) return { key, status, image: status === 'fullPath' ? key : dir === imageDir && !dir.endsWith(path.sep) ? `${dir}${path.sep}${name}` : path.join(dir, name) };
    // a relative name without extension: older sd-scripts tried the image extensions, current does not
    if (status === 'withExtension' && l && !path.extname(name)) {
      for (const ext of [...KOHYA_IMAGE_EXTENSIONS, ...KOHYA_IMAGE_EXTENSIONS.map((e) => e.toUpperCase())]) {
        if (l.names.has(name + ext)) return { key, status: 'bareStem', image: path.join(dir, name + ext) };
      }
    }
    return { key, status: 'missing' };
  });
  const byStatus: Record<MetadataKeyStatus, number> = { fullPath: 0, withExtension: 0, bareStem: 0, missing: 0 };
  const unresolved: MetadataKeyResult[] = [];
  for (const r of results) {
    byStatus[r.status]++;
    if ((r.status === 'bareStem' || r.status === 'missing') && unresolved.length < 20) unresolved.push(r);
  }
  const files: string[] = [];
  const sizes: number[] = [];
  const out: FineTuningKeys = {
    metadataFile,
    total: meta.keys.length,
    files,
    sizes: new Uint32Array(0),
    fromMetadata: 0,
    fromNpz: 0,
    leftOut: { bareStem: 0, missing: 0 },
    examples: [],
    summary: metadataKeySummary(byStatus, unresolved),
  };
  if (imageDir) out.imageDir = imageDir;
  let relative = 0;
  let firstRelative: string | undefined;
  results.forEach((r, i) => {
    if (!path.isAbsolute(r.key)) {
      relative++;
      firstRelative ??= r.key;
    }
    if ((r.status === 'fullPath' || r.status === 'withExtension') && r.image) {
      files.push(r.image);
      let w = meta.sizes[i * 2] as number;
      let h = meta.sizes[i * 2 + 1] as number;
      if (w && h) out.fromMetadata++;
      else {
        const dot = path.basename(r.image).lastIndexOf('.');
        const stem = dot > 0 ? path.basename(r.image).slice(0, dot) : path.basename(r.image);
        const i = lastSep(r.image);
        const npz = folder(r.image.slice(0, i) || path.sep)?.npz.get(stem);
        if (npz) {
          [w, h] = npz;
          out.fromNpz++;
        } else [w, h] = [0, 0];
      }
      sizes.push(w, h);
      return;
    }
    const reason: LeftOutReason = r.status === 'bareStem' ? 'bareStem' : 'missing';
    out.leftOut[reason]++;
    if (out.examples.length < limit) out.examples.push(r.image ? { key: r.key, reason, image: r.image } : { key: r.key, reason });
  });
  out.sizes = Uint32Array.from(sizes);
  if (!imageDir && relative > 0) {
    out.stop = `${relative} key${relative === 1 ? ' is' : 's are'} relative (such as "${firstRelative}") and the subset has no image_dir: sd-scripts stops (it needs image_dir to find them)`;
  }
  return out;
}

/** One line about the keys left out: "2 metadata keys left out: 1 bare stem, 1 with no file". */
export function describeLeftOut(k: Pick<FineTuningKeys, 'leftOut'>): string | undefined {
  const { bareStem, missing } = k.leftOut;
  const n = bareStem + missing;
  if (n === 0) return undefined;
  const parts: string[] = [];
  if (bareStem) parts.push(`${bareStem} bare stem${bareStem === 1 ? '' : 's'}`);
  if (missing) parts.push(`${missing} with no file`);
  return `${n} metadata key${n === 1 ? '' : 's'} left out: ${parts.join(', ')}`;
}

/** The tooltip lines for the keys left out. */
export function leftOutLines(k: Pick<FineTuningKeys, 'examples' | 'leftOut'>): string[] {
  const lines = k.examples.map((e) =>
    e.reason === 'bareStem'
      ? `${e.key}: bare stem; older sd-scripts found ${path.basename(e.image ?? '')}, current sd-scripts does not (write full paths or names with the extension)`
      : `${e.key}: no such file`,
  );
  const more = k.leftOut.bareStem + k.leftOut.missing - k.examples.length;
  if (more > 0) lines.push(`… and ${more} more`);
  return lines;
}

/** A fine-tuning subset set against its image folder (see {@link fineTuningFolderCounts}). */
export interface FineTuningFolderCounts {
  /** the images sd-scripts trains: one per key that resolves, wherever the image is */
  trained: number;
  /** images in the folder that no key names: sd-scripts does not train them */
  unused: number;
  /** the first of them, in folder order */
  unusedExamples: string[];
}

const folderCountsCache = new WeakMap<object, { images: object; folder: string; counts: FineTuningFolderCounts }>();

/**
 * How many images a fine-tuning subset trains, and which images of its folder no metadata key
 * names: a folder of 4 images whose metadata names 3 trains 3 (the Datasets tree used to say 4).
 * Remembered for the same keys and the same folder listing.
 */
export function fineTuningFolderCounts(keys: Pick<FineTuningKeys, 'files'>, folder: string, images: ReadonlyArray<{ name: string }>, examples = 5): FineTuningFolderCounts {
  const cached = folderCountsCache.get(keys);
  if (cached && cached.images === images && cached.folder === folder) return cached.counts;
  const dir = path.resolve(folder);
  const named = new Set<string>();
  // (a full-path key is kept as written: its folder is compared resolved, once per folder)
  const resolved = new Map<string, boolean>();
  for (const f of keys.files) {
    const d = path.dirname(f);
    let inside = resolved.get(d);
    if (inside === undefined) resolved.set(d, (inside = d === dir || path.resolve(d) === dir));
    if (inside) named.add(path.basename(f));
  }
  const counts: FineTuningFolderCounts = { trained: keys.files.length, unused: 0, unusedExamples: [] };
  for (const img of images) {
    if (named.has(img.name)) continue;
    counts.unused++;
    if (counts.unusedExamples.length < examples) counts.unusedExamples.push(img.name);
  }
  folderCountsCache.set(keys, { images, folder, counts });
  return counts;
}

/** A folder's file names (undefined when it cannot be listed). */
export async function listFolder(dir: string): Promise<DirFiles | undefined> {
  try {
    const entries = await fsp.readdir(dir, { withFileTypes: true });
    return dirFiles(entries.filter((e) => !e.isDirectory()).map((e) => e.name));
  } catch {
    return undefined;
  }
}

/**
 * Reads one subset's metadata file and resolves its keys (one listing per folder). A missing or
 * broken file comes back as `{ error }` naming the file, as sd-scripts stops on it. Never throws.
 */
export async function readFineTuningKeys(metadataFile: string, imageDir: string | undefined): Promise<FineTuningKeys | { error: string }> {
  try {
    await fsp.stat(metadataFile);
  } catch {
    return { error: `${metadataFile} does not exist (sd-scripts stops: "no metadata")` };
  }
  let text: string;
  try {
    text = await fsp.readFile(metadataFile, 'utf8');
  } catch (e) {
    return { error: `${metadataFile} cannot be read: ${(e as Error).message}` };
  }
  const sizes = parseMetadataSizes(text, /\.jsonl$/i.test(metadataFile));
  if ('error' in sizes) return { error: `${metadataFile}: ${sizes.error}` };
  const listings = new Map<string, DirFiles | undefined>();
  for (const dir of keyFolders(sizes.keys, imageDir)) listings.set(dir, await listFolder(dir));
  return resolveFineTuningKeys(sizes, metadataFile, imageDir, (d) => listings.get(d));
}
