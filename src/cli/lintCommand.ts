import * as path from 'node:path';
import { scanDataset, ScanRootError, type ScanResult } from '../core/dataset/scan';
import { lintDataset } from '../core/captions/dataset';
import { RULES, type RuleCode, type RuleConfig, type Severity } from '../core/captions/rules';
import type { CaptionOptions } from '../core/captions/parse';
import { EXIT, UsageError, type CliIo, parseCommandArgs } from './io';

export const LINT_HELP = `Usage: lwb lint <folder> [options]

Checks every caption/tag file of a dataset the way sd-scripts will read it: files that stop
training (empty, not UTF-8), a byte-order mark, ignored extra lines, the trigger word (missing,
not first, shuffled away), duplicate tags, mixed underscore/space style, tags the trigger should
absorb and tags on most images of a concept (pollution candidates).

<folder> is a train_data_dir with N_name concept folders, or one concept folder. Each concept's
trigger word is the first word of its class tokens (5_tk girl → tk) unless --trigger is given.

Options:
  --trigger <word>             The trigger word of every concept
  --trigger-rule <rule>        firstWord (default) or whole: which class tokens are the trigger
  --ext <.txt>                 Caption extension (sd-scripts' caption_extension; default .txt)
  --depth <n> | --recursive    Subfolder levels to visit (default 1)
  --shuffle-caption            The config sets shuffle_caption
  --keep-tokens <n>            keep_tokens
  --keep-tokens-separator <s>  keep_tokens_separator, e.g. "|||"
  --caption-separator <s>      caption_separator (default ",")
  --enable-wildcard            enable_wildcard
  --caption-prefix <s>         caption_prefix
  --absorbed <a,b,...>         Tags the trigger should absorb (reported as warnings)
  --share <0..1>               Share of a concept's images that makes a tag a pollution
                               candidate (default 0.8)
  --severity <code=level,...>  Change severities (error, warning, info, hint, off)
  --verbose                    List pollution candidates in every file, not once per concept
  --json                       Print the diagnostics as JSON (pollution candidates as a
                               summary; per file too with --verbose)
  -h, --help                   Show this help

Exit codes: 0 no errors, 1 at least one error (training would stop), 2 usage error,
3 folder missing or unreadable.
`;

const LEVELS = new Set(['error', 'warning', 'info', 'hint', 'off']);

