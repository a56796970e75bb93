/**
 * Suggest mode: the tagger on one image (dry run, best 40 scores whatever the thresholds), shown
 * as a multi-select quick pick with scores; the tags already in the tag file are ticked. The
 * accepted set is written into the tag file with a WorkspaceEdit that changes only the tags that
 * come or go (the file's separators, other tags and lines stay as they are), so the editor's undo
 * takes it back.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Commands } from '../../constants';
import { findTags, parseCaption, rebuildLineEdits } from '../../core/captions/parse';
import { captionPathFor, prepareTags, type ScoredTag } from '../../core/tagger/postprocess';
import { tagImages } from '../../core/tagger/run';
import { getLog } from '../../platform/log';
import { chooseModelFolder, taggerWorkerScript } from './autoTag';
import { readTaggerSettings, type TaggerOverrides, type TaggerSettings } from './settings';
import { commandOptions, pickImage, type CommandTarget } from './targets';

export const SUGGEST_TOP_K = 40;

export interface SuggestedTag extends ScoredTag {
  /** already in the tag file (compared like booru tags: case and `_`/space do not matter) */
  present: boolean;
}

export interface Suggestions {
  image: string;
  captionFile: string;
  /** the tag file's text now (an open editor's text wins over the disk), undefined: no file */
  current: string | undefined;
  tags: SuggestedTag[];
  error?: string;
}

