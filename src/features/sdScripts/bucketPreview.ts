/**
 * "Preview Buckets into Metadata…": the bucket half of prepare_buckets_latents in the extension
 * (src/core/dataset/bucketPreview.ts), no GPU: reads meta_clean.json (or builds the metadata from
 * the caption and tag files), fills `train_resolution` and `image_size`, and writes a
 * meta_lat.json-shaped file as one undoable step of the caption journal. No latents are computed.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Commands } from '../../constants';
import { defaultLatentMetadataPath, previewBucketsIntoMetadata, type BucketPreviewResult } from '../../core/dataset/bucketPreview';
import { formatMetadata, mergeCaptionsAndTags, readMetadata, type Metadata } from '../../core/dataset/metadata';
import { getLog } from '../../platform/log';
import { captionJournal, undoLastBatch } from '../autoTag/journal';
import { readTaggerSettings } from '../autoTag/settings';
import { commandOptions, pickFolder, type CommandTarget } from '../autoTag/targets';
import type { DatasetsModel } from '../datasetsView/model';
import type { TrainingFeature } from '../training';
import { trainingSettings } from '../training/settings';
import { activeTrainingConfig, defaultsFromConfig } from './defaults';

export interface PreviewBucketsOptions {
  /** the metadata to start from; null: build it from the caption and tag files */
  inJson?: string | null;
  output?: string;
  resolution?: [number, number];
  minBucketReso?: number;
  maxBucketReso?: number;
  bucketResoSteps?: number;
  noUpscale?: boolean;
}

export interface PreviewBucketsSummary {
  output: string;
  images: number;
  buckets: BucketPreviewResult['buckets'];
  warnings: string[];
  journalBatch: string | null;
}

function parseResolution(v: string): [number, number] | undefined {
  const m = /^\s*(\d+)\s*(?:[,x×]\s*(\d+)\s*)?$/.exec(v);
  if (!m) return undefined;
  const w = Number(m[1]);
  const h = Number(m[2] ?? m[1]);
  return w > 0 && h > 0 ? [w, h] : undefined;
}

