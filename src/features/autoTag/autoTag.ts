/**
 * "Auto-tag with WD14…": runs the core tagger (src/core/tagger/run.ts) on a folder with the
 * Tagging settings, in a worker process, with progress and cancel in a notification; the tag
 * files are written as one journal batch, so "Undo" puts them all back.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Commands, Settings } from '../../constants';
import { inspectModelFolder } from '../../core/tagger/modelFolder';
import { listImagesForTagging, tagImages, type TagRunResult } from '../../core/tagger/run';
import { getLog } from '../../platform/log';
import type { DatasetsModel } from '../datasetsView/model';
import { captionJournal, undoLastBatch } from './journal';
import { readTaggerSettings, type TaggerOverrides } from './settings';
import { commandOptions, pickFolder, type CommandTarget } from './targets';

export interface AutoTagOptions extends TaggerOverrides {
  /** tag subfolders too (default: a kohya dataset's concept folders are, a plain folder's subfolders are not) */
  recursive?: boolean;
  /** for tasks and tests: cancels like the notification's Cancel button */
  signal?: AbortSignal;
  /** for tasks and tests: called after each image */
  onProgress?(p: { done: number; total: number; failed: number; image: string }): void;
}

/** What the command returns (for tests, tasks and keybindings). */
export interface AutoTagSummary {
  ok: boolean;
  error?: string;
  folder: string;
  tagged: number;
  skipped: number;
  failed: { image: string; error: string }[];
  cancelled: boolean;
  journalBatch: string | null;
  result?: TagRunResult;
}

export function taggerWorkerScript(context: vscode.ExtensionContext): string {
  return vscode.Uri.joinPath(context.extensionUri, 'dist', 'workers', 'tagger.js').fsPath;
}

