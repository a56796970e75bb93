import * as path from 'node:path';
import { readFileSync } from 'node:fs';
import { ROOT } from './helpers';
import type { ConfigDiagnostic, ConfigFileSystem } from '../../src/core/config';

export const CONFIG_FIXTURES = path.join(ROOT, 'test', 'fixtures', 'configs');

export function fixture(name: string): string {
  return readFileSync(path.join(CONFIG_FIXTURES, name), 'utf8');
}

/** An in-memory file system: paths ending in '/' are folders, others files. */
export function fakeFs(paths: readonly string[]): ConfigFileSystem {
  const files = new Set<string>();
  const dirs = new Set<string>(['/']);
  const addParents = (p: string) => {
    let d = path.posix.dirname(p);
    while (!dirs.has(d)) {
      dirs.add(d);
      d = path.posix.dirname(d);
    }
  };
  for (const p of paths) {
    if (p.endsWith('/')) {
      const d = p.slice(0, -1);
      dirs.add(d);
      addParents(d);
    } else {
      files.add(p);
      addParents(p);
    }
  }
  return {
    exists: (p) => files.has(p) || dirs.has(p),
    isDirectory: (p) => dirs.has(p),
    list: (dir) => {
      const out = new Set<string>();
      for (const p of [...files, ...dirs]) if (p !== dir && path.posix.dirname(p) === dir) out.add(path.posix.basename(p));
      return [...out];
    },
  };
}

/** A compact, comparable form of diagnostics: 'line:col-line:col severity code'. */
export function brief(ds: readonly ConfigDiagnostic[]): string[] {
  return ds.map((d) => `${d.range.start.line + 1}:${d.range.start.character + 1}-${d.range.end.line + 1}:${d.range.end.character + 1} ${d.severity} ${d.code}`);
}

/** Applies the edits of a fix to a text. */
export function applyFix(text: string, d: ConfigDiagnostic, index = 0): string {
  const fix = d.fixes?.[index];
  if (!fix) throw new Error(`no fix ${index} on ${d.code}`);
  const edits = [...fix.edits].sort((a, b) => b.offsets[0] - a.offsets[0]);
  let out = text;
  for (const e of edits) out = out.slice(0, e.offsets[0]) + e.newText + out.slice(e.offsets[1]);
  return out;
}

export function only(ds: readonly ConfigDiagnostic[], code: string): ConfigDiagnostic[] {
  return ds.filter((d) => d.code === code);
}
