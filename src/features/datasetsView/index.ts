import * as path from 'node:path';
import * as vscode from 'vscode';
import { Commands, ContextKeys, Settings, Views } from '../../constants';
import { getLog } from '../../platform/log';
import { DatasetsModel } from './model';
import { DatasetsTreeProvider, imagePathOf, sidecarPathsOf, type DatasetNode } from './provider';

export interface DatasetsFeature {
  model: DatasetsModel;
  provider: DatasetsTreeProvider;
  view: vscode.TreeView<DatasetNode>;
}

/** Registers the Datasets view and its commands; everything goes into `subscriptions`. */
export function registerDatasetsView(subscriptions: vscode.Disposable[]): DatasetsFeature {
  const model = new DatasetsModel();
  const provider = new DatasetsTreeProvider(model);
  const view = vscode.window.createTreeView(Views.datasets, {
    treeDataProvider: provider,
    showCollapseAll: true,
  });
  subscriptions.push(model, provider, view);

  subscriptions.push(
    model.onDidChange((snap) => {
      const images = snap.groups.reduce((n, g) => n + g.imageCount, 0);
      view.message = snap.errors.length ? `${snap.errors.length} folder(s) could not be read; see the log.` : undefined;
      view.description = snap.groups.length ? `${images} images` : undefined;
      void vscode.commands.executeCommand('setContext', ContextKeys.hasDatasets, snap.groups.length > 0);
      void vscode.commands.executeCommand('setContext', ContextKeys.scanned, true);
    }),
    // a safety net for file watchers that miss changes (network drives, some remote setups):
    // look again when the view is shown or the window regains focus
    view.onDidChangeVisibility((e) => e.visible && model.scheduleRefresh()),
    vscode.window.onDidChangeWindowState((s) => s.focused && view.visible && model.scheduleRefresh()),
    vscode.commands.registerCommand(Commands.refreshDatasets, () =>
      vscode.window.withProgress(
        { location: { viewId: Views.datasets }, title: 'Scanning for datasets' },
        () => model.refresh(),
      ),
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
    vscode.commands.registerCommand(Commands.openImage, async (node?: DatasetNode) => {
      const file = imagePathOf(node);
      if (!file) return;
      await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(file), { preview: true });
    }),
    vscode.commands.registerCommand(Commands.openSidecar, async (node?: DatasetNode) => {
      const [first] = sidecarPathsOf(node);
      if (!first) return;
      try {
        const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(first));
        await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: true });
      } catch (e) {
        getLog().error(`Could not open ${first}: ${(e as Error).message}`);
        void vscode.window.showErrorMessage(`Could not open ${path.basename(first)}: ${(e as Error).message}`);
      }
    }),
  );
  void model.refresh();
  return { model, provider, view };
}
