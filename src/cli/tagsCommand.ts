import * as path from 'node:path';
import { scanDataset, ScanRootError, type ScanResult } from '../core/dataset/scan';
import { captionFilesOf } from '../core/captions/dataset';
import { previewBatch, readBatchInputs, type BatchOp, type BatchPreview } from '../core/captions/batch';
import { Journal, type ApplyOptions } from '../core/captions/journal';
import { parseCaption, type CaptionOptions } from '../core/captions/parse';
import { EXIT, UsageError, type CliIo, parseCommandArgs } from './io';
import { parseDepth } from './lintCommand';

export const TAGS_HELP = `Usage: lwb tags <action> <folder> [arguments] [options]

Edits the caption/tag files of a dataset in one step that can be undone. Every file is written
atomically (a temporary file, then a rename), and the old contents go to a journal first, so
"lwb tags undo" restores the batch exactly, also after a crash in the middle of it.

Actions:
  add <folder> <tag>...           Add tags (skipped where already present); --front (default),
                                  --end or --at <n>
  remove <folder> <tag>...        Remove tags
  replace <folder> <from> <to>    Rename a tag (its weight is kept); an empty <to> removes it
  normalise <folder> --spaces|--underscores
                                  Words in tags joined by spaces (blue hair) or underscores
  move-front <folder> <tag>       Move a tag (e.g. the trigger) to the front
  dedupe <folder>                 Remove repeated tags
  sort <folder> [--keep-tokens n] Sort tags alphabetically, the first n (keep_tokens) staying put
  stats <folder>                  Tag counts per concept folder
  undo <folder>                   Undo the last batch (refused when a file changed since)
  redo <folder>                   Redo the last undone batch
  history <folder>                List the batches in the journal

Tags match without regard to case or to "_" versus space. Only the lines sd-scripts uses are
edited (the first line; every line with --enable-wildcard); formatting is kept.

Options:
  --dry-run                    Show what would change; write nothing
  --journal <dir>              Journal folder (default <folder>/.lwb-journal; keeps the last
                               20 batches)
  --ext <.txt>                 Caption extension (default .txt)
  --create-missing             add: create the tag file of images that have none
  --depth <n> | --recursive    Subfolder levels to visit (default 1)
  --caption-separator <s>      caption_separator (default ",")
  --keep-tokens-separator <s>  keep_tokens_separator, e.g. "|||"
  --enable-wildcard            enable_wildcard
  --no-fsync                   Do not fsync each file (faster; less safe on power loss)
  --json                       Machine-readable output
  -h, --help                   Show this help

Exit codes: 0 done, 1 refused or failed (nothing half-written), 2 usage error, 3 folder missing.
`;

const ACTIONS = new Set(['add', 'remove', 'replace', 'normalise', 'normalize', 'move-front', 'dedupe', 'sort', 'stats', 'undo', 'redo', 'history']);

function splitTags(args: readonly string[]): string[] {
  return args.flatMap((a) => a.split(',')).map((s) => s.trim()).filter(Boolean);
}

