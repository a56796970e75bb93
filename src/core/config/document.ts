/**
 * A TOML document with exact offsets, built on toml-eslint-parser. Never throws: syntax errors
 * become entries of `syntaxErrors`, and the rest of the file is still modelled by blanking the
 * offending lines and parsing again (lengths are kept, so every offset stays exact).
 */
import { parseTOML, ParseError, type AST } from 'toml-eslint-parser';
import { LineIndex } from './text';
import type { OffsetRange } from './types';

export type TomlValue =
  | { kind: 'string'; value: string; offsets: OffsetRange; multiline: boolean }
  | { kind: 'integer'; value: number; offsets: OffsetRange; raw: string }
  | { kind: 'float'; value: number; offsets: OffsetRange; raw: string }
  | { kind: 'boolean'; value: boolean; offsets: OffsetRange }
  | { kind: 'datetime'; value: string; offsets: OffsetRange }
  | { kind: 'array'; items: TomlValue[]; offsets: OffsetRange }
  | { kind: 'table'; entries: TomlEntry[]; offsets: OffsetRange };

export interface TomlEntry {
  /** key parts relative to the table the entry is written in (dotted keys have several) */
  keyPath: string[];
  /** the key as written, joined with '.' */
  key: string;
  keyOffsets: OffsetRange;
  /** the whole `key = value` */
  offsets: OffsetRange;
  value: TomlValue;
  table: TomlTable;
}

export interface TomlTable {
  kind: 'root' | 'standard' | 'array';
  /** header key parts, e.g. ['datasets', 'subsets'] for [[datasets.subsets]] */
  path: string[];
  /** resolved path with array indices, e.g. ['datasets', 0, 'subsets', 1] */
  resolved: (string | number)[];
  /** the `[...]` header; absent for the root table */
  headerOffsets?: OffsetRange;
  /** the key inside the header */
  keyOffsets?: OffsetRange;
  /** header plus body */
  offsets: OffsetRange;
  entries: TomlEntry[];
}

export interface TomlSyntaxError {
  offsets: OffsetRange;
  message: string;
  /** 'dupe-keys' for a key or table defined twice, 'bom' for a byte-order mark, 'missing-value', else 'syntax' */
  parserCode: string;
}

export interface TomlDocument {
  text: string;
  lines: LineIndex;
  /** the root table first, then every [table] / [[array table]] in file order */
  tables: TomlTable[];
  syntaxErrors: TomlSyntaxError[];
  /** false when even the recovered text could not be parsed: `tables` holds only an empty root */
  parsed: boolean;
}

const MAX_RECOVERY = 8;

/** The last few documents, so that diagnostics, completion and hover of one text version share one parse. Documents are never mutated. */
const cache = new Map<string, TomlDocument>();
const CACHE_SIZE = 4;

export function parseTomlDocument(text: string): TomlDocument {
  const hit = cache.get(text);
  if (hit) return hit;
  const doc = parseUncached(text);
  cache.set(text, doc);
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  return doc;
}

