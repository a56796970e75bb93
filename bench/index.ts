/**
 * Benchmark of the dataset index (run on demand, not a test):
 *   node scripts/build.mjs --tests && node --expose-gc out/bench/index.js [sizes=1000,10000,100000] [rounds=3] [keep]
 * (--expose-gc makes the memory column the heap held by one index; without it, it is rough)
 * or bundle it yourself with esbuild (sharp external).
 *
 * For each size it generates a synthetic kohya dataset (20 concept folders; PNG/JPEG/WebP images
 * of mixed sizes, made once with sharp and copied; a tag file per image) and measures, in the
 * same run and on the same warm files:
 * - floor: open each image, read 512 bytes, close it (Node; the faster of synchronous calls and
 *   callbacks with 32 in flight; the path list is given, no directory listing);
 * - Python's `imagesize.get(p)` in a loop over the same files (what sd-scripts uses), when
 *   importable (Debian: python3-imagesize);
 * - the cold `DatasetIndex.build` (listing, sizes, dimensions and header facts, sidecar pairing),
 *   as the index makes it (worker threads for 20,000+ images) and with sliced synchronous reads;
 * - interleaved rounds of floor / imagesize / index (threads) / index (sliced) on a machine that
 *   others share: each ratio is taken within a round, and the median over the rounds is printed
 *   with the load average;
 * - an incremental one-file update (a new image, then a changed tag file).
 * and prints the ratios.
 */
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, open, read, close, openSync, readSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { DatasetIndex } from '../src/core/dataset/index';

type Sharp = typeof import('sharp').default;
const FOLDERS = 20;

function loadSharp(): Sharp {
  const bases = [process.cwd(), path.resolve(__dirname, '..', '..'), path.resolve(__dirname, '..')];
  for (const b of bases) {
    try {
      return createRequire(path.join(b, 'package.json'))('sharp') as Sharp;
    } catch {
      // try the next place
    }
  }
  throw new Error('sharp not found: run from the repository root');
}

async function templates(sharp: Sharp): Promise<Array<{ ext: string; bytes: Buffer }>> {
  const sizes: Array<[number, number]> = [[64, 64], [96, 64], [64, 112], [128, 96], [80, 120], [160, 90], [72, 72], [120, 160]];
  const out: Array<{ ext: string; bytes: Buffer }> = [];
  let k = 0;
  for (const [w, h] of sizes) {
    for (const fmt of ['png', 'jpg', 'webp'] as const) {
      const raw = Buffer.alloc(w * h * 3);
      for (let i = 0; i < raw.length; i++) raw[i] = (i * (k + 3) + k * 17) & 0xff;
      const img = sharp(raw, { raw: { width: w, height: h, channels: 3 } });
      const bytes = fmt === 'png' ? await img.png().toBuffer() : fmt === 'jpg' ? await img.jpeg({ quality: 80 }).toBuffer() : await img.webp({ quality: 70 }).toBuffer();
      out.push({ ext: `.${fmt}`, bytes });
      k++;
    }
  }
  return out;
}

function makeDataset(total: number, tpl: ReadonlyArray<{ ext: string; bytes: Buffer }>): { root: string; files: string[] } {
  const root = mkdtempSync(path.join(tmpdir(), 'lwb-bench-index-'));
  const files: string[] = [];
  const dirs: string[] = [];
  for (let f = 0; f < FOLDERS; f++) {
    const d = path.join(root, `${(f % 9) + 1}_concept ${f}`);
    mkdirSync(d);
    dirs.push(d);
  }
  for (let i = 0; i < total; i++) {
    const t = tpl[i % tpl.length] as { ext: string; bytes: Buffer };
    const dir = dirs[i % FOLDERS] as string;
    const p = path.join(dir, `${i}${t.ext}`);
    writeFileSync(p, t.bytes);
    writeFileSync(path.join(dir, `${i}.txt`), 'tk, 1girl, solo, smile');
    files.push(p);
  }
  return { root, files };
}

