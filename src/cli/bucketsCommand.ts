import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { previewBucketsIntoMetadata, type BucketPreviewOptions } from '../core/dataset/bucketPreview';
import { mergeCaptionsAndTags, readMetadata, writeMetadata, type Metadata } from '../core/dataset/metadata';
import { DatasetIndex, type IndexedFolder } from '../core/dataset/index';
import { computeBuckets, BUCKET_DEFAULTS, type BucketInputImage, type BucketReport } from '../core/dataset/buckets';
import { bucketDatasetConfig, type FolderImages } from '../core/dataset/datasetConfigBuckets';
import { datasetsOfTrainingConfig, readDatasetConfig, type DiscoveredDataset } from '../core/dataset/discovery';
import { describeLeftOut, readFineTuningKeys, type FineTuningKeys } from '../core/dataset/fineTuning';
import { readImageHeader } from '../core/dataset/imageHeader';
import { EXIT, UsageError, type CliIo, parseCommandArgs } from './io';

export const BUCKETS_HELP = `Usage: lwb buckets <folder> --resolution W,H [options]
       lwb buckets <folder> --in-json <meta.json> --resolution W,H [options]
       lwb buckets --dataset-config <datasets.toml> [--grad-accum N] [--summary] [--json]

Shows how sd-scripts buckets the images in <folder> (a train_data_dir with N_name concept
folders, one concept folder, or a plain image folder): each image's bucket and resized size,
the bucket table with images × repeats, buckets with fewer images than the batch size, and
steps per epoch. Repeats come from the concept folder names (5_name = 5 repeats).

Options:
  --resolution W,H         Training resolution (one number for a square), required
  --min-bucket-reso N      Smallest bucket side (default ${BUCKET_DEFAULTS.minBucketReso})
  --max-bucket-reso N      Largest bucket side (default ${BUCKET_DEFAULTS.maxBucketReso})
  --bucket-reso-steps N    Bucket sides are multiples of N (default ${BUCKET_DEFAULTS.bucketResoSteps})
  --no-upscale             bucket_no_upscale: never upscale, crop to a multiple of steps
  --no-bucket              enable_bucket off: every image to one W×H bucket
  --batch-size N           train_batch_size (default 1)
  --grad-accum N           gradient_accumulation_steps (default 1)
  --reg <folder>           reg_data_dir (regularisation images, with sd-scripts' repeat rules)
  --depth <n>              Subfolder levels to visit (default 1)
  --into-meta <out.json>   Write the buckets into fine-tuning metadata instead (meta_lat.json
                           shape): each image's "train_resolution" (its bucket, rounded down
                           to a multiple of 8, as prepare_buckets_latents.py writes it) and
                           "image_size". No latents are computed (that needs the model: run
                           prepare_buckets_latents.py for the .npz files). Images in
                           subfolders are included unless --depth 0; keys are full paths.
  --in-json <file>         Without --into-meta: bucket the fine-tuning dataset sd-scripts
                           builds from this metadata with <folder> as its image folder
                           (train_data_dir + in_json): keys resolved as current sd-scripts
                           does (as written, or joined to the folder, no extension guessing;
                           keys that name no file are left out and counted), sizes from
                           image_size, else a *_WWWWxHHHH_sdxl.npz name, else the image.
                           With --into-meta: the metadata to start from (meta_clean.json);
                           default: built from the .caption and .txt files
  --dataset-config <file>  Bucket the [[datasets]] of a --dataset_config TOML instead, each
                           with its own resolution, bucket settings, batch size and subset
                           repeats (subset → dataset → [general] → defaults); the batches of
                           all datasets add up to one epoch. Relative image_dir paths are
                           read from the current folder, as sd-scripts does. Fine-tuning
                           datasets (metadata_file) are bucketed as with --in-json.
  --summary                The bucket table only, not every image
  --json                   Print the report as JSON
  -h, --help               Show this help

Exit codes: 0 ok, 1 no image to bucket or settings sd-scripts refuses, 2 usage error,
3 folder missing or unreadable.
`;

function int(name: string, v: string | undefined, min = 1): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v.trim()) || Number(v) < min) throw new UsageError(`--${name} takes a whole number${min > 0 ? ` ≥ ${min}` : ''}, not '${v}'`);
  return Number(v);
}