function parseUncached(text: string): TomlDocument {
  const lines = new LineIndex(text);
  const syntaxErrors: TomlSyntaxError[] = [];
  let work = text;
  if (work.charCodeAt(0) === 0xfeff) {
    // Python's toml reader (opened as plain utf-8 by sd-scripts) does not skip a byte-order mark
    syntaxErrors.push({ offsets: [0, 1], message: 'The file starts with a byte-order mark (BOM), which the TOML reader of sd-scripts cannot read: save it as UTF-8 without BOM.', parserCode: 'bom' });
    work = ' ' + work.slice(1);
  }
  for (let attempt = 0; attempt <= MAX_RECOVERY; attempt++) {
    let ast: AST.TOMLProgram;
    try {
      ast = parseTOML(work, { tomlVersion: '1.0' });
    } catch (e) {
      let err = toSyntaxError(e, work);
      let line = lines.position(err.offsets[0]).line;
      const dangling = danglingEquals(work, lines, line, err.offsets[0]);
      if (dangling !== undefined) {
        // `key =` with nothing after it: the parser only notices on the next line; blame the `=`
        err = { offsets: [dangling, dangling + 1], message: 'A value is missing after "="', parserCode: 'missing-value' };
        line = lines.position(dangling).line;
      }
      syntaxErrors.push(err);
      let blanked = blankLine(work, lines, line);
      // an error reported at an empty line (often the end of the file) belongs to the last line with text
      for (let l = line - 1; blanked === work && l >= 0 && l >= line - 3; l--) blanked = blankLine(work, lines, l);
      if (blanked === work) break; // no progress possible (e.g. an unterminated multi-line string)
      work = blanked;
      continue;
    }
    try {
      return { text, lines, tables: buildTables(ast), syntaxErrors, parsed: true };
    } catch (e) {
      // an AST shape we did not expect: report it rather than throw
      syntaxErrors.push({ offsets: [0, 0], message: `could not model this TOML: ${(e as Error).message}`, parserCode: 'internal' });
      break;
    }
  }
  return { text, lines, tables: [emptyRoot(text)], syntaxErrors, parsed: false };
}

