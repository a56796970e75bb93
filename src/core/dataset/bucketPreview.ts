/**
 * The bucket half of sd-scripts' `prepare_buckets_latents.py`, without a GPU: each image's bucket
 * is computed with sd-scripts' own maths (`BucketSelector`, the BucketManager it uses) and written
 * into the metadata as `train_resolution` (the bucket rounded down to a multiple of 8, as the
 * script does), together with `image_size` (the image's stored width and height, what current
 * sd-scripts' FineTuningDataset reads instead of opening the image). No latents (.npz) are
 * computed: that needs the Stable Diffusion model and stays the script's job.
 *
 * Like prepare_buckets_latents, the bucket list is made from the given values as they are (the
 * script does not round min/max_bucket_reso to the steps, training does), images that cannot be
 * read are reported and skipped, and an image without an entry in the metadata gets one.
 */
import * as path from 'node:path';
import { parseTomlDocument, plainValue } from '../config/document';
import { BucketSelector, BUCKET_DEFAULTS, type Reso } from './buckets';
import { readImageHeader } from './imageHeader';
import type { Metadata, MetadataEntry } from './metadata';
import { listImageFiles } from './scan';

export interface BucketPreviewOptions {
  /** max_resolution (W, H): the training resolution */
  resolution: Reso;
  minBucketReso?: number;
  maxBucketReso?: number;
  bucketResoSteps?: number;
  /** bucket_no_upscale */
  noUpscale?: boolean;
  /** absolute image paths as keys (--full_path; default true, bare stems no longer resolve in current sd-scripts) */
  fullPath?: boolean;
  recursive?: boolean;
}

export interface BucketPreviewResult {
  metadata: Metadata;
  /** images given a bucket */
  images: number;
  /** bucket → images, sorted by width then height */
  buckets: Array<{ reso: [number, number]; count: number }>;
  /** mean |aspect-ratio error| (sd-scripts logs it as "mean ar error") */
  meanArError: number;
  /** images that could not be read, and other notes */
  warnings: string[];
  /** settings sd-scripts refuses: nothing was computed */
  errors: string[];
}

/** Checks the settings the way prepare_buckets_latents would fail on them. */
function checkOptions(o: BucketPreviewOptions): string[] {
  const errors: string[] = [];
  const [w, h] = o.resolution ?? [NaN, NaN];
  if (!(Number.isInteger(w) && Number.isInteger(h) && w > 0 && h > 0)) errors.push(`the resolution must be two positive whole numbers, not ${String(w)},${String(h)}`);
  for (const [name, v] of [
    ['min_bucket_reso', o.minBucketReso],
    ['max_bucket_reso', o.maxBucketReso],
    ['bucket_reso_steps', o.bucketResoSteps],
  ] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) errors.push(`${name} must be a positive whole number, not ${v}`);
  }
  return errors;
}

/**
 * Adds `train_resolution` and `image_size` for every image under `root` to a copy of `base`
 * (meta_clean.json, or an empty map to start from the images alone). Never throws.
 */
export async function previewBucketsIntoMetadata(root: string, base: Metadata, o: BucketPreviewOptions): Promise<BucketPreviewResult> {
  const result: BucketPreviewResult = { metadata: new Map(base), images: 0, buckets: [], meanArError: 0, warnings: [], errors: checkOptions(o) };
  if (result.errors.length) return result;
  const steps = o.bucketResoSteps ?? BUCKET_DEFAULTS.bucketResoSteps;
  if (steps % 8 !== 0) result.warnings.push(`bucket_reso_steps ${steps} is not a multiple of 8: train_resolution is rounded down to a multiple of 8`);
  else if (steps % 32 !== 0) result.warnings.push(`bucket_reso_steps ${steps} is not a multiple of 32, which SDXL needs`);
  if (o.noUpscale && (o.minBucketReso !== undefined || o.maxBucketReso !== undefined)) result.warnings.push('min_bucket_reso and max_bucket_reso are ignored with bucket_no_upscale');
  const selector = new BucketSelector({
    resolution: [o.resolution[0], o.resolution[1]],
    enableBucket: true,
    minBucketReso: o.minBucketReso ?? BUCKET_DEFAULTS.minBucketReso,
    maxBucketReso: o.maxBucketReso ?? BUCKET_DEFAULTS.maxBucketReso,
    bucketResoSteps: steps,
    noUpscale: !!o.noUpscale,
  });
  let images: string[];
  try {
    images = await listImageFiles(path.resolve(root), !!o.recursive);
  } catch (e) {
    result.errors.push(`${root} cannot be read: ${(e as Error).message}`);
    return result;
  }
  const fullPath = o.fullPath ?? true;
  if (!fullPath && o.recursive) result.warnings.push('images in subfolders need full-path keys: using full paths');
  const useFull = fullPath || !!o.recursive;
  const counts = new Map<string, { reso: [number, number]; count: number }>();
  let arSum = 0;
  for (const image of images) {
    let width: number | undefined;
    let height: number | undefined;
    try {
      const h = await readImageHeader(image);
      // sd-scripts opens and converts the image: a damaged one fails there and is skipped
      const bad = h.problems.find((p) => p.code !== 'unknownFormat') ?? (h.width === undefined || h.height === undefined ? h.problems[0] : undefined);
      if (bad) {
        result.warnings.push(`${image}: ${bad.message}; skipped`);
        continue;
      }
      width = h.width;
      height = h.height;
    } catch (e) {
      result.warnings.push(`${image}: cannot be read (${(e as Error).message}); skipped`);
      continue;
    }
    const choice = width && height ? selector.select(width, height) : undefined;
    if (!choice || !width || !height) {
      result.warnings.push(`${image}: its size cannot be read; skipped`);
      continue;
    }
    const key = useFull ? image : path.parse(image).name;
    const [bw, bh] = choice.bucket;
    const entry: MetadataEntry = { ...(result.metadata.get(key) ?? {}) };
    entry['train_resolution'] = [bw - (bw % 8), bh - (bh % 8)];
    entry['image_size'] = [width, height];
    result.metadata.set(key, entry);
    result.images++;
    arSum += Math.abs(choice.arError);
    const k = `${bw}x${bh}`;
    const row = counts.get(k) ?? { reso: [bw, bh] as [number, number], count: 0 };
    row.count++;
    counts.set(k, row);
  }
  result.buckets = [...counts.values()].sort((a, b) => a.reso[0] - b.reso[0] || a.reso[1] - b.reso[1]);
  result.meanArError = result.images ? arSum / result.images : 0;
  return result;
}

