/**
 * Runs one batch tag operation: reads the files (an unsaved editor's text instead of the file on
 * disk), computes the preview, asks "N files will change" (with a diff of one file on request),
 * then writes the files on disk as ONE journal batch (atomic writes, progress, cancel = roll back)
 * and edits unsaved editors through a WorkspaceEdit (never behind them). The editor edits are
 * recorded in the same journal batch (also when no file on disk changes), so "Undo Last Tag Batch"
 * always undoes the batch run last: its files, and its editors while they still show its text.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { readBatchInputs, type BatchInput, type BatchOp, type BatchPreview } from '../../core/captions/batch';
import { minimalEdit } from '../../core/captions/parse';
import { describePreview, previewCreateMissing, previewGroups, type BatchGroup } from '../../core/captions/tagBatch';
import type { DocumentChange, FileChange, SkippedFile } from '../../core/captions/journal';
import { getLog } from '../../platform/log';
import { captionJournal, undoLastBatch } from '../autoTag/journal';

export const PREVIEW_SCHEME = 'lwb-tag-preview';

export interface BatchPlan {
  label: string;
  /** per concept: its caption files and operations; `create` makes files for images without one */
  groups: Array<{ files: string[]; ops: BatchOp[] } | { files: string[]; create: string[] }>;
}

export interface TagBatchResult {
  ok: boolean;
  cancelled: boolean;
  message: string;
  /** files that would change, unchanged, skipped (as computed before the confirmation) */
  planned: number;
  unchanged: number;
  written: string[];
  /** files edited in their unsaved editor */
  documents: string[];
  skipped: SkippedFile[];
  journalBatch: string | null;
  /** with `previewFile`: the diff shown (left: now, right: after), as URI strings */
  preview?: { left: string; right: string };
}

const encoder = new TextEncoder();

/** New texts shown by "Preview a File…". */
const previews = new Map<string, string>();

export function registerBatchApply(context: vscode.ExtensionContext): void {
  context.subscriptions.push(
    vscode.workspace.registerTextDocumentContentProvider(PREVIEW_SCHEME, { provideTextDocumentContent: (uri) => previews.get(uri.path) ?? '' }),
  );
}

function dirtyDocument(file: string): vscode.TextDocument | undefined {
  return vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'file' && d.uri.fsPath === file && d.isDirty && !d.isClosed);
}

/** The inputs of a batch: unsaved editors' text where there is one, the file on disk otherwise. */
async function readInputs(files: readonly string[]): Promise<{ inputs: BatchInput[]; docs: Map<string, vscode.TextDocument> }> {
  const docs = new Map<string, vscode.TextDocument>();
  const fromDisk: string[] = [];
  for (const f of files) {
    const d = dirtyDocument(f);
    if (d) docs.set(f, d);
    else fromDisk.push(f);
  }
  const disk = new Map((await readBatchInputs(fromDisk)).map((i) => [i.file, i]));
  const inputs = files.map((f) => {
    const d = docs.get(f);
    return d ? { file: f, bytes: encoder.encode(d.getText()) } : (disk.get(f) as BatchInput);
  });
  return { inputs, docs };
}

async function confirm(label: string, preview: BatchPreview): Promise<boolean> {
  const summary = describePreview(preview);
  for (;;) {
    const names = preview.files.slice(0, 5).map((f) => vscode.workspace.asRelativePath(f.file));
    const more = preview.files.length > 5 ? `\n… and ${preview.files.length - 5} more` : '';
    const skipped = preview.skipped.length
      ? `\n\nLeft untouched:\n${preview.skipped.slice(0, 3).map((s) => `${vscode.workspace.asRelativePath(s.file)}: ${s.reason}`).join('\n')}`
      : '';
    const pick = await vscode.window.showInformationMessage(
      `${label}: ${summary}.`,
      {
        modal: true,
        detail: `${names.join('\n')}${more}${skipped}\n\nAll files change in one step: "LoRA Workbench: Undo Last Tag Batch" puts them back.`,
      },
      'Apply',
      'Preview a File…',
    );
    if (pick === 'Apply') return true;
    if (pick !== 'Preview a File…') return false;
    type Item = vscode.QuickPickItem & { file: (typeof preview.files)[number] };
    const items: Item[] = preview.files.slice(0, 1000).map((f) => ({
      label: path.basename(f.file),
      description: vscode.workspace.asRelativePath(path.dirname(f.file)),
      detail: f.newText.split(/\r?\n/)[0]?.slice(0, 200),
      file: f,
    }));
    const chosen = await vscode.window.showQuickPick(items, { title: `${label}: preview which file?`, matchOnDescription: true });
    if (chosen) await showPreviewDiff(label, chosen.file);
  }
}

