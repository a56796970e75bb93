/**
 * "Check training environment": which Python packages a training config needs beyond sd-scripts'
 * own requirements, a probe to run with sd-scripts' Python, and the report with a fix for each
 * missing piece. Pure: the adapter runs the probe and the file checks and passes the results in.
 */
import { MODULE_PACKAGES } from './output';
import type { PythonEnvironment } from './command';
import type { GpuInfo } from './accelerate';

export interface RequiredPackage {
  /** the Python module imported */
  module: string;
  /** what to pip install */
  package: string;
  /** which config value needs it */
  reason: string;
}

/** modules every sd-scripts run imports */
export const BASE_MODULES = ['torch', 'accelerate', 'transformers', 'diffusers', 'safetensors', 'toml', 'voluptuous', 'einops', 'imagesize'];

function pkg(module: string): string {
  return MODULE_PACKAGES[module] ?? module.replace(/_/g, '-');
}

/** optimizer_type (case-insensitive, as sd-scripts' get_optimizer matches it) → module it imports */
function optimizerModule(opt: string): string | undefined {
  const o = opt.trim();
  const l = o.toLowerCase();
  if (l === '' || l === 'adamw' || l === 'sgdnesterov' || l === 'adafactor') return undefined;
  if (l.endsWith('8bit') || l === 'pagedadamw' || l === 'pagedadamw32bit' || l.startsWith('paged')) return 'bitsandbytes';
  if (l === 'lion') return 'lion_pytorch';
  if (l.startsWith('dadapt')) return 'dadaptation';
  if (l === 'prodigy') return 'prodigyopt';
  if (l.endsWith('schedulefree') && !l.includes('.')) return 'schedulefree';
  if (o.includes('.')) {
    const top = o.split('.')[0] ?? '';
    if (top === 'torch' || top === 'transformers' || top === 'library') return undefined;
    return top;
  }
  return undefined;
}

/**
 * Packages a training config needs beyond sd-scripts' base requirements, from its keys
 * (network_module, optimizer_type, use_8bit_adam, use_lion_optimizer, log_with, xformers).
 * Accepts the parsed TOML (sections or flat). Never throws.
 */
export function requiredPackages(config: unknown): RequiredPackage[] {
  const flat: Record<string, unknown> = {};
  const collect = (o: unknown, depth: number): void => {
    if (!o || typeof o !== 'object' || Array.isArray(o) || depth > 2) return;
    for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
      if (v && typeof v === 'object' && !Array.isArray(v)) collect(v, depth + 1);
      else if (!(k in flat)) flat[k] = v;
    }
  };
  collect(config, 0);
  const out: RequiredPackage[] = [];
  const add = (module: string, reason: string): void => {
    if (!out.some((r) => r.module === module)) out.push({ module, package: pkg(module), reason });
  };
  const str = (k: string): string | undefined => (typeof flat[k] === 'string' ? (flat[k] as string) : undefined);

  const net = str('network_module');
  if (net) {
    const top = net.split('.')[0] ?? '';
    if (top && top !== 'networks') add(top, `network_module = "${net}"`);
  }
  const opt = str('optimizer_type');
  if (opt !== undefined) {
    const m = optimizerModule(opt);
    if (m) add(m, `optimizer_type = "${opt}"`);
  }
  if (flat['use_8bit_adam'] === true) add('bitsandbytes', 'use_8bit_adam = true');
  if (flat['use_lion_optimizer'] === true) add('lion_pytorch', 'use_lion_optimizer = true');
  const log = str('log_with');
  if (log === 'wandb' || log === 'all') add('wandb', `log_with = "${log}"`);
  if (log === 'tensorboard' || log === 'all' || (log === undefined && str('logging_dir'))) {
    add('tensorboard', log ? `log_with = "${log}"` : 'logging_dir is set (TensorBoard logging)');
  }
  if (flat['xformers'] === true) add('xformers', 'xformers = true');
  return out;
}

// ---------------------------------------------------------------------------------------------
// the module probe, run with sd-scripts' python

const PROBE_MARK = 'LWB_PROBE ';
const PROBE_SCRIPT = [
  'import sys, json, importlib.util',
  'r = {}',
  'for m in sys.argv[1:]:',
  '    try:',
  '        r[m] = importlib.util.find_spec(m) is not None',
  '    except Exception:',
  '        r[m] = False',
  `print(${JSON.stringify(PROBE_MARK)} + json.dumps({"python": sys.version.split()[0], "executable": sys.executable, "modules": r}))`,
].join('\n');

/** Arguments for `python <args>`: finds each module without importing it (fast, no side effects). */
export function moduleProbeArgs(modules: readonly string[]): string[] {
  return ['-c', PROBE_SCRIPT, ...modules.filter((m) => /^[A-Za-z_][\w.]*$/.test(m))];
}

export interface ModuleProbe {
  python: string;
  executable: string;
  modules: Record<string, boolean>;
}