/** The offset of a line-ending `=` on the previous non-blank line, when the error sits at the start of its line. */
function danglingEquals(text: string, lines: LineIndex, line: number, offset: number): number | undefined {
  const lineOf = (l: number) => text.slice(lines.lineStart(l), lines.lineEnd(l));
  const lineText = lineOf(line);
  const firstNonBlank = lines.lineStart(line) + (lineText.length - lineText.trimStart().length);
  if (offset > firstNonBlank && offset < lines.lineEnd(line)) return undefined;
  for (let l = line - 1; l >= 0; l--) {
    const t = lineOf(l);
    if (t.trim() === '' || t.trim().startsWith('#')) continue;
    const m = /=\s*(#.*)?$/.exec(t);
    if (!m || /["']/.test(t.slice(0, m.index).replace(/^[^=]*/, ''))) return undefined;
    return lines.lineStart(l) + m.index;
  }
  return undefined;
}

function blankLine(text: string, lines: LineIndex, line: number): string {
  const start = lines.lineStart(line);
  const end = lines.lineEnd(line);
  return text.slice(0, start) + text.slice(start, end).replace(/[^\r\n]/g, ' ') + text.slice(end);
}

function emptyRoot(text: string): TomlTable {
  return { kind: 'root', path: [], resolved: [], offsets: [0, text.length], entries: [] };
}

function toSyntaxError(e: unknown, text: string): TomlSyntaxError {
  if (e instanceof ParseError) {
    const start = Math.max(0, Math.min(e.index, text.length));
    let end = start;
    while (end < text.length && !/\s/.test(text[end] ?? ' ')) end++;
    if (end === start && start < text.length && text[start] !== '\n' && text[start] !== '\r') end = start + 1;
    if (/unterminated/i.test(e.message)) {
      // from the opening quote or bracket to the end of its line
      const lineStart = text.lastIndexOf('\n', start - 1) + 1;
      const line = text.slice(lineStart, start);
      const open = Math.max(line.lastIndexOf('"'), line.lastIndexOf("'"), line.lastIndexOf('['), line.lastIndexOf('{'));
      if (open >= 0) return { offsets: [lineStart + open, start], message: e.message, parserCode: 'syntax' };
    }
    const dupe = /multiple times/i.test(e.message);
    return { offsets: [start, end], message: e.message, parserCode: dupe ? 'dupe-keys' : 'syntax' };
  }
  return { offsets: [0, 0], message: `TOML could not be read: ${String((e as Error)?.message ?? e)}`, parserCode: 'syntax' };
}

function keyParts(key: AST.TOMLKey): string[] {
  return key.keys.map((k) => (k.type === 'TOMLBare' ? k.name : k.value));
}

function buildTables(ast: AST.TOMLProgram): TomlTable[] {
  const top = ast.body[0];
  const root: TomlTable = { kind: 'root', path: [], resolved: [], offsets: [0, ast.range[1]], entries: [] };
  const tables: TomlTable[] = [root];
  for (const node of top.body) {
    if (node.type === 'TOMLKeyValue') {
      root.entries.push(entry(node, root));
    } else {
      const t: TomlTable = {
        kind: node.kind === 'array' ? 'array' : 'standard',
        path: keyParts(node.key),
        resolved: [...node.resolvedKey],
        headerOffsets: headerRange(node),
        keyOffsets: [node.key.range[0], node.key.range[1]],
        offsets: [node.range[0], node.range[1]],
        entries: [],
      };
      for (const kv of node.body) t.entries.push(entry(kv, t));
      tables.push(t);
    }
  }
  const first = tables[1];
  if (first) root.offsets = [0, first.offsets[0]];
  return tables;
}

function headerRange(node: AST.TOMLTable): OffsetRange {
  // the header ends at the closing bracket(s) after the key
  const close = node.kind === 'array' ? 2 : 1;
  return [node.range[0], node.key.range[1] + close];
}

function entry(kv: AST.TOMLKeyValue, table: TomlTable): TomlEntry {
  const keyPath = keyParts(kv.key);
  return {
    keyPath,
    key: keyPath.join('.'),
    keyOffsets: [kv.key.range[0], kv.key.range[1]],
    offsets: [kv.range[0], kv.range[1]],
    value: value(kv.value, table),
    table,
  };
}

function value(node: AST.TOMLContentNode, table: TomlTable): TomlValue {
  const offsets: OffsetRange = [node.range[0], node.range[1]];
  if (node.type === 'TOMLArray') return { kind: 'array', items: node.elements.map((e) => value(e, table)), offsets };
  if (node.type === 'TOMLInlineTable') return { kind: 'table', entries: node.body.map((kv) => entry(kv, table)), offsets };
  switch (node.kind) {
    case 'string':
      return { kind: 'string', value: node.value, offsets, multiline: node.multiline };
    case 'integer':
      return { kind: 'integer', value: node.value, offsets, raw: node.number };
    case 'float':
      return { kind: 'float', value: node.value, offsets, raw: node.number };
    case 'boolean':
      return { kind: 'boolean', value: node.value, offsets };
    default:
      return { kind: 'datetime', value: node.datetime, offsets };
  }
}

/** All entries of all tables, in file order. */
export function allEntries(doc: TomlDocument): TomlEntry[] {
  return doc.tables.flatMap((t) => t.entries);
}

/** A plain JS value as Python's toml would produce (inline tables as objects). */
export function plainValue(v: TomlValue): unknown {
  switch (v.kind) {
    case 'array':
      return v.items.map(plainValue);
    case 'table': {
      const o: Record<string, unknown> = {};
      for (const e of v.entries) setPath(o, e.keyPath, plainValue(e.value));
      return o;
    }
    default:
      return v.value;
  }
}

function setPath(o: Record<string, unknown>, path: string[], v: unknown): void {
  let cur = o;
  path.forEach((p, i) => {
    if (i === path.length - 1) cur[p] = v;
    else {
      const next = cur[p];
      if (typeof next === 'object' && next !== null && !Array.isArray(next)) cur = next as Record<string, unknown>;
      else {
        const n: Record<string, unknown> = {};
        cur[p] = n;
        cur = n;
      }
    }
  });
}

/** How a value is described in messages: TOML's own names. */
export function kindName(v: TomlValue): string {
  switch (v.kind) {
    case 'string':
      return 'a string';
    case 'integer':
      return 'an integer';
    case 'float':
      return 'a float';
    case 'boolean':
      return 'a boolean';
    case 'datetime':
      return 'a date/time';
    case 'array':
      return 'an array';
    case 'table':
      return 'a table';
  }
}