function parseResolution(v: string | undefined): [number, number] {
  if (v === undefined) throw new UsageError('buckets needs --resolution W,H (for example --resolution 1024,1024)');
  const parts = v.split(/[,x×]/).map((s) => s.trim());
  if (parts.length < 1 || parts.length > 2 || parts.some((p) => !/^\d+$/.test(p) || Number(p) < 1)) {
    throw new UsageError(`--resolution takes W,H or one number, not '${v}'`);
  }
  const w = Number(parts[0]);
  return [w, Number(parts[1] ?? parts[0])];
}

/** The images sd-scripts trains on in an index, with repeats from concept folder names. */
export function bucketInputsFromIndex(index: DatasetIndex, isReg: boolean): { images: BucketInputImage[]; skippedFolders: IndexedFolder[] } {
  const folders = index.folders();
  const concepts = folders.filter((f) => f.concept.ok && !f.skipReason);
  // a plain image folder (no N_name folders): every image once
  const used = concepts.length > 0 ? concepts : folders.filter((f) => !f.skipReason);
  const images: BucketInputImage[] = [];
  for (const f of used) {
    const repeats = f.concept.ok ? f.concept.repeats : 1;
    for (const n of f.images) {
      const img = index.image(path.join(f.path, n));
      images.push({ file: img?.path ?? path.join(f.path, n), width: img?.width ?? 0, height: img?.height ?? 0, repeats, isReg });
    }
  }
  return { images, skippedFolders: folders.filter((f) => !used.includes(f)) };
}

