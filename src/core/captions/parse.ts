/**
 * The caption/tag document model: a caption file parsed into lines and tags with exact offsets,
 * keeping everything needed to write it back byte for byte (separator style, EOL style, final
 * newline, byte-order mark, other lines), plus minimal text edits (add, remove, replace, move,
 * reorder) that an editor can apply and undo.
 *
 * Offsets are UTF-16 code-unit offsets into `doc.text`, which is the decoded file WITHOUT a leading
 * byte-order mark (VS Code's TextDocument does not show the BOM either); `doc.bom` says whether the
 * file had one, and `serializeCaption` puts it back.
 *
 * Pure: no I/O, no `vscode`. Nothing here throws on any input string.
 */
import { PY_SPACE } from './readCaption';

/** The subset options of sd-scripts that change how a caption is split and fed to the model. */
export interface CaptionOptions {
  /** sd-scripts' `caption_separator` (default ","). */
  captionSeparator?: string;
  /** `keep_tokens_separator`, e.g. "|||" (default: none). */
  keepTokensSeparator?: string;
  /** `keep_tokens` (default 0). */
  keepTokens?: number;
  /** `enable_wildcard`: every non-empty line is a caption, `{a|b}` picks one option. */
  enableWildcard?: boolean;
  /** `shuffle_caption`. */
  shuffleCaption?: boolean;
  /** `secondary_separator`, replaced by `caption_separator` at the very end. */
  secondarySeparator?: string;
  /** `caption_prefix` / `caption_suffix`, joined to the caption with a space. */
  captionPrefix?: string;
  captionSuffix?: string;
  /** `token_warmup_step` (> 0 turns token processing on). */
  tokenWarmupStep?: number;
  /** `caption_tag_dropout_rate` (> 0 turns token processing on). */
  captionTagDropoutRate?: number;
  /** `weighted_captions`: `(tag:1.2)` is a weight, not part of the tag. */
  weightedCaptions?: boolean;
}

export interface TextEdit {
  /** offsets into the document text (BOM excluded); end exclusive */
  start: number;
  end: number;
  newText: string;
}

export interface WildcardGroup {
  /** offsets of `{` and one past `}` */
  start: number;
  end: number;
  options: string[];
}

export interface CaptionTag {
  /** the tag as written, stripped of white space: `(blue_hair:1.2)` */
  text: string;
  /** without a `(name:weight)` wrapper: `blue_hair` */
  name: string;
  /** comparison key: `name` lower-cased (CLIP lower-cases text) */
  key: string;
  /** `key` with `_` between letters/digits read as a space: `blue hair` */
  looseKey: string;
  weight: number | null;
  /** offsets of the stripped tag in `doc.text` */
  start: number;
  end: number;
  /** line number (0-based) */
  line: number;
  /** position among the tags of its line (0-based) */
  index: number;
  /** which keep-tokens part it is in: 0 fixed (or the only part), 1 flex, 2 fixed suffix */
  part: 0 | 1 | 2;
  wildcards: WildcardGroup[];
}

export interface CaptionLine {
  index: number;
  /** offsets of the line content (EOL excluded) */
  start: number;
  end: number;
  /** the line's terminator: '\n', '\r\n', '\r' or '' for the last line */
  eol: string;
  text: string;
  tags: CaptionTag[];
  /** offsets of the keep-tokens separators found on this line (at most two count) */
  keepSeparators: Array<{ start: number; end: number }>;
  /** pieces between separators that are empty or only white space (sd-scripts keeps them without `|||`) */
  emptyPieces: number;
}

export interface CaptionDocument {
  /** decoded text without the BOM */
  text: string;
  bom: boolean;
  /** the first line terminator found, '\n' when there is none */
  eol: string;
  finalNewline: boolean;
  lines: CaptionLine[];
  /** the indices of the lines sd-scripts uses: [0], or every non-blank line with enable_wildcard */
  captionLines: number[];
  /** the string put between tags on insertion, in the file's own style: ", " or "," (or `;` etc.) */
  join: string;
  options: CaptionOptions;
}

