import { scanDataset, ScanRootError, DEFAULT_SIDECAR_EXTENSIONS, type ScanResult } from '../core/dataset/scan';
import { groupDatasets } from '../core/dataset/groups';
import { DatasetIndex } from '../core/dataset/index';
import { auditDataset, type AuditImage, type AuditProblem } from '../core/dataset/audit';
import * as path from 'node:path';
import { EXIT, UsageError, type CliIo, parseCommandArgs } from './io';

export const SCAN_HELP = `Usage: lwb scan <folder> [options]

Lists the images sd-scripts would load in <folder> and its subfolders, each with the
caption/tag files next to it (same name, sidecar extension).

Options:
  --depth <n>              Subfolder levels to visit (default 1: a train_data_dir and its
                           N_name concept folders)
  --recursive              Visit every level
  --ext <.txt,.caption>    Sidecar extensions to pair (default ${DEFAULT_SIDECAR_EXTENSIONS.join(',')})
  --summary                One line per folder instead of one per image
  --audit                  Also check every image: corrupt, truncated or 0-byte files, formats
                           sd-scripts does not load, content not matching the extension, too
                           small, low quality, alpha, CMYK, 16-bit, animated, EXIF rotation,
                           huge images, exact duplicates, stray captions
  --resolution W,H         Training resolution for the audit (default 1024,1024)
  --json                   Print the scan as JSON
  -h, --help               Show this help

Exit codes: 0 images found, 1 no image sd-scripts would load (or, with --audit, an image
that stops training), 2 usage error, 3 folder missing or unreadable.
`;

