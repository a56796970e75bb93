import { describe, it, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { mkdtempSync, rmSync, readFileSync, writeFileSync, mkdirSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type * as Ort from 'onnxruntime-node';
import { buildTaggerWorker, WORKER_ENV, writeTinyModelFolder, REPO_ROOT, loadSharp, loadOrt } from '../fixtures/tiny-wd14/harness';
import { buildTinyModel, tinyTagsCsv, tinyWd14Model } from '../fixtures/tiny-wd14/buildModel';
import { cpSync } from 'node:fs';
import { SAMPLE_TRAIN } from './helpers';
import { tagImages, listImagesForTagging } from '../../src/core/tagger/run';
import { inspectModelFolder } from '../../src/core/tagger/modelFolder';
import { readOnnxInfo } from '../../src/core/tagger/onnxInfo';
import { Journal } from '../../src/core/captions/journal';
import { preprocessImage, toNhwcFloat32 } from '../../src/core/tagger/preprocess';

// the tests run from a bundle in a temporary folder: the native modules come from the repository
const sharp = loadSharp();
const ort = loadOrt();
const CIFAR = path.join(REPO_ROOT, 'test', 'fixtures', 'onnx', 'cifar10_classifier', 'ImageClassifier.onnx');

let work: string;
let worker: string;
let model: string;

async function solid(file: string, w: number, h: number, rgb: [number, number, number], alpha?: number): Promise<void> {
  const channels = alpha === undefined ? 3 : 4;
  const img = sharp({ create: { width: w, height: h, channels, background: { r: rgb[0], g: rgb[1], b: rgb[2], ...(alpha === undefined ? {} : { alpha: alpha / 255 }) } } });
  await (file.endsWith('.jpg') ? img.jpeg({ quality: 100 }) : img.png()).toFile(file);
}

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'lwb-tagger-'));
  worker = await buildTaggerWorker(work);
  model = writeTinyModelFolder(path.join(work, 'model'));
});
after(() => rmSync(work, { recursive: true, force: true }));

