/**
 * A training run's artefacts in its output_dir: sample images (`sample/`), checkpoints
 * (`name-000001.safetensors`, `name-step00000500.safetensors`, `name.safetensors`), saved states
 * (`*-state/` with train_state.json, for --resume), and the safetensors header with sd-scripts'
 * `ss_*` metadata. Names as sd-scripts' train_util makes them.
 *
 * Pure Node (node:fs only). Nothing here throws on bad files: problems come back as data.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface SampleImage {
  file: string;
  name: string;
  /** output_name, '' when none was set */
  outputName: string;
  /** `e000003` (epoch-triggered or first samples) → 'epoch', `000500` → 'step' */
  trigger: 'epoch' | 'step';
  epoch?: number;
  step?: number;
  /** index of the prompt in the prompt file */
  promptIndex: number;
  /** `YYYYmmddHHMMSS` */
  timestamp: string;
  seed?: number;
}

/** `{output_name_}{e000003|000500}_{ii}_{YYYYmmddHHMMSS}{_seed}.png` */
const SAMPLE_RE = /^(?:(.*)_)?(e?)(\d{6,})_(\d{2,})_(\d{14})(?:_(\d+))?\.png$/;

export function parseSampleName(name: string): Omit<SampleImage, 'file'> | undefined {
  const m = SAMPLE_RE.exec(name);
  if (!m) return undefined;
  const num = Number(m[3]);
  const out: Omit<SampleImage, 'file'> = {
    name,
    outputName: m[1] ?? '',
    trigger: m[2] === 'e' ? 'epoch' : 'step',
    promptIndex: Number(m[4]),
    timestamp: m[5] as string,
  };
  if (m[2] === 'e') out.epoch = num;
  else out.step = num;
  if (m[6] !== undefined) out.seed = Number(m[6]);
  return out;
}

/** Sample images in `<outputDir>/sample`, sorted by (step or epoch, prompt index). Never throws. */
export function listSamples(outputDir: string): SampleImage[] {
  const dir = path.join(outputDir, 'sample');
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: SampleImage[] = [];
  for (const n of names) {
    const s = parseSampleName(n);
    if (s) out.push({ file: path.join(dir, n), ...s });
  }
  const key = (s: SampleImage): number => (s.trigger === 'epoch' ? (s.epoch ?? 0) : (s.step ?? 0));
  out.sort((a, b) => a.timestamp.localeCompare(b.timestamp) || key(a) - key(b) || a.promptIndex - b.promptIndex);
  return out;
}

// ---------------------------------------------------------------------------------------------
// checkpoints and states

export const MODEL_EXTENSIONS = ['.safetensors', '.ckpt', '.pt'];

export interface CheckpointFile {
  file: string;
  name: string;
  /** the name without extension and epoch/step suffix */
  outputName: string;
  kind: 'epoch' | 'step' | 'final';
  epoch?: number;
  step?: number;
  size: number;
  mtimeMs: number;
}

/**
 * Reads epoch/step from a model file name. `name-000003` → epoch 3 (sd-scripts pads to 6; other
 * trainers' 2-digit `name-03` is accepted too), `name-step00000500` → step 500, else final.
 */
export function parseCheckpointName(name: string): Pick<CheckpointFile, 'outputName' | 'kind' | 'epoch' | 'step'> | undefined {
  const ext = MODEL_EXTENSIONS.find((e) => name.endsWith(e));
  if (!ext) return undefined;
  const stem = name.slice(0, -ext.length);
  if (stem === '') return undefined;
  let m = /^(.*)-step(\d{8,})$/.exec(stem);
  if (m) return { outputName: m[1] as string, kind: 'step', step: Number(m[2]) };
  m = /^(.*)-(\d{2,})$/.exec(stem);
  if (m && m[1]) return { outputName: m[1], kind: 'epoch', epoch: Number(m[2]) };
  return { outputName: stem, kind: 'final' };
}

/** Model files directly in outputDir, sorted: epochs, steps, then final. Never throws. */
export function listCheckpoints(outputDir: string, outputName?: string): CheckpointFile[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(outputDir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: CheckpointFile[] = [];
  for (const e of entries) {
    if (!e.isFile() && !e.isSymbolicLink()) continue;
    const parsed = parseCheckpointName(e.name);
    if (!parsed) continue;
    if (outputName !== undefined && parsed.outputName !== outputName) continue;
    const file = path.join(outputDir, e.name);
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
      if (!st.isFile()) continue;
    } catch {
      continue;
    }
    out.push({ file, name: e.name, ...parsed, size: st.size, mtimeMs: st.mtimeMs });
  }
  const order = { epoch: 0, step: 1, final: 2 } as const;
  out.sort((a, b) => order[a.kind] - order[b.kind] || (a.epoch ?? a.step ?? 0) - (b.epoch ?? b.step ?? 0) || a.name.localeCompare(b.name));
  return out;
}

