/**
 * Training runs as VS Code tasks (issue 5): the `loraWorkbench.train` task type with a provider
 * (one task per training config in the workspace) and resolveTask for tasks.json entries, the
 * preflight before a launch, the status bar item while a run is active and the message at its end.
 * The logic lives in src/core/training; this file only connects it to VS Code.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Commands, TaskTypes } from '../../constants';
import { detectConfigKind } from '../../core/config';
import {
  describePreflight,
  preflightTraining,
  progressText,
  resolveSdScriptsFolder,
  resolveTrainingLaunch,
  runOutcome,
  TRAINING_PROBLEM_MATCHERS,
  type PreflightProblem,
  type RunOutcome,
  type TrainingTaskDefinition,
} from '../../core/training';
import { getLog } from '../../platform/log';
import { TrainingPty, type RunInfo } from './process';
import { registerEnvironmentCheck } from './environment';
import { fsProbe, preflightFs, trainingSettings } from './settings';

export { trainingSettings };

export const TASK_SOURCE = 'LoRA Workbench';
const CONFIG_GLOB = '**/*.toml';
const CONFIG_EXCLUDE = '**/{node_modules,.git,venv,.venv,__pycache__}/**';

function folderOf(scope: vscode.Task['scope']): vscode.WorkspaceFolder | undefined {
  if (scope && typeof scope === 'object') return scope;
  return vscode.workspace.workspaceFolders?.[0];
}

/** Preflight of a task definition (the same as before a launch; exported for tests). */
export function preflightFor(def: TrainingTaskDefinition, folder: vscode.WorkspaceFolder | undefined): PreflightProblem[] {
  const settings = trainingSettings(folder?.uri);
  const baseDir = folder?.uri.fsPath ?? process.cwd();
  const sdScriptsDir = resolveSdScriptsFolder(settings, baseDir);
  if (!sdScriptsDir) return [{ severity: 'error', message: 'The sd-scripts folder is not set (setting "LoRA Workbench › Training: Sd Scripts Folder").' }];
  return preflightTraining({ def: { ...def, ...(def.accelerateConfig || !settings.accelerateConfig ? {} : { accelerateConfig: settings.accelerateConfig }) }, sdScriptsDir, baseDir, fs: preflightFs });
}

/** Notification text of a finished run (exported for tests). */
export function outcomeOf(run: RunInfo): RunOutcome {
  return runOutcome(run.name, run.exitCode, run.state, run.stopped);
}

export interface TrainingFeature {
  /** runs of this session, newest last */
  readonly runs: readonly RunInfo[];
  readonly onDidEndRun: vscode.Event<RunInfo>;
  readonly onDidStartRun: vscode.Event<RunInfo>;
  /** the tasks the provider offers now */
  provideTasks(): Promise<vscode.Task[]>;
  preflight(def: TrainingTaskDefinition, folder?: vscode.WorkspaceFolder): PreflightProblem[];
  outcome(run: RunInfo): RunOutcome;
  /** a training task for a definition (the run panel's "Resume from this state") */
  createTask(def: TrainingTaskDefinition, folder: vscode.WorkspaceFolder | undefined, name: string): vscode.Task;
}

class StatusItem {
  readonly item = vscode.window.createStatusBarItem('loraWorkbench.training', vscode.StatusBarAlignment.Left, 50);
  private active: RunInfo[] = [];

  constructor() {
    this.item.name = 'LoRA Workbench Training';
    this.item.command = { title: 'Show Training Terminal', command: Commands.showTrainingTerminal };
  }

  start(run: RunInfo): void {
    this.active.push(run);
    this.update();
  }

  end(run: RunInfo): void {
    this.active = this.active.filter((r) => r !== run);
    this.update();
  }

  get current(): RunInfo | undefined {
    return this.active[this.active.length - 1];
  }

