/**
 * Parses sd-scripts' console output (stdout and stderr mixed, fed in arbitrary chunks): tqdm
 * progress separated by `\r`, epoch lines, checkpoint saves, sample generation, errors and Python
 * tracebacks, and names the failures we know with what to do about them.
 *
 * Pure: no Node or VS Code APIs. `push()` never throws.
 */

export interface Progress {
  /** tqdm description, `steps` for the training bar */
  desc: string;
  step: number;
  total: number;
  percent: number;
  /** seconds */
  elapsed: number;
  /** seconds; undefined while tqdm prints `?` */
  eta: number | undefined;
  /** iterations per second (converted from `s/it` when tqdm prints that) */
  rate: number | undefined;
  /** the rate as printed, e.g. `6.55s/it` */
  rateText: string;
  /** postfix fields as printed, e.g. { avr_loss: '0.0993' } */
  postfix: Record<string, string>;
  /** avr_loss as a number (NaN for `nan`) */
  avrLoss: number | undefined;
}

export type FailureKind = 'cudaOutOfMemory' | 'noData' | 'nanLoss' | 'missingModule' | 'fp16NeedsGpu' | 'noPromptFile' | 'fileNotFound';

export interface Failure {
  kind: FailureKind;
  /** one-line description */
  message: string;
  /** what to do */
  hint: string;
  /** the output line it was recognised on */
  line: string;
  /** for missingModule: the module and the pip package that provides it */
  module?: string;
  package?: string;
}

export interface TrainingInfo {
  trainImages?: number;
  regImages?: number;
  batchesPerEpoch?: number;
  epochs?: number;
  batchSize?: string;
  gradientAccumulationSteps?: number;
  totalSteps?: number;
}

export type OutputEvent =
  | { type: 'progress'; progress: Progress }
  | { type: 'epoch'; epoch: number; totalEpochs: number }
  | { type: 'trainingStart'; info: TrainingInfo }
  | { type: 'checkpoint'; path: string }
  | { type: 'checkpointRemoved'; path: string }
  | { type: 'modelSaved' }
  | { type: 'sampling'; step: number }
  | { type: 'error'; line: string }
  | { type: 'traceback'; lines: string[]; exception: string; frames: TracebackFrame[] }
  | { type: 'failure'; failure: Failure };

/** `File "path", line N, in func` of a Python traceback (for problem matching) */
export interface TracebackFrame {
  file: string;
  line: number;
  func: string;
}

export interface OutputState {
  /** the last training (`steps`) progress */
  progress?: Progress;
  epoch?: number;
  totalEpochs?: number;
  info: TrainingInfo;
  checkpoints: string[];
  modelSaved: boolean;
  failures: Failure[];
  /** the last lines (ANSI stripped, tqdm updates collapsed), for a notification */
  tail: string[];
  /**
   * the traceback of the failure: the last complete one, except that accelerate's own
   * `CalledProcessError` (the launcher reporting the script's exit) does not replace the script's
   */
  traceback?: { lines: string[]; exception: string; frames: TracebackFrame[] };
}

// ---------------------------------------------------------------------------------------------

const ANSI_RE = /\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07/g;
const TQDM_RE =
  /^\s*(?:([^:|]*?):\s*)?(\d{1,3})%\s*(?:\|[^|]*\|)?\s*(\d+)\/(\d+)\s*\[([\d:]+)<([\d:?]+),\s*([\d.?]+)\s*(it\/s|s\/it)(?:,\s*([^\]]*))?\]/;
/** rich's prefix `2025-06-29 11:57:32 INFO     ` (time column optional) and suffix `  file.py:123` */
const RICH_PREFIX_RE = /^\s*(?:\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\s+)?(?:DEBUG|INFO|WARNING|ERROR|CRITICAL)\s+/;
const RICH_SUFFIX_RE = /\s{2,}[\w.-]+\.py(?::\d+)?\s*$/;

