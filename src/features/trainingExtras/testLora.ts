/**
 * "Test the LoRA": the `loraWorkbench.testLora` task type (one task per training config, and
 * tasks.json entries) and the "Test the LoRA…" command that asks for the checkpoints. The run goes
 * through the training pseudoterminal (argument array, own process group, stop); while it runs and
 * at its end the images are mapped to prompt × strength × epoch in lora_test.json. The logic is in
 * core (testLora.ts); this file connects it to VS Code.
 */
import { readdirSync, readFileSync, statSync, mkdirSync, existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Commands, TaskTypes } from '../../constants';
import { atomicWriteFile } from '../../core/captions/journal';
import {
  DEFAULT_STRENGTHS,
  DEFAULT_TEST_SEED,
  GEN_IMG_SCRIPT,
  LORA_TEST_FOLDER,
  LORA_TEST_JSON,
  LORA_TEST_PROMPTS,
  TRAINING_PROBLEM_MATCHERS,
  buildTestLoraCommand,
  buildTestPlan,
  findPythonEnvironment,
  listCheckpoints,
  mapTestImages,
  parseTestPrompts,
  readPngTextChunks,
  resolveSdScriptsFolder,
  trainingConfigFacts,
  type FoundImage,
  type LoraTestJson,
  type SpawnSpec,
  type TestLoraTaskDefinition,
  type TestPlan,
  type TrainingConfigFacts,
  type TrainingTaskDefinition,
} from '../../core/training';
import { getLog } from '../../platform/log';
import type { TrainingFeature } from '../training';
import { TrainingPty, type RunInfo } from '../training/process';
import { fsProbe, trainingSettings } from '../training/settings';

const SOURCE = 'LoRA Workbench';

/** Everything a test run needs, worked out before it starts (problems are reported when it opens). */
export interface PreparedTest {
  name: string;
  spec?: SpawnSpec;
  plan?: TestPlan;
  outdir?: string;
  promptFilePath?: string;
  /** reasons the run cannot start */
  errors: string[];
  warnings: string[];
}