/** Asks for a model folder, checks it and stores it in the setting. undefined: cancelled or not usable. */
export async function chooseModelFolder(): Promise<string | undefined> {
  const picked = await vscode.window.showOpenDialog({
    canSelectFolders: true,
    canSelectFiles: false,
    canSelectMany: false,
    title: 'Choose the WD14 model folder (model.onnx + selected_tags.csv)',
    openLabel: 'Use This Model',
  });
  const dir = picked?.[0]?.fsPath;
  if (!dir) return undefined;
  const check = await inspectModelFolder(dir);
  if (!check.ok) {
    getLog().error(`WD14 model folder ${dir}: ${check.error}`);
    void vscode.window.showErrorMessage(`LoRA Workbench: this is not a usable WD14 model folder: ${check.error}`);
    return undefined;
  }
  await vscode.workspace.getConfiguration(Settings.section).update(Settings.taggerModelFolder, check.info.dir, vscode.ConfigurationTarget.Global);
  getLog().info(`WD14 model folder set to ${check.info.dir} (${check.info.version}, ${check.info.size}×${check.info.size})`);
  return check.info.dir;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function registerAutoTag(context: vscode.ExtensionContext, model: DatasetsModel): void {
  const log = getLog();
  context.subscriptions.push(
    vscode.commands.registerCommand(Commands.autoTag, async (target?: CommandTarget, arg?: unknown): Promise<AutoTagSummary | undefined> => {
      const options = commandOptions<AutoTagOptions>(arg);
      try {
        const folder = await pickFolder(model, target, 'Auto-tag which images with WD14?');
        if (!folder) return undefined;
        const scope = vscode.Uri.file(folder.path);
        let settings = readTaggerSettings(scope, options);
        if (!settings.modelFolder) {
          const chosen = await chooseModelFolder();
          if (!chosen) return undefined;
          settings = { ...settings, modelFolder: chosen };
        }
        return await runAutoTag(context, folder.path, options?.recursive ?? folder.recursive, settings, options);
      } catch (e) {
        // nothing escapes the command: one clear message instead
        const msg = (e as Error).message;
        log.error(`Auto-tag failed: ${(e as Error).stack ?? msg}`);
        void vscode.window.showErrorMessage(`LoRA Workbench: auto-tagging failed: ${msg}`, 'Show Log').then((p) => p && log.show());
        return { ok: false, error: msg, folder: '', tagged: 0, skipped: 0, failed: [], cancelled: false, journalBatch: null };
      }
    }),
    vscode.commands.registerCommand(Commands.undoTagBatch, () => undoLastBatch(context)),
  );
}

async function runAutoTag(
  context: vscode.ExtensionContext,
  folder: string,
  recursive: boolean,
  settings: ReturnType<typeof readTaggerSettings>,
  hooks: Pick<AutoTagOptions, 'signal' | 'onProgress'> = {},
): Promise<AutoTagSummary> {
  const log = getLog();
  const name = path.basename(folder);
  const summary: AutoTagSummary = { ok: false, folder, tagged: 0, skipped: 0, failed: [], cancelled: false, journalBatch: null };
  const list = await listImagesForTagging(folder, recursive);
  if (list.error || list.images.length === 0) {
    summary.error = list.error ?? `no image sd-scripts would tag in ${folder}${recursive ? '' : ' (subfolders are not tagged)'}`;
    void vscode.window.showWarningMessage(`LoRA Workbench: ${summary.error}`);
    return summary;
  }
  const journal = await captionJournal(context);
  log.info(`Auto-tag ${folder}${recursive ? ' (with subfolders)' : ''}: ${plural(list.images.length, 'image')}, model ${settings.modelFolder}, ${settings.provider}, batch ${settings.batchSize}`);
  const started = performance.now();
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Auto-tagging ${name} with WD14`, cancellable: true },
    async (progress, token) => {
      const ac = new AbortController();
      const sub = token.onCancellationRequested(() => ac.abort());
      const abort = (): void => ac.abort();
      if (hooks.signal?.aborted) ac.abort();
      hooks.signal?.addEventListener('abort', abort, { once: true });
      let last = 0;
      progress.report({ message: `starting the tagger for ${plural(list.images.length, 'image')}…` });
      try {
        return await tagImages(list.images, {
          modelDir: settings.modelFolder,
          workerScript: taggerWorkerScript(context),
          options: settings.options,
          batchSize: settings.batchSize,
          provider: settings.provider,
          skipExisting: settings.skipExisting,
          signal: ac.signal,
          journal,
          journalLabel: `Auto-tag ${name} with WD14`,
          onReady: (ready, info) => {
            log.info(`  model ${info.dir} (${info.version}, ${ready.size}×${ready.size}, ${info.tags.general.length} general + ${info.tags.character.length} character tags) on ${ready.provider}, batch ${ready.batchSize}`);
            for (const w of [...info.warnings, ...ready.warnings]) log.warn(`  ${w}`);
          },
          onProgress: (p) => {
            const pct = (100 * p.done) / Math.max(1, p.total);
            progress.report({ increment: pct - last, message: `${p.done}/${p.total} · ${path.basename(p.image)}${p.failed ? ` · ${p.failed} failed` : ''}` });
            last = pct;
            hooks.onProgress?.(p);
          },
        });
      } finally {
        sub.dispose();
        hooks.signal?.removeEventListener('abort', abort);
      }
    },
  );
  const seconds = (performance.now() - started) / 1000;
  summary.result = result;
  summary.tagged = result.tagged.length;
  summary.skipped = result.skipped.length;
  summary.failed = result.failed;
  summary.cancelled = result.cancelled;
  summary.journalBatch = result.journalBatch ?? null;
  summary.ok = result.ok;
  if (result.error) summary.error = result.error;
  for (const f of result.failed) log.warn(`  ${f.image}: ${f.error}`);
  const show = (p: Thenable<string | undefined>): void => {
    void p.then(async (pick) => {
      if (pick === 'Show Log') log.show();
      else if (pick === 'Undo') await undoLastBatch(context);
      else if (pick === 'Choose Model Folder…') {
        if (await chooseModelFolder()) await vscode.commands.executeCommand(Commands.autoTag, folder);
      }
    });
  };
  if (result.error && !result.ready) {
    // the model (or the runtime) could not be used: nothing was touched
    log.error(`Auto-tag ${folder}: ${result.error}`);
    const buttons = result.model ? ['Show Log'] : ['Choose Model Folder…', 'Show Log'];
    show(vscode.window.showErrorMessage(`LoRA Workbench: auto-tagging did not start: ${result.error}`, ...buttons));
    return summary;
  }
  const parts = [`tagged ${plural(result.tagged.length, 'image')} in ${name}`];
  if (result.skipped.length) parts.push(`${result.skipped.length} skipped (already tagged)`);
  if (result.failed.length) parts.push(`${result.failed.length} failed`);
  const rate = result.tagged.length && seconds > 0 ? ` (${seconds.toFixed(1)} s, ${(result.tagged.length / seconds).toFixed(1)} images/s)` : '';
  let text = `LoRA Workbench: ${result.cancelled ? 'cancelled: ' : ''}${parts.join(', ')}${rate}.`;
  if (result.failed[0]) {
    const f = result.failed[0];
    text += ` ${path.basename(f.image)}: ${f.error}${result.failed.length > 1 ? ' (the others are in the log)' : ''}`;
  }
  if (result.error) text += ` ${result.error}`;
  log.info(text.replace(/^LoRA Workbench: /, 'Auto-tag: '));
  const buttons = [...(summary.journalBatch ? ['Undo'] : []), 'Show Log'];
  const severe = result.error || result.failed.length;
  show(severe ? vscode.window.showWarningMessage(text, ...buttons) : vscode.window.showInformationMessage(text, ...buttons));
  return summary;
}
