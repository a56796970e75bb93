/**
 * Buckets for a `--dataset_config` TOML: every `[[datasets]]` entry is bucketed on its own, with
 * its own resolution, enable_bucket, min/max_bucket_reso, bucket_reso_steps, bucket_no_upscale
 * and batch_size (already resolved dataset → general → training config by discovery.ts), and each
 * subset's images count with that subset's num_repeats (subset → dataset → general → training →
 * default). As in sd-scripts' DatasetGroup (a ConcatDataset), the batches of all datasets add up
 * to one epoch: steps per epoch = ceil(Σ batches / processes / gradient accumulation).
 *
 * What sd-scripts skips is skipped here with the same reason: subsets with num_repeats < 1,
 * duplicates, subsets without images; a DreamBooth dataset without a resolution stops training.
 * Fine-tuning datasets take their images from the metadata file (fineTuning.ts resolves its keys
 * as current sd-scripts does; keys that do not resolve are left out and counted); their sizes come
 * from `image_size`, a latent-cache name or the image, and they are bucketed the same way.
 *
 * Pure TypeScript (no `vscode`, no I/O: image lists and sizes come from the caller).
 */
import { computeBuckets, type BucketInputImage, type BucketReport, type BucketRunOptions } from './buckets';
import type { DiscoveredDataset, DiscoveredSubset } from './discovery';
import type { FineTuningKeys, LeftOutKey, LeftOutReason } from './fineTuning';

export interface SizedImage {
  file: string;
  /** 0 when the image was read but has no usable size (damaged): listed as unbucketable */
  width: number;
  height: number;
}

/** What the caller knows about an image folder. */
export interface FolderImages {
  /** images with a size, in sd-scripts' (sorted) order */
  images: SizedImage[];
  /** images whose size is not known yet */
  pending: number;
}

export interface ConfigSubsetSummary {
  label: string;
  imageDir?: string;
  images: number;
  numRepeats: number;
  isReg: boolean;
  /** why sd-scripts leaves this subset out */
  skipped?: string;
  /** fine-tuning subsets: the metadata file, its key count, the keys left out and where sizes came from */
  metadataFile?: string;
  keys?: number;
  leftOut?: Record<LeftOutReason, number>;
  leftOutExamples?: LeftOutKey[];
  sizesFrom?: { metadata: number; npz: number; image: number };
}

/**
 * What the caller knows about fine-tuning subsets: `keys(subset)` gives the resolved keys of its
 * metadata (undefined while they are being read; `{ error }` when the file cannot be read), and
 * `size(file)` an image's size read from the file (undefined: not read yet; 0×0: unreadable).
 */
export interface FineTuningSource {
  keys(subset: DiscoveredSubset): FineTuningKeys | { error: string } | undefined;
  size(file: string): { width: number; height: number } | undefined;
}

export interface ConfigDatasetBuckets {
  /** `datasets[0]` */
  label: string;
  style: DiscoveredDataset['style'];
  options: BucketRunOptions;
  subsets: ConfigSubsetSummary[];
  /** undefined when the dataset is not bucketed (fine-tuning, mixed, no resolution, no images) */
  report?: BucketReport;
  /** why there is no report, or what sd-scripts will say about the dataset */
  notes: string[];
  /** images whose size is not known yet */
  pending: number;
}

export interface ConfigBucketsResult {
  datasets: ConfigDatasetBuckets[];
  /** Σ over datasets of Σ ceil(samples in bucket / that dataset's batch size) */
  batchesPerEpoch: number;
  stepsPerEpoch: number;
  /** sd-scripts stops: e.g. "No data found" when no dataset adds an image */
  errors: string[];
}

/** sd-scripts' argparse defaults for the dataset-level bucket keys (enable_bucket is off unless set). */
const DEFAULT_MIN = 256;
const DEFAULT_MAX = 1024;
const DEFAULT_STEPS = 64;

/**
 * Buckets the datasets of one dataset config. `folder(dir)` lists an image_dir's images (absolute
 * paths; undefined when the folder is unknown or missing). `training` holds what the training
 * config adds for the whole run (gradient accumulation, processes).
 */
