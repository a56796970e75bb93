import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Commands, ContextKeys, Settings, Views } from '../../constants';
import { getLog } from '../../platform/log';
import { conceptFolderName, planImageRename, renameForRepeats } from '../../core/dataset/treeOps';
import { moveToTrash, type TrashedFile } from '../../core/trash';
import { DatasetsModel } from './model';
import { notSelection, selectedTargets } from './selection';
import {
  DatasetsTreeProvider,
  describeFilter,
  imagePathOf,
  sidecarFilesOf,
  sidecarPathsOf,
  SORT_LABEL,
  type DatasetNode,
  type TreeFilter,
  type TreeSort,
} from './provider';

export interface DatasetsFeature {
  model: DatasetsModel;
  provider: DatasetsTreeProvider;
  view: vscode.TreeView<DatasetNode>;
}

type Target = DatasetNode | vscode.Uri | undefined;

/** Registers the Datasets view and its commands; everything goes into `subscriptions`. */
export function registerDatasetsView(subscriptions: vscode.Disposable[]): DatasetsFeature {
  const model = new DatasetsModel();
  const provider = new DatasetsTreeProvider(model);
  const view = vscode.window.createTreeView(Views.datasets, {
    treeDataProvider: provider,
    showCollapseAll: true,
    // several rows: context menu commands get (clicked, selected[]) and work on all of them
    canSelectMany: true,
  });
  subscriptions.push(model, provider, view);

  const updateTitle = (): void => {
    const snap = model.current;
    const images = snap.groups.reduce((n, g) => n + g.imageCount, 0);
    const filter = describeFilter(provider.filter, provider.sort);
    view.description = filter || (snap.groups.length ? `${images} images${snap.indexing ? ' · reading sizes…' : ''}` : undefined);
    view.message = provider.filterActive
      ? `Showing images that match ${describeFilter(provider.filter, { key: 'name', descending: false }).replace(/^filter: /, '')}. Clear the filter from the view's title bar.`
      : snap.errors.length
        ? `${snap.errors.length} folder(s) could not be read; see the log.`
        : undefined;
    void vscode.commands.executeCommand('setContext', ContextKeys.datasetFilterActive, provider.filterActive);
  };
  let lastHas: boolean | undefined;
  subscriptions.push(
    model.onDidChange((snap) => {
      updateTitle();
      const has = snap.groups.length > 0 || snap.discovered.length > 0;
      if (has !== lastHas) {
        lastHas = has;
        void vscode.commands.executeCommand('setContext', ContextKeys.hasDatasets, has);
      }
      void vscode.commands.executeCommand('setContext', ContextKeys.scanned, true);
    }),
    provider.onDidChangeFilter(updateTitle),
    // watchers can miss events (network drives, some remote setups): compare folder listings
    // when the view is shown or the window regains focus, and apply what differs as deltas
    view.onDidChangeVisibility((e) => e.visible && void model.reconcile()),
    vscode.window.onDidChangeWindowState((s) => s.focused && view.visible && void model.reconcile()),
    vscode.commands.registerCommand(Commands.refreshDatasets, () =>
      vscode.window.withProgress({ location: { viewId: Views.datasets }, title: 'Scanning for datasets' }, () => model.refresh()),
    ),
    vscode.commands.registerCommand(Commands.showMoreImages, (node: DatasetNode) => provider.showMore(node)),
    vscode.commands.registerCommand(Commands.addDatasetFolder, async (uri?: vscode.Uri) => {
      const picked = uri
        ? [uri]
        : await vscode.window.showOpenDialog({
            canSelectFolders: true,
            canSelectFiles: false,
            canSelectMany: true,
            openLabel: 'Add as Dataset',
            title: 'Add image folders as datasets',
          });
      if (!picked?.length) return;
      const cfg = vscode.workspace.getConfiguration(Settings.section);
      const current = cfg.get<string[]>(Settings.datasetFolders, []);
      const wf = vscode.workspace.workspaceFolders?.[0];
      const toStore = picked.map((u) => {
        const rel = wf ? path.relative(wf.uri.fsPath, u.fsPath) : '';
        return wf && rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : u.fsPath;
      });
      const next = [...new Set([...current, ...toStore])];
      const target = wf ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
      await cfg.update(Settings.datasetFolders, next, target);
      await model.refresh();
    }),
    vscode.commands.registerCommand(Commands.openImage, async (node?: Target, selection?: unknown) => {
      const files = [...new Set(selectedTargets(node, selection).map(fileOf).filter((f): f is string => f !== undefined))];
      // several: each in a tab of its own (a preview tab would replace the one before)
      for (const file of files) await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(file), { preview: files.length === 1 });
      return files;
    }),
    vscode.commands.registerCommand(Commands.openSidecar, async (node?: Target, selection?: unknown) => {
      const opened: string[] = [];
      const nodes = selectedTargets(node, selection);
      for (const n of nodes) {
        const image = fileOf(n);
        const info = image ? model.image(image) : undefined;
        const [first] = n && !(n instanceof vscode.Uri) ? sidecarPathsOf(n) : info ? Object.values(info.sidecars).map((s) => path.join(info.folder, s)) : [];
        if (!first || opened.includes(first)) continue;
        try {
          const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(first));
          await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: nodes.length === 1 });
          opened.push(first);
        } catch (e) {
          getLog().error(`Could not open ${first}: ${(e as Error).message}`);
          void vscode.window.showErrorMessage(`Could not open ${path.basename(first)}: ${(e as Error).message}`);
        }
      }
      return opened;
    }),

    // ---- sort and filter --------------------------------------------------------------------
    vscode.commands.registerCommand(Commands.sortDatasetImages, async (sort?: TreeSort) => {
      if (!sort || typeof sort.key !== 'string') {
        const keys = ['name', 'size', 'pixels', 'tags'] as const;
        const items = keys.flatMap((key) =>
          [false, true].map((descending) => ({
            label: `${SORT_LABEL[key][0]?.toUpperCase()}${SORT_LABEL[key].slice(1)}${descending ? ', descending' : ''}`,
            description: provider.sort.key === key && provider.sort.descending === descending ? 'current' : '',
            sort: { key, descending } as TreeSort,
          })),
        );
        const pick = await vscode.window.showQuickPick(items, { title: 'Sort images by' });
        if (!pick) return;
        sort = pick.sort;
      }
      provider.setSort(sort);
    }),
    vscode.commands.registerCommand(Commands.filterDatasetImages, async (filter?: TreeFilter) => {
      if (!filter || typeof filter !== 'object' || filter instanceof vscode.Uri || 'type' in filter) {
        const current = provider.filter;
        type Item = vscode.QuickPickItem & { kind2: 'name' | 'tag' | 'problems' | 'clear' };
        const items: Item[] = [
          { label: '$(search) By name…', description: current.name ? `now “${current.name}”` : '', kind2: 'name' },
          { label: '$(tag) By tag…', description: current.tag ? `now “${current.tag}”` : '', kind2: 'tag' },
          { label: `$(warning) ${current.problems ? 'All images, not only those with problems' : 'Only images with problems'}`, kind2: 'problems' },
          { label: '$(clear-all) Clear filter', kind2: 'clear' },
        ];
        const pick = await vscode.window.showQuickPick(items, { title: 'Filter images' });
        if (!pick) return;
        if (pick.kind2 === 'clear') filter = {};
        else if (pick.kind2 === 'problems') filter = { ...current, problems: !current.problems };
        else {
          const value = await vscode.window.showInputBox({
            title: pick.kind2 === 'name' ? 'Show images whose file name contains' : 'Show images whose tag file has the tag',
            value: (pick.kind2 === 'name' ? current.name : current.tag) ?? '',
            prompt: pick.kind2 === 'tag' ? 'One tag as written in the tag file, e.g. blue_hair or blue hair (empty: any)' : 'Part of the file name (empty: any)',
          });
          if (value === undefined) return;
          filter = { ...current, [pick.kind2]: value.trim() || undefined };
        }
      }
      provider.setFilter(clean(filter));
    }),
    vscode.commands.registerCommand(Commands.clearDatasetFilter, () => provider.setFilter({})),

    // ---- file commands ----------------------------------------------------------------------
    vscode.commands.registerCommand(Commands.revealImageInExplorer, async (node?: Target) => {
      const file = node && !(node instanceof vscode.Uri) && node.type === 'sidecar' ? node.file : fileOf(node) ?? folderOf(node);
      if (file) await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(file));
    }),
    // "Reveal in Datasets View" (the gallery's tile menu; also takes a Uri or a path)
    vscode.commands.registerCommand(Commands.revealImageInDatasets, async (arg?: unknown): Promise<boolean> => {
      const file = imagePathFromArg(arg);
      if (!file) return false;
      if (!model.current.scannedAt) await model.refresh();
      const node = provider.imageNode(file);
      if (!node) {
        void vscode.window.showInformationMessage(
          provider.filterActive ? `${path.basename(file)} is hidden by the Datasets view's filter.` : `${path.basename(file)} is not in a dataset the Datasets view shows.`,
        );
        return false;
      }
      await vscode.commands.executeCommand(`${Views.datasets}.focus`);
      await view.reveal(node, { select: true, focus: true, expand: false });
      return true;
    }),
    // one image: with several selected, the one right-clicked
    vscode.commands.registerCommand(Commands.renameImage, async (node?: Target, nameArg?: string | unknown[]) => {
      let newName = notSelection(nameArg);
      if (typeof newName !== 'string') newName = undefined;
      const image = fileOf(node);
      if (!image) return false;
      const files = companions(model, node, image);
      const ext = path.extname(image);
      if (newName === undefined) {
        newName = await vscode.window.showInputBox({
          title: `Rename ${path.basename(image)} and its ${files.length} sidecar file(s)`,
          value: path.basename(image, ext),
          prompt: `The new name without ${ext}; ${files.map((f) => path.basename(f)).join(', ') || 'no sidecars'} follow`,
          validateInput: (v) => {
            const p = planImageRename(image, files, v, fs.existsSync);
            return p.ok || v.trim() === path.basename(image, ext) ? undefined : p.reason;
          },
        });
        if (newName === undefined) return false;
      }
      const plan = planImageRename(image, files, newName.replace(new RegExp(`${escapeRe(ext)}$`), ''), fs.existsSync);
      if (!plan.ok) {
        if (plan.reason !== 'The name is unchanged.') void vscode.window.showErrorMessage(`Cannot rename ${path.basename(image)}: ${plan.reason}`);
        return false;
      }
      // one WorkspaceEdit: open editors of the caption follow the rename, and it is one undo step
      const edit = new vscode.WorkspaceEdit();
      for (const [from, to] of plan.moves) edit.renameFile(vscode.Uri.file(from), vscode.Uri.file(to), { overwrite: false });
      const ok = await vscode.workspace.applyEdit(edit, { isRefactoring: false });
      if (!ok) {
        void vscode.window.showErrorMessage(`Renaming ${path.basename(image)} failed; nothing was changed.`);
        return false;
      }
      await model.applyChanges(plan.moves.flat());
      return true;
    }),
    // (node, confirmed) from scripts and tests; (clicked, selected[], confirmed?) from a multi-selection
    vscode.commands.registerCommand(Commands.deleteImage, async (node?: Target, second?: boolean | unknown[], third?: boolean): Promise<TrashedFile[] | undefined> => {
      const confirmed = Array.isArray(second) ? third : second;
      const images = new Map<string, Target>();
      for (const n of selectedTargets(node, second)) {
        const image = fileOf(n);
        if (image && !images.has(image)) images.set(image, n);
      }
      if (images.size === 0) return undefined;
      const files = [...new Set([...images].flatMap(([image, n]) => [image, ...companions(model, n, image)]))];
      const [image] = [...images.keys()] as [string];
      if (confirmed !== true) {
        const what =
          images.size === 1
            ? `${path.basename(image)}${files.length > 1 ? ` and ${files.slice(1).map((f) => path.basename(f)).join(', ')}` : ''}`
            : `${images.size} images and their ${files.length - images.size} sidecar file(s)`;
        const answer = await vscode.window.showWarningMessage(
          `Move ${what} to the trash?`,
          { modal: true, detail: `${images.size > 1 ? `${[...images.keys()].slice(0, 10).map((f) => path.basename(f)).join(', ')}${images.size > 10 ? ', …' : ''}\n\n` : ''}You can restore them from the trash.` },
          'Move to Trash',
        );
        if (answer !== 'Move to Trash') return undefined;
      }
      const done: TrashedFile[] = [];
      const failed: string[] = [];
      for (const f of files) {
        try {
          done.push(await trash(f));
        } catch (e) {
          failed.push(`${path.basename(f)}: ${(e as Error).message}`);
        }
      }
      if (failed.length) {
        getLog().error(`Move to trash failed: ${failed.join('; ')}`);
        void vscode.window.showErrorMessage(`Could not move to the trash: ${failed.join('; ')}`);
      }
      await model.applyChanges(files);
      return done;
    }),
    vscode.commands.registerCommand(Commands.changeRepeats, async (node?: Target, repeatsArg?: number | unknown[]) => {
      let repeats = notSelection(repeatsArg);
      if (typeof repeats !== 'number') repeats = undefined;
      const folder = folderOf(node);
      if (!folder) return false;
      const name = path.basename(folder);
      if (repeats === undefined) {
        const c = model.folderScan(folder)?.concept;
        const value = await vscode.window.showInputBox({
          title: `Repeats of ${name}`,
          value: c?.ok ? String(c.repeats) : '',
          prompt: 'How many times sd-scripts uses each image per epoch; the folder is renamed',
          validateInput: (v) => {
            const r = renameForRepeats(name, Number(v));
            return r.ok ? undefined : r.reason;
          },
        });
        if (value === undefined) return false;
        repeats = Number(value);
      }
      const r = renameForRepeats(name, repeats);
      if (!r.ok) {
        void vscode.window.showErrorMessage(r.reason);
        return false;
      }
      const target = path.join(path.dirname(folder), r.name);
      if (target === folder) return false;
      if (fs.existsSync(target)) {
        void vscode.window.showErrorMessage(`${r.name} already exists next to ${name}; nothing was renamed.`);
        return false;
      }
      const edit = new vscode.WorkspaceEdit();
      edit.renameFile(vscode.Uri.file(folder), vscode.Uri.file(target), { overwrite: false });
      if (!(await vscode.workspace.applyEdit(edit))) {
        void vscode.window.showErrorMessage(`Renaming ${name} failed; nothing was changed.`);
        return false;
      }
      await model.applyChanges([folder, target]);
      return true;
    }),
    vscode.commands.registerCommand(Commands.newConceptFolder, async (node?: Target, specArg?: { repeats: number; classTokens: string } | unknown[]) => {
      let spec = notSelection(specArg);
      if (!spec || typeof spec !== 'object' || typeof spec.classTokens !== 'string') spec = undefined;
      const parent = node instanceof vscode.Uri ? node.fsPath : node?.type === 'group' ? node.group.path : node?.type === 'folder' ? path.dirname(node.folder.path) : undefined;
      if (!parent) return undefined;
      if (!spec) {
        const tokens = await vscode.window.showInputBox({ title: 'New concept folder (1/2): class tokens', prompt: 'The trigger word and class, e.g. "tk girl"', placeHolder: 'tk girl' });
        if (tokens === undefined) return undefined;
        const reps = await vscode.window.showInputBox({
          title: 'New concept folder (2/2): repeats',
          value: '5',
          prompt: 'How many times sd-scripts uses each image per epoch',
          validateInput: (v) => (conceptFolderName(Number(v), tokens).ok ? undefined : 'A whole number of at least 1'),
        });
        if (reps === undefined) return undefined;
        spec = { repeats: Number(reps), classTokens: tokens };
      }
      const r = conceptFolderName(spec.repeats, spec.classTokens);
      if (!r.ok) {
        void vscode.window.showErrorMessage(r.reason);
        return undefined;
      }
      const dir = path.join(parent, r.name);
      if (fs.existsSync(dir)) {
        void vscode.window.showErrorMessage(`${r.name} already exists in ${path.basename(parent)}.`);
        return undefined;
      }
      await vscode.workspace.fs.createDirectory(vscode.Uri.file(dir));
      // the tree lists it at once (0 images, with the reason sd-scripts leaves it out until it has some)
      await model.applyChanges([dir]);
      void vscode.window.showInformationMessage(`Created ${r.name}: add its images (sd-scripts leaves out a concept folder without images).`);
      return dir;
    }),
  );
  void model.refresh();
  return { model, provider, view };

  function fileOf(node: Target): string | undefined {
    if (node instanceof vscode.Uri) return node.fsPath;
    return imagePathOf(node);
  }
}

