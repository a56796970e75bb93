/**
 * The tag editor's model: a caption document seen as chips (the tags of the line sd-scripts
 * uses), with the trigger word, the keep_tokens boundary and the diagnostics that concern each
 * chip; and the editor's operations (add, remove, move, replace) turned into minimal text edits
 * that keep the file's formatting (separator style, EOL, final newline, other lines).
 *
 * Pure: no I/O, no `vscode`. Offsets are into the document text without a BOM, like parse.ts.
 */
import {
  addTagEdits,
  findTags,
  minimalEdit,
  moveTagEdits,
  parseCaption,
  removeTagEdits,
  replaceTagEdits,
  splitWeight,
  type CaptionOptions,
  type TextEdit,
} from './parse';
import type { CaptionDiagnostic } from './rules';
import type { ChipProblem, TagChip, TagEditOp, TagEditorProblem } from './tagEditorTypes';

export { isTagEditOp, mapOffsetThroughChange, type ChipProblem, type TagChip, type TagEditOp, type TagEditorProblem } from './tagEditorTypes';

export interface TagEditorModel {
  chips: TagChip[];
  /** with shuffle on: how many chips at the front stay in place (0 = all shuffled); null: shuffle off */
  keepBoundary: number | null;
  /** every diagnostic of the file, with the chip it points at */
  problems: TagEditorProblem[];
  /** lines after the first that hold text (ignored by sd-scripts without wildcards) */
  extraLines: number;
}

export interface ChipModelInputs {
  options?: CaptionOptions;
  trigger?: string | null;
  /** the diagnostics of this text (offsets into the same text) */
  diagnostics?: readonly CaptionDiagnostic[];
}

/** The chips of the first line and what is known about each. */
export function buildChipModel(text: string, inputs: ChipModelInputs = {}): TagEditorModel {
  const options = inputs.options ?? {};
  const doc = parseCaption(text, options);
  const line = doc.lines[0];
  const tags = line?.tags ?? [];
  const shuffle = options.shuffleCaption === true;
  const keep = Math.max(0, Math.trunc(options.keepTokens ?? 0));
  const hasKeepSeparator = (line?.keepSeparators.length ?? 0) > 0;
  // with a keep_tokens_separator on the line the fixed part is what comes before it
  const fixed = hasKeepSeparator ? tags.filter((t) => t.part === 0).length : Math.min(keep, tags.length);
  const triggerKeys = triggerKeysOf(inputs.trigger ?? null, options);
  const chips: TagChip[] = tags.map((t) => ({
    index: t.index,
    text: t.text,
    name: t.name,
    weight: t.weight,
    trigger: triggerKeys.has(t.looseKey),
    kept: shuffle ? t.index < fixed || (hasKeepSeparator && t.part === 2) : null,
    problems: [],
  }));
  const problems: TagEditorProblem[] = [];
  for (const d of inputs.diagnostics ?? []) {
    const s = d.range.startOffset;
    const e = d.range.endOffset;
    // the chip whose text the diagnostic covers (an empty range at a chip's start counts too)
    const chip = tags.find((t) => (s < t.end && e > t.start) || (s === e && s >= t.start && s < t.end));
    const p: ChipProblem = { code: d.code, severity: d.severity, message: d.message };
    if (chip) chips[chip.index]?.problems.push(p);
    problems.push({ ...p, chip: chip ? chip.index : null, fixes: d.fixes.map((f) => f.title) });
  }
  const extraLines = doc.lines.slice(1).filter((l) => l.text.trim() !== '').length;
  return { chips, keepBoundary: shuffle ? fixed : null, problems, extraLines };
}

function triggerKeysOf(trigger: string | null, options: CaptionOptions): Set<string> {
  if (!trigger) return new Set();
  const d = parseCaption(trigger, options);
  return new Set((d.lines[0]?.tags ?? []).map((t) => t.looseKey));
}

/**
 * Splits what the user typed into tags: on the caption separator (and on commas, which is what
 * people type), stripped; empty pieces and line breaks dropped.
 */
export function typedTags(input: string, options: CaptionOptions = {}): string[] {
  const sep = options.captionSeparator && options.captionSeparator !== '' ? options.captionSeparator : ',';
  const pieces = input.replace(/[\r\n]+/g, ' ').split(sep);
  const out: string[] = [];
  for (const p of sep === ',' ? pieces : pieces.flatMap((x) => x.split(','))) {
    const t = p.trim();
    if (t !== '') out.push(t);
  }
  return out;
}

export interface TagEditResult {
  edits: TextEdit[];
  /** why nothing changes, when that is worth saying */
  note?: string;
}

/**
 * The minimal text edits for one tag-editor operation on `text` (its first line). Adding splits
 * the typed text into tags and leaves out those already there (compared like booru tags: case
 * and `_`/space do not matter); several new tags become one edit.
 */