export interface LoraTestResult {
  name: string;
  jsonFile: string | undefined;
  json: LoraTestJson | undefined;
  exitCode: number | undefined;
  mismatched: string[];
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Works out the command, the plan and the problems of a test task (exported for tests). */
export function prepareTest(def: TestLoraTaskDefinition, folder: vscode.WorkspaceFolder | undefined, name: string): PreparedTest {
  const errors: string[] = [];
  const warnings: string[] = [];
  const baseDir = folder?.uri.fsPath ?? process.cwd();
  const settings = trainingSettings(folder?.uri);
  const sdScriptsDir = resolveSdScriptsFolder(settings, baseDir);
  const abs = (p: string): string => path.resolve(baseDir, p.replace(/^~(?=$|[\\/])/, process.env['HOME'] ?? '~'));
  if (!def || typeof def.config !== 'string' || def.config.trim() === '') return { name, errors: ['the task needs "config": the training config of the run'], warnings };
  if (!sdScriptsDir) return { name, errors: ['the sd-scripts folder is not set (setting "LoRA Workbench › Training: Sd Scripts Folder")'], warnings };
  if (!fsProbe.isDirectory(sdScriptsDir)) errors.push(`the sd-scripts folder ${sdScriptsDir} does not exist`);
  else if (!fsProbe.isFile(path.join(sdScriptsDir, GEN_IMG_SCRIPT))) errors.push(`${GEN_IMG_SCRIPT} is not in the sd-scripts folder ${sdScriptsDir}`);
  const configFile = abs(def.config);
  const configText = readText(configFile);
  if (configText === undefined) return { name, errors: [...errors, `the training config ${configFile} cannot be read`], warnings };
  const facts: TrainingConfigFacts = trainingConfigFacts(configText, sdScriptsDir, process.platform === 'win32' ? 'win32' : 'linux');

  const baseModel = def.baseModel ? abs(def.baseModel) : facts.baseModel;
  if (!baseModel) errors.push(`${path.basename(configFile)} names no pretrained_model_name_or_path (the base model)`);
  else if (!existsSync(baseModel)) errors.push(`the base model ${baseModel} does not exist`);
  if (!facts.outputDir) return { name, errors: [...errors, `${path.basename(configFile)} names no output_dir`], warnings };

  const ext = facts.saveModelAs && ['safetensors', 'ckpt', 'pt'].includes(facts.saveModelAs) ? facts.saveModelAs : 'safetensors';
  const checkpoints = def.checkpoints && def.checkpoints.length > 0
    ? def.checkpoints.map((c) => path.resolve(facts.outputDir as string, c.replace(/^~(?=$|[\\/])/, process.env['HOME'] ?? '~')))
    : [path.join(facts.outputDir, `${facts.outputName ?? 'last'}.${ext}`)];
  for (const c of checkpoints) if (!fsProbe.isFile(c)) errors.push(`the LoRA file ${c} does not exist${def.checkpoints ? '' : ' (train first, or choose saved epochs with "Test the LoRA…")'}`);

  const promptsFile = def.prompts ? abs(def.prompts) : facts.samplePrompts;
  let plan: TestPlan | undefined;
  if (!promptsFile) errors.push(`no prompts: ${path.basename(configFile)} names no sample_prompts and the task no "prompts"`);
  else {
    const text = readText(promptsFile);
    if (text === undefined) errors.push(`the prompt file ${promptsFile} cannot be read`);
    else {
      const parsed = parseTestPrompts(text, promptsFile);
      if (!parsed.ok) errors.push(parsed.error);
      else {
        warnings.push(...parsed.warnings);
        const r = buildTestPlan(parsed.prompts, def.strengths ?? DEFAULT_STRENGTHS, checkpoints, def.seed ?? DEFAULT_TEST_SEED);
        if (!r.ok) errors.push(r.error);
        else plan = r.plan;
      }
    }
  }
  const outdir = path.join(facts.outputDir, LORA_TEST_FOLDER);
  const promptFilePath = path.join(outdir, LORA_TEST_PROMPTS);
  const python = settings.python?.trim() || undefined;
  const pyEnv = findPythonEnvironment(fsProbe, { sdScriptsDir, ...(python ? { python } : {}) });
  const env = { ...(settings.env ?? {}), ...(def.env ?? {}) };
  const cmd = buildTestLoraCommand(
    { def: { ...def, env }, facts, checkpoints, baseModel: baseModel ?? '', outdir, promptFilePath },
    { sdScriptsDir, ...(pyEnv ? { python: pyEnv.python } : python ? { python } : {}), ...(pyEnv?.venvDir ? { venvDir: pyEnv.venvDir } : {}), baseEnv: process.env },
  );
  if (!cmd.ok) errors.push(cmd.error);
  return { name, ...(cmd.ok ? { spec: cmd.spec } : {}), ...(plan ? { plan } : {}), outdir, promptFilePath, errors, warnings };
}

/** The images of the lora_test folder as the mapper needs them (PNG prompts cached by name, size and time). Never throws. */
function foundImages(outdir: string, cache: Map<string, string | undefined>): FoundImage[] {
  let names: string[];
  try {
    names = readdirSync(outdir);
  } catch {
    return [];
  }
  const out: FoundImage[] = [];
  for (const n of names) {
    if (!/^im_\d{6,7}\.png$/.test(n)) continue;
    const file = path.join(outdir, n);
    try {
      const st = statSync(file);
      const key = `${n}\0${st.size}\0${st.mtimeMs}`;
      if (!cache.has(key)) cache.set(key, readPngTextChunks(readFileSync(file))['prompt']);
      const prompt = cache.get(key);
      out.push({ file: n, mtimeMs: st.mtimeMs, ...(prompt !== undefined ? { promptText: prompt } : {}) });
    } catch {
      /* being written: next time */
    }
  }
  return out;
}

export interface TestLoraFeature {
  readonly onDidFinish: vscode.Event<LoraTestResult>;
  provideTasks(): Promise<vscode.Task[]>;
  taskFor(def: TestLoraTaskDefinition, folder?: vscode.WorkspaceFolder, name?: string): vscode.Task;
  /** what a run of this definition would do, and why it could not start */
  prepare(def: TestLoraTaskDefinition, folder?: vscode.WorkspaceFolder): PreparedTest;
}

export function registerTestLora(context: vscode.ExtensionContext, training: TrainingFeature): TestLoraFeature {
  const finished = new vscode.EventEmitter<LoraTestResult>();
  context.subscriptions.push(finished);

  const createPty = (def: TestLoraTaskDefinition, name: string, folder: vscode.WorkspaceFolder | undefined): vscode.Pseudoterminal => {
    const prep = prepareTest(def, folder, name);
    const settings = trainingSettings(folder?.uri);
    let since = 0;
    let timer: NodeJS.Timeout | undefined;
    let lastJson = '';
    let writing: Promise<void> = Promise.resolve();
    let result: { json: LoraTestJson; mismatched: string[] } | undefined;
    const pngCache = new Map<string, string | undefined>();
    const jsonFile = prep.outdir ? path.join(prep.outdir, LORA_TEST_JSON) : undefined;
    const update = (): Promise<void> => {
      if (!prep.plan || !prep.outdir || !jsonFile) return writing;
      const m = mapTestImages(prep.plan, foundImages(prep.outdir, pngCache), since);
      result = m;
      const text = `${JSON.stringify(m.json, null, 1)}\n`;
      if (text === lastJson) return writing;
      lastJson = text;
      writing = writing.then(() => atomicWriteFile(jsonFile, text, { fsync: false })).catch((e) => getLog().error(`Could not write ${jsonFile}: ${(e as Error).message}`));
      return writing;
    };
    const before = async (): Promise<true | string> => {
      if (!vscode.workspace.isTrusted) {
        const msg = 'LoRA Workbench does not run sd-scripts in an untrusted workspace. Trust the workspace (Workspaces: Manage Workspace Trust) to test the LoRA.';
        void vscode.window.showWarningMessage(msg);
        return msg;
      }
      for (const w of prep.warnings) getLog().warn(`${name}: ${w}`);
      if (prep.errors.length || !prep.spec || !prep.plan || !prep.outdir || !prep.promptFilePath) {
        const msg = `"${name}" cannot start: ${prep.errors.join('; ')}.`;
        getLog().error(msg);
        void vscode.window.showErrorMessage(msg, 'Show Log').then((p) => p && getLog().show());
        return msg;
      }
      try {
        mkdirSync(prep.outdir, { recursive: true });
        await atomicWriteFile(prep.promptFilePath, prep.plan.promptFile);
      } catch (e) {
        return `Could not write the prompt file ${prep.promptFilePath}: ${(e as Error).message}`;
      }
      // a second of slack for file systems with coarse times; older images belong to an earlier run
      since = Date.now() - 1000;
      await update();
      return true;
    };
    const spec: SpawnSpec = prep.spec ?? { command: '', args: [], cwd: folder?.uri.fsPath ?? process.cwd(), env: {} };
    return new TrainingPty(name, spec, settings.stopTimeoutMs, {
      onStart: () => {
        timer = setInterval(() => void update(), 1000);
      },
      onEvents: () => undefined,
      onEnd: (run: RunInfo) => {
        if (timer) clearInterval(timer);
        void update().then(() => {
          const json = result?.json;
          const expected = prep.plan?.lines.length ?? 0;
          const got = json?.images.length ?? 0;
          const mismatched = result?.mismatched ?? [];
          if (mismatched.length) getLog().warn(`${name}: ${mismatched.length} image(s) show another prompt than expected and were left out: ${mismatched.join(', ')}`);
          const msg = `${name}: ${got} of ${expected} images${run.stopped ? ' (stopped)' : run.exitCode === 0 ? '' : ` (gen_img exited with ${run.exitCode})`}, listed in ${jsonFile}.`;
          getLog().info(msg);
          const show = run.exitCode === 0 ? vscode.window.showInformationMessage : vscode.window.showWarningMessage;
          void show(msg, 'Reveal in Explorer').then((p) => {
            if (p && prep.outdir) void vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(prep.outdir));
          });
          finished.fire({ name, jsonFile, json, exitCode: run.exitCode, mismatched });
        });
      },
    }, before);
  };

