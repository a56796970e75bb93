/**
 * Dataset discovery the way sd-scripts sees a training run: from training configs
 * (`train_data_dir`, `reg_data_dir`, `in_json`, `dataset_config`), dataset configs
 * (`[general]` / `[[datasets]]` / `[[datasets.subsets]]` with sd-scripts' fallback order
 * subset → dataset → general → training config (argparse) → defaults) and fine-tuning metadata
 * JSON (which keys still resolve to images).
 *
 * Pure: takes file texts and a file-existence function, returns plain data. No `vscode`.
 */
import * as path from 'node:path';
import { parseTomlDocument, plainValue, type TomlDocument, type TomlEntry, type TomlValue } from '../config/document';
import { datasetModel, datasetStyle, type DsTable } from '../config/checkDataset';
import { flattenTrainingConfig, effectiveOptions } from '../config/training';
import { isPlaceholderPath, resolveConfigPath } from '../config/paths';
import { KOHYA_IMAGE_EXTENSIONS } from './images';

/** Where a resolved subset value came from. */
export type ValueSource = 'subset' | 'dataset' | 'general' | 'training' | 'default';

export interface SubsetValues {
  numRepeats: number;
  classTokens: string | undefined;
  isReg: boolean;
  captionExtension: string;
  keepTokens: number;
  resolution: [number, number] | undefined;
  batchSize: number;
}

export interface DiscoveredSubset {
  /** e.g. `datasets[0].subsets[1]` */
  label: string;
  style: 'dreambooth' | 'finetuning';
  /** absolute image folder (fine-tuning subsets may have none) */
  imageDir?: string;
  /** absolute metadata JSON of a fine-tuning subset */
  metadataFile?: string;
  values: SubsetValues;
  /** where each value came from */
  sources: Record<keyof SubsetValues, ValueSource>;
  /** bucket settings (dataset → general → training config); unset ones take sd-scripts' defaults */
  bucket: BucketOptions;
  /** why sd-scripts will ignore this subset, if it will */
  skipReason?: string;
}

export interface BucketOptions {
  enableBucket?: boolean;
  minBucketReso?: number;
  maxBucketReso?: number;
  bucketResoSteps?: number;
  noUpscale?: boolean;
}

const BUCKET_KEYS: ReadonlyArray<[keyof BucketOptions, string]> = [
  ['enableBucket', 'enable_bucket'],
  ['minBucketReso', 'min_bucket_reso'],
  ['maxBucketReso', 'max_bucket_reso'],
  ['bucketResoSteps', 'bucket_reso_steps'],
  ['noUpscale', 'bucket_no_upscale'],
];

export interface DiscoveredDataset {
  /** the file that defines it */
  origin: string;
  /** `datasets[0]`, or the option (`train_data_dir`, `in_json`) for a training config */
  label: string;
  style: 'dreambooth' | 'finetuning' | 'mixed';
  subsets: DiscoveredSubset[];
  /** messages about the definition (mixed styles, no subsets, placeholder paths) */
  problems: string[];
}

/** The argparse-level values a training config gives the dataset (the "training" fallback). */
export interface TrainingDefaults {
  captionExtension?: string;
  resolution?: [number, number];
  batchSize?: number;
  numRepeats?: number;
  keepTokens?: number;
  classTokens?: string;
  bucket?: BucketOptions;
}

export interface TrainingConfigRefs {
  file: string;
  trainDataDir?: string;
  regDataDir?: string;
  inJson?: string;
  datasetConfig?: string;
  defaults: TrainingDefaults;
}

/** sd-scripts' argparse defaults, the last step of the fallback chain. */
export const SUBSET_DEFAULTS: SubsetValues = Object.freeze({
  numRepeats: 1,
  classTokens: undefined,
  isReg: false,
  captionExtension: '.caption',
  keepTokens: 0,
  resolution: undefined,
  batchSize: 1,
}) as SubsetValues;