/** Parses the probe's stdout; undefined if it did not run to the end. Never throws. */
export function parseModuleProbe(stdout: string): ModuleProbe | undefined {
  try {
    const line = String(stdout).split(/\r?\n/).find((l) => l.startsWith(PROBE_MARK));
    if (!line) return undefined;
    const j = JSON.parse(line.slice(PROBE_MARK.length)) as Partial<ModuleProbe>;
    if (!j || typeof j.modules !== 'object' || j.modules === null) return undefined;
    const modules: Record<string, boolean> = {};
    for (const [k, v] of Object.entries(j.modules)) modules[k] = v === true;
    return { python: String(j.python ?? ''), executable: String(j.executable ?? ''), modules };
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// the report

export interface EnvironmentFacts {
  sdScriptsDir?: string;
  /** the training script exists in sdScriptsDir */
  scriptFound: boolean;
  script: string;
  python?: PythonEnvironment;
  /** result of the module probe (undefined: python did not run) */
  probe?: ModuleProbe;
  /** stderr or error of the probe, when it failed */
  probeError?: string;
  required: RequiredPackage[];
  /** GPUs from nvidia-smi; undefined when nvidia-smi is not there */
  gpus?: GpuInfo[];
  /** the accelerate config the task uses (or accelerate's default) exists */
  accelerateConfig?: { path: string; exists: boolean };
}

export interface EnvironmentCheck {
  id: string;
  ok: boolean;
  /** 'warning' checks do not stop a launch */
  severity: 'error' | 'warning' | 'info';
  message: string;
  fix?: string;
}

/** What is found and what is missing, with the fix for each. Never throws. */
export function environmentReport(f: EnvironmentFacts): EnvironmentCheck[] {
  const out: EnvironmentCheck[] = [];
  try {
    if (!f.sdScriptsDir) {
      out.push({ id: 'sdScripts', ok: false, severity: 'error', message: 'The sd-scripts folder is not set.', fix: 'Set the sd-scripts folder in the settings to your clone of kohya-ss/sd-scripts.' });
      return out;
    }
    out.push(
      f.scriptFound
        ? { id: 'sdScripts', ok: true, severity: 'info', message: `sd-scripts: ${f.sdScriptsDir} (${f.script} found)` }
        : {
            id: 'sdScripts',
            ok: false,
            severity: 'error',
            message: `${f.script} is not in ${f.sdScriptsDir}.`,
            fix: 'Point the setting at the sd-scripts checkout (git clone https://github.com/kohya-ss/sd-scripts), or choose another script in the task.',
          },
    );
    if (!f.python) {
      out.push({
        id: 'python',
        ok: false,
        severity: 'error',
        message: `No Python found for sd-scripts (looked for venv/ and .venv/ in ${f.sdScriptsDir}).`,
        fix: 'Create it in the sd-scripts folder: python -m venv venv, activate it, then pip install torch torchvision (the CUDA build) and pip install -r requirements.txt; or set the Python interpreter in the settings.',
      });
      return out;
    }
    out.push({ id: 'python', ok: true, severity: 'info', message: `Python: ${f.python.python}${f.probe ? ` (${f.probe.python})` : ''}` });
    out.push(
      f.python.accelerate
        ? { id: 'accelerate', ok: true, severity: 'info', message: `accelerate: ${f.python.accelerate}` }
        : { id: 'accelerate', ok: true, severity: 'warning', message: 'No accelerate executable next to Python; the task runs python -m accelerate.commands.launch.' },
    );
    if (!f.probe) {
      out.push({
        id: 'probe',
        ok: false,
        severity: 'error',
        message: `Python did not run${f.probeError ? `: ${f.probeError.trim().split('\n').pop() ?? ''}` : '.'}`,
        fix: 'Check that the interpreter works: run it with --version in a terminal.',
      });
    } else {
      const missingBase = BASE_MODULES.filter((m) => f.probe?.modules[m] === false);
      out.push(
        missingBase.length === 0
          ? { id: 'requirements', ok: true, severity: 'info', message: "sd-scripts' requirements are installed." }
          : {
              id: 'requirements',
              ok: false,
              severity: 'error',
              message: `Missing in sd-scripts' Python: ${missingBase.join(', ')}.`,
              fix: missingBase.includes('torch')
                ? 'Install PyTorch for your CUDA version (see pytorch.org), then pip install -r requirements.txt in the sd-scripts folder.'
                : 'Run pip install -r requirements.txt in the sd-scripts folder with this Python.',
            },
      );
      for (const r of f.required) {
        const found = f.probe.modules[r.module];
        if (found === undefined) continue;
        out.push(
          found
            ? { id: `package:${r.module}`, ok: true, severity: 'info', message: `${r.package} (for ${r.reason}) is installed.` }
            : {
                id: `package:${r.module}`,
                ok: false,
                severity: 'error',
                message: `${r.reason} needs the Python package ${r.package}, which is not installed.`,
                fix: `${f.python.python} -m pip install ${r.package}`,
              },
        );
      }
    }
    if (f.gpus === undefined) {
      out.push({ id: 'gpu', ok: false, severity: 'warning', message: 'nvidia-smi was not found: no NVIDIA GPU or driver is visible.', fix: 'Install the NVIDIA driver; SDXL LoRA training needs a GPU with 12 GB or more (8 GB with care).' });
    } else if (f.gpus.length === 0) {
      out.push({ id: 'gpu', ok: false, severity: 'warning', message: 'nvidia-smi lists no GPU.' });
    } else {
      out.push({ id: 'gpu', ok: true, severity: 'info', message: f.gpus.map((g) => `GPU ${g.index}: ${g.name}${g.memoryMiB !== undefined ? `, ${Math.round(g.memoryMiB / 1024)} GiB` : ''}`).join('; ') });
    }
    if (f.accelerateConfig) {
      out.push(
        f.accelerateConfig.exists
          ? { id: 'accelerateConfig', ok: true, severity: 'info', message: `accelerate config: ${f.accelerateConfig.path}` }
          : {
              id: 'accelerateConfig',
              ok: true,
              severity: 'warning',
              message: `No accelerate config at ${f.accelerateConfig.path}; accelerate launch warns and uses its defaults (one process).`,
              fix: 'Run "LoRA Workbench: Create Accelerate Config…" (single or multi GPU, which GPUs, mixed precision, CPU threads), or accelerate config in a terminal.',
            },
      );
    }
  } catch (e) {
    out.push({ id: 'internal', ok: false, severity: 'error', message: `The check failed: ${(e as Error).message}` });
  }
  return out;
}