function folderOf(node: Target): string | undefined {
  if (node instanceof vscode.Uri) return node.fsPath;
  if (node?.type === 'folder') return node.folder.path;
  if (node?.type === 'group') return node.group.path;
  return undefined;
}

/** The files that belong to an image: caption and tag files, latent caches. */
function companions(model: DatasetsModel, node: Target, image: string): string[] {
  const info = model.image(image);
  let imageNode: Extract<DatasetNode, { type: 'image' }> | undefined;
  if (node && !(node instanceof vscode.Uri) && node.type === 'image') imageNode = node;
  else if (info) {
    imageNode = { type: 'image', id: '', folder: { path: info.folder, relPath: '', images: [], ignored: [], orphanSidecars: [], concept: { ok: false, reason: '' } }, image: info };
  }
  if (!imageNode) return [];
  return sidecarFilesOf(imageNode, info).map((s) => s.file);
}

/** VS Code's trash where the file system has one, else the freedesktop trash (code-server, VS Code server). */
export async function trash(file: string): Promise<TrashedFile> {
  try {
    await vscode.workspace.fs.delete(vscode.Uri.file(file), { useTrash: true, recursive: false });
    return { file, trashed: 'trash' };
  } catch (e) {
    if (process.platform !== 'linux') throw e;
    return moveToTrash(file);
  }
}

function clean(f: TreeFilter): TreeFilter {
  const out: TreeFilter = {};
  if (f.name) out.name = f.name;
  if (f.tag) out.tag = f.tag;
  if (f.problems) out.problems = true;
  return out;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** An image path from a command argument: a Uri, a path, or a webview context (`lwbPath`). */
export function imagePathFromArg(arg: unknown): string | undefined {
  if (arg instanceof vscode.Uri) return arg.scheme === 'file' ? arg.fsPath : undefined;
  if (typeof arg === 'string' && arg) return path.resolve(arg);
  const p = (arg as { lwbPath?: unknown } | undefined)?.lwbPath;
  return typeof p === 'string' && p ? path.resolve(p) : undefined;
}