export async function runTags(args: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(args, {
    front: { type: 'boolean', default: false },
    end: { type: 'boolean', default: false },
    at: { type: 'string' },
    spaces: { type: 'boolean', default: false },
    underscores: { type: 'boolean', default: false },
    'dry-run': { type: 'boolean', default: false },
    journal: { type: 'string' },
    ext: { type: 'string' },
    'create-missing': { type: 'boolean', default: false },
    depth: { type: 'string' },
    recursive: { type: 'boolean', default: false },
    'caption-separator': { type: 'string' },
    'keep-tokens-separator': { type: 'string' },
    'keep-tokens': { type: 'string' },
    'enable-wildcard': { type: 'boolean', default: false },
    'no-fsync': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  });
  const { values: v, positionals } = parsed;
  if (v.help) {
    io.out(TAGS_HELP);
    return EXIT.ok;
  }
  const [action, folder, ...rest] = positionals;
  if (action === undefined) throw new UsageError('tags needs an action: add, remove, replace, normalise, move-front, dedupe, sort, stats, undo, redo, history');
  if (!ACTIONS.has(action)) throw new UsageError(`unknown tags action '${action}'`);
  if (folder === undefined) throw new UsageError(`tags ${action} needs a folder`);
  const journalDir = path.resolve(v.journal ?? path.join(folder, '.lwb-journal'));
  const fsync = !v['no-fsync'];
  const journal = new Journal(journalDir, { fsync });
  const out = (text: string, json: unknown): void => io.out(v.json ? JSON.stringify(json, null, 2) + '\n' : text);

  if (action === 'undo' || action === 'redo' || action === 'history') {
    if (rest.length > 0) throw new UsageError(`tags ${action} takes only the folder`);
    if (action === 'history') {
      const list = await journal.list();
      out(list.map((b) => `${b.id}  ${b.state.padEnd(10)} ${String(b.files).padStart(6)} file(s)  ${b.label}`).join('\n') + (list.length ? '\n' : 'no batches\n'), list);
      return EXIT.ok;
    }
    const rec = await recoverFirst(journal, io);
    const r = action === 'undo' ? await journal.undo() : await journal.redo();
    out(`${r.message}\n`, { ...r, recovered: rec });
    if (!r.ok) {
      if (!v.json) for (const c of r.conflicts) io.err(`lwb tags: ${c.file}: ${c.reason}\n`);
      return EXIT.problem;
    }
    return EXIT.ok;
  }

  const captionOptions: CaptionOptions = { enableWildcard: v['enable-wildcard'] };
  if (v['caption-separator'] !== undefined) captionOptions.captionSeparator = v['caption-separator'];
  if (v['keep-tokens-separator'] !== undefined) captionOptions.keepTokensSeparator = v['keep-tokens-separator'];

  let ops: BatchOp[] = [];
  let label = '';
  switch (action) {
    case 'add': {
      const tags = splitTags(rest);
      if (tags.length === 0) throw new UsageError('tags add needs at least one tag');
      const where = [v.front, v.end, v.at !== undefined].filter(Boolean).length;
      if (where > 1) throw new UsageError('use one of --front, --end, --at');
      let position: 'front' | 'end' | number = 'front';
      if (v.end) position = 'end';
      if (v.at !== undefined) {
        if (!/^\d+$/.test(v.at)) throw new UsageError(`--at takes a whole number, not '${v.at}'`);
        position = Number(v.at);
      }
      ops = [{ op: 'add', tags, position }];
      label = `add ${tags.join(', ')}`;
      break;
    }
    case 'remove': {
      const tags = splitTags(rest);
      if (tags.length === 0) throw new UsageError('tags remove needs at least one tag');
      ops = [{ op: 'remove', tags }];
      label = `remove ${tags.join(', ')}`;
      break;
    }
    case 'replace': {
      if (rest.length !== 2) throw new UsageError('tags replace needs <from> and <to>');
      const [from, to] = rest as [string, string];
      if (from.trim() === '') throw new UsageError('tags replace: <from> is empty');
      ops = [{ op: 'replace', from, to }];
      label = `replace ${from} → ${to}`;
      break;
    }
    case 'normalise':
    case 'normalize': {
      if (v.spaces === v.underscores) throw new UsageError('tags normalise needs --spaces or --underscores');
      ops = [{ op: 'normalise', style: v.spaces ? 'spaces' : 'underscores' }];
      label = `normalise to ${v.spaces ? 'spaces' : 'underscores'}`;
      break;
    }
    case 'move-front': {
      const [tag] = splitTags(rest);
      if (tag === undefined || rest.length !== 1) throw new UsageError('tags move-front needs one tag');
      ops = [{ op: 'moveToFront', tag }];
      label = `move ${tag} to the front`;
      break;
    }
    case 'sort': {
      if (rest.length > 0) throw new UsageError('tags sort takes only the folder');
      let keep = 0;
      if (v['keep-tokens'] !== undefined) {
        if (!/^\d+$/.test(v['keep-tokens'])) throw new UsageError(`--keep-tokens takes a whole number, not '${v['keep-tokens']}'`);
        keep = Number(v['keep-tokens']);
      }
      ops = [{ op: 'sort', keep }];
      label = keep > 0 ? `sort tags after the first ${keep}` : 'sort tags';
      break;
    }
    case 'dedupe':
      if (rest.length > 0) throw new UsageError('tags dedupe takes only the folder');
      ops = [{ op: 'dedupe' }];
      label = 'remove repeated tags';
      break;
    case 'stats':
      if (rest.length > 0) throw new UsageError('tags stats takes only the folder');
      break;
  }

  let scan: ScanResult;
  try {
    scan = await scanDataset(folder, { depth: parseDepth(v.depth, v.recursive) });
  } catch (e) {
    if (e instanceof ScanRootError) {
      io.err(`lwb tags: ${e.message}\n`);
      return EXIT.input;
    }
    throw e;
  }
  const refs = captionFilesOf(scan, v.ext ?? '.txt');

  if (action === 'stats') {
    const inputs = await readBatchInputs(refs.filter((r) => r.exists).map((r) => r.file));
    const byConcept = new Map<string, Map<string, number>>();
    const dec = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    inputs.forEach((inp) => {
      const ref = refs.find((r) => r.file === inp.file);
      if (!ref || !inp.bytes) return;
      let text: string;
      try {
        text = dec.decode(inp.bytes);
      } catch {
        return;
      }
      const m = byConcept.get(ref.conceptName) ?? new Map<string, number>();
      byConcept.set(ref.conceptName, m);
      const doc = parseCaption(text, captionOptions);
      const seen = new Set<string>();
      for (const li of doc.captionLines) for (const t of doc.lines[li]?.tags ?? []) seen.add(t.name);
      for (const t of seen) m.set(t, (m.get(t) ?? 0) + 1);
    });
    const json: Record<string, Array<{ tag: string; count: number }>> = {};
    const lines: string[] = [];
    for (const [concept, m] of byConcept) {
      const sorted = [...m.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([tag, count]) => ({ tag, count }));
      json[concept] = sorted;
      lines.push(`${concept}:`, ...sorted.map((s) => `  ${String(s.count).padStart(6)}  ${s.tag}`));
    }
    out(lines.join('\n') + '\n', json);
    return EXIT.ok;
  }

  const wanted = refs.filter((r) => r.exists || (action === 'add' && v['create-missing'])).map((r) => r.file);
  const preview = previewBatch(await readBatchInputs(wanted), ops, { captionOptions, createMissing: v['create-missing'] });
  if (v['dry-run']) {
    out(formatPreview(preview, scan.root), {
      dryRun: true,
      totals: preview.totals,
      unchanged: preview.unchanged,
      skipped: preview.skipped,
      files: preview.files.map((f) => ({ file: f.file, oldText: f.oldText, newText: f.newText, counts: f.counts })),
    });
    return EXIT.ok;
  }
  const rec = await recoverFirst(journal, io);
  const applyOptions: ApplyOptions = {};
  // test hook: a real process kill in the middle of a batch
  const killAfter = process.env.LWB_TEST_KILL_AFTER;
  if (killAfter !== undefined && /^\d+$/.test(killAfter)) {
    applyOptions.beforeWrite = (_f, i) => {
      if (i === Number(killAfter)) process.kill(process.pid, 'SIGKILL');
    };
  }
  const r = await journal.apply(
    label,
    preview.files.map((f) => ({ file: f.file, oldBytes: f.oldBytes, newBytes: f.newBytes })),
    applyOptions,
  );
  // the journal keeps the last 20 batches (each holds the old and new contents of its files)
  if (r.ok && r.id) await journal.prune(20);
  const skipped = [...preview.skipped, ...r.skipped];
  const t = preview.totals;
  out(
    (r.ok
      ? `${label}: ${r.written.length} file(s) changed (${t.added} added, ${t.removed} removed, ${t.replaced} replaced, ${t.moved} moved), ${preview.unchanged} unchanged` +
        (r.id ? `; undo with: lwb tags undo ${JSON.stringify(folder)}${v.journal ? ` --journal ${JSON.stringify(v.journal)}` : ''}` : '')
      : `${label}: failed: ${r.error ?? 'unknown error'}`) + '\n',
    { ...r, skipped, totals: t, unchanged: preview.unchanged, recovered: rec },
  );
  if (!v.json) for (const s of skipped) io.err(`lwb tags: skipped ${s.file}: ${s.reason}\n`);
  return r.ok ? EXIT.ok : EXIT.problem;
}

