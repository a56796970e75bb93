import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { FolderScan, ImageEntry } from '../../core/dataset/scan';
import type { DatasetGroup } from '../../core/dataset/groups';
import type { IndexedImage, SortKey } from '../../core/dataset/index';
import type { BucketOptions, DiscoveredDataset, DiscoveredSubset } from '../../core/dataset/discovery';
import { BucketSelector, checkBucketSettings } from '../../core/dataset/buckets';
import { emptyFolderReason } from '../../core/dataset/treeOps';
import { fineTuningFolderCounts, type FineTuningFolderCounts } from '../../core/dataset/fineTuning';
import { Commands, Settings } from '../../constants';
import { Disposable } from '../../platform/dispose';
import { fineTuningKey, isInside, type DatasetOrigin, type DatasetsModel, type DatasetsSnapshot } from './model';

/**
 * The Datasets tree's nodes. Their `contextValue`s are what menus attach to (other features use them):
 * - `dataset.kohyaFolder`: a folder of `N_name` concept folders (train_data_dir / reg_data_dir)
 * - `dataset.imageFolder`: a folder of images that is its own dataset
 * - `dataset.folder`: a concept folder or a dataset-config subset (has images)
 * - `datasetConfig`: a dataset defined by a dataset config or a training config's `in_json`
 * - `image` / `image.withSidecar`: an image without / with a caption or tag file
 * - `sidecar`: a caption, tag or latent-cache file of an image
 */
export type DatasetNode =
  | { type: 'group'; id: string; group: DatasetGroup; origin?: DatasetOrigin }
  | { type: 'folder'; id: string; folder: FolderScan; parentPath: string; subset?: DiscoveredSubset; isReg?: boolean }
  | { type: 'configDataset'; id: string; dataset: DiscoveredDataset }
  | { type: 'image'; id: string; folder: FolderScan; image: ImageEntry }
  | { type: 'sidecar'; id: string; file: string; imagePath: string; kind: string }
  | { type: 'more'; id: string; folder: FolderScan; shown: number }
  | { type: 'message'; id?: string; text: string; tooltip?: string };

export const PAGE_SIZE = 500;

export type TreeSort = { key: SortKey; descending: boolean };
export interface TreeFilter {
  name?: string;
  tag?: string;
  problems?: boolean;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** What the view description says about the active filter ('' when none). */
export function describeFilter(f: TreeFilter, sort: TreeSort): string {
  const parts: string[] = [];
  if (f.name) parts.push(`name “${f.name}”`);
  if (f.tag) parts.push(`tag “${f.tag}”`);
  if (f.problems) parts.push('with problems');
  const s = sort.key === 'name' && !sort.descending ? '' : `sorted by ${SORT_LABEL[sort.key]}${sort.descending ? ' ↓' : ''}`;
  return [parts.length ? `filter: ${parts.join(', ')}` : '', s].filter(Boolean).join(' · ');
}
export const SORT_LABEL: Record<SortKey, string> = { name: 'name', size: 'file size', pixels: 'pixels', width: 'width', height: 'height', tags: 'tag count' };

/**
 * Tree over {@link DatasetsModel}: datasets → concept folders / subsets → images (paged, sorted,
 * filtered through the index) → sidecars. Nodes are kept per id so a delta refreshes only the
 * nodes it touches. Problem counts come from VS Code's diagnostics, whoever publishes them.
 */
export class DatasetsTreeProvider extends Disposable implements vscode.TreeDataProvider<DatasetNode> {
  private readonly changed = this.register(new vscode.EventEmitter<DatasetNode | DatasetNode[] | undefined>());
  readonly onDidChangeTreeData = this.changed.event;
  private readonly decorationsChanged = this.register(new vscode.EventEmitter<vscode.Uri[]>());
  /** images shown per folder path, grown by "Show more" */
  private readonly shown = new Map<string, number>();
  private readonly nodes = new Map<string, DatasetNode>();
  /** diagnostics (not hints) per file path, and their sums per folder */
  private readonly diagnosticsPerFile = new Map<string, number>();
  private readonly problemsPerFolder = new Map<string, number>();
  private readonly selectors = new Map<string, BucketSelector | undefined>();
  private filterState: TreeFilter = {};
  private sortState: TreeSort = { key: 'name', descending: false };
  private readonly filterChanged = this.register(new vscode.EventEmitter<void>());
  readonly onDidChangeFilter = this.filterChanged.event;