/** The text of a tag file as the user sees it: an open document, else the disk. */
async function currentText(file: string): Promise<string | undefined> {
  const open = vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'file' && d.uri.fsPath === file);
  if (open) return open.getText();
  try {
    return await fsp.readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

function captionOptions(settings: TaggerSettings): { captionSeparator: string } {
  return { captionSeparator: (settings.options.caption_separator ?? ', ').trim() || ',' };
}

/** Runs the tagger on one image and returns its best tags with scores. Never throws. */
export async function suggestTags(image: string, settings: TaggerSettings, workerScript: string, signal?: AbortSignal): Promise<Suggestions> {
  const captionFile = captionPathFor(image, settings.options.caption_extension);
  const r = await tagImages([image], {
    modelDir: settings.modelFolder,
    workerScript,
    options: settings.options,
    provider: settings.provider,
    dryRun: true,
    topK: SUGGEST_TOP_K,
    ...(signal ? { signal } : {}),
  });
  const current = await currentText(captionFile);
  const out: Suggestions = { image, captionFile, current, tags: [] };
  const first = r.tagged[0];
  if (!r.ok || !first) {
    out.error = r.error ?? r.failed[0]?.error ?? (r.cancelled ? 'cancelled' : 'the tagger returned nothing');
    return out;
  }
  const doc = parseCaption(current ?? '', captionOptions(settings));
  const undesired = prepareTags({ ratings: [], general: [], character: [] }, settings.options).undesired;
  out.tags = (first.top ?? first.scored)
    .filter((t) => !undesired.has(t.tag))
    .map((t) => ({ ...t, present: findTags(doc, t.tag, { loose: true }).length > 0 }));
  return out;
}

/**
 * Makes the tag file hold `accepted` among the suggested tags: suggested tags not accepted are
 * removed, accepted ones not there are added at the end; everything else is kept as written.
 * Returns whether the file changed.
 */
export async function applySuggestion(s: Suggestions, accepted: readonly string[], settings: TaggerSettings): Promise<boolean> {
  const uri = vscode.Uri.file(s.captionFile);
  const want = new Set(accepted);
  const edit = new vscode.WorkspaceEdit();
  let exists = true;
  try {
    await fsp.stat(s.captionFile);
  } catch {
    exists = false;
  }
  if (!exists) {
    const tags = s.tags.filter((t) => want.has(t.tag)).map((t) => t.tag);
    if (!tags.length) return false;
    const text = tags.join(settings.options.caption_separator ?? ', ') + '\n';
    edit.createFile(uri, { contents: Buffer.from(text, 'utf8'), ignoreIfExists: true });
    return vscode.workspace.applyEdit(edit);
  }
  const document = await vscode.workspace.openTextDocument(uri);
  const wasDirty = document.isDirty;
  const doc = parseCaption(document.getText(), captionOptions(settings));
  const line = doc.lines[0];
  if (!line) return false;
  const suggested = new Set(s.tags.map((t) => t.tag));
  const drop = new Set<number>();
  for (const t of s.tags) {
    if (!want.has(t.tag)) for (const found of findTags(doc, t.tag, { loose: true })) drop.add(found.index);
  }
  const kept = line.tags.filter((t) => !drop.has(t.index)).map((t) => ({ text: t.text, part: t.part }));
  const added = [...want].filter((tag) => suggested.has(tag) && findTags(doc, tag, { loose: true }).length === 0).map((text) => ({ text }));
  const edits = rebuildLineEdits(doc, 0, [...kept, ...added]);
  if (!edits.length) return false;
  for (const e of edits) edit.replace(uri, new vscode.Range(document.positionAt(e.start), document.positionAt(e.end)), e.newText);
  if (!(await vscode.workspace.applyEdit(edit))) return false;
  // save what we changed, but never the user's own unsaved edits
  if (!wasDirty) await document.save();
  return true;
}

export interface SuggestCommandOptions extends TaggerOverrides {
  /** skip the quick pick: the tags to keep among the suggestions */
  accept?: string[];
}

export function registerSuggestTags(context: vscode.ExtensionContext): void {
  const log = getLog();
  context.subscriptions.push(
    vscode.commands.registerCommand(Commands.suggestTags, async (target?: CommandTarget, arg?: unknown) => {
      const options = commandOptions<SuggestCommandOptions>(arg);
      try {
        const image = await pickImage(target);
        if (!image) return undefined;
        let settings = readTaggerSettings(vscode.Uri.file(image), options);
        if (!settings.modelFolder) {
          const chosen = await chooseModelFolder();
          if (!chosen) return undefined;
          settings = { ...settings, modelFolder: chosen };
        }
        const s = await vscode.window.withProgress(
          { location: vscode.ProgressLocation.Notification, title: `Suggesting tags for ${path.basename(image)}…`, cancellable: true },
          (_p, token) => {
            const ac = new AbortController();
            token.onCancellationRequested(() => ac.abort());
            return suggestTags(image, settings, taggerWorkerScript(context), ac.signal);
          },
        );
        if (s.error) {
          log.error(`Suggest tags for ${image}: ${s.error}`);
          void vscode.window.showErrorMessage(`LoRA Workbench: no tag suggestions for ${path.basename(image)}: ${s.error}`);
          return s;
        }
        let accepted = options?.accept;
        if (!accepted) {
          const items = s.tags.map((t) => ({
            label: t.tag,
            description: `${(t.score * 100).toFixed(1)}%${t.kind === 'character' ? ' · character' : ''}${t.present ? ' · in the file' : ''}`,
            picked: t.present,
          }));
          const picks = await vscode.window.showQuickPick(items, {
            canPickMany: true,
            title: `Tags for ${path.basename(image)} (ticked: in ${path.basename(s.captionFile)}; untick to remove, tick to add)`,
            placeHolder: 'Filter tags',
          });
          if (!picks) return s;
          accepted = picks.map((p) => p.label);
        }
        const changed = await applySuggestion(s, accepted, settings);
        if (changed && !options?.accept) {
          await vscode.window.showTextDocument(vscode.Uri.file(s.captionFile), { viewColumn: vscode.ViewColumn.Beside, preview: true, preserveFocus: true });
        }
        return { ...s, changed };
      } catch (e) {
        const msg = (e as Error).message;
        log.error(`Suggest tags failed: ${(e as Error).stack ?? msg}`);
        void vscode.window.showErrorMessage(`LoRA Workbench: suggesting tags failed: ${msg}`);
        return undefined;
      }
    }),
  );
}
