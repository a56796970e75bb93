/**
 * "LoRA Workbench: Check Training Environment": what is found and what is missing (sd-scripts,
 * Python, accelerate, the packages the config needs, GPUs), with the fix for each, in the log and
 * a notification. The report itself is core's environmentReport.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Commands } from '../../constants';
import { parseTomlDocument, plainValue, allEntries } from '../../core/config/document';
import {
  BASE_MODULES,
  DEFAULT_SCRIPT,
  NVIDIA_SMI_GPU_QUERY,
  defaultAccelerateConfigPath,
  environmentReport,
  findPythonEnvironment,
  moduleProbeArgs,
  parseModuleProbe,
  parseNvidiaSmiGpus,
  requiredPackages,
  resolveSdScriptsFolder,
  type EnvironmentCheck,
  type EnvironmentFacts,
  type GpuInfo,
  type TrainingTaskDefinition,
} from '../../core/training';
import { getLog } from '../../platform/log';
import { fsProbe, trainingSettings } from './settings';

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ stdout: string; stderr: string; error?: Error }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: timeoutMs, maxBuffer: 4 << 20, windowsHide: true, shell: false }, (error, stdout, stderr) => {
      resolve({ stdout: String(stdout), stderr: String(stderr), ...(error ? { error } : {}) });
    });
  });
}

/** The config as a plain object, for requiredPackages. */
function readConfig(file: string): unknown {
  try {
    const o: Record<string, unknown> = {};
    for (const e of allEntries(parseTomlDocument(readFileSync(file, 'utf8')))) o[e.keyPath[e.keyPath.length - 1] ?? e.key] = plainValue(e.value);
    return o;
  } catch {
    return {};
  }
}

/** Collects the facts and builds the report. Exported for tests. */
export async function checkEnvironment(def: TrainingTaskDefinition | undefined, folder: vscode.WorkspaceFolder | undefined): Promise<{ facts: EnvironmentFacts; checks: EnvironmentCheck[] }> {
  const settings = trainingSettings(folder?.uri);
  const baseDir = folder?.uri.fsPath ?? process.cwd();
  const sdScriptsDir = resolveSdScriptsFolder(settings, baseDir);
  const script = def?.script ?? DEFAULT_SCRIPT;
  const configFile = def ? path.resolve(baseDir, def.config) : undefined;
  const required = configFile ? requiredPackages(readConfig(configFile)) : [];
  const python = sdScriptsDir ? findPythonEnvironment(fsProbe, { sdScriptsDir, ...(settings.python ? { python: settings.python } : {}) }) : undefined;
  const accelerate = typeof settings.accelerate === 'string' ? settings.accelerate : settings.accelerate?.[0];
  const facts: EnvironmentFacts = {
    ...(sdScriptsDir ? { sdScriptsDir } : {}),
    scriptFound: !!sdScriptsDir && fsProbe.isFile(path.join(sdScriptsDir, script)),
    script,
    ...(python ? { python: accelerate ? { ...python, accelerate } : python } : {}),
    required,
  };
  const env = { ...process.env, ...(settings.env ?? {}) };
  // run python only when it was found (and the workspace is trusted: its path may come from it)
  if (python && vscode.workspace.isTrusted) {
    const r = await run(python.python, moduleProbeArgs([...BASE_MODULES, ...required.map((x) => x.module)]), env, 60_000);
    const probe = parseModuleProbe(r.stdout);
    if (probe) facts.probe = probe;
    else facts.probeError = r.stderr || r.error?.message || 'no output';
  } else if (python) {
    facts.probeError = 'not run in an untrusted workspace';
  }
  const smi = await run('nvidia-smi', NVIDIA_SMI_GPU_QUERY, process.env, 15_000);
  const gpus: GpuInfo[] | undefined = smi.error && (smi.error as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : parseNvidiaSmiGpus(smi.stdout);
  if (gpus !== undefined) facts.gpus = gpus;
  const accConfig = def?.accelerateConfig ? path.resolve(baseDir, def.accelerateConfig) : settings.accelerateConfig ? path.resolve(baseDir, settings.accelerateConfig) : defaultAccelerateConfigPath(process.env, os.homedir());
  facts.accelerateConfig = { path: accConfig, exists: existsSync(accConfig) };
  return { facts, checks: environmentReport(facts) };
}

export function registerEnvironmentCheck(context: vscode.ExtensionContext, provideTasks: () => Promise<vscode.Task[]>): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(Commands.checkTrainingEnvironment, async (arg?: TrainingTaskDefinition) => {
      const log = getLog();
      let def: TrainingTaskDefinition | undefined = arg && typeof arg.config === 'string' ? arg : undefined;
      let folder = vscode.workspace.workspaceFolders?.[0];
      if (!def) {
        const tasks = await provideTasks();
        const active = vscode.window.activeTextEditor?.document.uri.fsPath;
        const activeTask = tasks.find((t) => typeof t.scope === 'object' && active === path.resolve(t.scope.uri.fsPath, (t.definition as unknown as TrainingTaskDefinition).config));
        let chosen = activeTask ?? (tasks.length === 1 ? tasks[0] : undefined);
        if (!chosen && tasks.length > 1) {
          const pick = await vscode.window.showQuickPick(
            tasks.map((t) => ({ label: (t.definition as unknown as TrainingTaskDefinition).config, task: t })),
            { title: 'Check Training Environment', placeHolder: 'Which training config? (its packages are checked)' },
          );
          chosen = pick?.task;
        }
        if (chosen) {
          def = chosen.definition as unknown as TrainingTaskDefinition;
          if (typeof chosen.scope === 'object') folder = chosen.scope;
        }
      }
      const { checks } = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'Checking the training environment…' },
        () => checkEnvironment(def, folder),
      );
      log.info(`Training environment${def ? ` for ${def.config}` : ''}:`);
      for (const c of checks) {
        const mark = c.ok && c.severity === 'info' ? 'found' : c.severity === 'warning' ? 'warning' : 'MISSING';
        const line = `  [${mark}] ${c.message}${c.fix ? `\n      fix: ${c.fix}` : ''}`;
        if (!c.ok && c.severity === 'error') log.error(line);
        else if (c.severity === 'warning') log.warn(line);
        else log.info(line);
      }
      const missing = checks.filter((c) => !c.ok && c.severity === 'error');
      const warnings = checks.filter((c) => c.severity === 'warning');
      const found = checks.filter((c) => c.ok && c.severity === 'info');
      const summary = `Training environment: ${found.length} found, ${missing.length} missing${warnings.length ? `, ${warnings.length} warning${warnings.length === 1 ? '' : 's'}` : ''}.`;
      // no accelerate config: offer the form (Create Accelerate Config…) as the fix
      const noAccelerate = checks.some((c) => c.id === 'accelerateConfig' && c.severity === 'warning');
      const actions = noAccelerate ? ['Show Log', 'Create Accelerate Config…'] : ['Show Log'];
      const act = (p: string | undefined): void => {
        if (p === 'Show Log') log.show();
        else if (p) void vscode.commands.executeCommand(Commands.createAccelerateConfig);
      };
      if (missing.length) {
        const first = missing[0];
        void vscode.window.showErrorMessage(`${summary} ${first?.message ?? ''}${first?.fix ? ` Fix: ${first.fix}` : ''}`, ...actions).then(act);
      } else {
        void vscode.window.showInformationMessage(`${summary}${noAccelerate ? ' No accelerate config yet: create one with the short form.' : ''}`, ...actions).then(act);
      }
      return checks;
    }),
  );
}
