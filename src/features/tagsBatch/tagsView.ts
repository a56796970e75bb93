/**
 * The Tags view: every tag with the number of caption files it is on, per concept folder (or all
 * together), how often it comes with the concept's trigger word, a filter, sorting by count or
 * name, and per tag: select the images with it, and batch actions on them (remove, rename, move
 * to the front). Answered from the caption index (no file read); refreshed when it changes.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { allTagRows, conceptTagRows, cooccurrenceText, filesWithTag, filterTagRows, sortTagRows, type TagRow, type TagSort } from '../../core/captions/tagStats';
import { TAG_BATCH_KINDS, KIND_TITLES } from '../../core/captions/tagBatch';
import { Commands, ContextKeys, Views } from '../../constants';
import { Disposable } from '../../platform/dispose';
import { imageForSidecar } from '../autoTag/targets';
import type { CaptionDiagnostics } from '../captionDiagnostics';
import type { TagNodeArg } from './targets';

/** rows shown under one parent before "use the filter" */
const MAX_ROWS = 500;

type Node =
  | { type: 'concept'; id: string; name: string; trigger: string | null; files: number; tags: number }
  | (TagNodeArg & { row: TagRow; total: number; conceptName?: string; trigger?: string | null })
  | { type: 'message'; text: string };

export class TagsView extends Disposable implements vscode.TreeDataProvider<Node> {
  private readonly changed = this.register(new vscode.EventEmitter<Node | undefined>());
  readonly onDidChangeTreeData = this.changed.event;
  private filter = '';
  private sort: TagSort = 'count';
  private grouped = true;
  private stale = false;
  private timer: NodeJS.Timeout | undefined;
  readonly view: vscode.TreeView<Node>;