/** The floor: open, read 512 bytes, close, for each file, with bounded concurrency. */
function floor(files: readonly string[], concurrency = 32): Promise<number> {
  return new Promise((resolve) => {
    let next = 0;
    let done = 0;
    let active = 0;
    let bytes = 0;
    const buf = Buffer.alloc(512 * concurrency);
    const slots = Array.from({ length: concurrency }, (_, i) => i);
    const startOne = (): void => {
      if (next >= files.length) {
        if (active === 0) resolve(bytes);
        return;
      }
      const p = files[next++] as string;
      const slot = slots.pop() as number;
      active++;
      open(p, 'r', (err, fd) => {
        if (err) return finish(slot);
        read(fd, buf, slot * 512, 512, 0, (_e, n) => {
          bytes += n ?? 0;
          close(fd, () => finish(slot));
        });
      });
    };
    const finish = (slot: number): void => {
      slots.push(slot);
      active--;
      done++;
      startOne();
      if (done === files.length && active === 0) resolve(bytes);
    };
    if (files.length === 0) resolve(0);
    for (let i = 0; i < concurrency; i++) startOne();
  });
}

/** The floor with synchronous calls (no thread pool round trips): the fastest way in Node. */
function floorSync(files: readonly string[]): number {
  const buf = Buffer.alloc(512);
  let bytes = 0;
  for (const p of files) {
    try {
      const fd = openSync(p, 'r');
      bytes += readSync(fd, buf, 0, 512, 0);
      closeSync(fd);
    } catch {
      // counted as read nothing
    }
  }
  return bytes;
}

