/**
 * Benchmark of the dataset gallery (run on demand, not a test): `npm run bench -- gallery`
 * (options: `n=100000`, `keep` keeps the generated folder, `shot=file.png` saves a screenshot of
 * the standalone page).
 *
 * Host side, on a generated kohya dataset of `n` images (20 concept folders, tiny PNGs, a tag
 * file each with 8–20 tags from a 2,000-tag vocabulary):
 * - time to the first page of metadata (cold index of the folder + the first 120 items), against
 *   the cold `DatasetIndex.build` without tags as the baseline (listing + headers only);
 * - a 4-term filter `1girl AND (smile OR grin) AND NOT hat` over all captions, compiled, against
 *   the obvious way (a Set of tags per image, then the expression by hand) as the baseline;
 * - heap held by the gallery model (index + vocabulary + filter list), against the index alone.
 * Webview side, in headless Chromium (playwright-core, /usr/bin/chromium): the built
 * dist/webview/gallery.js on a page with a fake host answering with `n` synthetic items and
 * thumbnails; frame times while scrolling through all rows (fast: the whole list in 300 frames;
 * steady: 3 rows per frame), against idle frames on the same page, and the most DOM nodes seen.
 */
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { DatasetIndex } from '../src/core/dataset/index';
import { GalleryModel } from '../src/core/gallery/model';
import { parseTagQuery, compileTagQuery } from '../src/core/dataset/tagQuery';

const args = process.argv.slice(2);
const arg = (k: string): string | undefined => args.find((a) => a.startsWith(`${k}=`))?.slice(k.length + 1);
const N = Number(arg('n') ?? 100_000);
const KEEP = args.includes('keep');
const ROOT = process.cwd();

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** A valid 1×1 PNG (the index reads headers only). */
const PNG_1x1 = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC', 'base64');

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function vocabulary(): string[] {
  const base = ['1girl', '1boy', 'solo', 'smile', 'grin', 'hat', 'long_hair', 'short_hair', 'blue_eyes', 'red_eyes', 'outdoors', 'simple_background'];
  const out = [...base];
  for (let i = out.length; i < 2000; i++) out.push(`tag_${i.toString(36)}`);
  return out;
}

function makeDataset(n: number): string {
  const root = mkdtempSync(path.join(tmpdir(), 'lwb-bench-gallery-'));
  const dirs = Array.from({ length: 20 }, (_, f) => path.join(root, `${(f % 9) + 1}_concept ${f}`));
  for (const d of dirs) mkdirSync(d);
  const vocab = vocabulary();
  const r = rng(7);
  for (let i = 0; i < n; i++) {
    const d = dirs[i % dirs.length] as string;
    writeFileSync(path.join(d, `${i}.png`), PNG_1x1);
    const k = 8 + Math.floor(r() * 13);
    const tags = new Set<string>(['tk']);
    // the first 12 tags are common (about one image in 4), the rest rare
    while (tags.size < k) tags.add(vocab[r() < 0.5 ? Math.floor(r() * 12) : Math.floor(r() * vocab.length)] as string);
    writeFileSync(path.join(d, `${i}.txt`), [...tags].join(', '));
  }
  return root;
}

function ms(t0: number): number {
  return performance.now() - t0;
}

function fmt(x: number, d = 1): string {
  return x.toFixed(d);
}

function loadPlaywright(): typeof import('playwright-core') {
  return createRequire(path.join(ROOT, 'package.json'))('playwright-core') as typeof import('playwright-core');
}

async function hostSide(root: string): Promise<void> {
  // baseline: the index alone, no tags
  let t0 = performance.now();
  const bare = await DatasetIndex.build(root, { depth: 1 });
  const bareMs = ms(t0);
  const bareCount = bare.imageCount;
  // the gallery: index with tags, vocabulary, first page
  t0 = performance.now();
  let firstMs = 0;
  let firstCount = 0;
  let firstTagged = 0;
  const model = await GalleryModel.open(root, { depth: 1, tagExtension: '.txt' }, (preview) => {
    const page = preview.page(0, 120);
    firstMs = ms(t0);
    firstCount = page.length;
    firstTagged = page.filter((i) => i.tags !== '').length;
  });
  const completeMs = ms(t0);
  console.log(`images: ${model.total} (index without tags: ${bareCount})`);
  console.log(
    `first page of metadata (${firstCount} items, ${firstTagged} with their tags, cold): ${fmt(firstMs, 0)} ms; complete list with sizes and tags ${fmt(completeMs, 0)} ms; baseline index without tags ${fmt(bareMs, 0)} ms; first page / baseline ${fmt(firstMs / bareMs, 3)}`,
  );

  // filter over every caption
  const q = '1girl AND (smile OR grin) AND NOT hat';
  const reps = 5;
  let matched = 0;
  t0 = performance.now();
  for (let i = 0; i < reps; i++) matched = model.setQuery(q);
  const filterMs = ms(t0) / reps;
  const node = parseTagQuery(q);
  t0 = performance.now();
  let naive = 0;
  for (let i = 0; i < reps; i++) {
    naive = 0;
    for (const img of model.index.allImages()) {
      const s = new Set(img.tags ?? []);
      if (s.has('1girl') && (s.has('smile') || s.has('grin')) && !s.has('hat')) naive++;
    }
  }
  const naiveMs = ms(t0) / reps;
  if (naive !== matched) throw new Error(`filter disagrees with the baseline: ${matched} vs ${naive}`);
  t0 = performance.now();
  for (let i = 0; i < reps; i++) compileTagQuery(node, model.vocab);
  const compileMs = ms(t0) / reps;
  console.log(
    `filter "${q}" over ${model.total} captions: ${fmt(filterMs)} ms (${matched} match); baseline Set per image ${fmt(naiveMs)} ms; ratio ${fmt(filterMs / naiveMs, 2)}; compile ${fmt(compileMs, 3)} ms`,
  );
  model.setQuery('');
}

