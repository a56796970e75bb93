import * as path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

/** The repository root (tests run from out/test/unit/, or from a temporary folder: scripts/unit.mjs). */
export const ROOT = process.env.LWB_ROOT ?? path.resolve(__dirname, '..', '..', '..');
/** The built CLI: dist/cli/lwb.js, or the copy scripts/unit.mjs builds. */
export const LWB_CLI = process.env.LWB_CLI ?? path.join(ROOT, 'dist', 'cli', 'lwb.js');
export const SAMPLE = path.join(ROOT, 'sample');
export const SAMPLE_TRAIN = path.join(SAMPLE, 'dataset', 'img_train');

export function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'lwb-unit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
