import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { FolderScan } from '../../core/dataset/scan';
import { groupDatasets, type DatasetGroup } from '../../core/dataset/groups';
import { DatasetIndex, isShownFolder, patchFolderScan, type FileChange, type IndexedImage } from '../../core/dataset/index';
import {
  datasetsOfTrainingConfig,
  readDatasetConfig,
  readTrainingConfigRefs,
  type BucketOptions,
  type DiscoveredDataset,
  type MetadataKeySummary,
  type TrainingConfigRefs,
} from '../../core/dataset/discovery';
import { keyFolders, listFolder, parseMetadataSizes, resolveFineTuningKeys, type DirFiles, type FineTuningKeys, type MetadataSizes } from '../../core/dataset/fineTuning';
import { detectConfigKind } from '../../core/config/detect';
import { Settings } from '../../constants';
import { Disposable } from '../../platform/dispose';
import { getLog } from '../../platform/log';

/** What changed since the previous snapshot; absent: everything may have changed. */
export interface SnapshotDelta {
  /** folders whose listing or images changed (absolute) */
  folders: string[];
  /** images whose header, sidecars or tags changed, and were not added or removed */
  images: string[];
  /** folders added or removed: the dataset list itself changed */
  structure: boolean;
}

/** The training config that names a folder as its `train_data_dir` / `reg_data_dir`. */
export interface DatasetOrigin {
  file: string;
  option: 'train_data_dir' | 'reg_data_dir';
  resolution?: [number, number];
  bucket: BucketOptions;
  captionExtension?: string;
}

export interface DatasetsSnapshot {
  /** image folders found in the workspace (and the extra folders), grouped as datasets */
  groups: DatasetGroup[];
  errors: string[];
  scannedAt: number;
  /** datasets defined by training configs and dataset configs */
  discovered: DiscoveredDataset[];
  /** training configs by the folders they name (`train_data_dir`, `reg_data_dir`) */
  origins: ReadonlyMap<string, DatasetOrigin>;
  /** metadata JSON file → how its keys resolve (or why it cannot be read); filled after the first paint */
  metadata: ReadonlyMap<string, MetadataKeySummary | { error: string }>;
  /**
   * fine-tuning subsets' images, by {@link fineTuningKey} (metadata file + image_dir): the keys
   * resolved as current sd-scripts does, with the sizes the metadata or latent-cache names give.
   * Absent while the metadata is being read.
   */
  fineTuning: ReadonlyMap<string, FineTuningKeys | { error: string }>;
  /** configs that could not be read */
  configErrors: string[];
  /** sizes, dimensions and tags are still being read */
  indexing: boolean;
  delta?: SnapshotDelta;
}

const IMAGE_AND_SIDECAR_GLOB = '**/*.{png,jpg,jpeg,webp,bmp,PNG,JPG,JPEG,WEBP,BMP,avif,jxl,txt,caption,npz}';
const CONFIG_GLOB = '**/*.{toml,json,jsonl}';
/** the metadata files are read this long after the first page of the tree is published */
const METADATA_AFTER_PAINT_MS = 300;
/** a burst of watcher events (an unzip, a batch rename) is applied together after this quiet time */
const DEBOUNCE_MS = 15;
/** …but never later than this after its first event */
const MAX_WAIT_MS = 150;

interface Root {
  root: string;
  depth: number;
}

/**
 * The workspace's datasets: every image folder (a {@link DatasetIndex} per root, updated from file
 * events as deltas, never rescanned for a change) and the datasets training configs and dataset
 * configs define. The tree, the overview, the caption checks and the tagger read this model.
 */