async function recoverFirst(journal: Journal, io: CliIo): Promise<{ batches: string[]; restored: number } | null> {
  if ((await journal.interrupted()).length === 0) return null;
  const r = await journal.recover();
  io.err(`lwb tags: an interrupted batch was rolled back (${r.restored.length} file(s) restored)\n`);
  for (const c of r.conflicts) io.err(`lwb tags: not restored, ${c.file}: ${c.reason}\n`);
  return { batches: r.batches, restored: r.restored.length };
}

function formatPreview(p: BatchPreview, root: string): string {
  const lines: string[] = [];
  const show = (s: string | null) => (s === null ? '(new file)' : JSON.stringify(s.replace(/\r?\n$/, '')));
  for (const f of p.files) {
    lines.push(`${path.relative(root, f.file) || f.file}`, `  - ${show(f.oldText)}`, `  + ${show(f.newText)}`);
  }
  for (const s of p.skipped) lines.push(`! ${path.relative(root, s.file) || s.file}: ${s.reason}`);
  const t = p.totals;
  lines.push(
    `dry run: ${t.files} file(s) would change (${t.added} added, ${t.removed} removed, ${t.replaced} replaced, ${t.moved} moved), ` +
      `${p.unchanged} unchanged, ${p.skipped.length} skipped; nothing written`,
  );
  return lines.join('\n') + '\n';
}
