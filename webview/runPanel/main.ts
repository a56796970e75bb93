/**
 * Training run panel webview: renders what the host sends (src/features/runPanel/panel.ts). It
 * keeps the points it was sent (a snapshot on load, then appends) and only view state in
 * setState: the target (for restore after reload), smoothing, axes.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-collapsible/index.js';
import './style.css';
import type { HostToWebview, RunPanelCheckpoint, RunPanelGpu, RunPanelImage, RunPanelOutputs, RunPanelProgress, RunPanelRun, RunPanelSeries, RunPanelTarget } from '../../src/core/protocol';
import { groupTags } from '../../src/core/training/chartMath';
import { getState, h, post, setState, connect } from '../shared/api';
import { Chart, formatDuration, type LineData } from './charts';

interface ViewState {
  target?: RunPanelTarget;
  smoothing: number;
  logY: boolean;
  xMode: 'step' | 'time';
}

const saved = getState<ViewState>();
const view: ViewState = { smoothing: saved?.smoothing ?? 0.6, logY: saved?.logY ?? false, xMode: saved?.xMode ?? 'step', ...(saved?.target ? { target: saved.target } : {}) };
function saveView(): void {
  setState(view);
}

// ---- data ----------------------------------------------------------------------------------
class Column {
  steps: number[] = [];
  walls: number[] = [];
  values: number[] = [];
}
/** run → tag → points */
const store = new Map<string, Map<string, Column>>();
let runs: RunPanelRun[] = [];

function applySeries(reset: boolean, series: RunPanelSeries[]): void {
  if (reset) store.clear();
  for (const s of series) {
    let byTag = store.get(s.run);
    if (!byTag) store.set(s.run, (byTag = new Map()));
    let c = byTag.get(s.tag);
    if (!c) byTag.set(s.tag, (c = new Column()));
    for (let i = 0; i < s.steps.length; i++) {
      c.steps.push(s.steps[i] as number);
      c.walls.push(s.wallTimes[i] as number);
      c.values.push(s.values[i] as number);
    }
  }
}

// ---- layout --------------------------------------------------------------------------------
const app = document.getElementById('app') as HTMLElement;
const title = h('h1', { text: 'Training run' });
const subtitle = h('div', { class: 'muted path' });
const problemsEl = h('ul', { class: 'problems' });
const progressEl = h('section', { class: 'progress', attrs: { hidden: '' } });
const gpuEl = h('div', { class: 'gpu', attrs: { hidden: '' } });
const runsEl = h('div', { class: 'runs' });
const chartsEl = h('div', { class: 'charts' });
const emptyCharts = h('p', { class: 'muted', text: 'No scalars yet.' });
const samplesEl = h('section', { class: 'samples' });
const loraTestEl = h('section', { class: 'loraTest' });
const checkpointsEl = h('section', { class: 'checkpoints' });
const statesEl = h('section', { class: 'states' });

function controls(): HTMLElement {
  const slider = h('input', { attrs: { type: 'range', min: '0', max: '0.99', step: '0.01', 'aria-label': 'Smoothing' } });
  slider.value = String(view.smoothing);
  const sv = h('span', { class: 'num', text: view.smoothing.toFixed(2) });
  slider.addEventListener('input', () => {
    view.smoothing = Number(slider.value);
    sv.textContent = view.smoothing.toFixed(2);
    saveView();
    scheduleDraw(true);
  });
  const select = (label: string, options: Array<[string, string]>, value: string, on: (v: string) => void): HTMLElement => {
    const s = h('select', { attrs: { 'aria-label': label } });
    for (const [v, t] of options) {
      const o = h('option', { text: t, attrs: { value: v } });
      if (v === value) o.selected = true;
      s.append(o);
    }
    s.addEventListener('change', () => on(s.value));
    return h('label', {}, `${label} `, s);
  };
  const add = h('vscode-button' as 'button', { attrs: { secondary: '' }, text: 'Add Run Folder…' });
  add.addEventListener('click', () => post({ type: 'run/addFolder' }));
  return h(
    'div',
    { class: 'controls' },
    h('label', {}, 'Smoothing ', slider, ' ', sv),
    select('Y axis', [['linear', 'linear'], ['log', 'log']], view.logY ? 'log' : 'linear', (v) => {
      view.logY = v === 'log';
      saveView();
      scheduleDraw(true);
    }),
    select('X axis', [['step', 'step'], ['time', 'relative time']], view.xMode, (v) => {
      view.xMode = v === 'time' ? 'time' : 'step';
      saveView();
      scheduleDraw(true);
    }),
    add,
  );
}

