/**
 * Safe fixes of image-audit problems. VS Code offers no context menu on Problems panel entries
 * to extensions (no `problems/context` menu) and shows code actions there only for files open as
 * text, which images never are; so the fixes are one command, "Fix Image Problem…", on the active
 * image, an image in the Explorer or the Datasets view, or picked from every fixable problem.
 *
 * Pixel fixes run sharp in the worker and replace the file through the journal (the old bytes
 * stay there: "Undo Last Image Fix"); renames are journalled too; deletions go to the trash after
 * a confirmation that lists the files.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Journal, type FileChange } from '../../core/captions/journal';
import { fixChoices, type FixChoice, type FixKind } from '../../core/dataset/auditFixes';
import type { TransformOp } from '../../core/dataset/imageAuditProtocol';
import { Commands } from '../../constants';
import { getLog } from '../../platform/log';
import { trash } from '../datasetsView';
import type { DatasetsModel } from '../datasetsView/model';
import { callAuditWorker } from './worker';
import type { ImageAuditFeature } from './index';

/** The file a command was invoked on: a Uri, a Datasets view node, or the active editor tab. */
function targetFile(arg: unknown): string | undefined {
  if (arg instanceof vscode.Uri) return arg.scheme === 'file' ? arg.fsPath : undefined;
  const node = arg as { type?: string; folder?: { path?: string }; image?: { name?: string } } | undefined;
  if (node?.type === 'image' && node.folder?.path && node.image?.name) return path.join(node.folder.path, node.image.name);
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input as { uri?: vscode.Uri } | undefined;
  if (input?.uri instanceof vscode.Uri && input.uri.scheme === 'file') return input.uri.fsPath;
  return undefined;
}

