/**
 * Which safe fixes the image audit offers for one file's problems ("Fix Image Problem…").
 *
 * Pure TypeScript (no `vscode`).
 */
import * as path from 'node:path';
import type { RatedProblem } from './auditSession';

export type FixKind = 'rotateExif' | 'toRgb8' | 'rename' | 'trash';

export interface FixChoice {
  kind: FixKind;
  label: string;
  detail: string;
  file: string;
  /** rename target */
  to?: string;
  /** files to trash */
  files?: string[];
}

/** The fixes offered for one file's problems (pure: exported for tests). */
export function fixChoices(file: string, problems: readonly RatedProblem[]): FixChoice[] {
  const out: FixChoice[] = [];
  const seen = new Set<string>();
  const add = (c: FixChoice): void => {
    const key = `${c.kind}:${c.to ?? ''}:${(c.files ?? []).join('|')}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(c);
    }
  };
  const name = path.basename(file);
  for (const p of problems) {
    if (p.code === 'exifOrientation') add({ kind: 'rotateExif', label: `Rotate the pixels of ${name} upright`, detail: p.message, file });
    else if (p.code === 'cmyk' || p.code === 'highBitDepth' || p.code === 'alpha') add({ kind: 'toRgb8', label: `Convert ${name} to 8-bit RGB${p.code === 'alpha' ? ' on white' : ''}`, detail: p.message, file });
    if (p.fix?.kind === 'rename') add({ kind: 'rename', label: `Rename ${name} to ${path.basename(p.fix.to)}`, detail: p.message, file, to: p.fix.to });
    else if (p.fix?.kind === 'deleteToTrash') add({ kind: 'trash', label: `Move ${p.fix.files.map((f) => path.basename(f)).join(', ')} to the trash`, detail: p.message, file, files: p.fix.files });
  }
  return out;
}

