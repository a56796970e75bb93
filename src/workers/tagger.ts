/**
 * Worker: WD14 tagging with onnxruntime-node and sharp, in its own Node process (a crash of the
 * native runtime cannot take the extension host down). Started with an IPC channel; receives one
 * `tag:start` job, streams a `tag:result` per image and ends with `tag:done` (or `tag:error`).
 * `tag:cancel` stops after the batch in flight.
 *
 * Pipeline: onnxruntime-node's session.run blocks the JavaScript thread it is called on, so
 * decoding and preprocessing run in worker threads of this process (the same bundle, started
 * with `workerData.role = 'preprocess'`): sharp decodes to RGBA and the core preprocessing
 * (src/core/tagger/preprocess.ts: composite, BGR, white square, INTER_AREA or Pillow LANCZOS,
 * exactly as sd-scripts) makes the model input, while the main thread runs the previous batch.
 * At most two batches are in memory (the one being inferred and the next one).
 */
import * as os from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { parseSelectedTags, type SelectedTags } from '../core/tagger/selectedTags';
import { checkModelInterface, MODEL_FILE, TAGS_FILE } from '../core/tagger/modelFolder';
import { preprocessImage, toNhwcFloat32 } from '../core/tagger/preprocess';
import { prepareTags, tagsFromScores, type ScoredTag } from '../core/tagger/postprocess';
import type { ExecutionProvider, HostToTagger, TagJob, TaggerToHost } from '../core/tagger/protocol';
import type { OnnxValueInfo } from '../core/tagger/onnxInfo';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

type Sharp = typeof import('sharp').default;
type Ort = typeof import('onnxruntime-node');

let cancelled = false;

function send(msg: TaggerToHost): Promise<void> {
  return new Promise((resolve) => {
    if (process.send) process.send(msg, () => resolve());
    else {
      process.stdout.write(JSON.stringify(msg) + '\n');
      resolve();
    }
  });
}

interface Loaded {
  pixels?: Uint8Array;
  size?: [number, number];
  error?: string;
}

async function loadImage(sharp: Sharp, file: string, target: number): Promise<Loaded> {
  try {
    const { data, info } = await sharp(file, { limitInputPixels: 0x3fff * 0x3fff })
      .toColourspace('srgb')
      .ensureAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 4) return { error: `decoded to ${info.channels} channels, expected 4` };
    const pixels = preprocessImage({ data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: 4 }, target);
    if (!pixels) return { error: 'the decoded pixels are incomplete' };
    return { pixels, size: [info.width, info.height] };
  } catch (e) {
    return { error: `cannot be decoded: ${(e as Error).message.split('\n')[0]}` };
  }
}

interface PreprocessRequest {
  id: number;
  file: string;
  target: number;
}

/** Decode + preprocess threads; falls back to this thread when worker threads cannot start. */
class PreprocessPool {
  private readonly threads: Worker[] = [];
  private readonly pending = new Map<number, (l: Loaded) => void>();
  private nextId = 0;
  private turn = 0;

  constructor(
    private readonly sharp: Sharp,
    size: number,
  ) {
    for (let i = 0; i < size; i++) {
      try {
        const w = new Worker(__filename, { workerData: { role: 'preprocess' } });
        w.on('message', (m: Loaded & { id: number }) => {
          const done = this.pending.get(m.id);
          this.pending.delete(m.id);
          done?.(m);
        });
        w.on('error', () => this.failThread(w));
        w.on('exit', () => this.failThread(w));
        this.threads.push(w);
      } catch {
        break;
      }
    }
  }

  private failThread(w: Worker): void {
    const i = this.threads.indexOf(w);
    if (i >= 0) this.threads.splice(i, 1);
  }

  load(file: string, target: number): Promise<Loaded> {
    const w = this.threads[this.turn++ % Math.max(1, this.threads.length)];
    if (!w) return loadImage(this.sharp, file, target);
    const id = this.nextId++;
    return new Promise<Loaded>((resolve) => {
      this.pending.set(id, resolve);
      w.postMessage({ id, file, target } satisfies PreprocessRequest);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.terminate().catch(() => undefined)));
  }
}