/** tqdm's `MM:SS` / `H:MM:SS` to seconds; undefined for `?` */
export function parseTqdmTime(s: string): number | undefined {
  if (!/^\d+(:\d+){0,3}$/.test(s)) return undefined;
  let t = 0;
  for (const p of s.split(':')) t = t * 60 + Number(p);
  return t;
}

function parsePostfix(s: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!s) return out;
  for (const part of s.split(/,\s*/)) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

function toNumber(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = s.trim().toLowerCase();
  if (t === 'nan') return NaN;
  if (t === 'inf' || t === '+inf') return Infinity;
  if (t === '-inf') return -Infinity;
  const n = Number(t);
  return t !== '' && Number.isFinite(n) ? n : undefined;
}

/** Parses one tqdm bar (the text between `\r`s). Returns undefined if it is not one. */
export function parseTqdm(text: string): { progress: Progress; end: number } | undefined {
  const clean = text.replace(ANSI_RE, '');
  const m = TQDM_RE.exec(clean);
  if (!m) return undefined;
  const desc = (m[1] ?? '').trim();
  const g = m.slice(2);
  const [pct, step, total, elapsed, eta, rate, unit, post] = g;
  const rateNum = toNumber(rate);
  const postfix = parsePostfix(post);
  const progress: Progress = {
    desc,
    step: Number(step),
    total: Number(total),
    percent: Number(pct),
    elapsed: parseTqdmTime(elapsed ?? '') ?? 0,
    eta: parseTqdmTime(eta ?? ''),
    rate: rateNum === undefined || rateNum === 0 ? undefined : unit === 's/it' ? 1 / rateNum : rateNum,
    rateText: `${rate ?? ''}${unit ?? ''}`,
    postfix,
    avrLoss: toNumber(postfix['avr_loss']),
  };
  return { progress, end: m[0].length };
}

/** strips ANSI codes and rich's time/level/source columns */
export function plainLogText(line: string): string {
  return line.replace(ANSI_RE, '').replace(RICH_PREFIX_RE, '').replace(RICH_SUFFIX_RE, '').trimEnd();
}

// ---------------------------------------------------------------------------------------------
// known failures

/** top-level Python module → the pip package that provides it (when the names differ or matter) */
export const MODULE_PACKAGES: Record<string, string> = {
  lycoris: 'lycoris-lora',
  bitsandbytes: 'bitsandbytes',
  prodigyopt: 'prodigyopt',
  prodigyplus: 'prodigy-plus-schedule-free',
  dadaptation: 'dadaptation',
  schedulefree: 'schedulefree',
  came_pytorch: 'came-pytorch',
  lion_pytorch: 'lion-pytorch',
  pytorch_optimizer: 'pytorch-optimizer',
  xformers: 'xformers',
  cv2: 'opencv-python',
  PIL: 'Pillow',
  yaml: 'PyYAML',
  toml: 'toml',
  sklearn: 'scikit-learn',
  skimage: 'scikit-image',
  safetensors: 'safetensors',
  transformers: 'transformers',
  diffusers: 'diffusers',
  accelerate: 'accelerate',
  einops: 'einops',
  voluptuous: 'voluptuous',
  imagesize: 'imagesize',
  huggingface_hub: 'huggingface-hub',
  tensorboard: 'tensorboard',
  wandb: 'wandb',
  onnxruntime: 'onnxruntime',
  torch: 'torch',
  torchvision: 'torchvision',
  rich: 'rich',
  ftfy: 'ftfy',
  open_clip: 'open-clip-torch',
  timm: 'timm',
  tomlkit: 'tomlkit',
};