let previewCounter = 0;

/**
 * The diff of one file of a batch: left the file now (its unsaved editor when there is one; an
 * empty text for a file the batch creates), right the text after the batch. Returns the two URIs.
 */
async function showPreviewDiff(label: string, f: BatchPreview['files'][number]): Promise<{ left: vscode.Uri; right: vscode.Uri }> {
  const key = `/${Date.now().toString(36)}-${++previewCounter}/${path.basename(f.file)}`;
  previews.set(key, f.newText.replace(/^\ufeff/, ''));
  const left = f.oldText === null ? vscode.Uri.from({ scheme: PREVIEW_SCHEME, path: '/empty' }) : vscode.Uri.file(f.file);
  const right = vscode.Uri.from({ scheme: PREVIEW_SCHEME, path: key });
  await vscode.commands.executeCommand('vscode.diff', left, right, `${path.basename(f.file)}: now ↔ after "${label}"`, { preview: true });
  return { left, right };
}

/** How `runBatch` runs: with the confirmation, and the test hooks. */
export interface RunBatchOptions {
  /** ask "N files will change" first (with "Preview a File…") */
  ask: boolean;
  /** instead of applying: show the diff of this file (as "Preview a File…" does) and change nothing */
  previewFile?: string;
  /** test hook: behave as if Cancel was pressed in the progress after this many files were written */
  cancelAfter?: number;
}

