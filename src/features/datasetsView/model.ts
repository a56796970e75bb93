import * as path from 'node:path';
import * as vscode from 'vscode';
import { scanDataset, ScanRootError, type FolderScan } from '../../core/dataset/scan';
import { groupDatasets, type DatasetGroup } from '../../core/dataset/groups';
import { Settings } from '../../constants';
import { Disposable } from '../../platform/dispose';
import { getLog } from '../../platform/log';

export interface DatasetsSnapshot {
  groups: DatasetGroup[];
  errors: string[];
  scannedAt: number;
}

const IMAGE_AND_SIDECAR_GLOB = '**/*.{png,jpg,jpeg,webp,bmp,PNG,JPG,JPEG,WEBP,BMP,txt,caption,npz}';

/**
 * The workspace's image folders, found with the same core scan the CLI uses. The tree is a view
 * of this model; it never scans by itself.
 */
export class DatasetsModel extends Disposable {
  private snapshot: DatasetsSnapshot = { groups: [], errors: [], scannedAt: 0 };
  private readonly changed = this.register(new vscode.EventEmitter<DatasetsSnapshot>());
  readonly onDidChange = this.changed.event;
  private refreshTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;

  constructor() {
    super();
    const watcher = this.register(vscode.workspace.createFileSystemWatcher(IMAGE_AND_SIDECAR_GLOB));
    const schedule = (): void => this.scheduleRefresh();
    this.register(watcher.onDidCreate(schedule));
    this.register(watcher.onDidDelete(schedule));
    // a folder deleted as a whole (rm -r) may be reported as one folder event, which the glob above
    // does not match: rescan when a deleted path is, or holds, a folder we show
    const anyDelete = this.register(vscode.workspace.createFileSystemWatcher('**/*', true, true, false));
    this.register(
      anyDelete.onDidDelete((uri) => {
        const gone = uri.fsPath;
        const inside = (p: string) => p === gone || p.startsWith(gone.endsWith(path.sep) ? gone : gone + path.sep);
        if (this.snapshot.groups.some((g) => inside(g.path) || g.folders.some((f) => inside(f.path)))) schedule();
      }),
    );
    // edits made through VS Code (explorer, our own commands) arrive here even when the file
    // watcher is slow or excluded by files.watcherExclude
    this.register(vscode.workspace.onDidCreateFiles(schedule));
    this.register(vscode.workspace.onDidDeleteFiles(schedule));
    this.register(vscode.workspace.onDidRenameFiles(schedule));
    this.register(vscode.workspace.onDidChangeWorkspaceFolders(schedule));
    this.register(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(Settings.section)) schedule();
      }),
    );
    this.register({ dispose: () => clearTimeout(this.refreshTimer) });
  }

  get current(): DatasetsSnapshot {
    return this.snapshot;
  }

  scheduleRefresh(delayMs = 300): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => void this.refresh(), delayMs);
  }

  /** Rescans; concurrent calls coalesce into one extra run. */
  refresh(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.scanOnce();
      } while (this.again && !this.isDisposed);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async scanOnce(): Promise<void> {
    const started = Date.now();
    const roots: Array<{ root: string; depth: number }> = [];
    const seen = new Set<string>();
    const add = (root: string, depth: number): void => {
      const key = path.resolve(root);
      if (!seen.has(key)) {
        seen.add(key);
        roots.push({ root: key, depth });
      }
    };
    for (const wf of vscode.workspace.workspaceFolders ?? []) {
      if (wf.uri.scheme !== 'file') continue;
      const cfg = vscode.workspace.getConfiguration(Settings.section, wf.uri);
      add(wf.uri.fsPath, cfg.get<number>(Settings.searchDepth, 4));
      for (const extra of cfg.get<string[]>(Settings.datasetFolders, [])) {
        add(path.isAbsolute(extra) ? extra : path.join(wf.uri.fsPath, extra), 1);
      }
    }
    const cfg = vscode.workspace.getConfiguration(Settings.section);
    const sidecarExtensions = cfg.get<string[]>(Settings.sidecarExtensions, ['.txt', '.caption']);
    const exclude = cfg.get<string[]>(Settings.exclude, []);

    const folders: FolderScan[] = [];
    const errors: string[] = [];
    for (const { root, depth } of roots) {
      try {
        const r = await scanDataset(root, { depth, exclude, sidecarExtensions });
        folders.push(...r.folders);
        for (const e of r.errors) errors.push(`${e.path}: ${e.message}`);
      } catch (e) {
        const msg = e instanceof ScanRootError ? e.message : `${root}: ${(e as Error).message}`;
        errors.push(msg);
      }
    }
    // the same folder can be reached from a workspace folder and from an extra folder
    const unique = new Map(folders.map((f) => [f.path, f]));
    let imageCount = 0;
    for (const f of unique.values()) imageCount += f.images.length;
    this.snapshot = {
      groups: groupDatasets([...unique.values()]),
      errors,
      scannedAt: Date.now(),
    };
    for (const e of errors) getLog().warn(`Scan: ${e}`);
    getLog().info(
      `Scanned ${roots.length} folder(s) in ${Date.now() - started} ms: ` +
        `${unique.size} image folder(s), ${imageCount} image(s)`,
    );
    this.changed.fire(this.snapshot);
  }
}
