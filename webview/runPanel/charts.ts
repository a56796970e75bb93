/**
 * The run panel's uPlot charts: one chart per tag group, one line per (run, tag), smoothed with
 * TensorBoard's EMA over the raw line (drawn faintly), min/max-downsampled to the pixel columns of
 * the visible x range (re-done on zoom), linear or log y, step or relative-time x. Colours come from
 * the theme's CSS variables. Also used by bench/charts.ts in headless Chromium.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { alignSeries, downsampleMinMax, smoothEma } from '../../src/core/training/chartMath';

export interface LineData {
  /** legend label */
  label: string;
  /** x values (step, epoch or seconds), ascending */
  xs: ArrayLike<number>;
  ys: ArrayLike<number>;
  /** colour index */
  color: number;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  smoothing: number;
  logY: boolean;
  /** x holds seconds: format the axis as a duration */
  timeX: boolean;
  width: number;
  height: number;
}

const FALLBACK = ['#3794ff', '#f14c4c', '#89d185', '#cca700', '#d18616', '#b180d7'];
const VARS = ['--vscode-charts-blue', '--vscode-charts-red', '--vscode-charts-green', '--vscode-charts-yellow', '--vscode-charts-orange', '--vscode-charts-purple'];

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.body).getPropertyValue(name).trim();
  return v || fallback;
}

export function palette(): string[] {
  return VARS.map((v, i) => cssVar(v, FALLBACK[i] as string));
}

function withAlpha(color: string, alpha: number): string {
  const m = /^#([0-9a-f]{6})$/i.exec(color);
  if (m) return `#${m[1]}${Math.round(alpha * 255).toString(16).padStart(2, '0')}`;
  const rgb = /^rgba?\(([^)]+)\)$/.exec(color);
  if (rgb) {
    const [r, g, b] = (rgb[1] as string).split(',').map((s) => s.trim());
    return `rgba(${r}, ${g}, ${b}, ${alpha})`;
  }
  return color;
}

export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '';
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  return h ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

/** Builds aligned data for uPlot: per line a raw series and (when smoothing) a smoothed one. */
export function buildData(lines: readonly LineData[], opts: Pick<ChartOptions, 'smoothing' | 'logY'>, columns: number, x0?: number, x1?: number): { data: uPlot.AlignedData; points: number } {
  const parts: Array<{ xs: ArrayLike<number>; ys: ArrayLike<number>; length: number }> = [];
  let points = 0;
  for (const l of lines) {
    let ys: ArrayLike<number> = l.ys;
    if (opts.logY) {
      const c = new Float64Array(l.ys.length);
      for (let i = 0; i < c.length; i++) {
        const v = l.ys[i] as number;
        c[i] = v > 0 ? v : NaN;
      }
      ys = c;
    }
    points += l.xs.length;
    parts.push(downsampleMinMax(l.xs, ys, columns, x0, x1));
    if (opts.smoothing > 0) parts.push(downsampleMinMax(l.xs, smoothEma(ys, opts.smoothing), columns, x0, x1));
  }
  return { data: alignSeries(parts) as unknown as uPlot.AlignedData, points };
}

/** One chart; `update` replaces its lines (downsampled again for the current zoom). */
export class Chart {
  readonly el: HTMLElement;
  private plot: uPlot | undefined;
  private lines: readonly LineData[] = [];
  private opts: ChartOptions;
  private zoom: [number, number] | undefined;
  private shapeKey = '';
  /** points behind the chart (before downsampling), for tests */
  points = 0;

  constructor(parent: HTMLElement, opts: ChartOptions) {
    this.opts = opts;
    this.el = document.createElement('div');
    this.el.className = 'chart';
    parent.append(this.el);
  }

  destroy(): void {
    this.plot?.destroy();
    this.el.remove();
  }

  private columns(): number {
    return Math.max(100, Math.round(this.opts.width));
  }

