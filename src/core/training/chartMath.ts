/**
 * The maths of the run panel's charts, shared by the host, the webview and the chart benchmark:
 * TensorBoard-style smoothing, min/max downsampling per pixel column, grouping of scalar tags into
 * charts, and the prompt × epoch/step grid of sample images. Pure (no Node, no DOM, no vscode).
 */

/**
 * TensorBoard's smoothing: an exponential moving average debiased like Adam's moments (so the first
 * points are not pulled towards 0). `weight` in [0, 1); 0 returns the values unchanged. Points that
 * are not finite (NaN/Inf loss) are passed through and do not disturb the average.
 */
export function smoothEma(values: ArrayLike<number>, weight: number, out?: Float64Array): Float64Array {
  const n = values.length;
  const res = out && out.length >= n ? out : new Float64Array(n);
  const w = Math.min(Math.max(Number.isFinite(weight) ? weight : 0, 0), 0.999);
  let last = 0;
  /** w^count, kept as a running product (Math.pow per point costs more than the rest) */
  let wPow = 1;
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) {
      res[i] = v;
      continue;
    }
    if (w === 0) {
      res[i] = v;
      continue;
    }
    last = last * w + (1 - w) * v;
    wPow *= w;
    res[i] = last / (1 - wPow);
  }
  return res;
}

export interface Downsampled {
  xs: Float64Array;
  ys: Float64Array;
  /** number of points used in xs/ys */
  length: number;
}

/**
 * Reduces a series sorted by x to at most 4 points per pixel column over [x0, x1] (the first, the
 * lowest, the highest and the last point of the column, in x order), so the drawn line looks the
 * same as with every point: spikes survive. Points outside [x0, x1] are dropped, except one on
 * each side so the line runs to the edge. Series that already fit are returned as they are.
 * Non-finite y values are kept (they break the line as in the original).
 */
export function downsampleMinMax(xs: ArrayLike<number>, ys: ArrayLike<number>, columns: number, x0?: number, x1?: number): Downsampled {
  const n = Math.min(xs.length, ys.length);
  const cols = Math.max(1, Math.floor(columns));
  let lo = 0;
  let hi = n; // exclusive
  if (x0 !== undefined) {
    lo = lowerBound(xs, x0, n);
    if (lo > 0) lo--;
  }
  if (x1 !== undefined) {
    hi = upperBound(xs, x1, n);
    if (hi < n) hi++;
  }
  const m = Math.max(0, hi - lo);
  if (m <= cols * 4) {
    const ox = new Float64Array(m);
    const oy = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      ox[i] = xs[lo + i] as number;
      oy[i] = ys[lo + i] as number;
    }
    return { xs: ox, ys: oy, length: m };
  }
  const start = x0 ?? (xs[lo] as number);
  const end = x1 ?? (xs[hi - 1] as number);
  const span = end > start ? end - start : 1;
  const ox = new Float64Array(cols * 4 + 4);
  const oy = new Float64Array(cols * 4 + 4);
  let k = 0;
  let i = lo;
  while (i < hi) {
    const x = xs[i] as number;
    let col = Math.floor(((x - start) / span) * cols);
    if (col < 0) col = -1;
    if (col >= cols) col = cols;
    // the points of this column: [i, j)
    let j = i + 1;
    let iMin = -1;
    let iMax = -1;
    let vMin = Infinity;
    let vMax = -Infinity;
    let broken = false;
    const check = (p: number): void => {
      const y = ys[p] as number;
      if (!Number.isFinite(y)) broken = true;
      else {
        if (y < vMin) {
          vMin = y;
          iMin = p;
        }
        if (y > vMax) {
          vMax = y;
          iMax = p;
        }
      }
    };
    check(i);
    while (j < hi) {
      const xj = xs[j] as number;
      let cj = Math.floor(((xj - start) / span) * cols);
      if (cj < 0) cj = -1;
      if (cj >= cols) cj = cols;
      if (cj !== col) break;
      check(j);
      j++;
    }
    const last = j - 1;
    // first, min, max, last in x order, without repeats; a NaN in the column is kept as a gap
    const picks = [i, iMin, iMax, last].filter((p) => p >= 0).sort((a, b) => a - b);
    let prev = -1;
    for (const p of picks) {
      if (p === prev) continue;
      prev = p;
      ox[k] = xs[p] as number;
      oy[k] = ys[p] as number;
      k++;
    }
    if (broken && k > 0) {
      // a gap after the column keeps the line broken where the data has NaN
      ox[k] = xs[last] as number;
      oy[k] = NaN;
      k++;
    }
    if (k + 5 > ox.length) break;
    i = j;
  }
  return { xs: ox.subarray(0, k), ys: oy.subarray(0, k), length: k };
}

function lowerBound(a: ArrayLike<number>, v: number, n: number): number {
  let l = 0;
  let h = n;
  while (l < h) {
    const m = (l + h) >>> 1;
    if ((a[m] as number) < v) l = m + 1;
    else h = m;
  }
  return l;
}
function upperBound(a: ArrayLike<number>, v: number, n: number): number {
  let l = 0;
  let h = n;
  while (l < h) {
    const m = (l + h) >>> 1;
    if ((a[m] as number) <= v) l = m + 1;
    else h = m;
  }
  return l;
}

/**
 * Merges series with different x values into uPlot's aligned layout: one sorted x array and one y
 * array per series with null where a series has no point. Duplicate x within a series: the last wins.
 */