const NO_WILDCARDS: WildcardGroup[] = [];
const LEAD_SPACE = new RegExp(`^${PY_SPACE}+`, 'u');
const TRAIL_SPACE = new RegExp(`${PY_SPACE}+$`, 'u');
const WEIGHT = /^\((.*):\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*\)$/su;

const WORD_CHAR = /[\p{L}\p{N}]/u;

function isWordChar(c: number, s: string, i: number): boolean {
  if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a)) return true;
  if (c < 0x80) return false;
  return WORD_CHAR.test(String.fromCodePoint(s.codePointAt(i) ?? c));
}

/** The tag as compared: lower-cased, `_` between two letters/digits read as a space (booru style). */
export function looseTagKey(s: string): string {
  const lower = s.toLowerCase();
  // fast path: most tags have neither an underscore nor a double space
  if (!lower.includes('_') && !lower.includes('  ')) return lower;
  let out = '';
  let last = 0;
  for (let i = 0; i < lower.length; i++) {
    const c = lower.charCodeAt(i);
    if (c === 0x5f /* _ */ && i > 0 && i + 1 < lower.length) {
      // the character before may be the low half of a surrogate pair
      const p = lower.charCodeAt(i - 1);
      const prevAt = p >= 0xdc00 && p <= 0xdfff && i > 1 ? i - 2 : i - 1;
      if (isWordChar(lower.charCodeAt(prevAt), lower, prevAt) && isWordChar(lower.charCodeAt(i + 1), lower, i + 1)) {
        out += lower.slice(last, i) + ' ';
        last = i + 1;
      }
    }
  }
  out += lower.slice(last);
  return out.includes('  ') ? out.replace(/ {2,}/g, ' ') : out;
}

export function separatorOf(options: CaptionOptions): string {
  const s = options.captionSeparator;
  return s === undefined || s === '' ? ',' : s;
}

/** Splits a tag's text into its name and weight (`(tk:1.2)` → `tk`, 1.2). */
export function splitWeight(text: string): { name: string; weight: number | null } {
  if (!text.startsWith('(')) return { name: text, weight: null };
  const m = WEIGHT.exec(text);
  if (!m) return { name: text, weight: null };
  const name = (m[1] ?? '').replace(LEAD_SPACE, '').replace(TRAIL_SPACE, '');
  const weight = Number(m[2]);
  if (name === '' || !Number.isFinite(weight)) return { name: text, weight: null };
  return { name, weight };
}

/** Lines as Python's text mode reads them: `\r\n`, `\r` and `\n` all end a line. */
export function splitLines(text: string): Array<{ start: number; end: number; eol: string }> {
  const out: Array<{ start: number; end: number; eol: string }> = [];
  const re = /\r\n|\r|\n/g;
  let start = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    out.push({ start, end: m.index, eol: m[0] });
    start = m.index + m[0].length;
  }
  // the text after the last EOL is a line only if it is not empty (readlines() semantics),
  // but an empty document still has one (empty) line for editing
  if (start < text.length || out.length === 0) out.push({ start, end: text.length, eol: '' });
  return out;
}

/**
 * Finds `{...}` wildcard groups as sd-scripts does: `{{` and `}}` are literal braces first, then
 * `\{([^}]+)\}` matches a group.
 */
export function findWildcards(line: string, base = 0): WildcardGroup[] {
  // mask the literal pairs with characters that cannot match, keeping offsets
  const masked = line.replace(/\{\{/g, '\u0000\u0000').replace(/\}\}/g, '\u0001\u0001');
  const out: WildcardGroup[] = [];
  const re = /\{([^}\u0001]+)\}/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(masked)) !== null) {
    const inner = line.slice(m.index + 1, m.index + m[0].length - 1);
    out.push({ start: base + m.index, end: base + m.index + m[0].length, options: inner.split('|') });
  }
  return out;
}