/** `resolution` as sd-scripts reads it: an int, `[w, h]`, or in a training config the string "w,h". */
export function parseResolution(v: unknown): [number, number] | undefined {
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((n) => typeof n === 'number' && Number.isInteger(n) && n > 0)) return [v[0] as number, v[1] as number];
  if (typeof v === 'string') {
    const parts = v.split(',').map((s) => s.trim());
    if (parts.length === 1 && /^\d+$/.test(parts[0] ?? '')) return [Number(parts[0]), Number(parts[0])];
    if (parts.length === 2 && parts.every((p) => /^\d+$/.test(p))) return [Number(parts[0]), Number(parts[1])];
  }
  return undefined;
}

/** `caption_extension` without a leading dot gets one, as in sd-scripts. */
function dotted(ext: string): string {
  return ext.startsWith('.') ? ext : `.${ext}`;
}

function lastEntry(t: DsTable | undefined, key: string): TomlEntry | undefined {
  if (!t) return undefined;
  for (let i = t.entries.length - 1; i >= 0; i--) if (t.entries[i]?.key === key) return t.entries[i];
  return undefined;
}

function plainOf(v: TomlValue | undefined): unknown {
  return v ? plainValue(v) : undefined;
}

/** Reads what a training config says about its data. Never throws. */
export function readTrainingConfigRefs(text: string, file: string, baseDir: string): TrainingConfigRefs {
  const refs: TrainingConfigRefs = { file, defaults: {} };
  let doc: TomlDocument;
  try {
    doc = parseTomlDocument(text);
  } catch {
    return refs;
  }
  const opts = effectiveOptions(flattenTrainingConfig(doc));
  const str = (name: string): string | undefined => {
    const v = opts.get(name)?.value;
    return v?.kind === 'string' && v.value.trim() !== '' ? v.value : undefined;
  };
  const int = (name: string): number | undefined => {
    const v = opts.get(name)?.value;
    return v?.kind === 'integer' ? v.value : undefined;
  };
  const pathOf = (name: string): string | undefined => {
    const p = str(name);
    return p === undefined || isPlaceholderPath(p) ? undefined : resolveConfigPath(baseDir, p);
  };
  const trainDataDir = pathOf('train_data_dir');
  const regDataDir = pathOf('reg_data_dir');
  const inJson = pathOf('in_json');
  const datasetConfig = pathOf('dataset_config');
  if (trainDataDir) refs.trainDataDir = trainDataDir;
  if (regDataDir) refs.regDataDir = regDataDir;
  if (inJson) refs.inJson = inJson;
  if (datasetConfig) refs.datasetConfig = datasetConfig;
  const ce = str('caption_extension');
  if (ce) refs.defaults.captionExtension = dotted(ce);
  const res = parseResolution(plainOf(opts.get('resolution')?.value));
  if (res) refs.defaults.resolution = res;
  const bs = int('train_batch_size');
  if (bs !== undefined) refs.defaults.batchSize = bs;
  const rep = int('dataset_repeats');
  if (rep !== undefined) refs.defaults.numRepeats = rep;
  const kt = int('keep_tokens');
  if (kt !== undefined) refs.defaults.keepTokens = kt;
  const ct = str('class_tokens');
  if (ct) refs.defaults.classTokens = ct;
  const bucket: BucketOptions = {};
  for (const [k, key] of BUCKET_KEYS) {
    const v = opts.get(key)?.value;
    if (v?.kind === 'boolean' && (k === 'enableBucket' || k === 'noUpscale')) bucket[k] = v.value as never;
    else if (v?.kind === 'integer' && k !== 'enableBucket' && k !== 'noUpscale') bucket[k] = v.value as never;
  }
  if (Object.keys(bucket).length) refs.defaults.bucket = bucket;
  return refs;
}

/**
 * Reads a dataset config's datasets and subsets with every subset value resolved along
 * sd-scripts' fallback order. `training` holds the values of the training config that names this
 * dataset config (they come between `[general]` and the defaults). Never throws; a TOML syntax
 * error is returned as `error` (with whatever could still be read).
 */
