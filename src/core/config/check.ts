/** The public entry points of the config checks. Nothing here throws on bad input. */
import * as path from 'node:path';
import { parseTomlDocument, type TomlDocument } from './document';
import { DiagnosticSink, syntaxDiagnostics, sortDiagnostics } from './diag';
import { checkTrainingDocument } from './checkTraining';
import { checkDatasetDocument } from './checkDataset';
import { checkPromptToml, checkPromptTxt } from './checkPrompts';
import { TrainingValues } from './training';
import { LineIndex } from './text';
import type { ConfigDiagnostic, ConfigFileSystem, ConfigKind } from './types';

export interface CheckOptions {
  /** the checked file's path: decides .txt vs .toml prompts and the default base folder for relative paths */
  fileName?: string;
  /** file-system access for path checks; without it paths are not checked */
  fs?: ConfigFileSystem;
  /** folder relative paths are resolved against (default: the folder of fileName, else the working folder) */
  baseDir?: string;
  /** for a dataset config: the text of the training config that uses it (for cross-checks) */
  trainingConfigText?: string;
}

function baseDirOf(opts: CheckOptions): string {
  return opts.baseDir ?? (opts.fileName ? path.dirname(path.resolve(opts.fileName)) : process.cwd());
}

function internalError(e: unknown, lines: LineIndex): ConfigDiagnostic {
  return {
    range: lines.range([0, 0]),
    offsets: [0, 0],
    code: 'internal',
    severity: 'error',
    message: `LoRA Workbench could not check this file: ${(e as Error)?.message ?? String(e)}`,
  };
}

/** All diagnostics of a training config. */
export function checkTrainingConfig(text: string, opts: CheckOptions = {}): ConfigDiagnostic[] {
  const lines = new LineIndex(text);
  try {
    const doc = parseTomlDocument(text);
    const sink = new DiagnosticSink(doc.lines);
    syntaxDiagnostics(doc, sink);
    checkTrainingDocument(doc, sink, { fs: opts.fs, baseDir: baseDirOf(opts) });
    return sortDiagnostics(sink.items);
  } catch (e) {
    return [internalError(e, lines)];
  }
}

/** All diagnostics of a dataset config (optionally cross-checked with its training config). */
export function checkDatasetConfig(text: string, opts: CheckOptions = {}): ConfigDiagnostic[] {
  const lines = new LineIndex(text);
  try {
    const doc = parseTomlDocument(text);
    const sink = new DiagnosticSink(doc.lines);
    syntaxDiagnostics(doc, sink);
    const training = opts.trainingConfigText !== undefined ? TrainingValues.of(parseTomlDocument(opts.trainingConfigText)) : undefined;
    checkDatasetDocument(doc, sink, { fs: opts.fs, baseDir: baseDirOf(opts), training });
    return sortDiagnostics(sink.items);
  } catch (e) {
    return [internalError(e, lines)];
  }
}

/** All diagnostics of a sample-prompt file (.txt format unless fileName ends with .toml). */
export function checkSamplePrompts(text: string, opts: CheckOptions = {}): ConfigDiagnostic[] {
  const lines = new LineIndex(text);
  try {
    if (opts.fileName !== undefined && !opts.fileName.toLowerCase().endsWith('.toml')) {
      const sink = new DiagnosticSink(lines);
      checkPromptTxt(lines, sink);
      return sortDiagnostics(sink.items);
    }
    const doc = parseTomlDocument(text);
    const sink = new DiagnosticSink(doc.lines);
    syntaxDiagnostics(doc, sink);
    checkPromptToml(doc, sink);
    return sortDiagnostics(sink.items);
  } catch (e) {
    return [internalError(e, lines)];
  }
}

/** Diagnostics for any kind. */
export function checkConfig(kind: ConfigKind, text: string, opts: CheckOptions = {}): ConfigDiagnostic[] {
  switch (kind) {
    case 'training':
      return checkTrainingConfig(text, opts);
    case 'dataset':
      return checkDatasetConfig(text, opts);
    case 'samplePrompts':
      return checkSamplePrompts(text, opts);
  }
}

export type { TomlDocument };