  const taskFor = (def: TestLoraTaskDefinition & { type?: string }, folder?: vscode.WorkspaceFolder, name?: string): vscode.Task => {
    const full = { ...def, type: TaskTypes.testLora } as TestLoraTaskDefinition & vscode.TaskDefinition;
    const scope = folder ?? vscode.workspace.workspaceFolders?.[0];
    const taskName = name ?? `test LoRA ${def.config}`;
    const task = new vscode.Task(
      full,
      scope ?? vscode.TaskScope.Workspace,
      taskName,
      SOURCE,
      new vscode.CustomExecution(async (resolved) => createPty(resolved as unknown as TestLoraTaskDefinition, taskName, scope)),
      TRAINING_PROBLEM_MATCHERS,
    );
    task.detail = `${GEN_IMG_SCRIPT}: ${def.checkpoints?.length ? `${def.checkpoints.length} LoRA file(s)` : 'the final LoRA'} × ${(def.strengths ?? DEFAULT_STRENGTHS).join(', ')}`;
    task.presentationOptions = { reveal: vscode.TaskRevealKind.Always, panel: vscode.TaskPanelKind.Dedicated, clear: true, echo: false };
    return task;
  };

  const provideTasks = async (): Promise<vscode.Task[]> => {
    const trains = await training.provideTasks();
    return trains.map((t) => {
      const def = t.definition as unknown as TrainingTaskDefinition;
      return taskFor({ config: def.config }, typeof t.scope === 'object' ? t.scope : undefined);
    });
  };

