/**
 * Caption diagnostics as plain data, for the Problems panel, `lwb lint` and the tests.
 *
 * File rules look at one caption file (bytes or text) with its concept's trigger and options;
 * `CaptionIndex` keeps every file's result and per-concept tag counts so that a changed file is
 * re-checked alone, and the data-driven "pollution candidate" rule is answered from the counts.
 *
 * Codes are stable; severities are configurable per code (or 'off').
 */
import {
  addTagEdits,
  looseTagKey,
  moveToFrontEdits,
  parseCaption,
  positionAt,
  rebuildLineEdits,
  removeTagEdits,
  separatorOf,
  splitWeight,
  type CaptionDocument,
  type CaptionLine,
  type CaptionOptions,
  type CaptionTag,
  type TextEdit,
} from './parse';
import { feedCaption, readCaptionText, resolveWildcards } from './feed';
import { estimateClipTokens } from './clipTokenizer';
import { pyStrip } from './readCaption';

export type Severity = 'error' | 'warning' | 'info' | 'hint';

export const RULES = {
  'empty-file': { severity: 'error', summary: 'Empty caption file: sd-scripts stops training' },
  'not-utf8': { severity: 'error', summary: 'Not UTF-8: sd-scripts stops training' },
  unreadable: { severity: 'error', summary: 'The caption file cannot be read' },
  bom: { severity: 'warning', summary: 'Byte-order mark glued to the first tag' },
  'blank-caption': { severity: 'warning', summary: 'The caption sd-scripts uses is blank' },
  'multi-line': { severity: 'warning', summary: 'Several lines without enable_wildcard: only the first is used' },
  'trigger-missing': { severity: 'warning', summary: 'The trigger word is missing' },
  'trigger-not-first': { severity: 'info', summary: 'The trigger word is not the first tag' },
  'trigger-not-kept': { severity: 'warning', summary: 'shuffle_caption moves the trigger word: it is outside keep_tokens' },
  'keep-separator-literal': { severity: 'warning', summary: 'keep_tokens_separator without token processing stays in the caption' },
  'duplicate-tag': { severity: 'info', summary: 'The same tag twice' },
  'mixed-underscore-style': { severity: 'info', summary: 'Underscores and spaces mixed between words' },
  'absorbed-tag': { severity: 'warning', summary: 'A tag the trigger word should absorb' },
  'pollution-candidate': { severity: 'info', summary: 'A tag on most images of the concept may take the trigger word’s features' },
  'caption-too-long': { severity: 'warning', summary: 'Longer than max_token_length CLIP tokens: the rest is cut off' },
} as const satisfies Record<string, { severity: Severity; summary: string }>;

export type RuleCode = keyof typeof RULES;

export interface Position {
  line: number;
  character: number;
}

export interface DiagnosticRange {
  start: Position;
  end: Position;
  /** offsets into the document text (without a BOM), end exclusive */
  startOffset: number;
  endOffset: number;
}

export interface Fix {
  title: string;
  /** edits to the document text (BOM excluded) */
  edits: TextEdit[];
  /** the fix also drops the byte-order mark (save as UTF-8 without BOM) */
  removeBom?: boolean;
}

export interface CaptionDiagnostic {
  file: string;
  range: DiagnosticRange;
  code: RuleCode;
  severity: Severity;
  message: string;
  fixes: Fix[];
}

export interface RuleConfig {
  severities?: Partial<Record<RuleCode, Severity | 'off'>>;
  /** share of a concept's caption files a tag must be on to be a pollution candidate (default 0.8) */
  pollutionShare?: number;
  /** concepts with fewer caption files are not checked for pollution (default 5) */
  pollutionMinFiles?: number;
  /** max_token_length (75, 150 or 225): longer captions are reported; unset: not checked */
  maxTokenLength?: number;
  /** counts CLIP tokens (without start/end); default: `estimateClipTokens` */
  countTokens?: (text: string) => number;
  /** the counts are estimates (no CLIP vocabulary): the message says so */
  tokenCountEstimated?: boolean;
}

/** What the rules need to know about the concept a file belongs to. */
export interface ConceptContext {
  trigger: string | null;
  /** tags that describe what the trigger should learn ("absorbed by the trigger") */
  absorbed?: readonly string[];
  /** tags never reported as pollution candidates (e.g. the class tag) */
  pollutionIgnore?: readonly string[];
  options?: CaptionOptions;
}