  constructor(private readonly captions: CaptionDiagnostics) {
    super();
    this.view = this.register(vscode.window.createTreeView(Views.tags, { treeDataProvider: this, showCollapseAll: true }));
    this.register(
      captions.onDidUpdate(() => {
        if (!this.view.visible) {
          this.stale = true;
          return;
        }
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.refresh(), 400);
      }),
    );
    this.register(this.view.onDidChangeVisibility((e) => e.visible && this.stale && this.refresh()));
    this.register({ dispose: () => clearTimeout(this.timer) });
    this.describe();
  }

  refresh(): void {
    this.stale = false;
    this.describe();
    this.changed.fire(undefined);
  }

  get state(): { filter: string; sort: TagSort; grouped: boolean } {
    return { filter: this.filter, sort: this.sort, grouped: this.grouped };
  }

  setFilter(filter: string): void {
    this.filter = filter.trim();
    void vscode.commands.executeCommand('setContext', ContextKeys.tagsFiltered, this.filter !== '');
    this.refresh();
  }

  toggleSort(): void {
    this.sort = this.sort === 'count' ? 'name' : 'count';
    this.refresh();
  }

  toggleGroup(): void {
    this.grouped = !this.grouped;
    this.refresh();
  }

  private describe(): void {
    const parts = [this.filter ? `filter: "${this.filter}"` : '', this.sort === 'name' ? 'by name' : 'by count', this.grouped ? '' : 'all concepts'];
    this.view.description = parts.filter((p) => p !== '').join(' · ');
    const index = this.captions.captionIndex;
    if (index.fileCount === 0) this.view.message = 'No caption files yet: the tags of the datasets in the Datasets view show here.';
    else if (this.filter && filterTagRows(allTagRows(index), this.filter).length === 0) this.view.message = `No tag contains "${this.filter}".`;
    else this.view.message = undefined;
  }

  private rows(concept?: string): TagRow[] {
    const index = this.captions.captionIndex;
    const rows = concept === undefined ? allTagRows(index) : conceptTagRows(index, concept);
    return sortTagRows(filterTagRows(rows, this.filter), this.sort);
  }

  getChildren(node?: Node): Node[] {
    const index = this.captions.captionIndex;
    if (!node) {
      if (!this.grouped) return this.tagNodes(this.rows(), undefined);
      const concepts: Node[] = [];
      for (const id of index.conceptIds()) {
        const info = index.conceptInfo(id);
        const stats = index.conceptStats(id);
        if (!info || !stats || stats.files === 0) continue;
        const tags = this.filter ? this.rows(id).length : stats.counts.size;
        if (this.filter && tags === 0) continue;
        concepts.push({ type: 'concept', id, name: info.name, trigger: info.trigger, files: stats.files, tags });
      }
      return concepts.sort((a, b) => ((a as { name: string }).name < (b as { name: string }).name ? -1 : 1));
    }
    if (node.type === 'concept') return this.tagNodes(this.rows(node.id), node.id);
    return [];
  }

  private tagNodes(rows: TagRow[], concept: string | undefined): Node[] {
    const index = this.captions.captionIndex;
    const info = concept !== undefined ? index.conceptInfo(concept) : null;
    const total = concept !== undefined ? (index.conceptStats(concept)?.captioned ?? 0) : index.conceptIds().reduce((n, id) => n + (index.conceptStats(id)?.captioned ?? 0), 0);
    const nodes: Node[] = rows.slice(0, MAX_ROWS).map((row) => ({
      type: 'tag' as const,
      name: row.name,
      key: row.key,
      ...(concept !== undefined ? { concept } : {}),
      row,
      total,
      ...(info ? { conceptName: info.name, trigger: info.trigger } : {}),
    }));
    if (rows.length > MAX_ROWS) nodes.push({ type: 'message', text: `${rows.length - MAX_ROWS} more tags: narrow them with the filter` });
    return nodes;
  }

  getTreeItem(node: Node): vscode.TreeItem {
    switch (node.type) {
      case 'concept': {
        const item = new vscode.TreeItem(node.name, this.captions.captionIndex.conceptIds().length <= 3 ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `concept:${node.id}`;
        item.iconPath = new vscode.ThemeIcon('folder');
        item.description = `${node.tags} tag${node.tags === 1 ? '' : 's'} · ${node.files} file${node.files === 1 ? '' : 's'}${node.trigger ? ` · trigger '${node.trigger}'` : ''}`;
        item.tooltip = `${node.id}\nTrigger word: ${node.trigger ?? 'none'}`;
        item.contextValue = 'tagsConcept';
        return item;
      }
      case 'tag': {
        const item = new vscode.TreeItem(node.row.name, vscode.TreeItemCollapsibleState.None);
        item.id = `tag:${node.concept ?? '*'}:${node.key}`;
        item.iconPath = new vscode.ThemeIcon(node.row.isTrigger ? 'star-full' : 'tag');
        const co = cooccurrenceText(node.row);
        item.description = [`${node.row.count}`, node.row.isTrigger ? 'trigger' : '', co].filter((s) => s !== '').join(' · ');
        const share = node.total > 0 ? ` (${Math.round((100 * node.row.count) / node.total)}%)` : '';
        item.tooltip = new vscode.MarkdownString(
          `**${node.row.name}**: on ${node.row.count} of ${node.total} caption files${share}${node.conceptName ? ` of \`${node.conceptName}\`` : ''}` +
            (co ? `\n\n${node.row.withTrigger} of them also carry the trigger word${node.trigger ? ` \`${node.trigger}\`` : ''} (${co}).` : '') +
            '\n\nClick to list the images with this tag; right-click for batch actions on them.',
        );
        item.contextValue = node.row.isTrigger ? 'tag.trigger' : 'tag';
        item.command = { command: Commands.tagsViewSelectImages, title: 'Select Images with This Tag', arguments: [node] };
        return item;
      }
      case 'message': {
        const item = new vscode.TreeItem(node.text, vscode.TreeItemCollapsibleState.None);
        item.iconPath = new vscode.ThemeIcon('info');
        return item;
      }
    }
  }
}

/** "Select images with this tag": a list of them; pick one to open it, or run a batch on all. */
async function selectImages(captions: CaptionDiagnostics, node: TagNodeArg | undefined, view: TagsView): Promise<string[] | undefined> {
  let target = node;
  if (!target) {
    const rows = filterTagRows(allTagRows(captions.captionIndex), view.state.filter).slice(0, 2000);
    const pick = await vscode.window.showQuickPick(
      rows.map((r) => ({ label: r.name, description: `${r.count} files`, row: r })),
      { title: 'LoRA Workbench: select the images with which tag?' },
    );
    if (!pick) return undefined;
    target = { type: 'tag', name: pick.row.name, key: pick.row.key };
  }
  const files = filesWithTag(captions.captionIndex, target.name, target.concept);
  type Item = vscode.QuickPickItem & { file?: string; op?: string };
  const batch: Item[] = TAG_BATCH_KINDS.filter((k) => k !== 'createMissing').map((k) => ({
    label: `$(run-all) ${KIND_TITLES[k]}…`,
    description: `on these ${files.length} images`,
    op: k,
  }));
  const images: Item[] = files.slice(0, 2000).map((f) => ({
    label: path.basename(imageForSidecar(f) ?? f),
    description: path.basename(path.dirname(f)),
    file: f,
  }));
  const separator = (label: string): Item => ({ label, kind: vscode.QuickPickItemKind.Separator });
  const pick = await vscode.window.showQuickPick<Item>(
    [separator('Batch actions'), ...batch, separator(`${files.length} images with '${target.name}'`), ...images],
    { title: `LoRA Workbench: ${files.length} image${files.length === 1 ? '' : 's'} with '${target.name}'`, matchOnDescription: true },
  );
  if (!pick) return files;
  if (pick.file) {
    const image = imageForSidecar(pick.file);
    await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(image ?? pick.file));
  } else if (pick.op) {
    await vscode.commands.executeCommand(`loraWorkbench.tags.${pick.op}`, target);
  }
  return files;
}

export function registerTagsView(subscriptions: vscode.Disposable[], captions: CaptionDiagnostics): TagsView {
  const view = new TagsView(captions);
  subscriptions.push(
    view,
    vscode.commands.registerCommand(Commands.tagsViewSetFilter, async (filter?: unknown) => {
      const value = typeof filter === 'string' ? filter : await vscode.window.showInputBox({ title: 'Filter the Tags view', prompt: 'Tags containing this text (case, _ and space ignored)', value: view.state.filter });
      if (value !== undefined) view.setFilter(value);
    }),
    vscode.commands.registerCommand(Commands.tagsViewClearFilter, () => view.setFilter('')),
    vscode.commands.registerCommand(Commands.tagsViewToggleSort, () => view.toggleSort()),
    vscode.commands.registerCommand(Commands.tagsViewToggleGroup, () => view.toggleGroup()),
    vscode.commands.registerCommand(Commands.tagsViewSelectImages, (node?: TagNodeArg) => selectImages(captions, node, view)),
  );
  return view;
}
