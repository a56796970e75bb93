/**
 * max_token_length for the caption-too-long check when the setting is empty: the largest value set
 * in the workspace's training configs (so a caption is only reported when no config of yours
 * would keep it whole), kept up to date as configs change.
 */
import { promises as fsp } from 'node:fs';
import * as vscode from 'vscode';
import { maxTokenLengthOfConfig } from '../../core/captions/clipTokenizer';
import { getLog } from '../../platform/log';
import type { CaptionDiagnostics } from '../captionDiagnostics';

export function registerTokenLengthFromConfigs(subscriptions: vscode.Disposable[], captions: CaptionDiagnostics): void {
  let timer: NodeJS.Timeout | undefined;
  const scan = async (): Promise<void> => {
    try {
      const files = await vscode.workspace.findFiles('**/*.toml', '**/{node_modules,.git,venv,.venv,__pycache__}/**', 500);
      let max: number | null = null;
      const from: string[] = [];
      for (const f of files) {
        try {
          const n = maxTokenLengthOfConfig(f.fsPath, await fsp.readFile(f.fsPath, 'utf8'));
          if (n !== null) {
            from.push(`${vscode.workspace.asRelativePath(f)}: ${n}`);
            max = Math.max(max ?? 0, n);
          }
        } catch {
          // an unreadable config: the config checks report it
        }
      }
      if (from.length) getLog().info(`max_token_length from training configs: ${from.join(', ')}`);
      captions.setConfigTokenLength(max);
    } catch (e) {
      getLog().warn(`max_token_length from training configs: ${(e as Error).message}`);
    }
  };
  const later = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => void scan(), 1000);
  };
  const watcher = vscode.workspace.createFileSystemWatcher('**/*.toml');
  subscriptions.push(watcher, watcher.onDidChange(later), watcher.onDidCreate(later), watcher.onDidDelete(later), { dispose: () => clearTimeout(timer) });
  void scan();
}
