/**
 * Benchmark: a fine-tuning dataset of 100,000 metadata keys (half with image_size, a quarter
 * relative names, a few bare stems and missing files) in a generated folder of empty files.
 * Measured in the same run:
 *   - baseline: reading the file and `JSON.parse` (the least anything reading it must do);
 *   - readFineTuningKeys: read + parse with key order + one listing + resolving every key
 *     (what the Datasets model does in the background, off the first paint);
 *   - the way the model resolved keys before (readMetadata + one statSync per key);
 *   - bucketing the resolved images (sizes from image_size, the rest given as if read);
 *   - memory kept: the resolved keys and sizes, against keeping the parsed metadata.
 *
 *   npm run bench -- ftbuckets [keys=100000]
 * Not a test: nothing fails on time.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { readFineTuningKeys, type FineTuningKeys } from '../src/core/dataset/fineTuning';
import { readMetadata } from '../src/core/dataset/metadata';
import { resolveMetadataKeys } from '../src/core/dataset/discovery';
import { bucketDatasetConfig } from '../src/core/dataset/datasetConfigBuckets';
import { readDatasetConfig } from '../src/core/dataset/discovery';

const n = Number(process.argv.find((a) => a.startsWith('keys='))?.slice(5) ?? 100_000);
const dir = mkdtempSync(path.join(tmpdir(), 'lwb-ftbench-'));
const images = path.join(dir, 'images');
mkdirSync(images);
const meta: Record<string, unknown> = {};
const t0 = performance.now();
for (let i = 0; i < n; i++) {
  const name = `img_${String(i).padStart(6, '0')}.png`;
  if (i % 1000 !== 999) writeFileSync(path.join(images, name), ''); // one in a thousand is missing
  const key = i % 500 === 7 ? name.slice(0, -4) : i % 4 === 0 ? name : path.join(images, name); // bare stems, relative, full paths
  meta[key] = { caption: `a picture number ${i}`, tags: 'one, two, three, four, five, six', ...(i % 2 === 0 ? { image_size: [832 + (i % 7) * 64, 1216 - (i % 5) * 64] } : {}) };
}
const file = path.join(dir, 'meta_lat.json');
writeFileSync(file, JSON.stringify(meta, null, 2));
const mb = statSync(file).size / 1e6;
console.log(`generated ${n} keys (${mb.toFixed(1)} MB of JSON) and their files in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const time = async (fn: () => unknown): Promise<number> => {
  const s = performance.now();
  await fn();
  return performance.now() - s;
};
const median = async (fn: () => unknown, runs = 5): Promise<number> => {
  const t: number[] = [];
  for (let i = 0; i < runs; i++) t.push(await time(fn));
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)] as number;
};

async function main(): Promise<void> {
  const base = await median(() => JSON.parse(readFileSync(file, 'utf8')));
  let keys: FineTuningKeys | { error: string } | undefined;
  const ours = await median(async () => {
    keys = await readFineTuningKeys(file, images);
  });
  const before = await median(async () => {
    const m = await readMetadata(file);
    if (m.ok)
      resolveMetadataKeys(m.metadata.keys(), images, (p) => {
        try {
          return statSync(p).isFile();
        } catch {
          return false;
        }
      });
  }, 3);
  if (!keys || 'error' in keys) throw new Error('metadata not read');
  const k = keys;
  const { datasets } = readDatasetConfig(`[[datasets]]\nresolution = 1024\nenable_bucket = true\nbatch_size = 4\n  [[datasets.subsets]]\n  metadata_file = '${file.replace(/\\/g, '/')}'\n  image_dir = '${images.replace(/\\/g, '/')}'\n  num_repeats = 2\n`, path.join(dir, 'ds.toml'), dir);
  let steps = 0;
  const bucket = await median(() => {
    const r = bucketDatasetConfig(datasets, () => undefined, {}, { keys: () => k, size: () => ({ width: 1024, height: 768 }) });
    steps = r.stepsPerEpoch;
  });

  // memory kept: resolved keys and sizes vs the parsed metadata
  const gc = (globalThis as { gc?: () => void }).gc;
  const heap = (): number => {
    gc?.();
    return process.memoryUsage().heapUsed;
  };
  keys = undefined;
  const h0 = heap();
  const kept = await readFineTuningKeys(file, images);
  const h1 = heap();
  const parsed = await readMetadata(file);
  const h2 = heap();

  const ms = (x: number): string => `${x.toFixed(0)} ms`;
  console.log(`read + JSON.parse (baseline)                    ${ms(base)}`);
  console.log(`readFineTuningKeys (read, parse, list, resolve)  ${ms(ours)}  (${(ours / base).toFixed(2)}× the baseline)`);
  console.log(`before: readMetadata + statSync per key          ${ms(before)}  (${(before / base).toFixed(2)}× the baseline)`);
  console.log(`bucketing ${'files' in k ? k.files.length : 0} resolved images                  ${ms(bucket)}  (${steps} steps per epoch)`);
  console.log(`left out: ${k.leftOut.bareStem} bare stems, ${k.leftOut.missing} missing; sizes from image_size ${k.fromMetadata}`);
  if (gc) console.log(`memory kept: resolved keys ${((h1 - h0) / 1e6).toFixed(1)} MB, the parsed metadata ${((h2 - h1) / 1e6).toFixed(1)} MB`);
  else console.log('memory: run with node --expose-gc for the heap figures');
  void kept;
  void parsed;
  rmSync(dir, { recursive: true, force: true });
}

void main();