export function readDatasetConfig(
  text: string,
  file: string,
  baseDir: string,
  training: TrainingDefaults = {},
): { datasets: DiscoveredDataset[]; error?: string } {
  let doc: TomlDocument;
  try {
    doc = parseTomlDocument(text);
  } catch (e) {
    return { datasets: [], error: `${path.basename(file)} cannot be read as TOML: ${(e as Error).message}` };
  }
  const first = doc.syntaxErrors[0];
  const error = first ? `${path.basename(file)}: TOML syntax error: ${first.message}` : undefined;
  const model = datasetModel(doc);
  const datasets: DiscoveredDataset[] = [];
  model.datasets.forEach((ds, i) => {
    // ControlNet datasets exist only with --masked_loss; without it they read as DreamBooth
    const style = datasetStyle(ds.subsets, false) as 'dreambooth' | 'finetuning' | undefined;
    const problems: string[] = [];
    if (style === undefined) problems.push('DreamBooth subsets (image_dir) and fine-tuning subsets (metadata_file) are mixed: sd-scripts refuses this dataset; split it in two.');
    if (ds.subsets.length === 0) problems.push('This dataset has no [[datasets.subsets]]: it adds no images.');
    const seen = new Set<string>();
    const subsets = ds.subsets.map((sub, j) => {
      const s = resolveSubset(sub, ds.table, model.general, training, baseDir, `datasets[${i}].subsets[${j}]`);
      if (!s.skipReason) {
        const key = s.style === 'finetuning' ? `m:${s.metadataFile ?? ''}` : `i:${s.imageDir ?? ''}`;
        if (seen.has(key)) s.skipReason = `the same ${s.style === 'finetuning' ? 'metadata_file' : 'image_dir'} as an earlier subset of this dataset: sd-scripts ignores the duplicate`;
        seen.add(key);
      }
      return s;
    });
    datasets.push({ origin: file, label: `datasets[${i}]`, style: style ?? 'mixed', subsets, problems });
  });
  return error ? { datasets, error } : { datasets };
}

function resolveSubset(sub: DsTable, ds: DsTable, general: DsTable | undefined, training: TrainingDefaults, baseDir: string, label: string): DiscoveredSubset {
  const style: 'dreambooth' | 'finetuning' = lastEntry(sub, 'metadata_file') ? 'finetuning' : 'dreambooth';
  const sources = {} as Record<keyof SubsetValues, ValueSource>;
  /** subset → dataset → general → training → default, first value that is present and valid */
  const pick = <K extends keyof SubsetValues>(
    k: K,
    key: string,
    read: (v: unknown) => SubsetValues[K] | undefined,
    levels: Array<[ValueSource, DsTable | undefined]>,
    fromTraining: SubsetValues[K] | undefined,
  ): SubsetValues[K] => {
    for (const [src, t] of levels) {
      const e = lastEntry(t, key);
      if (!e) continue;
      const v = read(plainValue(e.value));
      if (v !== undefined) {
        sources[k] = src;
        return v;
      }
    }
    if (fromTraining !== undefined) {
      sources[k] = 'training';
      return fromTraining;
    }
    sources[k] = 'default';
    return SUBSET_DEFAULTS[k];
  };
  const all: Array<[ValueSource, DsTable | undefined]> = [['subset', sub], ['dataset', ds], ['general', general]];
  const datasetLevels: Array<[ValueSource, DsTable | undefined]> = [['dataset', ds], ['general', general]];
  const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : typeof v === 'boolean' ? Number(v) : undefined);
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const values: SubsetValues = {
    numRepeats: pick('numRepeats', 'num_repeats', int, all, training.numRepeats),
    classTokens: pick('classTokens', 'class_tokens', str, all, training.classTokens),
    // is_reg is subset-only in sd-scripts' schema
    isReg: pick('isReg', 'is_reg', (v) => (typeof v === 'boolean' ? v : undefined), [['subset', sub]], undefined),
    captionExtension: dotted(pick('captionExtension', 'caption_extension', str, all, training.captionExtension)),
    keepTokens: pick('keepTokens', 'keep_tokens', int, all, training.keepTokens),
    // dataset-level keys: not read from the subset
    resolution: pick('resolution', 'resolution', parseResolution, datasetLevels, training.resolution),
    batchSize: pick('batchSize', 'batch_size', int, datasetLevels, training.batchSize),
  };
  const bucket: BucketOptions = { ...(training.bucket ?? {}) };
  for (const [k, key] of BUCKET_KEYS) {
    for (const t of [ds, general]) {
      const v = plainOf(lastEntry(t, key)?.value);
      const ok = k === 'enableBucket' || k === 'noUpscale' ? typeof v === 'boolean' : typeof v === 'number' && Number.isInteger(v);
      if (ok) {
        bucket[k] = v as never;
        break;
      }
    }
  }
  const out: DiscoveredSubset = { label, style, values, sources, bucket };
  const dir = str(plainOf(lastEntry(sub, 'image_dir')?.value));
  if (dir !== undefined && dir !== '' && !isPlaceholderPath(dir)) out.imageDir = resolveConfigPath(baseDir, dir);
  const meta = str(plainOf(lastEntry(sub, 'metadata_file')?.value));
  if (meta !== undefined && meta !== '' && !isPlaceholderPath(meta)) out.metadataFile = resolveConfigPath(baseDir, meta);
  if (values.numRepeats < 1) out.skipReason = `num_repeats is ${values.numRepeats}: sd-scripts ignores subsets with fewer than 1 repeat`;
  else if (style === 'dreambooth' && !out.imageDir) out.skipReason = dir ? `image_dir "${dir}" is a placeholder` : 'no image_dir: sd-scripts requires it for this subset';
  else if (style === 'finetuning' && !out.metadataFile) out.skipReason = `metadata_file "${meta ?? ''}" is a placeholder`;
  return out;
}

