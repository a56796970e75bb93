/**
 * accelerate's `default_config.yaml`, written from the short form the seed article asks for
 * (single or multi GPU, which GPUs, mixed precision), and the GPU list from `nvidia-smi`.
 *
 * Pure: strings in, strings out.
 */

export type MixedPrecision = 'no' | 'fp16' | 'bf16' | 'fp8';
export const MIXED_PRECISIONS: readonly MixedPrecision[] = ['no', 'fp16', 'bf16', 'fp8'];

export interface AccelerateShortForm {
  /** 'all', or GPU indices; more than one index means multi-GPU */
  gpus: 'all' | number[];
  mixedPrecision: MixedPrecision;
  /** multi-GPU training over all GPUs when `gpus` is 'all' (needs gpuCount) */
  multiGpu?: boolean;
  /** number of GPUs on the machine (for 'all' with multiGpu) */
  gpuCount?: number;
  /** run on the CPU only (no GPU) */
  cpu?: boolean;
}

export type AccelerateYamlResult = { ok: true; yaml: string; numProcesses: number } | { ok: false; error: string };

/** quote a YAML scalar the way PyYAML's safe_dump would need it (single quotes when ambiguous) */
function scalar(v: string | number | boolean | string[]): string {
  if (Array.isArray(v)) return v.length === 0 ? '[]' : `[${v.map((x) => scalar(x)).join(', ')}]`;
  if (typeof v !== 'string') return String(v);
  const ambiguous =
    v === '' ||
    /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL|~)$/.test(v) ||
    /^[-+]?(?:\d[\d_]*)?(?:\.\d*)?(?:[eE][-+]?\d+)?$/.test(v) ||
    /^[-+]?0[xob]/.test(v) ||
    /[:#[\]{},&*!|>'"%@`]/.test(v) ||
    /^\s|\s$/.test(v);
  // a comma list such as 0,1 is a plain string to YAML, but quoting keeps it obvious
  return ambiguous ? `'${v.replace(/'/g, "''")}'` : v;
}

/**
 * The YAML `accelerate config` writes for this machine (keys sorted, as yaml.safe_dump does).
 * Note: sd-scripts passes its own `--mixed_precision` to Accelerator, so that one decides; the
 * value here should match it.
 */
