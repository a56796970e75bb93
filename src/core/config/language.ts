/** Completion, hover, outline and path data for the three kohya file kinds. Pure; never throws. */
import * as path from 'node:path';
import { cursorContext, type CursorContext } from './cursor';
import { parseTomlDocument, type TomlDocument, type TomlValue } from './document';
import {
  OPTIONS, getOption, SEED_SECTIONS, KNOWN_VALUES, VALUE_NOTES, PATH_OPTIONS, NETWORK_ARGS, NETWORK_PRESETS,
  DATASET_KEYS, DATASET_KEY_MAP, PROMPT_KEYS, PROMPT_KEY_MAP, PROMPT_TXT_OPTIONS, RESIZE_INTERPOLATIONS, groupsAt,
  type KohyaOption, type DatasetKey, type DatasetLevel, type DatasetStyle,
} from './options';
import { LineIndex } from './text';
import { resolveConfigPath } from './paths';
import type { ConfigFileSystem, ConfigKind, OffsetRange, Range } from './types';

export interface CompletionItem {
  label: string;
  kind: 'key' | 'value' | 'section' | 'snippet' | 'path';
  /** may use VS Code snippet syntax ($1, ${1:x}, ${1|a,b|}) */
  insertText: string;
  /** true when insertText is a snippet */
  snippet: boolean;
  detail: string;
  /** markdown */
  documentation: string;
  sortText?: string;
  /** the text the item replaces; absent: the word at the cursor */
  replaceRange?: Range;
  replaceOffsets?: OffsetRange;
}

export interface CompletionContextOptions {
  /** for path completion */
  fs?: ConfigFileSystem;
  /** folder relative paths are resolved against */
  baseDir?: string;
  /** .txt prompt files */
  fileName?: string;
}

type TypeLabel = string;

function typeLabel(o: KohyaOption): TypeLabel {
  if (o.name === 'resolution') return 'string "W,H"';
  switch (o.type) {
    case 'str':
      return 'string';
    case 'int':
      return 'integer';
    case 'float':
      return 'number';
    case 'bool':
      return 'boolean';
    case 'list':
      return `array of ${o.itemType === 'float' ? 'numbers' : 'strings'}`;
    case 'int|float':
      return 'integer (steps) or float < 1 (fraction)';
  }
}

function fmtDefault(v: unknown): string {
  if (v === undefined) return 'unset';
  if (typeof v === 'string') return JSON.stringify(v);
  return String(v);
}

function esc(s: string): string {
  return s.replace(/([\\|{}$])/g, '\\$1');
}

/** Snippet for `key = value` of a training option. */
function optionSnippet(o: KohyaOption): string {
  const n = o.name;
  if (n === 'resolution') return `${n} = "\${1:1024,1024}"`;
  if (o.choices && o.choices.length) {
    const choices = o.choices.map((c) => esc(String(c))).join(',');
    return typeof o.choices[0] === 'number' ? `${n} = \${1|${choices}|}` : `${n} = "\${1|${choices}|}"`;
  }
  const known = KNOWN_VALUES[n];
  if (known) return `${n} = "\${1|${known.map(esc).join(',')}|}"`;
  switch (o.type) {
    case 'bool':
      return `${n} = \${1|true,false|}`;
    case 'str':
      return `${n} = "\${1${o.default !== undefined && o.default !== '' ? `:${esc(String(o.default))}` : ''}}"`;
    case 'int':
    case 'int|float':
      return `${n} = \${1:${o.default ?? 0}}`;
    case 'float': {
      const d = o.default === undefined ? '0.0' : String(o.default);
      return `${n} = \${1:${d}}`;
    }
    case 'list':
      return o.itemType === 'float' ? `${n} = [\${1}]` : `${n} = ["\${1}"]`;
  }
}

/** Hover/completion documentation of a training option (markdown). */
export function optionMarkdown(o: KohyaOption): string {
  const lines = [`**\`${o.name}\`** · ${typeLabel(o)} · default: ${fmtDefault(o.default)}`, '', o.summary];
  if (o.choices && o.choices.length) lines.push('', `Choices: ${o.choices.map((c) => `\`${c}\``).join(', ')}`);
  const known = KNOWN_VALUES[o.name];
  if (known) lines.push('', `Known values: ${known.map((c) => `\`${c}\``).join(', ')}`);
  const quirk = tomlQuirk(o);
  if (quirk) lines.push('', `*In a config TOML:* ${quirk}`);
  if (o.related.length) lines.push('', `Related: ${o.related.map((r) => `\`${r}\``).join(', ')}`);
  lines.push('', `Usually in \`[${o.section}]\`; sd-scripts ignores section names.`);
  return lines.join('\n');
}

