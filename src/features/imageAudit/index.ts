/**
 * Image audit in the Problems panel: the core audit rules (src/core/dataset/audit.ts) over every
 * image folder of the Datasets model, run in a worker process (headers, perceptual hashes with
 * sharp), kept incrementally (a changed file is re-read alone; duplicate groups are recomputed
 * from hashes in memory) and published as diagnostics on the image files (stray captions on the
 * caption file). Fixes: see ./fixes.ts.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { AuditSession, rateProblems, type RatedProblem, type RuleSettings } from '../../core/dataset/auditSession';
import type { AuditOptions, AuditProblem } from '../../core/dataset/audit';
import type { AuditWorkerProgress } from '../../core/dataset/imageAuditProtocol';
import type { FolderScan } from '../../core/dataset/scan';
import { normaliseSidecarExtension } from '../../core/dataset/images';
import { parseResolutionString } from '../../core/config/training';
import { Commands, Settings } from '../../constants';
import { Disposable } from '../../platform/dispose';
import { getLog } from '../../platform/log';
import type { DatasetsModel } from '../datasetsView/model';
import { callAuditWorker } from './worker';
import { registerImageFixes } from './fixes';

const SOURCE = 'LoRA Workbench';
const IMAGE_GLOB = '**/*.{png,jpg,jpeg,webp,bmp,PNG,JPG,JPEG,WEBP,BMP}';
/** datasets with more images than this show their progress in the status bar */
const STATUS_THRESHOLD = 200;

const SEVERITY: Record<RatedProblem['severity'], vscode.DiagnosticSeverity> = {
  error: vscode.DiagnosticSeverity.Error,
  warning: vscode.DiagnosticSeverity.Warning,
  info: vscode.DiagnosticSeverity.Information,
  hint: vscode.DiagnosticSeverity.Hint,
};

interface AuditSettings {
  enabled: boolean;
  rules: RuleSettings;
  options: AuditOptions;
  perceptual: boolean;
  sidecarExtensions: string[];
}

function readSettings(): AuditSettings {
  const cfg = vscode.workspace.getConfiguration(Settings.section);
  const reso = parseResolutionString(cfg.get<string>(Settings.imageAuditResolution, '1024,1024')) ?? [1024, 1024];
  return {
    enabled: cfg.get<boolean>(Settings.imageAuditEnabled, true),
    rules: cfg.get<RuleSettings>(Settings.imageAuditRules, {}),
    options: {
      resolution: reso,
      tooSmallFraction: cfg.get<number>(Settings.imageAuditTooSmall, 0.5),
      lowQualityBytesPerPixel: cfg.get<number>(Settings.imageAuditLowQuality, 0.17),
      nearDuplicateDistance: cfg.get<number>(Settings.imageAuditNearDistance, 6),
    },
    perceptual: cfg.get<boolean>(Settings.imageAuditNearDuplicates, true),
    sidecarExtensions: cfg.get<string[]>(Settings.sidecarExtensions, ['.txt', '.caption']).map(normaliseSidecarExtension),
  };
}

/** What other features (the Buckets view, tests) use. */
export interface ImageAuditFeature {
  readonly session: AuditSession;
  readonly collection: vscode.DiagnosticCollection;
  /** fires after each published audit */
  readonly onDidUpdate: vscode.Event<void>;
  /** Audits everything again from scratch. */
  runFull(): Promise<void>;
  /** Re-reads these image files (after a fix). */
  refreshFiles(files: readonly string[]): Promise<void>;
  /** Resolves when no audit is running or scheduled. */
  whenIdle(): Promise<void>;
  /** the rated problems of one file, as published */
  problemsOf(file: string): RatedProblem[];
}

class ImageAudit extends Disposable implements ImageAuditFeature {
  readonly session: AuditSession;
  readonly collection = this.register(vscode.languages.createDiagnosticCollection('lora-workbench-images'));
  private readonly updated = this.register(new vscode.EventEmitter<void>());
  readonly onDidUpdate = this.updated.event;
  private readonly status = this.register(vscode.window.createStatusBarItem('loraWorkbench.imageAudit', vscode.StatusBarAlignment.Left, 40));
  private settings = readSettings();
  private readonly pending = new Set<string>();
  private full = true;
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private scheduled = false;
  private abort: AbortController | undefined;
  private published = new Map<string, RatedProblem[]>();

