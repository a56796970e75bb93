/**
 * sd-scripts' own dataset scripts as tasks (issue 6, items 4 and 5): BLIP and GIT captioning,
 * sd-scripts' WD14 tagger and prepare_buckets_latents, each run as
 * `python <script> <positionals> --option value …` from an argument array (never a shell string)
 * in the sd-scripts folder with its venv's Python.
 *
 * The options are typed per script with sd-scripts' own names (snake_case, as argparse spells
 * them); an unknown option or a value of the wrong type is refused with the reason, so a typo in
 * tasks.json does not reach argparse. Pure: path maths only, file access through `FsProbe`.
 */
import * as nodePath from 'node:path';
import { findPythonEnvironment, type FsProbe, type SpawnSpec } from './command';
import { resolveSdScriptsFolder, type TrainingSettings } from './launch';

export type SdScript =
  | 'finetune/make_captions.py'
  | 'finetune/make_captions_by_git.py'
  | 'finetune/tag_images_by_wd14_tagger.py'
  | 'finetune/prepare_buckets_latents.py';

export const SD_SCRIPTS: readonly SdScript[] = [
  'finetune/make_captions.py',
  'finetune/make_captions_by_git.py',
  'finetune/tag_images_by_wd14_tagger.py',
  'finetune/prepare_buckets_latents.py',
];

/** A short name for messages and task labels. */
export const SD_SCRIPT_LABELS: Readonly<Record<SdScript, string>> = {
  'finetune/make_captions.py': 'BLIP captions',
  'finetune/make_captions_by_git.py': 'GIT captions',
  'finetune/tag_images_by_wd14_tagger.py': 'WD14 tags (sd-scripts)',
  'finetune/prepare_buckets_latents.py': 'buckets and latents',
};

export type OptionValue = string | number | boolean;

/** What a `tasks.json` entry of type `loraWorkbench.sdScript` holds. */
export interface SdScriptTaskDefinition {
  script: SdScript;
  /** train_data_dir: the image folder (relative to the workspace folder, or absolute) */
  imageDir: string;
  /** prepare_buckets_latents: the metadata to read (in_json) */
  inJson?: string;
  /** prepare_buckets_latents: the metadata to write (out_json) */
  outJson?: string;
  /** prepare_buckets_latents: the Stable Diffusion model that encodes the latents (model_name_or_path) */
  model?: string;
  /** the script's options by their sd-scripts names, e.g. { "batch_size": 4, "beam_search": true } */
  options?: Record<string, OptionValue>;
  /** extra arguments, passed unchanged after the others */
  args?: string[];
  env?: Record<string, string>;
}

type Kind = 'flag' | 'int' | 'float' | 'string' | 'path' | 'list';
interface OptionSpec {
  kind: Kind;
  /** allowed values of a string option */
  choices?: readonly string[];
  /** minimum of a number option */
  min?: number;
  max?: number;
}

const CAPTION_COMMON: Record<string, OptionSpec> = {
  caption_extension: { kind: 'string' },
  batch_size: { kind: 'int', min: 1 },
  max_data_loader_n_workers: { kind: 'int', min: 0 },
  debug: { kind: 'flag' },
  recursive: { kind: 'flag' },
};

