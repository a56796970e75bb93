/**
 * The Buckets view: for each dataset, sd-scripts' buckets (src/core/dataset/buckets.ts) with their
 * image counts, count × repeats and batches, the images in each (original → resized size),
 * buckets with fewer images than the batch size, and steps per epoch. Settings come from the
 * training config that names the dataset (train_data_dir / reg_data_dir), else from the
 * `loraWorkbench.buckets.*` settings. Image sizes come from the image audit's header reads.
 * Fine-tuning datasets (a dataset config's `metadata_file` subsets, a training config's `in_json`)
 * take their images from the metadata the Datasets model has read (keys resolved as current
 * sd-scripts does; sizes from `image_size`, latent-cache names or the image).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { computeBuckets, BUCKET_DEFAULTS, type BucketInputImage, type BucketReport, type BucketRow, type BucketRunOptions } from '../../core/dataset/buckets';
import { bucketsFromTrainingConfig, candidateDirs, describeBucketOptions } from '../../core/dataset/bucketConfig';
import { bucketDatasetConfig, type ConfigSubsetSummary, type FineTuningSource, type SizedImage } from '../../core/dataset/datasetConfigBuckets';
import type { DiscoveredDataset } from '../../core/dataset/discovery';
import { describeLeftOut, leftOutLines } from '../../core/dataset/fineTuning';
import type { DatasetGroup } from '../../core/dataset/groups';
import { detectConfigKind } from '../../core/config';
import { parseResolutionString } from '../../core/config/training';
import { Commands, Settings, Views } from '../../constants';
import { Disposable } from '../../platform/dispose';
import { getLog } from '../../platform/log';
import { fineTuningKey, type DatasetsModel } from '../datasetsView/model';
import type { ImageAuditFeature } from '../imageAudit';

/** One dataset of a run: the DreamBooth folders of a training config, or one `[[datasets]]` entry. */
interface Part {
  label: string;
  options: BucketRunOptions;
  /** undefined when sd-scripts would not bucket this dataset (see notes) */
  report?: BucketReport;
  notes: string[];
  /** notes with a tooltip (fine-tuning keys left out, where sizes came from) */
  details: Array<{ text: string; tooltip?: string; icon: string }>;
  missingSizes: number;
  subsets?: ConfigSubsetSummary[];
}

interface Run {
  label: string;
  /** the training config the settings come from, if any */
  config?: string;
  /** the dataset config the datasets come from, if any */
  datasetConfig?: string;
  groups: DatasetGroup[];
  parts: Part[];
  batchesPerEpoch: number;
  stepsPerEpoch: number;
  configProblems: string[];
  errors: string[];
}

export type BucketNode =
  | { type: 'run'; run: Run }
  | { type: 'dataset'; run: Run; part: Part }
  | { type: 'note'; text: string; tooltip?: string; icon: string }
  | { type: 'bucket'; run: Run; part: Part; report: BucketReport; row: BucketRow }
  | { type: 'file'; run: Run; report: BucketReport; file: string };

interface TrainingConfigInfo {
  file: string;
  text: string;
}

const CONFIG_EXCLUDE = '{**/node_modules/**,**/.git/**,**/venv/**,**/.venv/**}';

class BucketsProvider extends Disposable implements vscode.TreeDataProvider<BucketNode> {
  private readonly changed = this.register(new vscode.EventEmitter<BucketNode | undefined>());
  readonly onDidChangeTreeData = this.changed.event;
  runs: Run[] = [];
  private configs: Promise<TrainingConfigInfo[]> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly built = this.register(new vscode.EventEmitter<void>());
  readonly onDidBuild = this.built.event;

