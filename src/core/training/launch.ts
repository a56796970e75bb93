/**
 * What the training task does around the command: which executable to start (settings, venv),
 * the preflight checks before a launch, the status-bar text and the message at the end of a run.
 * Pure apart from the synchronous file access passed in (ConfigFileSystem / FsProbe).
 */
import * as nodePath from 'node:path';
import { checkConfig, referencedFiles, type ConfigFileSystem } from '../config';
import { KOHYA_IMAGE_EXTENSIONS } from '../dataset/images';
import { parseTomlDocument, plainValue, allEntries } from '../config/document';
import {
  buildTrainingCommand,
  findPythonEnvironment,
  DEFAULT_SCRIPT,
  type BuildResult,
  type FsProbe,
  type TrainingTaskDefinition,
} from './command';
import type { OutputState, Progress } from './output';

/** The training settings (loraWorkbench.training.*), already read from VS Code. */
export interface TrainingSettings {
  sdScriptsFolder?: string;
  python?: string;
  /** the accelerate executable, or a command with its first arguments (a wrapper) */
  accelerate?: string | string[];
  accelerateConfig?: string;
  env?: Record<string, string>;
  /** accelerate launch --num_cpu_threads_per_process (setting training.numCpuThreadsPerProcess; 0/undefined: not passed) */
  numCpuThreadsPerProcess?: number;
}

export interface LaunchContext {
  settings: TrainingSettings;
  /** the workspace folder: relative task paths and a relative sd-scripts folder resolve from it */
  baseDir?: string;
  baseEnv?: Record<string, string | undefined>;
  fs: FsProbe;
}

/** The sd-scripts folder as an absolute path (a relative setting is relative to the workspace folder). */
export function resolveSdScriptsFolder(settings: TrainingSettings, baseDir?: string): string | undefined {
  const s = settings.sdScriptsFolder?.trim();
  if (!s) return undefined;
  const expanded = s.replace(/^~(?=$|[\\/])/, process.env.HOME ?? '~');
  return nodePath.resolve(baseDir ?? process.cwd(), expanded);
}

function launcherOf(a: TrainingSettings['accelerate']): string[] | undefined {
  if (typeof a === 'string') return a.trim() ? [a.trim()] : undefined;
  if (Array.isArray(a)) {
    const parts = a.filter((x) => typeof x === 'string' && x !== '');
    return parts.length ? parts : undefined;
  }
  return undefined;
}

/**
 * The process to spawn for a task: the definition plus the settings (accelerate config and
 * environment from the settings when the task does not set them; the task's env wins).
 */
export function resolveTrainingLaunch(def: TrainingTaskDefinition, ctx: LaunchContext): BuildResult {
  const sdScriptsDir = resolveSdScriptsFolder(ctx.settings, ctx.baseDir);
  if (!sdScriptsDir) return { ok: false, error: 'the sd-scripts folder is not set (setting loraWorkbench.training.sdScriptsFolder)' };
  const launcher = launcherOf(ctx.settings.accelerate);
  const python = ctx.settings.python?.trim() || undefined;
  const pyEnv = launcher ? undefined : findPythonEnvironment(ctx.fs, { sdScriptsDir, ...(python ? { python } : {}) });
  const merged: TrainingTaskDefinition = {
    ...def,
    ...(def.accelerateConfig || !ctx.settings.accelerateConfig ? {} : { accelerateConfig: ctx.settings.accelerateConfig }),
    env: { ...(ctx.settings.env ?? {}), ...(def.env ?? {}) },
    ...(def.numCpuThreadsPerProcess === undefined && ctx.settings.numCpuThreadsPerProcess ? { numCpuThreadsPerProcess: ctx.settings.numCpuThreadsPerProcess } : {}),
  };
  const r = buildTrainingCommand(merged, {
    sdScriptsDir,
    ...(ctx.baseDir ? { baseDir: ctx.baseDir } : {}),
    baseEnv: ctx.baseEnv ?? {},
    ...(launcher ? { accelerate: launcher[0] } : pyEnv?.accelerate ? { accelerate: pyEnv.accelerate } : pyEnv ? { python: pyEnv.python } : python ? { python } : {}),
    ...(pyEnv?.venvDir ? { venvDir: pyEnv.venvDir } : {}),
  });
  if (!r.ok || !launcher || launcher.length === 1) return r;
  return { ok: true, spec: { ...r.spec, args: [...launcher.slice(1), ...r.spec.args] } };
}

// ---------------------------------------------------------------------------------------------
// preflight

export interface PreflightProblem {
  severity: 'error' | 'warning';
  /** the file it is about, if any */
  file?: string;
  /** 1-based line, when known */
  line?: number;
  message: string;
}

export interface PreflightInput {
  def: TrainingTaskDefinition;
  /** the working folder of the run (sd-scripts), where sd-scripts resolves relative config paths */
  sdScriptsDir: string;
  /** the workspace folder, where the task's own paths resolve */
  baseDir: string;
  fs: ConfigFileSystem & { readText(p: string): string | undefined };
}

