/** Which folder or image a command works on: a tree node, a URI, the active tab, or a question. */
import { existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { classifyImageName, KOHYA_IMAGE_EXTENSIONS } from '../../core/dataset/images';
import type { DatasetsModel } from '../datasetsView/model';
import { imagePathOf, type DatasetNode } from '../datasetsView/provider';

export interface FolderTarget {
  path: string;
  /** a kohya dataset (concept folders below): tag its subfolders too */
  recursive: boolean;
}

export type CommandTarget = DatasetNode | vscode.Uri | string | undefined;

function fsPathOf(t: CommandTarget): string | undefined {
  if (typeof t === 'string') return t;
  if (t instanceof vscode.Uri) return t.fsPath;
  return undefined;
}

/** The folder a folder-wide command works on, asking when the command came from the palette. */
export async function pickFolder(model: DatasetsModel, target: CommandTarget, title: string): Promise<FolderTarget | undefined> {
  const direct = fsPathOf(target);
  if (direct !== undefined) {
    let recursive = false;
    try {
      recursive = statSync(direct).isDirectory() && model.current.groups.some((g) => g.path === direct && g.kind === 'kohyaFolder');
    } catch {
      /* listImagesForTagging reports a missing path */
    }
    return { path: direct, recursive };
  }
  const node = target as DatasetNode | undefined;
  if (node?.type === 'group') return { path: node.group.path, recursive: node.group.kind === 'kohyaFolder' };
  if (node?.type === 'folder') return { path: node.folder.path, recursive: false };
  if (!model.current.scannedAt) await model.refresh();
  type Item = vscode.QuickPickItem & { target?: FolderTarget };
  const items: Item[] = [];
  for (const g of model.current.groups) {
    items.push({
      label: `$(database) ${path.basename(g.path)}`,
      description: `${g.imageCount} images${g.kind === 'kohyaFolder' ? ', every concept folder' : ''}`,
      detail: g.path,
      target: { path: g.path, recursive: g.kind === 'kohyaFolder' },
    });
    if (g.kind === 'kohyaFolder') {
      for (const f of g.folders) {
        items.push({ label: `    $(folder) ${path.basename(f.path)}`, description: `${f.images.length} images`, detail: f.path, target: { path: f.path, recursive: false } });
      }
    }
  }
  items.push({ label: '$(folder-opened) Choose a folder…', alwaysShow: true });
  const pick = await vscode.window.showQuickPick(items, { title, matchOnDetail: true });
  if (!pick) return undefined;
  if (pick.target) return pick.target;
  const chosen = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false, title, openLabel: 'Choose Folder' });
  return chosen?.[0] ? { path: chosen[0].fsPath, recursive: false } : undefined;
}

/** The image next to a tag or caption file (same stem, an extension sd-scripts reads). */
export function imageForSidecar(file: string): string | undefined {
  const dir = path.dirname(file);
  const stem = path.parse(file).name;
  for (const ext of [...KOHYA_IMAGE_EXTENSIONS, ...KOHYA_IMAGE_EXTENSIONS.map((e) => e.toUpperCase())]) {
    const candidate = path.join(dir, stem + ext);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** The image a one-image command works on: a tree image, a URI, the active tab (image or its tag file), or a question. */
export async function pickImage(target: CommandTarget): Promise<string | undefined> {
  const fromNode = imagePathOf(target as DatasetNode | undefined);
  if (fromNode) return fromNode;
  let file = fsPathOf(target);
  if (file === undefined) {
    const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
    const uri =
      input instanceof vscode.TabInputText || input instanceof vscode.TabInputCustom
        ? input.uri
        : vscode.window.activeTextEditor?.document.uri;
    if (uri?.scheme === 'file') file = uri.fsPath;
  }
  if (file !== undefined) {
    if (classifyImageName(path.basename(file)) === 'image') return file;
    const image = imageForSidecar(file);
    if (image) return image;
  }
  const chosen = await vscode.window.showOpenDialog({
    canSelectFiles: true,
    canSelectFolders: false,
    canSelectMany: false,
    title: 'Suggest tags for which image?',
    filters: { Images: KOHYA_IMAGE_EXTENSIONS.map((e) => e.slice(1)) },
  });
  return chosen?.[0]?.fsPath;
}

/**
 * The options argument of a command, when it is one: menus pass other things in that place (the
 * Explorer the selected URIs, editor titles an editor reference), which are not options.
 */
export function commandOptions<T extends object>(arg: unknown): T | undefined {
  return arg && typeof arg === 'object' && !Array.isArray(arg) && !(arg instanceof vscode.Uri) && !('groupId' in arg) ? (arg as T) : undefined;
}
