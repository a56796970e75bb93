/**
 * Benchmark (on demand, not a test): WD14 tagging throughput, end to end against bare inference.
 *
 *   npm run bench -- tagger [images=12,36] [batch=4] [size=1024x768] [model=conv] [width=128]
 *
 * model=conv (default) is a synthetic model with WD14's interface whose compute is of a real
 * tagger's kind: a stack of 3×3 convolutions over the whole 448×448 input
 * (test/fixtures/tiny-wd14/convModel.ts; width=128 ≈ 34 G multiply-adds per image, roughly half
 * of a real WD14 model at 448² — ViT-B/16 or ConvNeXt-B are about 60–80 G — so preprocessing
 * weighs relatively more here than with a real model, not less).
 * model=tiny is the test model (a mean colour: inference is nearly free) with optional
 * layers=N width=W per-pixel layers.
 *
 * For each dataset size (images=a,b: the same generated JPEGs), measured in the same run:
 *   decode        sharp decode to RGBA only
 *   decode+prep   decode + sd-scripts' preprocessing (composite, BGR, pad, INTER_AREA to 448)
 *   session.run   bare inference on ready-made [batch,448,448,3] tensors, same model, same batch,
 *                 same intra-op threads as the worker
 *   end to end    the worker pipeline (decode → preprocess → inference → tags), dry run
 * and prints images/s, the ratio end to end / session.run (steady state, after the worker's
 * model load and warm-up, and wall clock including them), the worker's peak RSS per dataset
 * size (bounded by the batch, not the dataset, when it stays flat), and the load average.
 * Nothing here fails on time.
 *
 *   node out/bench/tagger.js parity=1
 * instead compares LoRA Workbench's preprocessing of the sample dataset's real PNGs (and of
 * smaller and transparent copies, for the Lanczos and compositing paths) with an independent
 * Python reference (test/fixtures/wd14/preprocess_reference.py: Pillow + OpenCV INTER_AREA),
 * printing the mean absolute pixel difference per image. Needs python3-opencv and python3-pil.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { existsSync, mkdirSync, mkdtempSync, rmSync, readdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { preprocessImage, toNhwcFloat32 } from '../src/core/tagger/preprocess';
import { tagImages } from '../src/core/tagger/run';
import { buildTaggerWorker, loadOrt, loadSharp, REPO_ROOT, WORKER_ENV, writeTinyModelFolder } from '../test/fixtures/tiny-wd14/harness';
import { buildConvModel, convModelMacs } from '../test/fixtures/tiny-wd14/convModel';
import { tinyTagsCsv, TINY_TAGS } from '../test/fixtures/tiny-wd14/buildModel';

const arg = (name: string, dflt: string): string => process.argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1) ?? dflt;
const SIZES = arg('images', '12,36').split(',').map(Number).filter((n) => n > 0);
const BATCH = Number(arg('batch', '4'));
const [W, H] = arg('size', '1024x768').split('x').map(Number) as [number, number];
const TARGET = 448;
const MODEL = arg('model', 'conv');
const LAYERS = Number(arg('layers', '0'));
const WIDTH = Number(arg('width', MODEL === 'conv' ? '128' : '32'));

async function timed(label: string, n: number, fn: () => Promise<void>, runs = 2): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    best = Math.min(best, performance.now() - t);
  }
  const ips = (n / best) * 1000;
  console.log(`  ${label.padEnd(14)} ${(best / 1000).toFixed(2)} s  ${ips.toFixed(2)} images/s`);
  return ips;
}

const load = (): string => os.loadavg().map((x) => x.toFixed(1)).join(' ');

async function main(): Promise<void> {
  const sharp = loadSharp();
  const ort = loadOrt();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lwb-bench-tagger-'));
  try {
    const maxN = Math.max(...SIZES);
    const all: string[] = [];
    for (let i = 0; i < maxN; i++) {
      const f = path.join(dir, `${String(i).padStart(4, '0')}.jpg`);
      await sharp({ create: { width: W, height: H, channels: 3, background: { r: (i * 37) % 256, g: 128, b: 200 }, noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
        .jpeg({ quality: 90 })
        .toFile(f);
      all.push(f);
    }
    let model: string;
    let what: string;
    if (MODEL === 'conv') {
      model = path.join(dir, 'model');
      mkdirSync(model, { recursive: true });
      writeFileSync(path.join(model, 'model.onnx'), buildConvModel({ size: TARGET, outputs: TINY_TAGS.length, width: WIDTH }));
      writeFileSync(path.join(model, 'selected_tags.csv'), tinyTagsCsv());
      what = `synthetic conv model (width ${WIDTH}, ${(convModelMacs({ size: TARGET, outputs: 0, width: WIDTH }) / 1e9).toFixed(2)} G multiply-adds per image)`;
    } else {
      model = writeTinyModelFolder(path.join(dir, 'model'), TARGET, undefined, LAYERS > 0 ? { width: WIDTH, layers: LAYERS } : undefined);
      what = `tiny test model${LAYERS ? `, ${LAYERS} extra layers × ${WIDTH} channels` : ''}`;
    }
    const worker = await buildTaggerWorker(dir);
    const threads = Math.max(1, os.availableParallelism() - 1);
    console.log(`JPEG images of ${W}×${H}, batch ${BATCH}, model input ${TARGET}×${TARGET}, ${what}`);
    console.log(`${os.availableParallelism()} CPUs, inference threads ${threads} (worker and bare run alike), sharp concurrency ${sharp.concurrency()}, load average ${load()}`);

    const decode = (f: string) => sharp(f).toColourspace('srgb').ensureAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    const session = await ort.InferenceSession.create(path.join(model, 'model.onnx'), { graphOptimizationLevel: 'all', intraOpNumThreads: threads });
    const ready = toNhwcFloat32(Array.from({ length: BATCH }, () => undefined), TARGET);
    await session.run({ input: new ort.Tensor('float32', ready, [BATCH, TARGET, TARGET, 3]) });
    const summary: string[] = [];
    for (const N of SIZES) {
      const files = all.slice(0, N);
      console.log(`\n${N} images:`);
      const inBatches = async (fn: (f: string) => Promise<unknown>): Promise<void> => {
        for (let i = 0; i < files.length; i += BATCH) await Promise.all(files.slice(i, i + BATCH).map(fn));
      };
      const base = await timed('decode', N, () => inBatches(decode), 1);
      const prep = await timed('decode+prep', N, () =>
        inBatches(async (f) => {
          const { data, info } = await decode(f);
          preprocessImage({ data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: 4 }, TARGET);
        }), 1,
      );
      const run = await timed('session.run', N, async () => {
        for (let i = 0; i < N; i += BATCH) {
          const n = Math.min(BATCH, N - i);
          await session.run({ input: new ort.Tensor('float32', n === BATCH ? ready : ready.subarray(0, n * TARGET * TARGET * 3), [n, TARGET, TARGET, 3]) });
        }
      });
      let steady = 0;
      let rss = 0;
      const e2e = await timed('end to end', N, async () => {
        const r = await tagImages(files, { modelDir: model, workerScript: worker, workerEnv: WORKER_ENV, batchSize: BATCH, dryRun: true });
        if (!r.ok || r.tagged.length !== N) throw new Error(r.error ?? `tagged ${r.tagged.length} of ${N}`);
        steady = Math.max(steady, (N / r.stats.pipelineMs) * 1000);
        rss = Math.max(rss, (r.stats.maxRssKb ?? 0) / 1024);
        console.log(`    worker: model load + warm-up ${((r.stats.ms - r.stats.pipelineMs) / 1000).toFixed(2)} s, pipeline ${(r.stats.pipelineMs / 1000).toFixed(2)} s (session.run ${(r.stats.inferenceMs / 1000).toFixed(2)} s of it), peak RSS ${((r.stats.maxRssKb ?? 0) / 1024).toFixed(0)} MB`);
      });
      console.log(`  ${'steady state'.padEnd(14)} ${steady.toFixed(2)} images/s  (the worker's pipeline after its model load and warm-up run)`);
      console.log(`  ratio decode+prep / decode: ${(prep / base).toFixed(2)}; preprocessing alone ${prep.toFixed(1)} images/s vs inference ${run.toFixed(2)} images/s`);
      const line = `${N} images: end to end / session.run = ${(steady / run).toFixed(3)} steady state, ${(e2e / run).toFixed(3)} wall clock incl. worker start and model load; worker peak RSS ${rss.toFixed(0)} MB`;
      console.log(`  ${line}`);
      summary.push(line);
    }
    await session.release();
    console.log(`\nsummary (batch ${BATCH}, ${what}):`);
    for (const l of summary) console.log(`  ${l}`);
    console.log(`load average at the end: ${load()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function parity(): Promise<void> {
  const sharp = loadSharp();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lwb-parity-'));
  try {
    const images: string[] = [];
    for (const sub of ['img_train/5_tk girl', 'img_reg/1_girl']) {
      const d = path.join(REPO_ROOT, 'sample', 'dataset', sub);
      for (const f of readdirSync(d).filter((n) => n.endsWith('.png')).sort()) images.push(path.join(d, f));
    }
    // smaller copies (the Lanczos upscale path) and transparent copies (compositing over white)
    const originals = images.slice(0, 4);
    for (const [i, f] of originals.entries()) {
      const small = path.join(dir, `small-${i}.png`);
      await sharp(f).resize({ height: 300 }).png().toFile(small);
      images.push(small);
      const { data, info } = await sharp(f).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      for (let p = 0; p < info.width * info.height; p++) data[p * 4 + 3] = (p * 13 + Math.floor(p / info.width) * 7) % 256;
      const alpha = path.join(dir, `alpha-${i}.png`);
      await sharp(data, { raw: { width: info.width, height: info.height, channels: 4 } }).png().toFile(alpha);
      images.push(alpha);
    }
    const args = [String(TARGET)];
    for (const [i, f] of images.entries()) {
      const { data, info } = await sharp(f).toColourspace('srgb').ensureAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
      const ours = preprocessImage({ data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: 4 }, TARGET);
      if (!ours) throw new Error(`${f}: preprocessing failed`);
      const bin = path.join(dir, `${i}.bin`);
      writeFileSync(bin, ours);
      args.push(f, bin);
    }
    // Debian's python3 has the Debian packages; a python3 earlier on PATH (pyenv, venv) may not
    const python = process.env.LWB_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
    const py = spawnSync(python, [path.join(REPO_ROOT, 'test', 'fixtures', 'wd14', 'preprocess_reference.py'), ...args], { encoding: 'utf8' });
    if (py.status !== 0) throw new Error(`the Python reference failed (python3-opencv and python3-pil installed?): ${py.stderr}`);
    let worst = 0;
    for (const line of py.stdout.trim().split('\n')) {
      const r = JSON.parse(line) as { image: string; mode: string; mad: number; max: number };
      worst = Math.max(worst, r.mad);
      console.log(`${path.basename(path.dirname(r.image)).padEnd(12)} ${path.basename(r.image).padEnd(12)} ${r.mode.padEnd(5)} mean |diff| ${r.mad.toFixed(4)}  max ${r.max}`);
    }
    console.log(`${images.length} images, worst mean absolute difference ${worst.toFixed(4)} (target: at most 1.0)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

(arg('parity', '') ? parity() : main()).catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
