/**
 * Caption files of a scanned dataset and a whole-dataset lint, shared by `lwb lint`, `lwb tags`
 * and the benchmark (the extension feeds `CaptionIndex` from its own dataset index instead).
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { ScanResult } from '../dataset/scan';
import { normaliseSidecarExtension, stemOf } from '../dataset/images';
import { CaptionIndex, type CaptionDiagnostic, type ConceptContext, type RuleConfig } from './rules';
import { resolveTrigger, type TriggerRule } from './triggers';
import type { CaptionOptions } from './parse';

export interface CaptionFileRef {
  /** absolute path of the caption file (it may not exist: `exists`) */
  file: string;
  exists: boolean;
  /** the concept folder's absolute path (its id in `CaptionIndex`) */
  concept: string;
  /** the concept folder's name, e.g. `5_tk girl` */
  conceptName: string;
}

/** The caption file of every image, for one caption extension (sd-scripts' `caption_extension`). */
export function captionFilesOf(scan: ScanResult, captionExtension = '.txt'): CaptionFileRef[] {
  const ext = normaliseSidecarExtension(captionExtension);
  const out: CaptionFileRef[] = [];
  for (const folder of scan.folders) {
    const conceptName = path.basename(folder.path);
    for (const img of folder.images) {
      const side = img.sidecars[ext];
      const stem = stemOf(img.name);
      out.push({
        file: path.join(folder.path, side ?? stem + ext),
        exists: side !== undefined,
        concept: folder.path,
        conceptName,
      });
    }
  }
  return out;
}

export interface LintDatasetOptions {
  captionExtension?: string;
  /** a trigger for every concept (else each folder's class tokens) */
  trigger?: string;
  triggerRule?: TriggerRule;
  absorbed?: readonly string[];
  captionOptions?: CaptionOptions;
  rules?: RuleConfig;
  /** files read and linted between two turns of the event loop (default 256) */
  chunk?: number;
  /** list pollution candidates in every file's diagnostics (default true); the summary is always there */
  pollutionPerFile?: boolean;
}

export interface DatasetLint {
  index: CaptionIndex;
  /** caption files checked */
  files: number;
  /** images without a caption file */
  missing: number;
  /** each concept's trigger */
  triggers: Array<{ concept: string; name: string; trigger: string | null; source: string }>;
  diagnostics: CaptionDiagnostic[];
  /** pollution candidates once per concept and tag */
  pollution: ReturnType<CaptionIndex['pollutionSummary']>;
}

export async function lintDataset(scan: ScanResult, options: LintDatasetOptions = {}): Promise<DatasetLint> {
  const index = new CaptionIndex(options.rules ?? {});
  const refs = captionFilesOf(scan, options.captionExtension ?? '.txt');
  const triggers: DatasetLint['triggers'] = [];
  for (const folder of scan.folders) {
    const name = path.basename(folder.path);
    const r = resolveTrigger({ folderName: name, setting: options.trigger ?? null, rule: options.triggerRule ?? 'firstWord' });
    const ctx: ConceptContext = {
      trigger: r.trigger,
      ...(options.absorbed ? { absorbed: options.absorbed } : {}),
      options: options.captionOptions ?? {},
    };
    index.setConcept(folder.path, ctx, name);
    triggers.push({ concept: folder.path, name, trigger: r.trigger, source: r.source });
  }
  const present = refs.filter((r) => r.exists);
  // synchronous reads cost a fifth of the CPU of promise-based ones for small files; the event
  // loop gets a turn after every chunk
  const chunk = Math.max(1, options.chunk ?? 256);
  for (let i = 0; i < present.length; i += chunk) {
    if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const entries: Array<{ file: string; concept: string; input: Uint8Array | Error }> = [];
    for (const ref of present.slice(i, i + chunk)) {
      let input: Uint8Array | Error;
      try {
        input = readFileSync(ref.file);
      } catch (e) {
        input = e as Error;
      }
      entries.push({ file: ref.file, concept: ref.concept, input });
    }
    index.updateFiles(entries);
  }
  const diagnostics = [...index.allDiagnostics({ pollution: options.pollutionPerFile ?? true }).entries()]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .flatMap(([, d]) => d);
  return { index, files: present.length, missing: refs.length - present.length, triggers, diagnostics, pollution: index.pollutionSummary() };
}