  update(): void {
    const run = this.current;
    if (!run) {
      this.item.hide();
      return;
    }
    const s = run.state;
    const text = progressText(s.progress, { ...(s.epoch !== undefined ? { epoch: s.epoch } : {}), ...(s.totalEpochs !== undefined ? { totalEpochs: s.totalEpochs } : {}) });
    this.item.text = `$(sync~spin) LoRA ${text}`;
    const more = this.active.length > 1 ? `\n\n${this.active.length} trainings are running.` : '';
    this.item.tooltip = `Training "${run.name}"${s.progress ? `\n${s.progress.rateText}` : ''}${more}\n\nClick to show its terminal.`;
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
  }
}

function showOutcome(o: RunOutcome): void {
  const log = getLog();
  const body = [o.message, ...(o.hint ? [o.hint] : []), ...o.details].join('\n');
  if (o.kind === 'success') {
    log.info(body);
    void vscode.window.showInformationMessage(o.message, 'Show Log').then((p) => p && log.show());
  } else if (o.kind === 'stopped') {
    log.info(body);
    void vscode.window.showInformationMessage(o.message);
  } else {
    log.error(body);
    const text = [o.message, o.hint, o.hint ? undefined : o.details[0]].filter(Boolean).join(' ');
    void vscode.window.showErrorMessage(text, 'Show Log').then((p) => p && log.show());
  }
}

