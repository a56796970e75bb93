/**
 * "LoRA Workbench: Create Accelerate Config…": the short form the seed article answers for
 * `accelerate config` (single or multi GPU, which GPUs, mixed precision, CPU threads), then
 * `default_config.yaml` written atomically where the user chose, and the settings pointing at it.
 * The YAML comes from core (accelerateConfigFile).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Settings } from '../../constants';
import { atomicWriteFile } from '../../core/captions/journal';
import {
  NVIDIA_SMI_GPU_QUERY,
  accelerateConfigFile,
  defaultAccelerateConfigPath,
  parseCpuThreads,
  parseGpuSelection,
  parseNvidiaSmiGpus,
  type AccelerateShortForm,
  type GpuInfo,
  type MixedPrecision,
} from '../../core/training';
import { getLog } from '../../platform/log';

const TITLE = 'Create Accelerate Config';

/** GPUs from nvidia-smi (argument array, no shell); undefined when it is not there or fails. */
function listGpus(): Promise<GpuInfo[] | undefined> {
  return new Promise((resolve) => {
    execFile('nvidia-smi', NVIDIA_SMI_GPU_QUERY, { timeout: 10_000, windowsHide: true, shell: false }, (err, stdout) => {
      if (err) resolve(undefined);
      else resolve(parseNvidiaSmiGpus(String(stdout)));
    });
  });
}

type Item<T> = vscode.QuickPickItem & { value: T };

async function pick<T>(step: number, items: Item<T>[], placeHolder: string): Promise<T | undefined> {
  const r = await vscode.window.showQuickPick(items, { title: `${TITLE} (${step}/5)`, placeHolder, ignoreFocusOut: true });
  return r?.value;
}

function gpuLabel(g: GpuInfo): string {
  return `GPU ${g.index}: ${g.name}`;
}