function tomlQuirk(o: KohyaOption): string | undefined {
  if (o.name === 'resolution') return 'must be a string such as `"1024,1024"`; a number or an array breaks sd-scripts.';
  if (o.name === 'validation_split') return 'must be a float (`0.1`, `0.0`); an integer is rejected.';
  if (o.type === 'int|float') return 'an integer is a number of steps; a float is always a fraction of all steps (`100.0` is not 100 steps).';
  if (o.type === 'list') return 'must be an array, e.g. `["a=1", "b=2"]`; a plain string is read character by character.';
  if (o.type === 'bool') return 'must be `true` or `false`; a string such as `"false"` counts as on.';
  if (o.type === 'int') return 'must be an integer; sd-scripts does not convert strings or floats.';
  if (o.choices) return 'choices are not checked by sd-scripts for TOML values; a wrong value fails later.';
  return undefined;
}

function datasetTypeLabel(k: DatasetKey): string {
  switch (k.type) {
    case 'int':
      return 'integer';
    case 'float':
      return 'float';
    case 'floatOrInt':
      return 'number';
    case 'bool':
      return 'boolean';
    case 'str':
      return 'string';
    case 'resolution':
      return 'integer or [width, height]';
    case 'floatPair':
      return '[float, float]';
    case 'table':
      return 'table';
  }
}

function datasetKeyMarkdown(k: DatasetKey): string {
  const levels: string[] = [];
  if (k.groups.some((g) => groupsAt('general', 'dreambooth', true).has(g))) levels.push('`[general]`');
  if (k.groups.some((g) => groupsAt('dataset', 'dreambooth', false).has(g) || groupsAt('dataset', 'finetuning', false).has(g))) levels.push('`[[datasets]]`');
  if (k.groups.some((g) => ['SUBSET', 'DO', 'DB_ASC', 'DB_DISTINCT', 'FT_DISTINCT', 'CN_ASC', 'CN_DISTINCT'].includes(g))) levels.push('`[[datasets.subsets]]`');
  const lines = [`**\`${k.name}\`** · ${datasetTypeLabel(k)}`, '', k.summary, '', `Allowed in: ${levels.join(', ')}.`];
  if (k.groups.includes('DB_ASC') && !k.groups.includes('DATASET')) lines.push('Not in fine-tuning datasets (those with metadata_file).');
  if (k.required) lines.push(`Required in ${k.required === 'dreambooth' ? 'DreamBooth-style' : k.required === 'finetuning' ? 'fine-tuning' : 'ControlNet'} subsets.`);
  const o = getOption(k.name === 'batch_size' ? 'train_batch_size' : k.name === 'num_repeats' ? 'dataset_repeats' : k.name);
  if (o && o.default !== undefined) lines.push('', `When unset here: the training config's \`${o.name}\` (default ${fmtDefault(o.default)}).`);
  return lines.join('\n');
}

function datasetSnippet(k: DatasetKey): string {
  switch (k.type) {
    case 'int':
      return `${k.name} = \${1:${k.name === 'num_repeats' ? 10 : 1}}`;
    case 'float':
      return `${k.name} = \${1:0.0}`;
    case 'floatOrInt':
      return `${k.name} = \${1:0.0}`;
    case 'bool':
      return `${k.name} = \${1|true,false|}`;
    case 'str':
      if (k.name === 'resize_interpolation') return `${k.name} = "\${1|${RESIZE_INTERPOLATIONS.join(',')}|}"`;
      if (k.name === 'caption_extension') return `${k.name} = "\${1|.txt,.caption|}"`;
      return `${k.name} = "\${1}"`;
    case 'resolution':
      return `${k.name} = \${1:1024}`;
    case 'floatPair':
      return `${k.name} = [\${1:2.0}, \${2:4.0}]`;
    case 'table':
      return `${k.name} = { \${1} }`;
  }
}