/**
 * The datasets a training config defines without a dataset config: `train_data_dir` (its
 * `N_name` subfolders) and `reg_data_dir`, or `in_json` + `train_data_dir` for fine-tuning.
 * With `dataset_config` set, sd-scripts ignores these three options, and so does this.
 */
export function datasetsOfTrainingConfig(refs: TrainingConfigRefs): DiscoveredDataset[] {
  if (refs.datasetConfig) return [];
  const base = (isReg: boolean, label: string, style: 'dreambooth' | 'finetuning', extra: Partial<DiscoveredSubset>): DiscoveredDataset => {
    const values: SubsetValues = {
      ...SUBSET_DEFAULTS,
      ...(refs.defaults.captionExtension ? { captionExtension: refs.defaults.captionExtension } : {}),
      ...(refs.defaults.resolution ? { resolution: refs.defaults.resolution } : {}),
      ...(refs.defaults.batchSize !== undefined ? { batchSize: refs.defaults.batchSize } : {}),
      ...(refs.defaults.keepTokens !== undefined ? { keepTokens: refs.defaults.keepTokens } : {}),
      ...(refs.defaults.numRepeats !== undefined ? { numRepeats: refs.defaults.numRepeats } : {}),
      isReg,
    };
    const sources = Object.fromEntries(Object.keys(values).map((k) => [k, 'training'])) as Record<keyof SubsetValues, ValueSource>;
    return { origin: refs.file, label, style, subsets: [{ label, style, values, sources, bucket: { ...(refs.defaults.bucket ?? {}) }, ...extra }], problems: [] };
  };
  const out: DiscoveredDataset[] = [];
  if (refs.inJson) {
    out.push(base(false, 'in_json', 'finetuning', { metadataFile: refs.inJson, ...(refs.trainDataDir ? { imageDir: refs.trainDataDir } : {}) }));
    return out;
  }
  if (refs.trainDataDir) out.push(base(false, 'train_data_dir', 'dreambooth', { imageDir: refs.trainDataDir }));
  if (refs.regDataDir) out.push(base(true, 'reg_data_dir', 'dreambooth', { imageDir: refs.regDataDir }));
  return out;
}

