/**
 * Fine-tuning metadata (`in_json` / `metadata_file`) as sd-scripts' finetune scripts build it:
 * `merge_captions_to_metadata.py` (→ "caption") then `merge_dd_tags_to_metadata.py` (→ "tags"),
 * optionally cleaned by `clean_captions_and_tags.py`, written like Python's
 * `json.dump(metadata, f, indent=2)` (ASCII-escaped, insertion order kept).
 *
 * Keys: with `--full_path` the image path (we always write absolute paths); without it the bare
 * stem (`1` for `1.png`). Since sd-scripts commit c6bc632e (2026-01-18) FineTuningDataset resolves
 * a relative key only as `os.path.join(image_dir, key)`, with no extension globbing, so bare-stem
 * keys no longer find their image. `checkMetadataKeys` reports such keys.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { KOHYA_IMAGE_EXTENSIONS } from './images';
import { atomicWriteFile } from '../captions/journal';
import { pyStrip } from '../captions/readCaption';
import { listImageFiles } from './scan';

export type MetadataEntry = Record<string, unknown> & { caption?: string; tags?: string };
/** Key → entry, in file order (a Map: JavaScript objects would move integer-like keys such as "1" first). */
export type Metadata = Map<string, MetadataEntry>;

export interface MergeOptions {
  /** Caption files (merge_captions_to_metadata --caption_extension, default ".caption"). */
  captionExtension?: string;
  /** Tag files (merge_dd_tags_to_metadata --caption_extension, default ".txt"). */
  tagExtension?: string;
  /** Absolute image paths as keys (default true). false writes bare stems, which current sd-scripts cannot resolve. */
  fullPath?: boolean;
  /** Images in subfolders too (sd-scripts requires --full_path for this). */
  recursive?: boolean;
  /** Start from this metadata (sd-scripts' --in_json); entries for other images are kept. */
  base?: Metadata;
  /** Apply clean_captions_and_tags.py's rules to the merged captions and tags. */
  clean?: boolean;
}

export interface MergeWarning {
  code: 'noCaption' | 'noTags' | 'bareStemKeys' | 'duplicateStem' | 'unreadable' | 'recursiveNeedsFullPath';
  message: string;
  image?: string;
}

export interface MergeResult {
  metadata: Metadata;
  images: number;
  captions: number;
  tags: number;
  warnings: MergeWarning[];
}

/** Python's `splitext(p)[0] + ext`. */
function sidecar(image: string, ext: string): string {
  const dir = path.dirname(image);
  const base = path.basename(image);
  const dot = base.lastIndexOf('.');
  const stem = dot > 0 && /[^.]/.test(base.slice(0, dot)) ? base.slice(0, dot) : base;
  return path.join(dir, stem + ext);
}


async function readText(file: string): Promise<{ text?: string; missing?: boolean; error?: string }> {
  try {
    const bytes = await fsp.readFile(file);
    try {
      return { text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes) };
    } catch {
      return { error: 'not UTF-8' };
    }
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? { missing: true } : { error: (e as Error).message };
  }
}

/**
 * Builds metadata from the caption and tag files next to the images in `root` (both merges in
 * one pass). A missing caption or tag file is a warning here; sd-scripts' scripts stop with
 * FileNotFoundError on the first one. Never throws.
 */
