/**
 * The bucket settings a training config (--config_file) gives sd-scripts, and the dataset folders
 * it names, for the Buckets view. sd-scripts' own defaults apply to what the config leaves out
 * (notably `enable_bucket` is off unless set).
 *
 * Pure TypeScript (no `vscode`).
 */
import * as path from 'node:path';
import { parseTomlDocument } from '../config/document';
import { parseResolutionString, TrainingValues } from '../config/training';
import { BUCKET_DEFAULTS, type BucketRunOptions } from './buckets';

export interface TrainingBuckets {
  options: BucketRunOptions;
  /** as written in the config */
  trainDataDir?: string;
  regDataDir?: string;
  datasetConfig?: string;
  /** fine-tuning metadata (`in_json`): with it, sd-scripts reads train_data_dir as its image_dir */
  inJson?: string;
  /** values the config sets that cannot be used (named, the default is used instead) */
  problems: string[];
}

/** Reads the bucket-related options of a training config. Never throws. */
export function bucketsFromTrainingConfig(text: string): TrainingBuckets {
  const problems: string[] = [];
  let v: TrainingValues;
  try {
    v = TrainingValues.of(parseTomlDocument(text));
  } catch (e) {
    return { options: { resolution: [512, 512], enableBucket: false }, problems: [`the config cannot be read: ${(e as Error).message}`] };
  }
  // sd-scripts' default resolution is "512,512"; a number instead of a string is misread by it
  let resolution: [number, number] = [512, 512];
  const r = v.get('resolution');
  if (r?.kind === 'string') {
    const p = parseResolutionString(r.value);
    if (p) resolution = p;
    else problems.push(`resolution "${r.value}" is not W,H`);
  } else if (r?.kind === 'integer') {
    resolution = [r.value, r.value];
  } else if (r) problems.push('resolution must be a string such as "1024,1024"');
  const int = (name: string): number | undefined => {
    const n = v.num(name);
    if (n === undefined) return undefined;
    if (!Number.isInteger(n) || n < 1) {
      problems.push(`${name} = ${n} is not a positive whole number`);
      return undefined;
    }
    return n;
  };
  const options: BucketRunOptions = {
    resolution,
    enableBucket: v.on('enable_bucket'),
    minBucketReso: int('min_bucket_reso') ?? BUCKET_DEFAULTS.minBucketReso,
    maxBucketReso: int('max_bucket_reso') ?? BUCKET_DEFAULTS.maxBucketReso,
    bucketResoSteps: int('bucket_reso_steps') ?? BUCKET_DEFAULTS.bucketResoSteps,
    noUpscale: v.on('bucket_no_upscale'),
    batchSize: int('train_batch_size') ?? 1,
    gradientAccumulationSteps: int('gradient_accumulation_steps') ?? 1,
  };
  const out: TrainingBuckets = { options, problems };
  const s = (name: string): string | undefined => {
    const x = v.str(name);
    return x && x.trim() ? x : undefined;
  };
  const train = s('train_data_dir');
  const reg = s('reg_data_dir');
  const ds = s('dataset_config');
  const inJson = s('in_json');
  if (inJson) out.inJson = inJson;
  if (train) out.trainDataDir = train;
  if (reg) out.regDataDir = reg;
  if (ds) out.datasetConfig = ds;
  return out;
}

/**
 * Where a relative path in a config may point: sd-scripts resolves it from the folder it runs in
 * (the sd-scripts folder), but people write it relative to the config, its parent, or the
 * workspace. Absolute paths are themselves.
 */
export function candidateDirs(written: string, configFile: string, roots: readonly string[]): string[] {
  if (path.isAbsolute(written)) return [path.resolve(written)];
  const bases = [path.dirname(configFile), path.dirname(path.dirname(configFile)), ...roots];
  return [...new Set(bases.map((b) => path.resolve(b, written)))];
}

/** One line for the view: "1024×1024 · buckets 256–2048 /64 · batch 4". */
export function describeBucketOptions(o: BucketRunOptions): string {
  const [w, h] = o.resolution;
  const parts = [`${w}×${h}`];
  if (o.enableBucket === false) parts.push('bucketing off');
  else if (o.noUpscale) parts.push(`no upscale /${o.bucketResoSteps ?? BUCKET_DEFAULTS.bucketResoSteps}`);
  else parts.push(`buckets ${o.minBucketReso ?? BUCKET_DEFAULTS.minBucketReso}–${o.maxBucketReso ?? BUCKET_DEFAULTS.maxBucketReso} /${o.bucketResoSteps ?? BUCKET_DEFAULTS.bucketResoSteps}`);
  parts.push(`batch ${o.batchSize ?? 1}`);
  if ((o.gradientAccumulationSteps ?? 1) > 1) parts.push(`accumulation ${o.gradientAccumulationSteps}`);
  return parts.join(' · ');
}