  constructor(readonly model: DatasetsModel) {
    super();
    this.register(model.onDidChange((snap) => this.onModelChange(snap)));
    for (const [uri, diags] of vscode.languages.getDiagnostics()) this.countDiagnostics(uri, diags);
    let pendingFolders = new Set<string>();
    let timer: NodeJS.Timeout | undefined;
    this.register(
      vscode.languages.onDidChangeDiagnostics((e) => {
        for (const uri of e.uris) {
          const f = this.countDiagnostics(uri, vscode.languages.getDiagnostics(uri));
          if (f) pendingFolders.add(f);
        }
        if (pendingFolders.size === 0) return;
        clearTimeout(timer);
        timer = setTimeout(() => {
          const folders = pendingFolders;
          pendingFolders = new Set();
          this.refreshFolders(folders, this.filterState.problems === true);
        }, 100);
      }),
    );
    this.register({ dispose: () => clearTimeout(timer) });
    this.register(vscode.window.registerFileDecorationProvider(new CaptionDecorations(this, this.decorationsChanged.event)));
  }

  get filter(): TreeFilter {
    return this.filterState;
  }
  get sort(): TreeSort {
    return this.sortState;
  }

  setFilter(f: TreeFilter): void {
    this.filterState = { ...f };
    this.shown.clear();
    this.filterChanged.fire();
    this.changed.fire(undefined);
  }

  setSort(s: TreeSort): void {
    this.sortState = { ...s };
    this.shown.clear();
    this.filterChanged.fire();
    this.changed.fire(undefined);
  }

  get filterActive(): boolean {
    return Boolean(this.filterState.name || this.filterState.tag || this.filterState.problems);
  }

  /** Diagnostics (errors, warnings, information) on an image or its sidecars. */
  problemsOf(imagePath: string): number {
    const img = this.model.image(imagePath);
    let n = this.diagnosticsPerFile.get(imagePath) ?? 0;
    if (img) for (const s of Object.values(img.sidecars)) n += this.diagnosticsPerFile.get(path.join(img.folder, s)) ?? 0;
    return n;
  }

  problemsInFolder(folder: string): number {
    return this.problemsPerFolder.get(folder) ?? 0;
  }

  private countDiagnostics(uri: vscode.Uri, diags: readonly vscode.Diagnostic[]): string | undefined {
    if (uri.scheme !== 'file') return undefined;
    const file = uri.fsPath;
    const n = diags.filter((d) => d.severity !== vscode.DiagnosticSeverity.Hint).length;
    const before = this.diagnosticsPerFile.get(file) ?? 0;
    if (n === before) return undefined;
    if (n) this.diagnosticsPerFile.set(file, n);
    else this.diagnosticsPerFile.delete(file);
    const dir = path.dirname(file);
    this.problemsPerFolder.set(dir, (this.problemsPerFolder.get(dir) ?? 0) + n - before);
    return dir;
  }

  private onModelChange(snap: DatasetsSnapshot): void {
    this.selectors.clear();
    const d = snap.delta;
    if (!d || d.structure) {
      this.changed.fire(undefined);
      this.decorationsChanged.fire([]);
      return;
    }
    this.refreshFolders(new Set(d.folders), true);
    const images: DatasetNode[] = [];
    const uris: vscode.Uri[] = [];
    for (const p of d.images) {
      uris.push(vscode.Uri.file(p));
      const node = this.nodes.get(`image:${p}`);
      if (node && node.type === 'image' && !d.folders.includes(path.dirname(p))) {
        const scan = this.model.folderScan(path.dirname(p));
        if (scan) node.folder = scan;
        node.image = this.model.image(p) ?? node.image;
        images.push(node);
      }
    }
    for (const f of d.folders) {
      const scan = this.model.folderScan(f);
      if (scan) for (const i of scan.images) uris.push(vscode.Uri.file(path.join(f, i.name)));
    }
    if (images.length) this.changed.fire(images);
    if (uris.length) this.decorationsChanged.fire(uris);
  }

  /** Refreshes the nodes of these folders (and the datasets that hold them) only. */
  private refreshFolders(folders: Set<string>, includeParents: boolean): void {
    const targets: DatasetNode[] = [];
    for (const node of this.nodes.values()) {
      if (node.type === 'folder' && folders.has(node.folder.path)) {
        node.folder = this.model.folderScan(node.folder.path) ?? node.folder;
        targets.push(node);
      } else if (includeParents && node.type === 'group' && [...folders].some((f) => isInside(f, node.group.path))) {
        const g = this.model.current.groups.find((x) => x.path === node.group.path);
        if (g) node.group = g;
        targets.push(node);
      } else if (includeParents && node.type === 'configDataset' && node.dataset.subsets.some((s) => s.imageDir && folders.has(s.imageDir))) {
        targets.push(node);
      }
    }
    if (targets.length) this.changed.fire(targets);
  }

