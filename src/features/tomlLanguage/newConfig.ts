import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  NETWORK_PRESETS,
  datasetFoldersFromKohyaDirs,
  newDatasetConfig,
  newTrainingConfig,
  nodeFileSystem,
} from '../../core/config';
import type { DatasetGroup } from '../../core/dataset/groups';
import { Commands } from '../../constants';
import { getLog } from '../../platform/log';
import type { DatasetsModel } from '../datasetsView/model';
import type { DatasetNode } from '../datasetsView/provider';

/** A path as it should be written into a config: relative to the workspace folder when inside it. */
function configPath(p: string, base: string | undefined): string {
  if (!base) return p;
  const rel = path.relative(base, p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : p;
}

export interface NewConfigOptions {
  network: 'lora' | 'locon' | 'loha';
  target: vscode.Uri;
}

async function pickDataset(model: DatasetsModel, node?: DatasetNode): Promise<DatasetGroup | undefined | null> {
  if (node?.type === 'group') return node.group;
  if (!model.current.scannedAt) await model.refresh();
  const groups = model.current.groups.filter((g) => g.kind === 'kohyaFolder');
  const items = [
    ...groups.map((g) => ({ label: path.basename(g.path), description: `${g.imageCount} images`, detail: g.path, group: g as DatasetGroup | undefined })),
    { label: 'No dataset yet', description: 'placeholders to fill in', detail: undefined, group: undefined },
  ];
  const pick = await vscode.window.showQuickPick(items, { title: 'New training config: which dataset?' });
  return pick === undefined ? null : pick.group;
}

/**
 * "New Training Config": a training config (LoRA, LoCon or LoHa with the source article's SDXL
 * settings) and, for a kohya dataset, a dataset config listing its concept folders, with paths
 * filled in. Files are only created, never overwritten without the save dialog's confirmation.
 */
export function registerNewConfig(subscriptions: vscode.Disposable[], model: DatasetsModel): void {
  subscriptions.push(
    vscode.commands.registerCommand(Commands.newTrainingConfig, async (node?: DatasetNode, options?: NewConfigOptions) => {
      // options let keybindings, tasks and tests skip the questions
      const preset = options?.network
        ? NETWORK_PRESETS.find((p) => p.id === options.network)
        : await vscode.window.showQuickPick(
            NETWORK_PRESETS.map((p) => ({ label: p.label, description: p.module, detail: p.summary, id: p.id })),
            { title: 'New training config: network type' },
          );
      if (!preset) return undefined;
      const group = options?.network ? (node?.type === 'group' ? node.group : undefined) : await pickDataset(model, node);
      if (group === null) return undefined;
      const wf = (group && vscode.workspace.getWorkspaceFolder(vscode.Uri.file(group.path))) ?? vscode.workspace.workspaceFolders?.[0];
      const base = wf?.uri.fsPath;
      const name = group ? path.basename(group.path) : 'dataset';
      const defaultUri = vscode.Uri.file(path.join(base ?? process.cwd(), 'config', `${name}_${preset.id}.toml`));
      const target =
        options?.target ??
        (await vscode.window.showSaveDialog({
          defaultUri,
          filters: { 'TOML config': ['toml'] },
          title: 'Save the training config',
          saveLabel: 'Create Config',
        }));
      if (!target) return undefined;
      let datasetConfig: string | undefined;
      try {
        if (group) {
          const folders = datasetFoldersFromKohyaDirs(nodeFileSystem, group.path).map((f) => ({ ...f, path: configPath(f.path, base) }));
          const captionExtension = mostCommonSidecar(group);
          // never overwrite an existing dataset config: pick a free name next to the training config
          let dsPath = path.join(path.dirname(target.fsPath), `${name}_dataset.toml`);
          for (let i = 2; nodeFileSystem.exists(dsPath); i++) dsPath = path.join(path.dirname(target.fsPath), `${name}_dataset-${i}.toml`);
          datasetConfig = configPath(dsPath, base);
          await vscode.workspace.fs.writeFile(vscode.Uri.file(dsPath), Buffer.from(newDatasetConfig({ folders, captionExtension }), 'utf8'));
        }
        const text = newTrainingConfig({
          network: preset.id,
          ...(datasetConfig ? { datasetConfig } : {}),
          outputDir: configPath(path.join(base ?? path.dirname(target.fsPath), 'output'), base),
          outputName: `${name}_${preset.id}`,
          loggingDir: configPath(path.join(base ?? path.dirname(target.fsPath), 'logs'), base),
        });
        // the save dialog has asked before replacing an existing file
        await vscode.workspace.fs.writeFile(target, Buffer.from(text, 'utf8'));
      } catch (e) {
        void vscode.window.showErrorMessage(`Could not create the config: ${(e as Error).message}`);
        return undefined;
      }
      // not awaited: the command's result (for keybindings, tasks, tests) must not wait on the UI
      vscode.window.showTextDocument(target).then(undefined, (e: unknown) => getLog().warn(`Could not show ${target.fsPath}: ${String(e)}`));
      return target;
    }),
  );
}

function mostCommonSidecar(group: DatasetGroup): string {
  const n = new Map<string, number>();
  for (const f of group.folders) for (const i of f.images) for (const k of Object.keys(i.sidecars)) n.set(k, (n.get(k) ?? 0) + 1);
  return [...n.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '.txt';
}