export interface FileLint {
  diagnostics: CaptionDiagnostic[];
  /** null when the file could not be decoded */
  doc: CaptionDocument | null;
  /** loose keys of the tags on the lines sd-scripts uses, each once (for per-concept counts) */
  tagKeys: string[];
  /** the first spelling of each of `tagKeys`, same order */
  tagNames: string[];
}

const WORD_UNDERSCORE = /(?<=[\p{L}\p{N}])_(?=[\p{L}\p{N}])/gu;
const WORD_SPACE = /(?<=[\p{L}\p{N}]) (?=[\p{L}\p{N}])/gu;

/** `blue_hair` → `blue hair`; emoticons such as `^_^` or `>_<` are left alone. */
export function underscoresToSpaces(tag: string): string {
  return tag.replace(WORD_UNDERSCORE, ' ');
}

/** `blue hair` → `blue_hair`. */
export function spacesToUnderscores(tag: string): string {
  return tag.replace(WORD_SPACE, '_');
}

const HAS_WORD_UNDERSCORE = /(?<=[\p{L}\p{N}])_(?=[\p{L}\p{N}])/u;
const HAS_WORD_SPACE = /(?<=[\p{L}\p{N}]) (?=[\p{L}\p{N}])/u;

function tagStyle(t: CaptionTag): 'underscore' | 'space' | null {
  // looseKey differs from key exactly when an underscore joins two words (or spaces repeat)
  const u = t.looseKey !== t.key && (!t.key.includes('  ') || HAS_WORD_UNDERSCORE.test(t.name));
  const s = t.name.includes(' ') && HAS_WORD_SPACE.test(t.name);
  return u && !s ? 'underscore' : s && !u ? 'space' : null;
}

function rangeOf(doc: CaptionDocument | null, start: number, end: number): DiagnosticRange {
  if (!doc) return { start: { line: 0, character: 0 }, end: { line: 0, character: 0 }, startOffset: 0, endOffset: 0 };
  return { start: positionAt(doc, start), end: positionAt(doc, end), startOffset: start, endOffset: end };
}

class Collector {
  readonly out: CaptionDiagnostic[] = [];
  constructor(
    readonly file: string,
    readonly doc: CaptionDocument | null,
    readonly config: RuleConfig,
  ) {}
  add(code: RuleCode, start: number, end: number, message: string, fixes: Fix[] = []): void {
    const sev = this.config.severities?.[code] ?? RULES[code].severity;
    if (sev === 'off') return;
    this.out.push({ file: this.file, range: rangeOf(this.doc, start, end), code, severity: sev, message, fixes });
  }
}

const q = (s: string): string => `'${s}'`;

