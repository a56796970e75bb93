/**
 * Benchmark of the batch tag commands (issue #3, Speed), each against a baseline measured in the
 * same run:
 *
 *  (a) insert a trigger word at the front of N tag files (default 100,000 in 20 concept folders):
 *      our path (scan, read, preview with the "add trigger" operations, journal with old and new
 *      contents, an atomic temp-file + rename write per file; fsync off unless `fsync=1`) against
 *      the seed article's Python script (bench/insert_trigger.py: read, split, strip, remove,
 *      insert, join, write in place) run with python3 over a copy of the same files;
 *  (b) lint the N files as the Problems panel does (every rule, pollution counts, and the CLIP
 *      token-length rule with the estimate), against reading them;
 *  (c) tag completion with a 10,000-tag vocabulary (building it from the index's counts, as the
 *      batch commands' tag input does, and one completion), against a plain startsWith scan;
 *  (d) tag-list completion as tag files ask for it: a concept's 3,000 tags plus a 100,000-row
 *      a1111 tag list with aliases (tagCandidates: prefix indexes, capped answers), against the
 *      same question with the dataset's tags only; and reading the list once.
 *
 *   npm run bench -- tags [files=100000] [fsync=1] [parts=a,b,c,d]
 * Prints figures and ratios. Not a test: nothing here fails on time.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { previewBatch, readBatchInputs } from '../src/core/captions/batch';
import { captionFilesOf, lintDataset } from '../src/core/captions/dataset';
import { Journal } from '../src/core/captions/journal';
import { opsFor } from '../src/core/captions/tagBatch';
import { TagVocabulary } from '../src/core/captions/vocabulary';
import { loadTagList, tagCandidates } from '../src/core/captions/tagList';
import { looseTagKey } from '../src/core/captions/parse';
import { scanDataset } from '../src/core/dataset/scan';

const arg = (name: string, dflt: string): string => process.argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1) ?? dflt;
const total = Number(arg('files', '100000'));
const fsync = arg('fsync', '0') === '1';
const parts = arg('parts', 'a,b,c,d').split(',');
const folders = 20;
const ROOT = path.resolve(__dirname, '..', '..');

const VOCAB = Array.from({ length: 3000 }, (_, i) => `tag_${i.toString(36)}_${['hair', 'eyes', 'dress', 'background', 'smile'][i % 5]}`);

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** WD14-style tag files (~25 tags) with images, the trigger missing from a tenth of them. */
function makeDataset(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'lwb-bench-tags-'));
  const data = path.join(root, 'ours');
  const r = rng(7);
  for (let f = 0; f < folders; f++) {
    const dir = path.join(data, `${(f % 9) + 1}_tk${f} girl`);
    mkdirSync(dir, { recursive: true });
    for (let i = f; i < total; i += folders) {
      writeFileSync(path.join(dir, `${i}.png`), '');
      const tags = ['1girl', 'solo', `tag_concept${f}`];
      for (let k = 0; k < 22; k++) tags.push(VOCAB[Math.floor(VOCAB.length * r() ** 3)] as string);
      if (i % 10 !== 0) tags.splice(Math.floor(r() * 3), 0, 'ohwx');
      writeFileSync(path.join(dir, `${i}.txt`), tags.join(', '));
    }
  }
  return root;
}

async function time<T>(fn: () => Promise<T> | T): Promise<{ ms: number; cpu: number; value: T }> {
  const c = process.cpuUsage();
  const t = performance.now();
  const value = await fn();
  const u = process.cpuUsage(c);
  return { ms: performance.now() - t, cpu: (u.user + u.system) / 1000, value };
}

const fmt = (r: { ms: number; cpu?: number }): string => `${r.ms.toFixed(0).padStart(7)} ms wall${r.cpu !== undefined ? `, ${r.cpu.toFixed(0).padStart(7)} ms CPU` : ''}`;

