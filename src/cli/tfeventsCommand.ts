import { statSync } from 'node:fs';
import * as path from 'node:path';
import { findRuns, readEventFile, type CorruptRecord, type ScalarPoint } from '../core/training/tfevents';
import { EXIT, UsageError, type CliIo, parseCommandArgs } from './io';

export const TFEVENTS_HELP = `Usage: lwb tfevents <file|folder> [options]

Prints the scalars (loss, learning rates, ...) of TensorBoard event files, as sd-scripts writes
them to <logging_dir>/<prefix><timestamp>/network_train/events.out.tfevents.*. Give one event
file, a run folder, or a logging_dir holding several runs. Every record's CRC is checked; corrupt
records are reported on stderr and skipped.

Options:
  --tag <tag>     Only this tag; '*' matches any characters (lr/*). Repeat for several tags
  --csv           CSV: run,tag,step,wall_time,value
  --json          JSON: runs with their scalars, and the corrupt records
  -h, --help      Show this help

Exit codes: 0 ok, 1 corrupt records found or no scalar with the given tag, 2 usage error,
3 path missing or unreadable, or no event file in the folder.
`;

interface RunOut {
  name: string;
  dir: string;
  files: string[];
  fileVersion?: string;
  scalars: ScalarPoint[];
}

/** shortest decimal that reads back as the same float32 (the values are float32), else JS's own */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
  const f = Math.fround(v);
  if (f !== v) return String(v);
  for (let p = 1; p <= 9; p++) {
    const s = v.toPrecision(p);
    if (Math.fround(Number(s)) === f) return String(Number(s));
  }
  return String(v);
}

function tagMatcher(patterns: string[]): (tag: string) => boolean {
  if (patterns.length === 0) return () => true;
  const res = patterns.map((p) => new RegExp('^' + p.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$'));
  return (tag) => res.some((r) => r.test(tag));
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export async function runTfevents(args: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(args, {
    tag: { type: 'string', multiple: true },
    csv: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  });
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(TFEVENTS_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length === 0 ? 'tfevents needs an event file or a folder' : 'tfevents takes one file or folder');
  }
  if (values.csv && values.json) throw new UsageError('choose one of --csv and --json');
  const target = path.resolve(positionals[0] as string);
  const tags = values.tag ?? [];
  const match = tagMatcher(tags);

  let isDir: boolean;
  try {
    const st = statSync(target);
    if (!st.isDirectory() && !st.isFile()) {
      io.err(`lwb tfevents: ${target} is neither a file nor a folder\n`);
      return EXIT.input;
    }
    isDir = st.isDirectory();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    io.err(`lwb tfevents: ${target} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${(e as Error).message})`}\n`);
    return EXIT.input;
  }

  const runs: RunOut[] = [];
  if (isDir) {
    for (const r of findRuns(target, 4)) runs.push({ name: r.name === '' ? '.' : r.name, dir: r.dir, files: r.files, scalars: [] });
    if (runs.length === 0) {
      io.err(`lwb tfevents: no event file (events.out.tfevents.*) under ${target}\n`);
      return EXIT.input;
    }
  } else {
    runs.push({ name: path.basename(target), dir: path.dirname(target), files: [target], scalars: [] });
  }

  const corrupt: CorruptRecord[] = [];
  const unreadable: { file: string; message: string }[] = [];
  const allTags = new Set<string>();
  for (const run of runs) {
    for (const f of run.files) {
      const r = readEventFile(f);
      if (r.error !== undefined) {
        unreadable.push({ file: f, message: r.error });
        continue;
      }
      if (r.fileVersion !== undefined && run.fileVersion === undefined) run.fileVersion = r.fileVersion;
      for (const s of r.scalars) {
        allTags.add(s.tag);
        if (match(s.tag)) run.scalars.push(s);
      }
      for (const c of r.corrupt) corrupt.push(c);
    }
  }
  for (const u of unreadable) io.err(`lwb tfevents: cannot read ${u.file}: ${u.message}\n`);
  for (const c of corrupt) io.err(`lwb tfevents: ${c.file}: corrupt record at byte ${c.offset}: ${c.reason}; skipped\n`);
  if (unreadable.length > 0 && unreadable.length === runs.reduce((n, r) => n + r.files.length, 0)) return EXIT.input;

  if (values.json) {
    const json = {
      path: target,
      runs: runs.map((r) => ({
        name: r.name,
        dir: r.dir,
        files: r.files,
        ...(r.fileVersion !== undefined ? { fileVersion: r.fileVersion } : {}),
        tags: [...new Set(r.scalars.map((s) => s.tag))],
        scalars: r.scalars.map((s) => ({ tag: s.tag, step: s.step, wallTime: s.wallTime, value: Number.isFinite(s.value) ? Number(formatValue(s.value)) : formatValue(s.value) })),
      })),
      corrupt,
      unreadable,
    };
    io.out(JSON.stringify(json, null, 2) + '\n');
  } else if (values.csv) {
    const lines = ['run,tag,step,wall_time,value'];
    for (const r of runs) {
      for (const s of r.scalars) lines.push([csvField(r.name), csvField(s.tag), String(s.step), String(s.wallTime), formatValue(s.value)].join(','));
    }
    io.out(lines.join('\n') + '\n');
  } else {
    const out: string[] = [];
    for (const r of runs) {
      const rtags = [...new Set(r.scalars.map((s) => s.tag))];
      out.push(
        `${r.name}  (${r.files.length} file${r.files.length === 1 ? '' : 's'}, ${r.scalars.length} scalar${r.scalars.length === 1 ? '' : 's'}` +
          (rtags.length ? `; ${rtags.join(', ')}` : '') +
          ')',
      );
      if (r.scalars.length === 0) continue;
      const tagW = Math.max(3, ...rtags.map((t) => t.length));
      const stepW = Math.max(4, ...r.scalars.map((s) => String(s.step).length));
      out.push(`  ${'step'.padStart(stepW)}  ${'tag'.padEnd(tagW)}  value`);
      for (const s of r.scalars) out.push(`  ${String(s.step).padStart(stepW)}  ${s.tag.padEnd(tagW)}  ${formatValue(s.value)}`);
    }
    io.out(out.join('\n') + '\n');
  }

  if (tags.length > 0 && runs.every((r) => r.scalars.length === 0)) {
    io.err(`lwb tfevents: no scalar with tag ${tags.join(' or ')}; tags present: ${[...allTags].join(', ') || 'none'}\n`);
    return EXIT.problem;
  }
  return corrupt.length > 0 || unreadable.length > 0 ? EXIT.problem : EXIT.ok;
}
