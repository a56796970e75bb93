/**
 * The tag editor's plain data types and the check of an operation sent by a webview. No imports:
 * the webview bundle and src/core/protocol.ts use these too.
 */

export interface ChipProblem {
  code: string;
  severity: 'error' | 'warning' | 'info' | 'hint';
  message: string;
}

export interface TagChip {
  index: number;
  /** the tag as written, `(blue_hair:1.2)` */
  text: string;
  /** without a weight wrapper */
  name: string;
  weight: number | null;
  /** the concept's trigger word */
  trigger: boolean;
  /** kept in place by keep_tokens when shuffle_caption is on (null: shuffle is off) */
  kept: boolean | null;
  problems: ChipProblem[];
}

export interface TagEditorProblem extends ChipProblem {
  /** the chip the problem is about, or null for the file as a whole */
  chip: number | null;
  /** titles of the quick fixes, in the diagnostic's order */
  fixes: string[];
}

/** What the tag editor asks for; indices refer to the chips of the text the request was made on. */
export type TagEditOp =
  | { op: 'add'; tag: string; position?: 'front' | 'end' | number }
  | { op: 'remove'; index: number }
  | { op: 'move'; from: number; to: number }
  /** `keepWeight`: a chip edited in place keeps its `(name:weight)` wrapper unless the text has its own */
  | { op: 'replace'; index: number; text: string; keepWeight?: boolean };

export function isTagEditOp(x: unknown): x is TagEditOp {
  if (typeof x !== 'object' || x === null) return false;
  const o = x as Record<string, unknown>;
  const int = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  switch (o.op) {
    case 'add':
      return typeof o.tag === 'string' && (o.position === undefined || o.position === 'front' || o.position === 'end' || int(o.position));
    case 'remove':
      return int(o.index);
    case 'move':
      return int(o.from) && int(o.to);
    case 'replace':
      return int(o.index) && typeof o.text === 'string' && (o.keepWeight === undefined || typeof o.keepWeight === 'boolean');
    default:
      return false;
  }
}


/**
 * Where a caret at `offset` in `oldText` belongs in `newText` after an outside change (undo, a
 * save from elsewhere): text before the changed span keeps it, text after it shifts with it, a
 * caret inside the span goes to its end. The span is the common prefix/suffix difference.
 */
export function mapOffsetThroughChange(oldText: string, newText: string, offset: number): number {
  if (oldText === newText) return offset;
  const max = Math.min(oldText.length, newText.length);
  let p = 0;
  while (p < max && oldText.charCodeAt(p) === newText.charCodeAt(p)) p++;
  let s = 0;
  while (s < max - p && oldText.charCodeAt(oldText.length - 1 - s) === newText.charCodeAt(newText.length - 1 - s)) s++;
  const oldEnd = oldText.length - s;
  const newEnd = newText.length - s;
  if (offset <= p) return offset;
  if (offset >= oldEnd) return Math.min(newText.length, offset + newEnd - oldEnd);
  return newEnd;
}