/** strict UTF-8 that keeps a BOM in the text, as Python's "utf-8" codec does */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Lints one caption file. `input` is the file's bytes, or text already decoded (a BOM may lead). */
export function lintCaption(
  file: string,
  input: Uint8Array | string,
  ctx: ConceptContext,
  config: RuleConfig = {},
): FileLint {
  let text: string;
  let byteLength: number;
  if (typeof input === 'string') {
    text = input;
    byteLength = input.length;
  } else {
    try {
      text = UTF8.decode(input);
    } catch {
      const c = new Collector(file, null, config);
      c.add('not-utf8', 0, 0, 'not UTF-8: sd-scripts stops training with "illegal char in file (not UTF-8)". Re-save the file as UTF-8.');
      return { diagnostics: c.out, doc: null, tagKeys: [], tagNames: [] };
    }
    byteLength = input.length;
  }
  const options = ctx.options ?? {};
  const doc = parseCaption(text, options);
  const c = new Collector(file, doc, config);
  const trigger = ctx.trigger !== null ? pyStrip(ctx.trigger) : '';
  if (byteLength === 0) {
    const fixes = trigger ? [{ title: `Add ${q(trigger)}`, edits: [{ start: 0, end: 0, newText: trigger }] }] : [];
    c.add('empty-file', 0, 0, 'empty caption file: sd-scripts stops training ("caption file is empty"). Add tags or delete the file.', fixes);
    return { diagnostics: c.out, doc, tagKeys: [], tagNames: [] };
  }
  if (doc.bom) {
    const first = doc.lines[0]?.tags[0];
    const what = first
      ? `glued to the first tag ${q(first.text)}${trigger && first.looseKey === looseTagKey(trigger) ? ' (the trigger word)' : ''}, which then no longer matches it`
      : 'glued to the caption';
    c.add('bom', 0, first ? first.end : 0, `the file starts with a byte-order mark: sd-scripts reads it as UTF-8, not UTF-8-sig, so the mark stays ${what}. Save as UTF-8 without BOM.`, [
      { title: 'Remove the byte-order mark', edits: [], removeBom: true },
    ]);
  }
  const wildcard = options.enableWildcard === true;
  const first = doc.lines[0] as CaptionLine;
  if (!wildcard) {
    if (pyStrip(first.text) === '') {
      c.add('blank-caption', first.start, first.end, 'the first line is blank: sd-scripts uses only the first line, so this image trains with an empty caption.');
    }
    const extra = doc.lines.slice(1).filter((l) => pyStrip(l.text) !== '');
    const lastExtra = extra[extra.length - 1];
    if (lastExtra && extra[0]) {
      const moved = extra.flatMap((l) => l.tags.map((t) => t.text));
      const fixes: Fix[] = [
        { title: 'Delete the other lines', edits: [{ start: first.end, end: lastExtra.end, newText: '' }] },
      ];
      if (first.tags.length > 0 && moved.length > 0) {
        fixes.unshift({
          title: 'Move their tags to the end of the first line',
          edits: [{ start: first.end, end: lastExtra.end, newText: doc.join + moved.join(doc.join) }],
        });
      }
      c.add(
        'multi-line',
        extra[0].start,
        lastExtra.end,
        `${extra.length === 1 ? 'this line is' : `these ${extra.length} lines are`} ignored: without enable_wildcard sd-scripts uses only the first line.`,
        fixes,
      );
    }
  } else if (doc.captionLines.length === 0) {
    c.add('blank-caption', 0, doc.text.length, 'every line is blank: this image trains with an empty caption.');
  }

  const tagKeys = new Map<string, string>();
  const read = readCaptionText(text, wildcard);
  doc.captionLines.forEach((lineIndex, ordinal) => {
    const l = doc.lines[lineIndex];
    if (!l) return;
    for (const t of l.tags) if (!tagKeys.has(t.looseKey)) tagKeys.set(t.looseKey, t.name);
    if (l.keepSeparators.length > 0) checkKeepSeparator(c, doc, l, options);
    if (trigger && l.tags.length > 0) checkTrigger(c, doc, l, ordinal, read ?? '', trigger, options);
    checkDuplicates(c, doc, l);
    checkStyle(c, doc, l);
    if (ctx.absorbed && ctx.absorbed.length > 0) checkAbsorbed(c, doc, l, ctx.absorbed, trigger);
    if (config.maxTokenLength) checkTokenLength(c, l, options, config);
  });
  return { diagnostics: c.out, doc, tagKeys: [...tagKeys.keys()], tagNames: [...tagKeys.values()] };
}

