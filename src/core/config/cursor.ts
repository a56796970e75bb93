/**
 * A tolerant reading of the text around the cursor, for completion and hover. It does not need
 * valid TOML: it looks at the current line, the header above it and an unclosed array.
 */
import { LineIndex } from './text';
import type { OffsetRange } from './types';

export interface CursorContext {
  where: 'header' | 'key' | 'value' | 'comment' | 'other';
  /** header of the table the cursor is in ([] at the top) */
  table: string[];
  /** whether that header is an [[array table]] */
  arrayTable: boolean;
  /** line of that header, or -1 */
  headerLine: number;
  /** for 'header': [[ or [ */
  doubleBracket: boolean;
  /** for 'value': the key (last part of a dotted key) */
  key?: string;
  /** the word typed so far */
  prefix: string;
  /** the range completion replaces */
  replace: OffsetRange;
  /** for 'value': inside a string literal */
  inString: boolean;
  /** for 'value': inside an array */
  inArray: boolean;
  /** text after the cursor on the same line */
  rest: string;
  lines: LineIndex;
}

const KEY_START = /^\s*(?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*')\s*=/;
const HEADER_LINE = /^\s*(\[\[?)\s*([^\]#]*?)\s*\]/;

/** Strips a trailing comment (outside strings) from the part of a line before the cursor; undefined if the cursor is in a comment. */
function codeBefore(s: string): string | undefined {
  let q: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q) {
      if (c === '\\' && q === '"') i++;
      else if (c === q) q = undefined;
    } else if (c === '"' || c === "'") q = c;
    else if (c === '#') return undefined;
  }
  return s;
}

function unquote(k: string): string {
  return k.trim().replace(/^["']|["']$/g, '');
}

export function cursorContext(text: string, offset: number, lines = new LineIndex(text)): CursorContext {
  const o = Math.max(0, Math.min(offset, text.length));
  const pos = lines.position(o);
  const lineStart = lines.lineStart(pos.line);
  const lineText = lines.lineText(pos.line);
  const beforeRaw = lineText.slice(0, pos.character);
  const rest = lineText.slice(pos.character);
  const wordAfter = /^[A-Za-z0-9_\-.]*/.exec(rest)?.[0].length ?? 0;

  let table: string[] = [];
  let arrayTable = false;
  let headerLine = -1;
  for (let l = pos.line - 1; l >= 0; l--) {
    const m = HEADER_LINE.exec(lines.lineText(l));
    if (m) {
      table = (m[2] ?? '').split('.').map(unquote).filter((x) => x !== '');
      arrayTable = m[1] === '[[';
      headerLine = l;
      break;
    }
  }
  const base: CursorContext = { where: 'other', table, arrayTable, headerLine, doubleBracket: false, prefix: '', replace: [o, o], inString: false, inArray: false, rest, lines };

  const before = codeBefore(beforeRaw);
  if (before === undefined) return { ...base, where: 'comment' };

  const hm = /^\s*(\[\[?)\s*([A-Za-z0-9_\-.]*)$/.exec(before);
  if (hm) {
    const prefix = hm[2] ?? '';
    return { ...base, where: 'header', doubleBracket: hm[1] === '[[', prefix, replace: [o - prefix.length, o + wordAfter] };
  }
  // inside an array that started on an earlier line?
  const open = openArrayKey(lines, pos.line, before);
  if (open) {
    const vc = valueCursor(open.valueBefore, o, wordAfter, rest);
    return { ...base, where: 'value', key: open.key, ...vc };
  }
  const km = /^\s*([A-Za-z0-9_\-]*)$/.exec(before);
  if (km) {
    const prefix = km[1] ?? '';
    return { ...base, where: 'key', prefix, replace: [o - prefix.length, o + wordAfter] };
  }
  const vm = /^\s*((?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'))*)\s*=\s*(.*)$/.exec(before);
  if (vm) {
    const parts = (vm[1] ?? '').split('.').map(unquote);
    const vc = valueCursor(vm[2] ?? '', o, wordAfter, rest);
    return { ...base, where: 'value', key: parts[parts.length - 1] ?? '', ...vc };
  }
  void lineStart;
  return base;
}

function valueCursor(valueBefore: string, o: number, wordAfter: number, rest: string): Pick<CursorContext, 'prefix' | 'replace' | 'inString' | 'inArray'> {
  let q: string | undefined;
  let qStart = -1;
  let depth = 0;
  let itemStart = 0;
  for (let i = 0; i < valueBefore.length; i++) {
    const c = valueBefore[i];
    if (q) {
      if (c === '\\' && q === '"') i++;
      else if (c === q) q = undefined;
      continue;
    }
    if (c === '"' || c === "'") {
      q = c;
      qStart = i;
    } else if (c === '[') {
      depth++;
      itemStart = i + 1;
    } else if (c === ']') depth = Math.max(0, depth - 1);
    else if (c === ',') itemStart = i + 1;
  }
  if (q) {
    const prefix = valueBefore.slice(qStart + 1);
    const closeAt = rest.indexOf(q);
    return { prefix, replace: [o - prefix.length, o + (closeAt >= 0 ? closeAt : rest.length)], inString: true, inArray: depth > 0 };
  }
  const seg = (depth > 0 ? valueBefore.slice(itemStart) : valueBefore).replace(/^\s+/, '');
  return { prefix: seg, replace: [o - seg.length, o + wordAfter], inString: false, inArray: depth > 0 };
}

function openArrayKey(lines: LineIndex, line: number, before: string): { key: string; valueBefore: string } | undefined {
  if (KEY_START.test(before)) return undefined;
  let depth = 0;
  const collected: string[] = [before];
  for (let l = line - 1; l >= 0 && l >= line - 200; l--) {
    const t = lines.lineText(l);
    if (HEADER_LINE.test(t)) return undefined;
    collected.unshift(t);
    const m = /^\s*([A-Za-z0-9_\-]+)\s*=\s*(\[.*)$/.exec(t);
    if (m) {
      const valueBefore = [m[2] ?? '', ...collected.slice(1)].join('\n');
      depth = 0;
      let q: string | undefined;
      for (let i = 0; i < valueBefore.length; i++) {
        const c = valueBefore[i];
        if (q) {
          if (c === '\\' && q === '"') i++;
          else if (c === q || c === '\n') q = undefined;
          continue;
        }
        if (c === '"' || c === "'") q = c;
        else if (c === '#') {
          const nl = valueBefore.indexOf('\n', i);
          i = nl < 0 ? valueBefore.length : nl - 1;
        } else if (c === '[') depth++;
        else if (c === ']') depth--;
      }
      return depth > 0 ? { key: m[1] ?? '', valueBefore: valueBefore.slice(valueBefore.lastIndexOf('\n') + 1).replace(/^/, '[') } : undefined;
    }
    if (KEY_START.test(t)) return undefined;
  }
  return undefined;
}