export interface SavedState {
  dir: string;
  name: string;
  outputName: string;
  kind: 'epoch' | 'step' | 'final';
  /** from the folder name */
  epoch?: number;
  step?: number;
  /** from train_state.json (what --resume restores), when readable */
  currentEpoch?: number;
  currentStep?: number;
  /** why train_state.json could not be used */
  problem?: string;
}

/** `{name}-{epoch:06d}-state`, `{name}-step{step:08d}-state`, `{name}-state` */
export function parseStateName(name: string): Pick<SavedState, 'outputName' | 'kind' | 'epoch' | 'step'> | undefined {
  if (!name.endsWith('-state')) return undefined;
  const stem = name.slice(0, -'-state'.length);
  let m = /^(.*)-step(\d{8,})$/.exec(stem);
  if (m) return { outputName: m[1] as string, kind: 'step', step: Number(m[2]) };
  m = /^(.*)-(\d{6,})$/.exec(stem);
  if (m) return { outputName: m[1] as string, kind: 'epoch', epoch: Number(m[2]) };
  return { outputName: stem, kind: 'final' };
}

/** Saved states in outputDir (for --resume), by epoch then step. Never throws. */
export function listStates(outputDir: string): SavedState[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(outputDir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: SavedState[] = [];
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const parsed = parseStateName(e.name);
    if (!parsed) continue;
    const dir = path.join(outputDir, e.name);
    const s: SavedState = { dir, name: e.name, ...parsed };
    try {
      const j = JSON.parse(fs.readFileSync(path.join(dir, 'train_state.json'), 'utf8')) as unknown;
      if (j && typeof j === 'object') {
        const o = j as Record<string, unknown>;
        if (typeof o['current_epoch'] === 'number') s.currentEpoch = o['current_epoch'];
        if (typeof o['current_step'] === 'number') s.currentStep = o['current_step'];
      }
      if (s.currentEpoch === undefined && s.currentStep === undefined) s.problem = 'train_state.json has no current_epoch/current_step';
    } catch (err) {
      s.problem = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no train_state.json' : `train_state.json unreadable: ${(err as Error).message}`;
    }
    out.push(s);
  }
  // by epoch, then step; a final `name-state` whose train_state.json is unreadable goes last
  const last = (s: SavedState): number => (s.kind === 'final' && s.currentEpoch === undefined ? 1 : 0);
  out.sort(
    (a, b) =>
      last(a) - last(b) ||
      (a.currentEpoch ?? a.epoch ?? 0) - (b.currentEpoch ?? b.epoch ?? 0) ||
      (a.currentStep ?? a.step ?? 0) - (b.currentStep ?? b.step ?? 0) ||
      a.name.localeCompare(b.name),
  );
  return out;
}

// ---------------------------------------------------------------------------------------------
// safetensors header

export type SafetensorsHeader =
  | {
      ok: true;
      headerSize: number;
      tensorCount: number;
      /** `__metadata__` (all values strings) */
      metadata: Record<string, string>;
      /** the `ss_*` keys of metadata */
      ss: Record<string, string>;
    }
  | { ok: false; error: string };

/** Header JSON larger than this is refused (the format allows 100 MB). */
const MAX_HEADER = 100 * 1024 * 1024;

/** Decodes a safetensors header from the first bytes of a file. Never throws. */
export function parseSafetensorsHeader(bytes: Uint8Array, fileSize = bytes.length): SafetensorsHeader {
  try {
    if (bytes.length < 8) return { ok: false, error: 'file is shorter than the 8-byte header length' };
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const n = Number(dv.getBigUint64(0, true));
    if (n < 2 || n > MAX_HEADER) return { ok: false, error: `header length ${n} is not plausible` };
    if (8 + n > fileSize) return { ok: false, error: `header length ${n} runs past the end of the file (${fileSize} bytes)` };
    if (bytes.length < 8 + n) return { ok: false, error: 'header is cut off' };
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
    const j = JSON.parse(text) as unknown;
    if (!j || typeof j !== 'object' || Array.isArray(j)) return { ok: false, error: 'header is not a JSON object' };
    const o = j as Record<string, unknown>;
    const metadata: Record<string, string> = {};
    const raw = o['__metadata__'];
    if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) metadata[k] = typeof v === 'string' ? v : JSON.stringify(v);
    }
    const ss: Record<string, string> = {};
    for (const [k, v] of Object.entries(metadata)) if (k.startsWith('ss_')) ss[k] = v;
    const tensorCount = Object.keys(o).filter((k) => k !== '__metadata__').length;
    return { ok: true, headerSize: n, tensorCount, metadata, ss };
  } catch (e) {
    return { ok: false, error: `header is not valid JSON: ${(e as Error).message}` };
  }
}