function countImages(fs: ConfigFileSystem, dir: string): number {
  let n = 0;
  for (const name of fs.list(dir)) {
    const ext = nodePath.extname(name);
    // sd-scripts matches the extensions case-sensitively (lower and upper case only)
    if (KOHYA_IMAGE_EXTENSIONS.includes(ext) || KOHYA_IMAGE_EXTENSIONS.map((e) => e.toUpperCase()).includes(ext)) n++;
  }
  return n;
}

/** Images sd-scripts would load from a train_data_dir (N_name subfolders). */
function imagesInKohyaDir(fs: ConfigFileSystem, dir: string): number {
  let n = 0;
  for (const sub of fs.list(dir)) {
    if (!/^\d+_/.test(sub)) continue;
    const p = nodePath.join(dir, sub);
    if (fs.isDirectory(p)) n += countImages(fs, p);
  }
  return n;
}

/**
 * The checks before a launch: the task's files exist, the training config (and the dataset config
 * and sample prompts it names) have no errors, checked the way sd-scripts reads them (relative
 * paths from the sd-scripts folder), and the dataset has images. Never throws.
 */
export function preflightTraining(input: PreflightInput): PreflightProblem[] {
  const out: PreflightProblem[] = [];
  const { def, fs, sdScriptsDir, baseDir } = input;
  try {
    if (!fs.isDirectory(sdScriptsDir)) {
      out.push({ severity: 'error', message: `The sd-scripts folder ${sdScriptsDir} does not exist.` });
    } else {
      const script = def.script ?? DEFAULT_SCRIPT;
      if (!fs.exists(nodePath.join(sdScriptsDir, script))) out.push({ severity: 'error', message: `${script} is not in the sd-scripts folder ${sdScriptsDir}.` });
    }
    const abs = (p: string): string => nodePath.resolve(baseDir, p);
    const config = abs(def.config);
    const files: Array<{ kind: 'training' | 'dataset' | 'samplePrompts'; path: string }> = [{ kind: 'training', path: config }];
    if (def.datasetConfig) files.push({ kind: 'dataset', path: abs(def.datasetConfig) });
    if (def.samplePrompts) files.push({ kind: 'samplePrompts', path: abs(def.samplePrompts) });
    if (def.accelerateConfig && !fs.exists(abs(def.accelerateConfig))) {
      out.push({ severity: 'error', file: abs(def.accelerateConfig), message: `The accelerate config ${abs(def.accelerateConfig)} does not exist.` });
    }
    let trainingText: string | undefined;
    for (const f of files) {
      const text = fs.readText(f.path);
      if (text === undefined) {
        out.push({ severity: 'error', file: f.path, message: `${f.path} does not exist or cannot be read.` });
        continue;
      }
      if (f.kind === 'training') trainingText = text;
      const diags = checkConfig(f.kind, text, {
        fileName: f.path,
        fs,
        baseDir: sdScriptsDir,
        ...(f.kind === 'dataset' && trainingText !== undefined ? { trainingConfigText: trainingText } : {}),
      });
      for (const d of diags) {
        // relative paths that are missing are warnings in the editor (the base folder is a guess);
        // here the base is known: the run's working folder
        if (d.severity !== 'error' && !(d.code === 'path-not-found' && d.severity === 'warning')) continue;
        let message = d.message;
        if (d.code === 'path-not-found' || d.code === 'no-concept-folders') message += relativeHint(text, d.offsets, fs, sdScriptsDir, baseDir);
        out.push({ severity: 'error', file: d.file ?? f.path, line: d.range.start.line + 1, message });
      }
    }
    if (trainingText !== undefined) out.push(...datasetImageProblems(trainingText, fs, sdScriptsDir, def, baseDir));
  } catch (e) {
    out.push({ severity: 'warning', message: `The preflight check failed: ${(e as Error).message}` });
  }
  return out;
}