export async function runBuckets(args: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(args, {
    resolution: { type: 'string' },
    'min-bucket-reso': { type: 'string' },
    'max-bucket-reso': { type: 'string' },
    'bucket-reso-steps': { type: 'string' },
    'no-upscale': { type: 'boolean', default: false },
    'no-bucket': { type: 'boolean', default: false },
    'batch-size': { type: 'string' },
    'grad-accum': { type: 'string' },
    reg: { type: 'string' },
    depth: { type: 'string' },
    summary: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    'into-meta': { type: 'string' },
    'in-json': { type: 'string' },
    'dataset-config': { type: 'string' },
  });
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(BUCKETS_HELP);
    return EXIT.ok;
  }
  if (values['dataset-config'] !== undefined) {
    if (positionals.length > 0 || values.resolution !== undefined || values.reg !== undefined || values['into-meta'] !== undefined) {
      throw new UsageError('--dataset-config takes its folders and settings from the file: no folder, --resolution, --reg or --into-meta');
    }
    return datasetConfigBuckets(values['dataset-config'], int('grad-accum', values['grad-accum']) ?? 1, !!values.summary, !!values.json, io);
  }
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'buckets needs a folder' : 'buckets takes one folder');
  const resolution = parseResolution(values.resolution);
  const minBucketReso = int('min-bucket-reso', values['min-bucket-reso']);
  const maxBucketReso = int('max-bucket-reso', values['max-bucket-reso']);
  const bucketResoSteps = int('bucket-reso-steps', values['bucket-reso-steps']);
  const batchSize = int('batch-size', values['batch-size']) ?? 1;
  const gradientAccumulationSteps = int('grad-accum', values['grad-accum']) ?? 1;
  const depth = int('depth', values.depth, 0) ?? 1;

  if (values['in-json'] !== undefined && values['into-meta'] === undefined) {
    if (values.reg !== undefined) throw new UsageError('--in-json builds a fine-tuning dataset: sd-scripts ignores --reg (reg_data_dir) with it');
    const folder = path.resolve(positionals[0] as string);
    const inJson = path.resolve(values['in-json']);
    const [ft] = datasetsOfTrainingConfig({
      file: '(command line)',
      trainDataDir: folder,
      inJson,
      defaults: {
        resolution,
        batchSize,
        bucket: {
          enableBucket: !values['no-bucket'],
          noUpscale: values['no-upscale'],
          ...(minBucketReso !== undefined ? { minBucketReso } : {}),
          ...(maxBucketReso !== undefined ? { maxBucketReso } : {}),
          ...(bucketResoSteps !== undefined ? { bucketResoSteps } : {}),
        },
      },
    });
    return bucketDatasets(ft ? [ft] : [], inJson, gradientAccumulationSteps, !!values.summary, !!values.json, io);
  }
  if (values['into-meta'] !== undefined) {
    if (values.reg || values['no-bucket']) throw new UsageError('--into-meta takes neither --reg nor --no-bucket (prepare_buckets_latents always buckets one folder)');
    return intoMeta(positionals[0] as string, values['into-meta'], values['in-json'], {
      resolution,
      noUpscale: values['no-upscale'],
      recursive: depth > 0,
      ...(minBucketReso !== undefined ? { minBucketReso } : {}),
      ...(maxBucketReso !== undefined ? { maxBucketReso } : {}),
      ...(bucketResoSteps !== undefined ? { bucketResoSteps } : {}),
    }, !!values.json, io);
  }
  const roots = [{ dir: positionals[0] as string, isReg: false }, ...(values.reg ? [{ dir: values.reg, isReg: true }] : [])];
  const images: BucketInputImage[] = [];
  const notes: string[] = [];
  for (const r of roots) {
    const index = await DatasetIndex.build(r.dir, { depth });
    const missing = index.issues.find((i) => i.path === index.root && i.code === 'unreadableFolder');
    if (missing) {
      const message = `${index.root} ${missing.reason}`;
      if (values.json) io.out(JSON.stringify({ error: { message, path: index.root } }, null, 2) + '\n');
      io.err(`lwb buckets: ${message}\n`);
      return EXIT.input;
    }
    const got = bucketInputsFromIndex(index, r.isReg);
    images.push(...got.images);
    for (const f of got.skippedFolders) {
      notes.push(`${f.relPath || '.'}: not used (${f.skipReason ?? (f.concept.ok ? 'not a concept folder' : f.concept.reason)})`);
    }
  }
  const report = computeBuckets(images, {
    resolution,
    enableBucket: !values['no-bucket'],
    noUpscale: values['no-upscale'],
    batchSize,
    gradientAccumulationSteps,
    ...(minBucketReso !== undefined ? { minBucketReso } : {}),
    ...(maxBucketReso !== undefined ? { maxBucketReso } : {}),
    ...(bucketResoSteps !== undefined ? { bucketResoSteps } : {}),
  });
  const base = path.resolve(positionals[0] as string);
  if (values.json) io.out(JSON.stringify({ root: base, ...report, notes }, null, 2) + '\n');
  else io.out(formatBuckets(report, base, values.summary, notes));
  for (const e of report.errors) io.err(`lwb buckets: ${e}\n`);
  if (report.errors.length > 0) return EXIT.problem;
  if (report.images.length === 0) {
    io.err(`lwb buckets: no image sd-scripts would load under ${base}\n`);
    return EXIT.problem;
  }
  return EXIT.ok;
}

/** `--dataset-config`: every `[[datasets]]` entry bucketed with its own settings. */
async function datasetConfigBuckets(file: string, gradientAccumulationSteps: number, summary: boolean, json: boolean, io: CliIo): Promise<number> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (e) {
    io.err(`lwb buckets: ${abs} cannot be read: ${(e as Error).message}\n`);
    return EXIT.input;
  }
  const parsed = readDatasetConfig(text, abs, process.cwd());
  if (parsed.error) {
    io.err(`lwb buckets: ${parsed.error}\n`);
    return EXIT.input;
  }
  return bucketDatasets(parsed.datasets, abs, gradientAccumulationSteps, summary, json, io);
}