function item(lines: LineIndex, ctx: CursorContext, partial: Omit<CompletionItem, 'replaceRange' | 'replaceOffsets'>): CompletionItem {
  return { ...partial, replaceOffsets: ctx.replace, replaceRange: lines.range(ctx.replace) };
}

/** Completion items at an offset. */
export function completionsAt(kind: ConfigKind, text: string, offset: number, opts: CompletionContextOptions = {}): CompletionItem[] {
  try {
    if (kind === 'samplePrompts' && opts.fileName !== undefined && !opts.fileName.toLowerCase().endsWith('.toml')) return promptTxtCompletions(text, offset);
    const lines = new LineIndex(text);
    const ctx = cursorContext(text, offset, lines);
    const items = kind === 'training' ? trainingCompletions(text, ctx, lines, opts) : kind === 'dataset' ? datasetCompletions(text, ctx, lines, opts) : promptTomlCompletions(ctx, lines);
    const key = (i: CompletionItem) => i.sortText ?? i.label;
    return items.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  } catch {
    return [];
  }
}

/** True when the key being completed already has `= value` after it (then only the name is replaced). */
function keyHasValue(ctx: CursorContext): boolean {
  return /^[A-Za-z0-9_\-]*\s*=/.test(ctx.rest);
}

function closeHeader(ctx: CursorContext, double: boolean): string {
  return /^[A-Za-z0-9_\-.]*\s*\]/.test(ctx.rest) ? '' : double ? ']]' : ']';
}

function trainingCompletions(text: string, ctx: CursorContext, lines: LineIndex, opts: CompletionContextOptions): CompletionItem[] {
  if (ctx.where === 'header') {
    return SEED_SECTIONS.map((s, i) =>
      item(lines, ctx, { label: s, kind: 'section', insertText: s + closeHeader(ctx, ctx.doubleBracket), snippet: false, detail: 'section of the seed config', documentation: `Section \`[${s}]\`. sd-scripts ignores section names and merges all sections; they only organise the file.`, sortText: String(i).padStart(2, '0') }),
    );
  }
  if (ctx.where === 'key') {
    // keys already set anywhere (sections are merged); a line scan is enough and works on broken TOML
    const present = new Set<string>();
    const cursorLine = lines.position(ctx.replace[0]).line;
    for (const m of text.matchAll(/^[ \t]*([A-Za-z0-9_-]+)[ \t]*=/gm)) {
      if (lines.position(m.index ?? 0).line !== cursorLine) present.add(m[1] ?? '');
    }
    const section = ctx.table[0] ?? '';
    const out: CompletionItem[] = [];
    const replaceRange = lines.range(ctx.replace);
    const hasEquals = keyHasValue(ctx);
    for (const o of OPTIONS) {
      if (present.has(o.name) && o.name !== ctx.prefix) continue;
      const c = optionCompletion(o);
      out.push({ label: o.name, kind: 'key', insertText: hasEquals ? o.name : c.snippet, snippet: !hasEquals, detail: c.detail, documentation: c.markdown, sortText: `${o.section === section ? '0' : '1'}${o.name}`, replaceOffsets: ctx.replace, replaceRange });
    }
    if (!hasEquals && (ctx.prefix === '' || /^(l|lo|lor|lora|loc|loco|locon|loh|loha|p|pr|pre|pres|prese|preset)$/i.test(ctx.prefix))) {
      for (const [i, p] of NETWORK_PRESETS.entries()) {
        const args = p.args.length ? `[${p.args.map((a) => `"${a}"`).join(', ')}]` : '[]';
        const body = `network_module = "${p.module}"\nnetwork_dim = \${1:${p.dim}}\nnetwork_alpha = \${2:${p.alpha}}\nnetwork_args = ${esc(args)}`;
        out.push(item(lines, ctx, { label: `${p.label} preset`, kind: 'snippet', insertText: body, snippet: true, detail: `network settings: ${p.summary}`, documentation: `Inserts the network settings of a ${p.label}:\n\n\`\`\`toml\n${body.replace(/\$\{\d:([^}]*)\}/g, '$1').replace(/\\([\\|{}$])/g, '$1')}\n\`\`\``, sortText: `2${i}` }));
      }
    }
    return out;
  }
  if (ctx.where !== 'value' || !ctx.key) return [];
  const o = getOption(ctx.key);
  if (!o) return [];
  return valueItems(o, ctx, lines, opts);
}