function parseLine(
  text: string,
  index: number,
  span: { start: number; end: number; eol: string },
  options: CaptionOptions,
): CaptionLine {
  const lineText = text.slice(span.start, span.end);
  const sep = separatorOf(options);
  const kts = options.keepTokensSeparator ?? '';
  const wild = options.enableWildcard === true ? findWildcards(lineText, 0) : [];
  const inWildcard = (i: number): boolean => wild.some((w) => i > w.start && i < w.end - 1);

  // cut points: keep-tokens separators (first two outside wildcards) and tag separators
  const keepSeparators: Array<{ start: number; end: number }> = [];
  if (kts !== '') {
    let from = 0;
    while (keepSeparators.length < 2) {
      const at = lineText.indexOf(kts, from);
      if (at < 0) break;
      if (!inWildcard(at)) keepSeparators.push({ start: at, end: at + kts.length });
      from = at + kts.length;
    }
  }
  const parts: Array<{ start: number; end: number; part: 0 | 1 | 2 }> = [];
  let partStart = 0;
  keepSeparators.forEach((ks, i) => {
    parts.push({ start: partStart, end: ks.start, part: i === 0 ? 0 : 1 });
    partStart = ks.end;
  });
  parts.push({ start: partStart, end: lineText.length, part: keepSeparators.length === 0 ? 0 : keepSeparators.length === 1 ? 1 : 2 });

  const tags: CaptionTag[] = [];
  let emptyPieces = 0;
  for (const p of parts) {
    let pieceStart = p.start;
    let from = p.start;
    const pieces: Array<{ start: number; end: number }> = [];
    for (;;) {
      const at = lineText.indexOf(sep, from);
      if (at < 0 || at >= p.end || at + sep.length > p.end) break;
      from = at + sep.length;
      if (inWildcard(at)) continue;
      pieces.push({ start: pieceStart, end: at });
      pieceStart = at + sep.length;
    }
    pieces.push({ start: pieceStart, end: p.end });
    for (const pc of pieces) {
      const raw = lineText.slice(pc.start, pc.end);
      const lead = LEAD_SPACE.exec(raw)?.[0].length ?? 0;
      if (lead === raw.length) {
        emptyPieces++;
        continue;
      }
      const trail = TRAIL_SPACE.exec(raw)?.[0].length ?? 0;
      const s = pc.start + lead;
      const e = pc.end - trail;
      const tagText = lineText.slice(s, e);
      const { name, weight } = splitWeight(tagText);
      tags.push({
        text: tagText,
        name,
        key: name.toLowerCase(),
        looseKey: looseTagKey(name),
        weight,
        start: span.start + s,
        end: span.start + e,
        line: index,
        index: tags.length,
        part: p.part,
        wildcards:
          wild.length === 0
            ? NO_WILDCARDS
            : wild.filter((w) => w.start >= s && w.end <= e).map((w) => ({ ...w, start: w.start + span.start, end: w.end + span.start })),
      });
    }
  }
  // a line with no text at all has one empty piece; that is not worth reporting
  if (lineText === '') emptyPieces = 0;
  return {
    index,
    start: span.start,
    end: span.end,
    eol: span.eol,
    text: lineText,
    tags,
    keepSeparators: keepSeparators.map((k) => ({ start: k.start + span.start, end: k.end + span.start })),
    emptyPieces,
  };
}

/** The join string in the file's own style: the separator plus the white space most often after it. */
function detectJoin(lines: CaptionLine[], text: string, sep: string): string {
  const counts = new Map<string, number>();
  for (const l of lines) {
    for (let i = 1; i < l.tags.length; i++) {
      const prev = l.tags[i - 1] as CaptionTag;
      const cur = l.tags[i] as CaptionTag;
      if (prev.part !== cur.part) continue;
      const between = text.slice(prev.end, cur.start);
      const at = between.indexOf(sep);
      if (at < 0) continue;
      const after = between.slice(at);
      counts.set(after, (counts.get(after) ?? 0) + 1);
    }
  }
  let best = '';
  let bestN = 0;
  for (const [k, n] of counts) if (n > bestN) [best, bestN] = [k, n];
  if (bestN > 0) return best;
  // no two tags yet: ", " for a comma (what WD14 and most tools write), the separator as is otherwise
  return sep === ',' ? ', ' : sep;
}

