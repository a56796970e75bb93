import type { TomlDocument } from './document';
import type { ConfigDiagnostic, Fix, OffsetRange, Severity } from './types';
import type { LineIndex } from './text';

/** Every diagnostic code the config checks produce, with a short description (for docs and tests). */
export const DIAGNOSTIC_CODES = {
  'toml-syntax': 'TOML syntax error',
  'duplicate-key': 'a key or table defined twice in TOML',
  'unknown-option': 'a training-config key sd-scripts does not know (ignored silently)',
  'duplicate-option': 'the same option in two sections (the later one wins silently)',
  'nested-table': 'a table nested deeper than sd-scripts flattens',
  'wrong-type': 'a value of a type sd-scripts does not convert',
  'invalid-choice': 'a value outside the allowed choices',
  'unknown-value': 'a value sd-scripts does not recognise for this option',
  'warmup-float-ratio': 'a float warm-up/decay length ≥ 1, read as a ratio',
  'mixed-array': 'an array mixing value types (toml 0.10.2 rejects it)',
  'conflict': 'options that sd-scripts refuses together',
  'incomplete': 'an option that needs another option',
  'ignored-option': 'an option sd-scripts ignores in this combination',
  'advice': 'a well-known pitfall',
  'path-not-found': 'a path that does not exist',
  'path-kind': 'a file where a folder is needed or the other way round',
  'placeholder-path': 'a path that is still a placeholder',
  'no-concept-folders': 'a train_data_dir without N_name subfolders',
  'ignored-folder': 'a subfolder sd-scripts skips',
  'network-arg': 'a malformed or unknown network_args entry',
  'key-value-arg': 'a malformed optimizer_args / lr_scheduler_args entry',
  'dataset-extra-key': 'a key the dataset-config schema rejects here',
  'dataset-required-key': 'a required dataset-config key is missing',
  'dataset-mixed-subsets': 'DreamBooth and fine-tuning subsets in one dataset',
  'dataset-not-array': '[datasets] written instead of [[datasets]]',
  'dataset-value': 'a dataset-config value sd-scripts rejects at runtime',
  'prompt-duplicate-key': 'a sample-prompt key both in [prompt] and a subset',
  'prompt-structure': 'a sample-prompt TOML without [prompt] / [[prompt.subset]]',
  'prompt-unknown-key': 'a sample-prompt key sd-scripts ignores',
  'prompt-option': 'a sample-prompt .txt option sd-scripts ignores or misreads',
  internal: 'LoRA Workbench itself failed on this file (please report it)',
} as const;

export type DiagnosticCode = keyof typeof DIAGNOSTIC_CODES;

export interface EditSpec {
  offsets: OffsetRange;
  newText: string;
}

/** Collects diagnostics of one document. */
export class DiagnosticSink {
  readonly items: ConfigDiagnostic[] = [];
  constructor(readonly lines: LineIndex) {}

  add(code: DiagnosticCode, severity: Severity, offsets: OffsetRange, message: string, fixes?: { title: string; edits: EditSpec[]; preferred?: boolean }[]): ConfigDiagnostic {
    const d: ConfigDiagnostic = { range: this.lines.range(offsets), offsets, code, severity, message };
    if (fixes && fixes.length) d.fixes = fixes.map((f) => this.fix(f.title, f.edits, f.preferred));
    this.items.push(d);
    return d;
  }

  fix(title: string, edits: EditSpec[], preferred?: boolean): Fix {
    const f: Fix = { title, edits: edits.map((e) => ({ range: this.lines.range(e.offsets), offsets: e.offsets, newText: e.newText })) };
    if (preferred) f.preferred = true;
    return f;
  }
}

/** Offsets of the whole line(s) of [start, end), including the line break, for "remove this line" fixes. */
export function wholeLines(lines: LineIndex, offsets: OffsetRange): OffsetRange {
  const a = lines.position(offsets[0]).line;
  const b = lines.position(offsets[1]).line;
  const start = lines.lineStart(a);
  const end = b + 1 < lines.lineCount ? lines.lineStart(b + 1) : lines.lineEnd(b);
  return [start, end];
}

/** Diagnostics for the syntax errors of a document. */
export function syntaxDiagnostics(doc: TomlDocument, sink: DiagnosticSink): void {
  for (const e of doc.syntaxErrors) {
    const dupe = e.parserCode === 'dupe-keys';
    if (e.parserCode === 'bom') {
      sink.add('toml-syntax', 'error', e.offsets, e.message, [{ title: 'Remove the byte-order mark', edits: [{ offsets: e.offsets, newText: '' }], preferred: true }]);
      continue;
    }
    sink.add(dupe ? 'duplicate-key' : 'toml-syntax', 'error', e.offsets, dupe ? `${e.message}: this key or table is already defined above` : e.message);
  }
}

export function sortDiagnostics(ds: ConfigDiagnostic[]): ConfigDiagnostic[] {
  return ds.sort((a, b) => a.offsets[0] - b.offsets[0] || a.offsets[1] - b.offsets[1] || a.code.localeCompare(b.code));
}