/** Computes, confirms (unless `ask` is false) and applies a batch. Never throws. */
export async function runBatch(context: vscode.ExtensionContext, plan: BatchPlan, how: RunBatchOptions): Promise<TagBatchResult> {
  const log = getLog();
  const result: TagBatchResult = { ok: false, cancelled: false, message: '', planned: 0, unchanged: 0, written: [], documents: [], skipped: [], journalBatch: null };
  const ask = how.ask;
  try {
    const all = plan.groups.flatMap((g) => g.files);
    const { inputs, docs } = await readInputs(all);
    const byFile = new Map(inputs.map((i) => [i.file, i]));
    const groups: BatchGroup[] = [];
    let preview: BatchPreview;
    const creates = plan.groups.filter((g): g is { files: string[]; create: string[] } => 'create' in g);
    const edits = plan.groups.filter((g): g is { files: string[]; ops: BatchOp[] } => 'ops' in g);
    for (const g of edits) groups.push({ inputs: g.files.map((f) => byFile.get(f) as BatchInput), ops: g.ops, options: { createMissing: false } });
    preview = previewGroups(groups);
    for (const g of creates) {
      const p = previewCreateMissing(g.files.map((f) => byFile.get(f) as BatchInput), g.create);
      preview = {
        files: [...preview.files, ...p.files],
        unchanged: preview.unchanged + p.unchanged,
        skipped: [...preview.skipped, ...p.skipped],
        totals: {
          files: preview.totals.files + p.totals.files,
          added: preview.totals.added + p.totals.added,
          removed: preview.totals.removed,
          replaced: preview.totals.replaced,
          moved: preview.totals.moved,
        },
      };
    }
    result.planned = preview.files.length;
    result.unchanged = preview.unchanged;
    result.skipped = [...preview.skipped];
    if (preview.files.length === 0) {
      result.ok = true;
      result.message = `${plan.label}: no file would change (${all.length} checked${preview.skipped.length ? `, ${preview.skipped.length} skipped` : ''}).`;
      return result;
    }
    if (how.previewFile !== undefined) {
      const f = preview.files.find((x) => x.file === how.previewFile);
      result.cancelled = true;
      if (!f) {
        result.message = `${plan.label}: ${path.basename(how.previewFile)} would not change; nothing changed.`;
        return result;
      }
      const uris = await showPreviewDiff(plan.label, f);
      result.ok = true;
      result.preview = { left: uris.left.toString(), right: uris.right.toString() };
      result.message = `${plan.label}: showing the change of ${path.basename(f.file)}; nothing changed.`;
      return result;
    }
    if (ask && !(await confirm(plan.label, preview))) {
      result.cancelled = true;
      result.message = `${plan.label}: cancelled, nothing changed.`;
      return result;
    }
    const onDisk: FileChange[] = [];
    // unsaved editors: checked now, recorded with the batch, edited once the files are written
    const inEditors: Array<{ doc: vscode.TextDocument; change: DocumentChange }> = [];
    for (const f of preview.files) {
      const doc = docs.get(f.file);
      if (!doc) {
        onDisk.push({ file: f.file, oldBytes: f.oldBytes, newBytes: f.newBytes });
        continue;
      }
      // the document's text has no BOM; the preview kept one if the bytes had it
      const before = (f.oldText ?? '').replace(/^\ufeff/, '');
      const after = f.newText.replace(/^\ufeff/, '');
      if (doc.isClosed || doc.getText() !== before) {
        result.skipped.push({ file: f.file, reason: 'the editor changed meanwhile: left untouched' });
        continue;
      }
      if (before !== after) inEditors.push({ doc, change: { file: doc.uri.fsPath, before, after } });
    }
    const journal = await captionJournal(context);
    const step = Math.max(1, Math.floor(onDisk.length / 100));
    const applied = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: plan.label, cancellable: true },
      async (progress, token) => {
        let cancelled = false;
        const r = await journal.apply(plan.label, onDisk, {
          documents: inEditors.map((e) => e.change),
          beforeWrite: (_file, i) => {
            if (token.isCancellationRequested || (how.cancelAfter !== undefined && i >= how.cancelAfter)) {
              cancelled = true;
              throw new Error('cancelled');
            }
            if (i % step === 0) progress.report({ message: `${i} of ${onDisk.length} files`, increment: (100 * step) / Math.max(1, onDisk.length) });
          },
        });
        progress.report({ message: `${onDisk.length} of ${onDisk.length} files` });
        return { r, cancelled };
      },
    );
    const r = applied.r;
    result.written = r.written;
    result.skipped.push(...r.skipped);
    result.journalBatch = r.id !== null && r.ok ? r.id : null;
    if (!r.ok) {
      result.cancelled = applied.cancelled;
      result.message = applied.cancelled ? `${plan.label}: cancelled; the files already written were put back.` : `${plan.label} failed: ${r.error ?? 'unknown error'}`;
      return result;
    }
    if (inEditors.length) {
      const we = new vscode.WorkspaceEdit();
      const edited: typeof inEditors = [];
      for (const e of inEditors) {
        if (e.doc.isClosed || e.doc.getText() !== e.change.before) {
          result.skipped.push({ file: e.change.file, reason: 'the editor changed meanwhile: left untouched' });
          continue;
        }
        const m = minimalEdit(e.change.before, e.change.after);
        if (!m) continue;
        we.replace(e.doc.uri, new vscode.Range(e.doc.positionAt(m.start), e.doc.positionAt(m.end)), m.newText);
        edited.push(e);
      }
      const ok = we.size === 0 || (await vscode.workspace.applyEdit(we));
      if (ok) result.documents = edited.map((e) => e.change.file);
      else result.skipped.push(...edited.map((e) => ({ file: e.change.file, reason: 'the editor refused the edit' })));
      // the journal holds exactly the editor edits made (a batch left with none is no batch)
      if (result.journalBatch && result.documents.length !== inEditors.length) {
        const kept = new Set(result.documents);
        await journal.setDocuments(result.journalBatch, inEditors.filter((e) => kept.has(e.change.file)).map((e) => e.change));
        if (r.written.length === 0 && result.documents.length === 0) result.journalBatch = null;
      }
    }
    result.ok = true;
    const parts = [`${r.written.length} file${r.written.length === 1 ? '' : 's'} changed`];
    if (result.documents.length) parts.push(`${result.documents.length} unsaved editor${result.documents.length === 1 ? '' : 's'} edited (save them to keep it)`);
    if (result.skipped.length) parts.push(`${result.skipped.length} skipped (see the log)`);
    result.message = `${plan.label}: ${parts.join(', ')}.`;
    log.info(result.message);
    for (const s of result.skipped) log.warn(`  ${s.file}: ${s.reason}`);
    return result;
  } catch (e) {
    result.message = `${plan.label} failed: ${(e as Error).message}`;
    log.error(result.message);
    return result;
  }
}

/** Shows the outcome of a batch (with Undo when there is one). Does not wait for the user. */
export function reportBatch(context: vscode.ExtensionContext, r: TagBatchResult): void {
  if (r.cancelled && r.written.length === 0 && r.message.endsWith('nothing changed.')) return;
  if (!r.ok && r.cancelled) {
    void vscode.window.showInformationMessage(`LoRA Workbench: ${r.message}`);
    return;
  }
  if (!r.ok) {
    void vscode.window.showErrorMessage(`LoRA Workbench: ${r.message}`, 'Show Log').then((p) => p && getLog().show());
    return;
  }
  const buttons = r.journalBatch ? ['Undo'] : [];
  void vscode.window.showInformationMessage(`LoRA Workbench: ${r.message}`, ...buttons).then(async (p) => {
    if (p === 'Undo') await undoLastBatch(context);
  });
}