export function bucketDatasetConfig(
  datasets: readonly DiscoveredDataset[],
  folder: (dir: string) => FolderImages | undefined,
  training: { gradientAccumulationSteps?: number; numProcesses?: number } = {},
  fineTuning?: FineTuningSource,
): ConfigBucketsResult {
  const out: ConfigBucketsResult = { datasets: [], batchesPerEpoch: 0, stepsPerEpoch: 0, errors: [] };
  let anyImages = false;
  for (const ds of datasets) {
    const first = ds.subsets[0];
    const b = first?.bucket ?? {};
    const resolution = first?.values.resolution;
    const options: BucketRunOptions = {
      resolution: resolution ?? [0, 0],
      enableBucket: b.enableBucket ?? false,
      minBucketReso: b.minBucketReso ?? DEFAULT_MIN,
      maxBucketReso: b.maxBucketReso ?? DEFAULT_MAX,
      bucketResoSteps: b.bucketResoSteps ?? DEFAULT_STEPS,
      noUpscale: b.noUpscale ?? false,
      batchSize: first?.values.batchSize ?? 1,
    };
    const entry: ConfigDatasetBuckets = { label: ds.label, style: ds.style, options, subsets: [], notes: [...ds.problems], pending: 0 };
    out.datasets.push(entry);
    const inputs: BucketInputImage[] = [];
    let loading = false;
    for (const s of ds.subsets) {
      const sum: ConfigSubsetSummary = { label: s.label, images: 0, numRepeats: s.values.numRepeats, isReg: s.values.isReg };
      if (s.imageDir) sum.imageDir = s.imageDir;
      entry.subsets.push(sum);
      if (s.skipReason) {
        sum.skipped = s.skipReason;
        continue;
      }
      if (ds.style === 'finetuning') {
        if (addFineTuningSubset(s, sum, entry, inputs, out, fineTuning)) loading = true;
        continue;
      }
      if (ds.style !== 'dreambooth') continue;
      const listed = s.imageDir ? folder(s.imageDir) : undefined;
      if (!listed || listed.images.length + listed.pending === 0) {
        sum.skipped = listed ? 'no images in image_dir: sd-scripts ignores this subset' : `image_dir ${s.imageDir ?? ''} is not a folder with images: sd-scripts ignores this subset`;
        continue;
      }
      sum.images = listed.images.length + listed.pending;
      entry.pending += listed.pending;
      for (const img of listed.images) inputs.push({ file: img.file, width: img.width, height: img.height, repeats: s.values.numRepeats, isReg: s.values.isReg });
    }
    if (ds.style === 'mixed') continue;
    if (loading) {
      // not known yet: neither "no data" nor a report with part of the images
      anyImages = true;
      entry.notes.push('reading the metadata file…');
      continue;
    }
    const counted = entry.subsets.filter((s) => !s.skipped && s.images > 0);
    if (counted.length === 0) {
      entry.notes.push('no subset of this dataset adds images');
      continue;
    }
    anyImages = true;
    if (!resolution) {
      entry.notes.push(
        ds.style === 'finetuning'
          ? 'no resolution in the dataset, [general] or the training config: sd-scripts\' fine-tuning dataset crashes (min(None, None)) before bucketing'
          : 'no resolution in the dataset, [general] or the training config: sd-scripts stops with "resolution is required"',
      );
      continue;
    }
    entry.report = computeBuckets(inputs, options);
    out.batchesPerEpoch += entry.report.batchesPerEpoch;
  }
  if (!anyImages) out.errors.push('no dataset adds an image: sd-scripts stops with "No data found"');
  const procs = Math.max(1, Math.trunc(training.numProcesses ?? 1));
  const accum = Math.max(1, Math.trunc(training.gradientAccumulationSteps ?? 1));
  out.stepsPerEpoch = Math.ceil(out.batchesPerEpoch / procs / accum);
  return out;
}

/** One fine-tuning subset's images into `inputs`; true while its metadata is still being read. */
function addFineTuningSubset(
  s: DiscoveredSubset,
  sum: ConfigSubsetSummary,
  entry: ConfigDatasetBuckets,
  inputs: BucketInputImage[],
  out: ConfigBucketsResult,
  source: FineTuningSource | undefined,
): boolean {
  if (s.metadataFile) sum.metadataFile = s.metadataFile;
  const keys = source?.keys(s);
  if (!source) {
    sum.skipped = 'its images come from the metadata file, which is not read here';
    return false;
  }
  if (keys === undefined) return true;
  if ('error' in keys) {
    // FineTuningDataset raises on a missing or broken metadata file: training stops
    out.errors.push(`${s.label}: ${keys.error}`);
    sum.skipped = 'the metadata file cannot be read';
    return false;
  }
  sum.keys = keys.total;
  sum.leftOut = { ...keys.leftOut };
  sum.leftOutExamples = keys.examples;
  if (keys.total === 0) {
    sum.skipped = 'the metadata has no entries: sd-scripts ignores this subset';
    return false;
  }
  if (keys.stop) {
    out.errors.push(`${s.label}: ${keys.stop}`);
    sum.skipped = keys.stop;
    return false;
  }
  let pending = 0;
  let fromImage = 0;
  for (let i = 0; i < keys.files.length; i++) {
    const file = keys.files[i] as string;
    let width = keys.sizes[i * 2] as number;
    let height = keys.sizes[i * 2 + 1] as number;
    if (!width || !height) {
      const read = source.size(file);
      if (!read) {
        pending++;
        continue;
      }
      fromImage++;
      ({ width, height } = read);
    }
    inputs.push({ file, width, height, repeats: s.values.numRepeats, isReg: false });
  }
  sum.images = keys.files.length;
  sum.sizesFrom = { metadata: keys.fromMetadata, npz: keys.fromNpz, image: fromImage };
  entry.pending += pending;
  if (keys.files.length === 0) sum.skipped = `none of its ${keys.total} metadata keys resolves to an image file`;
  return false;
}