app.append(
  h('header', {}, h('div', {}, title, subtitle)),
  problemsEl,
  progressEl,
  gpuEl,
  h('h2', { text: 'Charts' }),
  runsEl,
  controls(),
  chartsEl,
  loraTestEl,
  samplesEl,
  checkpointsEl,
  statesEl,
);
chartsEl.append(emptyCharts);

// ---- charts --------------------------------------------------------------------------------
const charts = new Map<string, Chart>();
let drawPending = false;
let lastDraw = 0;
let lastSentAt = 0;

function scheduleDraw(now = false): void {
  if (drawPending) return;
  drawPending = true;
  const wait = now ? 0 : Math.max(0, 200 - (performance.now() - lastDraw));
  setTimeout(() => requestAnimationFrame(draw), wait);
}

function runLabel(id: string): string {
  return runs.find((r) => r.id === id)?.label ?? id;
}

function draw(): void {
  drawPending = false;
  lastDraw = performance.now();
  const shownRuns = runs.filter((r) => r.selected && store.has(r.id)).map((r) => r.id);
  const tags: string[] = [];
  for (const id of shownRuns) for (const t of store.get(id)?.keys() ?? []) if (!tags.includes(t)) tags.push(t);
  const groups = groupTags(tags);
  emptyCharts.hidden = groups.length > 0;
  const width = Math.max(300, Math.min(chartsEl.clientWidth || 800, 1400));
  const perRow = width >= 1000 ? 2 : 1;
  // the chart's border and padding (10 px) and the gap between charts (12 px)
  const cw = Math.floor((width - 12 * (perRow - 1)) / perRow) - 10;
  const keep = new Set(groups.map((g) => g.id));
  for (const [id, c] of charts) {
    if (keep.has(id)) continue;
    c.destroy();
    charts.delete(id);
  }
  for (const g of groups) {
    const lines: LineData[] = [];
    let color = 0;
    for (const run of shownRuns) {
      const byTag = store.get(run);
      const start = Math.min(...[...(byTag?.values() ?? [])].map((c) => c.walls[0] ?? Infinity));
      for (const tag of g.tags) {
        const c = byTag?.get(tag);
        if (!c) {
          color++;
          continue;
        }
        const xs = view.xMode === 'time' ? c.walls.map((w) => w - start) : c.steps;
        lines.push({ label: shownRuns.length > 1 ? `${runLabel(run)} · ${tag}` : tag, xs, ys: c.values, color: color++ });
      }
    }
    let chart = charts.get(g.id);
    const opts = { title: g.title, xLabel: g.xLabel, smoothing: view.smoothing, logY: view.logY, timeX: view.xMode === 'time', width: cw, height: 240 };
    if (!chart) {
      chart = new Chart(chartsEl, opts);
      chart.el.dataset['group'] = g.id;
      charts.set(g.id, chart);
    }
    chart.update(lines, opts);
  }
  // order the chart elements like the groups
  for (const g of groups) {
    const c = charts.get(g.id);
    if (c) chartsEl.append(c.el);
  }
  if (lastSentAt) document.body.dataset['lastDrawLatencyMs'] = String(Date.now() - lastSentAt);
}

let resizeTimer: number | undefined;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = window.setTimeout(() => scheduleDraw(true), 150);
});