  constructor(
    private readonly model: DatasetsModel,
    private readonly audit: ImageAuditFeature,
  ) {
    super();
    this.register(model.onDidChange(() => this.schedule()));
    this.register(audit.onDidUpdate(() => this.schedule()));
    const w = this.register(vscode.workspace.createFileSystemWatcher('**/*.toml'));
    const reload = (): void => {
      this.configs = undefined;
      this.schedule();
    };
    this.register(w.onDidChange(reload));
    this.register(w.onDidCreate(reload));
    this.register(w.onDidDelete(reload));
    this.register(vscode.workspace.onDidSaveTextDocument((d) => d.fileName.endsWith('.toml') && reload()));
    this.register(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(`${Settings.section}.buckets`)) this.schedule();
      }),
    );
    this.register({ dispose: () => clearTimeout(this.timer) });
  }

  reload(): Promise<void> {
    this.configs = undefined;
    return this.rebuild();
  }

  schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.rebuild(), 100);
  }

  private findConfigs(): Promise<TrainingConfigInfo[]> {
    this.configs ??= (async () => {
      const out: TrainingConfigInfo[] = [];
      try {
        const files = await vscode.workspace.findFiles('**/*.toml', CONFIG_EXCLUDE, 300);
        files.sort((a, b) => a.fsPath.localeCompare(b.fsPath));
        for (const f of files) {
          if (f.scheme !== 'file') continue;
          try {
            const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(f));
            if (detectConfigKind(f.fsPath, text) === 'training') out.push({ file: f.fsPath, text });
          } catch {
            // unreadable config: not a source of settings
          }
        }
      } catch (e) {
        getLog().warn(`Buckets: could not list training configs: ${(e as Error).message}`);
      }
      return out;
    })();
    return this.configs;
  }

  async rebuild(): Promise<void> {
    const groups = this.model.current.groups;
    const roots = (vscode.workspace.workspaceFolders ?? []).filter((w) => w.uri.scheme === 'file').map((w) => w.uri.fsPath);
    const cfg = vscode.workspace.getConfiguration(Settings.section);
    const sdScripts = cfg.get<string>(Settings.trainingSdScripts, '');
    if (sdScripts) roots.push(sdScripts);
    const byPath = new Map(groups.map((g) => [path.resolve(g.path), g]));
    const folderScans = new Map<string, { group: DatasetGroup; folder: DatasetGroup['folders'][number] }>();
    for (const g of groups) for (const f of g.folders) folderScans.set(path.resolve(f.path), { group: g, folder: f });
    const discovered = this.model.current.discovered;
    const configFiles = [...new Set(discovered.filter((d) => d.label.startsWith('datasets[')).map((d) => d.origin))];
    const datasetsOf = (dc: string): DiscoveredDataset[] => discovered.filter((d) => d.origin === dc && d.label.startsWith('datasets['));
    const usedConfigs = new Set<string>();
    const used = new Set<DatasetGroup>();
    const runs: Run[] = [];
    for (const c of await this.findConfigs()) {
      const t = bucketsFromTrainingConfig(c.text);
      if (t.datasetConfig) {
        // sd-scripts ignores train_data_dir / reg_data_dir / in_json when dataset_config is set
        const candidates = candidateDirs(t.datasetConfig, c.file, roots);
        const dc = configFiles.find((f) => candidates.includes(path.resolve(f)));
        if (!dc) continue;
        usedConfigs.add(dc);
        runs.push(this.makeConfigRun(vscode.workspace.asRelativePath(c.file), dc, datasetsOf(dc), folderScans, used, t.options, c.file, t.problems));
        continue;
      }
      if (t.inJson) {
        // sd-scripts builds a fine-tuning dataset of in_json with train_data_dir as its image_dir
        // (reg_data_dir means nothing then): not DreamBooth folders
        const ft = discovered.filter((d) => d.origin === c.file && d.label === 'in_json');
        if (ft.length) runs.push(this.makeConfigRun(vscode.workspace.asRelativePath(c.file), undefined, ft, folderScans, used, t.options, c.file, t.problems));
        continue;
      }
      const find = (dir: string | undefined): DatasetGroup | undefined =>
        dir ? candidateDirs(dir, c.file, roots).map((d) => byPath.get(d)).find((g) => g !== undefined) : undefined;
      const train = find(t.trainDataDir);
      if (!train) continue;
      const reg = find(t.regDataDir);
      used.add(train);
      if (reg) used.add(reg);
      runs.push(this.makeRun(vscode.workspace.asRelativePath(c.file), [train, ...(reg ? [reg] : [])], reg, t.options, c.file, t.problems));
    }
    // dataset configs no training config names: their own settings, sd-scripts' defaults for the rest
    for (const dc of configFiles) {
      if (!usedConfigs.has(dc)) runs.push(this.makeConfigRun(vscode.workspace.asRelativePath(dc), dc, datasetsOf(dc), folderScans, used, {}, undefined, []));
    }
    const reso = parseResolutionString(cfg.get<string>(Settings.bucketsResolution, '1024,1024')) ?? [1024, 1024];
    const defaults: BucketRunOptions = {
      resolution: reso,
      enableBucket: true,
      minBucketReso: BUCKET_DEFAULTS.minBucketReso,
      maxBucketReso: Math.max(BUCKET_DEFAULTS.maxBucketReso, reso[0], reso[1]),
      bucketResoSteps: BUCKET_DEFAULTS.bucketResoSteps,
      batchSize: Math.max(1, cfg.get<number>(Settings.bucketsBatchSize, 1)),
    };
    for (const g of groups) {
      if (!used.has(g)) runs.push(this.makeRun(vscode.workspace.asRelativePath(g.path), [g], undefined, defaults, undefined, []));
    }
    this.runs = runs;
    this.changed.fire(undefined);
    this.built.fire();
  }

  private makeRun(label: string, groups: DatasetGroup[], reg: DatasetGroup | undefined, options: BucketRunOptions, config: string | undefined, configProblems: string[]): Run {
    const inputs: BucketInputImage[] = [];
    let missingSizes = 0;
    for (const g of groups) {
      const isReg = g === reg;
      const folders = g.kind === 'kohyaFolder' ? g.folders.filter((f) => f.concept.ok) : g.folders;
      for (const f of folders) {
        const repeats = f.concept.ok ? f.concept.repeats : 1;
        for (const i of f.images) {
          const file = path.join(f.path, i.name);
          const rec = this.audit.session.image(file);
          if (!rec) {
            // not read yet: counted, not bucketed
            missingSizes++;
            continue;
          }
          // read but without a size (empty, damaged…): computeBuckets lists it as unbucketable
          inputs.push({ file, width: rec.header.width ?? 0, height: rec.header.height ?? 0, repeats, isReg });
        }
      }
    }
    const report = computeBuckets(inputs, options);
    const run: Run = {
      label,
      groups,
      parts: [{ label, options, report, notes: [], details: [], missingSizes }],
      batchesPerEpoch: report.batchesPerEpoch,
      stepsPerEpoch: report.stepsPerEpoch,
      configProblems,
      errors: [],
    };
    if (config) run.config = config;
    return run;
  }

  /**
   * A `--dataset_config` run (each `[[datasets]]` entry bucketed with its own settings), or the
   * fine-tuning dataset of a training config's `in_json` (no dataset config).
   */
  private makeConfigRun(
    label: string,
    datasetConfig: string | undefined,
    datasets: readonly DiscoveredDataset[],
    folderScans: ReadonlyMap<string, { group: DatasetGroup; folder: DatasetGroup['folders'][number] }>,
    used: Set<DatasetGroup>,
    training: Pick<BucketRunOptions, 'gradientAccumulationSteps'>,
    config: string | undefined,
    configProblems: string[],
  ): Run {
    const groups = new Set<DatasetGroup>();
    const take = (dir: string): void => {
      const hit = folderScans.get(path.resolve(dir));
      if (hit) {
        groups.add(hit.group);
        used.add(hit.group);
      }
    };
    const snap = this.model.current;
    const fineTuning: FineTuningSource = {
      keys: (s) => {
        if (!s.metadataFile) return undefined;
        const k = snap.fineTuning.get(fineTuningKey(s.metadataFile, s.imageDir));
        // the folders of a fine-tuning dataset's images get no run of their own
        if (s.imageDir) take(s.imageDir);
        if (k && !('error' in k)) for (const dir of new Set(k.files.map((f) => path.dirname(f)))) take(dir);
        return k;
      },
      size: (file) => {
        const rec = this.audit.session.image(file);
        if (rec) return { width: rec.header.width ?? 0, height: rec.header.height ?? 0 };
        const img = this.model.image(file);
        return img?.width && img.height ? { width: img.width, height: img.height } : undefined;
      },
    };
    const result = bucketDatasetConfig(
      datasets,
      (dir) => {
        const hit = folderScans.get(path.resolve(dir));
        if (!hit) return undefined;
        groups.add(hit.group);
        used.add(hit.group);
        const images: SizedImage[] = [];
        let pending = 0;
        for (const i of hit.folder.images) {
          const file = path.join(hit.folder.path, i.name);
          const rec = this.audit.session.image(file);
          if (!rec) pending++;
          else images.push({ file, width: rec.header.width ?? 0, height: rec.header.height ?? 0 });
        }
        return { images, pending };
      },
      training,
      fineTuning,
    );
    const parts: Part[] = result.datasets.map((d) => {
      const notes = [...d.notes];
      const details: Part['details'] = [];
      for (const s of d.subsets) {
        const name = s.metadataFile ? path.basename(s.metadataFile) : s.imageDir ? path.basename(s.imageDir) : '';
        if (s.skipped) notes.push(`${s.label}${name ? ` (${name})` : ''} is left out: ${s.skipped}`);
        const left = s.leftOut ? describeLeftOut({ leftOut: s.leftOut }) : undefined;
        if (left && s.leftOut) {
          details.push({
            text: `${name}: ${left}`,
            tooltip: [`Keys of ${s.metadataFile ?? name} that name no image file, as current sd-scripts resolves them (as written, or joined to image_dir ${s.imageDir ?? '(none)'}, without trying extensions):`, ...leftOutLines({ leftOut: s.leftOut, examples: s.leftOutExamples ?? [] })].join('\n'),
            icon: 'warning',
          });
        }
        if (s.sizesFrom) {
          const f = s.sizesFrom;
          details.push({
            text: `${name}: ${s.images} of ${s.keys ?? s.images} keys are images · sizes: ${f.metadata} image_size, ${f.npz} .npz name, ${f.image} read`,
            tooltip: `Sizes: ${f.metadata} from the image_size entries, ${f.npz} from the names of *_WWWWxHHHH_sdxl.npz latent caches next to the images, ${f.image} read from the image files (sd-scripts looks in this order).`,
            icon: 'json',
          });
        }
      }
      const part: Part = { label: d.label, options: d.options, notes, details, missingSizes: d.pending, subsets: d.subsets };
      if (d.report) part.report = d.report;
      return part;
    });
    const run: Run = {
      label,
      ...(datasetConfig ? { datasetConfig } : {}),
      groups: [...groups],
      parts,
      batchesPerEpoch: result.batchesPerEpoch,
      stepsPerEpoch: result.stepsPerEpoch,
      configProblems,
      errors: result.errors,
    };
    if (config) run.config = config;
    return run;
  }

  getTreeItem(node: BucketNode): vscode.TreeItem {
    switch (node.type) {
      case 'run': {
        const run = node.run;
        const single = run.parts.length === 1 ? run.parts[0] : undefined;
        const item = new vscode.TreeItem(run.label, vscode.TreeItemCollapsibleState.Expanded);
        item.description = `${run.stepsPerEpoch} steps/epoch · ${single ? describeBucketOptions(single.options) : `${run.parts.length} datasets`}`;
        const md = new vscode.MarkdownString();
        md.appendMarkdown(`**${run.label}**\n\n`);
        if (run.datasetConfig) {
          md.appendText(`Datasets from ${vscode.workspace.asRelativePath(run.datasetConfig)}${run.config ? `, named by this training config` : ' (no training config names it: sd-scripts defaults for the rest)'}\n`);
          for (const p of run.parts) md.appendText(`${p.label}: ${describeBucketOptions(p.options)} · ${p.report ? `${p.report.batchesPerEpoch} batches` : 'not bucketed'}\n`);
          md.appendText(`${run.batchesPerEpoch} batches and ${run.stepsPerEpoch} optimizer steps per epoch (the datasets' batches added up).`);
        } else if (single) {
          const r = single.report;
          md.appendText(`${run.config ? 'Settings from this training config' : 'No training config names this dataset: settings from loraWorkbench.buckets.*'}\n`);
          md.appendText(`${describeBucketOptions(single.options)}\n${r?.images.length ?? 0} images in ${r?.buckets.length ?? 0} buckets, ${run.batchesPerEpoch} batches and ${run.stepsPerEpoch} optimizer steps per epoch.`);
        }
        item.tooltip = md;
        item.iconPath = new vscode.ThemeIcon(run.config ? 'settings-gear' : run.datasetConfig ? 'file-code' : 'database');
        item.contextValue = 'bucketRun';
        item.id = `run:${run.label}`;
        return item;
      }
      case 'dataset': {
        const { part } = node;
        const item = new vscode.TreeItem(part.label, vscode.TreeItemCollapsibleState.Expanded);
        const images = part.subsets?.reduce((n, s) => n + (s.skipped ? 0 : s.images), 0) ?? 0;
        item.description = part.report
          ? `${describeBucketOptions(part.options)} · ${images} image${images === 1 ? '' : 's'} · ${part.report.batchesPerEpoch} batch${part.report.batchesPerEpoch === 1 ? '' : 'es'}`
          : 'not bucketed';
        item.tooltip = [
          `${part.label}: ${describeBucketOptions(part.options)}`,
          ...(part.subsets ?? []).map(
            (s) =>
              `${s.label}: ${s.metadataFile ? `${s.metadataFile} (${s.keys ?? '?'} keys) · ` : ''}${s.imageDir ?? '(no image_dir)'} · ${s.images} images × ${s.numRepeats}${s.isReg ? ' · reg' : ''}${s.skipped ? ` · left out: ${s.skipped}` : ''}`,
          ),
        ].join('\n');
        item.iconPath = new vscode.ThemeIcon(part.report ? 'database' : 'circle-slash');
        item.contextValue = 'bucketDataset';
        item.id = `dataset:${node.run.label}:${part.label}`;
        return item;
      }
      case 'note': {
        const item = new vscode.TreeItem(node.text, vscode.TreeItemCollapsibleState.None);
        item.iconPath = new vscode.ThemeIcon(node.icon);
        if (node.tooltip) item.tooltip = node.tooltip;
        return item;
      }
      case 'bucket': {
        const { row, report } = node;
        const small = row.images < report.batchSize;
        const item = new vscode.TreeItem(`${row.reso[0]}×${row.reso[1]}`, vscode.TreeItemCollapsibleState.Collapsed);
        item.description = `${row.images} image${row.images === 1 ? '' : 's'} · ${row.samples} with repeats · ${row.batches} batch${row.batches === 1 ? '' : 'es'}`;
        const warn = report.warnings.find((w) => w.code === 'smallBucket' && w.reso?.[0] === row.reso[0] && w.reso?.[1] === row.reso[1]);
        item.iconPath = new vscode.ThemeIcon(small ? 'warning' : 'layers', small ? new vscode.ThemeColor('problemsWarningIcon.foreground') : undefined);
        // per concept folder: images and samples (reg images with their round-robin repeats)
        const perFolder = new Map<string, { images: number; samples: number; reg: boolean }>();
        const inRow = new Set(row.files);
        for (const img of report.images) {
          if (!inRow.has(img.file)) continue;
          const k = path.basename(path.dirname(img.file));
          const e = perFolder.get(k) ?? { images: 0, samples: 0, reg: img.isReg };
          e.images++;
          e.samples += img.repeats;
          perFolder.set(k, e);
        }
        const lines = [...perFolder].map(([k, e]) => `${k}${e.reg ? ' (reg)' : ''}: ${e.images} image${e.images === 1 ? '' : 's'}, ${e.samples} with repeats`);
        const head = small && warn ? `Fewer images than the batch size (${report.batchSize}): ${warn.files?.map((f) => path.basename(f)).join(', ')}` : `${row.images} images, ${row.samples} samples per epoch with repeats`;
        item.tooltip = [head, ...lines].join('\n');
        item.contextValue = small ? 'bucket.small' : 'bucket';
        item.id = `bucket:${node.run.label}:${node.part.label}:${row.reso[0]}x${row.reso[1]}`;
        return item;
      }
      case 'file': {
        const img = node.report.images.find((i) => i.file === node.file);
        const item = new vscode.TreeItem(path.basename(node.file), vscode.TreeItemCollapsibleState.None);
        if (img) item.description = `${img.width}×${img.height} → ${img.resized[0]}×${img.resized[1]}${img.repeats !== 1 ? ` · ×${img.repeats}` : ''}${img.isReg ? ' · reg' : ''}`;
        item.tooltip = node.file;
        item.resourceUri = vscode.Uri.file(node.file);
        item.command = { command: Commands.openBucketImage, title: 'Open Image', arguments: [node.file] };
        item.contextValue = 'bucketImage';
        item.id = `file:${node.run.label}:${img?.bucket.join('x') ?? ''}:${node.file}`;
        return item;
      }
    }
  }

  private partChildren(run: Run, part: Part): BucketNode[] {
    const notes: BucketNode[] = [];
    for (const n of part.notes) notes.push({ type: 'note', text: n, icon: 'info' });
    for (const d of part.details) notes.push({ type: 'note', ...d });
    const r = part.report;
    if (r) {
      for (const e of r.errors) notes.push({ type: 'note', text: `sd-scripts stops: ${e}`, icon: 'error' });
      for (const w of r.warnings) {
        if (w.code === 'settings') notes.push({ type: 'note', text: w.message, icon: 'info' });
        else if (w.code === 'unbucketable') notes.push({ type: 'note', text: `${w.files?.length ?? 0} image(s) without a readable size are left out (see the Problems panel)`, tooltip: w.files?.join('\n'), icon: 'warning' });
      }
      const small = r.warnings.filter((w) => w.code === 'smallBucket');
      if (small.length) {
        notes.push({
          type: 'note',
          text: `${small.length} bucket${small.length === 1 ? ' has' : 's have'} fewer images than the batch size ${r.batchSize}`,
          tooltip: small.map((w) => w.message).join('\n'),
          icon: 'warning',
        });
      }
    }
    if (part.missingSizes) notes.push({ type: 'note', text: `${part.missingSizes} image(s) without a size yet (the image audit reads them)`, icon: 'loading~spin' });
    return [...notes, ...(r?.buckets ?? []).map((row): BucketNode => ({ type: 'bucket', run, part, report: r as BucketReport, row }))];
  }

  getChildren(node?: BucketNode): BucketNode[] {
    if (!node) return this.runs.map((run) => ({ type: 'run', run }));
    if (node.type === 'run') {
      const run = node.run;
      const notes: BucketNode[] = [];
      for (const e of run.errors) notes.push({ type: 'note', text: `sd-scripts stops: ${e}`, icon: 'error' });
      for (const p of run.configProblems) notes.push({ type: 'note', text: p, icon: 'warning' });
      const single = !run.datasetConfig && run.parts.length === 1 ? run.parts[0] : undefined;
      if (single) return [...notes, ...this.partChildren(run, single)];
      return [...notes, ...run.parts.map((part): BucketNode => ({ type: 'dataset', run, part }))];
    }
    if (node.type === 'dataset') return this.partChildren(node.run, node.part);
    if (node.type === 'bucket') return node.row.files.map((file): BucketNode => ({ type: 'file', run: node.run, report: node.report, file }));
    return [];
  }
}