  /** One node object per id, so that a refresh can name it; its payload is updated in place. */
  private node<T extends DatasetNode & { id: string }>(fresh: T): T {
    const old = this.nodes.get(fresh.id);
    if (old && old.type === fresh.type) {
      Object.assign(old, fresh);
      return old as T;
    }
    this.nodes.set(fresh.id, fresh);
    return fresh;
  }

  showMore(node: DatasetNode): void {
    if (node.type !== 'more') return;
    this.shown.set(node.folder.path, node.shown + PAGE_SIZE);
    const parent = [...this.nodes.values()].find(
      (n) => (n.type === 'folder' && n.folder.path === node.folder.path) || (n.type === 'group' && n.group.kind === 'imageFolder' && n.group.path === node.folder.path),
    );
    this.changed.fire(parent ?? undefined);
  }

  /**
   * The tree node of an image, building the path to it (dataset → concept folder → page of
   * images) so that `TreeView.reveal` can select it. Undefined when no dataset holds the image or
   * the filter hides it.
   */
  imageNode(file: string): DatasetNode | undefined {
    const abs = path.resolve(file);
    const dir = path.dirname(abs);
    const group = this.getChildren().find((n) => n.type === 'group' && (n.group.path === dir || n.group.folders.some((f) => f.path === dir)));
    if (!group || group.type !== 'group') return undefined;
    let parent: DatasetNode = group;
    if (group.group.kind === 'kohyaFolder') {
      const folder = this.getChildren(group).find((n) => n.type === 'folder' && n.folder.path === dir);
      if (!folder) return undefined;
      parent = folder;
    }
    const find = (): DatasetNode | undefined => this.getChildren(parent).find((n) => n.type === 'image' && path.join(n.folder.path, n.image.name) === abs);
    let hit = find();
    if (!hit) {
      // beyond the first page: show every page up to it
      const total = this.query(dir, 0)?.total ?? this.model.folderScan(dir)?.images.length ?? 0;
      if ((this.shown.get(dir) ?? PAGE_SIZE) < total) {
        this.shown.set(dir, total);
        this.changed.fire(parent);
        hit = find();
      }
    }
    return hit;
  }

  getParent(node: DatasetNode): DatasetNode | undefined {
    if (node.type === 'image' || node.type === 'more') {
      const dir = node.folder.path;
      return [...this.nodes.values()].find((n) => (n.type === 'folder' && n.folder.path === dir) || (n.type === 'group' && n.group.kind === 'imageFolder' && n.group.path === dir));
    }
    if (node.type === 'sidecar') return this.nodes.get(`image:${node.imagePath}`);
    if (node.type === 'folder') {
      if (node.subset) return [...this.nodes.values()].find((n) => n.type === 'configDataset' && n.dataset.subsets.includes(node.subset as DiscoveredSubset));
      return this.nodes.get(`group:${node.parentPath}`);
    }
    return undefined;
  }

  getChildren(node?: DatasetNode): DatasetNode[] {
    const snap = this.model.current;
    if (!node) {
      const nodes: DatasetNode[] = [];
      for (const dataset of snap.discovered) {
        nodes.push(this.node({ type: 'configDataset', id: `config:${dataset.origin}:${dataset.label}`, dataset }));
      }
      for (const group of snap.groups) {
        const origin = snap.origins.get(group.path);
        nodes.push(this.node({ type: 'group', id: `group:${group.path}`, group, ...(origin ? { origin } : {}) }));
      }
      const problems = [...snap.errors, ...snap.configErrors];
      if (problems.length) {
        nodes.push({
          type: 'message',
          text: `${plural(problems.length, 'folder or config')} could not be read`,
          tooltip: problems.join('\n'),
        });
      }
      return nodes;
    }
    switch (node.type) {
      case 'group':
        if (node.group.kind === 'imageFolder' && node.group.folders[0]) return this.imageNodes(node.group.folders[0]);
        return node.group.folders.map((folder) =>
          this.node({ type: 'folder', id: `folder:${folder.path}`, folder, parentPath: node.group.path, ...(node.origin?.option === 'reg_data_dir' ? { isReg: true } : {}) }),
        );
      case 'configDataset':
        return node.dataset.subsets.map((subset) => {
          const dir = subset.imageDir ?? '';
          const folder = this.model.folderScan(dir) ?? emptyFolder(dir);
          const parent = snap.groups.find((g) => g.folders.some((f) => f.path === dir));
          return this.node({ type: 'folder', id: `subset:${node.dataset.origin}:${subset.label}`, folder, parentPath: parent?.path ?? path.dirname(dir), subset, isReg: subset.values.isReg });
        });
      case 'folder':
        return this.imageNodes(this.model.folderScan(node.folder.path) ?? node.folder);
      case 'image':
        return this.sidecarNodes(node);
      default:
        return [];
    }
  }