export async function mergeCaptionsAndTags(root: string, o: MergeOptions = {}): Promise<MergeResult> {
  o = o ?? {};
  const capExt = o.captionExtension ?? '.caption';
  const tagExt = o.tagExtension ?? '.txt';
  const fullPath = o.fullPath ?? true;
  const warnings: MergeWarning[] = [];
  const metadata: Metadata = new Map(o?.base ?? []);
  if (typeof root !== 'string' || root === '') return { metadata, images: 0, captions: 0, tags: 0, warnings: [{ code: 'unreadable', message: 'no image folder given' }] };
  if (o.recursive && !fullPath) {
    warnings.push({ code: 'recursiveNeedsFullPath', message: 'recursive needs full-path keys (sd-scripts asserts --full_path with --recursive): using full paths' });
  }
  const useFull = fullPath || !!o.recursive;
  const images = await listImageFiles(path.resolve(root), !!o.recursive);
  let captions = 0;
  let tags = 0;
  const stems = new Map<string, string>();
  for (const image of images) {
    const key = useFull ? image : path.parse(image).name;
    if (!useFull) {
      const prev = stems.get(key);
      if (prev !== undefined) {
        warnings.push({ code: 'duplicateStem', image, message: `${path.basename(image)} and ${path.basename(prev)} share the key "${key}": the later one wins` });
      }
      stems.set(key, image);
    }
    const entry: MetadataEntry = { ...(metadata.get(key) ?? {}) };
    const cap = await readText(sidecar(image, capExt));
    if (cap.text !== undefined) {
      entry.caption = pyStrip(cap.text);
      captions++;
    } else if (cap.missing) {
      warnings.push({ code: 'noCaption', image, message: `${path.basename(image)}: no ${capExt} file (sd-scripts' merge_captions_to_metadata stops here with FileNotFoundError)` });
    } else warnings.push({ code: 'unreadable', image, message: `${sidecar(image, capExt)}: ${cap.error}` });
    const tg = await readText(sidecar(image, tagExt));
    if (tg.text !== undefined) {
      entry.tags = pyStrip(tg.text);
      tags++;
    } else if (tg.missing) {
      warnings.push({ code: 'noTags', image, message: `${path.basename(image)}: no ${tagExt} file (sd-scripts' merge_dd_tags_to_metadata stops here with FileNotFoundError)` });
    } else warnings.push({ code: 'unreadable', image, message: `${sidecar(image, tagExt)}: ${tg.error}` });
    if (o.clean) {
      if (typeof entry.tags === 'string') entry.tags = cleanTags(entry.tags);
      if (typeof entry.caption === 'string') entry.caption = cleanCaption(entry.caption);
    }
    metadata.set(key, entry);
  }
  if (!useFull && images.length) {
    warnings.push({
      code: 'bareStemKeys',
      message:
        'keys are bare file stems (no --full_path): current sd-scripts (since commit c6bc632e, 2026-01-18) joins a key to the image folder without trying extensions, so these keys do not find their images. Use full-path keys.',
    });
  }
  return { metadata, images: images.length, captions, tags, warnings };
}

// ---- clean_captions_and_tags.py rules ----

const W = '[\\p{L}\\p{N}_]';
const re = (s: string, flags = 'gu'): RegExp => new RegExp(s, flags);
const HAIR_LENGTH = `, (long|short|medium) hair, `;
const HAIR_CUT = `, (bob|hime) cut, `;
const HAIR = `, ([${W.slice(1, -1)}\\-]+) hair, `;
const WORD = `, ([${W.slice(1, -1)}\\-]+|hair ornament), `;
const REMOVE_IN_MULTI = [
  HAIR_LENGTH,
  HAIR_CUT,
  `, [${W.slice(1, -1)}\\-]+ eyes, `,
  `, ([${W.slice(1, -1)}\\-]+ sleeves|sleeveless), `,
  `, (ponytail|braid|ahoge|twintails|[${W.slice(1, -1)}\\-]+ bun|single hair bun|single side bun|two side up|two tails|[${W.slice(1, -1)}\\-]+ braid|sidelocks), `,
];

function count(pattern: string, s: string): number {
  return [...s.matchAll(re(pattern))].length;
}

/**
 * clean_captions_and_tags.py's tag rules: `_` → space (but `^_^` stays); a DeepDanbooru
 * `, rating…` tail is cut; with several people ("girls"/"boys" anywhere), hair, eye, sleeve and
 * hairstyle tags that occur more than once are all removed (one shared hair length is kept); a
 * one-word tag is dropped when a longer tag ends with it (`shirt` beside `white shirt`).
 */