export class DatasetsModel extends Disposable {
  private snapshot: DatasetsSnapshot = emptySnapshot();
  private readonly changed = this.register(new vscode.EventEmitter<DatasetsSnapshot>());
  readonly onDidChange = this.changed.event;
  private indexes: DatasetIndex[] = [];
  private readonly scans = new Map<string, FolderScan>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private building = false;
  private readonly pending = new Set<string>();
  private flushTimer: NodeJS.Timeout | undefined;
  private firstPending = 0;
  private flushing: Promise<void> | undefined;
  private configTimer: NodeJS.Timeout | undefined;
  private discovery: Pick<DatasetsSnapshot, 'discovered' | 'origins' | 'metadata' | 'fineTuning' | 'configErrors'> = {
    discovered: [],
    origins: new Map(),
    metadata: new Map(),
    fineTuning: new Map(),
    configErrors: [],
  };
  /** metadata files read, by path, with the stat they were read at (only keys and sizes are kept) */
  private readonly metadataCache = new Map<string, { mtimeMs: number; size: number; data: MetadataSizes | { error: string } }>();
  /** the background read of the metadata files (never blocks the first paint) */
  private metadataTask: Promise<void> | undefined;
  private metadataAgain = false;
  private readonly metadataForced = new Set<string>();
  /** folders whose listings resolve metadata keys: a change there resolves them again */
  private metadataDirs = new Set<string>();
  /** folders holding fine-tuning images that no config names as a folder (indexed for their sizes) */
  private metadataRoots: Root[] = [];
  /** watchers for metadata files outside the workspace folders */
  private readonly outsideWatchers = new Map<string, vscode.Disposable>();
  private rootsSync: Promise<boolean> = Promise.resolve(false);
  private metadataTimer: NodeJS.Timeout | undefined;
  /** folders discovery asked to index besides the workspace (dataset dirs outside it) */
  private discoveredRoots: Root[] = [];
  private errors: string[] = [];
  private readonly mtimes = new Map<string, number>();
  /** how often everything was indexed and how many deltas were applied (tests, the log) */
  readonly stats = { rebuilds: 0, deltas: 0, lastDeltaMs: 0 };

  constructor() {
    super();
    const watcher = this.register(vscode.workspace.createFileSystemWatcher(IMAGE_AND_SIDECAR_GLOB));
    const queue = (uri: vscode.Uri): void => this.queue([uri.fsPath]);
    this.register(watcher.onDidCreate(queue));
    this.register(watcher.onDidChange(queue));
    this.register(watcher.onDidDelete(queue));
    // a folder deleted or created as a whole may come as one folder event the glob does not match
    const anyFolder = this.register(vscode.workspace.createFileSystemWatcher('**/*', false, true, false));
    this.register(anyFolder.onDidDelete((uri) => this.knownFolder(uri.fsPath) && queue(uri)));
    this.register(
      anyFolder.onDidCreate((uri) => {
        if (!path.extname(uri.fsPath) && this.indexes.some((i) => isInside(uri.fsPath, i.root))) queue(uri);
      }),
    );
    // edits made through VS Code (explorer, our own commands) arrive here even when the file
    // watcher is slow or excluded by files.watcherExclude
    this.register(vscode.workspace.onDidCreateFiles((e) => this.queue(e.files.map((u) => u.fsPath))));
    this.register(vscode.workspace.onDidDeleteFiles((e) => this.queue(e.files.map((u) => u.fsPath))));
    this.register(vscode.workspace.onDidRenameFiles((e) => this.queue(e.files.flatMap((f) => [f.oldUri.fsPath, f.newUri.fsPath]))));
    this.register(vscode.workspace.onDidChangeWorkspaceFolders(() => this.scheduleRefresh()));
    this.register(
      vscode.workspace.onDidChangeConfiguration((e) => {
        // only the settings that change which files are datasets; the others (tagger, audit,
        // training…) must not cost a rescan of 100k images
        const keys = [Settings.searchDepth, Settings.datasetFolders, Settings.exclude, Settings.sidecarExtensions, Settings.captionExtension];
        if (keys.some((k) => e.affectsConfiguration(`${Settings.section}.${k}`))) this.scheduleRefresh();
      }),
    );
    const configs = this.register(vscode.workspace.createFileSystemWatcher(CONFIG_GLOB));
    // a TOML may be a training or dataset config; a JSON matters only as a metadata file a config names
    const configChanged = (uri: vscode.Uri): void => (/\.jsonl?$/i.test(uri.fsPath) ? this.metadataChanged(uri.fsPath) : this.scheduleDiscovery());
    this.register(configs.onDidCreate(configChanged));
    this.register(configs.onDidChange(configChanged));
    this.register(configs.onDidDelete(configChanged));
    this.register(vscode.workspace.onDidSaveTextDocument((d) => /\.(toml|jsonl?)$/i.test(d.fileName) && configChanged(d.uri)));
    this.register({
      dispose: () => {
        clearTimeout(this.refreshTimer);
        clearTimeout(this.flushTimer);
        clearTimeout(this.configTimer);
        clearTimeout(this.metadataTimer);
        for (const w of this.outsideWatchers.values()) w.dispose();
        this.outsideWatchers.clear();
      },
    });
  }