/** Every option each script takes, by its argparse name (without the leading dashes). */
export const SD_SCRIPT_OPTIONS: Readonly<Record<SdScript, Readonly<Record<string, OptionSpec>>>> = {
  'finetune/make_captions.py': {
    ...CAPTION_COMMON,
    caption_weights: { kind: 'string' },
    beam_search: { kind: 'flag' },
    num_beams: { kind: 'int', min: 1 },
    top_p: { kind: 'float', min: 0, max: 1 },
    max_length: { kind: 'int', min: 1 },
    min_length: { kind: 'int', min: 0 },
    seed: { kind: 'int', min: 0 },
  },
  'finetune/make_captions_by_git.py': {
    ...CAPTION_COMMON,
    model_id: { kind: 'string' },
    max_length: { kind: 'int', min: 1 },
    remove_words: { kind: 'flag' },
    pin_memory: { kind: 'flag' },
  },
  'finetune/tag_images_by_wd14_tagger.py': {
    ...CAPTION_COMMON,
    repo_id: { kind: 'string' },
    model_dir: { kind: 'path' },
    force_download: { kind: 'flag' },
    onnx: { kind: 'flag' },
    thresh: { kind: 'float', min: 0 },
    general_threshold: { kind: 'float', min: 0 },
    character_threshold: { kind: 'float', min: 0 },
    remove_underscore: { kind: 'flag' },
    undesired_tags: { kind: 'string' },
    frequency_tags: { kind: 'flag' },
    append_tags: { kind: 'flag' },
    use_rating_tags: { kind: 'flag' },
    use_rating_tags_as_last_tag: { kind: 'flag' },
    character_tags_first: { kind: 'flag' },
    character_tag_expand: { kind: 'flag' },
    always_first_tags: { kind: 'string' },
    caption_separator: { kind: 'string' },
    tag_replacement: { kind: 'string' },
  },
  'finetune/prepare_buckets_latents.py': {
    batch_size: { kind: 'int', min: 1 },
    max_data_loader_n_workers: { kind: 'int', min: 0 },
    max_resolution: { kind: 'string' },
    min_bucket_reso: { kind: 'int', min: 1 },
    max_bucket_reso: { kind: 'int', min: 1 },
    bucket_reso_steps: { kind: 'int', min: 1 },
    bucket_no_upscale: { kind: 'flag' },
    mixed_precision: { kind: 'string', choices: ['no', 'fp16', 'bf16'] },
    full_path: { kind: 'flag' },
    flip_aug: { kind: 'flag' },
    skip_existing: { kind: 'flag' },
    recursive: { kind: 'flag' },
  },
};

/** Sidecar extension the script writes (its default when caption_extension is not set), or undefined. */
export function outputExtension(def: Pick<SdScriptTaskDefinition, 'script' | 'options'>): string | undefined {
  if (def.script === 'finetune/prepare_buckets_latents.py') return undefined;
  const set = def.options?.['caption_extension'];
  if (typeof set === 'string' && set !== '') return set.startsWith('.') ? set : `.${set}`;
  return def.script === 'finetune/tag_images_by_wd14_tagger.py' ? '.txt' : '.caption';
}

export interface SdScriptEnvironment {
  sdScriptsDir: string;
  python: string;
  /** relative paths of the task resolve against this folder (the workspace folder) */
  baseDir?: string;
  baseEnv?: Record<string, string | undefined>;
  venvDir?: string;
  platform?: 'linux' | 'darwin' | 'win32';
}

export type SdScriptBuild = { ok: true; spec: SpawnSpec } | { ok: false; error: string };

function formatNumber(n: number): string {
  return String(n);
}

/** Checks one option and returns its arguments (none for a false flag). */
function optionArgs(script: SdScript, name: string, value: unknown, abs: (p: string) => string): string[] | string {
  const spec = SD_SCRIPT_OPTIONS[script][name];
  if (!spec) {
    const known = Object.keys(SD_SCRIPT_OPTIONS[script]).sort();
    return `${script.split('/').pop() ?? script} has no option "${name}" (it takes ${known.join(', ')})`;
  }
  const flag = `--${name}`;
  switch (spec.kind) {
    case 'flag':
      if (typeof value !== 'boolean') return `"${name}" is a switch: true or false, not ${JSON.stringify(value)}`;
      return value ? [flag] : [];
    case 'int':
    case 'float': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return `"${name}" must be a number, not ${JSON.stringify(value)}`;
      if (spec.kind === 'int' && !Number.isInteger(value)) return `"${name}" must be a whole number, not ${value}`;
      if (spec.min !== undefined && value < spec.min) return `"${name}" must be at least ${spec.min}, not ${value}`;
      if (spec.max !== undefined && value > spec.max) return `"${name}" must be at most ${spec.max}, not ${value}`;
      return [flag, formatNumber(value)];
    }
    case 'string':
    case 'path':
    case 'list': {
      if (typeof value !== 'string') return `"${name}" must be a string, not ${JSON.stringify(value)}`;
      if (spec.choices && !spec.choices.includes(value)) return `"${name}" must be one of ${spec.choices.join(', ')}, not "${value}"`;
      // `--name=value` keeps a value that starts with "-" (e.g. a separator) from being read as an option
      return [`${flag}=${spec.kind === 'path' ? abs(value) : value}`];
    }
  }
}

/**
 * Builds the process of an sd-scripts dataset task: `python <script> <image dir> [in_json out_json
 * model] --options… <args>` with the sd-scripts folder as working directory. Never throws; an
 * invalid definition gives `{ok:false}` with the reason.
 */