  /** The images of a folder as the current sort and filter show them (one page). */
  private imageNodes(folder: FolderScan): DatasetNode[] {
    const limit = this.shown.get(folder.path) ?? PAGE_SIZE;
    const page = this.query(folder.path, limit);
    const nodes: DatasetNode[] = [];
    if (page) {
      for (const img of page.items) nodes.push(this.node({ type: 'image', id: `image:${img.path}`, folder, image: img }));
      if (page.total > limit) nodes.push(this.node({ type: 'more', id: `more:${folder.path}`, folder, shown: limit }));
      if (page.total === 0 && this.filterActive) nodes.push({ type: 'message', text: 'No image here matches the filter' });
    } else {
      for (const image of folder.images.slice(0, limit)) nodes.push(this.node({ type: 'image', id: `image:${path.join(folder.path, image.name)}`, folder, image }));
      if (folder.images.length > limit) nodes.push(this.node({ type: 'more', id: `more:${folder.path}`, folder, shown: limit }));
    }
    if (!this.filterActive) {
      // names that are not valid UTF-8 (they cannot be opened by name) and broken links
      for (const issue of this.model.indexOf(folder.path)?.issues ?? []) {
        if ((issue.code !== 'invalidName' && issue.code !== 'unreadableFile') || path.dirname(issue.path) !== folder.path) continue;
        const why = issue.code === 'invalidName' ? 'its name is not valid UTF-8' : issue.reason;
        nodes.push({ type: 'message', text: `${path.basename(issue.path)} is left out: ${why}`, tooltip: issue.reason });
      }
      for (const ig of folder.ignored) {
        nodes.push({
          type: 'message',
          text: `${ig.name} is skipped by sd-scripts`,
          tooltip:
            ig.kind === 'mixedCase'
              ? 'sd-scripts matches image extensions in lower or upper case only; rename the file.'
              : 'sd-scripts loads this format only when a Pillow plugin for it is installed.',
        });
      }
    }
    return nodes;
  }

  /** One page of a folder's images through the index; undefined when the folder is not indexed. */
  query(folder: string, limit: number, offset = 0): { total: number; items: IndexedImage[] } | undefined {
    const index = this.model.indexOf(folder);
    if (!index) return undefined;
    const f = this.filterState;
    return index.query({
      folder,
      ...(f.name ? { name: f.name } : {}),
      ...(f.tag ? { tags: [f.tag.replace(/_/g, ' ')] } : {}),
      ...(f.problems ? { predicate: (img: IndexedImage) => this.problemsOf(img.path) > 0 } : {}),
      sort: this.sortState.key,
      descending: this.sortState.descending,
      offset,
      limit,
    });
  }

  private sidecarNodes(node: Extract<DatasetNode, { type: 'image' }>): DatasetNode[] {
    return sidecarFilesOf(node, this.model.image(path.join(node.folder.path, node.image.name))).map((s) =>
      this.node({ type: 'sidecar', id: `sidecar:${s.file}`, file: s.file, imagePath: path.join(node.folder.path, node.image.name), kind: s.kind }),
    );
  }

  /** A fine-tuning subset's trained images and its folder's unused ones, once its metadata is read. */
  private fineTuningCounts(s: DiscoveredSubset, f?: FolderScan): FineTuningFolderCounts | undefined {
    if (s.style !== 'finetuning' || !s.metadataFile) return undefined;
    const keys = this.model.current.fineTuning.get(fineTuningKey(s.metadataFile, s.imageDir));
    if (!keys || 'error' in keys) return undefined;
    const folder = f ?? (s.imageDir ? this.model.folderScan(s.imageDir) : undefined);
    return fineTuningFolderCounts(keys, folder?.path || s.imageDir || '', folder?.images ?? []);
  }

