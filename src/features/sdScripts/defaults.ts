/** Defaults for the sd-scripts tasks and the bucket preview from the training config. */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { detectConfigKind } from '../../core/config';
import { bucketDefaultsFromConfigs, type ConfigBucketDefaults } from '../../core/dataset/bucketPreview';
import type { TrainingFeature } from '../training';

/** The training config to take defaults from: the active editor's, else the only one in the workspace. */
export async function activeTrainingConfig(training: TrainingFeature): Promise<string | undefined> {
  const doc = vscode.window.activeTextEditor?.document;
  if (doc && doc.uri.scheme === 'file' && detectConfigKind(doc.uri.fsPath, doc.getText()) === 'training') return doc.uri.fsPath;
  const tasks = await training.provideTasks().catch(() => []);
  if (tasks.length !== 1) return undefined;
  const t = tasks[0] as vscode.Task;
  const rel = (t.definition as { config?: string }).config;
  const folder = typeof t.scope === 'object' ? t.scope.uri.fsPath : vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  return rel && folder ? path.resolve(folder, rel) : undefined;
}

/** Bucket settings, model and in_json from a training config (and the dataset config it names). */
export function defaultsFromConfig(file: string | undefined, sdScriptsDir: string | undefined): ConfigBucketDefaults & { source?: string } {
  if (!file) return {};
  const read = (p: string): string | undefined => {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return undefined;
    }
  };
  const training = read(file);
  const first = bucketDefaultsFromConfigs(training);
  let dataset: string | undefined;
  if (first.datasetConfig) {
    // sd-scripts resolves relative paths from the folder it runs in (the sd-scripts folder)
    const candidates = path.isAbsolute(first.datasetConfig) ? [first.datasetConfig] : [sdScriptsDir, path.dirname(file)].filter((d): d is string => !!d).map((d) => path.resolve(d, first.datasetConfig as string));
    for (const c of candidates) {
      dataset = read(c);
      if (dataset !== undefined) break;
    }
  }
  return { ...bucketDefaultsFromConfigs(training, dataset), source: file };
}

/** A path a config holds that is only a placeholder of a template ("/path/to/…"). */
export function isPlaceholder(p: string | undefined): boolean {
  return !p || /^\/?path\/to\b/i.test(p) || p.includes('/path/to/');
}

