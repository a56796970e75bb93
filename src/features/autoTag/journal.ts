/**
 * The extension's one caption journal (src/core/captions/journal.ts) in its storage folder: every
 * tagging run is one batch, undone by "Undo Last Tag Batch". Batches left half-done by a crash are
 * put back the first time the journal is used.
 */
import * as vscode from 'vscode';
import { Journal, type UndoResult } from '../../core/captions/journal';
import { getLog } from '../../platform/log';

let opened: { dir: string; journal: Promise<Journal> } | undefined;

export function journalFolder(context: vscode.ExtensionContext): string {
  return vscode.Uri.joinPath(context.storageUri ?? context.globalStorageUri, 'caption-journal').fsPath;
}

export function captionJournal(context: vscode.ExtensionContext): Promise<Journal> {
  const dir = journalFolder(context);
  if (opened?.dir === dir) return opened.journal;
  const journal = (async () => {
    const j = new Journal(dir);
    try {
      const r = await j.recover();
      if (r.batches.length) {
        getLog().warn(`Caption journal: put back ${r.restored.length} file(s) of ${r.batches.length} interrupted batch(es)`);
        for (const c of r.conflicts) getLog().warn(`  ${c.file}: ${c.reason}`);
      }
      await j.prune(50);
    } catch (e) {
      getLog().warn(`Caption journal ${dir}: ${(e as Error).message}`);
    }
    return j;
  })();
  opened = { dir, journal };
  return journal;
}

const undoListeners = new Set<(r: UndoResult) => Promise<void> | void>();

/** Called after an undo restored a batch (the batch tag commands put back their edits of unsaved editors). */
export function onDidUndoBatch(fn: (r: UndoResult) => Promise<void> | void): vscode.Disposable {
  undoListeners.add(fn);
  return { dispose: () => undoListeners.delete(fn) };
}

/** Undoes the newest batch and tells the user what happened. Never throws. */
export async function undoLastBatch(context: vscode.ExtensionContext, quiet = false): Promise<UndoResult> {
  const log = getLog();
  let r: UndoResult;
  try {
    r = await (await captionJournal(context)).undo();
  } catch (e) {
    r = { ok: false, id: null, restored: [], conflicts: [], message: (e as Error).message };
  }
  if (r.ok) {
    log.info(`Undo: ${r.message}`);
    for (const fn of undoListeners) {
      try {
        await fn(r);
      } catch (e) {
        log.warn(`Undo: ${(e as Error).message}`);
      }
    }
    if (!quiet) void vscode.window.showInformationMessage(`LoRA Workbench: ${r.message}.`);
  } else if (r.id === null && r.conflicts.length === 0 && r.message === 'nothing to undo') {
    if (!quiet) void vscode.window.showInformationMessage('LoRA Workbench: there is no tag batch to undo.');
  } else {
    log.warn(`Undo refused: ${r.message}`);
    for (const c of r.conflicts) log.warn(`  ${c.file}: ${c.reason}`);
    const names = r.conflicts.slice(0, 3).map((c) => `${vscode.workspace.asRelativePath(c.file)} (${c.reason})`).join(', ');
    const more = r.conflicts.length > 3 ? ` and ${r.conflicts.length - 3} more` : '';
    const text = r.conflicts.length
      ? `could not undo the last tag batch: ${r.conflicts.length} file(s) changed since, nothing was restored: ${names}${more}`
      : `could not undo the last tag batch: ${r.message}`;
    if (!quiet) void vscode.window.showErrorMessage(`LoRA Workbench: ${text}`, 'Show Log').then((pick) => pick && log.show());
  }
  return r;
}