  /** Matching images over the whole folder (for descriptions while a filter is on). */
  private matchCount(folder: string): number | undefined {
    return this.filterActive ? this.query(folder, 0)?.total : undefined;
  }

  private bucketFor(imagePath: string): BucketSelector | undefined {
    const dir = path.dirname(imagePath);
    const snap = this.model.current;
    let resolution: [number, number] | undefined;
    let bucket: BucketOptions = {};
    const subset = snap.discovered.flatMap((d) => d.subsets).find((s) => s.imageDir === dir);
    if (subset) {
      resolution = subset.values.resolution;
      bucket = subset.bucket;
    } else {
      const origin = snap.origins.get(dir) ?? snap.origins.get(path.dirname(dir));
      if (origin) {
        resolution = origin.resolution;
        bucket = origin.bucket;
      }
    }
    const res = resolution ?? [1024, 1024];
    const key = JSON.stringify([res, bucket]);
    if (!this.selectors.has(key)) {
      const checked = checkBucketSettings({ resolution: res, ...bucket, enableBucket: bucket.enableBucket ?? true });
      this.selectors.set(key, checked.errors.length ? undefined : new BucketSelector(checked.settings));
    }
    return this.selectors.get(key);
  }

  /** Why sd-scripts will not read a folder of images although a config or a concept folder is near it. */
  private skipReason(g: DatasetGroup): string | undefined {
    const folder = g.folders[0];
    if (!folder) return undefined;
    const nested = this.model.indexOf(folder.path)?.folder(folder.path)?.skipReason;
    if (nested) return nested;
    const empty = emptyFolderReason(folder);
    if (empty) return empty;
    const parent = this.model.current.origins.get(path.dirname(g.path));
    if (parent && !folder.concept.ok) return `it is inside ${path.basename(parent.file)}'s ${parent.option}, and ${folder.concept.reason.replace(/^no repeat count: /, '')}`;
    return undefined;
  }

  /** `832×1216 · bucket 832×1216 · 31 tags` */
  imageDescription(imagePath: string, entry: ImageEntry): string {
    const img = this.model.image(imagePath);
    const parts: string[] = [];
    if (img?.width && img.height) {
      parts.push(`${img.width}×${img.height}`);
      const b = this.bucketFor(imagePath)?.select(img.width, img.height);
      if (b) parts.push(`bucket ${b.bucket[0]}×${b.bucket[1]}`);
    } else if (img && img.header.format === 'unknown' && img.size === 0 && this.model.current.indexing) parts.push('…');
    else if (img && img.header.problems.length) parts.push('unreadable');
    if (img?.tags) parts.push(plural(img.tags.length, 'tag'));
    else if (Object.keys(entry.sidecars).length === 0) parts.push('no caption or tags');
    else parts.push(Object.keys(entry.sidecars).join(' '));
    const problems = this.problemsOf(imagePath);
    if (problems) parts.push(plural(problems, 'problem'));
    return parts.join(' · ');
  }

