/**
 * What the run panel reads, without VS Code: which folders a training config writes to, what a
 * folder the user picked holds (TensorBoard runs, an output folder), the live scalar tracker that
 * yields only the points added since the last poll, and the "Test the LoRA" results
 * (`<output_dir>/lora_test/lora_test.json`). Never throws on bad files: problems come back as data.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { flattenTrainingConfig } from '../config/training';
import { parseTomlDocument } from '../config/document';
import { listCheckpoints, listStates } from './runs';
import { findRuns, RunReader, SeriesCollector, type CorruptRecord, type RunFolder } from './tfevents';

// ---------------------------------------------------------------------------------------------
// training config → folders

export interface RunLocations {
  /** the training config the locations come from */
  config?: string;
  /** sample_prompts: the prompts of the sample images */
  samplePrompts?: string;
  outputDir?: string;
  outputName?: string;
  /** logging_dir: holds `<log_prefix><timestamp>/network_train/` run folders */
  loggingDir?: string;
  logPrefix?: string;
}

/**
 * output_dir, output_name, logging_dir and log_prefix of a training config. Relative paths resolve
 * from `baseDir` (sd-scripts resolves them from its working folder, the sd-scripts folder).
 * `error` names the problem when the TOML does not parse.
 */
export function readRunLocations(text: string, configFile: string, baseDir: string): RunLocations & { error?: string } {
  const out: RunLocations & { error?: string } = { config: configFile };
  try {
    const doc = parseTomlDocument(text);
    const err = doc.syntaxErrors[0];
    if (err) {
      const line = text.slice(0, err.offsets[0]).split('\n').length;
      out.error = `${configFile} is not valid TOML (line ${line}: ${err.message})`;
    }
    for (const f of flattenTrainingConfig(doc)) {
      if (f.value.kind !== 'string' || f.value.value === '') continue;
      const v = f.value.value;
      if (f.name === 'output_dir') out.outputDir = path.resolve(baseDir, expandHome(v));
      else if (f.name === 'logging_dir') out.loggingDir = path.resolve(baseDir, expandHome(v));
      else if (f.name === 'sample_prompts') out.samplePrompts = path.resolve(baseDir, expandHome(v));
      else if (f.name === 'output_name') out.outputName = v;
      else if (f.name === 'log_prefix') out.logPrefix = v;
    }
  } catch (e) {
    out.error = `${configFile} is not valid TOML: ${(e as Error).message}`;
  }
  return out;
}

function expandHome(p: string): string {
  return p.replace(/^~(?=$|[\\/])/, process.env['HOME'] ?? '~');
}

export interface FolderContents {
  dir: string;
  /** TensorBoard run folders found under dir (dir itself may be one) */
  runs: RunFolder[];
  /** dir looks like an output_dir: it has sample/, model files or -state folders */
  isOutput: boolean;
}

/** What a folder the user opened holds. Never throws. */
export function inspectFolder(dir: string): FolderContents {
  const runs = findRuns(dir, 4);
  let isOutput = false;
  try {
    isOutput = fs.statSync(path.join(dir, 'sample')).isDirectory();
  } catch {
    /* no sample folder */
  }
  if (!isOutput) isOutput = listCheckpoints(dir).length > 0 || listStates(dir).length > 0 || fs.existsSync(path.join(dir, 'lora_test', 'lora_test.json'));
  return { dir, runs, isOutput };
}

/** Runs under a logging_dir that belong to a config (its log_prefix, when it has one). */
export function runsForLocations(loc: RunLocations): RunFolder[] {
  if (!loc.loggingDir) return [];
  const runs = findRuns(loc.loggingDir, 3);
  if (!loc.logPrefix) return runs;
  const mine = runs.filter((r) => r.prefix === loc.logPrefix);
  return mine.length ? mine : runs;
}

/** Whether `child` is `parent` or inside it. */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(path.resolve(parent), path.resolve(child));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

// ---------------------------------------------------------------------------------------------
// live scalars

/** How often the run panel reads the event files of the runs it shows (while visible), in ms. */
export const LIVE_POLL_MS = 250;

