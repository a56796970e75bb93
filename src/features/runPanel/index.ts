/**
 * The training run panel (issue 5 item 6): loss/lr charts from the TensorBoard event files,
 * progress and GPU of a running task, sample images, checkpoints with their metadata, saved
 * states to resume from, and "Test the LoRA" results. Opened from a training task when it starts,
 * from the command palette, or on a folder in the explorer; restored after a window reload.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Commands, Settings, WebviewTypes } from '../../constants';
import type { RunPanelTarget } from '../../core/protocol';
import { inspectFolder, isInside, readRunLocations, resolveSdScriptsFolder, type TrainingTaskDefinition } from '../../core/training';
import { getLog } from '../../platform/log';
import { trainingSettings, type TrainingFeature } from '../training';
import type { RunInfo } from '../training/process';
import { RunPanel } from './panel';

export interface RunPanelFeature {
  /** the open panel, if any (tests) */
  readonly current: RunPanel | undefined;
  open(target: RunPanelTarget, options?: { followSince?: number; run?: RunInfo; preserveFocus?: boolean }): RunPanel;
  targetForConfig(config: string): RunPanelTarget;
  targetForFolder(dir: string): Promise<RunPanelTarget>;
}

function folderOfFile(file: string): vscode.WorkspaceFolder | undefined {
  return vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file)) ?? vscode.workspace.workspaceFolders?.[0];
}

/** Where a training config's run writes: relative paths resolve from the sd-scripts folder, as sd-scripts does. */
export function targetForConfig(config: string): RunPanelTarget {
  const folder = folderOfFile(config);
  const base = folder?.uri.fsPath ?? path.dirname(config);
  const sd = resolveSdScriptsFolder(trainingSettings(folder?.uri), base) ?? base;
  let text = '';
  try {
    text = readFileSync(config, 'utf8');
  } catch (e) {
    getLog().warn(`Run panel: cannot read ${config}: ${(e as Error).message}`);
  }
  const loc = readRunLocations(text, config, sd);
  if (loc.error) getLog().warn(`Run panel: ${loc.error}`);
  const t: RunPanelTarget = { title: loc.outputName ?? path.basename(config, '.toml'), config };
  if (loc.outputDir) t.outputDir = loc.outputDir;
  if (loc.outputName) t.outputName = loc.outputName;
  if (loc.loggingDir) t.loggingDir = loc.loggingDir;
  if (loc.logPrefix) t.logPrefix = loc.logPrefix;
  if (loc.samplePrompts) t.samplePrompts = loc.samplePrompts;
  return t;
}