/** Buckets discovered datasets (DreamBooth folders and fine-tuning metadata) and prints them. */
async function bucketDatasets(datasets: readonly DiscoveredDataset[], source: string, gradientAccumulationSteps: number, summary: boolean, json: boolean, io: CliIo): Promise<number> {
  const parsed = { datasets };
  const listed = new Map<string, FolderImages | undefined>();
  // fine-tuning subsets: their metadata read once per (file, image_dir), sizes the metadata lacks read from the images
  const keys = new Map<string, FineTuningKeys | { error: string }>();
  const sizes = new Map<string, { width: number; height: number }>();
  for (const d of datasets) {
    if (d.style !== 'finetuning') continue;
    for (const s of d.subsets) {
      if (!s.metadataFile || s.skipReason) continue;
      const k = `${s.metadataFile}\n${s.imageDir ?? ''}`;
      if (keys.has(k)) continue;
      const r = await readFineTuningKeys(s.metadataFile, s.imageDir);
      keys.set(k, r);
      if ('error' in r) continue;
      for (let i = 0; i < r.files.length; i++) {
        const file = r.files[i] as string;
        if (r.sizes[i * 2] || sizes.has(file)) continue;
        const h = await readImageHeader(file);
        sizes.set(file, { width: h.width ?? 0, height: h.height ?? 0 });
      }
    }
  }
  for (const d of parsed.datasets) {
    for (const s of d.subsets) {
      if (!s.imageDir || listed.has(s.imageDir) || d.style !== 'dreambooth') continue;
      const index = await DatasetIndex.build(s.imageDir, { depth: 0 });
      const f = index.folder(s.imageDir);
      listed.set(
        s.imageDir,
        f ? { images: f.images.map((n) => index.image(path.join(f.path, n))).filter((i) => i !== undefined).map((i) => ({ file: i.path, width: i.width ?? 0, height: i.height ?? 0 })), pending: 0 } : undefined,
      );
    }
  }
  const r = bucketDatasetConfig(parsed.datasets, (dir) => listed.get(dir), { gradientAccumulationSteps }, {
    keys: (s) => keys.get(`${s.metadataFile ?? ''}\n${s.imageDir ?? ''}`),
    size: (file) => sizes.get(file),
  });
  if (json) io.out(JSON.stringify({ config: source, ...r }, null, 2) + '\n');
  else {
    const out: string[] = [];
    const rel = (p: string): string => path.relative(process.cwd(), p) || '.';
    for (const d of r.datasets) {
      out.push(`[${d.label}] ${d.subsets.map((s) => `${s.metadataFile ? `${rel(s.metadataFile)} → ` : ''}${s.imageDir ? rel(s.imageDir) : s.label} ×${s.numRepeats}${s.isReg ? ' reg' : ''}`).join(', ')}`);
      for (const s of d.subsets) if (s.skipped) out.push(`? ${s.label}: left out: ${s.skipped}`);
      for (const s of d.subsets) {
        const left = s.leftOut ? describeLeftOut({ leftOut: s.leftOut }) : undefined;
        if (left) out.push(`? ${s.label}: ${left}: ${(s.leftOutExamples ?? []).map((e) => e.key).join(', ')}`);
        if (s.sizesFrom) out.push(`? ${s.label}: ${s.images} of ${s.keys ?? s.images} keys are images; sizes: ${s.sizesFrom.metadata} from image_size, ${s.sizesFrom.npz} from latent-cache names, ${s.sizesFrom.image} read from the images`);
      }
      for (const n of d.notes) out.push(`? ${n}`);
      if (d.report) out.push(formatBuckets(d.report, process.cwd(), summary).trimEnd());
      out.push('');
    }
    for (const e of r.errors) out.push(`! ${e}`);
    out.push(`${r.datasets.length} dataset${r.datasets.length === 1 ? '' : 's'}: ${r.batchesPerEpoch} batches per epoch, ${r.stepsPerEpoch} steps per epoch`);
    io.out(out.join('\n') + '\n');
  }
  const stops = [...r.errors, ...r.datasets.flatMap((d) => d.report?.errors ?? [])];
  for (const e of stops) io.err(`lwb buckets: ${e}\n`);
  return stops.length ? EXIT.problem : EXIT.ok;
}