// ---- fine-tuning metadata keys --------------------------------------------------------------

export type MetadataKeyStatus =
  /** an existing absolute path, or a path relative to where training starts */
  | 'fullPath'
  /** a name with its extension, found in the image folder */
  | 'withExtension'
  /** an extensionless stem: current sd-scripts no longer tries extensions, so it does not resolve */
  | 'bareStem'
  | 'missing';

export interface MetadataKeyResult {
  key: string;
  status: MetadataKeyStatus;
  /** the image the key points to (for bare stems: the one older sd-scripts would have used) */
  image?: string;
}

export interface MetadataKeySummary {
  total: number;
  resolved: number;
  byStatus: Record<MetadataKeyStatus, number>;
  /** the keys that do not resolve, up to `limit` */
  unresolved: MetadataKeyResult[];
  /** one sentence for the tree and the tooltip */
  message: string;
}

/**
 * Resolves metadata keys as current sd-scripts' FineTuningDataset does: an existing path as is
 * (absolute, or relative to `cwd`), else `join(imageDir, key)` with no extension globbing.
 * Bare stems are told apart from keys that point nowhere.
 */
export function resolveMetadataKeys(
  keys: Iterable<string>,
  imageDir: string | undefined,
  exists: (file: string) => boolean,
  cwd?: string,
): MetadataKeyResult[] {
  const out: MetadataKeyResult[] = [];
  for (const key of keys) {
    if (path.isAbsolute(key)) {
      out.push(exists(key) ? { key, status: 'fullPath', image: key } : { key, status: 'missing' });
      continue;
    }
    if (cwd && exists(path.resolve(cwd, key))) {
      out.push({ key, status: 'fullPath', image: path.resolve(cwd, key) });
      continue;
    }
    if (imageDir && exists(path.join(imageDir, key))) {
      out.push({ key, status: 'withExtension', image: path.join(imageDir, key) });
      continue;
    }
    let found: string | undefined;
    if (imageDir && !path.extname(key)) {
      for (const ext of [...KOHYA_IMAGE_EXTENSIONS, ...KOHYA_IMAGE_EXTENSIONS.map((e) => e.toUpperCase())]) {
        if (exists(path.join(imageDir, key + ext))) {
          found = path.join(imageDir, key + ext);
          break;
        }
      }
    }
    out.push(found ? { key, status: 'bareStem', image: found } : { key, status: 'missing' });
  }
  return out;
}

export function summariseMetadataKeys(results: readonly MetadataKeyResult[], limit = 20): MetadataKeySummary {
  const byStatus: Record<MetadataKeyStatus, number> = { fullPath: 0, withExtension: 0, bareStem: 0, missing: 0 };
  const unresolved: MetadataKeyResult[] = [];
  for (const r of results) {
    byStatus[r.status]++;
    if ((r.status === 'bareStem' || r.status === 'missing') && unresolved.length < limit) unresolved.push(r);
  }
  return metadataKeySummary(byStatus, unresolved);
}

/** The summary from counts per status and the first keys that do not resolve. */
export function metadataKeySummary(byStatus: Record<MetadataKeyStatus, number>, unresolved: MetadataKeyResult[]): MetadataKeySummary {
  const resolved = byStatus.fullPath + byStatus.withExtension;
  const parts: string[] = [];
  if (byStatus.bareStem) parts.push(`${byStatus.bareStem} bare-stem key${byStatus.bareStem === 1 ? '' : 's'} no longer resolve (current sd-scripts does not try extensions; regenerate with full paths)`);
  if (byStatus.missing) parts.push(`${byStatus.missing} key${byStatus.missing === 1 ? '' : 's'} point to no image`);
  const message = parts.length ? parts.join('; ') : `all ${resolved} keys resolve to images`;
  const total = byStatus.fullPath + byStatus.withExtension + byStatus.bareStem + byStatus.missing;
  return { total, resolved, byStatus, unresolved, message };
}