/** A relative path that exists from the workspace folder but not from the sd-scripts folder. */
function relativeHint(text: string, offsets: readonly [number, number], fs: ConfigFileSystem, sdScriptsDir: string, baseDir: string): string {
  const raw = text.slice(offsets[0], offsets[1]).replace(/^["']|["']$/g, '');
  if (!raw || nodePath.isAbsolute(raw) || nodePath.resolve(sdScriptsDir) === nodePath.resolve(baseDir)) return '';
  if (fs.exists(nodePath.resolve(baseDir, raw))) {
    return ` sd-scripts resolves relative paths from its own folder (${sdScriptsDir}), where the run starts; "${raw}" exists in the workspace folder: use the absolute path ${nodePath.resolve(baseDir, raw)}.`;
  }
  return '';
}

/** "dataset has images": train_data_dir's N_name folders, or the image_dir of each dataset-config subset. */
function datasetImageProblems(trainingText: string, fs: ConfigFileSystem & { readText(p: string): string | undefined }, sdScriptsDir: string, def: TrainingTaskDefinition, baseDir: string): PreflightProblem[] {
  const out: PreflightProblem[] = [];
  const refs = referencedFiles(trainingText);
  const dataDir = refs.find((r) => r.option === 'train_data_dir');
  const datasetConfig = def.datasetConfig ? nodePath.resolve(baseDir, def.datasetConfig) : refs.find((r) => r.option === 'dataset_config')?.path;
  if (datasetConfig) {
    const file = nodePath.resolve(sdScriptsDir, datasetConfig);
    const text = fs.readText(file);
    if (text === undefined) return out;
    const dirs: string[] = [];
    try {
      for (const e of allEntries(parseTomlDocument(text))) {
        if (e.keyPath[e.keyPath.length - 1] !== 'image_dir') continue;
        const v = plainValue(e.value);
        if (typeof v === 'string' && v) dirs.push(v);
      }
    } catch {
      return out;
    }
    let total = 0;
    for (const d of dirs) {
      const p = nodePath.resolve(sdScriptsDir, d);
      if (fs.isDirectory(p)) total += countImages(fs, p);
    }
    if (dirs.length > 0 && total === 0) out.push({ severity: 'error', file, message: `The image_dir folders of ${file} hold no images that sd-scripts loads (.png, .jpg, .jpeg, .webp, .bmp): the run would stop with "No data found".` });
    return out;
  }
  if (dataDir) {
    const p = nodePath.resolve(sdScriptsDir, dataDir.path);
    if (fs.isDirectory(p) && imagesInKohyaDir(fs, p) === 0) {
      out.push({ severity: 'error', message: `train_data_dir "${dataDir.path}" holds no images in N_name folders: the run would stop with "No data found".` });
    }
  } else if (!refs.some((r) => r.option === 'in_json')) {
    out.push({ severity: 'warning', message: 'The config names no train_data_dir and no dataset_config: sd-scripts will find no images unless the task passes them.' });
  }
  return out;
}

/** The first problems, one a line, for a modal message. */
export function describePreflight(problems: readonly PreflightProblem[], max = 5): string {
  const errs = problems.filter((p) => p.severity === 'error');
  const lines = errs.slice(0, max).map((p) => `• ${p.file ? `${nodePath.basename(p.file)}${p.line ? `:${p.line}` : ''}: ` : ''}${p.message}`);
  if (errs.length > max) lines.push(`… and ${errs.length - max} more`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// progress and the end of a run

function duration(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return '?';
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  return h ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

/** The status-bar text of a running training: `step/total (pct%) · ETA m:ss · loss x`. */
export function progressText(p: Progress | undefined, epoch?: { epoch?: number; totalEpochs?: number }): string {
  if (!p) return 'starting…';
  const parts = [`${p.step}/${p.total} (${p.percent}%)`];
  if (epoch?.epoch !== undefined && epoch.totalEpochs !== undefined) parts.push(`epoch ${epoch.epoch}/${epoch.totalEpochs}`);
  parts.push(`ETA ${duration(p.eta)}`);
  if (p.postfix['avr_loss'] !== undefined) parts.push(`loss ${p.postfix['avr_loss']}`);
  return parts.join(' · ');
}

export interface RunOutcome {
  kind: 'success' | 'failure' | 'stopped';
  /** one-line summary for the notification */
  message: string;
  /** what to do, for known failures */
  hint?: string;
  /** the key log lines */
  details: string[];
}

/**
 * The message at the end of a run, from the exit code and what the parser saw: known failures
 * (CUDA out of memory, No data found, NaN loss, a missing module) with what to do, otherwise the
 * exception of the traceback or the last lines.
 */
export function runOutcome(name: string, exitCode: number | undefined, state: OutputState, stopped = false): RunOutcome {
  const p = state.progress;
  const at = p ? ` at step ${p.step}/${p.total}` : '';
  const keyLines = (): string[] => {
    if (state.traceback) return [state.traceback.exception];
    return state.tail.filter((l) => l.trim() !== '').slice(-3);
  };
  if (stopped) return { kind: 'stopped', message: `Training "${name}" was stopped${at}.`, details: [] };
  const failure = state.failures[0];
  if (exitCode === 0 && !failure) {
    const saved = state.checkpoints[state.checkpoints.length - 1];
    const loss = p?.postfix['avr_loss'];
    return {
      kind: 'success',
      message: `Training "${name}" finished${p ? ` (${p.step}/${p.total} steps${loss ? `, avr_loss ${loss}` : ''})` : ''}.${saved ? ` Saved ${nodePath.basename(saved)}.` : ''}`,
      details: saved ? [saved] : [],
    };
  }
  if (failure) {
    return {
      kind: 'failure',
      message: `Training "${name}" failed${at}: ${failure.message}`,
      hint: failure.hint,
      details: [failure.line.trim()],
    };
  }
  const code = exitCode === undefined ? 'without an exit code' : `with exit code ${exitCode}`;
  return { kind: 'failure', message: `Training "${name}" failed${at} (${code}).`, details: keyLines() };
}