const optionCache = new Map<string, { snippet: string; detail: string; markdown: string }>();

/** The completion texts of an option, computed once. */
function optionCompletion(o: KohyaOption): { snippet: string; detail: string; markdown: string } {
  let c = optionCache.get(o.name);
  if (!c) {
    c = { snippet: optionSnippet(o), detail: `${typeLabel(o)} · default ${fmtDefault(o.default)}`, markdown: optionMarkdown(o) };
    optionCache.set(o.name, c);
  }
  return c;
}

function quoteIf(ctx: CursorContext, s: string): string {
  return ctx.inString ? s : `"${s}"`;
}

function valueItems(o: KohyaOption, ctx: CursorContext, lines: LineIndex, opts: CompletionContextOptions): CompletionItem[] {
  const out: CompletionItem[] = [];
  const add = (label: string, insertText: string, detail: string, documentation = '', sort?: string) =>
    out.push(item(lines, ctx, { label, kind: 'value', insertText, snippet: false, detail, documentation, ...(sort ? { sortText: sort } : {}) }));
  if (o.name === 'network_args' && ctx.inArray) {
    const module = moduleOf(lines.text);
    NETWORK_ARGS.filter((a) => module === undefined || a.modules.includes(module) || !a.modules.length).forEach((a, i) => {
      const body = `${a.name}=${a.value}`;
      out.push(item(lines, ctx, { label: `${a.name}=`, kind: 'value', insertText: ctx.inString ? body : `"${body}"`, snippet: true, detail: `network_args (${a.modules.join(', ')})`, documentation: a.summary, sortText: String(i).padStart(2, '0') }));
    });
    return out;
  }
  if (ctx.inArray) return out;
  if (o.type === 'bool') {
    add('true', 'true', 'on', '', '0');
    add('false', 'false', 'off', '', '1');
    return out;
  }
  if (o.name === 'resolution') {
    for (const r of ['1024,1024', '896,1152', '1152,896', '832,1216', '1216,832', '768,768', '512,512']) add(`"${r}"`, quoteIf(ctx, r), 'width,height');
    return out;
  }
  if (o.choices && o.choices.length) {
    o.choices.forEach((c, i) => add(typeof c === 'number' ? String(c) : `"${c}"`, typeof c === 'number' ? String(c) : quoteIf(ctx, c), c === o.default ? 'default' : o.name, VALUE_NOTES[String(c)] ?? '', String(i).padStart(3, '0')));
    return out;
  }
  const known = KNOWN_VALUES[o.name];
  if (known) {
    known.forEach((c, i) => add(`"${c}"`, quoteIf(ctx, c), VALUE_NOTES[c] ?? o.name, VALUE_NOTES[c] ?? '', String(i).padStart(3, '0')));
    return out;
  }
  const kind = PATH_OPTIONS[o.name];
  if (kind && opts.fs && ctx.inString) return pathItems(ctx, lines, opts, kind === 'dir' || kind === 'outDir');
  if (o.default !== undefined && o.default !== '') add(typeof o.default === 'string' ? `"${o.default}"` : String(o.default), typeof o.default === 'string' ? quoteIf(ctx, o.default) : String(o.default), 'default');
  return out;
}

function moduleOf(text: string): string | undefined {
  const m = /^\s*network_module\s*=\s*["']([^"']+)["']/m.exec(text);
  return m?.[1];
}

function pathItems(ctx: CursorContext, lines: LineIndex, opts: CompletionContextOptions, dirsOnly: boolean): CompletionItem[] {
  const fs = opts.fs;
  if (!fs) return [];
  const typed = ctx.prefix;
  const slash = Math.max(typed.lastIndexOf('/'), typed.lastIndexOf('\\'));
  const dirPart = slash >= 0 ? typed.slice(0, slash + 1) : '';
  const namePart = typed.slice(slash + 1);
  const dir = resolveConfigPath(opts.baseDir ?? process.cwd(), dirPart === '' ? '.' : dirPart);
  const start = ctx.replace[0] + dirPart.length;
  const replace: OffsetRange = [start, ctx.replace[1]];
  const out: CompletionItem[] = [];
  for (const name of fs.list(dir).sort()) {
    if (name.startsWith('.') && !namePart.startsWith('.')) continue;
    const isDir = fs.isDirectory(path.join(dir, name));
    if (dirsOnly && !isDir) continue;
    out.push({ label: isDir ? `${name}/` : name, kind: 'path', insertText: name, snippet: false, detail: isDir ? 'folder' : 'file', documentation: '', sortText: `${isDir ? 0 : 1}${name}`, replaceOffsets: replace, replaceRange: lines.range(replace) });
    if (out.length >= 500) break;
  }
  return out;
}

