import * as path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

/** The repository root (tests run from out/test/unit/). */
export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const SAMPLE = path.join(ROOT, 'sample');
export const SAMPLE_TRAIN = path.join(SAMPLE, 'dataset', 'img_train');

export function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'lwb-unit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
