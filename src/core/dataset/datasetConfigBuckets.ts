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
 * Fine-tuning datasets take their images from the metadata file; they are listed, not bucketed.
 *
 * Pure TypeScript (no `vscode`, no I/O: image lists and sizes come from the caller).
 */
import { computeBuckets, type BucketInputImage, type BucketReport, type BucketRunOptions } from './buckets';
import type { DiscoveredDataset } from './discovery';

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
    for (const s of ds.subsets) {
      const sum: ConfigSubsetSummary = { label: s.label, images: 0, numRepeats: s.values.numRepeats, isReg: s.values.isReg };
      if (s.imageDir) sum.imageDir = s.imageDir;
      entry.subsets.push(sum);
      if (s.skipReason) {
        sum.skipped = s.skipReason;
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
    if (ds.style === 'finetuning') {
      entry.notes.push('fine-tuning dataset: its images and sizes come from the metadata file, not bucketed here');
      continue;
    }
    if (ds.style === 'mixed') continue;
    const counted = entry.subsets.filter((s) => !s.skipped && s.images > 0);
    if (counted.length === 0) {
      entry.notes.push('no subset of this dataset adds images');
      continue;
    }
    anyImages = true;
    if (!resolution) {
      entry.notes.push('no resolution in the dataset, [general] or the training config: sd-scripts stops with "resolution is required"');
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