function datasetLevelAt(ctx: CursorContext, text: string): { level: DatasetLevel; style: DatasetStyle } | undefined {
  const t = ctx.table.join('.');
  if (t === 'general') return { level: 'general', style: 'dreambooth' };
  const lines = ctx.lines;
  // the block from this header to the next [[datasets]] (for the dataset's style)
  const from = ctx.headerLine >= 0 ? lines.lineStart(ctx.headerLine) : 0;
  const after = text.slice(from);
  const nextDs = after.slice(1).search(/^\s*\[\[\s*datasets\s*\]\]/m);
  const block = nextDs >= 0 ? after.slice(0, nextDs + 1) : after;
  if (t === 'datasets') return { level: 'dataset', style: /^\s*metadata_file\s*=/m.test(block) ? 'finetuning' : 'dreambooth' };
  if (t === 'datasets.subsets') {
    const next = after.slice(1).search(/^\s*\[/m);
    const own = next >= 0 ? after.slice(0, next + 1) : after;
    return { level: 'subset', style: /^\s*metadata_file\s*=/m.test(own) ? 'finetuning' : 'dreambooth' };
  }
  return undefined;
}

function datasetCompletions(text: string, ctx: CursorContext, lines: LineIndex, opts: CompletionContextOptions): CompletionItem[] {
  if (ctx.where === 'header') {
    const all = [
      { label: 'general', double: false, doc: 'Settings shared by all datasets and subsets.' },
      { label: 'datasets', double: true, doc: 'One dataset: resolution, batch size and bucketing, followed by its [[datasets.subsets]].' },
      { label: 'datasets.subsets', double: true, doc: 'One image folder (image_dir) or metadata file of the dataset above.' },
    ];
    return all
      .filter((h) => h.double === ctx.doubleBracket || !ctx.doubleBracket)
      .map((h, i) => {
        const open = h.double && !ctx.doubleBracket ? '[' : '';
        return item(lines, ctx, { label: h.double ? `[[${h.label}]]` : `[${h.label}]`, kind: 'section', insertText: open + h.label + closeHeader(ctx, h.double), snippet: false, detail: 'dataset config table', documentation: h.doc, sortText: String(i) });
      });
  }
  const at = datasetLevelAt(ctx, text);
  if (ctx.where === 'key') {
    if (!at) return [];
    const allowed = groupsAt(at.level, at.style, false);
    const present = new Set<string>();
    const start = ctx.headerLine >= 0 ? ctx.headerLine + 1 : 0;
    for (let l = start; l < lines.lineCount; l++) {
      const t = lines.lineText(l);
      if (/^\s*\[/.test(t)) break;
      const m = /^\s*([A-Za-z0-9_\-]+)\s*=/.exec(t);
      if (m && l !== lines.position(ctx.replace[0]).line) present.add(m[1] ?? '');
    }
    const hasEquals = keyHasValue(ctx);
    return DATASET_KEYS.filter((k) => k.groups.some((g) => allowed.has(g)) && !present.has(k.name)).map((k) =>
      item(lines, ctx, { label: k.name, kind: 'key', insertText: hasEquals ? k.name : datasetSnippet(k), snippet: !hasEquals, detail: datasetTypeLabel(k), documentation: datasetKeyMarkdown(k), sortText: `${k.required ? 0 : 1}${k.name}` }),
    );
  }
  if (ctx.where !== 'value' || !ctx.key) return [];
  const k = DATASET_KEY_MAP.get(ctx.key);
  if (!k) return [];
  const out: CompletionItem[] = [];
  const add = (label: string, insertText: string) => out.push(item(lines, ctx, { label, kind: 'value', insertText, snippet: false, detail: k.name, documentation: '', sortText: String(out.length).padStart(2, '0') }));
  if (k.type === 'bool') {
    add('true', 'true');
    add('false', 'false');
  } else if (k.name === 'resize_interpolation') RESIZE_INTERPOLATIONS.forEach((r) => add(`"${r}"`, quoteIf(ctx, r)));
  else if (k.name === 'caption_extension') ['.txt', '.caption'].forEach((r) => add(`"${r}"`, quoteIf(ctx, r)));
  else if (k.name === 'resolution') ['1024', '[1024, 1024]', '[896, 1152]', '[1152, 896]', '512'].forEach((r) => add(r, r));
  else if ((k.name === 'image_dir' || k.name === 'metadata_file' || k.name === 'conditioning_data_dir') && opts.fs && ctx.inString) return pathItems(ctx, lines, opts, k.name !== 'metadata_file');
  return out;
}

function promptTomlCompletions(ctx: CursorContext, lines: LineIndex): CompletionItem[] {
  if (ctx.where === 'header') {
    return [
      item(lines, ctx, { label: '[prompt]', kind: 'section', insertText: (ctx.doubleBracket ? '' : '') + 'prompt' + closeHeader(ctx, ctx.doubleBracket), snippet: false, detail: 'shared settings', documentation: 'Settings shared by every sample. A key set here cannot be set again in a subset.' }),
      item(lines, ctx, { label: '[[prompt.subset]]', kind: 'section', insertText: (ctx.doubleBracket ? '' : '[') + 'prompt.subset' + closeHeader(ctx, true), snippet: false, detail: 'one sample image', documentation: 'One sample image: its prompt and the settings not in [prompt].' }),
    ];
  }
  if (ctx.where === 'key') {
    const hasEquals = keyHasValue(ctx);
    return PROMPT_KEYS.map((k) =>
      item(lines, ctx, { label: k.name, kind: 'key', snippet: !hasEquals, insertText: hasEquals ? k.name : k.type === 'str' ? `${k.name} = "\${1}"` : `${k.name} = \${1:${k.name === 'width' || k.name === 'height' ? 1024 : k.name === 'sample_steps' ? 28 : k.name === 'scale' ? 7 : 42}}`, detail: k.type === 'str' ? 'string' : k.type === 'int' ? 'integer' : 'number', documentation: k.summary }),
    );
  }
  if (ctx.where === 'value' && ctx.key === 'sample_sampler') {
    return (getOption('sample_sampler')?.choices ?? []).map((c) => item(lines, ctx, { label: `"${c}"`, kind: 'value', insertText: quoteIf(ctx, String(c)), snippet: false, detail: 'sampler', documentation: '' }));
  }
  return [];
}

function promptTxtCompletions(text: string, offset: number): CompletionItem[] {
  const lines = new LineIndex(text);
  const pos = lines.position(offset);
  const before = lines.lineText(pos.line).slice(0, pos.character);
  const m = /(?:^|\s)--([A-Za-z]*)$/.exec(before);
  if (m) {
    const typed = m[1] ?? '';
    const replace: OffsetRange = [offset - typed.length, offset];
    return PROMPT_TXT_OPTIONS.filter((o) => o.key).map((o, i) => ({
      label: `--${o.flag}`, kind: 'key' as const, insertText: `${o.flag} `, snippet: false, detail: o.summary,
      documentation: PROMPT_KEY_MAP.get(o.key)?.summary ?? o.summary, sortText: String(i).padStart(2, '0'), replaceOffsets: replace, replaceRange: lines.range(replace),
    }));
  }
  if (before.trim() === '') {
    const replace: OffsetRange = [offset, offset];
    return [{ label: 'sample prompt line', kind: 'snippet', insertText: '${1:prompt} --n ${2:lowres, worst quality} --w ${3:1024} --h ${4:1024} --d ${5:42} --l ${6:7} --s ${7:28}', snippet: true, detail: 'prompt with size, seed, CFG and steps', documentation: 'One sample image per line. `--n` negative prompt, `--w`/`--h` size, `--d` seed, `--l` CFG scale, `--s` steps.', replaceOffsets: replace, replaceRange: lines.range(replace) }];
  }
  return [];
}

// -------------------------------------------------------------------------------------------------
// Hover

export interface HoverInfo {
  markdown: string;
  range: Range;
  offsets: OffsetRange;
}

export function hoverAt(kind: ConfigKind, text: string, offset: number, opts: { fileName?: string } = {}): HoverInfo | undefined {
  try {
    const lines = new LineIndex(text);
    if (kind === 'samplePrompts' && opts.fileName !== undefined && !opts.fileName.toLowerCase().endsWith('.toml')) return promptTxtHover(offset, lines);
    const pos = lines.position(offset);
    const lineText = lines.lineText(pos.line);
    const lineStart = lines.lineStart(pos.line);
    const header = /^(\s*)(\[\[?)\s*([^\]]*?)\s*\]/.exec(lineText);
    if (header) {
      const name = header[3] ?? '';
      const offsets: OffsetRange = [lineStart + (header[1]?.length ?? 0), lineStart + header[0].length];
      if (offset < offsets[0] || offset > offsets[1]) return undefined;
      return { markdown: headerMarkdown(kind, name, header[2] === '[['), offsets, range: lines.range(offsets) };
    }
    const km = /^(\s*)([A-Za-z0-9_\-]+)(\s*=\s*)/.exec(lineText);
    if (!km) return undefined;
    const key = km[2] ?? '';
    const keyOffsets: OffsetRange = [lineStart + (km[1]?.length ?? 0), lineStart + (km[1]?.length ?? 0) + key.length];
    if (offset < keyOffsets[0]) return undefined;
    // a network_args entry under the cursor?
    if (offset > keyOffsets[1] + (km[3]?.length ?? 0) && kind === 'training' && key === 'network_args') {
      const col = offset - lineStart;
      for (const m of lineText.matchAll(/"([A-Za-z_]+)=([^"]*)"/g)) {
        const s = m.index ?? 0;
        if (col >= s && col <= s + m[0].length) {
          const a = NETWORK_ARGS.find((x) => x.name === m[1]);
          const offsets: OffsetRange = [lineStart + s, lineStart + s + m[0].length];
          return { markdown: a ? `**network_args: \`${a.name}\`** (${a.modules.join(', ')})\n\n${a.summary}` : `**network_args: \`${m[1]}\`**\n\nNot a key networks.lora knows; other network modules may read it.`, offsets, range: lines.range(offsets) };
        }
      }
    }
    const md = keyMarkdown(kind, key);
    if (!md) return undefined;
    return { markdown: md, offsets: keyOffsets, range: lines.range(keyOffsets) };
  } catch {
    return undefined;
  }
}

function keyMarkdown(kind: ConfigKind, key: string): string | undefined {
  if (kind === 'training') {
    const o = getOption(key);
    return o ? optionMarkdown(o) : `**\`${key}\`** is not an option of sdxl_train_network.py: sd-scripts ignores it silently.`;
  }
  if (kind === 'dataset') {
    const k = DATASET_KEY_MAP.get(key);
    return k ? datasetKeyMarkdown(k) : undefined;
  }
  const p = PROMPT_KEY_MAP.get(key);
  return p ? `**\`${p.name}\`** · ${p.type === 'str' ? 'string' : p.type === 'int' ? 'integer' : 'number'}${p.txt ? ` · \`--${p.txt}\` in .txt files` : ''}\n\n${p.summary}` : undefined;
}

function headerMarkdown(kind: ConfigKind, name: string, double: boolean): string {
  if (kind === 'training') return `**[${name}]**\n\nsd-scripts ignores section names: the keys of all sections are merged into one list of options, and a key set twice keeps its later value.`;
  if (kind === 'dataset') {
    if (name === 'general') return '**[general]**\n\nSettings for every dataset and subset; a dataset or subset can override them.';
    if (name === 'datasets') return double ? '**[[datasets]]**\n\nOne dataset (resolution, batch size, bucketing). Its subsets follow as [[datasets.subsets]].' : '**[datasets]** must be written **[[datasets]]**: sd-scripts expects a list.';
    if (name === 'datasets.subsets') return '**[[datasets.subsets]]**\n\nOne image folder (`image_dir`) or metadata file (`metadata_file`) of the dataset above.';
    return `**[${name}]** is not part of sd-scripts' dataset config.`;
  }
  if (name === 'prompt') return '**[prompt]**\n\nShared settings of every sample. A subset cannot set the same key again (sd-scripts stops with "got multiple values").';
  return '**[[prompt.subset]]**\n\nOne sample image.';
}