// ---- runs, progress, gpu -------------------------------------------------------------------
function renderInfo(target: RunPanelTarget, list: RunPanelRun[], problems: string[]): void {
  view.target = target;
  saveView();
  runs = list;
  title.textContent = target.title;
  subtitle.textContent = [target.outputDir ? `output: ${target.outputDir}` : '', target.loggingDir ? `logs: ${target.loggingDir}` : '', target.config ? `config: ${target.config}` : ''].filter(Boolean).join(' · ');
  problemsEl.replaceChildren(...problems.map((p) => h('li', { class: 'error', text: p })));
  runsEl.replaceChildren();
  if (list.length) {
    runsEl.append(h('span', { class: 'muted', text: 'Runs: ' }));
    for (const r of list) {
      const cb = h('vscode-checkbox' as 'input', { attrs: { label: r.label, 'data-run': r.id } });
      (cb as unknown as { checked: boolean }).checked = r.selected;
      if (r.selected) cb.setAttribute('checked', '');
      cb.addEventListener('change', () => {
        const chosen = [...runsEl.querySelectorAll<HTMLElement>('[data-run]')].filter((e) => (e as unknown as { checked: boolean }).checked).map((e) => e.dataset['run'] as string);
        post({ type: 'run/select', runs: chosen });
      });
      runsEl.append(cb);
    }
  }
  app.setAttribute('aria-busy', 'false');
  scheduleDraw(true);
}

function renderProgress(p: RunPanelProgress | null): void {
  progressEl.hidden = !p;
  if (!p) return;
  const pct = p.percent ?? (p.step !== undefined && p.total ? Math.floor((100 * p.step) / p.total) : 0);
  const stateText = { running: 'running', finished: 'finished', failed: 'failed', stopped: 'stopped' }[p.state];
  const bar = h('div', { class: 'bar', attrs: { role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(pct) } }, h('div', { class: `fill ${p.state}`, attrs: { 'data-pct': String(pct) } }));
  (bar.firstChild as HTMLElement).style.width = `${pct}%`;
  const facts: string[] = [];
  if (p.step !== undefined && p.total !== undefined) facts.push(`step ${p.step}/${p.total} (${pct}%)`);
  if (p.epoch !== undefined && p.totalEpochs !== undefined) facts.push(`epoch ${p.epoch}/${p.totalEpochs}`);
  if (p.rate) facts.push(p.rate);
  if (p.state === 'running' && p.eta !== undefined) facts.push(`ETA ${formatDuration(p.eta)}`);
  if (p.elapsed !== undefined) facts.push(`elapsed ${formatDuration(p.elapsed)}`);
  if (p.loss !== undefined) facts.push(`avr_loss ${p.loss}`);
  progressEl.replaceChildren(h('div', { class: 'facts' }, h('strong', { text: `${p.name}: ${stateText}` }), h('span', { text: facts.join(' · ') })), bar);
}

function renderGpu(gpus: RunPanelGpu[] | null): void {
  gpuEl.hidden = !gpus || gpus.length === 0;
  if (!gpus) return;
  gpuEl.replaceChildren(
    ...gpus.map((g) => {
      const mem = g.memoryUsedMiB !== undefined && g.memoryTotalMiB !== undefined ? `${(g.memoryUsedMiB / 1024).toFixed(1)} / ${(g.memoryTotalMiB / 1024).toFixed(1)} GiB` : '? GiB';
      return h('span', { class: 'chip', text: `GPU ${g.index}: ${g.utilizationPercent ?? '?'}% · ${mem}` });
    }),
  );
}

// ---- images --------------------------------------------------------------------------------
const lightbox = h('div', { class: 'lightbox', attrs: { hidden: '', role: 'dialog', 'aria-label': 'Sample image' } });
document.body.append(lightbox);
lightbox.addEventListener('click', () => (lightbox.hidden = true));
window.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') lightbox.hidden = true;
});

