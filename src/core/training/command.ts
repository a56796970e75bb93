/**
 * Builds the process to start for a training task: `accelerate launch [launcher options] <script>
 * --config_file=... --dataset_config=... --sample_prompts=... <extra args>`, as an argument array
 * (never a shell string), with the sd-scripts folder as working directory.
 *
 * Pure: path maths only (node:path), file-system access through the `FsProbe` passed in.
 */
import * as nodePath from 'node:path';

export type TrainingScript = 'sdxl_train_network.py' | 'sdxl_train.py' | 'train_network.py';
export const TRAINING_SCRIPTS: readonly TrainingScript[] = ['sdxl_train_network.py', 'sdxl_train.py', 'train_network.py'];
export const DEFAULT_SCRIPT: TrainingScript = 'sdxl_train_network.py';

/** What a `tasks.json` entry of our task type holds. */
export interface TrainingTaskDefinition {
  /** the training config TOML (--config_file) */
  config: string;
  /** --dataset_config */
  datasetConfig?: string;
  /** --sample_prompts */
  samplePrompts?: string;
  /** accelerate's config file (launch --config_file); default: accelerate's own default */
  accelerateConfig?: string;
  script?: TrainingScript;
  /** extra script arguments, passed unchanged after the others */
  args?: string[];
  /** extra environment variables */
  env?: Record<string, string>;
  /** accelerate launch --num_cpu_threads_per_process */
  numCpuThreadsPerProcess?: number;
}

export type Platform = 'linux' | 'darwin' | 'win32';

export interface TrainingEnvironment {
  /** the sd-scripts checkout (working directory of the run) */
  sdScriptsDir: string;
  /** python of sd-scripts' venv (used as `python -m accelerate.commands.launch` when there is no accelerate executable) */
  python?: string;
  /** the accelerate executable */
  accelerate?: string;
  /** relative paths of the task are resolved against this folder (the workspace folder) */
  baseDir?: string;
  /** environment to start from (process.env in the extension); not read from the process here */
  baseEnv?: Record<string, string | undefined>;
  /** the venv folder, to set VIRTUAL_ENV and put its bin/Scripts first on PATH */
  venvDir?: string;
  platform?: Platform;
}

export interface SpawnSpec {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
}

export type BuildResult = { ok: true; spec: SpawnSpec } | { ok: false; error: string };

function pathFor(platform: Platform): typeof nodePath.posix {
  return platform === 'win32' ? nodePath.win32 : nodePath.posix;
}

/**
 * Builds the command of a training task. Never throws; an invalid definition gives `{ok:false}`
 * with the reason.
 */