function checkTrigger(
  c: Collector,
  doc: CaptionDocument,
  l: CaptionLine,
  ordinal: number,
  read: string,
  trigger: string,
  options: CaptionOptions,
): void {
  // what sd-scripts feeds for this line, without shuffling and with the first wildcard options
  const key = looseTagKey(splitWeight(trigger).name);
  const tag = l.tags.find((t) => t.looseKey === key);
  const tokenProcessing =
    options.shuffleCaption === true || (options.tokenWarmupStep ?? 0) > 0 || (options.captionTagDropoutRate ?? 0) > 0;
  let fed: { tokenProcessing: boolean; fixed: string[]; flex: string[]; fixedSuffix: string[] };
  let at: number;
  if (!tokenProcessing && !options.captionPrefix && !options.captionSuffix && !options.secondarySeparator && options.enableWildcard !== true && l.emptyPieces === 0) {
    // nothing changes the caption on its way: its pieces are the document's tags
    fed = { tokenProcessing: false, fixed: [], flex: [], fixedSuffix: [] };
    at = tag ? tag.index : -1;
  } else {
    const full = feedCaption(read, options, { line: () => ordinal });
    fed = full;
    const pieces = full.tokenProcessing
      ? [...full.fixed, ...full.flex, ...full.fixedSuffix]
      : full.caption.split(separatorOf(options)).map(pyStrip);
    // a BOM is reported on its own; for the trigger rules compare without it
    const pieceKey = (p: string): string => looseTagKey(splitWeight(p.replace(/^\ufeff/, '')).name);
    at = pieces.findIndex((p) => pieceKey(p) === key);
  }
  if (at < 0) {
    c.add(
      'trigger-missing',
      l.start,
      l.end,
      `the trigger word ${q(trigger)} is not in this caption: the image teaches the concept's features to the other tags instead.`,
      [{ title: `Add ${q(trigger)} at the front`, edits: addTagEdits(doc, trigger, 'front', l.index) }],
    );
    return;
  }
  const start = tag?.start ?? l.start;
  const end = tag?.end ?? l.end;
  const moveFix: Fix[] = tag && tag.index > 0 ? [{ title: `Move ${q(trigger)} to the front`, edits: moveToFrontEdits(doc, tag.index, l.index) }] : [];
  if (fed.tokenProcessing && options.shuffleCaption === true) {
    const kept = at < fed.fixed.length || at >= fed.fixed.length + fed.flex.length;
    if (!kept) {
      const keep = Math.max(0, Math.trunc(options.keepTokens ?? 0));
      const kts = options.keepTokensSeparator ?? '';
      const why =
        kts !== '' && read.includes(kts)
          ? `it is after ${q(kts)}, in the part that gets shuffled`
          : keep === 0
            ? `keep_tokens is 0, so every tag is shuffled`
            : `keep_tokens = ${keep} keeps only the first ${keep === 1 ? 'tag' : `${keep} tags`} in place and it is tag ${at + 1}`;
      c.add(
        'trigger-not-kept',
        start,
        end,
        `shuffle_caption is on and ${why}: the trigger ${q(trigger)} lands anywhere in the caption. Put it first and set keep_tokens ≥ 1 (or put it before the keep_tokens_separator).`,
        keep > 0 || (kts !== '' && read.includes(kts)) ? moveFix : [],
      );
    }
    return;
  }
  if (at > 0) {
    c.add(
      'trigger-not-first',
      start,
      end,
      `the trigger word ${q(trigger)} is tag ${at + 1}: tags earlier in a caption weigh more, so the trigger usually goes first.`,
      moveFix,
    );
  }
}

/** per counter: token counts of tag texts (tags repeat across a dataset; lines rarely do) */
const tokenMemo = new WeakMap<(text: string) => number, Map<string, number>>();

function memoCounter(count: (text: string) => number): (text: string) => number {
  let memo = tokenMemo.get(count);
  if (!memo) {
    memo = new Map();
    tokenMemo.set(count, memo);
  }
  const m = memo;
  return (text) => {
    let n = m.get(text);
    if (n === undefined) {
      if (m.size > 200_000) m.clear();
      n = count(text);
      m.set(text, n);
    }
    return n;
  };
}

/**
 * Counted tag by tag (each tag, each separator, the prefix and suffix; memoised), which equals the
 * count of the whole line except where a tag ending in punctuation touches the separator.
 */
function checkTokenLength(c: Collector, l: CaptionLine, options: CaptionOptions, config: RuleConfig): void {
  const max = config.maxTokenLength ?? 75;
  if (l.tags.length === 0) return;
  const count = memoCounter(config.countTokens ?? estimateClipTokens);
  const w = (s: string): string => (options.enableWildcard === true ? resolveWildcards(s) : s);
  const affix = (s: string | undefined): string => (s ? pyStrip(w(s)) : '');
  const sep = count(separatorOf(options));
  const prefix = count(affix(options.captionPrefix));
  let total = prefix + count(affix(options.captionSuffix));
  let cut: CaptionTag | null = null;
  let used = prefix;
  for (const t of l.tags) {
    const n = (t.index > 0 ? sep : 0) + count(w(t.text));
    used += n;
    total += n;
    if (cut === null && used > max) cut = t;
  }
  if (total <= max || cut === null) return;
  const about = config.tokenCountEstimated ? 'about ' : '';
  const est = config.tokenCountEstimated ? ' (an estimate: no CLIP vocabulary was found; set loraWorkbench.captions.clipVocabulary for exact counts)' : '';
  c.add(
    'caption-too-long',
    cut.start,
    l.end,
    `this caption is ${about}${total} CLIP tokens${est}; with max_token_length = ${max} the text encoder sees only the first ${max}, so from ${q(cut.text)} on the tags are cut off. Shorten the caption or raise max_token_length (150 or 225).`,
  );
}