function thumb(img: RunPanelImage): HTMLElement {
  const el = h('img', { title: img.title, attrs: { src: img.src, alt: img.title, loading: 'lazy', tabindex: '0' } });
  const open = (): void => {
    lightbox.replaceChildren(h('img', { attrs: { src: img.src, alt: img.title } }), h('div', { class: 'caption', text: img.title }));
    lightbox.hidden = false;
  };
  el.addEventListener('click', open);
  el.addEventListener('keydown', (e) => e.key === 'Enter' && open());
  return el;
}

function renderSamples(o: RunPanelOutputs): void {
  const s = o.samples;
  samplesEl.replaceChildren(h('h2', { text: `Samples (${s.cells.reduce((n, r) => n + r.filter(Boolean).length, 0)})` }));
  if (!o.outputDir) {
    samplesEl.append(h('p', { class: 'muted', text: 'No output folder is known for this run.' }));
    return;
  }
  if (s.columns.length === 0) {
    samplesEl.append(h('p', { class: 'muted', text: `No sample images in ${o.outputDir}/sample yet.` }));
    return;
  }
  const head = h('tr', {}, h('th', { text: 'Prompt' }), ...s.columns.map((c) => h('th', { text: c.label })));
  const promptCell = (r: number): HTMLElement => {
    const p = s.prompts[r];
    return h('th', { class: 'prompt', text: `#${p?.index ?? r}${p?.text ? ` ${p.text}` : ''}`, ...(p?.text ? { title: p.text } : {}) });
  };
  const rows = s.cells.map((row, r) => h('tr', {}, promptCell(r), ...row.map((cell) => h('td', {}, ...(cell ? [thumb(cell)] : [])))));
  samplesEl.append(h('div', { class: 'scroll' }, h('table', { class: 'grid', attrs: { 'aria-label': 'Sample images by prompt and epoch or step' } }, h('thead', {}, head), h('tbody', {}, ...rows))));
}

function renderLoraTest(o: RunPanelOutputs): void {
  loraTestEl.replaceChildren();
  const t = o.loraTest;
  if (!t) return;
  loraTestEl.append(h('h2', { text: 'LoRA test' }));
  if (!t.ok) {
    loraTestEl.append(h('p', { class: 'error', text: t.error }));
    return;
  }
  for (const epoch of t.epochs) {
    const head = h('tr', {}, h('th', { text: 'Prompt' }), ...t.strengths.map((s) => h('th', { text: `strength ${s}` })));
    const rows = t.prompts.map((p, pi) =>
      h(
        'tr',
        {},
        h('th', { class: 'prompt', text: p, title: p }),
        ...t.strengths.map((s) => {
          const im = t.images.find((i) => i.prompt === pi && i.strength === s && i.epoch === epoch);
          return h('td', {}, ...(im?.image ? [thumb(im.image)] : [h('span', { class: 'muted', text: im ? 'missing' : '—' })]));
        }),
      ),
    );
    loraTestEl.append(h('h3', { text: epoch === null ? 'Final model' : `Epoch ${epoch}` }), h('div', { class: 'scroll' }, h('table', { class: 'grid' }, h('thead', {}, head), h('tbody', {}, ...rows))));
  }
}