function classify(line: string, plain: string): Failure | undefined {
  if (/CUDA out of memory|OutOfMemoryError|CUDA error: out of memory/i.test(plain)) {
    return {
      kind: 'cudaOutOfMemory',
      message: 'The GPU ran out of memory (CUDA out of memory).',
      hint:
        'Lower train_batch_size (or resolution), turn on gradient_checkpointing and cache_latents, use ' +
        'mixed_precision = "bf16" or "fp16" with sdpa or xformers, and consider cache_text_encoder_outputs or ' +
        'network_train_unet_only. Close other programs that use the GPU.',
      line,
    };
  }
  if (/No data found\. Please verify arguments/i.test(plain) || /^No data found/i.test(plain)) {
    return {
      kind: 'noData',
      message: 'sd-scripts found no training images ("No data found").',
      hint:
        'train_data_dir / image_dir must be the parent of the N_name folders (e.g. img_train, which holds ' +
        '5_tk girl/), and those folders must hold .png/.jpg/.jpeg/.webp/.bmp images; check the paths in the ' +
        'dataset config.',
      line,
    };
  }
  const mod = /ModuleNotFoundError: No module named '([^']+)'/.exec(plain) ?? /ImportError: No module named '?([\w.]+)'?/.exec(plain);
  if (mod) {
    const module = mod[1] ?? '';
    const top = module.split('.')[0] ?? module;
    if (top === 'library' || top === 'networks') {
      return {
        kind: 'missingModule',
        message: `Python cannot import '${module}', a module of sd-scripts itself.`,
        hint: 'Run the script from the sd-scripts folder (the task does this) and install sd-scripts into its venv: pip install -r requirements.txt (it installs the library with -e .).',
        line,
        module,
      };
    }
    const pkg = MODULE_PACKAGES[top] ?? top.replace(/_/g, '-');
    return {
      kind: 'missingModule',
      message: `The Python package for '${module}' is not installed.`,
      hint: `Install it into sd-scripts' venv: python -m pip install ${pkg}`,
      line,
      module,
      package: pkg,
    };
  }
  if (/fp16 mixed precision requires a GPU/.test(plain)) {
    return {
      kind: 'fp16NeedsGpu',
      message: 'accelerate found no GPU for fp16 mixed precision.',
      hint: 'Set gpu_ids in the accelerate config to a GPU id such as 0 (not "all"), and check that PyTorch sees the GPU (CUDA driver and a CUDA build of torch).',
      line,
    };
  }
  const missing = /^FileNotFoundError: \[Errno 2\] No such file or directory: '(.*)'$/.exec(plain);
  if (missing) {
    return {
      kind: 'fileNotFound',
      message: `A file the run needs does not exist: ${missing[1] ?? ''}`,
      hint: 'Check the paths in the training and dataset configs (pretrained_model_name_or_path, vae, image_dir, sample_prompts); relative paths are resolved from the sd-scripts folder when sd-scripts reads them.',
      line,
    };
  }
  const prompt = /No prompt file \/ .*?: (.*)$/.exec(plain);
  if (prompt) {
    return {
      kind: 'noPromptFile',
      message: `The sample prompt file does not exist: ${prompt[1] ?? ''}`,
      hint: 'Fix sample_prompts (a .txt, .toml or .json file) or remove it.',
      line,
    };
  }
  return undefined;
}

function nanFailure(p: Progress, line: string): Failure {
  return {
    kind: 'nanLoss',
    message: `The loss became NaN (avr_loss=nan at step ${p.step}/${p.total}): the network is no longer learning.`,
    hint:
      'Stop the run. Usual causes with SDXL: fp16 overflow (use mixed_precision = "bf16", or keep the VAE in fp32 ' +
      'with no_half_vae), a learning rate that is too high, or full_fp16. Lower the learning rate or switch ' +
      'precision, then start again (resuming from a state saved after the NaN does not help).',
    line,
  };
}

// ---------------------------------------------------------------------------------------------

const TAIL = 40;

/**
 * Streaming parser. Feed chunks with `push` (strings or bytes; UTF-8 split across chunks is
 * fine), call `end` when the process exits. Each call returns the events of the text it saw; the
 * running state is in `state`.
 */
export class TrainingOutputParser {
  readonly state: OutputState = { info: {}, checkpoints: [], modelSaved: false, failures: [], tail: [] };
  private buf = '';
  private decoder = new TextDecoder('utf-8');
  private lastBarText = '';
  private inTraceback: string[] | undefined;
  private failureKinds = new Set<string>();
  private inTrainingBlock = false;

