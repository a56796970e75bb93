import { existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Settings } from '../../constants';
import { GalleryModel } from '../../core/gallery/model';
import { isRangeSet, type RangeSet } from '../../core/gallery/selection';
import { TagQueryError } from '../../core/dataset/tagQuery';
import type { FileChange } from '../../core/dataset/index';
import type { GalleryItem, WebviewToHost } from '../../core/protocol';
import { Disposable } from '../../platform/dispose';
import { getLog } from '../../platform/log';
import { WebviewChannel, webviewHtml } from '../../platform/webview';
import type { ThumbnailJob, ThumbnailResult, ThumbnailService } from './thumbnailService';

export const GALLERY_VIEW_TYPE = 'loraWorkbench.gallery';
const TAG_EDITOR_COMMAND = 'loraWorkbench.openTagEditor';
const BATCH_PREFIX = 'loraWorkbench.tags.';
/** Most items sent in one answer (a screen of small cells is ~150). */
const MAX_RANGE = 600;
/** File events are collected this long before the index is updated. */
const CHANGE_DEBOUNCE_MS = 150;

/** What the webview saves (setState) and the serializer gets back after a reload. */
export interface GalleryPanelState {
  root?: string;
  query?: string;
  zoom?: number;
  top?: number;
}

export function galleryWebviewOptions(extensionUri: vscode.Uri, cacheDir: vscode.Uri): vscode.WebviewOptions {
  return {
    enableScripts: true,
    // our bundles and the thumbnail cache: never the dataset itself
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview'), cacheDir],
  };
}

/** One gallery panel over one folder tree. */
export class GalleryPanel extends Disposable {
  private readonly channel: WebviewChannel;
  private model: GalleryModel | undefined;
  private loading: Promise<GalleryModel | undefined> | undefined;
  private generation = 0;
  private selection: RangeSet = [];
  private pendingChanges = new Map<string, FileChange>();
  private changeTimer: NodeJS.Timeout | undefined;
  private watcher: vscode.Disposable | undefined;
  private applying: Promise<void> = Promise.resolve();