function size(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

function checkpointDetails(c: RunPanelCheckpoint): HTMLElement {
  const box = h('vscode-collapsible' as 'div', { attrs: { title: 'ss_* metadata', class: 'meta' } });
  if (c.error) {
    box.append(h('p', { class: 'error', text: c.error }));
    return box;
  }
  box.append(h('table', { class: 'kv' }, h('tbody', {}, ...c.summary.map(([k, v]) => h('tr', {}, h('th', { text: k }), h('td', { text: v }))))));
  if (c.tagFrequency) {
    for (const [dir, tags] of Object.entries(c.tagFrequency)) {
      const top = Object.entries(tags ?? {})
        .sort((a, b) => b[1] - a[1])
        .slice(0, 40);
      box.append(h('h4', { text: `Tag frequency: ${dir}` }), h('div', { class: 'tags' }, ...top.map(([t, n]) => h('span', { class: 'tag' }, t, h('span', { class: 'count', text: String(n) })))));
    }
  }
  const keys = Object.keys(c.ss).sort();
  if (keys.length) {
    const all = h('details', {}, h('summary', { text: `All ss_* keys (${keys.length})` }), h('table', { class: 'kv' }, h('tbody', {}, ...keys.map((k) => h('tr', {}, h('th', { text: k }), h('td', { class: 'mono', text: c.ss[k] ?? '' }))))));
    box.append(all);
  }
  return box;
}

function renderCheckpoints(o: RunPanelOutputs): void {
  checkpointsEl.replaceChildren(h('h2', { text: `Checkpoints (${o.checkpoints.length})` }));
  if (o.outputDir && o.checkpoints.length === 0) checkpointsEl.append(h('p', { class: 'muted', text: `No model files in ${o.outputDir} yet.` }));
  for (const c of o.checkpoints) {
    const reveal = h('a', { class: 'link', text: 'Reveal', attrs: { role: 'button', tabindex: '0' } });
    reveal.addEventListener('click', () => post({ type: 'run/reveal', path: c.file, inOs: false }));
    const os = h('a', { class: 'link', text: 'Reveal in OS', attrs: { role: 'button', tabindex: '0' } });
    os.addEventListener('click', () => post({ type: 'run/reveal', path: c.file, inOs: true }));
    const when = c.kind === 'epoch' ? `epoch ${c.epoch}` : c.kind === 'step' ? `step ${c.step}` : 'final';
    checkpointsEl.append(
      h('div', { class: 'ckpt', attrs: { 'data-name': c.name } }, h('div', { class: 'row' }, h('strong', { text: c.name }), h('span', { class: 'muted', text: `${when} · ${size(c.size)} · ${new Date(c.mtimeMs).toLocaleString()}` }), reveal, os), checkpointDetails(c)),
    );
  }
}

function renderStates(o: RunPanelOutputs): void {
  statesEl.replaceChildren();
  if (o.states.length === 0) return;
  statesEl.append(h('h2', { text: `Saved states (${o.states.length})` }));
  if (!o.canResume) statesEl.append(h('p', { class: 'muted', text: 'Open this run from its training config to resume it.' }));
  for (const s of o.states) {
    const facts = [s.epoch !== undefined ? `epoch ${s.epoch}` : '', s.step !== undefined ? `step ${s.step}` : ''].filter(Boolean).join(' · ');
    const btn = h('vscode-button' as 'button', { text: 'Resume from this state', attrs: { secondary: '', 'data-state': s.dir } });
    if (!o.canResume) btn.setAttribute('disabled', '');
    btn.addEventListener('click', () => post({ type: 'run/resume', state: s.dir }));
    statesEl.append(h('div', { class: 'row state' }, h('strong', { text: s.name }), h('span', { class: 'muted', text: facts }), ...(s.problem ? [h('span', { class: 'error', text: s.problem })] : []), btn));
  }
}

// ---- messages ------------------------------------------------------------------------------
connect((m: HostToWebview) => {
  switch (m.type) {
    case 'run/info':
      renderInfo(m.target, m.runs, m.problems);
      break;
    case 'run/series':
      applySeries(m.reset, m.series);
      lastSentAt = m.sentAt;
      scheduleDraw(m.reset);
      break;
    case 'run/progress':
      renderProgress(m.progress);
      break;
    case 'run/gpu':
      renderGpu(m.gpus);
      break;
    case 'run/outputs':
      renderLoraTest(m.outputs);
      renderSamples(m.outputs);
      renderCheckpoints(m.outputs);
      renderStates(m.outputs);
      break;
    default:
      break;
  }
});
