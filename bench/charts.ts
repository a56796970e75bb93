/**
 * Benchmark: the run panel's charts and its live path.
 *
 *   npm run bench -- charts [points=1000000]
 *
 * 1. A 1,000,000-point loss chart rendered in headless Chromium (/usr/bin/chromium through
 *    playwright-core) with the panel's own chart code (webview/runPanel/charts.ts: min/max
 *    downsampling to pixel columns, EMA smoothing, uPlot), against plain uPlot given every point,
 *    measured in the same browser. Goal: first render < 250 ms.
 * 2. Live latency, host side: the stand-in trainer (test/fixtures/fake-trainer.mjs) writes records;
 *    the panel's reader (LiveRunSeries, polled every LIVE_POLL_MS like the panel) hands them out;
 *    latency = hand-out time − the record's wall_time. Goal: < 1 s.
 * Prints figures and ratios; nothing here fails on time.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { findRuns } from '../src/core/training/tfevents';
import { LIVE_POLL_MS, LiveRunSeries } from '../src/core/training/runPanel';

const ROOT = path.resolve(__dirname, '..', '..');
// loaded at run time from node_modules, not bundled into the bench
const load = createRequire(path.join(ROOT, 'package.json'));
const esbuild = load('esbuild') as typeof import('esbuild');
const { chromium } = load('playwright-core') as typeof import('playwright-core');
const points = Number(process.argv.find((a) => a.startsWith('points='))?.slice(7) ?? 1_000_000);

interface Render {
  ms: number;
  msToFrame: number;
  drawn: number;
}

async function chartBench(dir: string): Promise<void> {
  await esbuild.build({
    entryPoints: { bench: path.join(ROOT, 'webview/runPanel/benchPage.ts') },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    outdir: dir,
    loader: { '.css': 'css' },
    logLevel: 'warning',
  });
  writeFileSync(path.join(dir, 'index.html'), '<!DOCTYPE html><html><head><link rel="stylesheet" href="bench.css"></head><body><script src="bench.js"></script></body></html>');
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
    await page.goto(`file://${path.join(dir, 'index.html')}`);
    await page.waitForFunction(() => 'lwbBench' in globalThis);
    type B = { ours(n: number, s: number): Promise<Render>; plain(n: number): Promise<Render> };
    const run = (kind: 'ours' | 'plain', smoothing = 0): Promise<Render> =>
      page.evaluate(
        async ([k, n, s]) => {
          const b = (globalThis as unknown as { lwbBench: B }).lwbBench;
          return k === 'ours' ? b.ours(n as number, s as number) : b.plain(n as number);
        },
        [kind, points, smoothing] as const,
      );
    const best = async (kind: 'ours' | 'plain', smoothing = 0): Promise<Render> => {
      let r: Render | undefined;
      for (let i = 0; i < 5; i++) {
        const x = await run(kind, smoothing);
        if (x.drawn === 0) throw new Error(`${kind}: no canvas was drawn`);
        if (!r || x.ms < r.ms) r = x;
      }
      return r as Render;
    };
    const plain = await best('plain');
    const ours0 = await best('ours', 0);
    const ours6 = await best('ours', 0.6);
    const line = (name: string, r: Render): string => `${name.padEnd(44)} ${r.ms.toFixed(1).padStart(7)} ms (${r.msToFrame.toFixed(1)} ms to the next frame)`;
    console.log(`chart with ${points.toLocaleString('en-US')} points, 800×240 px, best of 5:`);
    console.log(line('plain uPlot, every point', plain));
    console.log(line('run panel chart, min/max per pixel column', ours0));
    console.log(line('run panel chart, + smoothing 0.6 (2 lines)', ours6));
    console.log(`ratio run panel / plain uPlot: ${(ours0.ms / plain.ms).toFixed(2)}× (with smoothing ${(ours6.ms / plain.ms).toFixed(2)}×)`);
    const worst = Math.max(ours0.ms, ours6.ms);
    console.log(`goal first render < 250 ms: ${worst < 250 ? 'met' : 'NOT met'} (${worst.toFixed(0)} ms; load average ${os.loadavg()[0]?.toFixed(1)} on ${os.cpus().length} cores)`);
  } finally {
    await browser.close();
  }
}

async function liveBench(dir: string): Promise<void> {
  const logs = path.join(dir, 'logs');
  const child = spawn(process.execPath, [path.join(ROOT, 'test/fixtures/fake-trainer.mjs'), `--logging_dir=${logs}`, `--output_dir=${path.join(dir, 'out')}`, '--max_train_epochs=3', '--fake_batches=20', '--fake_step_ms=97'], { stdio: 'ignore' });
  const latencies: number[] = [];
  try {
    let live: LiveRunSeries | undefined;
    const done = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    let ended = false;
    void done.then(() => (ended = true));
    while (!ended) {
      await new Promise((r) => setTimeout(r, LIVE_POLL_MS));
      if (!live) {
        const run = findRuns(logs)[0];
        if (!run) continue;
        live = new LiveRunSeries(run.dir);
      }
      const r = live.poll();
      const now = Date.now();
      for (const d of r.deltas) for (const w of d.wallTimes) latencies.push(now - w * 1000);
    }
  } finally {
    child.kill();
  }
  latencies.sort((a, b) => a - b);
  const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  console.log(`\nlive path: ${latencies.length} records written by the stand-in trainer, read by polling every ${LIVE_POLL_MS} ms`);
  console.log(`record written → points handed to the webview message: median ${q(0.5).toFixed(0)} ms, p95 ${q(0.95).toFixed(0)} ms, max ${q(1).toFixed(0)} ms`);
  console.log(`goal < 1 s: ${q(1) < 1000 ? 'met' : 'NOT met'} (worst case; the panel reads every ${LIVE_POLL_MS} ms, so about half of that is the average wait)`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lwb-bench-charts-'));
  try {
    await chartBench(dir);
    await liveBench(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