  push(chunk: string | Uint8Array): OutputEvent[] {
    const out: OutputEvent[] = [];
    try {
      this.buf += typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
      const buf = this.buf;
      const re = /[\r\n]/g;
      let start = 0;
      let m: RegExpExecArray | null;
      while ((m = re.exec(buf)) !== null) {
        const i = m.index;
        if (buf[i] === '\r' && i + 1 === buf.length) break; // may be the first half of \r\n: wait
        // treat \r\n as one line end
        const skip = buf[i] === '\r' && buf[i + 1] === '\n' ? 2 : 1;
        this.segment(buf.slice(start, i), true, out);
        start = i + skip;
        re.lastIndex = start;
      }
      this.buf = start > 0 ? buf.slice(start) : buf;
      // a tqdm bar is complete before its terminator arrives: parse it now for live progress
      if (this.buf.length > 0 && this.buf.endsWith(']')) this.segment(this.buf, false, out);
    } catch {
      /* never throw out of push */
    }
    return out;
  }

  end(): OutputEvent[] {
    const out: OutputEvent[] = [];
    try {
      this.buf += this.decoder.decode();
      if (this.buf.length > 0) this.segment(this.buf.replace(/\r$/, ''), true, out);
      this.buf = '';
      this.finishTraceback(out);
    } catch {
      /* never throw */
    }
    return out;
  }

  private segment(raw: string, complete: boolean, out: OutputEvent[]): void {
    const text = raw.replace(ANSI_RE, '');
    const bar = parseTqdm(text);
    if (bar) {
      const barText = text.slice(0, bar.end);
      if (barText !== this.lastBarText) {
        this.lastBarText = barText;
        this.progress(bar.progress, barText, out);
      }
      if (!complete) return;
      // text printed right after a bar without a newline (stdout and stderr interleave)
      const after = text.slice(bar.end).trim();
      if (after) this.line(after, out);
      return;
    }
    if (!complete) return;
    this.line(text, out);
  }

  private progress(p: Progress, text: string, out: OutputEvent[]): void {
    if (p.desc !== 'steps') return;
    this.state.progress = p;
    if (this.state.info.totalSteps === undefined) this.state.info.totalSteps = p.total;
    out.push({ type: 'progress', progress: p });
    const tail = this.state.tail;
    const last = tail[tail.length - 1];
    if (last !== undefined && parseTqdm(last)?.progress.desc === 'steps') tail[tail.length - 1] = text.trim();
    else this.pushTail(text.trim());
    if (p.avrLoss !== undefined && Number.isNaN(p.avrLoss)) this.fail(nanFailure(p, text.trim()), out);
  }

  private pushTail(s: string): void {
    this.state.tail.push(s);
    if (this.state.tail.length > TAIL) this.state.tail.splice(0, this.state.tail.length - TAIL);
  }

  private fail(f: Failure, out: OutputEvent[]): void {
    const key = f.kind + (f.module ?? '');
    if (this.failureKinds.has(key)) return;
    this.failureKinds.add(key);
    this.state.failures.push(f);
    out.push({ type: 'failure', failure: f });
  }

  private finishTraceback(out: OutputEvent[]): void {
    const tb = this.inTraceback;
    if (!tb) return;
    this.inTraceback = undefined;
    const exception = [...tb].reverse().find((l) => /^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b/.test(l.trim())) ?? tb[tb.length - 1] ?? '';
    const frames: TracebackFrame[] = [];
    for (const l of tb) {
      const m = /^\s*File "(.+)", line (\d+)(?:, in (.+))?$/.exec(l);
      if (m) frames.push({ file: m[1] as string, line: Number(m[2]), func: (m[3] ?? '').trim() });
    }
    const t = { lines: tb, exception: exception.trim(), frames };
    if (!(this.state.traceback && /CalledProcessError/.test(t.exception))) this.state.traceback = t;
    out.push({ type: 'traceback', ...t });
  }