/** Parses decoded caption text (a leading BOM is recorded and removed from `text`). Never throws. */
export function parseCaption(input: string, options: CaptionOptions = {}): CaptionDocument {
  const bom = input.startsWith('\ufeff');
  const text = bom ? input.slice(1) : input;
  const spans = splitLines(text);
  const lines = spans.map((s, i) => parseLine(text, i, s, options));
  const firstEol = spans.find((s) => s.eol !== '')?.eol ?? '\n';
  const finalNewline = /[\r\n]$/.test(text);
  const captionLines =
    options.enableWildcard === true
      ? lines.filter((l) => l.text.replace(LEAD_SPACE, '') !== '').map((l) => l.index)
      : [0];
  return {
    text,
    bom,
    eol: firstEol,
    finalNewline,
    lines,
    captionLines,
    join: detectJoin(lines, text, separatorOf(options)),
    options,
  };
}

/** The file's text again, BOM included: `serializeCaption(parseCaption(s)) === s` for every s. */
export function serializeCaption(doc: Pick<CaptionDocument, 'text' | 'bom'>): string {
  return (doc.bom ? '\ufeff' : '') + doc.text;
}

/** Applies non-overlapping edits (any order) to a text. Overlapping edits are dropped, not applied twice. */
export function applyEdits(text: string, edits: readonly TextEdit[]): string {
  const sorted = [...edits]
    .filter((e) => e.start >= 0 && e.end >= e.start && e.end <= text.length)
    .sort((a, b) => a.start - b.start || a.end - b.end);
  let out = '';
  let pos = 0;
  for (const e of sorted) {
    if (e.start < pos) continue;
    out += text.slice(pos, e.start) + e.newText;
    pos = e.end;
  }
  return out + text.slice(pos);
}

/** The smallest single edit that turns `oldText` into `newText` (common prefix and suffix kept). */
export function minimalEdit(oldText: string, newText: string, base = 0): TextEdit | null {
  if (oldText === newText) return null;
  let p = 0;
  const max = Math.min(oldText.length, newText.length);
  while (p < max && oldText.charCodeAt(p) === newText.charCodeAt(p)) p++;
  let s = 0;
  while (
    s < max - p &&
    oldText.charCodeAt(oldText.length - 1 - s) === newText.charCodeAt(newText.length - 1 - s)
  ) s++;
  return { start: base + p, end: base + oldText.length - s, newText: newText.slice(p, newText.length - s) };
}

/** Line/character of an offset (0-based, UTF-16 characters, as VS Code counts). */
export function positionAt(doc: Pick<CaptionDocument, 'lines'>, offset: number): { line: number; character: number } {
  let lo = 0;
  let hi = doc.lines.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((doc.lines[mid] as CaptionLine).start <= offset) lo = mid;
    else hi = mid - 1;
  }
  const l = doc.lines[lo];
  if (!l) return { line: 0, character: 0 };
  return { line: lo, character: Math.max(0, Math.min(offset, l.end + l.eol.length) - l.start) };
}

// ---------------------------------------------------------------------------------------------
// Edits. Each returns the edits for one line (default: the first); [] when there is nothing to do
// or the index is out of range.

function lineOf(doc: CaptionDocument, line: number): CaptionLine | undefined {
  return doc.lines[line];
}

/** Where a new first tag goes: before the first tag, or at the line start (after leading space). */
function frontOffset(l: CaptionLine): number {
  const first = l.tags[0];
  if (first) return first.start;
  return l.start + (LEAD_SPACE.exec(l.text)?.[0].length ?? 0);
}

/**
 * Inserts `tag` at `position` ('front', 'end' or a tag index: before the tag now at that index;
 * an index past the end means 'end').
 */
export function addTagEdits(
  doc: CaptionDocument,
  tag: string,
  position: 'front' | 'end' | number = 'end',
  line = 0,
): TextEdit[] {
  const l = lineOf(doc, line);
  if (!l || tag === '') return [];
  const n = l.tags.length;
  const at = position === 'front' ? 0 : position === 'end' ? n : Math.max(0, Math.min(n, Math.trunc(position)));
  if (n === 0) {
    const off = frontOffset(l);
    // keep white space (if any) after the insertion point as it is
    const rest = doc.text.slice(off, l.end);
    const sepFirst = doc.options.keepTokensSeparator && rest.startsWith(doc.options.keepTokensSeparator) ? ' ' : '';
    return [{ start: off, end: off, newText: tag + sepFirst }];
  }
  if (at < n) {
    const before = l.tags[at] as CaptionTag;
    const prev = at > 0 ? l.tags[at - 1] : undefined;
    if (prev && prev.part !== before.part) {
      // the insertion point follows a `|||`: put the tag at the end of the previous part's tags
      return [{ start: prev.end, end: prev.end, newText: doc.join + tag }];
    }
    return [{ start: before.start, end: before.start, newText: tag + doc.join }];
  }
  const last = l.tags[n - 1] as CaptionTag;
  return [{ start: last.end, end: last.end, newText: doc.join + tag }];
}