  constructor(
    readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly thumbs: ThumbnailService,
    private rootPath: string,
    private query = '',
  ) {
    super();
    panel.webview.options = galleryWebviewOptions(extensionUri, thumbs.cacheDir);
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'activity-bar.svg');
    this.channel = this.register(new WebviewChannel(panel.webview));
    panel.webview.html = webviewHtml(panel.webview, extensionUri, 'gallery', 'Dataset gallery');
    this.register(panel.onDidDispose(() => this.dispose()));
    this.register(this.channel.onMessage((m) => void this.onMessage(m).catch((e: unknown) => this.fail(e))));
    this.register({ dispose: () => clearTimeout(this.changeTimer) });
    this.register({ dispose: () => this.watcher?.dispose() });
    this.panel.title = `Gallery: ${path.basename(rootPath)}`;
    this.watch();
  }

  get root(): string {
    return this.rootPath;
  }

  /** Shows another folder in this panel. */
  show(root: string): void {
    this.panel.reveal();
    if (root === this.rootPath) return;
    this.rootPath = root;
    this.query = '';
    this.selection = [];
    this.model = undefined;
    this.loading = undefined;
    this.panel.title = `Gallery: ${path.basename(root)}`;
    this.watch();
    void this.load();
  }

  private fail(e: unknown): void {
    getLog().error(`Gallery of ${this.rootPath}: ${(e as Error).stack ?? String(e)}`);
    this.channel.post({ type: 'error', message: `The gallery failed: ${(e as Error).message}` });
  }

  private watch(): void {
    this.watcher?.dispose();
    const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(this.rootPath), '**/*'));
    const on = (kind: FileChange['kind']) => (uri: vscode.Uri) => {
      this.pendingChanges.set(uri.fsPath, { path: uri.fsPath, kind });
      clearTimeout(this.changeTimer);
      this.changeTimer = setTimeout(() => void this.flushChanges(), CHANGE_DEBOUNCE_MS);
    };
    const subs = [w, w.onDidCreate(on('created')), w.onDidChange(on('changed')), w.onDidDelete(on('deleted'))];
    this.watcher = { dispose: () => subs.forEach((s) => s.dispose()) };
  }

  /** Applies collected file events to the index and sends the new list, keeping place and selection. */
  private flushChanges(): Promise<void> {
    this.applying = this.applying.then(async () => {
      const model = this.model;
      // during the first index the changes wait (load() flushes them when it is done)
      if (!model || model.preview || this.pendingChanges.size === 0) return;
      const changes = [...this.pendingChanges.values()];
      this.pendingChanges.clear();
      const selected = model.pathsOf(this.selection);
      const r = await model.applyChanges(changes);
      if (r.changed.length === 0 && r.removed.length === 0) return;
      if (this.model !== model) return;
      this.selection = model.rangesOf(selected);
      await this.sendReset('files');
    });
    return this.applying.catch((e: unknown) => this.fail(e));
  }

  /**
   * Indexes the folder. The first page is sent as soon as the folders are listed (the preview);
   * the complete list follows when sizes and tags are read, keeping the place.
   */
  private load(): Promise<GalleryModel | undefined> {
    if (this.loading) return this.loading;
    const root = this.rootPath;
    this.channel.post({ type: 'gallery/loading', title: path.basename(root) });
    const cfg = vscode.workspace.getConfiguration(Settings.section, vscode.Uri.file(root));
    const started = performance.now();
    const current = () => this.rootPath === root && !this.isDisposed;
    this.loading = GalleryModel.open(
      root,
      {
        depth: cfg.get<number>(Settings.searchDepth, 4),
        exclude: cfg.get<string[]>(Settings.exclude, []),
        sidecarExtensions: cfg.get<string[]>(Settings.sidecarExtensions, ['.txt', '.caption']),
        tagExtension: cfg.get<string>(Settings.captionExtension, '.txt'),
      },
      (preview) => {
        if (!current()) return;
        this.model = preview;
        getLog().info(`Gallery: listed ${preview.total} images under ${root} in ${(performance.now() - started).toFixed(0)} ms`);
        void this.sendReset('open');
      },
    ).then(
      async (model) => {
        if (!current()) return undefined;
        getLog().info(`Gallery: indexed ${model.total} images under ${root} in ${(performance.now() - started).toFixed(0)} ms`);
        for (const issue of model.index.issues.slice(0, 20)) getLog().warn(`Gallery: ${issue.path}: ${issue.reason}`);
        const first = this.model !== model;
        this.model = model;
        if (this.query) {
          try {
            model.setQuery(this.query);
          } catch {
            this.query = '';
          }
        }
        await this.sendReset(first && !this.query ? 'open' : this.query ? 'filter' : 'files');
        if (this.pendingChanges.size) void this.flushChanges();
        return model;
      },
      (e: unknown) => {
        if (current()) {
          this.loading = undefined;
          this.channel.post({ type: 'error', message: `Could not read ${root}: ${(e as Error).message}` });
        }
        return undefined;
      },
    );
    return this.loading;
  }

  private async sendReset(reason: 'open' | 'filter' | 'files'): Promise<void> {
    const model = this.model;
    if (!model) return;
    const commands = await vscode.commands.getCommands(true);
    this.generation++;
    this.channel.post({
      type: 'gallery/reset',
      generation: this.generation,
      title: path.basename(this.rootPath),
      root: this.rootPath,
      total: model.total,
      matched: model.matched,
      query: model.query,
      selection: this.selection.map(([a, b]) => [a, b]),
      reason,
      batchAvailable: commands.some((c) => c.startsWith(BATCH_PREFIX)),
    });
  }

  private thumbUri(file: string): string {
    return this.panel.webview.asWebviewUri(vscode.Uri.file(file)).toString();
  }

  private withThumb(item: GalleryItem, job: ThumbnailJob | undefined): GalleryItem {
    if (!job) return item;
    const c = this.thumbs.cached(job);
    if (c?.ok) item.thumb = this.thumbUri(c.file);
    else if (c) item.error = c.error;
    return item;
  }

  /** A path from the webview, if it is an image of this gallery (the webview cannot name others). */
  private known(p: unknown): string | undefined {
    if (typeof p !== 'string' || !this.model) return undefined;
    return this.model.index.image(p) ? p : undefined;
  }

  private async onMessage(m: WebviewToHost): Promise<void> {
    switch (m.type) {
      case 'ready':
        if (this.model) await this.sendReset('open');
        else await this.load();
        return;
      case 'refresh':
        this.model = undefined;
        this.loading = undefined;
        await this.load();
        return;
      case 'gallery/range': {
        const model = this.model;
        if (!model || m.generation !== this.generation || !Number.isInteger(m.start) || !Number.isInteger(m.end)) return;
        const start = Math.max(0, m.start);
        const end = Math.min(m.end, start + MAX_RANGE);
        const items = model.page(start, end).map((d) => {
          const img = model.index.image(d.path);
          return img && GalleryModel.isRead(img) ? this.withThumb({ ...d }, this.thumbs.jobFor(img)) : d;
        });
        this.channel.post({ type: 'gallery/items', generation: this.generation, start, items });
        return;
      }
      case 'gallery/visible': {
        const model = this.model;
        if (!model || !Array.isArray(m.paths)) return;
        const jobs: ThumbnailJob[] = [];
        for (const p of m.paths.slice(0, 400)) {
          const img = typeof p === 'string' ? model.index.image(p) : undefined;
          // during the preview sizes and mtimes are unknown: the complete list asks again
          if (!img || !GalleryModel.isRead(img)) continue;
          if (img.size > 0) jobs.push(this.thumbs.jobFor(img));
          else this.channel.post({ type: 'gallery/thumb', path: img.path, error: 'the file is empty (0 bytes)' });
        }
        this.thumbs.want(jobs, (job: ThumbnailJob, r: ThumbnailResult) => {
          if (this.isDisposed) return;
          this.channel.post(r.ok ? { type: 'gallery/thumb', path: job.file, thumb: this.thumbUri(r.file) } : { type: 'gallery/thumb', path: job.file, error: r.error });
        });
        return;
      }
      case 'gallery/query': {
        if (typeof m.query !== 'string') return;
        // tags are known only once the index is complete
        const model = await this.load();
        if (!model || model !== this.model) return;
        try {
          model.setQuery(m.query);
        } catch (e) {
          if (e instanceof TagQueryError) {
            this.channel.post({ type: 'gallery/queryError', message: e.message, position: e.position });
            return;
          }
          throw e;
        }
        this.query = m.query;
        this.selection = [];
        await this.sendReset('filter');
        return;
      }
      case 'gallery/select':
        if (m.generation === this.generation && isRangeSet(m.ranges)) this.selection = m.ranges;
        return;
      case 'gallery/open': {
        const p = this.known(m.path);
        if (p) await openInTagEditor(p, this.model?.index.image(p)?.sidecars ?? {});
        return;
      }
      case 'gallery/reveal': {
        const p = this.known(m.path);
        if (p) await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(p));
        return;
      }
      case 'gallery/batch':
        await this.runBatch();
        return;
      default:
        return;
    }
  }

  private async runBatch(): Promise<void> {
    const model = this.model;
    if (!model) return;
    const paths = model.pathsOf(this.selection);
    if (paths.length === 0) {
      void vscode.window.showInformationMessage('Select images in the gallery first.');
      return;
    }
    const ids = (await vscode.commands.getCommands(true)).filter((c) => c.startsWith(BATCH_PREFIX)).sort();
    if (ids.length === 0) {
      void vscode.window.showInformationMessage('No batch tag command is available.');
      return;
    }
    const pick = await vscode.window.showQuickPick(
      ids.map((id) => ({ label: id.slice(BATCH_PREFIX.length), description: id, id })),
      { title: `Run on ${paths.length} selected image${paths.length === 1 ? '' : 's'}`, placeHolder: 'Choose a batch tag command' },
    );
    if (pick) await vscode.commands.executeCommand(pick.id, paths.map((p) => vscode.Uri.file(p)));
  }
}