export function registerBucketPreview(context: vscode.ExtensionContext, model: DatasetsModel, training: TrainingFeature): void {
  const log = getLog();
  context.subscriptions.push(
    vscode.commands.registerCommand(Commands.previewBucketsIntoMetadata, async (target?: CommandTarget, arg?: unknown): Promise<PreviewBucketsSummary | undefined> => {
      const o = commandOptions<PreviewBucketsOptions>(arg);
      try {
        const folder = await pickFolder(model, target, 'Preview the buckets of which images?');
        if (!folder) return undefined;
        const wf = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(folder.path)) ?? vscode.workspace.workspaceFolders?.[0];
        const settings = trainingSettings(wf?.uri);
        const sdDir = settings.sdScriptsFolder ? path.resolve(wf?.uri.fsPath ?? process.cwd(), settings.sdScriptsFolder) : undefined;
        // bucket settings: the active (or only) training config, else SDXL's 1024×1024 and sd-scripts' defaults
        const configFile = await activeTrainingConfig(training);
        const d = defaultsFromConfig(configFile, sdDir);

        // the metadata to start from
        let inJson: string | null | undefined = o?.inJson;
        if (inJson === undefined) {
          const candidates = [...(d.inJson ? [path.resolve(sdDir ?? path.dirname(configFile ?? folder.path), d.inJson)] : []), path.join(path.dirname(folder.path), 'meta_clean.json'), path.join(folder.path, 'meta_clean.json')].filter((p) => existsSync(p));
          type Item = vscode.QuickPickItem & { value: string | null | 'choose' };
          const items: Item[] = [
            ...[...new Set(candidates)].map((p) => ({ label: `$(json) ${path.basename(p)}`, description: vscode.workspace.asRelativePath(p), value: p })),
            { label: '$(files) Build from the caption and tag files', description: 'as "Merge Captions and Tags into Metadata" does', value: null },
            { label: '$(folder-opened) Choose a metadata file…', value: 'choose' },
          ];
          const pick = await vscode.window.showQuickPick(items, { title: 'Preview Buckets into Metadata: start from which metadata?' });
          if (!pick) return undefined;
          if (pick.value === 'choose') {
            const chosen = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'Metadata JSON': ['json', 'jsonl'] }, title: 'The metadata to start from (in_json)' });
            if (!chosen?.[0]) return undefined;
            inJson = chosen[0].fsPath;
          } else inJson = pick.value;
        }

        let resolution = o?.resolution;
        if (!resolution) {
          const dflt = d.resolution ?? [1024, 1024];
          const typed = await vscode.window.showInputBox({
            title: 'Preview Buckets into Metadata: training resolution',
            prompt: d.source && d.resolution ? `From ${vscode.workspace.asRelativePath(d.source)}` : 'SDXL trains at 1024,1024',
            value: `${dflt[0]},${dflt[1]}`,
            validateInput: (v) => (parseResolution(v) ? undefined : 'Width,height (or one number for a square), e.g. 1024,1024'),
          });
          if (typed === undefined) return undefined;
          resolution = parseResolution(typed);
          if (!resolution) return undefined;
        }

        let base: Metadata = new Map();
        const baseName = inJson ? path.basename(inJson) : 'the caption and tag files';
        if (inJson) {
          const m = await readMetadata(inJson);
          if (!m.ok) {
            void vscode.window.showErrorMessage(`LoRA Workbench: ${m.error}. Nothing was written.`);
            return undefined;
          }
          base = m.metadata;
        } else {
          const merged = await mergeCaptionsAndTags(folder.path, {
            captionExtension: '.caption',
            tagExtension: readTaggerSettings(vscode.Uri.file(folder.path)).options.caption_extension ?? '.txt',
            fullPath: true,
            recursive: folder.recursive,
          });
          base = merged.metadata;
        }

        const result = await previewBucketsIntoMetadata(folder.path, base, {
          resolution,
          ...(o?.minBucketReso ?? d.minBucketReso ? { minBucketReso: o?.minBucketReso ?? d.minBucketReso } : {}),
          ...(o?.maxBucketReso ?? d.maxBucketReso ? { maxBucketReso: o?.maxBucketReso ?? d.maxBucketReso } : {}),
          ...(o?.bucketResoSteps ?? d.bucketResoSteps ? { bucketResoSteps: o?.bucketResoSteps ?? d.bucketResoSteps } : {}),
          noUpscale: o?.noUpscale ?? d.noUpscale ?? false,
          fullPath: true,
          recursive: folder.recursive,
        });
        if (result.errors.length) {
          void vscode.window.showErrorMessage(`LoRA Workbench: the buckets cannot be computed: ${result.errors.join('; ')}. Nothing was written.`);
          return undefined;
        }
        const output = o?.output ?? defaultLatentMetadataPath(inJson ?? path.join(path.dirname(folder.path), 'meta_clean.json'));
        // an open editor with unsaved changes of the output would be overwritten behind it
        const open = vscode.workspace.textDocuments.find((t) => t.uri.scheme === 'file' && t.uri.fsPath === output);
        if (open?.isDirty) {
          void vscode.window.showErrorMessage(`LoRA Workbench: ${path.basename(output)} has unsaved changes in an editor. Save or revert them, then preview the buckets again. Nothing was written.`);
          return undefined;
        }
        let oldBytes: Uint8Array | null = null;
        try {
          oldBytes = readFileSync(output);
        } catch {
          oldBytes = null;
        }
        const journal = await captionJournal(context);
        const applied = await journal.apply(`Preview buckets into ${path.basename(output)}`, [{ file: output, oldBytes, newBytes: new TextEncoder().encode(formatMetadata(result.metadata)) }]);
        if (!applied.ok) {
          void vscode.window.showErrorMessage(`LoRA Workbench: ${output} could not be written: ${applied.error ?? applied.skipped.map((s) => s.reason).join(', ')}`);
          return undefined;
        }
        const summary: PreviewBucketsSummary = { output, images: result.images, buckets: result.buckets, warnings: result.warnings, journalBatch: applied.id };
        log.info(`Bucket preview ${output} from ${baseName}: ${result.images} images in ${result.buckets.length} buckets at ${resolution[0]}×${resolution[1]} (mean aspect-ratio error ${result.meanArError.toFixed(4)}); latents were not computed`);
        for (const b of result.buckets) log.info(`  bucket ${b.reso[0]}×${b.reso[1]}: ${b.count}`);
        for (const w of result.warnings) log.warn(`  ${w}`);
        const text = `LoRA Workbench: wrote ${path.basename(output)}: ${result.images} images in ${result.buckets.length} bucket${result.buckets.length === 1 ? '' : 's'} (train_resolution and image_size). Latents were NOT computed: run "Prepare Buckets and Latents…" for the .npz files.${result.warnings.length ? ` ${result.warnings.length} warning(s), see the log.` : ''}`;
        void vscode.window.showInformationMessage(text, 'Open', 'Undo', 'Show Log').then((pick) => {
          if (pick === 'Open') void vscode.window.showTextDocument(vscode.Uri.file(output));
          else if (pick === 'Undo') void undoLastBatch(context);
          else if (pick === 'Show Log') log.show();
        });
        return summary;
      } catch (e) {
        log.error(`Preview buckets: ${(e as Error).stack ?? (e as Error).message}`);
        void vscode.window.showErrorMessage(`LoRA Workbench: the bucket preview failed: ${(e as Error).message}`);
        return undefined;
      }
    }),
  );
}