function dataset(name: string): string {
  const dir = path.join(work, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

describe('the tiny WD14 model and real ONNX files', () => {
  it('reads the input and output shapes of the hand-made model and of the real cifar10 model', async () => {
    const tiny = await readOnnxInfo(path.join(model, 'model.onnx'));
    assert.ok(tiny.ok);
    assert.deepEqual(tiny.info.inputs, [{ name: 'input', elemType: 1, shape: ['batch', 448, 448, 3] }]);
    assert.deepEqual(tiny.info.outputs, [{ name: 'output', elemType: 1, shape: ['batch', 12] }]);
    assert.equal(tiny.info.opsetVersion, 13);
    const cifar = await readOnnxInfo(CIFAR);
    assert.ok(cifar.ok, cifar.ok ? '' : cifar.error);
    assert.equal(cifar.info.inputs.length, 1);
    assert.deepEqual(cifar.info.inputs[0]?.shape.slice(1), [3, 32, 32]);
    assert.equal(cifar.info.outputs[0]?.shape[cifar.info.outputs[0].shape.length - 1], 10);
  });
  it('the committed test model folder is what buildModel.ts makes', () => {
    const dir = path.join(REPO_ROOT, 'test', 'fixtures', 'tiny-wd14', 'model');
    assert.deepEqual(new Uint8Array(readFileSync(path.join(dir, 'model.onnx'))), tinyWd14Model(448));
    assert.equal(readFileSync(path.join(dir, 'selected_tags.csv'), 'utf8'), tinyTagsCsv());
  });
  it('creates an onnxruntime session from the real cifar10 model and agrees on its input shape', async () => {
    const session = await ort.InferenceSession.create(CIFAR);
    const meta = session.inputMetadata[0] as { shape: readonly (number | string)[] };
    const mine = await readOnnxInfo(CIFAR);
    assert.ok(mine.ok);
    assert.deepEqual(meta.shape.slice(1), mine.info.inputs[0]?.shape.slice(1));
    const out = await session.run({ [session.inputNames[0] as string]: new ort.Tensor('float32', new Float32Array(3 * 32 * 32), [1, 3, 32, 32]) });
    assert.equal((out[session.outputNames[0] as string] as Ort.Tensor).data.length, 10);
    await session.release();
  });
  it('computes sigmoid(w · mean BGR + b) for the tiny model', async () => {
    const session = await ort.InferenceSession.create(path.join(model, 'model.onnx'));
    const red = preprocessImage({ data: new Uint8Array([255, 0, 0]), width: 1, height: 1, channels: 3 }, 448);
    const out = await session.run({ input: new ort.Tensor('float32', toNhwcFloat32([red], 448), [1, 448, 448, 3]) });
    const s = (out.output as Ort.Tensor).data as Float32Array;
    assert.equal(s.length, 12);
    assert.ok((s[0] as number) > 0.99 && (s[4] as number) > 0.99, 'red: rating general and red_theme');
    assert.ok((s[5] as number) < 0.01 && (s[6] as number) < 0.01, 'not green or blue');
    assert.ok(Math.abs((s[7] as number) - 0.9) < 1e-3);
    await session.release();
  });
});

describe('inspecting a model folder', () => {
  it('accepts the tiny SmilingWolf-layout folder and reads the input size from the model', async () => {
    const r = await inspectModelFolder(model);
    assert.ok(r.ok, r.ok ? '' : r.error);
    assert.equal(r.info.size, 448);
    assert.equal(r.info.fixedBatch, undefined);
    assert.equal(r.info.version, 'v3');
    assert.deepEqual(r.info.tags.ratings, ['general', 'sensitive', 'questionable', 'explicit']);
  });
  it('stops with a clear message when model.onnx is missing or the outputs do not match the tags', async () => {
    const empty = dataset('no-model');
    writeFileSync(path.join(empty, 'selected_tags.csv'), tinyTagsCsv());
    const a = await inspectModelFolder(empty);
    assert.ok(!a.ok);
    assert.match(a.error, /has no model\.onnx/);
    const wrong = dataset('wrong-size');
    writeFileSync(path.join(wrong, 'model.onnx'), buildTinyModel({ size: 64, weights: [[0, 0, 0], [0, 0, 0]], bias: [0, 0] }));
    writeFileSync(path.join(wrong, 'selected_tags.csv'), tinyTagsCsv());
    const b = await inspectModelFolder(wrong);
    assert.ok(!b.ok);
    assert.match(b.error, /has 2 outputs but selected_tags\.csv explains 12/);
    const notOnnx = dataset('not-onnx');
    writeFileSync(path.join(notOnnx, 'model.onnx'), 'hello, not a model');
    writeFileSync(path.join(notOnnx, 'selected_tags.csv'), tinyTagsCsv());
    const c = await inspectModelFolder(notOnnx);
    assert.ok(!c.ok);
    assert.match(c.error, /could not be read as an ONNX model|not an ONNX model/);
    const d = await inspectModelFolder(path.join(work, 'nope'));
    assert.ok(!d.ok);
    assert.match(d.error, /does not exist/);
  });
});

describe('tagging end to end with the worker (decode → preprocess → inference → postprocess → files)', () => {
  it('writes exact tags for images of known colours, skips a corrupt image, leaves nothing half-written', async () => {
    const dir = dataset('e2e');
    await solid(path.join(dir, 'a_red.png'), 600, 500, [255, 0, 0]);
    await solid(path.join(dir, 'b_green.jpg'), 100, 120, [0, 255, 0]);
    await solid(path.join(dir, 'c_blue.png'), 448, 448, [0, 0, 255]);
    writeFileSync(path.join(dir, 'd_broken.png'), 'not a png');
    await solid(path.join(dir, 'e_clear.png'), 50, 50, [0, 0, 0], 0);
    writeFileSync(path.join(dir, 'notes.md'), 'not an image');
    const { images } = await listImagesForTagging(dir);
    assert.deepEqual(images.map((p) => path.basename(p)), ['a_red.png', 'b_green.jpg', 'c_blue.png', 'd_broken.png', 'e_clear.png']);
    // character_tags_first inserts each character tag at the front: the last one found comes first
    const progress: number[] = [];
    const r = await tagImages(images, {
      modelDir: model,
      workerScript: worker,
      workerEnv: WORKER_ENV,
      batchSize: 2,
      options: { remove_underscore: true, use_rating_tags: true, character_tags_first: true },
      onProgress: (p) => progress.push(p.done),
    });
    assert.equal(r.error, undefined);
    assert.ok(r.ok);
    assert.deepEqual(progress, [1, 2, 3, 4, 5]);
    assert.equal(r.ready?.size, 448);
    assert.equal(r.ready?.batchSize, 2);
    assert.deepEqual(r.failed.map((f) => path.basename(f.image)), ['d_broken.png']);
    assert.match(r.failed[0]?.error ?? '', /cannot be decoded/);
    const read = (n: string) => readFileSync(path.join(dir, n), 'utf8');
    // red 600x500 padded with white: mean R = 255, mean G = mean B = 255 * 1/6 → sigmoid(-8.5), neither green nor blue
    assert.equal(read('a_red.txt'), 'general, kirisame marisa, red theme, ^_^, simple background\n');
    // the green image is upscaled (120 < 448) with Lanczos; padded white is 1/6 of the square: G mean 255, R/B mean 42.5
    assert.equal(read('b_green.txt'), 'questionable, kirisame marisa, hatsune miku (vocaloid), green theme, ^_^, simple background\n');
    assert.equal(read('c_blue.txt'), 'sensitive, kirisame marisa, blue theme, ^_^, simple background\n');
    // fully transparent: composited over white → every channel 255
    assert.equal(read('e_clear.txt'), 'general, kirisame marisa, hatsune miku (vocaloid), red theme, green theme, blue theme, ^_^, simple background\n');
    assert.ok(!existsSync(path.join(dir, 'd_broken.txt')));
    assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp')), []);
    assert.deepEqual(r.tagged.find((t) => t.image.endsWith('a_red.png'))?.imageSize, [600, 500]);
    assert.equal(r.frequency['^_^'], 4);
    // append_tags + skip existing
    writeFileSync(path.join(dir, 'c_blue.txt'), 'tk, blue theme\n');
    writeFileSync(path.join(dir, 'a_red.txt'), '\n');
    const again = await tagImages(images, {
      modelDir: model,
      workerScript: worker,
      workerEnv: WORKER_ENV,
      skipExisting: true,
      options: { remove_underscore: true, append_tags: true },
    });
    assert.ok(again.ok, again.error);
    assert.deepEqual(again.skipped.map((s) => path.basename(s.image)), ['b_green.jpg', 'c_blue.png', 'e_clear.png']);
    // a blank tag file counts as no tags
    assert.equal(read('a_red.txt'), 'red theme, ^_^, simple background, kirisame marisa\n');
    const append = await tagImages([path.join(dir, 'c_blue.png')], { modelDir: model, workerScript: worker, workerEnv: WORKER_ENV, options: { append_tags: true } });
    assert.ok(append.ok);
    assert.equal(read('c_blue.txt'), 'tk, blue theme, blue_theme, ^_^, simple_background, kirisame_marisa\n');
    assert.equal(append.tagged[0]?.previous, 'tk, blue theme\n');
  });
  it('records the whole run as one undoable journal batch, and never overwrites a non-UTF-8 tag file', async () => {
    const dir = dataset('journal');
    await solid(path.join(dir, 'r.png'), 40, 40, [255, 0, 0]);
    await solid(path.join(dir, 'g.png'), 40, 40, [0, 255, 0]);
    await solid(path.join(dir, 'b.png'), 40, 40, [0, 0, 255]);
    writeFileSync(path.join(dir, 'r.txt'), 'tk, mine\n');
    writeFileSync(path.join(dir, 'b.txt'), Buffer.from([0x74, 0x6b, 0xff, 0x0a]));
    const journal = new Journal(path.join(work, 'journal-store'), { fsync: false });
    const { images } = await listImagesForTagging(dir);
    const r = await tagImages(images, { modelDir: model, workerScript: worker, workerEnv: WORKER_ENV, journal, options: { append_tags: true } });
    assert.ok(r.ok, r.error);
    assert.equal(typeof r.journalBatch, 'string');
    assert.deepEqual(r.failed.map((f) => path.basename(f.image)), ['b.png']);
    assert.match(r.failed[0]?.error ?? '', /not UTF-8: left untouched/);
    assert.deepEqual(readFileSync(path.join(dir, 'b.txt')), Buffer.from([0x74, 0x6b, 0xff, 0x0a]));
    assert.equal(readFileSync(path.join(dir, 'r.txt'), 'utf8'), 'tk, mine, red_theme, ^_^, simple_background, kirisame_marisa\n');
    assert.ok(existsSync(path.join(dir, 'g.txt')));
    assert.ok(r.tagged.every((t) => t.written));
    const list = await journal.list();
    assert.equal(list.length, 1);
    assert.equal(list[0]?.files, 2);
    const undo = await journal.undo();
    assert.ok(undo.ok, undo.message);
    assert.equal(readFileSync(path.join(dir, 'r.txt'), 'utf8'), 'tk, mine\n');
    assert.ok(!existsSync(path.join(dir, 'g.txt')));
  });
  it('tags a copy of the sample dataset (real PNGs) with batch 4, appending to its tags', async () => {
    const dir = path.join(work, 'sample', '5_tk girl');
    cpSync(path.join(SAMPLE_TRAIN, '5_tk girl'), dir, { recursive: true });
    const before = new Map(readdirSync(dir).filter((n) => n.endsWith('.txt')).map((n) => [n, readFileSync(path.join(dir, n), 'utf8')]));
    const { images } = await listImagesForTagging(path.join(work, 'sample'), true);
    assert.equal(images.length, 14);
    const r = await tagImages(images, { modelDir: model, workerScript: worker, workerEnv: WORKER_ENV, batchSize: 4, options: { append_tags: true, remove_underscore: true } });
    assert.ok(r.ok, r.error);
    assert.equal(r.tagged.length, 14);
    assert.deepEqual(r.failed, []);
    for (const t of r.tagged) {
      const old = before.get(path.basename(t.captionFile)) ?? '';
      const text = readFileSync(t.captionFile, 'utf8');
      assert.equal(text, t.text);
      // the old tags stay first, in their order
      assert.ok(text.startsWith(old.trim().split(',').map((x) => x.trim()).filter(Boolean).join(', ')), path.basename(t.captionFile));
      assert.ok(t.tags.includes('^_^') && t.tags.includes('simple background'));
      assert.ok(t.imageSize[0] > 0 && t.imageSize[1] > 0);
    }
  });
  it('does not touch any file when the model folder is wrong', async () => {
    const dir = dataset('untouched');
    await solid(path.join(dir, 'x.png'), 10, 10, [255, 0, 0]);
    writeFileSync(path.join(dir, 'x.txt'), 'keep me\n');
    const r = await tagImages([path.join(dir, 'x.png')], { modelDir: path.join(work, 'nope'), workerScript: worker, workerEnv: WORKER_ENV });
    assert.equal(r.ok, false);
    assert.match(r.error ?? '', /does not exist/);
    assert.equal(readFileSync(path.join(dir, 'x.txt'), 'utf8'), 'keep me\n');
  });
  it('returns scores for suggest mode without writing (dry run, top K)', async () => {
    const dir = dataset('suggest');
    await solid(path.join(dir, 's.png'), 32, 32, [0, 255, 0]);
    const r = await tagImages([path.join(dir, 's.png')], { modelDir: model, workerScript: worker, workerEnv: WORKER_ENV, dryRun: true, topK: 3 });
    assert.ok(r.ok, r.error);
    assert.ok(!existsSync(path.join(dir, 's.txt')));
    const t = r.tagged[0];
    assert.equal(t?.written, false);
    assert.deepEqual(t?.top?.map((s) => s.tag), ['green_theme', 'hatsune_miku_(vocaloid)', '^_^']);
    assert.equal(t?.text, 'green_theme, ^_^, simple_background, hatsune_miku_(vocaloid), kirisame_marisa\n');
  });
  it('uses a fixed batch size of the model, and CPU unless CUDA is chosen; CUDA without a GPU is a clear error', async () => {
    const fixed = writeTinyModelFolder(path.join(work, 'fixed'), 64, 4);
    const dir = dataset('fixed-batch');
    for (let i = 0; i < 5; i++) await solid(path.join(dir, `${i}.png`), 20, 20, [0, 0, 255]);
    const { images } = await listImagesForTagging(dir);
    const r = await tagImages(images, { modelDir: fixed, workerScript: worker, workerEnv: WORKER_ENV, batchSize: 1 });
    assert.ok(r.ok, r.error);
    assert.equal(r.ready?.batchSize, 4);
    assert.equal(r.ready?.provider, 'cpu');
    assert.match(r.ready?.warnings.join('\n') ?? '', /batches of exactly 4/);
    assert.equal(r.tagged.length, 5);
    assert.ok(r.tagged.every((t) => t.tags.includes('blue_theme')));
    const cuda = await tagImages(images, { modelDir: fixed, workerScript: worker, workerEnv: WORKER_ENV, provider: 'cuda', dryRun: true });
    if (cuda.ok) {
      // a machine with a working CUDA provider
      assert.equal(cuda.ready?.provider, 'cuda');
    } else {
      assert.match(cuda.error ?? '', /CUDA was chosen but onnxruntime-node cannot use it here.*Choose the CPU provider/s);
      assert.equal(cuda.tagged.length, 0);
    }
  });
  it('stops when cancelled and reports it', async () => {
    const dir = dataset('cancel');
    const n = 30;
    for (let i = 0; i < n; i++) await solid(path.join(dir, `${String(i).padStart(2, '0')}.png`), 300, 300, [255, 0, 0]);
    const { images } = await listImagesForTagging(dir);
    const ac = new AbortController();
    const r = await tagImages(images, {
      modelDir: model,
      workerScript: worker,
      workerEnv: WORKER_ENV,
      signal: ac.signal,
      // cancel as soon as the model is loaded: the worker stops after the batch in flight
      onReady: () => ac.abort(),
    });
    assert.equal(r.cancelled, true);
    assert.ok(r.ok, r.error);
    assert.ok(r.tagged.length < n, `tagged ${r.tagged.length}`);
    for (const t of r.tagged) assert.equal(readFileSync(t.captionFile, 'utf8'), t.text);
    const before = await tagImages(images, { modelDir: model, workerScript: worker, workerEnv: WORKER_ENV, signal: AbortSignal.abort() });
    assert.equal(before.cancelled, true);
    assert.equal(before.tagged.length, 0);
  });
});
