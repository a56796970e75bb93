/**
 * The page bench/charts.ts loads in headless Chromium: renders a chart of N points with the run
 * panel's own Chart (smoothing + min/max downsampling + uPlot) and, as the baseline, a plain uPlot
 * chart given every point. Not part of the extension.
 */
import uPlot from 'uplot';
import { Chart } from './charts';

function data(n: number): { xs: Float64Array; ys: Float64Array } {
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  let seed = 12345;
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    xs[i] = i + 1;
    ys[i] = 0.12 + 0.03 * Math.sin(i / 5000) + ((seed / 4294967296) - 0.5) * 0.05 - (0.02 * i) / n;
  }
  return { xs, ys };
}

const frame = (): Promise<void> => new Promise((r) => requestAnimationFrame(() => r()));

async function ours(n: number, smoothing: number): Promise<{ ms: number; msToFrame: number; drawn: number }> {
  const { xs, ys } = data(n);
  const host = document.createElement('div');
  document.body.append(host);
  await frame();
  const t0 = performance.now();
  const c = new Chart(host, { title: 'loss', xLabel: 'step', smoothing, logY: false, timeX: false, width: 800, height: 240 });
  c.update([{ label: 'loss/current', xs, ys, color: 0 }], { title: 'loss', xLabel: 'step', smoothing, logY: false, timeX: false, width: 800, height: 240 });
  await Promise.resolve();
  const ms = performance.now() - t0;
  await frame();
  const msToFrame = performance.now() - t0;
  const drawn = host.querySelectorAll('canvas').length;
  c.destroy();
  host.remove();
  return { ms, msToFrame, drawn };
}

async function plain(n: number): Promise<{ ms: number; msToFrame: number; drawn: number }> {
  const { xs, ys } = data(n);
  const host = document.createElement('div');
  document.body.append(host);
  await frame();
  const t0 = performance.now();
  const u = new uPlot({ width: 800, height: 240, series: [{}, { stroke: 'red', points: { show: false } }], scales: { x: { time: false } } }, [xs as unknown as number[], ys as unknown as number[]], host);
  await Promise.resolve();
  const ms = performance.now() - t0;
  await frame();
  const msToFrame = performance.now() - t0;
  const drawn = host.querySelectorAll('canvas').length;
  u.destroy();
  host.remove();
  return { ms, msToFrame, drawn };
}

(window as unknown as { lwbBench: unknown }).lwbBench = { ours, plain };