export interface BucketsRunInfo {
  label: string;
  config?: string;
  datasetConfig?: string;
  /** the first dataset's report (the only one without a dataset config) */
  report: BucketReport;
  description: string;
  batchesPerEpoch: number;
  stepsPerEpoch: number;
  datasets: ReadonlyArray<{ label: string; description: string; report?: BucketReport; notes: string[]; details: string[]; pending: number; subsets?: ConfigSubsetSummary[] }>;
  /** what sd-scripts stops on */
  errors: string[];
}

export interface BucketsFeature {
  readonly runs: () => ReadonlyArray<BucketsRunInfo>;
  rebuild(): Promise<void>;
}

export function registerBuckets(subscriptions: vscode.Disposable[], model: DatasetsModel, audit: ImageAuditFeature): BucketsFeature {
  const provider = new BucketsProvider(model, audit);
  const view = vscode.window.createTreeView(Views.buckets, { treeDataProvider: provider, showCollapseAll: true });
  subscriptions.push(
    provider,
    view,
    provider.onDidBuild(() => {
      const first = provider.runs[0];
      const opts = first?.parts[0]?.options;
      view.description = first && opts ? `${describeBucketOptions(opts)}${first.config ? ` (${path.basename(first.config)})` : first.datasetConfig ? ` (${path.basename(first.datasetConfig)})` : ' (settings)'}` : undefined;
      view.message = provider.runs.length ? undefined : 'No dataset found in this workspace.';
    }),
    vscode.commands.registerCommand(Commands.refreshBuckets, () => provider.reload()),
    vscode.commands.registerCommand(Commands.openBucketImage, (file: string) => vscode.commands.executeCommand('vscode.open', vscode.Uri.file(file), { preview: true })),
  );
  void provider.rebuild();
  return {
    runs: () =>
      provider.runs.map((r): BucketsRunInfo => {
        const first = r.parts.find((p) => p.report) ?? r.parts[0];
        return {
          label: r.label,
          ...(r.config ? { config: r.config } : {}),
          ...(r.datasetConfig ? { datasetConfig: r.datasetConfig } : {}),
          report: first?.report ?? computeBuckets([], first?.options ?? { resolution: [1024, 1024] }),
          description: first ? describeBucketOptions(first.options) : '',
          batchesPerEpoch: r.batchesPerEpoch,
          stepsPerEpoch: r.stepsPerEpoch,
          datasets: r.parts.map((p) => ({
            label: p.label,
            description: describeBucketOptions(p.options),
            ...(p.report ? { report: p.report } : {}),
            notes: p.notes,
            details: p.details.map((d) => d.text),
            pending: p.missingSizes,
            ...(p.subsets ? { subsets: p.subsets } : {}),
          })),
          errors: r.errors,
        };
      }),
    rebuild: () => provider.reload(),
  };
}
