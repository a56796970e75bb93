/**
 * Benchmark of what the Datasets tree does outside VS Code (run on demand, not a test):
 *   npm run bench -- tree [sizes=1000,10000,100000] [folders=20] [keep]
 *
 * For each size it generates a kohya dataset (20 concept folders, PNG headers of mixed sizes, a
 * tag file per image) and measures the steps the tree's model takes, in the same run:
 * - first page: `DatasetIndex.build` until its first progress call (some folders listed and
 *   paired) plus the folder scans and dataset groups the model publishes and the first page (500
 *   images) the tree asks for. Sizes, dimensions and tags are still being read then (the tree
 *   fills them in after); "all listed" is the same once every folder is listed.
 *   Baseline: a bare `readdir` of the same folders.
 * - the whole index (sizes, dimensions, tags read).
 * - one file change: a new image (then a changed tag file) applied as a delta: `index.update`, the
 *   folder's scan patched, the groups, and the page of that folder. Baseline: one `stat` of the file.
 * - heap held by the index and the scans (after a garbage collection).
 * Goals (issue #7): first paint < 1 s at any size, a change reflected in < 50 ms, < 300 MB for
 * a 100k index.
 */
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { DatasetIndex, patchFolderScan } from '../src/core/dataset/index';
import { groupDatasets } from '../src/core/dataset/groups';
import type { FolderScan } from '../src/core/dataset/scan';
import { crc32 } from '../src/core/dataset/imageHeader';

let FOLDERS = 20;
const PAGE = 500;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** The chunks of a PNG without pixel data: signature, IHDR (with its CRC), an empty IDAT, IEND. */
function pngHeader(w: number, h: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const b = Buffer.alloc(12 + data.length);
    b.writeUInt32BE(data.length, 0);
    b.write(type, 4, 'ascii');
    data.copy(b, 8);
    b.writeUInt32BE(crc32(b.subarray(4, 8 + data.length)), 8 + data.length);
    return b;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', Buffer.alloc(0)), chunk('IEND', Buffer.alloc(0))]);
}