/** `meta_clean.json` → `meta_lat.json` next to it (the conventional names), else `<name>_lat.json`. */
export function defaultLatentMetadataPath(inJson: string): string {
  const dir = path.dirname(inJson);
  const base = path.basename(inJson);
  if (/^meta_(clean|cap|cap_dd)\.json$/i.test(base)) return path.join(dir, 'meta_lat.json');
  return path.join(dir, base.replace(/(\.jsonl?)?$/i, '_lat.json'));
}

// ---- defaults from the training config ----

export interface ConfigBucketDefaults {
  resolution?: [number, number];
  minBucketReso?: number;
  maxBucketReso?: number;
  bucketResoSteps?: number;
  noUpscale?: boolean;
  /** pretrained_model_name_or_path (the model prepare_buckets_latents encodes with) */
  model?: string;
  /** dataset_config named by the training config, as written */
  datasetConfig?: string;
  /** in_json of the training config or of the dataset config's first dataset */
  inJson?: string;
}

function resolutionOf(v: unknown): [number, number] | undefined {
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return [v, v];
  if (typeof v === 'string') {
    const m = /^\s*(\d+)\s*(?:,\s*(\d+)\s*)?$/.exec(v);
    if (m) return [Number(m[1]), Number(m[2] ?? m[1])];
  }
  if (Array.isArray(v) && v.length >= 1 && v.length <= 2 && v.every((x) => typeof x === 'number' && Number.isInteger(x) && x > 0)) {
    return [v[0] as number, (v[1] ?? v[0]) as number];
  }
  return undefined;
}

function readInto(out: ConfigBucketDefaults, values: ReadonlyMap<string, unknown>): void {
  const r = resolutionOf(values.get('resolution'));
  if (r) out.resolution = r;
  const int = (k: string): number | undefined => {
    const v = values.get(k);
    return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
  };
  const min = int('min_bucket_reso');
  if (min !== undefined) out.minBucketReso = min;
  const max = int('max_bucket_reso');
  if (max !== undefined) out.maxBucketReso = max;
  const steps = int('bucket_reso_steps');
  if (steps !== undefined) out.bucketResoSteps = steps;
  const nu = values.get('bucket_no_upscale');
  if (typeof nu === 'boolean') out.noUpscale = nu;
  const inJson = values.get('in_json') ?? values.get('metadata_file');
  if (typeof inJson === 'string' && inJson !== '') out.inJson = inJson;
}

/**
 * The bucket settings a training run would use, from the training config (`--config_file`,
 * flattened like sd-scripts) and, when given, its dataset config (`[general]`, then the first
 * `[[datasets]]` entry, which wins). Unparseable text gives no values. Pure.
 */
export function bucketDefaultsFromConfigs(trainingText: string | undefined, datasetText?: string): ConfigBucketDefaults {
  const out: ConfigBucketDefaults = {};
  const flat = (text: string, pick: (t: { kind: string; path: string[]; resolved: (string | number)[] }) => boolean): Map<string, unknown> => {
    const m = new Map<string, unknown>();
    try {
      const doc = parseTomlDocument(text);
      if (doc.syntaxErrors.length || !doc.parsed) return m;
      for (const t of doc.tables) {
        if (!pick(t)) continue;
        for (const e of t.entries) m.set(e.keyPath[e.keyPath.length - 1] ?? e.key, plainValue(e.value));
      }
    } catch {
      /* no values from a broken file */
    }
    return m;
  };
  if (trainingText !== undefined) {
    // sd-scripts flattens every section of the training config; later keys win
    const values = flat(trainingText, () => true);
    readInto(out, values);
    const model = values.get('pretrained_model_name_or_path');
    if (typeof model === 'string' && model !== '') out.model = model;
    const dc = values.get('dataset_config');
    if (typeof dc === 'string' && dc !== '') out.datasetConfig = dc;
  }
  if (datasetText !== undefined) {
    readInto(out, flat(datasetText, (t) => t.kind !== 'array' && t.path.length === 1 && t.path[0] === 'general'));
    readInto(out, flat(datasetText, (t) => t.kind === 'array' && t.path.length === 1 && t.path[0] === 'datasets' && t.resolved[1] === 0));
  }
  return out;
}
