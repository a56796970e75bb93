/**
 * The tag editor feature: the custom editor for tag/caption sidecars and the command that opens
 * it for an image (tree node, URI), a sidecar, or the active editor's file.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { atomicWriteFile } from '../../core/captions/journal';
import { classifyImageName, normaliseSidecarExtension } from '../../core/dataset/images';
import type { WebviewToHost } from '../../core/protocol';
import { isWebviewToHost } from '../../core/protocol';
import { Commands, Settings, TAG_EDITOR_VIEW_TYPE } from '../../constants';
import { getLog } from '../../platform/log';
import type { CaptionDiagnostics } from '../captionDiagnostics';
import { imagePathOf, type DatasetNode } from '../datasetsView/provider';
import { TagEditorProvider } from './editor';

type Target = DatasetNode | vscode.Uri | string | undefined;

function fileOf(target: Target): string | undefined {
  if (typeof target === 'string') return target;
  if (target instanceof vscode.Uri) return target.scheme === 'file' ? target.fsPath : undefined;
  const fromNode = imagePathOf(target);
  if (fromNode) return fromNode;
  if (target?.type === 'image') return undefined;
  // none: the active tab (a text editor, an image preview or a custom editor)
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  const uri =
    input instanceof vscode.TabInputText || input instanceof vscode.TabInputCustom ? input.uri : vscode.window.activeTextEditor?.document.uri;
  return uri?.scheme === 'file' ? uri.fsPath : undefined;
}

/**
 * The sidecar to edit for a file: the file itself when it is a sidecar; for an image the one with
 * the caption extension setting, else any existing sidecar, else (after asking) a new empty one.
 */
async function sidecarFor(file: string): Promise<string | undefined> {
  const uri = vscode.Uri.file(file);
  const cfg = vscode.workspace.getConfiguration(Settings.section, uri);
  const exts = cfg.get<string[]>(Settings.sidecarExtensions, ['.txt', '.caption']).map(normaliseSidecarExtension);
  const ext = path.extname(file).toLowerCase();
  if (exts.includes(ext) || ext === '.txt' || ext === '.caption') return file;
  if (classifyImageName(path.basename(file)) !== 'image') {
    void vscode.window.showErrorMessage(`LoRA Workbench: ${path.basename(file)} is neither an image nor a tag or caption file.`);
    return undefined;
  }
  const { dir, name } = path.parse(file);
  const preferred = normaliseSidecarExtension(cfg.get<string>(Settings.captionExtension, '.txt'));
  for (const e of [preferred, ...exts.filter((x) => x !== preferred)]) {
    const candidate = path.join(dir, name + e);
    if (existsSync(candidate)) return candidate;
  }
  const created = path.join(dir, name + preferred);
  const pick = await vscode.window.showInformationMessage(
    `${path.basename(file)} has no tag file. Create an empty ${path.basename(created)}?`,
    { modal: true, detail: 'sd-scripts stops on an empty caption file: add at least one tag before training.' },
    'Create',
  );
  if (pick !== 'Create') return undefined;
  try {
    // never over a file that appeared meanwhile
    if (!existsSync(created)) await atomicWriteFile(created, '');
    return created;
  } catch (e) {
    void vscode.window.showErrorMessage(`LoRA Workbench: could not create ${path.basename(created)}: ${(e as Error).message}`);
    return undefined;
  }
}

/** Previous/next image of the active tag editor (the focus may be anywhere); the path opened. */
async function stepImage(provider: TagEditorProvider, direction: 'prev' | 'next'): Promise<string | undefined> {
  const session = provider.activeSession();
  if (!session) {
    void vscode.window.showInformationMessage('LoRA Workbench: no tag editor is active.');
    return undefined;
  }
  try {
    const target = await session.navigate(direction);
    if (!target) vscode.window.setStatusBarMessage(`LoRA Workbench: this is the ${direction === 'prev' ? 'first' : 'last'} image of the folder.`, 3000);
    return target;
  } catch (e) {
    getLog().error(`Tag editor ${direction}: ${(e as Error).stack ?? (e as Error).message}`);
    void vscode.window.showErrorMessage(`LoRA Workbench: could not open the ${direction === 'prev' ? 'previous' : 'next'} image: ${(e as Error).message}`);
    return undefined;
  }
}

export function registerTagEditor(context: vscode.ExtensionContext, diagnostics: CaptionDiagnostics): void {
  const provider = new TagEditorProvider(context, diagnostics);
  context.subscriptions.push(
    provider,
    vscode.window.registerCustomEditorProvider(TAG_EDITOR_VIEW_TYPE, provider, {
      webviewOptions: { retainContextWhenHidden: false },
      supportsMultipleEditorsPerDocument: true,
    }),
    // several images selected in the Datasets tree: (clicked, selected[]) → one tag editor each
    vscode.commands.registerCommand(Commands.openTagEditor, async (target?: Target, selection?: unknown): Promise<string | string[] | undefined> => {
      if (Array.isArray(selection) && selection.length > 1) {
        const opened: string[] = [];
        for (const t of selection as Target[]) {
          const r = await vscode.commands.executeCommand<string | string[] | undefined>(Commands.openTagEditor, t);
          if (typeof r === 'string' && !opened.includes(r)) opened.push(r);
        }
        return opened;
      }
      if (Array.isArray(selection) && selection.length === 1) target = selection[0] as Target;
      try {
        const file = fileOf(target);
        if (!file) {
          void vscode.window.showInformationMessage('LoRA Workbench: open an image or its tag file first, or use the Datasets view.');
          return undefined;
        }
        const sidecar = await sidecarFor(file);
        if (!sidecar) return undefined;
        const uri = vscode.Uri.file(sidecar);
        const textTabIn = (g: vscode.TabGroup): vscode.Tab | undefined =>
          g.tabs.find((t) => t.input instanceof vscode.TabInputText && t.input.uri.toString() === uri.toString());
        const hadText = textTabIn(vscode.window.tabGroups.activeTabGroup) !== undefined;
        await vscode.commands.executeCommand('vscode.openWith', uri, TAG_EDITOR_VIEW_TYPE, { viewColumn: vscode.ViewColumn.Active, preview: false });
        // "Reopen in tag editor": the text editor of the same file makes room, unless it is dirty
        // (tab objects are replaced when a group changes: look it up again)
        const textTab = hadText ? textTabIn(vscode.window.tabGroups.activeTabGroup) : undefined;
        if (textTab && !textTab.isDirty) await vscode.window.tabGroups.close(textTab, true).then(undefined, () => undefined);
        return sidecar;
      } catch (e) {
        getLog().error(`Open tag editor: ${(e as Error).stack ?? (e as Error).message}`);
        void vscode.window.showErrorMessage(`LoRA Workbench: could not open the tag editor: ${(e as Error).message}`);
        return undefined;
      }
    }),
    vscode.commands.registerCommand(Commands.tagEditorPreviousImage, () => stepImage(provider, 'prev')),
    vscode.commands.registerCommand(Commands.tagEditorNextImage, () => stepImage(provider, 'next')),
    // internal: the same path as a webview message, for tests and other features; returns the state after it
    vscode.commands.registerCommand(Commands.tagEditorMessage, async (uri: vscode.Uri, message: unknown) => {
      const session = provider.sessionFor(uri);
      if (!session) throw new Error(`No tag editor is open for ${uri.fsPath}`);
      if (!isWebviewToHost(message)) throw new Error('Not a tag editor message');
      return (await session.onMessage(message as WebviewToHost)) ?? (await session.state());
    }),
  );
}