  getTreeItem(node: DatasetNode): vscode.TreeItem {
    switch (node.type) {
      case 'group': {
        const g = node.group;
        const item = new vscode.TreeItem(path.basename(g.path), vscode.TreeItemCollapsibleState.Expanded);
        item.id = node.id;
        item.resourceUri = vscode.Uri.file(g.path);
        item.iconPath = new vscode.ThemeIcon(g.kind === 'kohyaFolder' ? 'database' : 'folder');
        const matching = g.kind === 'imageFolder' ? this.matchCount(g.path) : undefined;
        const problems = g.folders.reduce((n, f) => n + this.problemsInFolder(f.path), 0);
        const skipped = g.kind === 'imageFolder' ? this.skipReason(g) : undefined;
        item.description = [
          skipped ? 'skipped by sd-scripts' : '',
          g.kind === 'kohyaFolder' ? plural(g.folders.length, 'concept') : '',
          matching !== undefined ? `${matching} of ${plural(g.imageCount, 'image')}` : plural(g.imageCount, 'image'),
          problems ? plural(problems, 'problem') : '',
          node.origin ? `${node.origin.option === 'reg_data_dir' ? 'reg · ' : ''}${path.basename(node.origin.file)}` : '',
        ]
          .filter(Boolean)
          .join(' · ');
        const md = new vscode.MarkdownString(`**${path.basename(g.path)}**\n\n${g.path}\n\n`);
        md.appendMarkdown(
          g.kind === 'kohyaFolder'
            ? 'Holds kohya concept folders (`N_name`): use it as `train_data_dir` or `reg_data_dir`.'
            : 'A folder of images.',
        );
        if (node.origin) md.appendMarkdown(`\n\nUsed as \`${node.origin.option}\` by ${path.basename(node.origin.file)} (${node.origin.file}).`);
        if (skipped) md.appendMarkdown(`\n\nsd-scripts skips these images: ${skipped}`);
        item.tooltip = md;
        item.contextValue = `dataset.${g.kind}`;
        return item;
      }
      case 'configDataset': {
        const d = node.dataset;
        const images = d.subsets.reduce((n, s) => n + (this.fineTuningCounts(s)?.trained ?? (s.imageDir ? (this.model.folderScan(s.imageDir)?.images.length ?? 0) : 0)), 0);
        const item = new vscode.TreeItem(`${path.basename(d.origin)} · ${d.label}`, vscode.TreeItemCollapsibleState.Expanded);
        item.id = node.id;
        item.iconPath = new vscode.ThemeIcon(d.problems.length ? 'warning' : 'settings');
        item.description = [
          d.style === 'finetuning' ? 'fine-tuning' : d.style === 'mixed' ? 'mixed: refused by sd-scripts' : 'DreamBooth',
          plural(d.subsets.length, 'subset'),
          plural(images, 'image'),
        ].join(' · ');
        const md = new vscode.MarkdownString(`**${d.label}** of ${path.basename(d.origin)}\n\n${d.origin}`);
        for (const p of d.problems) md.appendMarkdown(`\n\n$(warning) ${p}`);
        md.supportThemeIcons = true;
        item.tooltip = md;
        item.contextValue = 'datasetConfig';
        item.command = { command: 'vscode.open', title: 'Open Config', arguments: [vscode.Uri.file(d.origin)] };
        return item;
      }
      case 'folder': {
        const f = this.model.folderScan(node.folder.path) ?? node.folder;
        const s = node.subset;
        const name = s ? (s.imageDir ? path.basename(s.imageDir) : s.label) : path.basename(f.path);
        const item = new vscode.TreeItem(name, f.images.length ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
        item.id = node.id;
        if (f.path) item.resourceUri = vscode.Uri.file(f.path);
        item.iconPath = new vscode.ThemeIcon(s?.skipReason ? 'circle-slash' : s?.style === 'finetuning' ? 'json' : 'folder');
        const repeats = s ? s.values.numRepeats : f.concept.ok ? f.concept.repeats : undefined;
        const tokens = s ? s.values.classTokens : f.concept.ok ? f.concept.classTokens : undefined;
        const concept = repeats !== undefined ? `${repeats}× · ${tokens ? `"${tokens}"` : 'no class tokens'}` : '';
        const matching = this.matchCount(f.path);
        const problems = this.problemsInFolder(f.path);
        const meta = s?.metadataFile ? this.model.current.metadata.get(s.metadataFile) : undefined;
        // a fine-tuning subset trains the images its metadata keys name, not its folder's images
        const ft = s ? this.fineTuningCounts(s, f) : undefined;
        const empty = s ? undefined : emptyFolderReason(f);
        if (empty) item.iconPath = new vscode.ThemeIcon('circle-slash');
        item.description = [
          concept,
          matching !== undefined ? `${matching} of ${plural(f.images.length, 'image')}` : ft ? `${plural(ft.trained, 'image')} in the metadata` : plural(f.images.length, 'image'),
          ft?.unused ? `${ft.unused} in the folder unused` : '',
          problems ? plural(problems, 'problem') : '',
          node.isReg ? 'reg' : '',
          meta ? ('error' in meta ? 'metadata unreadable' : meta.total ? `${meta.resolved}/${meta.total} keys resolve` : '') : '',
          s?.skipReason || empty ? 'skipped' : '',
        ]
          .filter(Boolean)
          .join(' · ');
        const md = new vscode.MarkdownString(`**${name}**\n\n${f.path || '(no image folder)'}\n\n`);
        if (repeats !== undefined) md.appendMarkdown(`sd-scripts repeats these images ${repeats} times per epoch; class tokens: "${tokens ?? ''}"`);
        if (node.isReg) md.appendMarkdown('\n\nRegularisation images (`is_reg`).');
        if (s) {
          md.appendMarkdown(`\n\n\`${s.label}\`: caption extension \`${s.values.captionExtension}\`, keep_tokens ${s.values.keepTokens}, batch size ${s.values.batchSize}`);
          if (s.values.resolution) md.appendMarkdown(`, resolution ${s.values.resolution[0]}×${s.values.resolution[1]}`);
          const from = Object.entries(s.sources).filter(([, src]) => src !== 'subset' && src !== 'default').map(([k, src]) => `${k} from ${src === 'training' ? 'the training config' : `[${src}]`}`);
          if (from.length) md.appendMarkdown(` (${from.join(', ')})`);
          if (s.metadataFile) md.appendMarkdown(`\n\nMetadata: ${s.metadataFile}`);
        }
        if (meta) md.appendMarkdown(`\n\n${'error' in meta ? meta.error : meta.message}`);
        if (ft) {
          md.appendMarkdown(`\n\nsd-scripts trains the ${plural(ft.trained, 'image')} the metadata keys name.`);
          if (ft.unused) {
            const more = ft.unused - ft.unusedExamples.length;
            md.appendText(
              ` ${plural(ft.unused, 'image')} in this folder ${ft.unused === 1 ? 'is' : 'are'} named by no key and not trained: ${ft.unusedExamples.join(', ')}${more > 0 ? ` and ${more} more` : ''}.`,
            );
          }
        }
        if (s?.skipReason) md.appendMarkdown(`\n\nsd-scripts skips this subset: ${s.skipReason}`);
        if (empty) md.appendMarkdown(`\n\n${empty}`);
        else if (!f.concept.ok && !s && node.parentPath) md.appendMarkdown(`\n\n${f.concept.reason}`);
        item.tooltip = md;
        item.contextValue = 'dataset.folder';
        return item;
      }
      case 'image': {
        const { image, folder } = node;
        const abs = path.join(folder.path, image.name);
        const hasChildren = Object.keys(image.sidecars).length > 0 || image.hasLatentCache;
        const item = new vscode.TreeItem(image.name, hasChildren ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
        item.id = node.id;
        item.resourceUri = vscode.Uri.file(abs);
        item.description = this.imageDescription(abs, image);
        item.contextValue = Object.keys(image.sidecars).length ? 'image.withSidecar' : 'image';
        item.command = { command: Commands.openImage, title: 'Open Image', arguments: [node] };
        return item;
      }
      case 'sidecar': {
        const item = new vscode.TreeItem(path.basename(node.file), vscode.TreeItemCollapsibleState.None);
        item.id = node.id;
        item.resourceUri = vscode.Uri.file(node.file);
        item.description = node.kind;
        item.iconPath = new vscode.ThemeIcon(node.kind === 'latent cache' ? 'package' : 'tag');
        item.contextValue = 'sidecar';
        if (node.kind !== 'latent cache') item.command = { command: 'vscode.open', title: 'Open', arguments: [vscode.Uri.file(node.file), { preview: true }] };
        return item;
      }
      case 'more': {
        const total = this.query(node.folder.path, 0)?.total ?? node.folder.images.length;
        const rest = total - node.shown;
        const item = new vscode.TreeItem(`Show ${Math.min(rest, PAGE_SIZE)} more…`);
        item.id = node.id;
        item.description = `${rest} not shown`;
        item.iconPath = new vscode.ThemeIcon('ellipsis');
        item.command = { command: Commands.showMoreImages, title: 'Show more', arguments: [node] };
        return item;
      }
      case 'message': {
        const item = new vscode.TreeItem(node.text);
        item.iconPath = new vscode.ThemeIcon('warning');
        if (node.tooltip) item.tooltip = node.tooltip;
        return item;
      }
    }
  }

  /** The image tooltip is built on hover: a preview and the caption (one small read). */
  resolveTreeItem(item: vscode.TreeItem, node: DatasetNode): vscode.TreeItem {
    if (node.type !== 'image') return item;
    const abs = path.join(node.folder.path, node.image.name);
    const img = this.model.image(abs);
    const md = new vscode.MarkdownString('', true);
    md.supportHtml = true;
    md.appendMarkdown(`**${escapeMd(node.image.name)}**`);
    if (img?.width && img.height) md.appendMarkdown(` · ${img.width}×${img.height} · ${formatBytes(img.size)}`);
    md.appendMarkdown(`\n\n![${escapeMd(node.image.name)}](${vscode.Uri.file(abs).toString()}|height=200)\n\n`);
    const captionExt = vscode.workspace.getConfiguration(Settings.section).get<string>(Settings.captionExtension, '.txt');
    const side = node.image.sidecars[captionExt] ?? Object.values(node.image.sidecars)[0];
    if (side) {
      const text = readStart(path.join(node.folder.path, side));
      md.appendMarkdown(`\`${side.replace(/`/g, "'")}\`\n\n`);
      if (text === undefined) md.appendMarkdown('*(cannot be read)*');
      else if (text.trim() === '') md.appendMarkdown('*(empty: sd-scripts stops on an empty caption file)*');
      else md.appendCodeblock(text, 'kohya-caption');
    } else {
      md.appendMarkdown('No caption or tag file: sd-scripts trains it with the class tokens only.');
    }
    const problems = this.problemsOf(abs);
    if (problems) md.appendMarkdown(`\n\n${plural(problems, 'problem')} in the Problems panel.`);
    item.tooltip = md;
    return item;
  }
}

/** Decorations for images whose caption file is missing or empty (the tree and the explorer). */
class CaptionDecorations implements vscode.FileDecorationProvider {
  constructor(
    private readonly provider: DatasetsTreeProvider,
    readonly onDidChangeFileDecorations: vscode.Event<vscode.Uri[]>,
  ) {}