export function buildTrainingCommand(def: TrainingTaskDefinition, env: TrainingEnvironment): BuildResult {
  try {
    const platform = env.platform ?? (process.platform === 'win32' ? 'win32' : process.platform === 'darwin' ? 'darwin' : 'linux');
    const p = pathFor(platform);
    if (!def || typeof def !== 'object') return { ok: false, error: 'the task definition is missing' };
    if (typeof def.config !== 'string' || def.config.trim() === '') return { ok: false, error: 'the task needs "config": the training config file (--config_file)' };
    if (typeof env.sdScriptsDir !== 'string' || env.sdScriptsDir.trim() === '') return { ok: false, error: 'the sd-scripts folder is not set' };
    const script = def.script ?? DEFAULT_SCRIPT;
    if (!TRAINING_SCRIPTS.includes(script)) {
      return { ok: false, error: `"script" must be one of ${TRAINING_SCRIPTS.join(', ')}, not "${String(script)}"` };
    }
    for (const k of ['datasetConfig', 'samplePrompts', 'accelerateConfig'] as const) {
      const v = def[k];
      if (v !== undefined && typeof v !== 'string') return { ok: false, error: `"${k}" must be a path` };
    }
    if (def.args !== undefined && (!Array.isArray(def.args) || def.args.some((a) => typeof a !== 'string'))) {
      return { ok: false, error: '"args" must be a list of strings' };
    }
    if (def.env !== undefined && (!def.env || typeof def.env !== 'object' || Array.isArray(def.env) || Object.values(def.env).some((v) => typeof v !== 'string'))) {
      return { ok: false, error: '"env" must map names to string values' };
    }
    const threads = def.numCpuThreadsPerProcess;
    if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) {
      return { ok: false, error: '"numCpuThreadsPerProcess" must be a whole number of at least 1' };
    }
    const sdDir = p.resolve(env.sdScriptsDir);
    const base = env.baseDir !== undefined ? p.resolve(env.baseDir) : sdDir;
    const abs = (f: string): string => p.resolve(base, f);

    const launch: string[] = [];
    if (def.accelerateConfig) launch.push('--config_file', abs(def.accelerateConfig));
    if (threads !== undefined) launch.push(`--num_cpu_threads_per_process=${threads}`);

    const scriptArgs: string[] = [script, `--config_file=${abs(def.config)}`];
    if (def.datasetConfig) scriptArgs.push(`--dataset_config=${abs(def.datasetConfig)}`);
    if (def.samplePrompts) scriptArgs.push(`--sample_prompts=${abs(def.samplePrompts)}`);
    for (const a of def.args ?? []) scriptArgs.push(a);

    let command: string;
    let args: string[];
    if (env.accelerate) {
      command = env.accelerate;
      args = ['launch', ...launch, ...scriptArgs];
    } else if (env.python) {
      command = env.python;
      args = ['-m', 'accelerate.commands.launch', ...launch, ...scriptArgs];
    } else {
      command = platform === 'win32' ? 'accelerate.exe' : 'accelerate';
      args = ['launch', ...launch, ...scriptArgs];
    }

    const out = processEnvironment(env.baseEnv ?? {}, def.env ?? {}, env.venvDir, platform);
    return { ok: true, spec: { command, args, cwd: sdDir, env: out } };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

/**
 * The environment of a run: the base environment, unbuffered UTF-8 Python output, the venv's
 * bin/Scripts first on PATH (and VIRTUAL_ENV), then the task's own variables.
 */
export function processEnvironment(
  baseEnv: Record<string, string | undefined>,
  extra: Record<string, string>,
  venvDir: string | undefined,
  platform: Platform,
): Record<string, string> {
  const p = pathFor(platform);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(baseEnv)) if (typeof v === 'string') out[k] = v;
  // live output: Python buffers stdout when it is not a terminal
  out['PYTHONUNBUFFERED'] = '1';
  // the Japanese parts of sd-scripts' messages must not fail on a Windows code page
  out['PYTHONIOENCODING'] = 'utf-8';
  if (venvDir) {
    const venv = p.resolve(venvDir);
    out['VIRTUAL_ENV'] = venv;
    const pathKey = Object.keys(out).find((k) => k.toUpperCase() === 'PATH') ?? (platform === 'win32' ? 'Path' : 'PATH');
    const bin = p.join(venv, platform === 'win32' ? 'Scripts' : 'bin');
    const sep = platform === 'win32' ? ';' : ':';
    out[pathKey] = out[pathKey] ? `${bin}${sep}${out[pathKey]}` : bin;
  }
  for (const [k, v] of Object.entries(extra)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** A command line to show the user (in the terminal header); quoting is for display only. */
export function formatCommandLine(spec: Pick<SpawnSpec, 'command' | 'args'>): string {
  const q = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  return [spec.command, ...spec.args].map(q).join(' ');
}

// ---------------------------------------------------------------------------------------------
// finding sd-scripts' venv

export interface FsProbe {
  /** true if a file (or a link to one) exists at the path */
  isFile(p: string): boolean;
  isDirectory(p: string): boolean;
}

export interface PythonEnvironment {
  venvDir?: string;
  python: string;
  /** the accelerate executable next to python, if there is one */
  accelerate?: string;
}

const VENV_NAMES = ['venv', '.venv'];

function executablesIn(fsp: FsProbe, binDir: string, platform: Platform): { python?: string; accelerate?: string } {
  const p = pathFor(platform);
  const names = platform === 'win32' ? { python: ['python.exe'], accelerate: ['accelerate.exe'] } : { python: ['python', 'python3'], accelerate: ['accelerate'] };
  const python = names.python.map((n) => p.join(binDir, n)).find((f) => safe(() => fsp.isFile(f)));
  const accelerate = names.accelerate.map((n) => p.join(binDir, n)).find((f) => safe(() => fsp.isFile(f)));
  return { ...(python ? { python } : {}), ...(accelerate ? { accelerate } : {}) };
}

function safe(fn: () => boolean): boolean {
  try {
    return fn();
  } catch {
    return false;
  }
}

/**
 * Finds the Python that runs sd-scripts: an explicit interpreter (setting or the Python
 * extension's choice) first, else `venv/` or `.venv/` inside the sd-scripts folder, with the
 * Linux/macOS (`bin/python`) and Windows (`Scripts\python.exe`) layouts. Returns undefined when
 * none is found. Never throws.
 */
export function findPythonEnvironment(
  fsp: FsProbe,
  options: { sdScriptsDir?: string; python?: string; platform?: Platform },
): PythonEnvironment | undefined {
  const platform = options.platform ?? (process.platform === 'win32' ? 'win32' : process.platform === 'darwin' ? 'darwin' : 'linux');
  const p = pathFor(platform);
  try {
    if (options.python) {
      if (!safe(() => fsp.isFile(options.python as string))) return undefined;
      const bin = p.dirname(options.python);
      const found = executablesIn(fsp, bin, platform);
      const parent = p.dirname(bin);
      const isVenv = ['bin', 'Scripts'].includes(p.basename(bin)) && (safe(() => fsp.isFile(p.join(parent, 'pyvenv.cfg'))));
      return {
        python: options.python,
        ...(found.accelerate ? { accelerate: found.accelerate } : {}),
        ...(isVenv ? { venvDir: parent } : {}),
      };
    }
    if (!options.sdScriptsDir) return undefined;
    for (const name of VENV_NAMES) {
      const venv = p.join(options.sdScriptsDir, name);
      if (!safe(() => fsp.isDirectory(venv))) continue;
      // a venv made on Windows has Scripts\, elsewhere bin/; look at both so a venv copied over still shows
      const layouts = platform === 'win32' ? ['Scripts', 'bin'] : ['bin', 'Scripts'];
      for (const layout of layouts) {
        const found = executablesIn(fsp, p.join(venv, layout), platform);
        if (found.python) {
          return { venvDir: venv, python: found.python, ...(found.accelerate ? { accelerate: found.accelerate } : {}) };
        }
      }
    }
  } catch {
    return undefined;
  }
  return undefined;
}
