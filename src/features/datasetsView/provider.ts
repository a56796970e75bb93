import * as path from 'node:path';
import * as vscode from 'vscode';
import type { FolderScan, ImageEntry } from '../../core/dataset/scan';
import type { DatasetGroup } from '../../core/dataset/groups';
import { Commands } from '../../constants';
import { Disposable } from '../../platform/dispose';
import type { DatasetsModel } from './model';

export type DatasetNode =
  | { type: 'group'; group: DatasetGroup }
  | { type: 'folder'; folder: FolderScan; parentPath: string }
  | { type: 'image'; folder: FolderScan; image: ImageEntry }
  | { type: 'more'; folder: FolderScan; shown: number }
  | { type: 'message'; text: string; tooltip?: string };

export const PAGE_SIZE = 500;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Tree over {@link DatasetsModel}: dataset → concept folders → images, paged for big folders. */
export class DatasetsTreeProvider extends Disposable implements vscode.TreeDataProvider<DatasetNode> {
  private readonly changed = this.register(new vscode.EventEmitter<DatasetNode | undefined>());
  readonly onDidChangeTreeData = this.changed.event;
  /** images shown per folder path, grown by "Show more" */
  private readonly shown = new Map<string, number>();

  constructor(private readonly model: DatasetsModel) {
    super();
    this.register(model.onDidChange(() => this.changed.fire(undefined)));
  }

  showMore(node: DatasetNode): void {
    if (node.type !== 'more') return;
    this.shown.set(node.folder.path, node.shown + PAGE_SIZE);
    this.changed.fire(undefined);
  }

  getChildren(node?: DatasetNode): DatasetNode[] {
    const snap = this.model.current;
    if (!node) {
      const nodes: DatasetNode[] = snap.groups.map((group) => ({ type: 'group', group }));
      if (snap.errors.length) {
        nodes.push({
          type: 'message',
          text: `${plural(snap.errors.length, 'folder')} could not be read`,
          tooltip: snap.errors.join('\n'),
        });
      }
      return nodes;
    }
    switch (node.type) {
      case 'group':
        if (node.group.kind === 'imageFolder' && node.group.folders[0]) {
          return this.imageNodes(node.group.folders[0]);
        }
        return node.group.folders.map((folder) => ({ type: 'folder', folder, parentPath: node.group.path }));
      case 'folder':
        return this.imageNodes(node.folder);
      default:
        return [];
    }
  }

  private imageNodes(folder: FolderScan): DatasetNode[] {
    const limit = this.shown.get(folder.path) ?? PAGE_SIZE;
    const nodes: DatasetNode[] = folder.images
      .slice(0, limit)
      .map((image) => ({ type: 'image', folder, image }));
    if (folder.images.length > limit) nodes.push({ type: 'more', folder, shown: limit });
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
    return nodes;
  }

  getTreeItem(node: DatasetNode): vscode.TreeItem {
    switch (node.type) {
      case 'group': {
        const g = node.group;
        const item = new vscode.TreeItem(path.basename(g.path), vscode.TreeItemCollapsibleState.Expanded);
        item.id = `group:${g.path}`;
        item.resourceUri = vscode.Uri.file(g.path);
        item.iconPath = new vscode.ThemeIcon(g.kind === 'kohyaFolder' ? 'database' : 'folder');
        item.description =
          g.kind === 'kohyaFolder'
            ? `${plural(g.folders.length, 'concept')} · ${plural(g.imageCount, 'image')}`
            : plural(g.imageCount, 'image');
        item.tooltip = new vscode.MarkdownString(
          `**${path.basename(g.path)}**\n\n${g.path}\n\n` +
            (g.kind === 'kohyaFolder'
              ? 'Holds kohya concept folders (`N_name`): use it as `train_data_dir` or `reg_data_dir`.'
              : 'A folder of images.'),
        );
        item.contextValue = `dataset.${g.kind}`;
        return item;
      }
      case 'folder': {
        const f = node.folder;
        const item = new vscode.TreeItem(path.basename(f.path), vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `folder:${f.path}`;
        item.resourceUri = vscode.Uri.file(f.path);
        item.iconPath = new vscode.ThemeIcon('folder');
        const concept = f.concept.ok
          ? `${f.concept.repeats}× · ${f.concept.classTokens ? `"${f.concept.classTokens}"` : 'no class tokens'}`
          : '';
        item.description = [concept, plural(f.images.length, 'image')].filter(Boolean).join(' · ');
        item.tooltip = f.concept.ok
          ? `${f.path}\nsd-scripts repeats these images ${f.concept.repeats} times per epoch; ` +
            `class tokens: "${f.concept.classTokens}"`
          : f.path;
        item.contextValue = 'dataset.folder';
        return item;
      }
      case 'image': {
        const { image, folder } = node;
        const abs = path.join(folder.path, image.name);
        const item = new vscode.TreeItem(image.name, vscode.TreeItemCollapsibleState.None);
        item.id = `image:${abs}`;
        item.resourceUri = vscode.Uri.file(abs);
        const sidecars = Object.keys(image.sidecars);
        item.description = sidecars.length ? sidecars.join(' ') : 'no caption or tags';
        item.tooltip = new vscode.MarkdownString(
          `${abs}\n\n` +
            (sidecars.length
              ? `Sidecars: ${sidecars.map((s) => `\`${image.sidecars[s]}\``).join(', ')}`
              : 'No caption or tag file: sd-scripts trains it with the class tokens only.'),
        );
        item.contextValue = sidecars.length ? 'image.withSidecar' : 'image';
        item.command = { command: Commands.openImage, title: 'Open Image', arguments: [node] };
        return item;
      }
      case 'more': {
        const rest = node.folder.images.length - node.shown;
        const item = new vscode.TreeItem(`Show ${Math.min(rest, PAGE_SIZE)} more…`);
        item.id = `more:${node.folder.path}:${node.shown}`;
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
}

/** The image file behind a node, for commands invoked from the tree. */
export function imagePathOf(node: DatasetNode | undefined): string | undefined {
  return node?.type === 'image' ? path.join(node.folder.path, node.image.name) : undefined;
}

export function sidecarPathsOf(node: DatasetNode | undefined): string[] {
  if (node?.type !== 'image') return [];
  return Object.values(node.image.sidecars).map((n) => path.join(node.folder.path, n));
}
