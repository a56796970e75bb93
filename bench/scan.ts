/**
 * Benchmark: scanning a kohya dataset of N images (default 100,000 in 20 concept folders, half of
 * them with a .txt sidecar) with the core scan, against a baseline measured in the same run: a
 * plain recursive `readdir` that only lists names (the least any scan must do).
 *
 *   npm run bench -- [images=100000]
 * Prints times (best of 3) and the ratio scan / baseline. Not a test: nothing here fails on time.
 */
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { scanDataset } from '../src/core/dataset/scan';
import { groupDatasets } from '../src/core/dataset/groups';

const total = Number(process.argv.find((a) => a.startsWith('images='))?.slice(7) ?? 100_000);
const folders = 20;

function makeDataset(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'lwb-bench-'));
  for (let f = 0; f < folders; f++) {
    const dir = path.join(root, `${(f % 9) + 1}_concept${f}`);
    mkdirSync(dir);
    for (let i = f; i < total; i += folders) {
      writeFileSync(path.join(dir, `${i}.png`), '');
      if (i % 2 === 0) writeFileSync(path.join(dir, `${i}.txt`), 'tk, 1girl');
    }
  }
  return root;
}

function baseline(root: string): number {
  let n = 0;
  for (const d of readdirSync(root, { withFileTypes: true })) {
    if (d.isDirectory()) n += readdirSync(path.join(root, d.name)).length;
  }
  return n;
}

async function best<T>(fn: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  let ms = Infinity;
  let value: T | undefined;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    value = await fn();
    ms = Math.min(ms, performance.now() - t);
  }
  return { ms, value: value as T };
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const root = makeDataset();
  console.log(`dataset: ${total} images in ${folders} folders, made in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  try {
    const base = await best(() => baseline(root));
    const heapBefore = process.memoryUsage().heapUsed;
    const scan = await best(async () => groupDatasets((await scanDataset(root)).folders));
    const heapAfter = process.memoryUsage().heapUsed;
    const images = scan.value.reduce((n, g) => n + g.imageCount, 0);
    if (images !== total) throw new Error(`scan found ${images} images, expected ${total}`);
    console.log(`baseline readdir (names only):   ${base.ms.toFixed(1)} ms (${base.value} entries)`);
    console.log(`scanDataset + group:             ${scan.ms.toFixed(1)} ms`);
    console.log(`ratio scan / baseline:           ${(scan.ms / base.ms).toFixed(2)}×`);
    console.log(`heap growth during scans:        ${((heapAfter - heapBefore) / 1048576).toFixed(1)} MiB`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

void main();
