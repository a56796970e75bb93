import * as path from 'node:path';
import * as vscode from 'vscode';
import { buildOverview } from '../../core/dataset/overview';
import type { DatasetGroup } from '../../core/dataset/groups';
import { Commands } from '../../constants';
import { Disposable } from '../../platform/dispose';
import { getLog } from '../../platform/log';
import { WebviewChannel, webviewHtml, webviewOptions } from '../../platform/webview';
import type { DatasetsModel } from '../datasetsView/model';
import type { DatasetNode } from '../datasetsView/provider';

export const OVERVIEW_VIEW_TYPE = 'loraWorkbench.datasetOverview';

interface PanelState {
  root: string;
}

/** One overview panel, reused for whichever dataset the user asks about. */
class OverviewPanel extends Disposable {
  private readonly channel: WebviewChannel;
  private version = 0;

  constructor(
    readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly model: DatasetsModel,
    private root: string,
  ) {
    super();
    panel.webview.options = webviewOptions(extensionUri);
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'activity-bar.svg');
    this.channel = this.register(new WebviewChannel(panel.webview));
    panel.webview.html = webviewHtml(panel.webview, extensionUri, 'overview', 'Dataset overview');
    this.register(panel.onDidDispose(() => this.dispose()));
    this.register(
      this.channel.onMessage(async (m) => {
        if (m.type === 'ready' || m.type === 'refresh') await this.load();
        else if (m.type === 'openFile') {
          // only files inside the dataset shown: the webview cannot make us open anything else
          const rel = path.relative(this.root, m.path);
          if (rel && !rel.startsWith('..') && !path.isAbsolute(rel)) {
            await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(m.path), { preview: true });
          }
        }
      }),
    );
    // recompute when the dataset changes on disk
    this.register(model.onDidChange(() => void this.load()));
  }

  show(root: string): void {
    this.root = root;
    this.panel.reveal();
    void this.load();
  }

  private async load(): Promise<void> {
    const version = ++this.version;
    const group = this.model.current.groups.find((g) => g.path === this.root);
    this.panel.title = `Dataset: ${path.basename(this.root)}`;
    if (!group) {
      this.channel.post({ type: 'error', message: `${this.root} is no longer a dataset folder (no images found).` });
      return;
    }
    this.channel.post({ type: 'overview/loading', title: path.basename(this.root) });
    try {
      const data = await buildOverview(group, { captionExtension: guessCaptionExtension(group) });
      if (version === this.version) this.channel.post({ type: 'overview/data', data });
    } catch (e) {
      getLog().error(`Overview of ${this.root} failed: ${(e as Error).message}`);
      this.channel.post({ type: 'error', message: `Could not read ${this.root}: ${(e as Error).message}` });
    }
  }
}

/** The sidecar extension most images have; tags are counted from it. */
function guessCaptionExtension(group: DatasetGroup): string {
  const n = new Map<string, number>();
  for (const f of group.folders) for (const i of f.images) for (const k of Object.keys(i.sidecars)) n.set(k, (n.get(k) ?? 0) + 1);
  return [...n.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '.txt';
}

export function registerOverview(context: vscode.ExtensionContext, model: DatasetsModel): void {
  let current: OverviewPanel | undefined;
  const adopt = (panel: vscode.WebviewPanel, root: string): OverviewPanel => {
    current?.dispose();
    const p = new OverviewPanel(panel, context.extensionUri, model, root);
    current = p;
    p.panel.onDidDispose(() => {
      if (current === p) current = undefined;
    });
    return p;
  };
  const open = async (root: string): Promise<void> => {
    if (current && !current.isDisposed) {
      current.show(root);
      return;
    }
    const panel = vscode.window.createWebviewPanel(OVERVIEW_VIEW_TYPE, `Dataset: ${path.basename(root)}`, vscode.ViewColumn.Active, {
      ...webviewOptions(context.extensionUri),
    });
    adopt(panel, root);
  };
  context.subscriptions.push(
    { dispose: () => current?.dispose() },
    vscode.commands.registerCommand(Commands.showDatasetOverview, async (node?: DatasetNode) => {
      let root: string | undefined;
      if (node?.type === 'group') root = node.group.path;
      else if (node?.type === 'folder') root = node.parentPath;
      if (!root) {
        if (!model.current.scannedAt) await model.refresh();
        const groups = model.current.groups;
        if (groups.length === 0) {
          void vscode.window.showInformationMessage('No dataset folder was found in this workspace.');
          return;
        }
        const pick =
          groups.length === 1
            ? { root: groups[0]?.path }
            : await vscode.window.showQuickPick(
                groups.map((g) => ({
                  label: path.basename(g.path),
                  description: `${g.imageCount} images`,
                  detail: g.path,
                  root: g.path,
                })),
                { title: 'Dataset overview', placeHolder: 'Choose a dataset' },
              );
        root = pick?.root;
      }
      if (root) await open(root);
    }),
    vscode.window.registerWebviewPanelSerializer(OVERVIEW_VIEW_TYPE, {
      async deserializeWebviewPanel(panel, state: PanelState | undefined) {
        if (!state?.root) {
          panel.dispose();
          return;
        }
        if (!model.current.scannedAt) await model.refresh();
        adopt(panel, state.root);
      },
    }),
  );
}