/** The range that removing tag `index` of line `line` deletes: the tag and one adjoining separator. */
export function tagRemovalRange(doc: CaptionDocument, index: number, line = 0): { start: number; end: number } | null {
  const l = lineOf(doc, line);
  const t = l?.tags[index];
  if (!l || !t) return null;
  const next = l.tags[index + 1];
  if (next && next.part === t.part) return { start: t.start, end: next.start };
  const prev = l.tags[index - 1];
  if (prev && prev.part === t.part) return { start: prev.end, end: t.end };
  return { start: t.start, end: t.end };
}

export function removeTagEdits(doc: CaptionDocument, index: number, line = 0): TextEdit[] {
  const r = tagRemovalRange(doc, index, line);
  return r ? [{ ...r, newText: '' }] : [];
}

/** Removes several tags of one line at once (indices in any order, duplicates ignored). */
export function removeTagsEdits(doc: CaptionDocument, indices: readonly number[], line = 0): TextEdit[] {
  const l = lineOf(doc, line);
  if (!l) return [];
  const drop = new Set(indices.filter((i) => i >= 0 && i < l.tags.length));
  if (drop.size === 0) return [];
  return rebuildLineEdits(doc, line, l.tags.filter((t) => !drop.has(t.index)).map((t) => ({ text: t.text, part: t.part })));
}

export function replaceTagEdits(doc: CaptionDocument, index: number, newTag: string, line = 0): TextEdit[] {
  const t = lineOf(doc, line)?.tags[index];
  if (!t) return [];
  if (newTag === '') return removeTagEdits(doc, index, line);
  return t.text === newTag ? [] : [{ start: t.start, end: t.end, newText: newTag }];
}

/** Moves tag `from` to position `to` (indices of the current order). */
export function moveTagEdits(doc: CaptionDocument, from: number, to: number, line = 0): TextEdit[] {
  const l = lineOf(doc, line);
  if (!l || !l.tags[from] || to < 0 || to >= l.tags.length || from === to) return [];
  const order = l.tags.map((t) => t.index);
  order.splice(from, 1);
  order.splice(to, 0, from);
  return reorderTagsEdits(doc, order, line);
}

/**
 * Moves a tag to the front. Within one keep-tokens part the tags swap places; a tag from a later
 * part joins the first part, the others keep their parts.
 */
export function moveToFrontEdits(doc: CaptionDocument, index: number, line = 0): TextEdit[] {
  const l = lineOf(doc, line);
  const t = l?.tags[index];
  const first = l?.tags[0];
  if (!l || !t || !first || index === 0) return [];
  if (t.part === first.part) return moveTagEdits(doc, index, 0, line);
  const rest = l.tags.filter((x) => x.index !== index).map((x) => ({ text: x.text, part: x.part }));
  return rebuildLineEdits(doc, line, [{ text: t.text, part: first.part }, ...rest]);
}

/**
 * Puts the tags of a line in a new order (`order` lists current indices; it must be a permutation).
 * Tags keep their texts; the separators between them keep their places, so only tag texts move.
 * Each tag stays in the keep-tokens part of the slot it lands in.
 */
export function reorderTagsEdits(doc: CaptionDocument, order: readonly number[], line = 0): TextEdit[] {
  const l = lineOf(doc, line);
  if (!l) return [];
  const n = l.tags.length;
  if (order.length !== n || new Set(order).size !== n || order.some((i) => !Number.isInteger(i) || i < 0 || i >= n)) return [];
  const edits: TextEdit[] = [];
  order.forEach((src, slot) => {
    const dest = l.tags[slot] as CaptionTag;
    const from = l.tags[src] as CaptionTag;
    if (dest.text !== from.text) edits.push({ start: dest.start, end: dest.end, newText: from.text });
  });
  return edits;
}