function checkKeepSeparator(c: Collector, doc: CaptionDocument, l: CaptionLine, options: CaptionOptions): void {
  const tokenProcessing =
    options.shuffleCaption === true || (options.tokenWarmupStep ?? 0) > 0 || (options.captionTagDropoutRate ?? 0) > 0;
  if (tokenProcessing) return;
  const first = l.keepSeparators[0];
  const last = l.keepSeparators[l.keepSeparators.length - 1];
  if (!first || !last) return;
  const kts = options.keepTokensSeparator ?? '';
  c.add(
    'keep-separator-literal',
    first.start,
    last.end,
    `sd-scripts splits on ${q(kts)} only when shuffle_caption, token_warmup_step or caption_tag_dropout_rate is on; without them the text encoder reads ${q(kts)} as part of the caption.`,
    [
      {
        title: `Replace ${q(kts)} with the tag separator`,
        edits: rebuildLineEdits(doc, l.index, l.tags.map((t) => ({ text: t.text, part: 0 as const }))),
      },
    ],
  );
}

function checkDuplicates(c: Collector, doc: CaptionDocument, l: CaptionLine): void {
  const seen = new Map<string, CaptionTag>();
  if (l.tags.length < 2) return;
  for (const t of l.tags) {
    const prev = seen.get(t.looseKey);
    if (!prev) {
      seen.set(t.looseKey, t);
      continue;
    }
    const same = prev.text === t.text;
    c.add(
      'duplicate-tag',
      t.start,
      t.end,
      same
        ? `${q(t.text)} is already tag ${prev.index + 1}: the repeat only weighs it more.`
        : `${q(t.text)} is the same tag as ${q(prev.text)} (tag ${prev.index + 1}), spelt differently.`,
      [{ title: `Remove this ${q(t.text)}`, edits: removeTagEdits(doc, t.index, l.index) }],
    );
  }
}

function checkStyle(c: Collector, doc: CaptionDocument, l: CaptionLine): void {
  const under = l.tags.filter((t) => tagStyle(t) === 'underscore');
  const space = l.tags.filter((t) => tagStyle(t) === 'space');
  if (under.length === 0 || space.length === 0) return;
  // the majority wins; on a tie spaces (what sd-scripts' clean_captions_and_tags makes of tags)
  const toSpaces = space.length >= under.length;
  const minority = toSpaces ? under : space;
  const fixAll = (spaces: boolean): Fix => ({
    title: spaces ? 'Use spaces between words in every tag of this line' : 'Use underscores between words in every tag of this line',
    edits: rebuildLineEdits(
      doc,
      l.index,
      l.tags.map((t) => ({ text: spaces ? underscoresToSpaces(t.text) : spacesToUnderscores(t.text), part: t.part })),
    ),
  });
  const firstMinority = minority[0] as CaptionTag;
  c.add(
    'mixed-underscore-style',
    firstMinority.start,
    firstMinority.end,
    `${under.length} tag${under.length === 1 ? ' joins' : 's join'} words with underscores and ${space.length} with spaces (e.g. ${q(firstMinority.text)}): the text encoder sees different tokens for the same words. Pick one style.`,
    [fixAll(toSpaces), fixAll(!toSpaces)],
  );
}

function checkAbsorbed(c: Collector, doc: CaptionDocument, l: CaptionLine, absorbed: readonly string[], trigger: string): void {
  const keys = new Set(absorbed.map((a) => looseTagKey(splitWeight(pyStrip(a)).name)).filter((k) => k !== ''));
  for (const t of l.tags) {
    if (!keys.has(t.looseKey)) continue;
    c.add(
      'absorbed-tag',
      t.start,
      t.end,
      `${q(t.text)} is on this concept's list of features the trigger${trigger ? ` ${q(trigger)}` : ''} should learn: while it is captioned, training ties that feature to ${q(t.text)} instead of the trigger.`,
      [{ title: `Remove ${q(t.text)}`, edits: removeTagEdits(doc, t.index, l.index) }],
    );
  }
}