export function registerRunPanel(context: vscode.ExtensionContext, training: TrainingFeature): RunPanelFeature {
  let current: RunPanel | undefined;

  /** training configs of the workspace and where they write */
  const configTargets = async (): Promise<RunPanelTarget[]> => {
    const out: RunPanelTarget[] = [];
    for (const t of await training.provideTasks()) {
      const def = t.definition as unknown as TrainingTaskDefinition;
      const folder = typeof t.scope === 'object' ? t.scope : undefined;
      out.push(targetForConfig(path.resolve(folder?.uri.fsPath ?? '', def.config)));
    }
    return out;
  };

  const targetForFolder = async (dir: string): Promise<RunPanelTarget> => {
    const c = inspectFolder(dir);
    const configs = await configTargets();
    // the output folder of a config of this workspace: everything is known
    const same = (a: string | undefined): boolean => !!a && path.resolve(a) === path.resolve(dir);
    const byOutput = configs.find((t) => same(t.outputDir));
    if (byOutput) return byOutput;
    const t: RunPanelTarget = { title: path.basename(dir) };
    if (c.runs.length > 0 || !c.isOutput) t.folders = [dir];
    if (c.isOutput || c.runs.length === 0) t.outputDir = dir;
    // a log folder of a config: its outputs and resume come along
    const byLogs = configs.find((x) => x.loggingDir && isInside(x.loggingDir, dir));
    if (byLogs && !c.isOutput) {
      if (byLogs.config) t.config = byLogs.config;
      if (byLogs.outputDir) t.outputDir = byLogs.outputDir;
      if (byLogs.outputName) t.outputName = byLogs.outputName;
      if (byLogs.samplePrompts) t.samplePrompts = byLogs.samplePrompts;
    }
    return t;
  };

  const hooks = {
    pickFolder: async (): Promise<string | undefined> => {
      const pick = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false, openLabel: 'Add Run Folder', title: 'A TensorBoard log folder to overlay' });
      return pick?.[0]?.fsPath;
    },
    resume: async (target: RunPanelTarget, stateDir: string): Promise<void> => {
      let config = target.config;
      if (!config && target.outputDir) config = (await configTargets()).find((t) => t.outputDir && path.resolve(t.outputDir) === path.resolve(target.outputDir as string))?.config;
      if (!config) {
        void vscode.window.showErrorMessage(`No training config in this workspace writes to ${target.outputDir ?? 'this folder'}: open the run from its config (LoRA Workbench: Open Training Run Panel…) to resume it.`);
        return;
      }
      if (!vscode.workspace.isTrusted) {
        void vscode.window.showWarningMessage('LoRA Workbench does not start training in an untrusted workspace.');
        return;
      }
      const folder = folderOfFile(config);
      // the task the run came from (a tasks.json entry keeps its dataset config, script, …)
      const last = [...training.runs].reverse().find((r) => r.config === config)?.definition;
      const baseArgs = (last?.args ?? []).filter((a, i, all) => a !== '--resume' && all[i - 1] !== '--resume' && !a.startsWith('--resume='));
      const rel = folder ? path.relative(folder.uri.fsPath, config).split(path.sep).join('/') : config;
      const def: TrainingTaskDefinition = { ...(last ?? {}), config: last?.config ?? rel, args: [...baseArgs, '--resume', stateDir] };
      const name = `train ${rel} (resume from ${path.basename(stateDir)})`;
      getLog().info(`Run panel: resuming ${config} from ${stateDir}`);
      await vscode.tasks.executeTask(training.createTask(def, folder, name));
    },
  };

  const adopt = (panel: vscode.WebviewPanel, target: RunPanelTarget, options: { followSince?: number; run?: RunInfo } = {}): RunPanel => {
    current?.dispose();
    const p = new RunPanel(panel, context.extensionUri, target, hooks, options);
    current = p;
    p.panel.onDidDispose(() => {
      if (current === p) current = undefined;
    });
    return p;
  };

  const open = (target: RunPanelTarget, options: { followSince?: number; run?: RunInfo; preserveFocus?: boolean } = {}): RunPanel => {
    if (current && !current.isDisposed) {
      current.show(target, options);
      return current;
    }
    const panel = vscode.window.createWebviewPanel(
      WebviewTypes.runPanel,
      `Run: ${target.title}`,
      { viewColumn: options.run ? vscode.ViewColumn.Beside : vscode.ViewColumn.Active, preserveFocus: options.preserveFocus === true },
      { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(context.extensionUri, 'dist', 'webview')] },
    );
    return adopt(panel, target, options);
  };

  context.subscriptions.push(
    { dispose: () => current?.dispose() },
    vscode.commands.registerCommand(Commands.openRunPanel, async (arg?: vscode.Uri | string) => {
      if (arg instanceof vscode.Uri) {
        open(arg.fsPath.endsWith('.toml') ? targetForConfig(arg.fsPath) : await targetForFolder(arg.fsPath));
        return;
      }
      if (typeof arg === 'string') {
        open(arg.endsWith('.toml') ? targetForConfig(arg) : await targetForFolder(arg));
        return;
      }
      const configs = await configTargets();
      const items: Array<vscode.QuickPickItem & { target?: RunPanelTarget; folder?: boolean }> = configs.map((t) => ({
        label: t.config ? vscode.workspace.asRelativePath(t.config) : t.title,
        description: t.outputName ?? '',
        detail: [t.outputDir ? `output: ${t.outputDir}` : 'no output_dir', t.loggingDir ? `logs: ${t.loggingDir}` : 'no logging_dir'].join(' · '),
        target: t,
      }));
      items.push({ label: '$(folder-opened) Choose a Folder…', detail: 'A TensorBoard log folder or a training output folder', folder: true });
      const pick = await vscode.window.showQuickPick(items, { title: 'Open Training Run', placeHolder: 'A training config of this workspace, or a folder' });
      if (!pick) return;
      if (pick.target) {
        open(pick.target);
        return;
      }
      const dir = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Open as Training Run' });
      if (dir?.[0]) open(await targetForFolder(dir[0].fsPath));
    }),
    vscode.commands.registerCommand(Commands.openFolderAsRun, async (uri?: vscode.Uri) => {
      if (!uri) return vscode.commands.executeCommand(Commands.openRunPanel);
      open(await targetForFolder(uri.fsPath));
      return undefined;
    }),
    vscode.window.registerWebviewPanelSerializer(WebviewTypes.runPanel, {
      async deserializeWebviewPanel(panel, state: { target?: RunPanelTarget } | undefined) {
        const t = state?.target;
        if (!t || typeof t.title !== 'string') {
          panel.dispose();
          return;
        }
        adopt(panel, t);
      },
    }),
    training.onDidStartRun((run) => {
      if (!run.config) return;
      const enabled = vscode.workspace.getConfiguration(Settings.section).get<boolean>(Settings.runPanelOpenOnStart, true);
      const target = targetForConfig(run.config);
      if (current && !current.isDisposed && current.currentTarget.config === run.config) {
        current.show(target, { followSince: run.startedAt, run, preserveFocus: true });
        return;
      }
      if (enabled) open(target, { followSince: run.startedAt, run, preserveFocus: true });
    }),
  );

  return {
    get current() {
      return current && !current.isDisposed ? current : undefined;
    },
    open,
    targetForConfig,
    targetForFolder,
  };
}