  context.subscriptions.push(
    vscode.tasks.registerTaskProvider(TaskTypes.testLora, {
      provideTasks: () => provideTasks(),
      resolveTask(task) {
        const def = task.definition as unknown as TestLoraTaskDefinition;
        if (typeof def.config !== 'string' || def.config === '') return undefined;
        const t = taskFor(def, typeof task.scope === 'object' ? task.scope : undefined, task.name);
        // VS Code matches the resolved task to tasks.json by its definition object
        return new vscode.Task(task.definition, task.scope ?? vscode.TaskScope.Workspace, task.name, SOURCE, t.execution, TRAINING_PROBLEM_MATCHERS);
      },
    }),
    vscode.commands.registerCommand(Commands.runLoraTest, async (arg?: { config?: string; checkpoints?: string[] }) => {
      const folder = vscode.workspace.workspaceFolders?.[0];
      let config = typeof arg?.config === 'string' ? arg.config : undefined;
      let scope = folder;
      if (!config) {
        const tasks = await training.provideTasks();
        const active = vscode.window.activeTextEditor?.document.uri.fsPath;
        const configOf = (t: vscode.Task): string => (t.definition as unknown as TrainingTaskDefinition).config;
        const activeTask = tasks.find((t) => typeof t.scope === 'object' && active === path.resolve(t.scope.uri.fsPath, configOf(t)));
        let chosen = activeTask ?? (tasks.length === 1 ? tasks[0] : undefined);
        if (!chosen && tasks.length > 1) {
          chosen = (await vscode.window.showQuickPick(tasks.map((t) => ({ label: configOf(t), task: t })), { title: 'Test the LoRA', placeHolder: 'Which training run?' }))?.task;
        }
        if (!chosen) {
          if (tasks.length === 0) void vscode.window.showErrorMessage('Test the LoRA: no training config in this workspace.');
          return undefined;
        }
        config = configOf(chosen);
        if (typeof chosen.scope === 'object') scope = chosen.scope;
      }
      let checkpoints = Array.isArray(arg?.checkpoints) ? arg.checkpoints : undefined;
      if (!checkpoints) {
        const baseDir = scope?.uri.fsPath ?? process.cwd();
        const settings = trainingSettings(scope?.uri);
        const sd = resolveSdScriptsFolder(settings, baseDir) ?? baseDir;
        const facts = trainingConfigFacts(readText(path.resolve(baseDir, config)) ?? '', sd);
        if (!facts.outputDir) {
          void vscode.window.showErrorMessage(`Test the LoRA: ${config} names no output_dir.`);
          return undefined;
        }
        const found = listCheckpoints(facts.outputDir, facts.outputName);
        if (found.length === 0) {
          void vscode.window.showErrorMessage(`Test the LoRA: no saved LoRA in ${facts.outputDir} yet. Train first.`);
          return undefined;
        }
        const picks = await vscode.window.showQuickPick(
          found.map((c) => ({
            label: c.name,
            description: c.kind === 'epoch' ? `epoch ${c.epoch}` : c.kind === 'step' ? `step ${c.step}` : 'final',
            detail: `${(c.size / 1048576).toFixed(1)} MB · ${new Date(c.mtimeMs).toLocaleString()}`,
            picked: c.kind === 'final' || (found.every((x) => x.kind !== 'final') && c === found[found.length - 1]),
            file: c.name,
          })),
          { title: 'Test the LoRA', placeHolder: 'Which saved LoRA files? (each gets a column of the grid)', canPickMany: true, ignoreFocusOut: true },
        );
        if (!picks || picks.length === 0) return undefined;
        checkpoints = picks.map((p) => p.file);
      }
      const task = taskFor({ config, checkpoints }, scope, `test LoRA ${config}`);
      return vscode.tasks.executeTask(task);
    }),
  );
  return { onDidFinish: finished.event, provideTasks, taskFor, prepare: (def, folder) => prepareTest(def, folder ?? vscode.workspace.workspaceFolders?.[0], `test LoRA ${def.config}`) };
}
