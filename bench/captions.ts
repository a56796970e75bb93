/**
 * Benchmark: caption diagnostics and batch edits on N caption files (default 100,000 WD14-style
 * tag files of ~25 tags in 20 concept folders), against baselines measured in the same run:
 *
 *  - lint: scan + read + parse + every rule + pollution counts (`lintDataset`), against reading
 *    every caption file with readFile and nothing else;
 *  - incremental: one file changed → `CaptionIndex.updateFile` + the diagnostics of the files it
 *    reports as changed, against one full lint;
 *  - batch: add a trigger at the front of every file through the journal (atomic writes, old and
 *    new contents journalled; fsync off unless `fsync=1`), against a plain read + writeFile of
 *    every file.
 *
 *   esbuild-bundle it, then: node captions.js [files=100000] [fsync=1]
 * Prints times and ratios. Not a test: nothing here fails on time.
 */
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, readFileSync, promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { scanDataset } from '../src/core/dataset/scan';
import { lintDataset, captionFilesOf } from '../src/core/captions/dataset';
import { previewBatch, readBatchInputs } from '../src/core/captions/batch';
import { Journal } from '../src/core/captions/journal';

const arg = (name: string, dflt: string): string => process.argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1) ?? dflt;
const total = Number(arg('files', '100000'));
const fsync = arg('fsync', '0') === '1';
const folders = 20;

const VOCAB = Array.from({ length: 3000 }, (_, i) => `tag_${i.toString(36)}_${['hair', 'eyes', 'dress', 'background', 'smile'][i % 5]}`);

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function makeDataset(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'lwb-bench-captions-'));
  const r = rng(42);
  for (let f = 0; f < folders; f++) {
    const dir = path.join(root, `${(f % 9) + 1}_tk${f} girl`);
    mkdirSync(dir);
    for (let i = f; i < total; i += folders) {
      writeFileSync(path.join(dir, `${i}.png`), '');
      // trigger, 3 tags on nearly every image of the concept, then ~22 of a Zipf-ish vocabulary
      const tags = [`tk${f}`, '1girl', 'solo', `tag_concept${f}`];
      for (let k = 0; k < 22; k++) tags.push(VOCAB[Math.floor(VOCAB.length * r() ** 3)] as string);
      if (i % 97 === 0) tags.push(tags[1] as string); // a duplicate now and then
      writeFileSync(path.join(dir, `${i}.txt`), tags.join(', ') + '\n');
    }
  }
  return root;
}

/** wall-clock and CPU (user + system) time of one run */
async function time<T>(fn: () => Promise<T> | T): Promise<{ ms: number; cpu: number; value: T }> {
  const c = process.cpuUsage();
  const t = performance.now();
  const value = await fn();
  const u = process.cpuUsage(c);
  return { ms: performance.now() - t, cpu: (u.user + u.system) / 1000, value };
}

async function readAll(files: string[]): Promise<number> {
  let bytes = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) bytes += (await fsp.readFile(files[next++] as string)).length;
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  return bytes;
}

function readAllSync(files: string[]): number {
  let bytes = 0;
  for (const f of files) bytes += readFileSync(f).length;
  return bytes;
}

const fmt = (r: { ms: number; cpu: number }): string => `${r.ms.toFixed(0).padStart(7)} ms wall, ${r.cpu.toFixed(0).padStart(7)} ms CPU`;
const ratio = (a: { ms: number; cpu: number }, b: { ms: number; cpu: number }): string =>
  `${(a.ms / b.ms).toFixed(2)}× wall, ${(a.cpu / b.cpu).toFixed(2)}× CPU`;

async function main(): Promise<void> {
  const t0 = performance.now();
  const root = makeDataset();
  console.log(`dataset: ${total} caption files in ${folders} concept folders, made in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  try {
    const scan = await scanDataset(root);
    const files = captionFilesOf(scan).map((r) => r.file);
    // warm the page cache and the JIT once
    readAllSync(files);
    const base = await time(() => readAll(files));
    const baseSync = await time(() => readAllSync(files));
    const lint = await time(async () => lintDataset(await scanDataset(root), { pollutionPerFile: false }));
    const d = lint.value;
    console.log(`baseline: readFile every caption file (async)   ${fmt(base)}`);
    console.log(`baseline: readFileSync every caption file       ${fmt(baseSync)}`);
    console.log(`lint (scan, read, parse, rules, pollution)      ${fmt(lint)}  → ${ratio(lint, baseSync)} of readFileSync; ${d.diagnostics.length} diagnostics + ${d.pollution.length} pollution candidates`);

    // incremental: change one file and re-check it
    const one = files[123] as string;
    const folder = path.dirname(one);
    const newText = readFileSync(one, 'utf8').replace(/^tk\d+, /, '');
    writeFileSync(one, newText);
    const inc = await time(async () => {
      const bytes = readFileSync(one);
      const change = d.index.updateFile(one, folder, bytes);
      return change.files.map((f) => d.index.diagnostics(f)).flat();
    });
    console.log(`incremental: one file changed, re-checked       ${inc.ms.toFixed(2)} ms wall → ${(lint.ms / inc.ms).toFixed(0)}× less than a full lint (${inc.value.length} diagnostics re-published)`);

    // batch: add a trigger at the front of every file, through the journal
    const plain = await time(() => {
      for (const f of files) writeFileSync(f, readFileSync(f, 'utf8'));
    });
    const batch = await time(async () => {
      const preview = previewBatch(await readBatchInputs(files), [{ op: 'add', tags: ['ohwx'], position: 'front' }]);
      const j = new Journal(path.join(root, '.lwb-journal'), { fsync });
      return j.apply('add ohwx', preview.files.map((f) => ({ file: f.file, oldBytes: f.oldBytes, newBytes: f.newBytes })));
    });
    console.log(`baseline: readFileSync + writeFileSync each     ${fmt(plain)}`);
    console.log(`batch add (preview, journal, atomic writes, fsync ${fsync ? 'on' : 'off'}) ${fmt(batch)}  → ${ratio(batch, plain)}; ${batch.value.written.length} files`);
    const undo = await time(() => new Journal(path.join(root, '.lwb-journal'), { fsync }).undo());
    console.log(`undo of that batch                              ${fmt(undo)}; ${undo.value.restored.length} files`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

void main();