export function registerImageFixes(context: vscode.ExtensionContext, audit: ImageAuditFeature, workerScript: string, model?: DatasetsModel): void {
  const dir = vscode.Uri.joinPath(context.storageUri ?? context.globalStorageUri, 'image-journal').fsPath;
  let journal: Promise<Journal> | undefined;
  const getJournal = (): Promise<Journal> =>
    (journal ??= (async () => {
      const j = new Journal(dir);
      try {
        await j.recover();
        await j.prune(20);
      } catch (e) {
        getLog().warn(`Image journal ${dir}: ${(e as Error).message}`);
      }
      return j;
    })());

  const afterChange = async (files: string[]): Promise<void> => {
    await model?.refresh();
    await audit.refreshFiles(files);
  };

  const applyChoice = async (c: FixChoice): Promise<boolean> => {
    const rel = vscode.workspace.asRelativePath(c.file);
    if (c.kind === 'trash') {
      const files = c.files ?? [c.file];
      const pick = await vscode.window.showWarningMessage(
        `Move ${files.length} file(s) to the trash?`,
        { modal: true, detail: files.map((f) => vscode.workspace.asRelativePath(f)).join('\n') },
        'Move to Trash',
      );
      if (pick !== 'Move to Trash') return false;
      const failed: string[] = [];
      for (const f of files) {
        try {
          // VS Code's trash, or the freedesktop trash where the host has none (code-server)
          await trash(f);
        } catch (e) {
          failed.push(`${path.basename(f)} (${(e as Error).message})`);
        }
      }
      if (failed.length) void vscode.window.showErrorMessage(`LoRA Workbench: could not move to the trash: ${failed.join(', ')}`);
      await afterChange(files);
      return failed.length === 0;
    }
    let oldBytes: Buffer;
    try {
      oldBytes = await fsp.readFile(c.file);
    } catch (e) {
      void vscode.window.showErrorMessage(`LoRA Workbench: cannot read ${rel}: ${(e as Error).message}`);
      return false;
    }
    let changes: FileChange[];
    let label: string;
    if (c.kind === 'rename') {
      const to = c.to as string;
      if (await fsp.stat(to).then(() => true, () => false)) {
        void vscode.window.showErrorMessage(`LoRA Workbench: ${vscode.workspace.asRelativePath(to)} already exists; ${rel} was not renamed.`);
        return false;
      }
      // same stem, so its caption and tag files stay paired with it
      changes = [
        { file: c.file, oldBytes, newBytes: null },
        { file: to, oldBytes: null, newBytes: oldBytes },
      ];
      label = `Rename ${rel} to ${path.basename(to)}`;
    } else {
      const tmp = path.join(os.tmpdir(), `lwb-fix-${randomBytes(6).toString('hex')}${path.extname(c.file)}`);
      try {
        await callAuditWorker(workerScript, { type: 'transformRequest', op: c.kind as TransformOp, file: c.file, out: tmp });
        const newBytes = await fsp.readFile(tmp);
        changes = [{ file: c.file, oldBytes, newBytes }];
      } catch (e) {
        void vscode.window.showErrorMessage(`LoRA Workbench: could not fix ${rel}: ${(e as Error).message}`);
        return false;
      } finally {
        await fsp.rm(tmp, { force: true }).catch(() => undefined);
      }
      label = c.kind === 'rotateExif' ? `Rotate ${rel} upright` : `Convert ${rel} to 8-bit RGB`;
    }
    const r = await (await getJournal()).apply(label, changes, { binary: true });
    if (!r.ok || r.skipped.length) {
      const why = r.error ?? r.skipped.map((s) => `${path.basename(s.file)}: ${s.reason}`).join(', ');
      void vscode.window.showErrorMessage(`LoRA Workbench: ${label} failed: ${why}`);
      getLog().warn(`${label} failed: ${why}`);
      return false;
    }
    getLog().info(`${label}: done (journal batch ${r.id})`);
    await afterChange(changes.map((ch) => ch.file));
    void vscode.window.showInformationMessage(`LoRA Workbench: ${label}: done.`, 'Undo').then((p) => p === 'Undo' && vscode.commands.executeCommand(Commands.undoImageFix));
    return true;
  };

  context.subscriptions.push(
    // (menus pass a second argument of their own: the selection, or the editor group)
    vscode.commands.registerCommand(Commands.fixImageProblem, async (arg?: unknown, second?: unknown): Promise<boolean> => {
      const kind = typeof second === 'string' ? (second as FixKind) : undefined;
      let file = targetFile(arg);
      if (!file || fixChoices(file, audit.problemsOf(file)).length === 0) {
        // nothing fixable here: every fixable problem of the workspace
        const items: Array<vscode.QuickPickItem & { file: string }> = [];
        audit.collection.forEach((uri) => {
          const choices = fixChoices(uri.fsPath, audit.problemsOf(uri.fsPath));
          if (choices.length) items.push({ label: path.basename(uri.fsPath), description: vscode.workspace.asRelativePath(path.dirname(uri.fsPath)), detail: choices.map((c) => c.label).join(' · '), file: uri.fsPath });
        });
        if (items.length === 0) {
          void vscode.window.showInformationMessage(file ? `LoRA Workbench: ${path.basename(file)} has no problem with a safe fix.` : 'LoRA Workbench: no image problem has a safe fix.');
          return false;
        }
        const picked = await vscode.window.showQuickPick(items, { title: 'Fix Image Problem', placeHolder: 'Images with a problem that has a safe fix' });
        if (!picked) return false;
        file = picked.file;
      }
      const choices = fixChoices(file, audit.problemsOf(file));
      let choice = kind ? choices.find((c) => c.kind === kind) : undefined;
      if (!choice) {
        if (kind) {
          void vscode.window.showInformationMessage(`LoRA Workbench: ${path.basename(file)} has no problem fixed by "${kind}".`);
          return false;
        }
        const picked = await vscode.window.showQuickPick(
          choices.map((c) => ({ label: c.label, detail: c.detail, choice: c })),
          { title: `Fix ${path.basename(file)}`, placeHolder: 'Choose a fix (pixel fixes and renames can be undone)' },
        );
        choice = picked?.choice;
      }
      return choice ? applyChoice(choice) : false;
    }),
    vscode.commands.registerCommand(Commands.undoImageFix, async (): Promise<boolean> => {
      const r = await (await getJournal()).undo();
      if (r.ok) {
        getLog().info(`Undo image fix: ${r.message}`);
        await afterChange(r.restored);
        void vscode.window.showInformationMessage(`LoRA Workbench: ${r.message}.`);
      } else if (r.message === 'nothing to undo') {
        void vscode.window.showInformationMessage('LoRA Workbench: there is no image fix to undo.');
      } else {
        getLog().warn(`Undo image fix refused: ${r.message}`);
        void vscode.window.showErrorMessage(`LoRA Workbench: ${r.message}`);
      }
      return r.ok;
    }),
  );
}