  constructor(
    private readonly model: DatasetsModel,
    private readonly workerScript: string,
    private readonly docsUri: vscode.Uri,
  ) {
    super();
    this.session = new AuditSession(this.settings.options);
    this.status.name = 'LoRA Workbench Image Audit';
    this.status.command = 'workbench.actions.view.problems';
    this.register(model.onDidChange(() => this.schedule(50)));
    const watcher = this.register(vscode.workspace.createFileSystemWatcher(IMAGE_GLOB, true, false, true));
    this.register(
      watcher.onDidChange((u) => {
        if (u.scheme !== 'file' || !this.session.image(u.fsPath)) return;
        this.pending.add(u.fsPath);
        this.schedule(200);
      }),
    );
    this.register(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (!e.affectsConfiguration(`${Settings.section}.imageAudit`) && !e.affectsConfiguration(`${Settings.section}.${Settings.sidecarExtensions}`)) return;
        const before = this.settings;
        this.settings = readSettings();
        this.session.setOptions(this.settings.options);
        if (!this.settings.enabled) {
          this.abort?.abort();
          this.session.clear();
          this.publish();
          return;
        }
        if (!before.enabled || before.perceptual !== this.settings.perceptual || before.sidecarExtensions.join() !== this.settings.sidecarExtensions.join()) {
          this.full = true;
          this.schedule(0);
        } else this.publish();
      }),
    );
    this.register({ dispose: () => clearTimeout(this.timer) });
    this.register({ dispose: () => this.abort?.abort() });
    if (model.current.scannedAt > 0) this.schedule(0);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.scheduled = true;
    this.timer = setTimeout(() => {
      this.scheduled = false;
      void this.run();
    }, ms);
  }

  runFull(): Promise<void> {
    this.full = true;
    clearTimeout(this.timer);
    this.scheduled = false;
    return this.run();
  }

  async refreshFiles(files: readonly string[]): Promise<void> {
    for (const f of files) this.pending.add(f);
    clearTimeout(this.timer);
    this.scheduled = false;
    await this.run();
  }

  async whenIdle(): Promise<void> {
    while (this.running || this.scheduled) {
      if (this.running) await this.running;
      else await new Promise((r) => setTimeout(r, 50));
    }
  }

  problemsOf(file: string): RatedProblem[] {
    return this.published.get(path.resolve(file)) ?? [];
  }

  private run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.syncOnce();
        } catch (e) {
          if ((e as Error).message !== 'cancelled') {
            getLog().error(`Image audit failed: ${(e as Error).message}`);
            void vscode.window.showWarningMessage(`LoRA Workbench: the image audit failed: ${(e as Error).message}`, 'Show Log').then((p) => p && getLog().show());
          }
        }
      } while (this.again && !this.isDisposed);
    })().finally(() => {
      this.running = undefined;
      this.status.hide();
    });
    return this.running;
  }

  private async syncOnce(): Promise<void> {
    if (!this.settings.enabled) return;
    const started = Date.now();
    const current = new Map<string, FolderScan>();
    for (const g of this.model.current.groups) for (const f of g.folders) current.set(path.resolve(f.path), f);
    if (this.full) {
      this.session.clear();
      this.full = false;
    }
    for (const folder of this.session.folderPaths()) if (!current.has(folder)) this.session.removeFolder(folder);
    const newFolders: string[] = [];
    const files: string[] = [];
    const pending = new Set([...this.pending].map((p) => path.resolve(p)));
    this.pending.clear();
    for (const [folder, scan] of current) {
      if (!this.session.hasFolder(folder)) {
        newFolders.push(folder);
        continue;
      }
      const now = new Set(scan.images.map((i) => path.join(folder, i.name)));
      const gone = this.session.filesIn(folder).filter((f) => !now.has(f));
      this.session.remove(gone);
      for (const img of scan.images) {
        const file = path.join(folder, img.name);
        const sidecars = Object.values(img.sidecars).map((s) => path.join(folder, s));
        if (!this.session.image(file) || pending.has(file)) files.push(file);
        else this.session.setSidecars(file, sidecars, sidecars.length > 0);
      }
      this.session.setStrays(folder, scan.orphanSidecars.map((o) => path.join(folder, o)));
    }
    if (newFolders.length || files.length) {
      const expected = newFolders.reduce((n, f) => n + (current.get(f)?.images.length ?? 0), 0) + files.length;
      this.abort = new AbortController();
      const showStatus = expected > STATUS_THRESHOLD;
      const onProgress = (p: AuditWorkerProgress): void => {
        if (!showStatus) return;
        const what = p.phase === 'reading' ? 'reading' : 'decoding';
        this.status.text = `$(sync~spin) Image audit: ${what} ${p.done.toLocaleString('en-US')}/${Math.max(p.total, p.done).toLocaleString('en-US')}`;
        this.status.tooltip = 'LoRA Workbench is checking the dataset images (click for the Problems panel)';
        this.status.show();
      };
      if (showStatus) onProgress({ type: 'progress', phase: 'reading', done: 0, total: expected });
      const result = await callAuditWorker(
        this.workerScript,
        { type: 'auditRequest', folders: newFolders, files, sidecarExtensions: this.settings.sidecarExtensions, perceptual: this.settings.perceptual },
        { signal: this.abort.signal, onProgress },
      );
      for (const f of result.folders) this.session.setFolder(f);
      const byFile = new Map<string, FolderScan['images'][number]>();
      for (const file of files) {
        const scan = current.get(path.dirname(file));
        const entry = scan?.images.find((i) => i.name === path.basename(file));
        if (entry) byFile.set(file, entry);
      }
      this.session.upsert(
        result.files.map((img) => {
          const entry = byFile.get(img.file);
          const sidecars = Object.values(entry?.sidecars ?? {}).map((s) => path.join(path.dirname(img.file), s));
          return { ...img, sidecars, hasCaption: sidecars.length > 0 };
        }),
      );
      if (this.settings.perceptual && result.sharp.startsWith('not loaded')) getLog().warn(`Image audit: sharp ${result.sharp}; near duplicates are not searched`);
    }
    if (showHashing(this.session.imageCount)) {
      this.status.text = '$(sync~spin) Image audit: comparing files';
      this.status.show();
    }
    await this.session.hashCollisions();
    this.publish();
    getLog().info(`Image audit: ${this.session.imageCount} image(s), ${newFolders.length} folder(s) and ${files.length} file(s) read, in ${Date.now() - started} ms`);
  }

  /** Folders the Datasets scan could not read ("<path>: <reason>"), as problems on the folder. */
  private scanErrorProblems(): AuditProblem[] {
    const out: AuditProblem[] = [];
    for (const e of this.model.current.errors) {
      // the path is the longest prefix before ': ' that exists
      let cut = -1;
      for (let i = e.indexOf(': '); i > 0; i = e.indexOf(': ', i + 1)) if (existsSync(e.slice(0, i))) cut = i;
      if (cut < 0) continue;
      out.push({ file: e.slice(0, cut), code: 'unreadable', severity: 'error', message: `The folder cannot be read (${e.slice(cut + 2)}): its images are left out.` });
    }
    return out;
  }

  private publish(): void {
    const problems = this.settings.enabled ? rateProblems([...this.session.problems(), ...this.scanErrorProblems()], this.settings.rules) : [];
    const byFile = new Map<string, RatedProblem[]>();
    for (const p of problems) {
      const f = path.resolve(p.file);
      const list = byFile.get(f);
      if (list) list.push(p);
      else byFile.set(f, [p]);
    }
    const entries: Array<[vscode.Uri, vscode.Diagnostic[] | undefined]> = [];
    for (const f of this.published.keys()) if (!byFile.has(f)) entries.push([vscode.Uri.file(f), undefined]);
    for (const [f, list] of byFile) entries.push([vscode.Uri.file(f), list.map((p) => this.toDiagnostic(p))]);
    this.collection.set(entries);
    this.published = byFile;
    this.updated.fire();
  }

  private toDiagnostic(p: RatedProblem): vscode.Diagnostic {
    const d = new vscode.Diagnostic(new vscode.Range(0, 0, 0, 0), p.message, SEVERITY[p.severity]);
    d.source = SOURCE;
    d.code = { value: `lwb.${p.code}`, target: this.docsUri };
    if (p.related?.length) {
      d.relatedInformation = p.related.map(
        (o) => new vscode.DiagnosticRelatedInformation(new vscode.Location(vscode.Uri.file(o), new vscode.Range(0, 0, 0, 0)), p.code === 'duplicate' ? 'same content' : 'looks almost the same'),
      );
    }
    return d;
  }
}

function showHashing(n: number): boolean {
  return n > STATUS_THRESHOLD * 10;
}

export function registerImageAudit(context: vscode.ExtensionContext, model: DatasetsModel): ImageAuditFeature {
  const script = vscode.Uri.joinPath(context.extensionUri, 'dist', 'workers', 'imageAudit.js').fsPath;
  const docs = vscode.Uri.joinPath(context.extensionUri, 'README.md').with({ fragment: 'image-audit' });
  const audit = new ImageAudit(model, script, docs);
  context.subscriptions.push(
    audit,
    vscode.commands.registerCommand(Commands.runImageAudit, () =>
      vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Image audit' }, async () => {
        await model.refresh();
        await audit.runFull();
        const n = audit.collection;
        let count = 0;
        n.forEach((_u, d) => {
          count += d.length;
        });
        void vscode.window.setStatusBarMessage(`LoRA Workbench: image audit done, ${count} problem(s)`, 5000);
      }),
    ),
  );
  registerImageFixes(context, audit, script, model);
  return audit;
}
