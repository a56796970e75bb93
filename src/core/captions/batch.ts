/**
 * Batch operations over many caption files, computed as a preview (old text → new text, counts
 * per file) without writing anything. `Journal.apply` writes a preview.
 *
 * Tags match case-insensitively and `_` ↔ space-insensitively (`blue_hair` matches `Blue hair`);
 * a weight is kept when a weighted tag is replaced (`(blue_hair:1.2)` → `(blue hair:1.2)`).
 * Operations apply to the lines sd-scripts uses: the first line, or every non-blank line with
 * enable_wildcard. Formatting (separators, EOL, final newline, BOM, other lines) is kept.
 */
import { readFileSync } from 'node:fs';
import {
  applyEdits,
  looseTagKey,
  parseCaption,
  rebuildLineEdits,
  splitWeight,
  type CaptionOptions,
  type TextEdit,
} from './parse';
import { spacesToUnderscores, underscoresToSpaces } from './rules';
import { pyStrip } from './readCaption';

export type BatchOp =
  | { op: 'add'; tags: readonly string[]; position?: 'front' | 'end' | number }
  | { op: 'remove'; tags: readonly string[] }
  | { op: 'replace'; from: string; to: string }
  | { op: 'normalise'; style: 'spaces' | 'underscores' }
  | { op: 'moveToFront'; tag: string }
  | { op: 'dedupe' }
  /** sorts the tags alphabetically (loose key), keeping the first `keep` tags (keep_tokens) in place */
  | { op: 'sort'; keep?: number };

export interface BatchCounts {
  added: number;
  removed: number;
  replaced: number;
  moved: number;
}

export interface BatchInput {
  file: string;
  /** the file's bytes; null when it does not exist (an `add` then creates it) */
  bytes: Uint8Array | null;
  /** set when the file exists but could not be read */
  error?: string;
}

export interface BatchFilePreview {
  file: string;
  /** decoded texts, BOM included */
  oldText: string | null;
  newText: string;
  oldBytes: Uint8Array | null;
  newBytes: Uint8Array;
  counts: BatchCounts;
}

export interface BatchPreview {
  /** only the files that change */
  files: BatchFilePreview[];
  unchanged: number;
  skipped: Array<{ file: string; reason: string }>;
  totals: BatchCounts & { files: number };
}

