/**
 * Benchmark (on demand, not a test): WD14 tagging throughput with the tiny test model.
 *
 *   node out/bench/tagger.js [images=64] [batch=8] [size=1024x768] [layers=0] [width=32]
 *   (after a --tests build). layers=N adds N per-pixel layers of `width` channels to the tiny
 *   model, so inference costs like a real tagger and the overlap of decoding with it shows.
 *
 * Measured in the same run, on the same generated JPEG images:
 *   decode        sharp decode to RGBA only (the baseline: the least any tagger must do)
 *   decode+prep   decode + sd-scripts' preprocessing (composite, BGR, pad, INTER_AREA to 448)
 *   session.run   bare inference on ready-made [batch,448,448,3] tensors
 *   end to end    the worker pipeline (decode → preprocess → inference → tags), dry run
 * and prints images/s and the ratios decode+prep / decode and end to end / session.run.
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
import { existsSync, mkdtempSync, rmSync, readdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { preprocessImage, toNhwcFloat32 } from '../src/core/tagger/preprocess';
import { tagImages } from '../src/core/tagger/run';
import { buildTaggerWorker, loadOrt, loadSharp, REPO_ROOT, WORKER_ENV, writeTinyModelFolder } from '../test/fixtures/tiny-wd14/harness';

const arg = (name: string, dflt: string): string => process.argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1) ?? dflt;
const N = Number(arg('images', '64'));
const BATCH = Number(arg('batch', '8'));
const [W, H] = arg('size', '1024x768').split('x').map(Number) as [number, number];
const TARGET = 448;
const LAYERS = Number(arg('layers', '0'));
const WIDTH = Number(arg('width', '32'));

async function timed(label: string, n: number, fn: () => Promise<void>): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < 2; i++) {
    const t = performance.now();
    await fn();
    best = Math.min(best, performance.now() - t);
  }
  const ips = (n / best) * 1000;
  console.log(`${label.padEnd(14)} ${(best / 1000).toFixed(2)} s  ${ips.toFixed(1)} images/s`);
  return ips;
}

async function main(): Promise<void> {
  const sharp = loadSharp();
  const ort = loadOrt();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lwb-bench-tagger-'));
  try {
    const files: string[] = [];
    for (let i = 0; i < N; i++) {
      const f = path.join(dir, `${String(i).padStart(4, '0')}.jpg`);
      await sharp({ create: { width: W, height: H, channels: 3, background: { r: (i * 37) % 256, g: 128, b: 200 }, noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
        .jpeg({ quality: 90 })
        .toFile(f);
      files.push(f);
    }
    const model = writeTinyModelFolder(path.join(dir, 'model'), TARGET, undefined, LAYERS > 0 ? { width: WIDTH, layers: LAYERS } : undefined);
    const worker = await buildTaggerWorker(dir);
    console.log(`${N} JPEG images of ${W}×${H}, batch ${BATCH}, model input ${TARGET}×${TARGET}${LAYERS ? `, ${LAYERS} extra layers × ${WIDTH} channels` : ''}, ${os.availableParallelism()} CPUs, sharp concurrency ${sharp.concurrency()}`);

    const decode = (f: string) => sharp(f).toColourspace('srgb').ensureAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    const inBatches = async (fn: (f: string) => Promise<unknown>): Promise<void> => {
      for (let i = 0; i < files.length; i += BATCH) await Promise.all(files.slice(i, i + BATCH).map(fn));
    };
    const base = await timed('decode', N, () => inBatches(decode));
    const prep = await timed('decode+prep', N, () =>
      inBatches(async (f) => {
        const { data, info } = await decode(f);
        preprocessImage({ data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: 4 }, TARGET);
      }),
    );
    const session = await ort.InferenceSession.create(path.join(model, 'model.onnx'), { intraOpNumThreads: Math.max(1, os.availableParallelism() - 1) });
    const ready = toNhwcFloat32(Array.from({ length: BATCH }, () => undefined), TARGET);
    const run = await timed('session.run', N, async () => {
      for (let i = 0; i < N; i += BATCH) await session.run({ input: new ort.Tensor('float32', ready, [BATCH, TARGET, TARGET, 3]) });
    });
    await session.release();
    let heap = 0;
    let steady = 0;
    const e2e = await timed('end to end', N, async () => {
      const r = await tagImages(files, { modelDir: model, workerScript: worker, workerEnv: WORKER_ENV, batchSize: BATCH, dryRun: true });
      if (!r.ok || r.tagged.length !== N) throw new Error(r.error ?? `tagged ${r.tagged.length} of ${N}`);
      heap = Math.max(heap, process.memoryUsage().rss);
      steady = Math.max(steady, (N / r.stats.pipelineMs) * 1000);
      console.log(`  worker: model load + warm-up ${((r.stats.ms - r.stats.pipelineMs) / 1000).toFixed(2)} s, pipeline ${(r.stats.pipelineMs / 1000).toFixed(2)} s (session.run ${(r.stats.inferenceMs / 1000).toFixed(2)} s of it)`);
    });
    console.log(`${'steady state'.padEnd(14)} ${steady.toFixed(1)} images/s  (the worker's pipeline after its warm-up run)`);
    console.log(`ratio decode+prep / decode: ${(prep / base).toFixed(2)}`);
    console.log(`ratio steady state / session.run: ${(steady / run).toFixed(3)}; wall clock incl. process start and model load: ${(e2e / run).toFixed(3)}${LAYERS ? '' : ' (inference of the bare tiny model is nearly free: use layers=N to measure the overlap)'}`);
    console.log(`host RSS after the end-to-end runs: ${(heap / 1e6).toFixed(0)} MB`);
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
