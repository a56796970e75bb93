import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Commands } from '../../constants';
import type { DatasetsModel } from '../datasetsView/model';
import { imagePathFromArg } from '../datasetsView';
import { folderFromArg, GALLERY_VIEW_TYPE, GalleryPanel, galleryWebviewOptions, isFolder, type GalleryPanelState } from './panel';
import { ThumbnailService } from './thumbnailService';

/** What `loraWorkbench.openGallery` returns (for tests and automation). */
export interface GalleryOpened {
  root: string;
  /** where thumbnails are cached */
  cacheFolder: string;
}

/** The deepest folder holding every one of these folders (undefined when one is unknown). */
function commonFolder(folders: ReadonlyArray<string | undefined>): string | undefined {
  if (folders.length === 0 || folders.some((f) => f === undefined)) return undefined;
  const dirs = (folders as string[]).map((f) => (isFolder(f) ? path.resolve(f) : path.dirname(path.resolve(f))));
  let common = dirs[0] as string;
  for (const d of dirs.slice(1)) {
    while (common !== path.dirname(common) && path.relative(common, d).startsWith('..')) common = path.dirname(common);
  }
  return common;
}

/** The dataset gallery: command, panel and its restore after a reload. */
export function registerGallery(context: vscode.ExtensionContext, datasets: DatasetsModel): void {
  const thumbs = new ThumbnailService(context.globalStorageUri, vscode.Uri.joinPath(context.extensionUri, 'dist', 'workers', 'thumbnails.js').fsPath);
  let current: GalleryPanel | undefined;
  const adopt = (panel: vscode.WebviewPanel, root: string, query?: string): GalleryPanel => {
    current?.dispose();
    const p = new GalleryPanel(panel, context.extensionUri, thumbs, root, query);
    current = p;
    panel.onDidDispose(() => {
      if (current === p) {
        current = undefined;
        // no gallery open: the thumbnail worker need not wait in memory
        thumbs.stop();
      }
    });
    return p;
  };

  const chooseFolder = async (): Promise<string | undefined> => {
    if (!datasets.current.scannedAt) await datasets.refresh();
    const groups = datasets.current.groups;
    const browse = { label: '$(folder-opened) Choose a Folder…', description: '', detail: undefined as string | undefined, root: '' };
    const items = [
      ...groups.map((g) => ({ label: path.basename(g.path), description: `${g.imageCount} images`, detail: g.path, root: g.path })),
      browse,
    ];
    const pick = groups.length === 1 ? items[0] : await vscode.window.showQuickPick(items, { title: 'Dataset gallery', placeHolder: 'Choose a dataset' });
    if (!pick) return undefined;
    if (pick.root) return pick.root;
    const uris = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Show in Gallery' });
    return uris?.[0]?.fsPath;
  };

  context.subscriptions.push(
    thumbs,
    { dispose: () => current?.dispose() },
    // several rows selected in the Datasets tree: the gallery of the folder that holds them all
    vscode.commands.registerCommand(Commands.openGallery, async (arg?: unknown, selection?: unknown): Promise<GalleryOpened | undefined> => {
      let root = (Array.isArray(selection) && selection.length > 1 ? commonFolder(selection.map(folderFromArg)) : undefined) ?? folderFromArg(arg);
      if (root && !isFolder(root)) root = path.dirname(root);
      root ??= await chooseFolder();
      if (!root) return undefined;
      if (!isFolder(root)) {
        void vscode.window.showErrorMessage(`${root} is not a folder that can be read.`);
        return undefined;
      }
      root = path.resolve(root);
      if (current && !current.isDisposed) current.show(root);
      else {
        const panel = vscode.window.createWebviewPanel(GALLERY_VIEW_TYPE, `Gallery: ${path.basename(root)}`, vscode.ViewColumn.Active, {
          ...galleryWebviewOptions(context.extensionUri, thumbs.cacheDir),
        });
        adopt(panel, root);
      }
      return { root, cacheFolder: thumbs.cacheDir.fsPath };
    }),
    // the tile's context menu (webview/context in package.json); each takes the tile's context
    // object ({ lwbPath }), a Uri or a path
    vscode.commands.registerCommand(Commands.galleryRevealInOS, revealInOS),
    vscode.commands.registerCommand(Commands.galleryRevealInFinder, revealInOS),
    vscode.commands.registerCommand(Commands.galleryRevealInExplorerView, async (arg?: unknown): Promise<boolean> => {
      const file = existingFile(arg);
      if (!file) return false;
      await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(file));
      return true;
    }),
    vscode.window.registerWebviewPanelSerializer(GALLERY_VIEW_TYPE, {
      async deserializeWebviewPanel(panel, state: GalleryPanelState | undefined) {
        if (!state?.root || !isFolder(state.root)) {
          panel.dispose();
          return;
        }
        adopt(panel, state.root, state.query);
      },
    }),
  );
}

function existingFile(arg: unknown): string | undefined {
  const file = imagePathFromArg(arg);
  if (!file) return undefined;
  try {
    if (fs.statSync(file).isFile()) return file;
  } catch {
    // gone since the gallery listed it
  }
  void vscode.window.showWarningMessage(`${path.basename(file)} is no longer on disk.`);
  return undefined;
}

/**
 * Reveal in File Explorer / Finder: VS Code's own `revealFileInOS`. In a browser (code-server,
 * vscode.dev) there is no local file manager: the path is offered to copy instead.
 * Returns 'os', 'unavailable' or 'missing'.
 */
async function revealInOS(arg?: unknown): Promise<'os' | 'unavailable' | 'missing'> {
  const file = existingFile(arg);
  if (!file) return 'missing';
  const commands = await vscode.commands.getCommands(true);
  if (vscode.env.uiKind === vscode.UIKind.Desktop && commands.includes('revealFileInOS')) {
    await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(file));
    return 'os';
  }
  // not awaited: the caller (a menu) must not wait for the notification to close
  void vscode.window.showInformationMessage(`This window runs in a browser and cannot open the system's file manager. The image is at ${file}`, 'Copy Path').then(async (pick) => {
    if (pick) await vscode.env.clipboard.writeText(file);
  });
  return 'unavailable';
}
