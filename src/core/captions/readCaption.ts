/**
 * Reads a caption/tag file the way sd-scripts' `read_caption` does, and says what sd-scripts
 * would do with it: it decodes strictly as UTF-8 (a non-UTF-8 file aborts training), asserts the
 * file is not empty (an empty file aborts training), keeps a byte-order mark glued to the first
 * tag (it opens with "utf-8", not "utf-8-sig"), and uses only the first line unless wildcards are
 * enabled.
 */
import { promises as fsp } from 'node:fs';

export type CaptionProblemCode = 'notUtf8' | 'empty' | 'blank' | 'bom' | 'multiLine' | 'unreadable';

export interface CaptionProblem {
  code: CaptionProblemCode;
  message: string;
}

export interface CaptionRead {
  /** The decoded text ('' when it could not be decoded). */
  text: string;
  /** What sd-scripts uses without `enable_wildcard`: the first line, stripped. */
  firstLine: string;
  problems: CaptionProblem[];
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Python's str.isspace() characters as a regex character class: what str.strip() removes (JS's \s
 * would also take a BOM). Exported for the caption parser.
 */
export const PY_SPACE = '[ \\t\\n\\r\\v\\f\\u001c-\\u001f\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const PY_STRIP = new RegExp(`^${PY_SPACE}+|${PY_SPACE}+$`, 'gu');

export function pyStrip(s: string): string {
  return s.replace(PY_STRIP, '');
}

export function decodeCaption(bytes: Uint8Array): CaptionRead {
  const problems: CaptionProblem[] = [];
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return {
      text: '',
      firstLine: '',
      problems: [{ code: 'notUtf8', message: 'not UTF-8: sd-scripts stops training with "illegal char in file"' }],
    };
  }
  if (text.startsWith('\ufeff')) {
    problems.push({
      code: 'bom',
      message: 'starts with a byte-order mark: sd-scripts keeps it glued to the first tag',
    });
  }
  // readlines() keeps the line ends; only a 0-byte file has no line at all
  const lines = text.split(/(?<=\r\n|\n|\r)/);
  const firstLine = pyStrip(lines[0] ?? '');
  if (bytes.length === 0) {
    problems.push({ code: 'empty', message: 'empty: sd-scripts stops training ("caption file is empty")' });
  } else if (firstLine === '') {
    problems.push({ code: 'blank', message: 'the first line is blank: sd-scripts trains this image with an empty caption' });
  }
  if (lines.slice(1).some((l) => pyStrip(l) !== '')) {
    problems.push({
      code: 'multiLine',
      message: 'has several lines: without enable_wildcard sd-scripts uses only the first',
    });
  }
  return { text, firstLine, problems };
}

export async function readCaptionFile(file: string): Promise<CaptionRead> {
  try {
    return decodeCaption(await fsp.readFile(file));
  } catch (e) {
    return {
      text: '',
      firstLine: '',
      problems: [{ code: 'unreadable', message: `cannot be read: ${(e as Error).message}` }],
    };
  }
}

/**
 * Tags as sd-scripts counts them for `ss_tag_frequency`: split on a literal ",", stripped,
 * lower-cased; empty pieces dropped.
 */
export function tagsForFrequency(caption: string): string[] {
  return caption
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== '');
}