/** `--into-meta`: the bucket preview of prepare_buckets_latents, written atomically. */
async function intoMeta(folder: string, outArg: string, inJson: string | undefined, o: BucketPreviewOptions, json: boolean, io: CliIo): Promise<number> {
  const dir = path.resolve(folder);
  const out = path.resolve(outArg);
  if (!existsSync(dir)) {
    io.err(`lwb buckets: ${dir} does not exist\n`);
    return EXIT.input;
  }
  let base: Metadata;
  if (inJson !== undefined) {
    const m = await readMetadata(path.resolve(inJson));
    if (!m.ok) {
      io.err(`lwb buckets: ${m.error} (nothing was written)\n`);
      return EXIT.input;
    }
    base = m.metadata;
  } else {
    base = (await mergeCaptionsAndTags(dir, { fullPath: true, recursive: !!o.recursive })).metadata;
  }
  const r = await previewBucketsIntoMetadata(dir, base, { ...o, fullPath: true });
  for (const e of r.errors) io.err(`lwb buckets: ${e}\n`);
  if (r.errors.length) return EXIT.problem;
  try {
    await writeMetadata(out, r.metadata);
  } catch (e) {
    io.err(`lwb buckets: ${out} could not be written: ${(e as Error).message}\n`);
    return EXIT.input;
  }
  if (json) io.out(JSON.stringify({ out, images: r.images, entries: r.metadata.size, buckets: r.buckets, meanArError: r.meanArError, warnings: r.warnings, latents: false }, null, 2) + '\n');
  else {
    for (const w of r.warnings) io.err(`lwb buckets: ${w}\n`);
    for (const b of r.buckets) io.out(`  bucket ${x(b.reso)}: ${b.count}\n`);
    io.out(`wrote ${out}: ${r.images} images in ${r.buckets.length} buckets (train_resolution, image_size), ${r.metadata.size} entries; latents were not computed\n`);
  }
  if (r.images === 0) {
    io.err(`lwb buckets: no image could be bucketed under ${dir}\n`);
    return EXIT.problem;
  }
  return EXIT.ok;
}

const x = (r: readonly [number, number]): string => `${r[0]}×${r[1]}`;

export function formatBuckets(r: BucketReport, base: string, summaryOnly: boolean, notes: readonly string[] = []): string {
  const s = r.settings;
  const rel = (f: string): string => {
    const p = path.relative(base, f);
    return p.startsWith('..') ? f : p.split(path.sep).join('/');
  };
  const lines: string[] = [];
  const mode = !s.enableBucket ? 'buckets off' : s.noUpscale ? `no upscale, steps ${s.bucketResoSteps}` : `buckets ${s.minBucketReso}–${s.maxBucketReso} step ${s.bucketResoSteps}, upscale`;
  lines.push(`resolution ${x(s.resolution)}, ${mode}, batch size ${r.batchSize}` + (r.predefined ? `, ${r.predefined.length} predefined buckets` : ''));
  if (!summaryOnly && r.images.length > 0) {
    lines.push('');
    const w = Math.min(60, Math.max(...r.images.map((i) => rel(i.file).length)));
    for (const i of r.images) {
      lines.push(
        `  ${rel(i.file).padEnd(w)}  ${x([i.width, i.height]).padStart(11)} → bucket ${x(i.bucket).padEnd(9)} resized ${x(i.resized).padEnd(9)}` +
          `${i.isReg ? ' reg' : ''}${i.repeats !== 1 ? ` ×${i.repeats}` : ''}`,
      );
    }
  }
  lines.push('');
  lines.push('  bucket      images  samples  batches');
  for (const b of r.buckets) {
    lines.push(`  ${x(b.reso).padEnd(10)}  ${String(b.images).padStart(6)}  ${String(b.samples).padStart(7)}  ${String(b.batches).padStart(7)}`);
  }
  const imgs = r.buckets.reduce((n, b) => n + b.images, 0);
  const samples = r.buckets.reduce((n, b) => n + b.samples, 0);
  lines.push(`  ${'total'.padEnd(10)}  ${String(imgs).padStart(6)}  ${String(samples).padStart(7)}  ${String(r.batchesPerEpoch).padStart(7)}`);
  lines.push('');
  for (const wr of r.warnings) {
    const msg =
      wr.code === 'smallBucket' && wr.files && wr.reso
        ? `bucket ${x(wr.reso)} has ${wr.files.length} image${wr.files.length === 1 ? '' : 's'} for batch size ${r.batchSize}: ${wr.files.map(rel).join(', ')}`
        : wr.message;
    lines.push(`! ${msg}`);
  }
  for (const n of notes) lines.push(`? ${n}`);
  lines.push(`${r.buckets.length} bucket${r.buckets.length === 1 ? '' : 's'}, ${r.batchesPerEpoch} batches per epoch, ${r.stepsPerEpoch} steps per epoch; mean aspect-ratio error ${r.meanArError.toFixed(4)}`);
  return lines.join('\n') + '\n';
}