export function registerTraining(context: vscode.ExtensionContext): TrainingFeature {
  const subs = context.subscriptions;
  const status = new StatusItem();
  const runs: RunInfo[] = [];
  const ended = new vscode.EventEmitter<RunInfo>();
  const started = new vscode.EventEmitter<RunInfo>();
  subs.push(status, ended, started);

  let cache: Promise<vscode.Task[]> | undefined;
  const watcher = vscode.workspace.createFileSystemWatcher(CONFIG_GLOB);
  const invalidate = (): void => {
    cache = undefined;
  };
  // a folder created or deleted may be reported as the folder only, not the configs in it
  const folders = vscode.workspace.createFileSystemWatcher('**/*', false, true, false);
  subs.push(
    watcher,
    folders,
    watcher.onDidChange(invalidate),
    watcher.onDidCreate(invalidate),
    watcher.onDidDelete(invalidate),
    folders.onDidCreate(invalidate),
    folders.onDidDelete(invalidate),
  );
  subs.push(vscode.workspace.onDidChangeWorkspaceFolders(invalidate));

  const makeTask = (def: TrainingTaskDefinition & vscode.TaskDefinition, scope: vscode.WorkspaceFolder | vscode.TaskScope, name: string): vscode.Task => {
    const task = new vscode.Task(
      def,
      scope,
      name,
      TASK_SOURCE,
      new vscode.CustomExecution(async (resolved) => createPty(resolved as TrainingTaskDefinition & vscode.TaskDefinition, name, typeof scope === 'object' ? scope : undefined)),
      // $lwb-python and $lwb-sd-scripts (package.json problemMatchers), see core/training/problemMatchers.ts
      TRAINING_PROBLEM_MATCHERS,
    );
    task.detail = `accelerate launch ${def.script ?? 'sdxl_train_network.py'} --config_file=${def.config}`;
    task.presentationOptions = { reveal: vscode.TaskRevealKind.Always, panel: vscode.TaskPanelKind.Dedicated, clear: true, echo: false };
    return task;
  };

  const createPty = async (def: TrainingTaskDefinition, name: string, scope: vscode.WorkspaceFolder | undefined): Promise<vscode.Pseudoterminal> => {
    const folder = scope ?? folderOf(undefined);
    const settings = trainingSettings(folder?.uri);
    const build = resolveTrainingLaunch(def, {
      settings,
      ...(folder ? { baseDir: folder.uri.fsPath } : {}),
      baseEnv: process.env,
      fs: fsProbe,
    });
    const spec = build.ok ? build.spec : { command: '', args: [], cwd: folder?.uri.fsPath ?? process.cwd(), env: {} };
    const before = async (): Promise<true | string> => {
      if (!vscode.workspace.isTrusted) {
        const msg = 'LoRA Workbench does not start training in an untrusted workspace: the task runs programs and settings from this folder. Trust the workspace (Workspaces: Manage Workspace Trust) to run it.';
        void vscode.window.showWarningMessage(msg);
        return msg;
      }
      if (!build.ok) {
        const msg = `Training "${name}" cannot start: ${build.error}.`;
        void vscode.window.showErrorMessage(msg);
        return msg;
      }
      const problems = preflightFor(def, folder);
      for (const p of problems) getLog().warn(`Preflight ${name}: ${p.file ? `${p.file}${p.line ? `:${p.line}` : ''}: ` : ''}${p.message}`);
      if (problems.some((p) => p.severity === 'error')) {
        const pick = await vscode.window.showErrorMessage(
          `The preflight check of "${name}" found problems that would stop the run:`,
          { modal: true, detail: describePreflight(problems) },
          'Launch Anyway',
        );
        if (pick !== 'Launch Anyway') return 'Training was not started: the preflight check found problems (see the LoRA Workbench log).';
      }
      return true;
    };
    return new TrainingPty(name, spec, settings.stopTimeoutMs, {
      onStart: (run) => {
        runs.push(run);
        status.start(run);
        started.fire(run);
      },
      onEvents: (run, events) => {
        if (run === status.current && events.some((e) => e.type === 'progress' || e.type === 'epoch')) status.update();
        for (const e of events) {
          if (e.type === 'failure') getLog().warn(`Training "${run.name}": ${e.failure.message} ${e.failure.hint}`);
          else if (e.type === 'checkpoint') getLog().info(`Training "${run.name}": saved ${e.path}`);
        }
      },
      onEnd: (run) => {
        status.end(run);
        showOutcome(outcomeOf(run));
        ended.fire(run);
      },
    }, before, {
      config: path.resolve(folder?.uri.fsPath ?? process.cwd(), def.config),
      definition: def,
      ...(folder ? { folder: folder.uri.fsPath } : {}),
    });
  };

  const provideTasks = (): Promise<vscode.Task[]> => {
    cache ??= (async () => {
      const tasks: vscode.Task[] = [];
      for (const folder of vscode.workspace.workspaceFolders ?? []) {
        if (folder.uri.scheme !== 'file') continue;
        const files = await vscode.workspace.findFiles(new vscode.RelativePattern(folder, CONFIG_GLOB), CONFIG_EXCLUDE, 500);
        files.sort((a, b) => a.fsPath.localeCompare(b.fsPath));
        for (const f of files) {
          let text: string;
          try {
            text = new TextDecoder().decode(await vscode.workspace.fs.readFile(f));
          } catch {
            continue;
          }
          if (detectConfigKind(f.fsPath, text) !== 'training') continue;
          const rel = path.relative(folder.uri.fsPath, f.fsPath).split(path.sep).join('/');
          tasks.push(makeTask({ type: TaskTypes.train, config: rel }, folder, `train ${rel}`));
        }
      }
      return tasks;
    })();
    return cache;
  };

  subs.push(
    vscode.tasks.registerTaskProvider(TaskTypes.train, {
      provideTasks: () => provideTasks(),
      resolveTask(task) {
        const def = task.definition as TrainingTaskDefinition & vscode.TaskDefinition;
        if (typeof def.config !== 'string' || def.config === '') return undefined;
        // reuse the definition object: VS Code matches the resolved task to tasks.json by it
        return makeTask(def, task.scope ?? vscode.TaskScope.Workspace, task.name);
      },
    }),
    vscode.commands.registerCommand(Commands.showTrainingTerminal, async () => {
      const run = status.current ?? runs[runs.length - 1];
      const term = run && vscode.window.terminals.find((t) => t.name.includes(run.name));
      if (term) term.show();
      else await vscode.commands.executeCommand('workbench.action.terminal.focus');
    }),
  );
  registerEnvironmentCheck(context, provideTasks);

  return {
    runs,
    onDidEndRun: ended.event,
    onDidStartRun: started.event,
    provideTasks,
    preflight: (def, folder) => preflightFor(def, folder ?? folderOf(undefined)),
    outcome: outcomeOf,
    createTask: (def, folder, name) => makeTask({ ...def, type: TaskTypes.train }, folder ?? vscode.TaskScope.Workspace, name),
  };
}