/** Pollution-candidate diagnostics of one parsed file, given the concept's candidate keys. */
export function pollutionDiagnostics(
  file: string,
  doc: CaptionDocument,
  candidates: ReadonlyMap<string, { files: number; total: number; concept: string }>,
  trigger: string | null,
  config: RuleConfig = {},
): CaptionDiagnostic[] {
  const c = new Collector(file, doc, config);
  for (const lineIndex of doc.captionLines) {
    const l = doc.lines[lineIndex];
    if (!l) continue;
    const seen = new Set<string>();
    for (const t of l.tags) {
      const info = candidates.get(t.looseKey);
      if (!info || seen.has(t.looseKey)) continue;
      seen.add(t.looseKey);
      const pct = Math.round((100 * info.files) / info.total);
      c.add(
        'pollution-candidate',
        t.start,
        t.end,
        `${q(t.text)} is on ${info.files} of ${info.total} images (${pct}%) of ${q(info.concept)}. A tag that is almost always there with the trigger${trigger ? ` ${q(trigger)}` : ''} learns the feature it names in its place, and the trigger alone will not bring it back. If it describes the subject (face, hair, outfit), remove it from the concept; if it varies or is not part of the subject, keep it.`,
        [{ title: `Remove ${q(t.text)} from this file`, edits: removeTagEdits(doc, t.index, l.index) }],
      );
    }
  }
  return c.out;
}

// ---------------------------------------------------------------------------------------------
// Dataset-level, incremental

interface FileState {
  concept: string;
  /** decoded text; null when the file could not be decoded or read */
  text: string | null;
  base: CaptionDiagnostic[];
  tagKeys: string[];
}

interface ConceptState {
  name: string;
  ctx: ConceptContext;
  files: Set<string>;
  /** loose tag key → number of files with it */
  counts: Map<string, number>;
  /** files with text (the denominator of the share) */
  captioned: number;
  candidates: Map<string, { files: number; total: number; concept: string }>;
  /** loose key → the spelling first seen */
  names: Map<string, string>;
}

export interface IndexChange {
  /** files whose diagnostics may have changed and should be re-published */
  files: string[];
}

/**
 * Every caption file's diagnostics with per-concept tag counts. `updateFile` re-lints one file and
 * adjusts its concept's counts; only when a concept's set of pollution candidates changes are the
 * other files of that concept reported as changed.
 */
export class CaptionIndex {
  private readonly files = new Map<string, FileState>();
  private readonly concepts = new Map<string, ConceptState>();

  constructor(private config: RuleConfig = {}) {}

  /** Sets or changes a concept's trigger, lists and options; re-lints its files. */
  setConcept(id: string, ctx: ConceptContext, displayName = id): IndexChange {
    const existing = this.concepts.get(id);
    if (!existing) {
      this.concepts.set(id, { name: displayName, ctx, files: new Set(), counts: new Map(), captioned: 0, candidates: new Map(), names: new Map() });
      return { files: [] };
    }
    existing.ctx = ctx;
    existing.name = displayName;
    const changed = [...existing.files];
    for (const f of changed) {
      const st = this.files.get(f);
      if (st && st.text !== null) this.relint(f, st, existing);
    }
    this.recomputeCandidates(existing, null);
    return { files: changed };
  }

  setConfig(config: RuleConfig): IndexChange {
    this.config = config;
    const all: string[] = [];
    for (const c of this.concepts.values()) all.push(...this.setConcept(this.idOf(c), c.ctx, c.name).files);
    return { files: all };
  }

  private idOf(c: ConceptState): string {
    for (const [id, v] of this.concepts) if (v === c) return id;
    return c.name;
  }

  private concept(id: string): ConceptState {
    let c = this.concepts.get(id);
    if (!c) {
      c = { name: id, ctx: { trigger: null }, files: new Set(), counts: new Map(), captioned: 0, candidates: new Map(), names: new Map() };
      this.concepts.set(id, c);
    }
    return c;
  }

  private relint(file: string, st: FileState, c: ConceptState): void {
    if (st.text === null) return;
    const r = lintCaption(file, st.text, c.ctx, this.config);
    // lintCaption on text cannot see a 0-byte file any more than '' text: same thing
    st.base = r.diagnostics;
    st.tagKeys = r.tagKeys;
  }