export function alignSeries(series: ReadonlyArray<{ xs: ArrayLike<number>; ys: ArrayLike<number>; length?: number }>): [number[], ...Array<Array<number | null>>] {
  const all: number[] = [];
  for (const s of series) {
    const n = s.length ?? s.xs.length;
    for (let i = 0; i < n; i++) all.push(s.xs[i] as number);
  }
  all.sort((a, b) => a - b);
  const xs: number[] = [];
  for (const x of all) if (xs.length === 0 || xs[xs.length - 1] !== x) xs.push(x);
  const index = new Map<number, number>();
  xs.forEach((x, i) => index.set(x, i));
  const out: [number[], ...Array<Array<number | null>>] = [xs];
  for (const s of series) {
    const ys: Array<number | null> = new Array<number | null>(xs.length).fill(null);
    const n = s.length ?? s.xs.length;
    for (let i = 0; i < n; i++) {
      const y = s.ys[i] as number;
      ys[index.get(s.xs[i] as number) as number] = Number.isFinite(y) ? y : null;
    }
    out.push(ys);
  }
  return out;
}

export interface ChartGroup {
  id: string;
  title: string;
  /** what the x axis counts in step mode */
  xLabel: 'step' | 'epoch';
  tags: string[];
}

/**
 * Which charts the tags go to: per-step losses together, the per-epoch losses (their step is the
 * epoch) apart, learning rates together, validation losses (step and epoch apart), then every other
 * tag prefix (`max_norm/…`, `norm/…`) in a chart of its own. Charts with no tag are left out.
 */
export function groupTags(tags: readonly string[]): ChartGroup[] {
  const groups = new Map<string, ChartGroup>();
  const add = (id: string, title: string, xLabel: 'step' | 'epoch', tag: string): void => {
    let g = groups.get(id);
    if (!g) {
      g = { id, title, xLabel, tags: [] };
      groups.set(id, g);
    }
    if (!g.tags.includes(tag)) g.tags.push(tag);
  };
  for (const t of tags) {
    if (t.startsWith('loss/validation/')) {
      if (/epoch/.test(t.slice('loss/validation/'.length))) add('validationEpoch', 'Validation loss per epoch', 'epoch', t);
      else add('validation', 'Validation loss', 'step', t);
    } else if (t === 'loss/epoch_average' || t === 'loss/epoch') add('lossEpoch', 'Loss per epoch', 'epoch', t);
    else if (t.startsWith('loss/') || t === 'loss') add('loss', 'Loss', 'step', t);
    else if (t.startsWith('lr/') || t === 'lr') add('lr', 'Learning rate', 'step', t);
    else {
      const prefix = t.includes('/') ? t.slice(0, t.indexOf('/')) : t;
      add(`other:${prefix}`, prefix, 'step', t);
    }
  }
  const order = ['loss', 'lossEpoch', 'validation', 'validationEpoch', 'lr'];
  return [...groups.values()].sort((a, b) => {
    const ia = order.indexOf(a.id);
    const ib = order.indexOf(b.id);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.id.localeCompare(b.id);
  });
}

/** What a sample-image grid needs of a sample (see parseSampleName in runs.ts). */
export interface GridSample {
  file: string;
  trigger: 'epoch' | 'step';
  epoch?: number;
  step?: number;
  promptIndex: number;
  timestamp: string;
}

export interface SampleGrid<S extends GridSample = GridSample> {
  /** column keys in order: `e3` (epoch 3) or `s500` (step 500) */
  columns: Array<{ key: string; label: string; trigger: 'epoch' | 'step'; n: number }>;
  /** prompt indexes in order */
  prompts: number[];
  /** cells[prompt row][column] → the newest sample for that cell, or undefined */
  cells: Array<Array<S | undefined>>;
}

/**
 * The samples as a grid: one row per prompt, one column per epoch (`e000003`) or step (`000500`).
 * Epoch columns and step columns are ordered by when they were made (a run sampling at the first
 * step and every N epochs mixes both). Two files for one cell (a resumed run): the newest wins.
 */
export function sampleGrid<S extends GridSample>(samples: readonly S[]): SampleGrid<S> {
  const cols = new Map<string, { key: string; label: string; trigger: 'epoch' | 'step'; n: number; first: string }>();
  const prompts = new Set<number>();
  for (const s of samples) {
    const n = s.trigger === 'epoch' ? (s.epoch ?? 0) : (s.step ?? 0);
    const key = `${s.trigger === 'epoch' ? 'e' : 's'}${n}`;
    const c = cols.get(key);
    if (!c) cols.set(key, { key, label: s.trigger === 'epoch' ? `epoch ${n}` : `step ${n}`, trigger: s.trigger, n, first: s.timestamp });
    else if (s.timestamp < c.first) c.first = s.timestamp;
    prompts.add(s.promptIndex);
  }
  // epoch 0 (sample_at_first) and steps sort by the step they stand for when both kinds are present
  const columns = [...cols.values()].sort((a, b) => a.first.localeCompare(b.first) || (a.trigger === b.trigger ? a.n - b.n : a.trigger === 'epoch' ? -1 : 1));
  const promptList = [...prompts].sort((a, b) => a - b);
  const colIndex = new Map(columns.map((c, i) => [c.key, i]));
  const rowIndex = new Map(promptList.map((p, i) => [p, i]));
  const cells: Array<Array<S | undefined>> = promptList.map(() => new Array<S | undefined>(columns.length).fill(undefined));
  for (const s of samples) {
    const key = `${s.trigger === 'epoch' ? 'e' : 's'}${s.trigger === 'epoch' ? (s.epoch ?? 0) : (s.step ?? 0)}`;
    const row = cells[rowIndex.get(s.promptIndex) as number] as Array<S | undefined>;
    const ci = colIndex.get(key) as number;
    const cur = row[ci];
    if (!cur || cur.timestamp <= s.timestamp) row[ci] = s;
  }
  return { columns: columns.map(({ key, label, trigger, n }) => ({ key, label, trigger, n })), prompts: promptList, cells };
}