export function accelerateConfigYaml(form: AccelerateShortForm): AccelerateYamlResult {
  try {
    if (!form || !MIXED_PRECISIONS.includes(form.mixedPrecision)) {
      return { ok: false, error: `mixed precision must be one of ${MIXED_PRECISIONS.join(', ')}` };
    }
    let gpuIds: string;
    let numProcesses: number;
    let distributed: string;
    if (form.cpu) {
      gpuIds = 'all';
      numProcesses = 1;
      distributed = 'NO';
    } else if (form.gpus === 'all') {
      gpuIds = 'all';
      if (form.multiGpu) {
        const n = form.gpuCount ?? 0;
        if (!Number.isInteger(n) || n < 2) return { ok: false, error: 'multi-GPU on all GPUs needs the number of GPUs (2 or more)' };
        numProcesses = n;
        distributed = 'MULTI_GPU';
      } else {
        numProcesses = 1;
        distributed = 'NO';
      }
    } else {
      if (!Array.isArray(form.gpus) || form.gpus.length === 0) return { ok: false, error: 'choose at least one GPU' };
      if (form.gpus.some((g) => !Number.isInteger(g) || g < 0)) return { ok: false, error: 'GPU ids are whole numbers from 0' };
      const ids = [...new Set(form.gpus)].sort((a, b) => a - b);
      gpuIds = ids.join(',');
      numProcesses = ids.length;
      distributed = ids.length > 1 ? 'MULTI_GPU' : 'NO';
    }
    const entries: [string, string | number | boolean | string[]][] = [
      ['compute_environment', 'LOCAL_MACHINE'],
      ['debug', false],
      ['distributed_type', distributed],
      ['downcast_bf16', 'no'],
      ['enable_cpu_affinity', false],
      ['gpu_ids', gpuIds],
      ['machine_rank', 0],
      ['main_training_function', 'main'],
      ['mixed_precision', form.mixedPrecision],
      ['num_machines', 1],
      ['num_processes', numProcesses],
      ['rdzv_backend', 'static'],
      ['same_network', true],
      ['tpu_env', []],
      ['tpu_use_cluster', false],
      ['tpu_use_sudo', false],
      ['use_cpu', form.cpu === true],
    ];
    const yaml = entries.map(([k, v]) => `${k}: ${scalar(v)}`).join('\n') + '\n';
    return { ok: true, yaml, numProcesses };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

/**
 * Where accelerate looks for its default config: `$HF_HOME/accelerate/default_config.yaml`, else
 * `$XDG_CACHE_HOME/huggingface/accelerate/…`, else `~/.cache/huggingface/accelerate/…`.
 */
export function defaultAccelerateConfigPath(env: Record<string, string | undefined>, home: string, sep = '/'): string {
  const join = (...parts: string[]): string => parts.join(sep);
  if (env['HF_HOME']) return join(env['HF_HOME'], 'accelerate', 'default_config.yaml');
  const cache = env['XDG_CACHE_HOME'] || join(home, '.cache');
  return join(cache, 'huggingface', 'accelerate', 'default_config.yaml');
}

// ---------------------------------------------------------------------------------------------
// nvidia-smi

export interface GpuInfo {
  index: number;
  name: string;
  /** total memory in MiB, undefined if nvidia-smi printed [N/A] */
  memoryMiB: number | undefined;
}

/** the arguments to run nvidia-smi with for `parseNvidiaSmiGpus` */
export const NVIDIA_SMI_GPU_QUERY = ['--query-gpu=index,name,memory.total', '--format=csv,noheader'];

function mib(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const m = /^([\d.]+)\s*(MiB|GiB|MB|GB)?$/i.exec(s.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  return /g/i.test(m[2] ?? '') ? n * 1024 : n;
}

/**
 * Parses `nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader` (with or without
 * nounits). Lines that do not fit are skipped; never throws.
 */
export function parseNvidiaSmiGpus(text: string): GpuInfo[] {
  const out: GpuInfo[] = [];
  for (const raw of String(text ?? '').split(/\r?\n/)) {
    const line = raw.trim();
    if (!line) continue;
    const parts = line.split(',').map((s) => s.trim());
    if (parts.length < 3) continue;
    const index = Number(parts[0]);
    if (!/^\d+$/.test(parts[0] ?? '') || !Number.isInteger(index)) continue;
    const memory = parts[parts.length - 1];
    const name = parts.slice(1, -1).join(', ');
    out.push({ index, name, memoryMiB: mib(memory) });
  }
  return out;
}

export interface GpuUsage {
  index: number;
  utilizationPercent: number | undefined;
  memoryUsedMiB: number | undefined;
  memoryTotalMiB: number | undefined;
}

/** the arguments for `parseNvidiaSmiUsage` */
export const NVIDIA_SMI_USAGE_QUERY = ['--query-gpu=index,utilization.gpu,memory.used,memory.total', '--format=csv,noheader,nounits'];

/** Parses the usage query above (run panel: GPU memory and utilisation). Never throws. */
export function parseNvidiaSmiUsage(text: string): GpuUsage[] {
  const out: GpuUsage[] = [];
  for (const raw of String(text ?? '').split(/\r?\n/)) {
    const parts = raw.split(',').map((s) => s.trim());
    if (parts.length !== 4 || !/^\d+$/.test(parts[0] ?? '')) continue;
    const pct = /^([\d.]+)\s*%?$/.exec(parts[1] ?? '');
    out.push({
      index: Number(parts[0]),
      utilizationPercent: pct ? Number(pct[1]) : undefined,
      memoryUsedMiB: mib(parts[2]),
      memoryTotalMiB: mib(parts[3]),
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// the "Create Accelerate Config" form: answers typed by the user

/** "all", "0" or "0,1" (spaces allowed) → the GPU selection of the short form. Never throws. */
export function parseGpuSelection(text: string): { ok: true; gpus: 'all' | number[] } | { ok: false; error: string } {
  const t = String(text ?? '').trim().toLowerCase();
  if (t === '' || t === 'all') return { ok: true, gpus: 'all' };
  const parts = t.split(/[\s,]+/).filter((x) => x !== '');
  if (parts.some((x) => !/^\d+$/.test(x))) return { ok: false, error: 'Enter "all" or GPU numbers separated by commas, e.g. 0 or 0,1.' };
  const ids = [...new Set(parts.map(Number))].sort((a, b) => a - b);
  return { ok: true, gpus: ids };
}

/** CPU threads per process (`accelerate launch --num_cpu_threads_per_process`): a whole number from 1 to 256. */
export function parseCpuThreads(text: string): { ok: true; threads: number } | { ok: false; error: string } {
  const t = String(text ?? '').trim();
  if (!/^\d+$/.test(t) || Number(t) < 1 || Number(t) > 256) return { ok: false, error: 'Enter a whole number from 1 to 256 (the seed article uses 8).' };
  return { ok: true, threads: Number(t) };
}

/** The file as the form writes it: a comment naming the answers, then accelerate's keys. */
export function accelerateConfigFile(form: AccelerateShortForm, cpuThreads?: number): AccelerateYamlResult {
  const r = accelerateConfigYaml(form);
  if (!r.ok) return r;
  const gpus = form.cpu ? 'CPU only' : form.gpus === 'all' ? (form.multiGpu ? `all ${form.gpuCount ?? '?'} GPUs` : 'all GPUs (one process)') : `GPU ${form.gpus.join(', ')}`;
  const head = [
    '# accelerate config written by LoRA Workbench (Create Accelerate Config)',
    `# ${gpus}, mixed precision ${form.mixedPrecision}${cpuThreads ? `; CPU threads per process: ${cpuThreads} (passed as accelerate launch --num_cpu_threads_per_process, not a key of this file)` : ''}`,
  ];
  return { ok: true, yaml: `${head.join('\n')}\n${r.yaml}`, numProcesses: r.numProcesses };
}