  /**
   * Adds or updates a file with its bytes (or an Error when it could not be read). Returns the
   * files whose diagnostics may have changed.
   */
  updateFile(file: string, conceptId: string, input: Uint8Array | string | Error): IndexChange {
    const old = this.files.get(file);
    const oldKeys = old?.tagKeys ?? [];
    if (old && old.concept !== conceptId) this.removeFile(file);
    const c = this.concept(conceptId);
    const prior = this.files.get(file);
    let st: FileState;
    if (input instanceof Error) {
      const col = new Collector(file, null, this.config);
      col.add('unreadable', 0, 0, `cannot be read: ${input.message}`);
      st = { concept: conceptId, text: null, base: col.out, tagKeys: [] };
    } else {
      const r = lintCaption(file, input, c.ctx, this.config);
      this.lastNames = r.tagNames;
      st = {
        concept: conceptId,
        text: r.doc ? (r.doc.bom ? '\ufeff' : '') + r.doc.text : null,
        base: r.diagnostics,
        tagKeys: r.tagKeys,
      };
    }
    const wasCaptioned = prior !== undefined && prior.text !== null;
    const isCaptioned = st.text !== null;
    // update counts: subtract the old keys, add the new (and remember a spelling of new keys)
    if (prior) for (const k of oldKeys) dec(c.counts, k);
    const spellings = input instanceof Error ? [] : this.lastNames;
    st.tagKeys.forEach((k, i) => {
      const n = c.counts.get(k);
      c.counts.set(k, (n ?? 0) + 1);
      if (n === undefined) c.names.set(k, spellings[i] ?? k);
    });
    c.captioned += (isCaptioned ? 1 : 0) - (wasCaptioned ? 1 : 0);
    c.files.add(file);
    this.files.set(file, st);
    if (this.bulk) return { files: [file] };
    const totalChanged = wasCaptioned !== isCaptioned;
    const touched = totalChanged ? null : new Set([...(prior ? oldKeys : []), ...st.tagKeys]);
    const changedKeys = this.recomputeCandidates(c, touched);
    return { files: this.affected(c, file, changedKeys) };
  }

  /**
   * Adds or updates many files at once (an initial load): the pollution candidates are computed
   * once at the end instead of after every file. Returns every file given plus the files whose
   * candidates changed.
   */
  updateFiles(entries: Iterable<{ file: string; concept: string; input: Uint8Array | string | Error }>): IndexChange {
    this.bulk = true;
    const touched = new Set<string>();
    const out = new Set<string>();
    try {
      for (const e of entries) {
        this.updateFile(e.file, e.concept, e.input);
        touched.add(e.concept);
        out.add(e.file);
      }
    } finally {
      this.bulk = false;
    }
    for (const id of touched) {
      const c = this.concepts.get(id);
      if (!c) continue;
      for (const f of this.affected(c, null, this.recomputeCandidates(c, null))) out.add(f);
    }
    return { files: [...out] };
  }

  private bulk = false;
  private lastNames: string[] = [];

  removeFile(file: string): IndexChange {
    const st = this.files.get(file);
    if (!st) return { files: [] };
    const c = this.concept(st.concept);
    for (const k of st.tagKeys) dec(c.counts, k);
    if (st.text !== null) c.captioned--;
    c.files.delete(file);
    this.files.delete(file);
    const changedKeys = this.recomputeCandidates(c, null);
    return { files: [file, ...this.affected(c, null, changedKeys)] };
  }

  private affected(c: ConceptState, file: string | null, changedKeys: Set<string>): string[] {
    const out = file ? [file] : [];
    if (changedKeys.size === 0) return out;
    for (const f of c.files) {
      if (f === file) continue;
      const st = this.files.get(f);
      if (st && st.tagKeys.some((k) => changedKeys.has(k))) out.push(f);
    }
    return out;
  }

  /** Recomputes the candidate set (all keys, or only `touched`); returns the keys whose status changed. */
  private recomputeCandidates(c: ConceptState, touched: Set<string> | null): Set<string> {
    const share = this.config.pollutionShare ?? 0.8;
    const minFiles = this.config.pollutionMinFiles ?? 5;
    const trig = c.ctx.trigger ? looseTagKey(splitWeight(pyStrip(c.ctx.trigger)).name) : '';
    const skip = new Set([...(c.ctx.absorbed ?? []), ...(c.ctx.pollutionIgnore ?? [])].map((a) => looseTagKey(splitWeight(pyStrip(a)).name)));
    const total = c.captioned;
    const changed = new Set<string>();
    const isCandidate = (k: string): boolean => {
      const n = c.counts.get(k) ?? 0;
      return total >= minFiles && n > 0 && n >= share * total && k !== trig && !skip.has(k);
    };
    const keys = touched ?? new Set([...c.counts.keys(), ...c.candidates.keys()]);
    for (const k of keys) {
      const was = c.candidates.get(k);
      if (isCandidate(k)) {
        const files = c.counts.get(k) ?? 0;
        if (!was) changed.add(k);
        // the figures in the message change with every file: not worth re-publishing for
        c.candidates.set(k, { files, total, concept: c.name });
      } else if (was) {
        c.candidates.delete(k);
        changed.add(k);
      }
    }
    return changed;
  }

