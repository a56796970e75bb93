/**
 * sd-scripts' aspect-ratio bucketing, transliterated: `model_util.make_bucket_resolutions`,
 * `train_util.BucketManager.select_bucket` (upscale and no-upscale modes), the min/max
 * adjustment of `adjust_min_max_bucket_reso_by_steps`, the round-robin repeats of regularisation
 * images, and batches per epoch (Σ ceil(samples in bucket / batch size)).
 *
 * Floating-point steps follow Python exactly: `int(x)` truncates, `//` floors, numpy's argmin
 * returns the first minimum.
 *
 * Pure TypeScript (no `vscode`, no I/O).
 */

export type Reso = readonly [number, number];

export interface BucketSettings {
  /** The dataset `resolution` (W, H). */
  resolution: Reso;
  /** sd-scripts' `enable_bucket` (default here: true, since that is what people use for LoRA). */
  enableBucket?: boolean;
  minBucketReso?: number;
  maxBucketReso?: number;
  bucketResoSteps?: number;
  /** `bucket_no_upscale` */
  noUpscale?: boolean;
}

export interface EffectiveBucketSettings {
  resolution: [number, number];
  enableBucket: boolean;
  minBucketReso: number;
  maxBucketReso: number;
  bucketResoSteps: number;
  noUpscale: boolean;
}

export interface BucketSettingsCheck {
  settings: EffectiveBucketSettings;
  /** sd-scripts' warnings (e.g. min adjusted to a multiple of steps). */
  warnings: string[];
  /** What makes sd-scripts stop (its asserts). */
  errors: string[];
}

export const BUCKET_DEFAULTS = { minBucketReso: 256, maxBucketReso: 1024, bucketResoSteps: 64 } as const;

const pyRound = (x: number): number => Math.trunc(x + 0.5);