/** The points of one tag added since the last poll, as plain arrays (what a webview message carries). */
export interface SeriesDelta {
  tag: string;
  steps: number[];
  wallTimes: number[];
  values: number[];
}

export interface PollResult {
  deltas: SeriesDelta[];
  points: number;
  corrupt: CorruptRecord[];
  errors: Array<{ file: string; message: string }>;
}

/**
 * One run folder read incrementally: `poll()` reads what the trainer appended and returns only
 * the points not handed out before; `snapshot()` returns every point (for a webview that was
 * (re)loaded) and marks them handed out.
 */
export class LiveRunSeries {
  private readonly reader: RunReader;
  readonly collector = new SeriesCollector();
  private readonly sent = new Map<string, number>();
  /** every corrupt record seen so far (reported once each) */
  readonly corrupt: CorruptRecord[] = [];

  constructor(readonly dir: string) {
    this.reader = new RunReader(dir);
  }

  /** Reads new records; returns the points since the last poll or snapshot. */
  poll(): PollResult {
    const r = this.reader.readInto(this.collector);
    for (const c of r.corrupt) this.corrupt.push(c);
    return { deltas: this.take(false), points: r.points, corrupt: r.corrupt, errors: r.errors };
  }

  /** Reads new records, then returns every point of every tag. */
  snapshot(): PollResult {
    const r = this.reader.readInto(this.collector);
    for (const c of r.corrupt) this.corrupt.push(c);
    return { deltas: this.take(true), points: r.points, corrupt: r.corrupt, errors: r.errors };
  }