/** Runs the form; returns the written file, or undefined when cancelled. Exported for tests. */
export async function createAccelerateConfig(): Promise<string | undefined> {
  const gpus = await listGpus();
  const mode = await pick<'single' | 'multi' | 'cpu'>(
    1,
    [
      { label: 'One GPU', description: 'a single training process (the usual choice)', value: 'single' },
      { label: 'Several GPUs', description: 'one process per GPU (distributed data parallel)', value: 'multi' },
      { label: 'CPU only', description: 'no GPU (very slow; for trying things out)', value: 'cpu' },
    ],
    gpus === undefined ? 'How should training run? (nvidia-smi was not found: GPU numbers are typed in the next step)' : `How should training run? ${gpus.length} GPU${gpus.length === 1 ? '' : 's'} found.`,
  );
  if (!mode) return undefined;

  let form: AccelerateShortForm | undefined;
  if (mode === 'cpu') {
    form = { gpus: 'all', cpu: true, mixedPrecision: 'no' };
  } else if (gpus && gpus.length > 0) {
    const mem = (g: GpuInfo): string => (g.memoryMiB !== undefined ? `${Math.round(g.memoryMiB / 1024)} GiB` : '');
    if (mode === 'single') {
      const choice = await pick<'all' | number>(
        2,
        [
          { label: 'All visible GPUs', description: 'gpu_ids: all (accelerate picks; one process)', value: 'all' },
          ...gpus.map((g) => ({ label: gpuLabel(g), description: mem(g), value: g.index })),
        ],
        'Which GPU?',
      );
      if (choice === undefined) return undefined;
      form = { gpus: choice === 'all' ? 'all' : [choice], mixedPrecision: 'fp16' };
    } else {
      const chosen = await vscode.window.showQuickPick(
        gpus.map((g) => ({ label: gpuLabel(g), description: mem(g), picked: true, index: g.index })),
        { title: `${TITLE} (2/5)`, placeHolder: 'Which GPUs? (two or more)', canPickMany: true, ignoreFocusOut: true },
      );
      if (!chosen) return undefined;
      if (chosen.length < 2) {
        void vscode.window.showErrorMessage('Several GPUs need at least two: choose "One GPU" for a single one.');
        return undefined;
      }
      form = { gpus: chosen.map((c) => c.index), mixedPrecision: 'fp16' };
    }
  } else {
    const text = await vscode.window.showInputBox({
      title: `${TITLE} (2/5)`,
      prompt: mode === 'single' ? 'Which GPU? "all" (accelerate picks) or its number, e.g. 0' : 'Which GPUs? Their numbers separated by commas, e.g. 0,1 ("all" needs nvidia-smi to count them)',
      value: mode === 'single' ? 'all' : '0,1',
      ignoreFocusOut: true,
      validateInput: (v) => {
        const r = parseGpuSelection(v);
        if (!r.ok) return r.error;
        if (mode === 'single' && r.gpus !== 'all' && r.gpus.length !== 1) return 'One GPU: enter one number, or "all".';
        if (mode === 'multi' && (r.gpus === 'all' || r.gpus.length < 2)) return 'Several GPUs: enter at least two numbers, e.g. 0,1.';
        return undefined;
      },
    });
    if (text === undefined) return undefined;
    const r = parseGpuSelection(text);
    if (!r.ok) return undefined;
    form = { gpus: r.gpus, mixedPrecision: 'fp16' };
  }

  if (!form.cpu) {
    const mp = await pick<MixedPrecision>(
      3,
      [
        { label: 'fp16', description: 'half precision: every NVIDIA GPU of the last years (the README answer)', value: 'fp16' },
        { label: 'bf16', description: 'bfloat16: RTX 30xx/40xx, A100 and newer; use it when your config says bf16', value: 'bf16' },
        { label: 'no', description: 'full precision (uses the most memory)', value: 'no' },
      ],
      'Mixed precision? (sd-scripts passes its own mixed_precision; keep the two the same)',
    );
    if (!mp) return undefined;
    form.mixedPrecision = mp;
  }

  const threadsText = await vscode.window.showInputBox({
    title: `${TITLE} (4/5)`,
    prompt: 'CPU threads per process (accelerate launch --num_cpu_threads_per_process). Empty: leave it to accelerate.',
    value: '8',
    ignoreFocusOut: true,
    validateInput: (v) => (v.trim() === '' ? undefined : (() => {
      const r = parseCpuThreads(v);
      return r.ok ? undefined : r.error;
    })()),
  });
  if (threadsText === undefined) return undefined;
  const threads = threadsText.trim() === '' ? undefined : (parseCpuThreads(threadsText) as { ok: true; threads: number }).threads;

  const folder = vscode.workspace.workspaceFolders?.[0];
  const defaultPath = defaultAccelerateConfigPath(process.env, os.homedir(), path.sep);
  const where = await pick<'workspace' | 'default' | 'other'>(
    5,
    [
      ...(folder ? [{ label: 'In this workspace: accelerate_config.yaml', description: 'the seed article\'s --config_file accelerate_config.yaml', value: 'workspace' as const }] : []),
      { label: 'accelerate\'s default location', description: defaultPath, value: 'default' },
      { label: 'Another file…', value: 'other' },
    ],
    'Where should the file go? (training tasks will use it)',
  );
  if (!where) return undefined;
  let target: string;
  if (where === 'workspace' && folder) target = path.join(folder.uri.fsPath, 'accelerate_config.yaml');
  else if (where === 'default') target = defaultPath;
  else {
    const uri = await vscode.window.showSaveDialog({
      title: TITLE,
      ...(folder ? { defaultUri: vscode.Uri.joinPath(folder.uri, 'accelerate_config.yaml') } : {}),
      filters: { YAML: ['yaml', 'yml'] },
    });
    if (!uri) return undefined;
    target = uri.fsPath;
  }

  const r = accelerateConfigFile(form, threads);
  if (!r.ok) {
    void vscode.window.showErrorMessage(`The accelerate config could not be made: ${r.error}`);
    return undefined;
  }
  if (existsSync(target)) {
    const ok = await vscode.window.showWarningMessage(`${target} exists. Replace it?`, { modal: true, detail: 'The file is replaced as a whole (written to a temporary file first, then renamed).' }, 'Replace');
    if (ok !== 'Replace') return undefined;
  }
  try {
    mkdirSync(path.dirname(target), { recursive: true });
    await atomicWriteFile(target, r.yaml);
  } catch (e) {
    void vscode.window.showErrorMessage(`Could not write ${target}: ${(e as Error).message}`);
    return undefined;
  }
  const c = vscode.workspace.getConfiguration(Settings.section, folder?.uri);
  const scope = folder ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  const settingValue = folder && where === 'workspace' ? 'accelerate_config.yaml' : target;
  await c.update(Settings.trainingAccelerateConfig, settingValue, scope);
  if (threads !== undefined) await c.update(Settings.trainingCpuThreads, threads, scope);
  getLog().info(`Accelerate config written to ${target} (${r.numProcesses} process${r.numProcesses === 1 ? '' : 'es'}, ${form.mixedPrecision}${threads ? `, ${threads} CPU threads` : ''})`);
  void vscode.window.showInformationMessage(`Accelerate config written to ${target}; training tasks use it now.`, 'Open').then((p) => {
    if (p) void vscode.window.showTextDocument(vscode.Uri.file(target));
  });
  return target;
}
