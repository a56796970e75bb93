/**
 * One training run panel: the host side. It owns the data (scalars per run folder in column
 * storage, read incrementally), polls while visible, and sends the webview a snapshot when it
 * (re)loads and only new points afterwards. Samples, checkpoints, states and "Test the LoRA"
 * results are listed from the output folder; progress comes from the training task's parser.
 */
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RunPanelCheckpoint, RunPanelGpu, RunPanelImage, RunPanelOutputs, RunPanelProgress, RunPanelRun, RunPanelSeries, RunPanelTarget } from '../../core/protocol';
import {
  findRuns,
  isInside,
  listCheckpoints,
  listSamples,
  listStates,
  LiveRunSeries,
  LIVE_POLL_MS,
  NVIDIA_SMI_USAGE_QUERY,
  outputSignature,
  parseNvidiaSmiUsage,
  readLoraTest,
  readSamplePrompts,
  readSafetensorsHeader,
  runsForLocations,
  sampleGrid,
  summarizeLoraMetadata,
  type RunFolder,
} from '../../core/training';
import { Disposable } from '../../platform/dispose';
import { getLog } from '../../platform/log';
import { WebviewChannel, webviewHtml } from '../../platform/webview';
import type { RunInfo } from '../training/process';

/** How often the event files are read while the panel is visible. */
const POLL_MS = LIVE_POLL_MS;
/** Run list, output folder and GPU, every this many polls. */
const SLOW_EVERY = 8;

/** nvidia-smi is looked for once per window: absent → the GPU row stays hidden. */
let nvidiaSmiMissing = false;

export interface RunPanelHooks {
  /** resume from a saved state folder (the training feature launches the task) */
  resume(target: RunPanelTarget, stateDir: string): Promise<void>;
  /** let the user pick a folder to overlay */
  pickFolder(): Promise<string | undefined>;
}

function runLabel(r: RunFolder, root: string | undefined): string {
  if (r.prefix !== undefined && r.timestamp) {
    const t = r.timestamp;
    return `${r.prefix}${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)} ${t.slice(8, 10)}:${t.slice(10, 12)}:${t.slice(12, 14)}`;
  }
  return root ? path.relative(root, r.dir) || path.basename(r.dir) : path.basename(r.dir);
}

export class RunPanel extends Disposable {
  private readonly channel: WebviewChannel;
  private target: RunPanelTarget;
  private runs: RunFolder[] = [];
  private readonly live = new Map<string, LiveRunSeries>();
  private selected: Set<string> | undefined;
  /** run folders already considered for auto-selection */
  private readonly known = new Set<string>();
  /** following a training task started at this time (ms): its new run folder gets selected */
  private followSince: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private tick = 0;
  private outputsSig = '';
  /** problems met while reading (corrupt records) */
  readonly problems: string[] = [];
  private reportedCorrupt = new Set<string>();
  private liveRun: RunInfo | undefined;
  private progressKey = '';
  /** what was sent last (tests) */
  lastOutputs: RunPanelOutputs | undefined;
  lastProgress: RunPanelProgress | null = null;
  lastGpu: RunPanelGpu[] | null = null;
  /** the problems shown at the top of the panel (tests) */
  infoProblems: string[] = [];
  private gpuBusy = false;
  private readonly onSeriesPosted = this.register(new vscode.EventEmitter<{ points: number; sentAt: number; newestWallTime: number }>());
  /** fired after points were posted to the webview (tests and the latency check) */
  readonly onDidPostSeries = this.onSeriesPosted.event;
  /** points posted so far, per run and tag (tests) */
  readonly posted = new Map<string, number>();

  constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly extensionUri: vscode.Uri,
    target: RunPanelTarget,
    private readonly hooks: RunPanelHooks,
    options: { followSince?: number; run?: RunInfo } = {},
  ) {
    super();
    this.target = target;
    this.followSince = options.followSince;
    this.liveRun = options.run;
    if (target.selected) this.selected = new Set(target.selected);
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'activity-bar.svg');
    this.applyOptions();
    this.channel = this.register(new WebviewChannel(panel.webview));
    panel.webview.html = webviewHtml(panel.webview, extensionUri, 'runPanel', 'Training run');
    panel.title = `Run: ${target.title}`;
    this.register(panel.onDidDispose(() => this.dispose()));
    this.register(panel.onDidChangeViewState(() => this.schedule()));
    this.register(this.channel.onMessage((m) => void this.handleMessage(m)));
    this.register({ dispose: () => this.stopTimer() });
    this.refreshRuns();
    this.schedule();
  }

  get currentTarget(): RunPanelTarget {
    return { ...this.target, ...(this.selected ? { selected: [...this.selected] } : {}) };
  }

  get runFolders(): readonly RunFolder[] {
    return this.runs;
  }

  get selectedRuns(): string[] {
    return this.runs.filter((r) => this.isSelected(r.dir)).map((r) => r.dir);
  }

  /** Shows another target in this panel (the panel is reused). */
  show(target: RunPanelTarget, options: { followSince?: number; run?: RunInfo; preserveFocus?: boolean } = {}): void {
    const same = JSON.stringify({ ...target, selected: undefined }) === JSON.stringify({ ...this.target, selected: undefined });
    this.target = target;
    this.followSince = options.followSince;
    if (options.run) this.liveRun = options.run;
    else if (!same) this.liveRun = undefined;
    if (!same || options.followSince !== undefined) {
      this.selected = target.selected ? new Set(target.selected) : undefined;
      this.live.clear();
      this.posted.clear();
      this.known.clear();
      this.problems.length = 0;
      this.reportedCorrupt.clear();
      this.outputsSig = '';
      this.progressKey = '';
      this.applyOptions();
      this.panel.title = `Run: ${target.title}`;
      this.refreshRuns();
      this.sendAll();
    }
    this.panel.reveal(undefined, options.preserveFocus);
    this.schedule();
  }

  private applyOptions(): void {
    const roots = [vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview')];
    if (this.target.outputDir) roots.push(vscode.Uri.file(this.target.outputDir));
    this.panel.webview.options = { enableScripts: true, localResourceRoots: roots };
  }

  // ---- timer -------------------------------------------------------------------------------

  private schedule(): void {
    if (this.isDisposed) return;
    if (this.panel.visible && !this.timer) {
      this.timer = setInterval(() => this.poll(), POLL_MS);
    } else if (!this.panel.visible) this.stopTimer();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One poll: new points of the selected runs; every SLOW_EVERY polls the slower things too. */
  poll(): void {
    if (this.isDisposed) return;
    try {
      this.tick++;
      // folders are listed every 2 s while a task of ours runs, every 6 s otherwise
      const running = this.liveRun !== undefined && this.liveRun.exitCode === undefined;
      if (this.tick % (running ? SLOW_EVERY : SLOW_EVERY * 3) === 0) {
        if (this.refreshRuns()) this.postInfo();
        this.sendOutputs(false);
        void this.sendGpu();
      }
      this.sendSeries(false);
      this.sendProgress(false);
    } catch (e) {
      getLog().error(`Run panel: ${(e as Error).message}`);
    }
  }

  // ---- runs --------------------------------------------------------------------------------

  private isSelected(dir: string): boolean {
    if (this.selected) return this.selected.has(dir);
    // default: the newest run
    return this.runs.length > 0 && this.runs[this.runs.length - 1]?.dir === dir;
  }

  /** Looks for run folders; true when the list changed. */
  private refreshRuns(): boolean {
    const found: RunFolder[] = [];
    const seen = new Set<string>();
    const add = (rs: RunFolder[]): void => {
      for (const r of rs) {
        if (seen.has(r.dir)) continue;
        seen.add(r.dir);
        found.push(r);
      }
    };
    add(runsForLocations(this.target));
    for (const f of this.target.folders ?? []) add(findRuns(f, 4));
    const before = this.runs.map((r) => r.dir).join('\n');
    this.runs = found;
    if (this.followSince !== undefined) {
      // following a training task: its run folder is the one made since it started
      for (const r of found) {
        if (this.known.has(r.dir)) continue;
        this.known.add(r.dir);
        let mtime = 0;
        try {
          mtime = statSync(r.dir).mtimeMs;
        } catch {
          /* gone again */
        }
        this.selected ??= new Set();
        if (mtime >= this.followSince - 2000) this.selected.add(r.dir);
      }
      this.selected ??= new Set();
    }
    return before !== found.map((r) => r.dir).join('\n');
  }

  private runInfo(): RunPanelRun[] {
    const root = this.target.loggingDir;
    return this.runs.map((r) => ({ id: r.dir, label: runLabel(r, root), selected: this.isSelected(r.dir) }));
  }

  private postInfo(): void {
    const problems = [...this.problems];
    if (this.runs.length === 0) {
      const where = [this.target.loggingDir, ...(this.target.folders ?? [])].filter(Boolean).join(', ');
      problems.unshift(where ? `No TensorBoard event files (events.out.tfevents.*) in ${where} yet.` : 'No logging_dir is known for this run: its loss charts cannot be shown (set logging_dir in the training config, or add a log folder).');
    }
    this.infoProblems = problems;
    this.channel.post({ type: 'run/info', target: this.currentTarget, runs: this.runInfo(), problems });
  }

  // ---- series ------------------------------------------------------------------------------

  private liveFor(dir: string): LiveRunSeries {
    let l = this.live.get(dir);
    if (!l) {
      l = new LiveRunSeries(dir);
      this.live.set(dir, l);
    }
    return l;
  }

  private sendSeries(reset: boolean): void {
    const series: RunPanelSeries[] = [];
    let points = 0;
    let newest = 0;
    for (const dir of this.selectedRuns) {
      const l = this.liveFor(dir);
      const r = reset ? l.snapshot() : l.poll();
      for (const c of r.corrupt) {
        const key = `${c.file}:${c.offset}`;
        if (this.reportedCorrupt.has(key)) continue;
        this.reportedCorrupt.add(key);
        this.problems.push(`${c.file}: ${c.reason} at byte ${c.offset}; the record was skipped.`);
        getLog().warn(`Run panel: ${c.file}: ${c.reason} at byte ${c.offset}`);
        if (!reset) this.postInfo();
      }
      for (const d of r.deltas) {
        series.push({ run: dir, ...d });
        points += d.steps.length;
        const w = d.wallTimes[d.wallTimes.length - 1];
        if (w !== undefined && w > newest) newest = w;
        const key = `${dir}\n${d.tag}`;
        this.posted.set(key, (reset ? 0 : (this.posted.get(key) ?? 0)) + d.steps.length);
      }
    }
    if (!reset && series.length === 0) return;
    const sentAt = Date.now();
    this.channel.post({ type: 'run/series', reset, series, sentAt });
    if (points) this.onSeriesPosted.fire({ points, sentAt, newestWallTime: newest });
  }

  // ---- progress and GPU --------------------------------------------------------------------

  private progress(): RunPanelProgress | null {
    const run = this.liveRun;
    if (!run) return null;
    const s = run.state;
    const p = s.progress;
    const state: RunPanelProgress['state'] = run.exitCode === undefined ? 'running' : run.stopped ? 'stopped' : run.exitCode === 0 ? 'finished' : 'failed';
    const out: RunPanelProgress = { name: run.name, state };
    if (p) {
      out.step = p.step;
      out.total = p.total;
      out.percent = p.percent;
      out.rate = p.rateText;
      if (p.eta !== undefined) out.eta = p.eta;
      if (p.elapsed !== undefined) out.elapsed = p.elapsed;
      const loss = p.postfix['avr_loss'];
      if (loss !== undefined) out.loss = loss;
    }
    if (s.epoch !== undefined) out.epoch = s.epoch;
    if (s.totalEpochs !== undefined) out.totalEpochs = s.totalEpochs;
    return out;
  }

  private sendProgress(force: boolean): void {
    const p = this.progress();
    const key = JSON.stringify(p);
    if (!force && key === this.progressKey) return;
    this.progressKey = key;
    this.lastProgress = p;
    this.channel.post({ type: 'run/progress', progress: p });
  }

  private async sendGpu(): Promise<void> {
    if (nvidiaSmiMissing || this.gpuBusy) return;
    // only while a run of ours is going: nvidia-smi costs a little every time
    if (!this.liveRun || this.liveRun.exitCode !== undefined) return;
    this.gpuBusy = true;
    try {
      const text = await new Promise<string | undefined>((resolve) => {
        let out = '';
        let done = false;
        const child = spawn('nvidia-smi', NVIDIA_SMI_USAGE_QUERY, { shell: false, stdio: ['ignore', 'pipe', 'ignore'], windowsHide: true });
        const finish = (v: string | undefined): void => {
          if (done) return;
          done = true;
          clearTimeout(t);
          resolve(v);
        };
        const t = setTimeout(() => {
          child.kill();
          finish(undefined);
        }, 5000);
        child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
        child.on('error', (e: NodeJS.ErrnoException) => {
          if (e.code === 'ENOENT') nvidiaSmiMissing = true;
          finish(undefined);
        });
        child.on('close', (code) => finish(code === 0 ? out : undefined));
      });
      const gpus: RunPanelGpu[] | null = text === undefined ? null : parseNvidiaSmiUsage(text).map((g) => ({
        index: g.index,
        ...(g.utilizationPercent !== undefined ? { utilizationPercent: g.utilizationPercent } : {}),
        ...(g.memoryUsedMiB !== undefined ? { memoryUsedMiB: g.memoryUsedMiB } : {}),
        ...(g.memoryTotalMiB !== undefined ? { memoryTotalMiB: g.memoryTotalMiB } : {}),
      }));
      this.lastGpu = gpus && gpus.length ? gpus : null;
      if (!this.isDisposed) this.channel.post({ type: 'run/gpu', gpus: this.lastGpu });
    } finally {
      this.gpuBusy = false;
    }
  }

  // ---- outputs -----------------------------------------------------------------------------

  private image(file: string, title: string): RunPanelImage {
    return { src: this.panel.webview.asWebviewUri(vscode.Uri.file(file)).toString(), file, title };
  }

  /** Samples, checkpoints, states and test results of the output folder (when it changed). */
  private sendOutputs(force: boolean): void {
    const dir = this.target.outputDir;
    const sig = dir ? outputSignature(dir) : '';
    if (!force && sig === this.outputsSig) return;
    this.outputsSig = sig;
    const outputs: RunPanelOutputs = { samples: { columns: [], prompts: [], cells: [] }, checkpoints: [], states: [], canResume: !!this.target.config };
    if (dir) {
      outputs.outputDir = dir;
      const grid = sampleGrid(listSamples(dir));
      const texts = this.target.samplePrompts ? readSamplePrompts(this.target.samplePrompts) : [];
      outputs.samples = {
        columns: grid.columns.map((c) => ({ key: c.key, label: c.label })),
        prompts: grid.prompts.map((index) => (texts[index] ? { index, text: texts[index] } : { index })),
        cells: grid.cells.map((row, r) => row.map((s, c) => (s ? this.image(s.file, `${texts[grid.prompts[r] as number] ?? `prompt ${grid.prompts[r]}`}, ${grid.columns[c]?.label ?? ''}\n${path.basename(s.file)}`) : null))),
      };
      outputs.checkpoints = listCheckpoints(dir, undefined).map((c): RunPanelCheckpoint => {
        const base: RunPanelCheckpoint = { file: c.file, name: c.name, kind: c.kind, size: c.size, mtimeMs: c.mtimeMs, summary: [], ss: {} };
        if (c.epoch !== undefined) base.epoch = c.epoch;
        if (c.step !== undefined) base.step = c.step;
        if (!c.name.endsWith('.safetensors')) return { ...base, error: 'no metadata (not a .safetensors file)' };
        const h = readSafetensorsHeader(c.file);
        if (!h.ok) return { ...base, error: h.error };
        const s = summarizeLoraMetadata(h.ss);
        const rows: Array<[string, string]> = [];
        const row = (label: string, v: unknown): void => {
          if (v !== undefined && v !== '') rows.push([label, typeof v === 'string' ? v : JSON.stringify(v)]);
        };
        row('Network module', s.networkModule);
        row('Dim / alpha', s.networkDim !== undefined || s.networkAlpha !== undefined ? `${s.networkDim ?? '?'} / ${s.networkAlpha ?? '?'}` : undefined);
        row('Network args', s.networkArgs);
        row('Base model', s.baseModelVersion);
        row('Epoch', s.epoch);
        row('Steps', s.steps);
        row('Learning rate', s.learningRate);
        row('Optimizer', s.optimizer);
        row('Mixed precision', s.mixedPrecision);
        if (s.datasetDirs && typeof s.datasetDirs === 'object') {
          row('Dataset folders', Object.entries(s.datasetDirs as Record<string, { n_repeats?: number; img_count?: number }>).map(([k, v]) => `${k} (${v?.img_count ?? '?'} images × ${v?.n_repeats ?? '?'})`).join(', '));
        }
        const tf = s.tagFrequency && typeof s.tagFrequency === 'object' ? (s.tagFrequency as Record<string, Record<string, number>>) : undefined;
        return { ...base, summary: rows, ss: h.ss, ...(tf ? { tagFrequency: tf } : {}) };
      });
      outputs.states = listStates(dir).map((s) => ({
        dir: s.dir,
        name: s.name,
        ...(s.currentEpoch ?? s.epoch) !== undefined ? { epoch: (s.currentEpoch ?? s.epoch) as number } : {},
        ...(s.currentStep ?? s.step) !== undefined ? { step: (s.currentStep ?? s.step) as number } : {},
        ...(s.problem ? { problem: s.problem } : {}),
      }));
      const lt = readLoraTest(dir);
      if (lt.ok) {
        outputs.loraTest = {
          ok: true,
          prompts: lt.results.prompts,
          strengths: lt.results.strengths,
          epochs: lt.results.epochs,
          images: lt.results.images.map((i) => ({ prompt: i.prompt, strength: i.strength, epoch: i.epoch, ...(i.exists ? { image: this.image(i.file, `${lt.results.prompts[i.prompt] ?? ''}\nstrength ${i.strength}${i.epoch !== null ? `, epoch ${i.epoch}` : ''}`) } : {}) })),
        };
      } else if (!lt.missing) outputs.loraTest = { ok: false, error: lt.error };
    }
    this.lastOutputs = outputs;
    this.channel.post({ type: 'run/outputs', outputs });
  }

  // ---- messages ----------------------------------------------------------------------------

  private sendAll(): void {
    this.postInfo();
    this.sendSeries(true);
    this.sendOutputs(true);
    this.sendProgress(true);
  }

  /** A message from the webview (public for the in-host tests, which play the webview's part). */
  async handleMessage(m: import('../../core/protocol').WebviewToHost): Promise<void> {
    switch (m.type) {
      case 'ready':
        // a (re)loaded webview has nothing: send everything once, then only what is new
        this.refreshRuns();
        this.sendAll();
        void this.sendGpu();
        return;
      case 'run/select': {
        if (!Array.isArray(m.runs)) return;
        const known = new Set(this.runs.map((r) => r.dir));
        this.selected = new Set(m.runs.filter((r) => typeof r === 'string' && known.has(r)));
        this.followSince = undefined;
        this.postInfo();
        this.sendSeries(true);
        return;
      }
      case 'run/addFolder': {
        const f = await this.hooks.pickFolder();
        if (!f) return;
        const folders = [...(this.target.folders ?? [])];
        if (!folders.includes(f)) folders.push(f);
        this.target = { ...this.target, folders };
        const before = new Set(this.runs.map((r) => r.dir));
        this.refreshRuns();
        const added = this.runs.filter((r) => !before.has(r.dir));
        if (added.length === 0) void vscode.window.showWarningMessage(`No TensorBoard event files (events.out.tfevents.*) were found in ${f}.`);
        this.selected ??= new Set(this.selectedRuns);
        for (const r of added) this.selected.add(r.dir);
        this.postInfo();
        this.sendSeries(true);
        return;
      }
      case 'run/reveal': {
        if (typeof m.path !== 'string' || !this.target.outputDir || !isInside(this.target.outputDir, m.path)) return;
        const uri = vscode.Uri.file(m.path);
        if (m.inOs) await vscode.commands.executeCommand('revealFileInOS', uri);
        else if (vscode.workspace.getWorkspaceFolder(uri)) await vscode.commands.executeCommand('revealInExplorer', uri);
        else await vscode.commands.executeCommand('revealFileInOS', uri);
        return;
      }
      case 'run/resume': {
        if (typeof m.state !== 'string' || !this.target.outputDir || !isInside(this.target.outputDir, m.state)) return;
        await this.hooks.resume(this.currentTarget, m.state);
        return;
      }
      default:
        return;
    }
  }
}