async function benchInsert(root: string): Promise<void> {
  const ours = path.join(root, 'ours');
  const theirs = path.join(root, 'python');
  cpSync(ours, theirs, { recursive: true });

  const py = path.join(ROOT, 'bench', 'insert_trigger.py');
  const t0 = performance.now();
  const p = spawnSync('python3', [py, theirs, 'ohwx'], { encoding: 'utf8' });
  const python = { ms: performance.now() - t0 };
  if (p.status !== 0) {
    console.log(`(a) python3 failed: ${p.stderr || p.error?.message}`);
    return;
  }

  const batch = await time(async () => {
    const scan = await scanDataset(ours);
    const files = captionFilesOf(scan).filter((c) => c.exists).map((c) => c.file);
    const ops = opsFor('addTrigger', {}, 'ohwx') ?? [];
    const preview = previewBatch(await readBatchInputs(files), ops, { createMissing: false });
    const j = new Journal(path.join(root, '.lwb-journal'), { fsync });
    const r = await j.apply('Add the trigger word', preview.files.map((f) => ({ file: f.file, oldBytes: f.oldBytes, newBytes: f.newBytes })));
    return { files: files.length, written: r.written.length };
  });
  // both must have produced the same tags (the Python script always rewrites, we only changed files)
  const sample = path.join('3_tk2 girl', '2.txt');
  const a = readFileSync(path.join(ours, sample), 'utf8');
  const b = readFileSync(path.join(theirs, sample), 'utf8');
  console.log(`(a) insert trigger into ${batch.value.files} tag files`);
  console.log(`    python3 seed script (in place, no journal)                ${fmt(python)}; ${p.stdout.trim()} files`);
  console.log(`    ours (scan, preview, journal, atomic writes, fsync ${fsync ? 'on' : 'off'}) ${fmt(batch)}; ${batch.value.written} files changed`);
  console.log(`    → ${(python.ms / batch.ms).toFixed(2)}× the Python script's speed (goal ≥ 2×); same result on a sample file: ${a === b ? 'yes' : `NO\n      ours:   ${a}\n      python: ${b}`}`);
}

async function benchLint(root: string): Promise<void> {
  const data = path.join(root, 'ours');
  const scan = await scanDataset(data);
  const files = captionFilesOf(scan).map((c) => c.file);
  const base = await time(() => {
    let n = 0;
    for (const f of files) n += readFileSync(f).length;
    return n;
  });
  const lint = await time(async () => lintDataset(await scanDataset(data), { pollutionPerFile: false }));
  const lintTok = await time(async () => lintDataset(await scanDataset(data), { pollutionPerFile: false, rules: { maxTokenLength: 75, tokenCountEstimated: true } }));
  console.log(`(b) lint ${files.length} tag files`);
  console.log(`    baseline: readFileSync every file                          ${fmt(base)}`);
  console.log(`    lint (scan, read, parse, rules, pollution)                 ${fmt(lint)}  → ${(lint.ms / base.ms).toFixed(1)}× the read (goal < 10 s wall)`);
  console.log(`    lint + CLIP token-length rule (estimate)                   ${fmt(lintTok)}; ${lintTok.value.diagnostics.filter((d) => d.code === 'caption-too-long').length} too long`);
}

function benchCompletion(): void {
  const r = rng(3);
  const words = ['hair', 'eyes', 'dress', 'skirt', 'background', 'smile', 'shirt', 'gloves', 'ribbon', 'boots'];
  const colours = ['blue', 'black', 'white', 'red', 'green', 'pink', 'silver', 'brown', 'purple', 'yellow'];
  const tags = Array.from({ length: 10_000 }, (_, i) => `${colours[i % 10]}_${words[Math.floor(i / 10) % 10]}_${i.toString(36)}`);
  const counts = tags.map(() => Math.floor(1 + 1000 * r() ** 4));
  const prefixes = ['b', 'bl', 'blue_h', 'si', 'pur', 'x', 'red_dr', 'whi', 'g', 'yellow_s'];
  const build = (): TagVocabulary => {
    const v = new TagVocabulary();
    v.addList(tags.map((name, i) => ({ name, count: counts[i] as number, category: null, aliases: [] })));
    return v;
  };
  const v = build();
  // warm up
  for (const p of prefixes) v.complete(p, 40);
  const reps = 50;
  let t = performance.now();
  for (let k = 0; k < reps; k++) for (const p of prefixes) v.complete(p, 40);
  const one = (performance.now() - t) / (reps * prefixes.length);
  t = performance.now();
  for (let k = 0; k < reps; k++) for (const p of prefixes) tags.filter((x) => x.startsWith(p)).slice(0, 40);
  const scan = (performance.now() - t) / (reps * prefixes.length);
  t = performance.now();
  for (let k = 0; k < 10; k++) build();
  const built = (performance.now() - t) / 10;
  console.log('(c) completion with a 10,000-tag vocabulary');
  console.log(`    one completion (40 best, ranked)                            ${one.toFixed(2)} ms (goal < 20 ms); ${(one / scan).toFixed(1)}× a bare startsWith filter (${scan.toFixed(2)} ms)`);
  console.log(`    building the vocabulary from the counts (once per question) ${built.toFixed(2)} ms; together ${(built + one).toFixed(2)} ms`);
}