  private line(text: string, out: OutputEvent[]): void {
    const plain = plainLogText(text);
    const trimmed = plain.trim();
    if (trimmed === '' && !this.inTraceback) return;
    this.pushTail(plain);

    // tracebacks: from "Traceback (most recent call last):" to the exception line
    if (/^Traceback \(most recent call last\):/.test(trimmed)) {
      this.finishTraceback(out);
      this.inTraceback = [trimmed];
      out.push({ type: 'error', line: trimmed });
    } else if (this.inTraceback) {
      this.inTraceback.push(plain);
      if (/^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b/.test(trimmed) && !/^\s/.test(plain)) {
        out.push({ type: 'error', line: trimmed });
        const f = classify(text, trimmed);
        if (f) this.fail(f, out);
        this.finishTraceback(out);
        return;
      }
      if (this.inTraceback.length > 500) this.finishTraceback(out);
    }

    const f = classify(text, trimmed);
    if (f) this.fail(f, out);

    let m: RegExpExecArray | null;
    if ((m = /^epoch (\d+)\/(\d+)$/.exec(trimmed))) {
      this.state.epoch = Number(m[1]);
      this.state.totalEpochs = Number(m[2]);
      out.push({ type: 'epoch', epoch: this.state.epoch, totalEpochs: this.state.totalEpochs });
    } else if ((m = /^saving checkpoint: (.+)$/.exec(trimmed))) {
      this.state.checkpoints.push(m[1] as string);
      out.push({ type: 'checkpoint', path: m[1] as string });
    } else if ((m = /^removing old checkpoint: (.+)$/.exec(trimmed))) {
      out.push({ type: 'checkpointRemoved', path: m[1] as string });
    } else if (trimmed === 'model saved.') {
      this.state.modelSaved = true;
      out.push({ type: 'modelSaved' });
    } else if ((m = /^generating sample images at step \/ .*?: (\d+)/.exec(trimmed))) {
      out.push({ type: 'sampling', step: Number(m[1]) });
    } else if (/^running training \//.test(trimmed)) {
      this.inTrainingBlock = true;
    } else if (this.inTrainingBlock) {
      const info = this.state.info;
      const num = (re: RegExp): number | undefined => {
        const x = re.exec(trimmed);
        return x ? Number(x[1]) : undefined;
      };
      let v: number | undefined;
      if ((v = num(/^num train images \* repeats \/ .*?: (\d+)/)) !== undefined) info.trainImages = v;
      else if ((v = num(/^num reg images \/ .*?: (\d+)/)) !== undefined) info.regImages = v;
      else if ((v = num(/^num batches per epoch \/ .*?: (\d+)/)) !== undefined) info.batchesPerEpoch = v;
      else if ((v = num(/^num epochs \/ .*?: (\d+)/)) !== undefined) info.epochs = v;
      else if ((m = /^batch size per device \/ .*?: (.+)$/.exec(trimmed))) info.batchSize = m[1];
      else if ((v = num(/^gradient accumulation steps \/ .*?= (\d+)/)) !== undefined) info.gradientAccumulationSteps = v;
      else if ((v = num(/^total optimization steps \/ .*?: (\d+)/)) !== undefined) {
        info.totalSteps = v;
        this.inTrainingBlock = false;
        out.push({ type: 'trainingStart', info: { ...info } });
      } else if (!/^num validation images/.test(trimmed)) this.inTrainingBlock = false;
    } else if (/^(?:[\w.]*Error|error|ERROR)\b|^RuntimeError|^CUDA error/.test(trimmed) && !this.inTraceback) {
      out.push({ type: 'error', line: trimmed });
    }
  }
}

/** Parses a whole log at once (tests, the CLI, logs saved by other tools). */
export function parseTrainingOutput(text: string | Uint8Array): { events: OutputEvent[]; state: OutputState } {
  const p = new TrainingOutputParser();
  const events = [...p.push(text), ...p.end()];
  return { events, state: p.state };
}