function makeDataset(total: number): { root: string; dirs: string[] } {
  const root = mkdtempSync(path.join(tmpdir(), 'lwb-bench-tree-'));
  const dirs: string[] = [];
  for (let f = 0; f < FOLDERS; f++) {
    const d = path.join(root, `${(f % 9) + 1}_concept ${f}`);
    mkdirSync(d);
    dirs.push(d);
  }
  const sizes: Array<[number, number]> = [[832, 1216], [1024, 1024], [1216, 832], [768, 1344], [640, 1536], [512, 704]];
  for (let i = 0; i < total; i++) {
    const dir = dirs[i % FOLDERS] as string;
    const [w, h] = sizes[i % sizes.length] as [number, number];
    writeFileSync(path.join(dir, `${i}.png`), pngHeader(w, h));
    writeFileSync(path.join(dir, `${i}.txt`), 'tk, 1girl, solo, smile, blue_hair, long_hair');
  }
  return { root, dirs };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function measure(total: number, keep: boolean): Promise<void> {
  const { root, dirs } = makeDataset(total);
  try {
    // baseline: list the folders
    let t0 = performance.now();
    let listed = 0;
    for (const d of dirs) listed += readdirSync(d).length;
    const readdirMs = performance.now() - t0;

    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    let firstPageMs = 0;
    let firstPageItems = 0;
    const scans = new Map<string, FolderScan>();
    t0 = performance.now();
    let listedMs = 0;
    // what the model does on each progress call and once listed: folder scans, groups, and the
    // page the tree asks for; the first paint is the first call that has a page to show
    const paint = (ix: DatasetIndex): void => {
      for (const f of ix.folders()) if (!scans.has(f.path)) scans.set(f.path, ix.folderScan(f));
      groupDatasets([...scans.values()]);
      const first = ix.folders()[0];
      const items = first ? ix.query({ folder: first.path, limit: PAGE }).items.length : 0;
      if (!firstPageMs && items > 0) {
        firstPageItems = items;
        firstPageMs = performance.now() - t0;
      }
    };
    const index = await DatasetIndex.build(root, {
      depth: 1,
      tagExtension: '.txt',
      progressMs: 200,
      onProgress: paint,
      onListed: (ix) => {
        paint(ix);
        listedMs = performance.now() - t0;
      },
    });
    const fullMs = performance.now() - t0;
    gc();
    const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 1048576;

    // one change at a time, applied as a delta
    const deltas: number[] = [];
    const stats: number[] = [];
    const dir = dirs[Math.min(3, dirs.length - 1)] as string;
    for (let k = 0; k < 15; k++) {
      const file = path.join(dir, `new-${k}.png`);
      writeFileSync(file, pngHeader(1024, 1024));
      const s0 = performance.now();
      statSync(file);
      stats.push(performance.now() - s0);
      const d0 = performance.now();
      const delta = await index.update([{ path: file }]);
      for (const f of delta.folders) {
        const info = index.folder(f);
        const old = scans.get(f);
        if (info) scans.set(f, old ? patchFolderScan(old, info, index, { added: delta.added, removed: delta.removed, changed: delta.changed }) : index.folderScan(info));
      }
      groupDatasets([...scans.values()]);
      index.query({ folder: dir, limit: PAGE });
      deltas.push(performance.now() - d0);
      // the tag file written next to it: the image's tags change
      writeFileSync(path.join(dir, `new-${k}.txt`), 'a, b, c');
      const c0 = performance.now();
      const d2 = await index.update([{ path: path.join(dir, `new-${k}.txt`) }]);
      if (!d2.changed.includes(file)) throw new Error('the tag file did not change the image');
      const info = index.folder(dir);
      const old = scans.get(dir);
      if (info && old) scans.set(dir, patchFolderScan(old, info, index, { added: [], removed: [], changed: d2.changed }));
      index.query({ folder: dir, limit: PAGE });
      deltas.push(performance.now() - c0);
    }
    const deltaMs = median(deltas);
    const sorted = [...deltas].sort((a, b) => a - b);
    const p90 = sorted[Math.floor(sorted.length * 0.9)] as number;
    const statMs = median(stats);
    const ok = (v: boolean): string => (v ? 'meets' : 'MISSES');
    console.log(
      `${String(total).padStart(6)} images: first page ${firstPageMs.toFixed(0)} ms (${firstPageItems} rows; ${(firstPageMs / readdirMs).toFixed(1)}× a bare readdir of ${listed} names, ${readdirMs.toFixed(0)} ms) · ` +
        `all listed ${listedMs.toFixed(0)} ms · whole index ${fullMs.toFixed(0)} ms · one change ${deltaMs.toFixed(2)} ms median (${(deltaMs / statMs).toFixed(0)}× one stat; p90 ${p90.toFixed(1)} ms, max ${Math.max(...deltas).toFixed(1)} ms, the first change in a folder builds its name tables) · heap ${heapMb.toFixed(0)} MB`,
    );
    console.log(
      `        goals: first page < 1000 ms ${ok(firstPageMs < 1000)} · change < 50 ms (median) ${ok(deltaMs < 50)} · heap < 300 MB ${ok(heapMb < 300)}`,
    );
  } finally {
    if (!keep) rmSync(root, { recursive: true, force: true });
    else console.log(`kept ${root}`);
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const sizesArg = args.find((a) => a.startsWith('sizes='));
  const sizes = sizesArg ? sizesArg.slice(6).split(',').map(Number) : [1000, 10000, 100000];
  const keep = args.includes('keep');
  const foldersArg = args.find((a) => a.startsWith('folders='));
  if (foldersArg) FOLDERS = Math.max(1, Number(foldersArg.slice(8)));
  for (const n of sizes) await measure(n, keep);
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