/** Reads only the header of a .safetensors file. Never throws. */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(8);
    if (fs.readSync(fd, head, 0, 8, 0) < 8) return { ok: false, error: 'file is shorter than the 8-byte header length' };
    const n = Number(head.readBigUInt64LE(0));
    if (n < 2 || n > MAX_HEADER || 8 + n > size) return parseSafetensorsHeader(head, size);
    const buf = Buffer.alloc(8 + n);
    let got = 0;
    while (got < buf.length) {
      const r = fs.readSync(fd, buf, got, buf.length - got, got);
      if (r === 0) break;
      got += r;
    }
    return parseSafetensorsHeader(buf.subarray(0, got), size);
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  } finally {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        /* ignore */
      }
    }
  }
}

/** Parses an ss_* value that holds JSON (ss_tag_frequency, ss_dataset_dirs, ss_datasets, ss_network_args, ss_bucket_info); undefined if it is not JSON. */
export function parseSsJson(value: string | undefined): unknown {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return undefined;
  }
}

export interface LoraSummary {
  outputName?: string;
  networkModule?: string;
  networkDim?: number;
  networkAlpha?: number;
  networkArgs?: unknown;
  baseModelVersion?: string;
  epoch?: number;
  steps?: number;
  learningRate?: number;
  optimizer?: string;
  mixedPrecision?: string;
  trainingStartedAt?: number;
  trainingFinishedAt?: number;
  /** dir → { n_repeats, img_count } */
  datasetDirs?: unknown;
  /** dir → { tag: count } */
  tagFrequency?: unknown;
}

/** The ss_* fields a panel shows, typed. Values sd-scripts wrote as "None" come back undefined. */
export function summarizeLoraMetadata(ss: Record<string, string>): LoraSummary {
  const str = (k: string): string | undefined => {
    const v = ss[k];
    return v === undefined || v === 'None' ? undefined : v;
  };
  const num = (k: string): number | undefined => {
    const v = str(k);
    if (v === undefined) return undefined;
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  };
  const out: LoraSummary = {};
  const set = <K extends keyof LoraSummary>(k: K, v: LoraSummary[K] | undefined): void => {
    if (v !== undefined) out[k] = v;
  };
  set('outputName', str('ss_output_name'));
  set('networkModule', str('ss_network_module'));
  set('networkDim', num('ss_network_dim'));
  set('networkAlpha', num('ss_network_alpha'));
  set('networkArgs', parseSsJson(str('ss_network_args')));
  set('baseModelVersion', str('ss_base_model_version'));
  set('epoch', num('ss_epoch'));
  set('steps', num('ss_steps'));
  set('learningRate', num('ss_learning_rate'));
  set('optimizer', str('ss_optimizer'));
  set('mixedPrecision', str('ss_mixed_precision'));
  set('trainingStartedAt', num('ss_training_started_at'));
  set('trainingFinishedAt', num('ss_training_finished_at'));
  set('datasetDirs', parseSsJson(str('ss_dataset_dirs')));
  set('tagFrequency', parseSsJson(str('ss_tag_frequency')));
  return out;
}

/** A safetensors file with the given metadata and one tiny tensor (tests, the stand-in trainer). */
export function buildSafetensors(metadata: Record<string, string>): Buffer {
  const header = JSON.stringify({
    __metadata__: metadata,
    'lora_unet_test.lora_down.weight': { dtype: 'F32', shape: [1, 1], data_offsets: [0, 4] },
  });
  // the format pads the header with spaces to a multiple of 8
  const padded = header + ' '.repeat((8 - (Buffer.byteLength(header) % 8)) % 8);
  const h = Buffer.from(padded, 'utf8');
  const out = Buffer.alloc(8 + h.length + 4);
  out.writeBigUInt64LE(BigInt(h.length), 0);
  h.copy(out, 8);
  out.writeFloatLE(0.5, 8 + h.length);
  return out;
}
