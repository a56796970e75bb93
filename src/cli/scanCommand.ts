import { parseArgs } from 'node:util';
import { scanDataset, ScanRootError, DEFAULT_SIDECAR_EXTENSIONS, type ScanResult } from '../core/dataset/scan';
import { EXIT, UsageError, type CliIo } from './io';

export const SCAN_HELP = `Usage: lwb scan <folder> [options]

Lists the images sd-scripts would load in <folder> and its subfolders, each with the
caption/tag files next to it (same name, sidecar extension).

Options:
  --depth <n>              Subfolder levels to visit (default 1: a train_data_dir and its
                           N_name concept folders)
  --recursive              Visit every level
  --ext <.txt,.caption>    Sidecar extensions to pair (default ${DEFAULT_SIDECAR_EXTENSIONS.join(',')})
  --summary                One line per folder instead of one per image
  --json                   Print the scan as JSON
  -h, --help               Show this help

Exit codes: 0 images found, 1 no image sd-scripts would load, 2 usage error,
3 folder missing or unreadable.
`;

export async function runScan(args: readonly string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        depth: { type: 'string' },
        recursive: { type: 'boolean', default: false },
        ext: { type: 'string' },
        summary: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
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

  if (values.json) {
    io.out(JSON.stringify(result, null, 2) + '\n');
  } else {
    io.out(formatScan(result, values.summary));
  }
  for (const err of result.errors) io.err(`lwb scan: could not read ${err.path}: ${err.message}\n`);
  if (result.totals.images === 0) {
    io.err(
      `lwb scan: no image sd-scripts would load under ${result.root} ` +
        `(it looks for ${['.png', '.jpg', '.jpeg', '.webp', '.bmp'].join(' ')} directly inside each folder)\n`,
    );
    return EXIT.problem;
  }
  return EXIT.ok;
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