/**
 * Rewrites the tags of a line from a list (used by batch operations that change several tags at
 * once): separators between kept neighbours are reused, new ones use the file's style; returns one
 * minimal edit.
 */
export function rebuildLineEdits(
  doc: CaptionDocument,
  line: number,
  tags: ReadonlyArray<{ text: string; part?: 0 | 1 | 2 }>,
): TextEdit[] {
  const l = lineOf(doc, line);
  if (!l) return [];
  const newText = renderLine(doc, l, tags);
  const e = minimalEdit(l.text, newText, l.start);
  return e ? [e] : [];
}

function renderLine(doc: CaptionDocument, l: CaptionLine, tags: ReadonlyArray<{ text: string; part?: 0 | 1 | 2 }>): string {
  const first = l.tags[0];
  const last = l.tags[l.tags.length - 1];
  const lead = first ? doc.text.slice(l.start, first.start) : l.text.slice(0, LEAD_SPACE.exec(l.text)?.[0].length ?? 0);
  const trail = last ? doc.text.slice(last.end, l.end) : '';
  if (!first || !last) {
    // no tags before: keep the line's white space, then the new tags
    return lead + tags.map((t) => t.text).join(doc.join) + l.text.slice(lead.length);
  }
  const kts = doc.options.keepTokensSeparator ?? '';
  // the text between two parts, as written (e.g. " ||| "), per part boundary
  const boundary = (p: 0 | 1 | 2): string => {
    const before = l.tags.filter((t) => t.part < p).pop();
    const after = l.tags.find((t) => t.part >= p);
    const ks = l.keepSeparators[p - 1];
    if (before && after && ks && before.end <= ks.start && ks.end <= after.start) return doc.text.slice(before.end, after.start);
    return ` ${kts} `;
  };
  let out = lead;
  let prev: { text: string; part: 0 | 1 | 2 } | undefined;
  const hasParts = l.keepSeparators.length > 0;
  for (const t of tags) {
    const part = hasParts ? (t.part ?? 0) : 0;
    if (prev) {
      if (part !== prev.part) {
        let b = '';
        for (let p = prev.part + 1; p <= part; p++) b += boundary(p as 1 | 2);
        out += b;
      } else out += separatorBetween(doc, l, prev.text, t.text);
    } else if (part > 0) {
      // the line starts inside a later part: keep the separators before it
      for (let p = 1; p <= part; p++) out += boundary(p as 1 | 2).replace(/^\s+/, '');
    }
    out += t.text;
    prev = { text: t.text, part };
  }
  // separators still written after the last tag (empty later parts) are kept as they were
  if (prev && hasParts) {
    const lastSep = l.keepSeparators[l.keepSeparators.length - 1];
    const lastPart = l.keepSeparators.length as 1 | 2;
    if (prev.part < lastPart && lastSep && last.end <= lastSep.start) {
      return out + doc.text.slice(last.end, l.end);
    }
  }
  return out + trail;
}

/** The separator text between two adjacent tags: reused from the original line when they were neighbours. */
function separatorBetween(doc: CaptionDocument, l: CaptionLine, a: string, b: string): string {
  for (let i = 1; i < l.tags.length; i++) {
    const x = l.tags[i - 1] as CaptionTag;
    const y = l.tags[i] as CaptionTag;
    if (x.text === a && y.text === b && x.part === y.part) return doc.text.slice(x.end, y.start);
  }
  return doc.join;
}

/** Finds the tags of a line matching a name (case-insensitive; `loose` also matches `_` ↔ space). */
export function findTags(doc: CaptionDocument, name: string, options: { loose?: boolean; line?: number } = {}): CaptionTag[] {
  const l = lineOf(doc, options.line ?? 0);
  if (!l) return [];
  const { name: bare } = splitWeight(name.trim());
  const key = options.loose ? looseTagKey(bare) : bare.toLowerCase();
  return l.tags.filter((t) => (options.loose ? t.looseKey : t.key) === key);
}