  private take(all: boolean): SeriesDelta[] {
    const out: SeriesDelta[] = [];
    for (const tag of this.collector.tags) {
      const from = all ? 0 : (this.sent.get(tag) ?? 0);
      const s = this.collector.get(tag, from);
      if (!s || s.steps.length === 0) {
        if (all) this.sent.set(tag, this.collector.count(tag));
        continue;
      }
      out.push({ tag, steps: Array.from(s.steps), wallTimes: Array.from(s.wallTimes), values: Array.from(s.values) });
      this.sent.set(tag, this.collector.count(tag));
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// output folder listing (samples, checkpoints, states) and its change signature

/** A cheap signature of what is in an output folder (names, sizes, times), to notice changes. */
export function outputSignature(outputDir: string): string {
  const parts: string[] = [];
  const add = (dir: string): void => {
    try {
      for (const n of fs.readdirSync(dir).sort()) {
        try {
          const st = fs.statSync(path.join(dir, n));
          parts.push(`${n}:${st.size}:${Math.floor(st.mtimeMs)}`);
        } catch {
          parts.push(n);
        }
      }
    } catch {
      parts.push(`-${dir}`);
    }
  };
  add(outputDir);
  add(path.join(outputDir, 'sample'));
  add(path.join(outputDir, 'lora_test'));
  return parts.join('|');
}

/**
 * The prompt texts of a sample-prompts file in sd-scripts' order (the `ii` of a sample name):
 * `.txt` lines (not empty, not `#`), the text before ` --`; `.toml` `[[prompt.subset]]` prompts;
 * `.json` strings or objects with `prompt`. Unreadable or unknown: [] (the grid shows numbers).
 */
export function readSamplePrompts(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  } catch {
    return [];
  }
  const ext = path.extname(file).toLowerCase();
  try {
    if (ext === '.toml') {
      const doc = parseTomlDocument(text);
      const out: string[] = [];
      for (const t of doc.tables) {
        if (t.kind !== 'array' || t.path.join('.') !== 'prompt.subset') continue;
        const e = t.entries.find((x) => x.keyPath.length === 1 && x.key === 'prompt');
        out.push(e && e.value.kind === 'string' ? e.value.value : '');
      }
      return out;
    }
    if (ext === '.json') {
      const j = JSON.parse(text) as unknown;
      if (!Array.isArray(j)) return [];
      return j.map((x) => (typeof x === 'string' ? (x.split(' --')[0] ?? '').trim() : x && typeof x === 'object' && typeof (x as { prompt?: unknown }).prompt === 'string' ? (x as { prompt: string }).prompt : ''));
    }
  } catch {
    return [];
  }
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => (l.split(' --')[0] ?? '').trim());
}

// ---------------------------------------------------------------------------------------------
// "Test the LoRA" results

/** One image of lora_test.json as the panel shows it (resolved path; the file format is LoraTestJson in testLora.ts). */
export interface LoraTestCell {
  prompt: number;
  strength: number;
  epoch: number | null;
  /** absolute path */
  file: string;
  exists: boolean;
}

export interface LoraTestResults {
  file: string;
  prompts: string[];
  strengths: number[];
  epochs: Array<number | null>;
  images: LoraTestCell[];
}

export type LoraTestRead = { ok: true; results: LoraTestResults } | { ok: false; missing: boolean; file: string; error: string };

/**
 * Reads `<outputDir>/lora_test/lora_test.json`:
 * `{"version":1,"prompts":[…],"strengths":[…],"epochs":[null|n,…],"images":[{"prompt":i,"strength":s,"epoch":e,"file":"rel.png"}]}`.
 * Image paths are relative to the lora_test folder; paths leaving it are refused.
 */
export function readLoraTest(outputDir: string): LoraTestRead {
  const dir = path.join(outputDir, 'lora_test');
  const file = path.join(dir, 'lora_test.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    return { ok: false, missing, file, error: missing ? `${file} does not exist` : `${file} cannot be read: ${(e as Error).message}` };
  }
  return parseLoraTest(text, file);
}

/** Validates the JSON of a lora_test.json (see readLoraTest). */
export function parseLoraTest(text: string, file: string): LoraTestRead {
  const bad = (why: string): LoraTestRead => ({ ok: false, missing: false, file, error: `${file}: ${why}` });
  let j: unknown;
  try {
    j = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    return bad(`not valid JSON (${(e as Error).message})`);
  }
  if (!j || typeof j !== 'object' || Array.isArray(j)) return bad('not a JSON object');
  const o = j as Record<string, unknown>;
  if (o['version'] !== 1) return bad(`unsupported version ${JSON.stringify(o['version'])} (expected 1)`);
  const prompts = o['prompts'];
  if (!Array.isArray(prompts) || !prompts.every((p) => typeof p === 'string')) return bad('"prompts" must be a list of strings');
  const strengths = o['strengths'];
  if (!Array.isArray(strengths) || !strengths.every((s) => typeof s === 'number' && Number.isFinite(s))) return bad('"strengths" must be a list of numbers');
  const epochsRaw = o['epochs'] ?? [null];
  if (!Array.isArray(epochsRaw) || !epochsRaw.every((e) => e === null || (typeof e === 'number' && Number.isInteger(e)))) return bad('"epochs" must be a list of epoch numbers or null (the final model)');
  const images = o['images'];
  if (!Array.isArray(images)) return bad('"images" must be a list');
  const dir = path.dirname(file);
  const out: LoraTestCell[] = [];
  for (let i = 0; i < images.length; i++) {
    const im = images[i] as Record<string, unknown> | null;
    if (!im || typeof im !== 'object') return bad(`images[${i}] is not an object`);
    const p = im['prompt'];
    const s = im['strength'];
    const e = im['epoch'] ?? null;
    const f = im['file'];
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p >= prompts.length) return bad(`images[${i}].prompt must be an index into "prompts" (0…${prompts.length - 1})`);
    if (typeof s !== 'number' || !Number.isFinite(s)) return bad(`images[${i}].strength must be a number`);
    if (e !== null && (typeof e !== 'number' || !Number.isInteger(e))) return bad(`images[${i}].epoch must be an epoch number or null`);
    if (typeof f !== 'string' || f === '') return bad(`images[${i}].file must be a path`);
    const abs = path.resolve(dir, f);
    if (!isInside(dir, abs)) return bad(`images[${i}].file "${f}" points outside the lora_test folder`);
    out.push({ prompt: p, strength: s, epoch: e as number | null, file: abs, exists: fs.existsSync(abs) });
  }
  return { ok: true, results: { file, prompts: prompts as string[], strengths: strengths as number[], epochs: epochsRaw as Array<number | null>, images: out } };
}