function promptTxtHover(offset: number, lines: LineIndex): HoverInfo | undefined {
  const pos = lines.position(offset);
  const lineText = lines.lineText(pos.line);
  const lineStart = lines.lineStart(pos.line);
  for (const m of lineText.matchAll(/ --([A-Za-z]+)/g)) {
    const s = (m.index ?? 0) + 1;
    const e = s + m[0].length - 1;
    if (pos.character >= s && pos.character <= e) {
      const o = PROMPT_TXT_OPTIONS.find((x) => x.flag === (m[1] ?? '').toLowerCase());
      const offsets: OffsetRange = [lineStart + s, lineStart + e];
      const doc = o ? `**\`--${o.flag}\`**: ${o.summary}${o.key && PROMPT_KEY_MAP.get(o.key) ? `\n\n${PROMPT_KEY_MAP.get(o.key)?.summary}` : ''}` : `**\`--${m[1]}\`** is not an option sd-scripts reads; it is ignored.`;
      return { markdown: doc, offsets, range: lines.range(offsets) };
    }
  }
  return undefined;
}

// -------------------------------------------------------------------------------------------------
// Outline

export interface OutlineSymbol {
  name: string;
  detail: string;
  kind: 'section' | 'key';
  range: Range;
  selectionRange: Range;
  children: OutlineSymbol[];
}