/** `make_bucket_resolutions(max_reso, min_size, max_size, divisible)`: the sorted bucket list. */
export function makeBucketResolutions(maxReso: Reso, minSize = 256, maxSize = 1024, divisible = 64): Array<[number, number]> {
  const [mw, mh] = maxReso;
  const maxArea = mw * mh;
  const seen = new Set<string>();
  const out: Array<[number, number]> = [];
  const add = (w: number, h: number): void => {
    const k = `${w}x${h}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.push([w, h]);
    }
  };
  if (!(divisible > 0) || !(maxArea > 0)) return out;
  const s = Math.trunc(Math.floor(Math.sqrt(maxArea) / divisible)) * divisible;
  add(s, s);
  for (let w = minSize; w <= maxSize; w += divisible) {
    const h = Math.min(maxSize, Math.trunc(Math.floor(Math.floor(maxArea / w) / divisible)) * divisible);
    if (h >= minSize) {
      add(w, h);
      add(h, w);
    }
  }
  return out.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

/**
 * Resolves defaults and applies `adjust_min_max_bucket_reso_by_steps` (only with buckets on):
 * min rounded down and max rounded up to multiples of steps, then the resolution asserts.
 */
export function checkBucketSettings(s: BucketSettings): BucketSettingsCheck {
  const warnings: string[] = [];
  const errors: string[] = [];
  const [w, h] = s.resolution;
  const steps = s.bucketResoSteps ?? BUCKET_DEFAULTS.bucketResoSteps;
  let min = s.minBucketReso ?? BUCKET_DEFAULTS.minBucketReso;
  let max = s.maxBucketReso ?? BUCKET_DEFAULTS.maxBucketReso;
  const enableBucket = s.enableBucket ?? true;
  const noUpscale = s.noUpscale ?? false;
  if (!(Number.isInteger(w) && Number.isInteger(h) && w > 0 && h > 0)) errors.push(`resolution must be two positive whole numbers, not ${w},${h}`);
  if (!(Number.isInteger(steps) && steps > 0)) errors.push(`bucket_reso_steps must be a positive whole number, not ${steps}`);
  if (enableBucket && errors.length === 0) {
    if (min % steps !== 0) {
      const m = min - (min % steps);
      warnings.push(`min_bucket_reso is adjusted to be multiple of bucket_reso_steps: ${min} -> ${m}`);
      min = m;
    }
    if (max % steps !== 0) {
      const m = max + steps - (max % steps);
      warnings.push(`max_bucket_reso is adjusted to be multiple of bucket_reso_steps: ${max} -> ${m}`);
      max = m;
    }
    // sd-scripts asserts these whenever buckets are on, even when no-upscale then ignores min/max
    if (Math.min(w, h) < min) errors.push(`min_bucket_reso must be equal or less than resolution (${min} > ${Math.min(w, h)})`);
    if (Math.max(w, h) > max) errors.push(`max_bucket_reso must be equal or greater than resolution (${max} < ${Math.max(w, h)})`);
    if (noUpscale) warnings.push('min_bucket_reso and max_bucket_reso are ignored if bucket_no_upscale is set');
    if (steps % 8 !== 0) warnings.push(`bucket_reso_steps ${steps} is not divisible by 8: the resized image is cropped further`);
    else if (steps % 32 !== 0) warnings.push(`bucket_reso_steps ${steps} is not divisible by 32, which SDXL needs`);
  }
  return {
    settings: { resolution: [w, h], enableBucket, minBucketReso: min, maxBucketReso: max, bucketResoSteps: steps, noUpscale },
    warnings,
    errors,
  };
}

export interface BucketChoice {
  bucket: [number, number];
  /** the size the image is resized to before the (centre or random) crop to the bucket */
  resized: [number, number];
  /** bucket aspect ratio minus image aspect ratio */
  arError: number;
}

/** `BucketManager` without the bookkeeping: picks each image's bucket. */
export class BucketSelector {
  readonly settings: EffectiveBucketSettings;
  /** the predefined bucket list (upscale mode, or the single bucket when buckets are off) */
  readonly predefined: ReadonlyArray<[number, number]> | null;
  private readonly predefinedSet: Set<string>;
  private readonly ratios: number[];
  private readonly maxArea: number;

  constructor(settings: EffectiveBucketSettings) {
    this.settings = settings;
    const [w, h] = settings.resolution;
    this.maxArea = w * h;
    if (!settings.enableBucket) this.predefined = [[w, h]];
    else if (settings.noUpscale) this.predefined = null;
    else this.predefined = makeBucketResolutions(settings.resolution, settings.minBucketReso, settings.maxBucketReso, settings.bucketResoSteps);
    this.predefinedSet = new Set((this.predefined ?? []).map(([a, b]) => `${a}x${b}`));
    this.ratios = (this.predefined ?? []).map(([a, b]) => a / b);
  }

  private roundToSteps(x: number): number {
    const r = pyRound(x);
    return r - (r % this.settings.bucketResoSteps);
  }

  /** `select_bucket(image_width, image_height)`; undefined for sizes sd-scripts cannot bucket (0 px). */
  select(iw: number, ih: number): BucketChoice | undefined {
    if (!(iw > 0 && ih > 0)) return undefined;
    const ar = iw / ih;
    const steps = this.settings.bucketResoSteps;
    let bucket: [number, number];
    let resized: [number, number];
    if (this.predefined) {
      if (this.predefinedSet.has(`${iw}x${ih}`)) bucket = [iw, ih];
      else {
        let best = 0;
        let bestErr = Infinity;
        for (let i = 0; i < this.ratios.length; i++) {
          const e = Math.abs((this.ratios[i] as number) - ar);
          if (e < bestErr) {
            bestErr = e;
            best = i;
          }
        }
        const p = this.predefined[best];
        if (!p) return undefined;
        bucket = [p[0], p[1]];
      }
      const arReso = bucket[0] / bucket[1];
      const scale = ar > arReso ? bucket[1] / ih : bucket[0] / iw;
      resized = [pyRound(iw * scale), pyRound(ih * scale)];
    } else {
      if (iw * ih > this.maxArea) {
        const rw = Math.sqrt(this.maxArea * ar);
        const rh = this.maxArea / rw;
        const bw = this.roundToSteps(rw);
        const arA = bw / this.roundToSteps(bw / ar);
        const bh = this.roundToSteps(rh);
        const arB = this.roundToSteps(bh * ar) / bh;
        if (Math.abs(arA - ar) < Math.abs(arB - ar)) resized = [bw, pyRound(bw / ar)];
        else resized = [pyRound(bh * ar), bh];
      } else {
        resized = [iw, ih];
      }
      bucket = [resized[0] - (resized[0] % steps), resized[1] - (resized[1] % steps)];
    }
    return { bucket, resized, arError: bucket[0] / bucket[1] - ar };
  }
}

export interface BucketInputImage {
  /** a path or key naming the image in messages */
  file: string;
  width: number;
  height: number;
  /** num_repeats of its subset (default 1) */
  repeats?: number;
  /** a regularisation image (is_reg / reg_data_dir) */
  isReg?: boolean;
}

export interface BucketedImage extends BucketChoice {
  file: string;
  width: number;
  height: number;
  /** repeats as sd-scripts uses them (reg images: after the round-robin; 0 = not used) */
  repeats: number;
  isReg: boolean;
}

export interface BucketRow {
  reso: [number, number];
  /** distinct images in the bucket */
  files: string[];
  images: number;
  /** images × repeats: what the bucket holds per epoch */
  samples: number;
  /** ceil(samples / batch size) */
  batches: number;
}

export interface BucketWarning {
  code: 'smallBucket' | 'unbucketable' | 'settings';
  message: string;
  reso?: [number, number];
  files?: string[];
}

export interface BucketReport {
  settings: EffectiveBucketSettings;
  batchSize: number;
  /** the predefined bucket list, or null in no-upscale mode */
  predefined: Array<[number, number]> | null;
  images: BucketedImage[];
  /** every bucket that holds images, sorted by width then height */
  buckets: BucketRow[];
  /** batches per epoch, Σ ceil(samples / batch size) (a DataLoader length) */
  batchesPerEpoch: number;
  /** optimizer steps per epoch: ceil(batches / processes / gradient accumulation) */
  stepsPerEpoch: number;
  /** mean |ar error| over images, without repeats (sd-scripts logs this) */
  meanArError: number;
  warnings: BucketWarning[];
  errors: string[];
}

export interface BucketRunOptions extends BucketSettings {
  /** `train_batch_size` / dataset `batch_size` (default 1) */
  batchSize?: number;
  gradientAccumulationSteps?: number;
  numProcesses?: number;
}

/**
 * How DreamBoothDataset registers regularisation images: in order, each with its repeats, until
 * the reg samples reach the train samples; if they fall short, another round adds one repeat per
 * image round-robin. Returns each reg image's effective repeats (0 = never registered).
 */
export function regRepeats(trainSamples: number, regBaseRepeats: readonly number[]): number[] {
  const out = regBaseRepeats.map(() => 0);
  const k = regBaseRepeats.length;
  if (k === 0 || !(trainSamples > 0)) return out;
  // first round: register images in order, each with its repeats, until the train samples are reached
  let n = 0;
  for (let i = 0; i < k; i++) {
    const r = regBaseRepeats[i] as number;
    out[i] = r;
    n += r;
    if (n >= trainSamples) return out;
  }
  // later rounds: one more repeat per image, round-robin, stopping as soon as n reaches the train
  // samples (computed, not looped, so a huge train set cannot hang us)
  const rest = trainSamples - n;
  const full = Math.floor(rest / k);
  const extra = rest % k;
  for (let i = 0; i < k; i++) out[i] = (out[i] as number) + full + (i < extra ? 1 : 0);
  return out;
}

/**
 * Buckets a dataset as sd-scripts would for one dataset (one `[[datasets]]` entry or the
 * DreamBooth folders): each image's bucket and resized size, the bucket table with
 * count × repeats, warnings for buckets with fewer distinct images than the batch size, and steps
 * per epoch. Never throws; setting errors come back in `errors` (and no image is bucketed).
 */
export function computeBuckets(input: readonly BucketInputImage[], options: BucketRunOptions): BucketReport {
  const check = checkBucketSettings(options);
  const batchSize = Math.max(1, Math.trunc(options.batchSize ?? 1));
  const report: BucketReport = {
    settings: check.settings,
    batchSize,
    predefined: null,
    images: [],
    buckets: [],
    batchesPerEpoch: 0,
    stepsPerEpoch: 0,
    meanArError: 0,
    warnings: check.warnings.map((message) => ({ code: 'settings' as const, message })),
    errors: check.errors,
  };
  if (check.errors.length > 0) return report;
  const selector = new BucketSelector(check.settings);
  report.predefined = selector.predefined ? selector.predefined.map(([w, h]) => [w, h]) : null;

  const train = input.filter((i) => !i.isReg);
  const reg = input.filter((i) => i.isReg);
  const trainSamples = train.reduce((n, i) => n + Math.max(0, Math.trunc(i.repeats ?? 1)), 0);
  const regEff = regRepeats(trainSamples, reg.map((i) => Math.max(0, Math.trunc(i.repeats ?? 1))));
  const effective = new Map<BucketInputImage, number>();
  reg.forEach((r, k) => effective.set(r, regEff[k] ?? 0));

  const rows = new Map<string, BucketRow>();
  const unbucketable: string[] = [];
  let arSum = 0;
  for (const img of input) {
    const choice = selector.select(img.width, img.height);
    if (!choice) {
      unbucketable.push(img.file);
      continue;
    }
    const repeats = img.isReg ? (effective.get(img) ?? 0) : Math.max(0, Math.trunc(img.repeats ?? 1));
    report.images.push({ file: img.file, width: img.width, height: img.height, repeats, isReg: img.isReg ?? false, ...choice });
    arSum += Math.abs(choice.arError);
    if (repeats === 0) continue;
    const key = `${choice.bucket[0]}x${choice.bucket[1]}`;
    let row = rows.get(key);
    if (!row) {
      row = { reso: choice.bucket, files: [], images: 0, samples: 0, batches: 0 };
      rows.set(key, row);
    }
    row.files.push(img.file);
    row.images++;
    row.samples += repeats;
  }
  report.meanArError = report.images.length ? arSum / report.images.length : 0;
  report.buckets = [...rows.values()].sort((a, b) => a.reso[0] - b.reso[0] || a.reso[1] - b.reso[1]);
  for (const row of report.buckets) {
    row.batches = Math.ceil(row.samples / batchSize);
    report.batchesPerEpoch += row.batches;
    if (row.images < batchSize) {
      report.warnings.push({
        code: 'smallBucket',
        reso: row.reso,
        files: [...row.files],
        message:
          `bucket ${row.reso[0]}×${row.reso[1]} has ${row.images} image${row.images === 1 ? '' : 's'} for batch size ${batchSize}` +
          (row.samples > row.images ? ` (${row.samples} samples with repeats, so batches repeat the same image)` : ': its batches are smaller') +
          `: ${row.files.join(', ')}`,
      });
    }
  }
  if (unbucketable.length) {
    report.warnings.push({ code: 'unbucketable', files: unbucketable, message: `${unbucketable.length} image(s) have no size and cannot be bucketed: ${unbucketable.join(', ')}` });
  }
  const procs = Math.max(1, Math.trunc(options.numProcesses ?? 1));
  const accum = Math.max(1, Math.trunc(options.gradientAccumulationSteps ?? 1));
  report.stepsPerEpoch = Math.ceil(report.batchesPerEpoch / procs / accum);
  return report;
}