  update(lines: readonly LineData[], opts: ChartOptions): void {
    this.lines = lines;
    const shape = JSON.stringify([lines.map((l) => [l.label, l.color]), opts.smoothing > 0, opts.logY, opts.timeX, opts.title, opts.xLabel]);
    const resized = this.opts.width !== opts.width || this.opts.height !== opts.height;
    this.opts = opts;
    const fresh = !this.plot || shape !== this.shapeKey;
    if (fresh) this.zoom = undefined;
    const { data, points } = buildData(lines, opts, this.columns(), this.zoom?.[0], this.zoom?.[1]);
    this.points = points;
    this.el.dataset['points'] = String(points);
    if (fresh) {
      this.shapeKey = shape;
      this.plot?.destroy();
      this.plot = this.create(data);
      return;
    }
    if (!this.plot) return;
    if (resized) this.plot.setSize({ width: opts.width, height: opts.height });
    this.plot.setData(data, !this.zoom);
    if (this.zoom) this.plot.setScale('x', { min: this.zoom[0], max: this.zoom[1] });
  }

  private create(data: uPlot.AlignedData): uPlot {
    const o = this.opts;
    const colors = palette();
    const fg = cssVar('--vscode-foreground', '#ccc');
    const grid = cssVar('--vscode-editorWidget-border', cssVar('--vscode-panel-border', '#80808040'));
    const series: uPlot.Series[] = [{ label: o.xLabel, value: (_u, v) => (v === null || v === undefined ? '' : o.timeX ? formatDuration(v) : String(v)) }];
    const smooth = o.smoothing > 0;
    for (const l of this.lines) {
      const c = colors[l.color % colors.length] as string;
      series.push({ label: smooth ? `${l.label} (raw)` : l.label, stroke: smooth ? withAlpha(c, 0.3) : c, width: 1, spanGaps: true, points: { show: false }, value: (_u, v) => (v === null || v === undefined ? '' : fmtValue(v)) });
      if (smooth) series.push({ label: l.label, stroke: c, width: 1.5, spanGaps: true, points: { show: false }, value: (_u, v) => (v === null || v === undefined ? '' : fmtValue(v)) });
    }
    const axis = (label: string, time: boolean): uPlot.Axis => ({
      label,
      stroke: fg,
      grid: { stroke: grid, width: 1 },
      ticks: { stroke: grid, width: 1 },
      ...(time ? { values: (_u: uPlot, vals: number[]) => vals.map((v) => formatDuration(v)) } : {}),
    });
    const yAxis = axis('', false);
    yAxis.values = (_u, vals) => vals.map((v) => (v === null || v === undefined ? '' : fmtValue(v)));
    yAxis.size = 60;
    const plot = new uPlot(
      {
        title: o.title,
        width: o.width,
        height: o.height,
        series,
        scales: { x: { time: false }, y: o.logY ? { distr: 3 } : {} },
        axes: [axis(o.timeX ? 'time' : o.xLabel, o.timeX), yAxis],
        legend: { live: true },
        cursor: { drag: { x: true, y: false } },
        hooks: {
          setSelect: [
            (u) => {
              if (u.select.width < 2) return;
              const min = u.posToVal(u.select.left, 'x');
              const max = u.posToVal(u.select.left + u.select.width, 'x');
              this.zoom = [min, max];
              u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
              const { data: zoomed } = buildData(this.lines, this.opts, this.columns(), min, max);
              u.setData(zoomed, false);
              u.setScale('x', { min, max });
            },
          ],
        },
      },
      data,
      this.el,
    );
    // double-click: back to the whole run
    plot.over.addEventListener('dblclick', () => {
      if (!this.zoom) return;
      this.zoom = undefined;
      plot.setData(buildData(this.lines, this.opts, this.columns()).data, true);
    });
    // the raw lines stay out of the legend when a smoothed line stands for them
    if (smooth) {
      const rows = plot.root.querySelectorAll<HTMLElement>('.u-legend .u-series');
      rows.forEach((r, i) => {
        if (i > 0 && i % 2 === 1) r.style.display = 'none';
      });
    }
    return plot;
  }
}

export function fmtValue(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}