/** Heap held by one structure, measured in a fresh process (nothing else on its heap). */
async function measureOne(kind: string, root: string): Promise<void> {
  // warm-up (code, lazily made tables) in a frame of its own, so its result is not kept alive
  const warm = async (): Promise<number> => (await DatasetIndex.build(root, { depth: 1, tagExtension: '.txt' })).imageCount;
  await warm();
  await new Promise((r) => setImmediate(r));
  const h0 = heap();
  const keep = kind === 'model' ? await GalleryModel.open(root, { depth: 1, tagExtension: '.txt' }) : await DatasetIndex.build(root, { depth: 1, tagExtension: '.txt' });
  const bytes = heap() - h0;
  const count = keep instanceof GalleryModel ? keep.total : keep.imageCount;
  process.stdout.write(JSON.stringify({ bytes, count }));
}

/** Heap held by the gallery model vs the dataset index alone, each in its own process. */
function memory(root: string): void {
  const one = (kind: string): { bytes: number; count: number } => {
    const r = spawnSync(process.execPath, [__filename, `mem=${kind}`, `root=${root}`], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (r.status !== 0) throw new Error(`memory measurement failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as { bytes: number; count: number };
  };
  const idx = one('index');
  const model = one('model');
  console.log(
    `heap: gallery model ${fmt(model.bytes / 2 ** 20)} MB (${fmt(model.bytes / model.count, 0)} B/image); dataset index with tags alone ${fmt(idx.bytes / 2 ** 20)} MB; ratio ${fmt(model.bytes / idx.bytes, 2)}`,
  );
}

interface ScrollResult {
  idle: number[];
  fast: number[];
  steady: number[];
  maxNodes: number;
  cells: number;
  scrollHeight: number;
  reached: number;
}

/** The fake host: answers the webview's messages with `n` synthetic items. */
function fakeHostScript(n: number, thumb: string): string {
  return `
(() => {
  const N = ${n};
  // thumbs=none: no thumbnails (isolates the grid's own cost from image decoding)
  const THUMB = ${JSON.stringify(thumb)};
  const TAGS = ['1girl','solo','smile','long hair','blue eyes','outdoors','hat','grin','simple background'];
  let gen = 1;
  const NO_THUMBS = ${JSON.stringify(arg('thumbs') === 'none')};
  const item = (i) => ({ path: '/data/5_x/' + i + '.png', name: i + '.png', folder: '5_x', width: 832, height: 1216, size: 123456,
    tags: 'tk, ' + TAGS.slice(0, 3 + (i % 6)).join(', '), tagCount: 4 + (i % 6), hasCaption: true, thumb: !NO_THUMBS && i % 3 ? THUMB : undefined });
  const send = (m) => window.postMessage(m, '*');
  window.__stats = { maxNodes: 0, ranges: 0, visible: 0 };
  window.acquireVsCodeApi = () => ({
    getState: () => undefined, setState: () => {},
    postMessage: (m) => setTimeout(() => {
      if (m.type === 'ready') send({ type: 'gallery/reset', generation: gen, title: 'bench', root: '/data', total: N, matched: N, query: '', selection: [], reason: 'open', batchAvailable: false });
      else if (m.type === 'gallery/range') { window.__stats.ranges++; const items = []; for (let i = m.start; i < Math.min(N, m.end); i++) items.push(item(i)); send({ type: 'gallery/items', generation: m.generation, start: m.start, items }); }
      else if (m.type === 'gallery/visible') { window.__stats.visible++; if (!NO_THUMBS) for (const p of m.paths) send({ type: 'gallery/thumb', path: p, thumb: THUMB }); }
    }, 0),
  });
})();`;
}

async function webviewSide(n: number): Promise<void> {
  const js = path.join(ROOT, 'dist/webview/gallery.js');
  const css = path.join(ROOT, 'dist/webview/gallery.css');
  if (!existsSync(js)) throw new Error('dist/webview/gallery.js is missing: run node scripts/build.mjs');
  const chromium = '/usr/bin/chromium';
  if (!existsSync(chromium)) {
    console.log('webview scroll: skipped (no /usr/bin/chromium)');
    return;
  }
  console.log(`webview: ${n} items, thumbnails ${arg('thumbs') === 'none' ? 'none (grid cost only)' : 'a 160 px WebP data URL per cell'}`);
  const { chromium: pw } = loadPlaywright();
  const browser = await pw.launch({ executablePath: chromium, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const sharp = createRequire(path.join(ROOT, 'package.json'))('sharp') as typeof import('sharp').default;
    const raw = Buffer.alloc(160 * 160 * 3);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 7) & 0xff;
    const thumb = `data:image/webp;base64,${(await sharp(raw, { raw: { width: 160, height: 160, channels: 3 } }).webp().toBuffer()).toString('base64')}`;
    const html = `<!DOCTYPE html><html><head><meta charset="utf-8"><style>${readFileSync(css, 'utf8')}</style>
<style>:root{--vscode-font-family:sans-serif;--vscode-font-size:13px;--vscode-foreground:#ccc;--vscode-editor-background:#1e1e1e;--vscode-descriptionForeground:#999;--vscode-list-activeSelectionBackground:#04395e;--vscode-focusBorder:#007fd4;--vscode-input-background:#3c3c3c;--vscode-input-foreground:#ccc;--vscode-button-background:#0e639c}</style>
</head><body><main id="app"></main><script>${fakeHostScript(n, thumb)}</script><script>${readFileSync(js, 'utf8')}</script></body></html>`;
    await page.setContent(html);
    await page.waitForSelector(arg('thumbs') === 'none' ? '.cell .name:not(:empty)' : '.cell img', { timeout: 30_000 });
    await page.waitForTimeout(300);
    const result = (await page.evaluate(`(async () => {
      const scroller = document.querySelector('.scroller');
      const nextFrame = () => new Promise((r) => requestAnimationFrame(() => r(performance.now())));
      const stats = window.__stats;
      const measure = async (frames, step) => {
        const out = [];
        let last = await nextFrame();
        for (let k = 0; k < frames; k++) {
          step(k);
          const now = await nextFrame();
          out.push(now - last);
          last = now;
          const nodes = document.getElementsByTagName('*').length;
          if (nodes > stats.maxNodes) stats.maxNodes = nodes;
        }
        return out;
      };
      const idle = await measure(120, () => {});
      const max = scroller.scrollHeight - scroller.clientHeight;
      const fast = await measure(300, (k) => {
        scroller.scrollTop = ((k + 1) / 300) * max;
      });
      scroller.scrollTop = 0;
      await nextFrame();
      const cellH = document.querySelector('.cell').getBoundingClientRect().height + 8;
      const steady = await measure(300, () => {
        scroller.scrollTop += cellH * 3;
      });
      return { idle, fast, steady, maxNodes: stats.maxNodes, cells: document.querySelectorAll('.cell').length, scrollHeight: scroller.scrollHeight, reached: scroller.scrollTop };
    })()`)) as ScrollResult;
    const q = (xs: number[], p: number): number => {
      const s = [...xs].sort((a, b) => a - b);
      return s[Math.min(s.length - 1, Math.floor(p * s.length))] as number;
    };
    const idleMed = q(result.idle, 0.5);
    for (const [name, xs] of [
      ['fast (whole list in 300 frames)', result.fast],
      ['steady (3 rows per frame)', result.steady],
    ] as const) {
      console.log(
        `webview scroll ${name}: frame median ${fmt(q(xs, 0.5))} ms, p95 ${fmt(q(xs, 0.95))} ms, max ${fmt(Math.max(...xs))} ms; idle frame median ${fmt(idleMed)} ms; p95/idle ratio ${fmt(q(xs, 0.95) / idleMed, 2)}`,
      );
    }
    console.log(`webview DOM: at most ${result.maxNodes} elements while scrolling ${n} items (${result.cells} cells in the pool); scroll height ${result.scrollHeight} px`);
    const shot = arg('shot');
    if (shot) await page.screenshot({ path: shot });
  } finally {
    await browser.close();
  }
}

async function main(): Promise<void> {
  const mem = arg('mem');
  if (mem) return measureOne(mem, arg('root') as string);
  console.log(`gallery benchmark: ${N} images; load average ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  const t0 = performance.now();
  const root = args.includes('webview-only') ? mkdtempSync(path.join(tmpdir(), 'lwb-bench-gallery-')) : makeDataset(N);
  console.log(`generated ${N} images + tag files in ${fmt(ms(t0) / 1000)} s under ${root}`);
  try {
    if (!args.includes('webview-only')) {
      await hostSide(root);
      memory(root);
    }
    await webviewSide(N);
  } finally {
    if (!KEEP) rmSync(root, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