  get current(): DatasetsSnapshot {
    return this.snapshot;
  }

  /** A full index (settings, workspace folders, a config naming a new folder) is running or due. */
  get busy(): boolean {
    return this.running !== undefined || this.building || this.refreshTimer !== undefined || this.configTimer !== undefined;
  }

  /** The indexed facts of one image (size, dimensions, sidecars, tags), if it is in a dataset. */
  image(file: string): IndexedImage | undefined {
    for (const i of this.indexes) {
      const img = i.image(file);
      if (img) return img;
    }
    return undefined;
  }

  /** The index that holds a folder's images, for queries (paging, sorting, filters). */
  indexOf(folder: string): DatasetIndex | undefined {
    return this.indexes.find((i) => i.folder(folder) !== undefined);
  }

  /** A folder's images as the scan shape (kept up to date by deltas). */
  folderScan(folder: string): FolderScan | undefined {
    return this.scans.get(path.resolve(folder));
  }

  scheduleRefresh(delayMs = 300): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      void this.refresh();
    }, delayMs);
  }

  private scheduleDiscovery(): void {
    clearTimeout(this.configTimer);
    this.configTimer = setTimeout(() => {
      this.configTimer = undefined;
      void this.rediscover();
    }, 200);
  }

  /** Indexes everything again (settings, workspace folders, the refresh button); concurrent calls coalesce. */
  refresh(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.rebuild();
      } while (this.again && !this.isDisposed);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /**
   * Applies file changes as deltas (what the watchers call; commands that create folders call it
   * too so the tree does not wait for the watcher). Resolves when they are in the snapshot.
   */
  applyChanges(paths: readonly string[]): Promise<void> {
    for (const p of paths) this.pending.add(path.resolve(p));
    return this.flush();
  }

  private knownFolder(p: string): boolean {
    return this.scans.has(p) || this.snapshot.groups.some((g) => isInside(g.path, p));
  }

  /** Files another feature knows it changed (the file watcher may miss them): applied as deltas. */
  filesChanged(paths: readonly string[]): void {
    this.queue(paths);
  }

  private queue(paths: readonly string[]): void {
    if (paths.length === 0) return;
    if (this.pending.size === 0) this.firstPending = Date.now();
    for (const p of paths) this.pending.add(p);
    clearTimeout(this.flushTimer);
    const wait = Math.max(0, Math.min(DEBOUNCE_MS, this.firstPending + MAX_WAIT_MS - Date.now()));
    this.flushTimer = setTimeout(() => void this.flush(), wait);
  }

  private flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    const run = async (): Promise<void> => {
      // changes that arrive while the indexes are built are applied when the build is done
      while (this.pending.size > 0 && !this.building && !this.isDisposed) {
        const changes: FileChange[] = [...this.pending].map((p) => ({ path: p }));
        this.pending.clear();
        await this.applyDelta(changes);
      }
    };
    const prev = this.flushing ?? Promise.resolve();
    const next = prev.then(run, run);
    this.flushing = next.finally(() => {
      if (this.flushing === next) this.flushing = undefined;
    });
    return next;
  }

  private async applyDelta(changes: FileChange[]): Promise<void> {
    const started = performance.now();
    /** folders whose listing changed */
    const folders = new Set<string>();
    /** images changed in place (header, sidecars, tags) */
    const images = new Set<string>();
    /** per folder: image paths added / removed / changed, to patch its scan */
    const perFolder = new Map<string, { index: DatasetIndex; added: string[]; removed: string[]; changed: string[] }>();
    const entry = (index: DatasetIndex, dir: string): { index: DatasetIndex; added: string[]; removed: string[]; changed: string[] } => {
      let e = perFolder.get(dir);
      if (!e) perFolder.set(dir, (e = { index, added: [], removed: [], changed: [] }));
      return e;
    };
    let structure = false;
    for (const index of this.indexes) {
      const mine = changes.filter((c) => isInside(c.path, index.root) || isInside(index.root, c.path));
      if (mine.length === 0) continue;
      const d = await index.update(mine);
      for (const f of d.folders) {
        folders.add(f);
        entry(index, f);
      }
      for (const f of d.removedFolders) {
        folders.add(f);
        entry(index, f);
        structure = true;
      }
      for (const p of d.added) entry(index, path.dirname(p)).added.push(p);
      for (const p of d.removed) entry(index, path.dirname(p)).removed.push(p);
      for (const p of d.changed) {
        entry(index, path.dirname(p)).changed.push(p);
        images.add(p);
      }
      for (const p of [...d.added, ...d.removed]) folders.add(path.dirname(p));
    }
    if ([...folders].some((f) => this.metadataDirs.has(f))) void this.loadMetadata();
    if (perFolder.size === 0) return;
    for (const [f, e] of perFolder) {
      const wasShown = this.scans.has(f);
      const info = e.index.folder(f);
      if (info && isShownFolder(info)) {
        const old = this.scans.get(f);
        this.scans.set(f, old ? patchFolderScan(old, info, e.index, e) : e.index.folderScan(info));
        if (!wasShown) structure = true;
      } else if (wasShown) {
        this.scans.delete(f);
        structure = true;
      }
    }
    this.publish({ folders: [...folders], images: [...images].filter((p) => !folders.has(path.dirname(p))), structure }, false);
    this.stats.deltas++;
    this.stats.lastDeltaMs = performance.now() - started;
    getLog().debug(`Applied ${changes.length} change(s) in ${(performance.now() - started).toFixed(1)} ms: ${folders.size} folder(s), ${images.size} image(s)`);
  }

  private publish(delta: SnapshotDelta | undefined, indexing: boolean): void {
    const groups = groupDatasets([...this.scans.values()]);
    this.snapshot = {
      groups,
      errors: [...this.errors],
      scannedAt: Date.now(),
      ...this.discovery,
      indexing,
      ...(delta ? { delta } : {}),
    };
    this.changed.fire(this.snapshot);
  }

  private roots(): { roots: Root[]; exclude: string[]; sidecarExtensions: string[]; tagExtension: string } {
    const roots: Root[] = [];
    const add = (root: string, depth: number): void => {
      const key = path.resolve(root);
      const existing = roots.find((r) => r.root === key);
      if (existing) existing.depth = Math.max(existing.depth, depth);
      else if (!roots.some((r) => isInside(key, r.root) && relDepth(r.root, key) + depth <= r.depth)) roots.push({ root: key, depth });
    };
    for (const wf of vscode.workspace.workspaceFolders ?? []) {
      if (wf.uri.scheme !== 'file') continue;
      const cfg = vscode.workspace.getConfiguration(Settings.section, wf.uri);
      add(wf.uri.fsPath, cfg.get<number>(Settings.searchDepth, 4));
      for (const extra of cfg.get<string[]>(Settings.datasetFolders, [])) {
        add(path.isAbsolute(extra) ? extra : path.join(wf.uri.fsPath, extra), 1);
      }
    }
    for (const r of [...this.discoveredRoots, ...this.metadataRoots]) add(r.root, r.depth);
    const cfg = vscode.workspace.getConfiguration(Settings.section);
    return {
      roots,
      exclude: cfg.get<string[]>(Settings.exclude, []),
      sidecarExtensions: cfg.get<string[]>(Settings.sidecarExtensions, ['.txt', '.caption']),
      tagExtension: cfg.get<string>(Settings.captionExtension, '.txt'),
    };
  }

  private async rebuild(): Promise<void> {
    const started = Date.now();
    this.stats.rebuilds++;
    // the metadata files are read after the first paint (a big one is a long JSON.parse)
    await this.discover(false);
    let painted = false;
    let metadataRead: Promise<void> | undefined;
    const firstPaint = (): void => {
      if (painted) return;
      painted = true;
      clearTimeout(this.metadataTimer);
      this.metadataTimer = setTimeout(() => (metadataRead = this.loadMetadata()), METADATA_AFTER_PAINT_MS);
    };
    const { roots, exclude, sidecarExtensions, tagExtension } = this.roots();
    this.building = true;
    this.pending.clear();
    const next: DatasetIndex[] = [];
    const errors: string[] = [];
    this.scans.clear();
    this.indexes = next;
    try {
      for (const { root, depth } of roots) {
        // paint what is listed before sizes and tags are read (the first page shows at once)
        const index = await DatasetIndex.build(root, {
          depth,
          exclude,
          sidecarExtensions,
          tagExtension,
          // first paint while a big tree is still being listed, then once everything is listed
          progressMs: 200,
          onProgress: (ix) => {
            if (!next.includes(ix)) next.push(ix);
            this.absorb(ix);
            this.publish(undefined, true);
            firstPaint();
          },
          onListed: (ix) => {
            if (!next.includes(ix)) next.push(ix);
            this.absorb(ix);
            this.publish(undefined, true);
            firstPaint();
          },
        });
        if (!next.includes(index)) next.push(index);
        for (const issue of index.issues) {
          if (issue.code === 'unreadableFolder' || issue.code === 'symlinkLoop') errors.push(`${issue.path}: ${issue.reason}`);
        }
        this.absorb(index);
      }
    } finally {
      this.building = false;
    }
    this.errors = errors;
    for (const e of errors) getLog().warn(`Scan: ${e}`);
    const imageCount = next.reduce((n, i) => n + i.imageCount, 0);
    getLog().info(`Indexed ${roots.length} folder(s) in ${Date.now() - started} ms: ${this.scans.size} image folder(s), ${imageCount} image(s)`);
    this.publish(undefined, false);
    this.recordMtimes();
    if (this.pending.size > 0) await this.flush();
    // read in the background since the first paint; a refresh is complete when it is done too,
    // and the folders of its images outside the indexed ones are indexed then
    clearTimeout(this.metadataTimer);
    await (metadataRead ?? this.loadMetadata());
    if (await this.syncRoots()) this.publish({ folders: [], images: [], structure: true }, false);
  }

  /**
   * Takes an index's new folders into the scan map (the first index that reaches a folder wins).
   * A listed folder's scan is final (names and sidecars), so folders already taken are skipped.
   */
  private absorb(index: DatasetIndex): void {
    for (const f of index.folders()) {
      if (!this.scans.has(f.path)) this.scans.set(f.path, index.folderScan(f));
    }
  }

  /**
   * A safety net for file watchers that miss events (network drives, some remote setups): one
   * `stat` per shown folder (and its dataset folder); only folders whose listing differs from the
   * index are applied, as deltas. Never a rescan.
   */
  async reconcile(): Promise<void> {
    if (this.building || this.running) return;
    const dirs = new Set<string>([...this.scans.keys(), ...this.snapshot.groups.map((g) => g.path), ...this.indexes.map((i) => i.root)]);
    const changes: string[] = [];
    for (const dir of dirs) {
      let mtime: number;
      try {
        mtime = (await fs.promises.stat(dir)).mtimeMs;
      } catch {
        if (this.scans.has(dir)) changes.push(dir);
        continue;
      }
      const seen = this.mtimes.get(dir);
      this.mtimes.set(dir, mtime);
      if (seen === undefined || seen === mtime) continue;
      let names: fs.Dirent[];
      try {
        names = await fs.promises.readdir(dir, { withFileTypes: true });
      } catch {
        continue;
      }
      const scan = this.scans.get(dir);
      const known = new Set<string>();
      if (scan) {
        for (const i of scan.images) {
          known.add(i.name);
          for (const s of Object.values(i.sidecars)) known.add(s);
        }
        for (const i of scan.ignored) known.add(i.name);
        for (const o of scan.orphanSidecars) known.add(o);
      }
      const present = new Set<string>();
      for (const d of names) {
        const p = path.join(dir, d.name);
        present.add(d.name);
        if (d.isDirectory()) {
          if (!this.scans.has(p) && !d.name.startsWith('.')) changes.push(p);
        } else if (!known.has(d.name)) changes.push(p);
      }
      for (const n of known) if (!present.has(n)) changes.push(path.join(dir, n));
    }
    if (changes.length) {
      getLog().info(`Found ${changes.length} change(s) the file watcher did not report; applying them`);
      await this.applyChanges(changes);
    }
  }

  private recordMtimes(): void {
    this.mtimes.clear();
    for (const dir of new Set<string>([...this.scans.keys(), ...this.snapshot.groups.map((g) => g.path), ...this.indexes.map((i) => i.root)])) {
      try {
        this.mtimes.set(dir, fs.statSync(dir).mtimeMs);
      } catch {
        // gone: reconcile notices
      }
    }
  }

  /**
   * A config changed: read the configs again; a folder a config now names outside the indexed
   * roots is indexed on its own, one no config names any more is dropped. Nothing else is re-read.
   */
  private async rediscover(): Promise<void> {
    await this.discover();
    if (this.building || this.running) {
      // a full index is under way: it reads the new roots anyway
      if (this.running) this.again = true;
      return;
    }
    await this.syncRoots();
    this.publish({ folders: [], images: [], structure: true }, false);
  }

  /** Indexes the roots the configs (or metadata files) now name, drops those nothing names any more. */
  private syncRoots(): Promise<boolean> {
    const next = this.rootsSync.then(
      () => this.syncRootsNow(),
      () => this.syncRootsNow(),
    );
    this.rootsSync = next;
    return next;
  }

  private async syncRootsNow(): Promise<boolean> {
    const { roots, exclude, sidecarExtensions, tagExtension } = this.roots();
    const wanted = new Set(roots.map((r) => r.root));
    const dropped = this.indexes.filter((i) => !wanted.has(i.root));
    const added = roots.filter((r) => !this.indexes.some((i) => i.root === r.root));
    if (dropped.length) {
      this.indexes = this.indexes.filter((i) => wanted.has(i.root));
      for (const i of dropped) for (const f of i.folders()) if (!this.indexOf(f.path)) this.scans.delete(f.path);
    }
    for (const r of added) {
      const index = await DatasetIndex.build(r.root, { depth: r.depth, exclude, sidecarExtensions, tagExtension });
      this.indexes.push(index);
      this.absorb(index);
    }
    if (added.length || dropped.length) getLog().info(`Configs: indexed ${added.length} new folder(s), dropped ${dropped.length}`);
    return added.length > 0 || dropped.length > 0;
  }

  /** Reads the workspace's training and dataset configs, then (unless told not to) starts reading the metadata files they name. */
  private async discover(readMetadata = true): Promise<void> {
    const discovered: DiscoveredDataset[] = [];
    const origins = new Map<string, DatasetOrigin>();
    const configErrors: string[] = [];
    const extraRoots: Root[] = [];
    try {
      const cfg = vscode.workspace.getConfiguration(Settings.section);
      const exclude = cfg.get<string[]>(Settings.exclude, []);
      const excludeGlob = exclude.length ? `**/{${exclude.join(',')}}/**` : undefined;
      const files = await vscode.workspace.findFiles('**/*.toml', excludeGlob, 500);
      const training: TrainingConfigRefs[] = [];
      const datasetConfigs: Array<{ file: string; text: string; baseDir: string }> = [];
      for (const uri of files.sort((a, b) => a.fsPath.localeCompare(b.fsPath))) {
        let text: string;
        try {
          text = await fs.promises.readFile(uri.fsPath, 'utf8');
        } catch (e) {
          configErrors.push(`${uri.fsPath}: ${(e as Error).message}`);
          continue;
        }
        const baseDir = vscode.workspace.getWorkspaceFolder(uri)?.uri.fsPath ?? path.dirname(uri.fsPath);
        const kind = detectConfigKind(uri.fsPath, text);
        if (kind === 'training') training.push(readTrainingConfigRefs(text, uri.fsPath, baseDir));
        else if (kind === 'dataset') datasetConfigs.push({ file: uri.fsPath, text, baseDir });
      }
      // dataset configs a training config names but that the search did not find (outside the workspace)
      for (const t of training) {
        if (t.datasetConfig && !datasetConfigs.some((d) => d.file === t.datasetConfig)) {
          try {
            datasetConfigs.push({ file: t.datasetConfig, text: await fs.promises.readFile(t.datasetConfig, 'utf8'), baseDir: path.dirname(t.file) });
          } catch (e) {
            configErrors.push(`${path.basename(t.file)} names the dataset config ${t.datasetConfig}, which cannot be read: ${(e as Error).message}`);
          }
        }
      }
      for (const t of training) {
        for (const d of datasetsOfTrainingConfig(t)) {
          const sub = d.subsets[0];
          if (d.style === 'dreambooth' && sub?.imageDir) {
            if (!origins.has(sub.imageDir)) {
              origins.set(sub.imageDir, {
                file: t.file,
                option: d.label as 'train_data_dir' | 'reg_data_dir',
                bucket: sub.bucket,
                ...(sub.values.resolution ? { resolution: sub.values.resolution } : {}),
                ...(t.defaults.captionExtension ? { captionExtension: t.defaults.captionExtension } : {}),
              });
            }
            extraRoots.push({ root: sub.imageDir, depth: 1 });
          } else discovered.push(d);
        }
      }
      for (const dc of datasetConfigs) {
        const user = training.find((t) => t.datasetConfig === dc.file);
        const r = readDatasetConfig(dc.text, dc.file, dc.baseDir, user?.defaults);
        if (r.error) configErrors.push(r.error);
        discovered.push(...r.datasets);
      }
      for (const d of discovered) {
        for (const s of d.subsets) {
          if (s.imageDir) extraRoots.push({ root: s.imageDir, depth: 0 });
        }
      }
    } catch (e) {
      configErrors.push(`Looking for training configs failed: ${(e as Error).message}`);
    }
    for (const e of configErrors) getLog().warn(`Configs: ${e}`);
    // the metadata read last time stays until it is read again (no flicker in the views)
    this.discovery = { ...this.discovery, discovered, origins, configErrors };
    this.discoveredRoots = extraRoots.filter((r) => isDirSync(r.root));
    if (readMetadata) void this.loadMetadata();
  }

  /** A JSON file changed: read it again if a config names it as metadata. */
  private metadataChanged(file: string): void {
    const f = path.resolve(file);
    if (!this.discovery.discovered.some((d) => d.subsets.some((s) => s.metadataFile === f))) return;
    this.metadataForced.add(f);
    void this.loadMetadata();
  }

  /**
   * Reads the metadata files the configs name (each once, again only when its stat changes or
   * its watcher fires), keeps their keys and sizes only, resolves each fine-tuning subset's keys
   * with one listing per folder, and publishes. Runs in the background; calls coalesce.
   */
  private loadMetadata(): Promise<void> {
    if (this.metadataTask) {
      this.metadataAgain = true;
      return this.metadataTask;
    }
    const task = (async () => {
      do {
        this.metadataAgain = false;
        try {
          await this.readMetadataFiles();
        } catch (e) {
          getLog().warn(`Metadata: ${(e as Error).message}`);
        }
      } while (this.metadataAgain && !this.isDisposed);
    })().finally(() => {
      if (this.metadataTask === task) this.metadataTask = undefined;
    });
    this.metadataTask = task;
    return task;
  }

  private async readMetadataFiles(): Promise<void> {
    const subsets = this.discovery.discovered.flatMap((d) => d.subsets).filter((s) => s.metadataFile);
    const files = [...new Set(subsets.map((s) => s.metadataFile as string))];
    if (files.length === 0 && this.discovery.fineTuning.size === 0 && this.discovery.metadata.size === 0) return;
    const forced = new Set(this.metadataForced);
    this.metadataForced.clear();
    for (const file of files) {
      let st: fs.Stats | undefined;
      try {
        st = await fs.promises.stat(file);
      } catch {
        st = undefined;
      }
      const cached = this.metadataCache.get(file);
      if (cached && st && cached.mtimeMs === st.mtimeMs && cached.size === st.size && !forced.has(file)) continue;
      if (!st) {
        this.metadataCache.set(file, { mtimeMs: -1, size: -1, data: { error: `${file} does not exist (sd-scripts stops: "no metadata")` } });
        continue;
      }
      let data: MetadataSizes | { error: string };
      try {
        const parsed = parseMetadataSizes(await fs.promises.readFile(file, 'utf8'), /\.jsonl$/i.test(file));
        data = 'error' in parsed ? { error: `${file}: ${parsed.error}` } : parsed;
      } catch (e) {
        data = { error: `${file} cannot be read: ${(e as Error).message}` };
      }
      this.metadataCache.set(file, { mtimeMs: st.mtimeMs, size: st.size, data });
    }
    for (const f of [...this.metadataCache.keys()]) if (!files.includes(f)) this.metadataCache.delete(f);
    this.watchOutside(files);
    // one listing per folder the keys point into
    const listings = new Map<string, DirFiles | undefined>();
    const fineTuning = new Map<string, FineTuningKeys | { error: string }>();
    const metadata = new Map<string, MetadataKeySummary | { error: string }>();
    const dirs = new Set<string>();
    for (const s of subsets) {
      const file = s.metadataFile as string;
      const key = fineTuningKey(file, s.imageDir);
      if (fineTuning.has(key)) continue;
      const data = this.metadataCache.get(file)?.data;
      if (!data) continue;
      if ('error' in data) {
        fineTuning.set(key, data);
        if (!metadata.has(file)) metadata.set(file, data);
        continue;
      }
      for (const dir of keyFolders(data.keys, s.imageDir)) {
        dirs.add(dir);
        if (!listings.has(dir)) listings.set(dir, await listFolder(dir));
      }
      const resolved = resolveFineTuningKeys(data, file, s.imageDir, (d) => listings.get(d));
      fineTuning.set(key, resolved);
      if (!metadata.has(file)) metadata.set(file, resolved.summary);
    }
    this.metadataDirs = dirs;
    // folders of resolved images outside every indexed folder are indexed (depth 0) for their sizes
    const imageDirs = new Set<string>();
    for (const k of fineTuning.values()) if (!('error' in k)) for (const f of k.files) imageDirs.add(path.dirname(f));
    const before = this.metadataRoots.map((r) => r.root).join('\n');
    this.metadataRoots = [...imageDirs].sort().map((root) => ({ root, depth: 0 }));
    this.discovery = { ...this.discovery, metadata, fineTuning };
    if (before !== this.metadataRoots.map((r) => r.root).join('\n') && !this.building && !this.running) await this.syncRoots();
    if (this.isDisposed) return;
    this.publish(undefined, this.building);
  }

  /** Metadata files outside the workspace folders get a watcher of their own. */
  private watchOutside(files: readonly string[]): void {
    const outside = files.filter((f) => !vscode.workspace.getWorkspaceFolder(vscode.Uri.file(f)));
    for (const [f, w] of this.outsideWatchers) {
      if (!outside.includes(f)) {
        w.dispose();
        this.outsideWatchers.delete(f);
      }
    }
    for (const f of outside) {
      if (this.outsideWatchers.has(f)) continue;
      const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(path.dirname(f)), path.basename(f)));
      const changed = (): void => this.metadataChanged(f);
      const subs = [w, w.onDidChange(changed), w.onDidCreate(changed), w.onDidDelete(changed)];
      this.outsideWatchers.set(f, { dispose: () => subs.forEach((d) => d.dispose()) });
    }
  }
}

function emptySnapshot(): DatasetsSnapshot {
  return { groups: [], errors: [], scannedAt: 0, discovered: [], origins: new Map(), metadata: new Map(), fineTuning: new Map(), configErrors: [], indexing: false };
}

/** The key of a fine-tuning subset's images in {@link DatasetsSnapshot.fineTuning}. */
export function fineTuningKey(metadataFile: string, imageDir: string | undefined): string {
  return `${metadataFile}\n${imageDir ?? ''}`;
}


/** `p` is `dir` or below it. */
export function isInside(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);
}

function relDepth(from: string, to: string): number {
  const rel = path.relative(from, to);
  return rel === '' ? 0 : rel.split(path.sep).length;
}

function isDirSync(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