export function cleanTags(input: string): string {
  let tags = input.replace(/\^_\^/g, '^@@@^').replace(/_/g, ' ').replace(/\^@@@\^/g, '^_^');
  const parts = tags.split(', rating');
  if (parts.length > 1) tags = parts[0] as string;
  tags = ', ' + tags.split(', ').join(', , ') + ', ';
  if (tags.includes('girls') || tags.includes('boys')) {
    for (const pat of REMOVE_IN_MULTI) {
      if (count(pat, tags) > 1) tags = tags.replace(re(pat), '');
    }
    const len = re(HAIR_LENGTH, 'u').exec(tags);
    if (len) tags = tags.replace(re(HAIR_LENGTH), ', @@@, ');
    if (count(HAIR, tags) > 1) tags = tags.replace(re(HAIR), '');
    if (len) tags = tags.split(', @@@, ').join(len[0]);
  }
  const words = [...tags.matchAll(re(WORD))].map((m) => m[1] as string);
  for (const word of words) {
    const escaped = word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    if (re(`, ((${W}+) )+${escaped}, `, 'u').test(tags)) tags = tags.split(`, ${word}, `).join('');
  }
  tags = tags.split(', , ').join(', ');
  if (tags.startsWith(', ') && tags.endsWith(', ') && tags.length >= 4) return tags.slice(2, -2);
  return tags.replace(/^, |, $/g, '');
}

/** clean_captions_and_tags.py's caption replacements, each repeated until nothing changes, in order. */
export const CAPTION_REPLACEMENTS: readonly (readonly [string, string])[] = [
  ['anime anime', 'anime'],
  ['young ', ''],
  ['anime girl', 'girl'],
  ['cartoon female', 'girl'],
  ['cartoon lady', 'girl'],
  ['cartoon character', 'girl'],
  ['cartoon woman', 'girl'],
  ['cartoon women', 'girls'],
  ['cartoon girl', 'girl'],
  ['anime female', 'girl'],
  ['anime lady', 'girl'],
  ['anime character', 'girl'],
  ['anime woman', 'girl'],
  ['anime women', 'girls'],
  ['lady', 'girl'],
  ['female', 'girl'],
  ['woman', 'girl'],
  ['women', 'girls'],
  ['people', 'girls'],
  ['person', 'girl'],
  ['a cartoon figure', 'a figure'],
  ['a cartoon image', 'an image'],
  ['a cartoon picture', 'a picture'],
  ['an anime cartoon image', 'an image'],
  ['a cartoon anime drawing', 'a drawing'],
  ['a cartoon drawing', 'a drawing'],
  ['girl girl', 'girl'],
];

export function cleanCaption(caption: string): string {
  let c = caption;
  for (const [from, to] of CAPTION_REPLACEMENTS) {
    for (let i = 0; i < 10_000; i++) {
      const next = c.split(from).join(to);
      if (next === c) break;
      c = next;
    }
  }
  return c;
}

// ---- JSON like Python's json.dump(indent=2) ----