export async function runLint(args: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(args, {
    trigger: { type: 'string' },
    'trigger-rule': { type: 'string' },
    ext: { type: 'string' },
    depth: { type: 'string' },
    recursive: { type: 'boolean', default: false },
    'shuffle-caption': { type: 'boolean', default: false },
    'keep-tokens': { type: 'string' },
    'keep-tokens-separator': { type: 'string' },
    'caption-separator': { type: 'string' },
    'enable-wildcard': { type: 'boolean', default: false },
    'caption-prefix': { type: 'string' },
    absorbed: { type: 'string' },
    share: { type: 'string' },
    severity: { type: 'string' },
    json: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  });
  const { values: v, positionals } = parsed;
  if (v.help) {
    io.out(LINT_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'lint needs a folder' : 'lint takes one folder');
  const depth = parseDepth(v.depth, v.recursive);
  const rule = v['trigger-rule'];
  if (rule !== undefined && rule !== 'firstWord' && rule !== 'whole') throw new UsageError(`--trigger-rule is firstWord or whole, not '${rule}'`);
  const captionOptions: CaptionOptions = { shuffleCaption: v['shuffle-caption'], enableWildcard: v['enable-wildcard'] };
  if (v['keep-tokens'] !== undefined) {
    if (!/^\d+$/.test(v['keep-tokens'])) throw new UsageError(`--keep-tokens takes a whole number, not '${v['keep-tokens']}'`);
    captionOptions.keepTokens = Number(v['keep-tokens']);
  }
  if (v['keep-tokens-separator'] !== undefined) captionOptions.keepTokensSeparator = v['keep-tokens-separator'];
  if (v['caption-separator'] !== undefined) captionOptions.captionSeparator = v['caption-separator'];
  if (v['caption-prefix'] !== undefined) captionOptions.captionPrefix = v['caption-prefix'];
  const rules: RuleConfig = {};
  if (v.share !== undefined) {
    const share = Number(v.share);
    if (!/^\d*\.?\d+$/.test(v.share) || share <= 0 || share > 1) throw new UsageError(`--share takes a number above 0 and at most 1, not '${v.share}'`);
    rules.pollutionShare = share;
  }
  if (v.severity !== undefined) rules.severities = parseSeverities(v.severity);

  const root = positionals[0] as string;
  let scan: ScanResult;
  try {
    scan = await scanDataset(root, { depth });
  } catch (e) {
    if (e instanceof ScanRootError) {
      if (v.json) io.out(JSON.stringify({ error: { code: e.code, message: e.message, path: e.root } }, null, 2) + '\n');
      io.err(`lwb lint: ${e.message}\n`);
      return EXIT.input;
    }
    throw e;
  }
  const absorbed = v.absorbed?.split(',').map((s) => s.trim()).filter(Boolean);
  const result = await lintDataset(scan, {
    captionExtension: v.ext ?? '.txt',
    ...(v.trigger !== undefined ? { trigger: v.trigger } : {}),
    ...(rule ? { triggerRule: rule } : {}),
    ...(absorbed ? { absorbed } : {}),
    captionOptions,
    rules,
    pollutionPerFile: v.verbose,
  });
  const counts = { error: 0, warning: 0, info: 0, hint: 0 };
  for (const d of result.diagnostics) counts[d.severity]++;
  if (!v.verbose) for (const p of result.pollution) counts[p.severity]++;
  if (v.json) {
    io.out(
      JSON.stringify(
        {
          root: scan.root,
          captionFiles: result.files,
          imagesWithoutCaption: result.missing,
          triggers: result.triggers,
          counts,
          pollution: result.pollution,
          diagnostics: result.diagnostics,
        },
        null,
        2,
      ) + '\n',
    );
  } else {
    const lines: string[] = [];
    for (const t of result.triggers) {
      lines.push(`${t.name}: trigger ${t.trigger === null ? '(none)' : `'${t.trigger}'`} from ${t.source}`);
    }
    for (const d of result.diagnostics) {
      const rel = path.relative(scan.root, d.file) || path.basename(d.file);
      lines.push(`${rel}:${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.severity} [${d.code}] ${d.message}`);
    }
    // without --verbose, pollution candidates are one finding per concept and tag, not per file
    if (!v.verbose) {
      for (const p of result.pollution) {
        const rel = path.relative(scan.root, p.concept) || '.';
        lines.push(
          `${rel}/: ${p.severity} [pollution-candidate] '${p.tag}' is on ${p.files} of ${p.total} images (${Math.round((100 * p.files) / p.total)}%) ` +
            `of this concept: it may learn what the trigger should (face, hair, outfit); remove it from the concept if it describes the subject`,
        );
      }
    }
    const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
    lines.push(
      `${plural(result.files, 'caption file')} checked${result.missing ? ` (${plural(result.missing, 'image')} without one)` : ''}: ` +
        `${plural(counts.error, 'error')}, ${plural(counts.warning, 'warning')}, ${counts.info + counts.hint} info`,
    );
    io.out(lines.join('\n') + '\n');
  }
  return counts.error > 0 ? EXIT.problem : EXIT.ok;
}

export function parseDepth(depth: string | undefined, recursive: boolean | undefined): number {
  if (recursive) return Number.MAX_SAFE_INTEGER;
  if (depth === undefined) return 1;
  if (!/^\d+$/.test(depth)) throw new UsageError(`--depth takes a whole number, not '${depth}'`);
  return Number(depth);
}

function parseSeverities(spec: string): NonNullable<RuleConfig['severities']> {
  const out: NonNullable<RuleConfig['severities']> = {};
  for (const item of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [code, level] = item.split('=').map((s) => s.trim());
    if (!code || !Object.prototype.hasOwnProperty.call(RULES, code)) {
      throw new UsageError(`--severity: unknown rule '${code ?? ''}' (rules: ${Object.keys(RULES).join(', ')})`);
    }
    if (!level || !LEVELS.has(level)) throw new UsageError(`--severity: '${item}' needs a level: error, warning, info, hint or off`);
    out[code as RuleCode] = level as Severity | 'off';
  }
  return out;
}