  provideFileDecoration(uri: vscode.Uri): vscode.FileDecoration | undefined {
    if (uri.scheme !== 'file') return undefined;
    const img = this.provider.model.image(uri.fsPath);
    if (!img) return undefined;
    const ext = vscode.workspace.getConfiguration(Settings.section).get<string>(Settings.captionExtension, '.txt');
    if (!img.sidecars[ext]) {
      return { badge: '∅', tooltip: `No ${ext} caption file: sd-scripts uses the class tokens only`, color: new vscode.ThemeColor('list.warningForeground') };
    }
    if (img.tags !== undefined && img.tags.length === 0) {
      return { badge: '0', tooltip: `The ${ext} caption file is empty: sd-scripts stops on it`, color: new vscode.ThemeColor('list.errorForeground') };
    }
    return undefined;
  }
}

function emptyFolder(dir: string): FolderScan {
  return { path: dir, relPath: '', images: [], ignored: [], orphanSidecars: [], concept: { ok: false, reason: dir ? 'folder not found or has no images' : 'no image folder' } };
}

/** The sidecar files of an image node: caption/tag files and latent caches (`stem.npz`, `stem_WxH_sdxl.npz`). */
export function sidecarFilesOf(node: Extract<DatasetNode, { type: 'image' }>, img?: IndexedImage): Array<{ file: string; kind: string }> {
  const dir = node.folder.path;
  const out = Object.entries(node.image.sidecars).map(([ext, name]) => ({ file: path.join(dir, name), kind: ext === '.caption' ? 'caption' : 'caption / tags' }));
  const stem = node.image.name.slice(0, node.image.name.length - path.extname(node.image.name).length);
  if (node.image.hasLatentCache) out.push({ file: path.join(dir, `${stem}.npz`), kind: 'latent cache' });
  if (img?.width && img.height) {
    const sdxl = path.join(dir, `${stem}_${String(img.width).padStart(4, '0')}x${String(img.height).padStart(4, '0')}_sdxl.npz`);
    if (fs.existsSync(sdxl)) out.push({ file: sdxl, kind: 'latent cache' });
  }
  return out;
}

function readStart(file: string): string | undefined {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.alloc(1500);
      const n = fs.readSync(fd, buf, 0, buf.length, 0);
      const text = buf.subarray(0, n).toString('utf8').replace(/^\ufeff/, '');
      return n === buf.length ? `${text}…` : text;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

function escapeMd(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}

function formatBytes(n: number): string {
  return n >= 1048576 ? `${(n / 1048576).toFixed(1)} MB` : `${Math.max(1, Math.round(n / 1024))} KB`;
}

/** The image file behind a node, for commands invoked from the tree. */
export function imagePathOf(node: DatasetNode | undefined): string | undefined {
  if (node?.type === 'image') return path.join(node.folder.path, node.image.name);
  if (node?.type === 'sidecar') return node.imagePath;
  return undefined;
}

export function sidecarPathsOf(node: DatasetNode | undefined): string[] {
  if (node?.type !== 'image') return [];
  return Object.values(node.image.sidecars).map((n) => path.join(node.folder.path, n));
}