export function tagEditorEdits(text: string, op: TagEditOp, options: CaptionOptions = {}): TagEditResult {
  const doc = parseCaption(text, options);
  const n = doc.lines[0]?.tags.length ?? 0;
  switch (op.op) {
    case 'add': {
      const wanted: string[] = [];
      const seen = new Set<string>();
      const already: string[] = [];
      for (const t of typedTags(op.tag, options)) {
        const key = parseCaption(t, options).lines[0]?.tags[0]?.looseKey ?? t.toLowerCase();
        if (findTags(doc, t, { loose: true }).length > 0) already.push(t);
        else if (!seen.has(key)) {
          seen.add(key);
          wanted.push(t);
        }
      }
      if (wanted.length === 0) {
        return { edits: [], ...(already.length ? { note: `Already there: ${already.join(', ')}` } : {}) };
      }
      return { edits: addTagEdits(doc, wanted.join(doc.join), op.position ?? 'end') };
    }
    case 'remove':
      return { edits: op.index < n ? removeTagEdits(doc, op.index) : [] };
    case 'move': {
      if (op.from >= n || n === 0) return { edits: [] };
      return { edits: moveTagEdits(doc, op.from, Math.min(op.to, n - 1)) };
    }
    case 'replace': {
      const [first, ...rest] = typedTags(op.text, options);
      if (op.index >= n) return { edits: [] };
      if (first === undefined) return { edits: removeTagEdits(doc, op.index) };
      // an edited chip keeps its weight wrapper around the new name: `(blue_hair:1.2)` → `(red_hair:1.2)`
      const t = doc.lines[0]?.tags[op.index];
      let head = first;
      if (op.keepWeight && t && t.weight !== null && splitWeight(first).weight === null) {
        const at = t.text.indexOf(t.name);
        if (at >= 0) head = t.text.slice(0, at) + first + t.text.slice(at + t.name.length);
      }
      // "a, b" typed over a tag: the first replaces it, the others follow it
      const replacement = [head, ...rest].join(doc.join);
      return { edits: replaceTagEdits(doc, op.index, replacement) };
    }
  }
}

/**
 * The one minimal edit that makes the document hold what the user typed in the raw-text box. A
 * browser textarea only knows `\n`: line breaks become the document's own EOL (its first one;
 * `\n` for a single-line file) so a CRLF file stays CRLF.
 */
export function rawTextEdit(current: string, typed: string): TextEdit | null {
  const eol = /\r\n|\r|\n/.exec(current)?.[0] ?? '\n';
  const wanted = eol === '\n' ? typed : typed.replace(/\r\n|\r|\n/g, eol);
  const e = minimalEdit(current, wanted);
  if (!e) return null;
  // never cut a surrogate pair in two (an emoji changed into another shares its high half)
  const high = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;
  let start = e.start;
  let end = e.end;
  if (start > 0 && high(current.charCodeAt(start - 1))) start--;
  const tail = current.length - end;
  let newEnd = wanted.length - tail;
  if (end < current.length && end > 0 && high(current.charCodeAt(end - 1))) {
    end++;
    newEnd++;
  }
  return { start, end, newText: wanted.slice(start, newEnd) };
}

/** Problems with a caption file's bytes that stop the tag editor from editing it. */
export type BlockCode = 'notUtf8' | 'nul' | 'tooLarge' | 'bom';

export interface BlockReason {
  code: BlockCode;
  message: string;
}

/** Bigger files are shown, not edited as chips (a tag file is a few hundred bytes). */
export const TAG_EDITOR_MAX_BYTES = 256 * 1024;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Whether the tag editor may edit a file with these bytes: not when it is not UTF-8 (VS Code
 * would show replacement characters and saving would destroy the original bytes), has NUL bytes
 * (a binary file), is huge, or starts with a byte-order mark (saving keeps it, and sd-scripts
 * glues it to the first tag; remove it first).
 */
export function editBlockReason(bytes: Uint8Array): BlockReason | null {
  if (bytes.length > TAG_EDITOR_MAX_BYTES) {
    return {
      code: 'tooLarge',
      message: `${(bytes.length / 1024).toFixed(0)} KB is far too big for a tag file (the tag editor edits files up to ${TAG_EDITOR_MAX_BYTES / 1024} KB). Open it as text to look at it.`,
    };
  }
  if (bytes.includes(0)) {
    return { code: 'nul', message: 'The file contains NUL bytes: it is not a text file. It is shown read-only and is not changed.' };
  }
  try {
    strictUtf8.decode(bytes);
  } catch {
    return {
      code: 'notUtf8',
      message: 'The file is not UTF-8 (sd-scripts stops training on it). It is shown read-only and is not changed: convert it to UTF-8 first.',
    };
  }
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    return {
      code: 'bom',
      message: 'The file starts with a byte-order mark, which sd-scripts glues to the first tag. Remove it to edit the tags here.',
    };
  }
  return null;
}

/** The previous and next entries around `current` in a list (null at either end). */
export function neighbours<T>(list: readonly T[], current: T): { index: number; prev: T | null; next: T | null } {
  const i = list.indexOf(current);
  if (i < 0) return { index: -1, prev: null, next: null };
  return { index: i, prev: i > 0 ? (list[i - 1] as T) : null, next: i + 1 < list.length ? (list[i + 1] as T) : null };
}

/** Whether the first line of `text` holds `tag` (case and `_`/space do not matter). */
export function findTagsLoose(text: string, tag: string, options: CaptionOptions = {}): boolean {
  return findTags(parseCaption(text, options), tag, { loose: true }).length > 0;
}
