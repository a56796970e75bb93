/** The training settings (loraWorkbench.training.*) and the file access the core checks use. */
import { readFileSync, statSync } from 'node:fs';
import * as vscode from 'vscode';
import { Settings } from '../../constants';
import { nodeFileSystem } from '../../core/config';
import type { FsProbe, TrainingSettings } from '../../core/training';

export const fsProbe: FsProbe = {
  isFile: (p) => {
    try {
      return statSync(p).isFile();
    } catch {
      return false;
    }
  },
  isDirectory: (p) => nodeFileSystem.isDirectory(p),
};

export const preflightFs = {
  ...nodeFileSystem,
  readText(p: string): string | undefined {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return undefined;
    }
  },
};

/** The training settings for a folder. */
export function trainingSettings(scope?: vscode.Uri): TrainingSettings & { stopTimeoutMs: number } {
  const c = vscode.workspace.getConfiguration(Settings.section, scope);
  const accelerate = c.get<string | string[]>(Settings.trainingAccelerate);
  const env = c.get<Record<string, unknown>>(Settings.trainingEnv, {}) ?? {};
  const cleanEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (typeof v === 'string') cleanEnv[k] = v;
  const seconds = c.get<number>(Settings.trainingStopTimeout, 10);
  return {
    sdScriptsFolder: c.get<string>(Settings.trainingSdScripts, '') ?? '',
    python: c.get<string>(Settings.trainingPython, '') ?? '',
    ...(accelerate !== undefined ? { accelerate } : {}),
    accelerateConfig: c.get<string>(Settings.trainingAccelerateConfig, '') ?? '',
    env: cleanEnv,
    numCpuThreadsPerProcess: Math.max(0, Math.floor(c.get<number>(Settings.trainingCpuThreads, 0) || 0)),
    stopTimeoutMs: Math.max(0, Number.isFinite(seconds) ? seconds * 1000 : 10_000),
  };
}