export async function runScan(args: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(args, {
    depth: { type: 'string' },
    recursive: { type: 'boolean', default: false },
    ext: { type: 'string' },
    summary: { type: 'boolean', default: false },
    audit: { type: 'boolean', default: false },
    resolution: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(SCAN_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length === 0 ? 'scan needs a folder' : 'scan takes one folder');
  }
  let depth = 1;
  if (values.recursive) depth = Number.MAX_SAFE_INTEGER;
  else if (values.depth !== undefined) {
    if (!/^\d+$/.test(values.depth)) throw new UsageError(`--depth takes a whole number, not '${values.depth}'`);
    depth = Number(values.depth);
  }
  const exts = values.ext
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (exts && exts.length === 0) throw new UsageError('--ext needs at least one extension');
  let resolution: [number, number] = [1024, 1024];
  if (values.resolution !== undefined) {
    const parts = values.resolution.split(/[,x×]/).map((p) => p.trim());
    if (parts.length > 2 || parts.some((p) => !/^\d+$/.test(p) || Number(p) < 1)) {
      throw new UsageError(`--resolution takes W,H or one number, not '${values.resolution}'`);
    }
    resolution = [Number(parts[0]), Number(parts[1] ?? parts[0])];
  }

  let result: ScanResult;
  try {
    result = await scanDataset(positionals[0] as string, { depth, ...(exts ? { sidecarExtensions: exts } : {}) });
  } catch (e) {
    if (e instanceof ScanRootError) {
      if (values.json) io.out(JSON.stringify({ error: { code: e.code, message: e.message, path: e.root } }, null, 2) + '\n');
      io.err(`lwb scan: ${e.message}\n`);
      return EXIT.input;
    }
    throw e;
  }

  const problems = values.audit
    ? await auditScan(result.root, { depth, resolution, ...(exts ? { sidecarExtensions: exts } : {}) })
    : undefined;
  if (values.json) {
    const datasets = scanDatasets(result);
    io.out(JSON.stringify({ ...result, datasets, ...(problems ? { problems, problemCounts: countProblems(problems) } : {}) }, null, 2) + '\n');
  } else {
    io.out(formatScan(result, values.summary));
    if (problems) io.out(formatProblems(problems, result.root));
  }
  for (const err of result.errors) io.err(`lwb scan: could not read ${err.path}: ${err.message}\n`);
  if (result.totals.images === 0) {
    io.err(
      `lwb scan: no image sd-scripts would load under ${result.root} ` +
        `(it looks for ${['.png', '.jpg', '.jpeg', '.webp', '.bmp'].join(' ')} directly inside each folder)\n`,
    );
    return EXIT.problem;
  }
  if (problems?.some((p) => p.severity === 'error')) return EXIT.problem;
  return EXIT.ok;
}

/** Datasets as sd-scripts sees them: a train_data_dir with its concept folders, or a plain folder. */
export function scanDatasets(result: ScanResult): Array<{
  kind: string;
  path: string;
  images: number;
  samplesPerEpoch: number;
  subsets: Array<{ path: string; relPath: string; repeats: number | null; classTokens: string | null; images: number; skipped: string | null }>;
}> {
  return groupDatasets(result.folders).map((g) => ({
    kind: g.kind,
    path: g.path,
    images: g.imageCount,
    samplesPerEpoch: g.folders.reduce((n, f) => n + f.images.length * (f.concept.ok ? f.concept.repeats : 1), 0),
    subsets: g.folders.map((f) => ({
      path: f.path,
      relPath: f.relPath,
      repeats: f.concept.ok ? f.concept.repeats : null,
      classTokens: f.concept.ok ? f.concept.classTokens : null,
      images: f.images.length,
      skipped: g.kind === 'kohyaFolder' || f.concept.ok ? null : f.concept.reason,
    })),
  }));
}

/** Indexes the folder and runs the image audit (header rules, stray captions, exact duplicates). */
export async function auditScan(
  root: string,
  options: { depth: number; resolution: [number, number]; sidecarExtensions?: string[] },
): Promise<AuditProblem[]> {
  const index = await DatasetIndex.build(root, {
    depth: options.depth,
    checkEnds: true,
    ...(options.sidecarExtensions ? { sidecarExtensions: options.sidecarExtensions } : {}),
  });
  const images: AuditImage[] = [];
  const strayCaptions: string[] = [];
  for (const f of index.folders()) {
    for (const n of f.images) {
      const img = index.image(path.join(f.path, n));
      if (!img) continue;
      images.push({
        file: img.path,
        header: img.header,
        sidecars: Object.values(img.sidecars).map((s) => path.join(f.path, s)),
        hasCaption: Object.keys(img.sidecars).length > 0,
      });
    }
    for (const o of f.orphanSidecars) strayCaptions.push(path.join(f.path, o));
  }
  const problems = await auditDataset({ images, strayCaptions }, { resolution: options.resolution });
  for (const issue of index.issues) {
    if (issue.code === 'unreadableFolder') continue; // reported as scan errors
    problems.push({ file: issue.path, code: 'unreadable', severity: 'warning', message: issue.reason });
  }
  return problems;
}

function countProblems(problems: readonly AuditProblem[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of problems) out[p.code] = (out[p.code] ?? 0) + 1;
  return out;
}

export function formatProblems(problems: readonly AuditProblem[], root: string): string {
  const lines: string[] = [''];
  for (const p of problems) {
    const rel = path.relative(root, p.file).split(path.sep).join('/');
    lines.push(`${p.severity === 'error' ? 'E' : p.severity === 'warning' ? 'W' : 'I'} ${rel}: ${p.message} [${p.code}]`);
  }
  const counts = countProblems(problems);
  const bySeverity = (s: string) => problems.filter((p) => p.severity === s).length;
  lines.push(
    problems.length === 0
      ? 'audit: no problems'
      : `audit: ${bySeverity('error')} errors, ${bySeverity('warning')} warnings, ${bySeverity('info')} notes (` +
          Object.entries(counts)
            .map(([c, n]) => `${c} ${n}`)
            .join(', ') +
          ')',
  );
  return lines.join('\n') + '\n';
}

export function formatScan(result: ScanResult, summaryOnly: boolean): string {
  const lines: string[] = [];
  lines.push(`${result.root}`);
  for (const f of result.folders) {
    const name = f.relPath === '' ? '.' : f.relPath;
    const counts = result.sidecarExtensions.map(
      (ext) => `${ext} ${f.images.filter((i) => i.sidecars[ext] !== undefined).length}`,
    );
    const none = f.images.filter((i) => Object.keys(i.sidecars).length === 0).length;
    const concept = f.relPath === '' ? '' : f.concept.ok
      ? `  [${f.concept.repeats} repeats, class "${f.concept.classTokens}"]`
      : `  [not a concept folder: ${f.concept.reason}]`;
    lines.push(
      `${name}/  ${f.images.length} image${f.images.length === 1 ? '' : 's'}  (${counts.join(', ')}, none ${none})${concept}`,
    );
    if (!summaryOnly) {
      for (const img of f.images) {
        const side = Object.keys(img.sidecars);
        const extra = img.hasLatentCache ? ' +latents' : '';
        lines.push(`  ${img.name}  ${side.length ? side.join(' ') : '(no caption or tags)'}${extra}`);
      }
    }
    for (const ig of f.ignored) {
      const why = ig.kind === 'mixedCase'
        ? 'extension case is not matched by sd-scripts (use lower or upper case)'
        : 'loaded only when a Pillow plugin for it is installed';
      lines.push(`  ! ${ig.name}: skipped, ${why}`);
    }
    for (const o of f.orphanSidecars) lines.push(`  ? ${o}: no image with this name`);
  }
  const t = result.totals;
  const bySide = result.sidecarExtensions.map((e) => `${t.withSidecar[e] ?? 0} with ${e}`).join(', ');
  lines.push(
    `${t.images} image${t.images === 1 ? '' : 's'} in ${result.folders.length} folder${result.folders.length === 1 ? '' : 's'}: ${bySide}, ${t.withoutSidecar} without any` +
      (t.ignored ? `; ${t.ignored} skipped` : ''),
  );
  return lines.join('\n') + '\n';
}