function describe(v: TomlValue, text: string): string {
  const s = text.slice(v.offsets[0], v.offsets[1]).replace(/\s+/g, ' ');
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}

export function documentSymbols(text: string): OutlineSymbol[] {
  try {
    const doc = parseTomlDocument(text);
    const out: OutlineSymbol[] = [];
    const keySyms = (t: TomlDocument['tables'][number]) =>
      t.entries.map((e) => ({ name: e.key, detail: describe(e.value, text), kind: 'key' as const, range: doc.lines.range(e.offsets), selectionRange: doc.lines.range(e.keyOffsets), children: [] }));
    for (const t of doc.tables) {
      if (t.kind === 'root') {
        out.push(...keySyms(t));
        continue;
      }
      const name = t.kind === 'array' ? t.resolved.map((r) => (typeof r === 'number' ? `[${r}]` : r)).join('.').replace(/\.\[/g, '[') : t.path.join('.');
      const dir = t.entries.find((e) => e.key === 'image_dir' || e.key === 'metadata_file' || e.key === 'prompt');
      out.push({ name, detail: dir ? describe(dir.value, text) : '', kind: 'section', range: doc.lines.range(t.offsets), selectionRange: doc.lines.range(t.headerOffsets ?? t.offsets), children: keySyms(t) });
    }
    return out;
  } catch {
    return [];
  }
}

// -------------------------------------------------------------------------------------------------
// Paths (go to definition)

export interface PathReference {
  option: string;
  path: string;
  /** the string literal, quotes included */
  offsets: OffsetRange;
  range: Range;
}

const DATASET_PATH_KEYS = ['image_dir', 'metadata_file', 'conditioning_data_dir'];

/** The path string under the cursor, when the cursor is on the value of a path option. */
export function pathAt(text: string, offset: number, kind: ConfigKind = 'training'): PathReference | undefined {
  try {
    const doc = parseTomlDocument(text);
    for (const t of doc.tables) {
      for (const e of t.entries) {
        const name = e.keyPath[e.keyPath.length - 1] ?? e.key;
        const isPath = kind === 'training' ? PATH_OPTIONS[name] !== undefined : kind === 'dataset' ? DATASET_PATH_KEYS.includes(name) : name === 'controlnet_image';
        if (!isPath) continue;
        const items = e.value.kind === 'array' ? e.value.items : [e.value];
        for (const v of items) {
          if (v.kind === 'string' && offset >= v.offsets[0] && offset <= v.offsets[1]) return { option: name, path: v.value, offsets: v.offsets, range: doc.lines.range(v.offsets) };
        }
      }
    }
    return undefined;
  } catch {
    return undefined;
  }
}