  /**
   * The diagnostics of one file: its own rules plus pollution candidates from the concept's counts
   * (leave those out with `pollution: false`, e.g. to list them once per concept instead).
   */
  diagnostics(file: string, options: { pollution?: boolean } = {}): CaptionDiagnostic[] {
    const st = this.files.get(file);
    if (!st) return [];
    const c = this.concepts.get(st.concept);
    if (options.pollution === false || !c || st.text === null || c.candidates.size === 0 || !st.tagKeys.some((k) => c.candidates.has(k))) {
      return st.base;
    }
    const doc = parseCaption(st.text, c.ctx.options ?? {});
    return [...st.base, ...pollutionDiagnostics(file, doc, c.candidates, c.ctx.trigger, this.config)];
  }

  /** Every file with at least one diagnostic. */
  allDiagnostics(options: { pollution?: boolean } = {}): Map<string, CaptionDiagnostic[]> {
    const out = new Map<string, CaptionDiagnostic[]>();
    for (const f of this.files.keys()) {
      const d = this.diagnostics(f, options);
      if (d.length > 0) out.set(f, d);
    }
    return out;
  }

  /** The pollution candidates of every concept, once each (for a summary or a Tags view). */
  pollutionSummary(): Array<{ concept: string; conceptName: string; tag: string; key: string; files: number; total: number; severity: Severity }> {
    const sev = this.config.severities?.['pollution-candidate'] ?? RULES['pollution-candidate'].severity;
    if (sev === 'off') return [];
    const out: ReturnType<CaptionIndex['pollutionSummary']> = [];
    for (const [id, c] of this.concepts) {
      const keys = [...c.candidates.keys()].sort((a, b) => (c.counts.get(b) ?? 0) - (c.counts.get(a) ?? 0) || (a < b ? -1 : a > b ? 1 : 0));
      for (const k of keys) {
        out.push({ concept: id, conceptName: c.name, tag: c.names.get(k) ?? k, key: k, files: c.counts.get(k) ?? 0, total: c.captioned, severity: sev });
      }
    }
    return out;
  }

  /** A concept's tag counts (loose keys → files), file count and current pollution candidates. */
  conceptStats(id: string): { files: number; captioned: number; counts: ReadonlyMap<string, number>; candidates: string[] } | null {
    const c = this.concepts.get(id);
    if (!c) return null;
    return { files: c.files.size, captioned: c.captioned, counts: c.counts, candidates: [...c.candidates.keys()].sort() };
  }

  /** A concept's tags with how many caption files carry each, most frequent first. */
  conceptTags(id: string): Array<{ name: string; key: string; count: number }> {
    const c = this.concepts.get(id);
    if (!c) return [];
    return [...c.counts.entries()]
      .map(([key, count]) => ({ name: c.names.get(key) ?? key, key, count }))
      .sort((a, b) => b.count - a.count || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The concept a file belongs to, if it is indexed. */
  conceptOf(file: string): string | undefined {
    return this.files.get(file)?.concept;
  }

  get fileCount(): number {
    return this.files.size;
  }

  /** The decoded text the index holds for a file (BOM included), or null. */
  textOf(file: string): string | null {
    return this.files.get(file)?.text ?? null;
  }

  // ── for the Tags view and batch targets (tags-batch) ──────────────────────────────────────
  /** Every concept id, in the order they were added. */
  conceptIds(): string[] {
    return [...this.concepts.keys()];
  }

  /** A concept's display name and trigger word. */
  conceptInfo(id: string): { name: string; trigger: string | null } | null {
    const c = this.concepts.get(id);
    return c ? { name: c.name, trigger: c.ctx.trigger } : null;
  }

  /** A concept's files with the loose keys of their tags (each once); do not modify. */
  *conceptFiles(id: string): Generator<{ file: string; tagKeys: readonly string[] }> {
    const c = this.concepts.get(id);
    if (!c) return;
    for (const file of c.files) {
      const st = this.files.get(file);
      if (st) yield { file, tagKeys: st.tagKeys };
    }
  }
}

function dec(m: Map<string, number>, k: string): void {
  const n = (m.get(k) ?? 0) - 1;
  if (n <= 0) m.delete(k);
  else m.set(k, n);
}