function pythonWithImagesize(): string | undefined {
  for (const py of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(py, ['-c', 'import imagesize'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return undefined;
}

/** imagesize.get over the same files, timed inside Python (no interpreter start-up). */
function imagesizeMs(py: string, files: readonly string[], passes = 3): number | undefined {
  const list = path.join(tmpdir(), `lwb-bench-list-${process.pid}.txt`);
  writeFileSync(list, files.join('\n'));
  const script = [
    'import sys, time, imagesize',
    'paths = open(sys.argv[1], encoding="utf-8").read().split("\\n")',
    'best = None',
    'for _ in range(int(sys.argv[2])):',
    '    t = time.perf_counter()',
    '    for p in paths: imagesize.get(p)',
    '    d = time.perf_counter() - t',
    '    best = d if best is None else min(best, d)',
    'print(best * 1000)',
  ].join('\n');
  const r = spawnSync(py, ['-c', script, list, String(passes)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  rmSync(list, { force: true });
  if (r.status !== 0) return undefined;
  return Number(r.stdout.trim());
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
}

async function best<T>(runs: number, fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  let ms = Infinity;
  let value: T | undefined;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const v = await fn();
    const d = performance.now() - t;
    if (d < ms) {
      ms = d;
      value = v;
    }
  }
  return { ms, value: value as T };
}

async function main(): Promise<void> {
  const sizesArg = process.argv.find((a) => a.startsWith('sizes='))?.slice(6);
  const sizes = (sizesArg ?? '1000,10000,100000').split(',').map(Number).filter((n) => n > 0);
  const keep = process.argv.includes('keep');
  const rounds = Math.max(0, Number(process.argv.find((a) => a.startsWith('rounds='))?.slice(7) ?? 3));
  const sharp = loadSharp();
  const tpl = await templates(sharp);
  const py = pythonWithImagesize();
  console.log(`node ${process.version}; imagesize: ${py ? `yes (${py})` : 'not importable (apt-get install python3-imagesize)'}`);
  console.log('images  floor ms (sync/async)  imagesize ms  index ms (sliced / async io)  index/floor  index/imagesize  heap MiB  add 1 ms  tag edit ms');
  for (const n of sizes) {
    const { root, files } = makeDataset(n, tpl);
    try {
      const runs = n >= 100_000 ? 3 : 5;
      const flAsync = await best(runs, () => floor(files));
      const flSync = await best(runs, async () => floorSync(files));
      const fl = flSync.ms < flAsync.ms ? flSync : flAsync;
      const idxAsync = await best(Math.min(runs, 2), () => DatasetIndex.build(root, { depth: 1, io: 'async' }));
      const isz = py ? imagesizeMs(py, files) : undefined;
      const idx = await best(runs, () => DatasetIndex.build(root, { depth: 1 }));
      const idxSliced = await best(Math.min(runs, 2), () => DatasetIndex.build(root, { depth: 1, io: 'sliced' }));
      // interleaved rounds: one of each per round, ratios within the round
      const perRound: Array<{ floor: number; isz?: number; idx: number; sliced: number; load: number }> = [];
      for (let r = 0; r < rounds; r++) {
        const load = os.loadavg()[0] as number;
        let t0 = performance.now();
        floorSync(files);
        const f = performance.now() - t0;
        const i = py ? imagesizeMs(py, files, 1) : undefined;
        t0 = performance.now();
        await DatasetIndex.build(root, { depth: 1 });
        const x = performance.now() - t0;
        t0 = performance.now();
        await DatasetIndex.build(root, { depth: 1, io: 'sliced' });
        const sl = performance.now() - t0;
        perRound.push({ floor: f, ...(i !== undefined ? { isz: i } : {}), idx: x, sliced: sl, load });
      }
      // memory held by one index: heap after a GC, with and without it
      // (collections with turns of the event loop between them: what the reader threads left
      // behind is freed only after they exit, and one collection right after the builds above
      // sometimes found more to free later, which made the figure negative)
      const gc = (globalThis as { gc?: () => void }).gc;
      const settle = async (): Promise<number> => {
        for (let k = 0; k < 3; k++) {
          gc?.();
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        return process.memoryUsage().heapUsed;
      };
      const heap0 = await settle();
      let held: DatasetIndex | undefined = await DatasetIndex.build(root, { depth: 1 });
      const heap1 = await settle();
      if (held.imageCount !== n) throw new Error('second build differs');
      held = undefined;
      if (idx.value.imageCount !== n) throw new Error(`index found ${idx.value.imageCount} images, expected ${n}`);
      const withDims = [...idx.value.allImages()].filter((i) => i.width && i.height).length;
      if (withDims !== n) throw new Error(`only ${withDims} of ${n} images have dimensions`);
      // incremental: one new image, then one changed tag file
      const dir = path.join(root, '1_concept 0');
      const added = path.join(dir, 'new image.png');
      writeFileSync(added, (tpl[0] as { bytes: Buffer }).bytes);
      let t = performance.now();
      const d1 = await idx.value.update([{ path: added, kind: 'created' }]);
      const addMs = performance.now() - t;
      if (d1.added.length !== 1) throw new Error('incremental add failed');
      writeFileSync(path.join(dir, 'new image.txt'), 'a, b');
      t = performance.now();
      const d2 = await idx.value.update([{ path: path.join(dir, 'new image.txt'), kind: 'created' }]);
      const tagMs = performance.now() - t;
      if (d2.changed.length !== 1) throw new Error('incremental sidecar change failed');
      console.log(
        `${String(n).padStart(6)}  ${`${flSync.ms.toFixed(0)} / ${flAsync.ms.toFixed(0)}`.padStart(22)}  ${(isz === undefined ? '–' : isz.toFixed(0)).padStart(12)}  ${`${idx.ms.toFixed(0)} (${idxSliced.ms.toFixed(0)} / ${idxAsync.ms.toFixed(0)})`.padStart(24)}` +
          `  ${(idx.ms / fl.ms).toFixed(2).padStart(10)}×  ${(isz === undefined ? '–' : (idx.ms / isz).toFixed(2) + '×').padStart(15)}` +
          `  ${((heap1 - heap0) / 1048576).toFixed(0).padStart(8)}  ${addMs.toFixed(1).padStart(8)}  ${tagMs.toFixed(1).padStart(11)}`,
      );
      for (const r of perRound) {
        console.log(
          `        round: load ${r.load.toFixed(1)} · floor ${r.floor.toFixed(0)} ms · imagesize ${r.isz === undefined ? '–' : r.isz.toFixed(0)} ms · index ${r.idx.toFixed(0)} ms (sliced ${r.sliced.toFixed(0)} ms)` +
            ` · index/imagesize ${r.isz === undefined ? '–' : (r.idx / r.isz).toFixed(2)}× (sliced ${r.isz === undefined ? '–' : (r.sliced / r.isz).toFixed(2)}×) · index/floor ${(r.idx / r.floor).toFixed(2)}×`,
        );
      }
      if (perRound.length) {
        const withIsz = perRound.filter((r) => r.isz !== undefined);
        console.log(
          `        median over ${perRound.length} interleaved rounds (load ${median(perRound.map((r) => r.load)).toFixed(1)}): index/floor ${median(perRound.map((r) => r.idx / r.floor)).toFixed(2)}×` +
            (withIsz.length ? ` · index/imagesize ${median(withIsz.map((r) => r.idx / (r.isz as number))).toFixed(2)}× (sliced ${median(withIsz.map((r) => r.sliced / (r.isz as number))).toFixed(2)}×)` : ''),
        );
      }
    } finally {
      if (keep) console.log(`kept ${root}`);
      else rmSync(root, { recursive: true, force: true });
    }
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