export function buildSdScriptCommand(def: SdScriptTaskDefinition, env: SdScriptEnvironment): SdScriptBuild {
  try {
    const platform = env.platform ?? (process.platform === 'win32' ? 'win32' : process.platform === 'darwin' ? 'darwin' : 'linux');
    const p = platform === 'win32' ? nodePath.win32 : nodePath.posix;
    if (!def || typeof def !== 'object') return { ok: false, error: 'the task definition is missing' };
    if (!SD_SCRIPTS.includes(def.script)) return { ok: false, error: `"script" must be one of ${SD_SCRIPTS.join(', ')}, not "${String(def.script)}"` };
    if (typeof def.imageDir !== 'string' || def.imageDir.trim() === '') return { ok: false, error: 'the task needs "imageDir": the folder of the images' };
    if (typeof env.sdScriptsDir !== 'string' || env.sdScriptsDir.trim() === '') return { ok: false, error: 'the sd-scripts folder is not set' };
    if (typeof env.python !== 'string' || env.python === '') return { ok: false, error: "sd-scripts' Python was not found" };
    const sdDir = p.resolve(env.sdScriptsDir);
    const base = env.baseDir !== undefined ? p.resolve(env.baseDir) : sdDir;
    const abs = (f: string): string => p.resolve(base, f.replace(/^~(?=$|[\\/])/, env.baseEnv?.['HOME'] ?? '~'));

    const positionals = [abs(def.imageDir)];
    if (def.script === 'finetune/prepare_buckets_latents.py') {
      for (const k of ['inJson', 'outJson', 'model'] as const) {
        const v = def[k];
        if (typeof v !== 'string' || v.trim() === '') {
          const what = k === 'inJson' ? 'the metadata to read (in_json)' : k === 'outJson' ? 'the metadata to write (out_json)' : 'the Stable Diffusion model that encodes the latents';
          return { ok: false, error: `prepare_buckets_latents needs "${k}": ${what}` };
        }
      }
      positionals.push(abs(def.inJson as string), abs(def.outJson as string));
      // a Hugging Face id (owner/name) stays as it is; a file path is made absolute
      const model = def.model as string;
      positionals.push(/^[\w.-]+\/[\w.-]+$/.test(model) && !/\.(safetensors|ckpt|pt|bin)$/i.test(model) && !model.startsWith('.') ? model : abs(model));
    } else {
      for (const k of ['inJson', 'outJson', 'model'] as const) {
        if (def[k] !== undefined) return { ok: false, error: `"${k}" is only for prepare_buckets_latents.py` };
      }
    }
    if (def.options !== undefined && (!def.options || typeof def.options !== 'object' || Array.isArray(def.options))) {
      return { ok: false, error: '"options" must map option names to values' };
    }
    if (def.args !== undefined && (!Array.isArray(def.args) || def.args.some((a) => typeof a !== 'string'))) {
      return { ok: false, error: '"args" must be a list of strings' };
    }
    if (def.env !== undefined && (!def.env || typeof def.env !== 'object' || Array.isArray(def.env) || Object.values(def.env).some((v) => typeof v !== 'string'))) {
      return { ok: false, error: '"env" must map names to string values' };
    }
    const optionList: string[] = [];
    for (const [name, value] of Object.entries(def.options ?? {})) {
      if (value === undefined || value === null) continue;
      const a = optionArgs(def.script, name.replace(/^--/, ''), value, abs);
      if (typeof a === 'string') return { ok: false, error: a };
      optionList.push(...a);
    }

    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(env.baseEnv ?? {})) if (typeof v === 'string') out[k] = v;
    out['PYTHONUNBUFFERED'] = '1';
    out['PYTHONIOENCODING'] = 'utf-8';
    if (env.venvDir) {
      const venv = p.resolve(env.venvDir);
      out['VIRTUAL_ENV'] = venv;
      const pathKey = Object.keys(out).find((k) => k.toUpperCase() === 'PATH') ?? (platform === 'win32' ? 'Path' : 'PATH');
      const bin = p.join(venv, platform === 'win32' ? 'Scripts' : 'bin');
      out[pathKey] = out[pathKey] ? `${bin}${platform === 'win32' ? ';' : ':'}${out[pathKey]}` : bin;
    }
    for (const [k, v] of Object.entries(def.env ?? {})) out[k] = v;

    const scriptPath = p.join(sdDir, ...def.script.split('/'));
    return { ok: true, spec: { command: env.python, args: [scriptPath, ...positionals, ...optionList, ...(def.args ?? [])], cwd: sdDir, env: out } };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

export type SdScriptLaunch = SdScriptBuild & { sdScriptsDir?: string; python?: string };

/** The process to spawn for a task from the settings: sd-scripts folder, its Python (setting or venv). */
export function resolveSdScriptLaunch(
  def: SdScriptTaskDefinition,
  ctx: { settings: TrainingSettings; baseDir?: string; baseEnv?: Record<string, string | undefined>; fs: FsProbe },
): SdScriptLaunch {
  const sdScriptsDir = resolveSdScriptsFolder(ctx.settings, ctx.baseDir);
  if (!sdScriptsDir) return { ok: false, error: 'the sd-scripts folder is not set (setting loraWorkbench.training.sdScriptsFolder)' };
  const python = ctx.settings.python?.trim() || undefined;
  const pyEnv = findPythonEnvironment(ctx.fs, { sdScriptsDir, ...(python ? { python } : {}) });
  if (!pyEnv) {
    return {
      ok: false,
      sdScriptsDir,
      error: python
        ? `the Python set in loraWorkbench.training.python (${python}) does not exist`
        : `no Python found: there is no venv/ or .venv/ in ${sdScriptsDir} (set loraWorkbench.training.python)`,
    };
  }
  const r = buildSdScriptCommand(
    { ...def, env: { ...(ctx.settings.env ?? {}), ...(def.env ?? {}) } },
    {
      sdScriptsDir,
      python: pyEnv.python,
      ...(ctx.baseDir ? { baseDir: ctx.baseDir } : {}),
      baseEnv: ctx.baseEnv ?? {},
      ...(pyEnv.venvDir ? { venvDir: pyEnv.venvDir } : {}),
    },
  );
  return { ...r, sdScriptsDir, python: pyEnv.python };
}

export interface SdScriptPreflightProblem {
  message: string;
  /** what would fix it: open the settings or run the environment check */
  fix: 'settings' | 'environment' | 'none';
}

/**
 * The checks before a task starts: the sd-scripts folder and Python are configured and exist, the
 * script is in the folder, and the image folder (and in_json for prepare_buckets_latents) exist.
 */
export function preflightSdScript(
  def: SdScriptTaskDefinition,
  ctx: { settings: TrainingSettings; baseDir?: string; fs: FsProbe },
): SdScriptPreflightProblem[] {
  const out: SdScriptPreflightProblem[] = [];
  const sdScriptsDir = resolveSdScriptsFolder(ctx.settings, ctx.baseDir);
  if (!sdScriptsDir) return [{ message: 'The sd-scripts folder is not set (setting "LoRA Workbench › Training: Sd Scripts Folder").', fix: 'settings' }];
  if (!ctx.fs.isDirectory(sdScriptsDir)) return [{ message: `The sd-scripts folder ${sdScriptsDir} does not exist.`, fix: 'settings' }];
  const python = ctx.settings.python?.trim() || undefined;
  if (!findPythonEnvironment(ctx.fs, { sdScriptsDir, ...(python ? { python } : {}) })) {
    out.push({
      message: python
        ? `The Python set in "LoRA Workbench › Training: Python" (${python}) does not exist.`
        : `No Python found for sd-scripts: there is no venv/ or .venv/ in ${sdScriptsDir}. Set "LoRA Workbench › Training: Python".`,
      fix: 'settings',
    });
  }
  if (SD_SCRIPTS.includes(def.script) && !ctx.fs.isFile(nodePath.join(sdScriptsDir, ...def.script.split('/')))) {
    out.push({ message: `${def.script} is not in the sd-scripts folder ${sdScriptsDir} (an old or incomplete checkout?).`, fix: 'environment' });
  }
  const base = ctx.baseDir ?? sdScriptsDir;
  if (typeof def.imageDir === 'string' && def.imageDir !== '' && !ctx.fs.isDirectory(nodePath.resolve(base, def.imageDir))) {
    out.push({ message: `The image folder ${nodePath.resolve(base, def.imageDir)} does not exist.`, fix: 'none' });
  }
  if (def.script === 'finetune/prepare_buckets_latents.py' && typeof def.inJson === 'string' && def.inJson !== '' && !ctx.fs.isFile(nodePath.resolve(base, def.inJson))) {
    out.push({ message: `The metadata ${nodePath.resolve(base, def.inJson)} does not exist (prepare_buckets_latents reads it: merge the captions and tags into metadata first).`, fix: 'none' });
  }
  return out;
}
