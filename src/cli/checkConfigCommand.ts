import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  checkConfig, detectConfigKind, referencedFiles, nodeFileSystem, parseTomlDocument,
  type ConfigDiagnostic, type ConfigKind,
} from '../core/config';
import { EXIT, UsageError, type CliIo, parseCommandArgs } from './io';

export const CHECK_CONFIG_HELP = `Usage: lwb check-config <config.toml> [options]

Checks a kohya sd-scripts training config the way sdxl_train_network.py reads it: TOML syntax,
unknown keys, types sd-scripts does not convert, invalid choices, conflicting options and paths.
The dataset config and sample-prompt file it names are checked too when they exist. A dataset
config or sample-prompt file given directly is checked as such.

Options:
  --dataset-config <file>  Also check this dataset config (as --dataset_config would be given)
  --base-dir <dir>         Folder relative paths are resolved from (default: the current folder,
                           like sd-scripts)
  --kind <kind>            training, dataset or prompts (default: detected from the content)
  --json                   Print the diagnostics as JSON
  -h, --help               Show this help

Output: one line per problem, file:line:col: severity code: message

Exit codes: 0 no errors (warnings may be printed), 1 errors found, 2 usage error,
3 a file is missing or unreadable.
`;

interface FileResult {
  file: string;
  kind: ConfigKind;
  diagnostics: ConfigDiagnostic[];
}

function readText(file: string): string | { error: string } {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { error: err.code === 'ENOENT' ? `${file} does not exist` : err.code === 'EISDIR' ? `${file} is a folder, not a file` : `cannot read ${file}: ${err.message}` };
  }
}

const KINDS: Record<string, ConfigKind> = { training: 'training', dataset: 'dataset', prompts: 'samplePrompts', samplePrompts: 'samplePrompts' };

export async function runCheckConfig(args: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(args, {
    'dataset-config': { type: 'string' },
    'base-dir': { type: 'string' },
    kind: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(CHECK_CONFIG_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'check-config needs a config file' : 'check-config takes one config file');
  let forcedKind: ConfigKind | undefined;
  if (values.kind !== undefined) {
    forcedKind = KINDS[values.kind];
    if (!forcedKind) throw new UsageError(`--kind must be training, dataset or prompts, not '${values.kind}'`);
  }
  const baseDir = path.resolve(values['base-dir'] ?? process.cwd());
  const file = positionals[0] as string;
  const text = readText(file);
  if (typeof text !== 'string') {
    io.err(`lwb check-config: ${text.error}\n`);
    if (values.json) io.out(JSON.stringify({ error: { message: text.error, path: file } }, null, 2) + '\n');
    return EXIT.input;
  }
  const kind = forcedKind ?? detectConfigKind(file, text) ?? (file.toLowerCase().endsWith('.txt') ? 'samplePrompts' : 'training');
  const results: FileResult[] = [];
  const opts = { fileName: file, fs: nodeFileSystem, baseDir };
  results.push({ file, kind, diagnostics: checkConfig(kind, text, opts) });

  const explicitDataset = values['dataset-config'];
  if (explicitDataset !== undefined) {
    const dsText = readText(explicitDataset);
    if (typeof dsText !== 'string') {
      io.err(`lwb check-config: ${dsText.error}\n`);
      if (values.json) io.out(JSON.stringify({ error: { message: dsText.error, path: explicitDataset } }, null, 2) + '\n');
      return EXIT.input;
    }
    results.push({ file: explicitDataset, kind: 'dataset', diagnostics: checkConfig('dataset', dsText, { ...opts, fileName: explicitDataset, ...(kind === 'training' ? { trainingConfigText: text } : {}) }) });
  }
  if (kind === 'training') {
    // follow dataset_config and sample_prompts when they exist
    for (const ref of referencedFiles(parseTomlDocument(text))) {
      if (!ref.kind || (ref.kind === 'dataset' && explicitDataset !== undefined)) continue;
      const refPath = path.resolve(baseDir, ref.path);
      if (!nodeFileSystem.exists(refPath) || nodeFileSystem.isDirectory(refPath)) continue;
      const refText = readText(refPath);
      if (typeof refText !== 'string') continue;
      if (ref.kind === 'samplePrompts' && refPath.toLowerCase().endsWith('.json')) continue;
      results.push({ file: path.relative(process.cwd(), refPath) || refPath, kind: ref.kind, diagnostics: checkConfig(ref.kind, refText, { ...opts, fileName: refPath, ...(ref.kind === 'dataset' ? { trainingConfigText: text } : {}) }) });
    }
  }

  const all = results.flatMap((r) => r.diagnostics);
  const count = (s: string) => all.filter((d) => d.severity === s).length;
  if (values.json) {
    io.out(JSON.stringify({ files: results, errors: count('error'), warnings: count('warning') }, null, 2) + '\n');
  } else {
    io.out(formatDiagnostics(results));
    const parts = [`${count('error')} error${count('error') === 1 ? '' : 's'}`, `${count('warning')} warning${count('warning') === 1 ? '' : 's'}`];
    const infos = count('info') + count('hint');
    if (infos) parts.push(`${infos} note${infos === 1 ? '' : 's'}`);
    io.err(`lwb check-config: ${parts.join(', ')} in ${results.length} file${results.length === 1 ? '' : 's'}\n`);
  }
  return count('error') > 0 ? EXIT.problem : EXIT.ok;
}

export function formatDiagnostics(results: readonly FileResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    for (const d of r.diagnostics) {
      lines.push(`${r.file}:${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.severity} ${d.code}: ${d.message}`);
    }
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}