/**
 * Opens an image in the tag editor when that command exists, else its tag file beside the
 * current editor (or the image, with a note, when it has no tag file).
 */
export async function openInTagEditor(imagePath: string, sidecars: Record<string, string>): Promise<void> {
  const uri = vscode.Uri.file(imagePath);
  const commands = await vscode.commands.getCommands(true);
  if (commands.includes(TAG_EDITOR_COMMAND)) {
    await vscode.commands.executeCommand(TAG_EDITOR_COMMAND, uri);
    return;
  }
  const ext = vscode.workspace.getConfiguration(Settings.section, uri).get<string>(Settings.captionExtension, '.txt');
  const dot = ext.startsWith('.') ? ext : `.${ext}`;
  const side = sidecars[dot] ?? Object.values(sidecars)[0];
  if (side) {
    await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(path.join(path.dirname(imagePath), side)), {
      viewColumn: vscode.ViewColumn.Beside,
      preview: true,
    });
    return;
  }
  await vscode.commands.executeCommand('vscode.open', uri, { viewColumn: vscode.ViewColumn.Beside, preview: true });
  void vscode.window.showInformationMessage(`${path.basename(imagePath)} has no tag file (${dot}) yet.`);
}

/** The folder a command was given: a Uri (explorer), a Datasets tree node, or a path. */
export function folderFromArg(arg: unknown): string | undefined {
  if (!arg) return undefined;
  if (arg instanceof vscode.Uri) return arg.scheme === 'file' ? arg.fsPath : undefined;
  if (typeof arg === 'string') return arg;
  const n = arg as { folder?: { path?: unknown }; group?: { path?: unknown }; fsPath?: unknown; scheme?: unknown };
  if (typeof n.group?.path === 'string') return n.group.path;
  if (typeof n.folder?.path === 'string') return n.folder.path;
  if (typeof n.fsPath === 'string' && (n.scheme === undefined || n.scheme === 'file')) return n.fsPath;
  return undefined;
}

export function isFolder(p: string): boolean {
  try {
    return existsSync(p) && statSync(p).isDirectory();
  } catch {
    return false;
  }
}