function pyJsonString(s: string): string {
  // ensure_ascii: every non-ASCII UTF-16 unit as \uXXXX, like Python
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => (c === '\u007f' ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

function pyJsonValue(v: unknown, indent: string): string {
  const inner = indent + '  ';
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return pyJsonString(v);
  if (typeof v === 'number') return Number.isFinite(v) ? (Number.isInteger(v) ? String(v) : String(v)) : v > 0 ? 'Infinity' : v < 0 ? '-Infinity' : 'NaN';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[\n${v.map((x) => inner + pyJsonValue(x, inner)).join(',\n')}\n${indent}]`;
  }
  const entries = v instanceof Map ? [...v.entries()] : Object.entries(v as Record<string, unknown>);
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, x]) => `${inner}${pyJsonString(String(k))}: ${pyJsonValue(x, inner)}`).join(',\n')}\n${indent}}`;
}

/** The text sd-scripts writes for this metadata (json.dump(indent=2), no trailing newline). */
export function formatMetadata(metadata: Metadata): string {
  return pyJsonValue(metadata, '');
}

/** Writes metadata atomically (temp file + rename). */
export async function writeMetadata(file: string, metadata: Metadata): Promise<void> {
  await atomicWriteFile(file, formatMetadata(metadata));
}

/** End of the JSON value starting at `i` (skipping strings and nesting). */
function valueEnd(text: string, start: number): number {
  let depth = 0;
  let i = start;
  for (; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      if (depth === 0) return i + 1;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      if (depth === 0) return i;
      depth--;
      if (depth === 0) return i + 1;
    } else if (depth === 0 && c === ',') return i;
  }
  return i;
}

function skipWs(text: string, i: number): number {
  while (i < text.length && /\s/.test(text[i] as string)) i++;
  return i;
}

/**
 * Parses metadata JSON keeping the key order (and reads `.jsonl`: one object per line with
 * `image_path`). Never throws.
 */
export function parseMetadata(text: string, jsonl = false): { ok: true; metadata: Metadata } | { ok: false; error: string } {
  const metadata: Metadata = new Map();
  if (typeof text !== 'string') return { ok: false, error: 'no text' };
  if (jsonl) {
    const lines = text.split(/\r?\n/);
    for (let n = 0; n < lines.length; n++) {
      const line = (lines[n] as string).trim();
      if (!line) continue;
      try {
        const o = JSON.parse(line) as Record<string, unknown>;
        if (!o || typeof o !== 'object' || typeof o.image_path !== 'string') return { ok: false, error: `line ${n + 1}: no "image_path"` };
        const { image_path, ...rest } = o;
        metadata.set(image_path as string, rest as MetadataEntry);
      } catch (e) {
        return { ok: false, error: `line ${n + 1}: ${(e as Error).message}` };
      }
    }
    return { ok: true, metadata };
  }
  try {
    const whole = JSON.parse(text) as unknown;
    if (!whole || typeof whole !== 'object' || Array.isArray(whole)) return { ok: false, error: 'the metadata is not a JSON object' };
    // second pass for the key order
    let i = skipWs(text, 0) + 1;
    for (;;) {
      i = skipWs(text, i);
      if (text[i] === '}') break;
      const keyEnd = valueEnd(text, i);
      const key = JSON.parse(text.slice(i, keyEnd)) as string;
      i = skipWs(text, keyEnd) + 1; // ':'
      i = skipWs(text, i);
      const end = valueEnd(text, i);
      metadata.set(key, JSON.parse(text.slice(i, end)) as MetadataEntry);
      i = skipWs(text, end);
      if (text[i] === ',') i++;
      else break;
    }
    return { ok: true, metadata };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

export async function readMetadata(file: string): Promise<{ ok: true; metadata: Metadata } | { ok: false; error: string }> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    return { ok: false, error: `${file} cannot be read: ${(e as Error).message}` };
  }
  const r = parseMetadata(text, file.endsWith('.jsonl'));
  return r.ok ? r : { ok: false, error: `${file}: ${r.error}` };
}

export interface KeyProblem {
  key: string;
  reason: 'bareStem' | 'missing' | 'relativeToCwd';
  message: string;
  /** The image an older sd-scripts would have found (bare stems). */
  image?: string;
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await fsp.stat(p)).isFile();
  } catch {
    return false;
  }
}

/**
 * Checks each key the way current sd-scripts' FineTuningDataset resolves it: an existing path
 * (absolute, or relative to the folder training is started from, `cwd`), else
 * `join(imageDir, key)`. Keys that do not resolve are reported, with bare stems told apart.
 */
export async function checkMetadataKeys(metadata: Metadata, imageDir: string, cwd: string = process.cwd()): Promise<{ resolved: number; problems: KeyProblem[] }> {
  const problems: KeyProblem[] = [];
  let resolved = 0;
  for (const key of metadata.keys()) {
    if (path.isAbsolute(key) ? await isFile(key) : false) {
      resolved++;
      continue;
    }
    if (!path.isAbsolute(key) && (await isFile(path.resolve(cwd, key)))) {
      resolved++;
      problems.push({ key, reason: 'relativeToCwd', message: `"${key}" resolves only relative to the folder training starts from (${cwd})` });
      continue;
    }
    if (await isFile(path.join(imageDir, key))) {
      resolved++;
      continue;
    }
    let found: string | undefined;
    if (!path.extname(key)) {
      for (const ext of [...KOHYA_IMAGE_EXTENSIONS, ...KOHYA_IMAGE_EXTENSIONS.map((e) => e.toUpperCase())]) {
        const candidate = path.join(imageDir, key + ext);
        if (await isFile(candidate)) {
          found = candidate;
          break;
        }
      }
    }
    problems.push(
      found
        ? {
            key,
            reason: 'bareStem',
            image: found,
            message: `"${key}" is a bare stem: older sd-scripts found ${path.basename(found)} by trying extensions, current sd-scripts (since c6bc632e) does not. Regenerate with full-path keys.`,
          }
        : { key, reason: 'missing', message: `"${key}" does not resolve to an image (looked in ${imageDir})` },
    );
  }
  return { resolved, problems };
}
