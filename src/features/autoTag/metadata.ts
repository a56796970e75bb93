/**
 * "Merge Captions and Tags into Metadata…": sd-scripts' merge_captions_to_metadata +
 * merge_dd_tags_to_metadata through the core (src/core/dataset/metadata.ts), written as
 * meta_clean.json with full-path keys; the keys are then checked the way current sd-scripts
 * resolves them.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Commands } from '../../constants';
import { checkMetadataKeys, mergeCaptionsAndTags, writeMetadata } from '../../core/dataset/metadata';
import { getLog } from '../../platform/log';
import type { DatasetsModel } from '../datasetsView/model';
import { readTaggerSettings } from './settings';
import { commandOptions, pickFolder, type CommandTarget } from './targets';

export interface MergeMetadataOptions {
  output?: vscode.Uri | string;
  captionExtension?: string;
  tagExtension?: string;
  /** absolute image paths as keys (default true; false writes bare stems, which current sd-scripts cannot resolve) */
  fullPath?: boolean;
  recursive?: boolean;
  /** clean_captions_and_tags.py's rules */
  clean?: boolean;
}

export interface MergeMetadataSummary {
  output: string;
  images: number;
  captions: number;
  tags: number;
  warnings: string[];
  keyProblems: string[];
}

export function registerMergeMetadata(subscriptions: vscode.Disposable[], model: DatasetsModel): void {
  const log = getLog();
  subscriptions.push(
    vscode.commands.registerCommand(Commands.mergeMetadata, async (target?: CommandTarget, arg?: unknown): Promise<MergeMetadataSummary | undefined> => {
      const options = commandOptions<MergeMetadataOptions>(arg);
      try {
        const folder = await pickFolder(model, target, 'Merge the captions and tags of which images?');
        if (!folder) return undefined;
        const recursive = options?.recursive ?? folder.recursive;
        const out =
          typeof options?.output === 'string'
            ? vscode.Uri.file(options.output)
            : (options?.output ??
              (await vscode.window.showSaveDialog({
                defaultUri: vscode.Uri.file(path.join(path.dirname(folder.path), 'meta_clean.json')),
                filters: { 'Metadata JSON': ['json'] },
                title: 'Save the metadata (in_json) as',
                saveLabel: 'Write Metadata',
              })));
        if (!out) return undefined;
        const tagExtension = options?.tagExtension ?? readTaggerSettings(vscode.Uri.file(folder.path)).options.caption_extension ?? '.txt';
        const merged = await mergeCaptionsAndTags(folder.path, {
          captionExtension: options?.captionExtension ?? '.caption',
          tagExtension,
          fullPath: options?.fullPath ?? true,
          recursive,
          clean: !!options?.clean,
        });
        await writeMetadata(out.fsPath, merged.metadata);
        const keys = await checkMetadataKeys(merged.metadata, folder.path);
        const summary: MergeMetadataSummary = {
          output: out.fsPath,
          images: merged.images,
          captions: merged.captions,
          tags: merged.tags,
          warnings: merged.warnings.map((w) => w.message),
          keyProblems: keys.problems.map((p) => p.message),
        };
        log.info(`Metadata ${out.fsPath}: ${merged.images} images, ${merged.captions} captions, ${merged.tags} tag files from ${folder.path}`);
        for (const w of [...summary.warnings, ...summary.keyProblems]) log.warn(`  ${w}`);
        const bare = merged.warnings.find((w) => w.code === 'bareStemKeys') ?? keys.problems.find((p) => p.reason === 'bareStem');
        const missing = merged.warnings.filter((w) => w.code === 'noCaption' || w.code === 'noTags').length;
        let text = `LoRA Workbench: wrote ${path.basename(out.fsPath)}: ${merged.images} images, ${merged.captions} captions, ${merged.tags} tag files.`;
        if (missing) text += ` ${missing} caption/tag file(s) are missing (sd-scripts' own scripts would stop there).`;
        if (bare) text += ` Warning: ${bare.message}`;
        const warn = bare || summary.keyProblems.length || missing;
        void (warn ? vscode.window.showWarningMessage(text, 'Open', 'Show Log') : vscode.window.showInformationMessage(text, 'Open')).then((pick) => {
          if (pick === 'Open') void vscode.window.showTextDocument(out);
          else if (pick === 'Show Log') log.show();
        });
        return summary;
      } catch (e) {
        const msg = (e as Error).message;
        log.error(`Merge metadata failed: ${(e as Error).stack ?? msg}`);
        void vscode.window.showErrorMessage(`LoRA Workbench: could not write the metadata: ${msg}`);
        return undefined;
      }
    }),
  );
}