function benchTagList(): void {
  const r = rng(11);
  const syll = ['ka', 'ri', 'mo', 'su', 'te', 'na', 'lo', 'bi', 'ha', 'ze', 'qu', 'do', 'fi', 'ye', 'pa', 'wu'];
  const word = (): string => Array.from({ length: 2 + Math.floor(r() * 3) }, () => syll[Math.floor(r() * syll.length)]).join('');
  const rows: string[] = [];
  const seen = new Set<string>();
  while (rows.length < 100_000) {
    const name = Array.from({ length: 1 + Math.floor(r() * 3) }, word).join('_');
    if (seen.has(name)) continue;
    seen.add(name);
    const aliases = r() < 0.2 ? `"${word()},${word()}_${word()}"` : '';
    rows.push(`${name},${[0, 1, 3, 4, 5][Math.floor(r() * 5)]},${Math.floor(1 + 1e6 * r() ** 6)},${aliases}`);
  }
  const csv = rows.join('\n');
  let t = performance.now();
  const loaded = loadTagList(csv);
  const loadMs = performance.now() - t;
  if (!('index' in loaded)) throw new Error(loaded.error);
  const list = loaded.index;
  const dataset = [...seen]
    .slice(0, 3000)
    .map((name, i) => ({ name, key: looseTagKey(name), count: 1 + ((i * 7919) % 500) }))
    .sort((a, b) => b.count - a.count);
  const present = new Set(dataset.slice(0, 25).map((d) => d.key));
  const prefixes = ['k', 'ka', 'kari', 'mo_s', 'z', 'zequ', 'te', 'lob', 'h', 'x', ''];
  for (const p of prefixes) tagCandidates(p, dataset, list, { present });
  const reps = 50;
  t = performance.now();
  let items = 0;
  for (let k = 0; k < reps; k++) for (const p of prefixes) items += tagCandidates(p, dataset, list, { present }).items.length;
  const withList = (performance.now() - t) / (reps * prefixes.length);
  t = performance.now();
  for (let k = 0; k < reps; k++) for (const p of prefixes) tagCandidates(p, dataset, undefined, { present });
  const datasetOnly = (performance.now() - t) / (reps * prefixes.length);
  console.log(`(d) tag-list completion: ${list.size} listed tags (a1111 CSV with aliases) + ${dataset.length} dataset tags`);
  console.log(`    reading the list once (parse + prefix indexes)              ${loadMs.toFixed(0)} ms`);
  console.log(`    one completion, dataset + list (≤300 items, ${(items / (reps * prefixes.length)).toFixed(0)} on average) ${withList.toFixed(2)} ms; dataset tags only ${datasetOnly.toFixed(2)} ms → ${(withList / datasetOnly).toFixed(1)}× (goal: a few ms)`);
}

async function main(): Promise<void> {
  if (!parts.includes('a') && !parts.includes('b')) {
    if (parts.includes('c')) benchCompletion();
    if (parts.includes('d')) benchTagList();
    return;
  }
  const t0 = performance.now();
  const root = makeDataset();
  console.log(`dataset: ${total} tag files in ${folders} concept folders, made in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  try {
    if (parts.includes('a')) await benchInsert(root);
    if (parts.includes('b')) await benchLint(root);
    if (parts.includes('c')) benchCompletion();
    if (parts.includes('d')) benchTagList();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

void main();