export interface BatchOptions {
  captionOptions?: CaptionOptions;
  /** create files that do not exist when the batch adds tags (default true) */
  createMissing?: boolean;
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

function keyOf(tag: string): string {
  return looseTagKey(splitWeight(pyStrip(tag)).name);
}

export interface TagItem {
  text: string;
  part: 0 | 1 | 2;
}

function renameKeepingWeight(text: string, to: string): string {
  const { weight } = splitWeight(text);
  if (weight === null) return to;
  const m = /^\((.*):(\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)\s*)\)$/su.exec(text);
  return m ? `(${to}:${m[2] ?? ''})` : to;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Applies the operations to one list of tags. */
export function applyOpsToTags(items: TagItem[], ops: readonly BatchOp[], counts: BatchCounts): TagItem[] {
  let list = items.slice();
  for (const op of ops) {
    switch (op.op) {
      case 'add': {
        const toAdd = op.tags.map(pyStrip).filter((t) => t !== '' && !list.some((x) => keyOf(x.text) === keyOf(t)));
        const unique = toAdd.filter((t, i) => toAdd.findIndex((u) => keyOf(u) === keyOf(t)) === i);
        if (unique.length === 0) break;
        const pos = op.position ?? 'end';
        const at = pos === 'front' ? 0 : pos === 'end' ? list.length : Math.max(0, Math.min(list.length, Math.trunc(pos)));
        const part: 0 | 1 | 2 = list.length === 0 ? 0 : at === 0 ? (list[0] as TagItem).part : (list[at - 1] as TagItem).part;
        list.splice(at, 0, ...unique.map((text) => ({ text, part })));
        counts.added += unique.length;
        break;
      }
      case 'remove': {
        const keys = new Set(op.tags.map(keyOf));
        const before = list.length;
        list = list.filter((x) => !keys.has(keyOf(x.text)));
        counts.removed += before - list.length;
        break;
      }
      case 'replace': {
        const from = keyOf(op.from);
        const to = pyStrip(op.to);
        if (to === '') {
          const before = list.length;
          list = list.filter((x) => keyOf(x.text) !== from);
          counts.removed += before - list.length;
          break;
        }
        list = list.map((x) => {
          if (keyOf(x.text) !== from) return x;
          const text = renameKeepingWeight(x.text, to);
          if (text === x.text) return x;
          counts.replaced++;
          return { ...x, text };
        });
        break;
      }
      case 'normalise': {
        list = list.map((x) => {
          const text = op.style === 'spaces' ? underscoresToSpaces(x.text) : spacesToUnderscores(x.text);
          if (text === x.text) return x;
          counts.replaced++;
          return { ...x, text };
        });
        break;
      }
      case 'moveToFront': {
        const k = keyOf(op.tag);
        const i = list.findIndex((x) => keyOf(x.text) === k);
        if (i <= 0) break;
        const first = list[0] as TagItem;
        const [moved] = list.splice(i, 1);
        if (moved) list.unshift({ text: moved.text, part: first.part });
        counts.moved++;
        break;
      }
      case 'sort': {
        const keep = Math.max(0, Math.trunc(op.keep ?? 0));
        const head = list.slice(0, keep);
        // each part is sorted on its own, so `|||` parts keep their tags
        const tail = list.slice(keep);
        const sorted = [...tail].sort((a, b) => a.part - b.part || cmp(keyOf(a.text), keyOf(b.text)));
        const movedCount = sorted.filter((x, i) => x !== tail[i]).length;
        if (movedCount > 0) {
          counts.moved += movedCount;
          list = [...head, ...sorted];
        }
        break;
      }
      case 'dedupe': {
        const seen = new Set<string>();
        const before = list.length;
        list = list.filter((x) => {
          const k = keyOf(x.text);
          if (seen.has(k)) return false;
          seen.add(k);
          return true;
        });
        counts.removed += before - list.length;
        break;
      }
    }
  }
  return list;
}

/** The new text of one caption (decoded, BOM included) after the operations. Never throws. */
export function transformCaption(
  text: string,
  ops: readonly BatchOp[],
  options: CaptionOptions = {},
): { text: string; counts: BatchCounts; edits: TextEdit[] } {
  const counts: BatchCounts = { added: 0, removed: 0, replaced: 0, moved: 0 };
  const doc = parseCaption(text, options);
  const edits: TextEdit[] = [];
  for (const li of doc.captionLines) {
    const l = doc.lines[li];
    if (!l) continue;
    const items = l.tags.map((t) => ({ text: t.text, part: t.part }));
    const next = applyOpsToTags(items, ops, counts);
    const same = next.length === items.length && next.every((x, i) => x.text === items[i]?.text && x.part === items[i]?.part);
    if (!same) edits.push(...rebuildLineEdits(doc, li, next));
  }
  const newBody = applyEdits(doc.text, edits);
  return { text: (doc.bom ? '\ufeff' : '') + newBody, counts, edits };
}

/** Computes what the operations would do to each file. Writes nothing; never throws. */
export function previewBatch(inputs: readonly BatchInput[], ops: readonly BatchOp[], options: BatchOptions = {}): BatchPreview {
  const files: BatchFilePreview[] = [];
  const skipped: BatchPreview['skipped'] = [];
  const totals = { files: 0, added: 0, removed: 0, replaced: 0, moved: 0 };
  let unchanged = 0;
  const createMissing = options.createMissing ?? true;
  for (const input of inputs) {
    if (input.error !== undefined) {
      skipped.push({ file: input.file, reason: `cannot be read: ${input.error}` });
      continue;
    }
    let oldText: string | null = null;
    if (input.bytes === null) {
      if (!createMissing || !ops.some((o) => o.op === 'add')) {
        unchanged++;
        continue;
      }
    } else {
      try {
        oldText = decoder.decode(input.bytes);
      } catch {
        skipped.push({ file: input.file, reason: 'not UTF-8: left untouched (sd-scripts would stop on it too; re-save it as UTF-8)' });
        continue;
      }
    }
    const base = oldText ?? '';
    const r = transformCaption(base, ops, options.captionOptions);
    let newText = r.text;
    // a new file ends with a newline, as WD14 writes them
    if (oldText === null) newText += '\n';
    if (oldText !== null && newText === oldText) {
      unchanged++;
      continue;
    }
    const newBytes = encoder.encode(newText);
    files.push({ file: input.file, oldText, newText, oldBytes: input.bytes, newBytes, counts: r.counts });
    totals.files++;
    totals.added += r.counts.added;
    totals.removed += r.counts.removed;
    totals.replaced += r.counts.replaced;
    totals.moved += r.counts.moved;
  }
  return { files, unchanged, skipped, totals };
}

/**
 * Reads files for a batch; a missing file gives `bytes: null`. Synchronous reads in chunks (the
 * event loop gets a turn after each). Never throws.
 */
export async function readBatchInputs(files: readonly string[], chunk = 256): Promise<BatchInput[]> {
  const out: BatchInput[] = [];
  for (let i = 0; i < files.length; i++) {
    if (i > 0 && i % Math.max(1, chunk) === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const file = files[i] as string;
    try {
      out.push({ file, bytes: readFileSync(file) });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      out.push(code === 'ENOENT' ? { file, bytes: null } : { file, bytes: null, error: (e as Error).message });
    }
  }
  return out;
}
