/**
 * The extension's one caption journal (src/core/captions/journal.ts) in its storage folder: every
 * tagging run is one batch, undone by "Undo Last Tag Batch". Batches left half-done by a crash are
 * put back the first time the journal is used.
 */
import * as vscode from 'vscode';
import { Journal, type DocumentChange, type SkippedFile, type UndoResult } from '../../core/captions/journal';
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

/** What "Undo Last Tag Batch" did: the journal's undo plus the unsaved editors put back. */
export interface TagUndoResult extends UndoResult {
  /** unsaved editors whose batch edit was reversed */
  editors: string[];
  /** editors left as they are: closed, or changed since the batch */
  editorsLeft: SkippedFile[];
}

/**
 * Reverses a batch's edits of unsaved editors, each only while its document still holds the
 * batch's result (one WorkspaceEdit: one step of the editors' own undo).
 */
async function revertDocuments(documents: readonly DocumentChange[]): Promise<{ editors: string[]; left: SkippedFile[] }> {
  const editors: string[] = [];
  const left: SkippedFile[] = [];
  const we = new vscode.WorkspaceEdit();
  for (const d of documents) {
    const doc = vscode.workspace.textDocuments.find((t) => t.uri.scheme === 'file' && t.uri.fsPath === d.file && !t.isClosed);
    if (!doc) {
      left.push({ file: d.file, reason: 'its editor was closed since the batch: left as it is' });
      continue;
    }
    const text = doc.getText();
    if (text !== d.after) {
      left.push({ file: d.file, reason: 'its editor changed since the batch: left as it is' });
      continue;
    }
    we.replace(doc.uri, new vscode.Range(doc.positionAt(0), doc.positionAt(text.length)), d.before);
    editors.push(d.file);
  }
  if (we.size && !(await vscode.workspace.applyEdit(we))) {
    left.push(...editors.map((file) => ({ file, reason: 'the editor refused the edit' })));
    editors.length = 0;
  }
  return { editors, left };
}

/**
 * Undoes the newest batch and tells the user what happened. Never throws. A batch that edited
 * unsaved editors is a journal batch too: its editors are put back with its files, as one step.
 */
export async function undoLastBatch(context: vscode.ExtensionContext, quiet = false): Promise<TagUndoResult> {
  const log = getLog();
  let r: TagUndoResult;
  try {
    r = { ...(await (await captionJournal(context)).undo()), editors: [], editorsLeft: [] };
  } catch (e) {
    r = { ok: false, id: null, restored: [], conflicts: [], message: (e as Error).message, editors: [], editorsLeft: [] };
  }
  if (r.ok && r.documents?.length) {
    const d = await revertDocuments(r.documents);
    r.editors = d.editors;
    r.editorsLeft = d.left;
    if (d.left.length) {
      const names = d.left.slice(0, 3).map((c) => `${vscode.workspace.asRelativePath(c.file)} (${c.reason})`).join(', ');
      r.message = `${r.message}; ${d.left.length} editor(s) not put back: ${names}${d.left.length > 3 ? ` and ${d.left.length - 3} more` : ''}`;
    }
  }
  if (r.ok) {
    log.info(`Undo: ${r.message}`);
    for (const c of r.editorsLeft) log.warn(`  ${c.file}: ${c.reason}`);
    for (const fn of undoListeners) {
      try {
        await fn(r);
      } catch (e) {
        log.warn(`Undo: ${(e as Error).message}`);
      }
    }
    if (!quiet) {
      if (r.editorsLeft.length) void vscode.window.showWarningMessage(`LoRA Workbench: ${r.message}.`);
      else void vscode.window.showInformationMessage(`LoRA Workbench: ${r.message}.`);
    }
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