function providerError(provider: ExecutionProvider, e: unknown): string {
  const msg = (e as Error).message ?? String(e);
  if (provider === 'cuda') {
    return (
      `CUDA was chosen but onnxruntime-node cannot use it here: ${msg.split('\n')[0]}. ` +
      'The CUDA provider needs an NVIDIA GPU with the CUDA 12 and cuDNN 9 libraries, and an onnxruntime-node install that fetched its CUDA binaries ' +
      '(this one was installed with ONNXRUNTIME_NODE_INSTALL=skip). Choose the CPU provider instead.'
    );
  }
  return `the model cannot be loaded: ${msg.split('\n')[0]}`;
}

function toValueInfo(meta: unknown, name: string): OnnxValueInfo {
  const m = meta as { isTensor?: boolean; type?: string; shape?: ReadonlyArray<number | string> } | undefined;
  const shape = (m?.shape ?? []).map((d) => (typeof d === 'number' && d < 0 ? '?' : d));
  return { name, elemType: m?.type === 'float32' ? 1 : m?.type ? -1 : 0, shape };
}

async function run(job: TagJob): Promise<void> {
  const t0 = performance.now();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ort = require('onnxruntime-node') as Ort;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sharp = require('sharp') as Sharp;
  sharp.cache(false);
  const provider: ExecutionProvider = job.provider === 'cuda' ? 'cuda' : 'cpu';
  let tags: SelectedTags;
  try {
    const parsed = parseSelectedTags(readFileSync(path.join(job.modelDir, TAGS_FILE), 'utf8'));
    if (!parsed.ok) throw new Error(parsed.error);
    tags = parsed.tags;
  } catch (e) {
    await send({ type: 'tag:error', message: `${path.join(job.modelDir, TAGS_FILE)}: ${(e as Error).message}` });
    return;
  }
  let session: import('onnxruntime-node').InferenceSession;
  try {
    session = await ort.InferenceSession.create(path.join(job.modelDir, MODEL_FILE), {
      executionProviders: [provider],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: Math.max(1, os.availableParallelism() - 1),
    });
  } catch (e) {
    await send({ type: 'tag:error', message: providerError(provider, e) });
    return;
  }
  const inputName = session.inputNames[0] ?? '';
  const outputName = session.outputNames[0] ?? '';
  const check = checkModelInterface(toValueInfo(session.inputMetadata[0], inputName), toValueInfo(session.outputMetadata[0], outputName), tags);
  if (!check.ok) {
    await send({ type: 'tag:error', message: `${path.join(job.modelDir, MODEL_FILE)}: ${check.error}` });
    return;
  }
  const size = check.size;
  const warnings = [...check.warnings];
  let batchSize = Math.max(1, Math.floor(job.batchSize ?? 1));
  if (check.fixedBatch !== undefined && check.fixedBatch !== batchSize) {
    warnings.push(`the model takes batches of exactly ${check.fixedBatch}: batch size ${batchSize} is replaced (as sd-scripts does)`);
    batchSize = check.fixedBatch;
  }
  const prepared = prepareTags(tags, job.options);
  warnings.push(...prepared.warnings);
  await send({ type: 'tag:ready', provider, inputName, size, batchSize, warnings });

  const images = job.images;
  const batches: number[][] = [];
  for (let i = 0; i < images.length; i += batchSize) batches.push(Array.from({ length: Math.min(batchSize, images.length - i) }, (_, k) => i + k));
  // LWB_TAGGER_THREADS=0 decodes on the main thread (no overlap with inference)
  const envThreads = Number(process.env.LWB_TAGGER_THREADS);
  const threads = Number.isInteger(envThreads) && envThreads >= 0 ? envThreads : Math.max(1, Math.min(4, os.availableParallelism() - 1));
  const pool = new PreprocessPool(sharp, threads);
  const load = (b: number[]): Promise<Loaded[]> => Promise.all(b.map((i) => pool.load(images[i] as string, size)));
  let failed = 0;
  let done = 0;
  let inferenceMs = 0;
  let next: Promise<Loaded[]> | undefined = batches[0] ? load(batches[0]) : undefined;
  // warm-up: the first runs of a session allocate its memory and are several times slower; do
  // one on a white batch while the preprocessing threads decode the first real batch
  const tw = performance.now();
  if (batches.length > 0) {
    try {
      const n = check.fixedBatch ?? Math.min(batchSize, images.length);
      await session.run({ [inputName]: new ort.Tensor('float32', toNhwcFloat32(new Array(n).fill(undefined), size), [n, size, size, 3]) });
    } catch {
      /* a real batch will report the problem */
    }
  }
  const warmupMs = performance.now() - tw;
  const tPipeline = performance.now();
  const topK = Math.max(0, Math.floor(job.topK ?? 0));
  for (let b = 0; b < batches.length && !cancelled; b++) {
    const idx = batches[b] as number[];
    const loaded = await (next as Promise<Loaded[]>);
    // decode the next batch while this one is inferred
    const nb = batches[b + 1];
    next = nb && !cancelled ? load(nb) : undefined;
    const good: number[] = [];
    for (let k = 0; k < idx.length; k++) {
      const l = loaded[k] as Loaded;
      const i = idx[k] as number;
      if (l.pixels) good.push(k);
      else {
        failed++;
        await send({ type: 'tag:result', index: i, path: images[i] as string, ok: false, error: l.error ?? 'unknown error' });
      }
    }
    if (good.length === 0) continue;
    const n = check.fixedBatch ?? good.length;
    const slots = Array.from({ length: n }, (_, s) => (s < good.length ? (loaded[good[s] as number] as Loaded).pixels : undefined));
    const tensor = new ort.Tensor('float32', toNhwcFloat32(slots, size), [n, size, size, 3]);
    const ti = performance.now();
    let scores: Float32Array;
    try {
      const out = await session.run({ [inputName]: tensor });
      scores = (out[outputName] as import('onnxruntime-node').Tensor).data as Float32Array;
    } catch (e) {
      await pool.close();
      await send({ type: 'tag:error', message: `inference failed: ${(e as Error).message.split('\n')[0]}` });
      return;
    }
    inferenceMs += performance.now() - ti;
    const per = scores.length / n;
    if (per !== tags.outputCount) {
      await pool.close();
      await send({
        type: 'tag:error',
        message: `the model gave ${per} scores per image but selected_tags.csv explains ${tags.outputCount}: the tag list does not belong to this model`,
      });
      return;
    }
    for (let s = 0; s < good.length; s++) {
      const k = good[s] as number;
      const i = idx[k] as number;
      const row = scores.subarray(s * per, (s + 1) * per);
      const r = tagsFromScores(row, prepared);
      let top: ScoredTag[] | undefined;
      if (topK > 0) {
        const all: ScoredTag[] = [];
        for (let j = 4; j < per; j++) {
          const g = j - 4;
          const isGeneral = g < prepared.general.length;
          all.push({ tag: (isGeneral ? prepared.general[g] : prepared.character[g - prepared.general.length]) as string, score: row[j] as number, kind: isGeneral ? 'general' : 'character' });
        }
        top = all.sort((a, c) => c.score - a.score).slice(0, topK);
      }
      done++;
      await send({
        type: 'tag:result',
        index: i,
        path: images[i] as string,
        ok: true,
        tags: r.tags,
        scored: r.scored,
        rating: r.rating,
        imageSize: (loaded[k] as Loaded).size as [number, number],
        ...(top ? { top } : {}),
      });
    }
  }
  await next?.catch(() => undefined);
  await pool.close();
  await session.release().catch(() => undefined);
  await send({ type: 'tag:done', cancelled, images: done, failed, ms: performance.now() - t0, pipelineMs: performance.now() - tPipeline, warmupMs, inferenceMs, maxRssKb: process.resourceUsage().maxRSS });
}

function preprocessThread(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sharp = require('sharp') as Sharp;
  sharp.cache(false);
  parentPort?.on('message', (m: PreprocessRequest) => {
    void loadImage(sharp, m.file, m.target).then((l) => {
      const transfer = l.pixels ? [l.pixels.buffer as ArrayBuffer] : [];
      parentPort?.postMessage({ id: m.id, ...l }, transfer);
    });
  });
}

function mainProcess(): void {
  let started = false;
  process.on('message', (m: HostToTagger) => {
    if (m?.type === 'tag:cancel') cancelled = true;
    else if (m?.type === 'tag:start' && !started) {
      started = true;
      run(m.job).then(
        () => process.disconnect?.(),
        async (e: unknown) => {
          await send({ type: 'tag:error', message: `internal error: ${(e as Error).stack ?? String(e)}` });
          process.disconnect?.();
        },
      );
    }
  });
  process.on('disconnect', () => {
    // the host went away: stop
    cancelled = true;
    setTimeout(() => process.exit(0), 100).unref();
  });
}

if (!isMainThread && (workerData as { role?: string } | undefined)?.role === 'preprocess') preprocessThread();
else mainProcess();
