/**
 * sd-scripts' dataset scripts as VS Code tasks (issue 6, items 4–5): the `loraWorkbench.sdScript`
 * task type (BLIP and GIT captions, sd-scripts' WD14 tagger, prepare_buckets_latents) and the
 * commands that start them on a dataset folder. The process runs in the training pseudoterminal
 * (src/features/training/process.ts) without the training-output parser; argument arrays and the
 * preflight come from src/core/training/sdScripts.ts.
 */
import { existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Commands, Settings, TaskTypes } from '../../constants';
import { defaultLatentMetadataPath } from '../../core/dataset/bucketPreview';
import { activeTrainingConfig, defaultsFromConfig, isPlaceholder } from './defaults';
import { registerBucketPreview } from './bucketPreview';
import { listImageFiles } from '../../core/dataset/scan';
import { DEFAULT_SEPARATOR, DEFAULT_THRESH } from '../../core/tagger/postprocess';
import {
  outputExtension,
  preflightSdScript,
  resolveSdScriptLaunch,
  SD_SCRIPT_LABELS,
  type OptionValue,
  type SdScript,
  type SdScriptPreflightProblem,
  type SdScriptTaskDefinition,
} from '../../core/training';
import { getLog } from '../../platform/log';
import { readTaggerSettings } from '../autoTag/settings';
import { commandOptions, pickFolder, type CommandTarget } from '../autoTag/targets';
import type { DatasetsModel } from '../datasetsView/model';
import { TrainingPty } from '../training/process';
import { fsProbe, trainingSettings } from '../training/settings';
import type { TrainingFeature } from '../training';

export interface SdScriptRun {
  readonly name: string;
  readonly definition: SdScriptTaskDefinition;
  exitCode: number | undefined;
  stopped: boolean;
  /** caption/tag files written or changed by the run (caption and tag scripts only) */
  changedSidecars: string[];
}

export interface SdScriptsFeature {
  readonly runs: readonly SdScriptRun[];
  readonly onDidEndRun: vscode.Event<SdScriptRun>;
  preflight(def: SdScriptTaskDefinition, folder?: vscode.WorkspaceFolder): SdScriptPreflightProblem[];
}

/** What the commands take as their second argument (tests, keybindings): overrides of the questions. */
export interface SdScriptCommandOptions {
  options?: Record<string, OptionValue>;
  inJson?: string;
  outJson?: string;
  model?: string;
  /** resolve when the task ends, with its run (default: when it starts) */
  wait?: boolean;
}

const TASK_SOURCE = 'LoRA Workbench';

function workspaceFolderFor(p: string): vscode.WorkspaceFolder | undefined {
  return vscode.workspace.getWorkspaceFolder(vscode.Uri.file(p)) ?? vscode.workspace.workspaceFolders?.[0];
}

/** sidecar path → mtime (ms), for the images of a folder. */
async function sidecarTimes(dir: string, recursive: boolean, ext: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let images: string[] = [];
  try {
    images = await listImageFiles(dir, recursive);
  } catch {
    return out;
  }
  for (const img of images) {
    const p = path.join(path.dirname(img), path.parse(img).name + ext);
    try {
      out.set(p, statSync(p).mtimeMs);
    } catch {
      out.set(p, -1);
    }
  }
  return out;
}

export function registerSdScripts(context: vscode.ExtensionContext, model: DatasetsModel, training: TrainingFeature): SdScriptsFeature {
  const subs = context.subscriptions;
  const runs: SdScriptRun[] = [];
  const ended = new vscode.EventEmitter<SdScriptRun>();
  subs.push(ended);
  const log = getLog();

  const preflight = (def: SdScriptTaskDefinition, folder: vscode.WorkspaceFolder | undefined): SdScriptPreflightProblem[] =>
    preflightSdScript(def, { settings: trainingSettings(folder?.uri), ...(folder ? { baseDir: folder.uri.fsPath } : {}), fs: fsProbe });

  const showProblems = (name: string, problems: SdScriptPreflightProblem[]): void => {
    for (const p of problems) log.warn(`${name}: ${p.message}`);
    const first = problems[0];
    if (!first) return;
    const buttons = [...(problems.some((p) => p.fix === 'settings') ? ['Open Settings'] : []), ...(problems.some((p) => p.fix === 'environment' || p.fix === 'settings') ? ['Check Training Environment'] : []), 'Show Log'];
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
    void vscode.window.showErrorMessage(`${name} cannot start: ${first.message}${more}`, ...buttons).then((pick) => {
      if (pick === 'Open Settings') void vscode.commands.executeCommand('workbench.action.openSettings', `@ext:lora-workbench.lora-workbench ${Settings.section}.training`);
      else if (pick === 'Check Training Environment') void vscode.commands.executeCommand(Commands.checkTrainingEnvironment);
      else if (pick === 'Show Log') log.show();
    });
  };

  const nameOf = (def: SdScriptTaskDefinition): string => `${SD_SCRIPT_LABELS[def.script] ?? def.script}: ${path.basename(def.imageDir)}`;

  const makeTask = (def: SdScriptTaskDefinition & vscode.TaskDefinition, scope: vscode.WorkspaceFolder | vscode.TaskScope, name: string, onEnd?: (run: SdScriptRun) => void): vscode.Task => {
    const task = new vscode.Task(def, scope, name, TASK_SOURCE, new vscode.CustomExecution(async (resolved) => createPty(resolved as SdScriptTaskDefinition & vscode.TaskDefinition, name, typeof scope === 'object' ? scope : undefined, onEnd)));
    task.detail = `python ${def.script} ${def.imageDir}`;
    task.presentationOptions = { reveal: vscode.TaskRevealKind.Always, panel: vscode.TaskPanelKind.Dedicated, clear: true, echo: false };
    return task;
  };

  const createPty = async (def: SdScriptTaskDefinition, name: string, scope: vscode.WorkspaceFolder | undefined, onEnd?: (run: SdScriptRun) => void): Promise<vscode.Pseudoterminal> => {
    const folder = scope ?? vscode.workspace.workspaceFolders?.[0];
    const settings = trainingSettings(folder?.uri);
    const baseDir = folder?.uri.fsPath;
    const build = resolveSdScriptLaunch(def, { settings, ...(baseDir ? { baseDir } : {}), baseEnv: process.env, fs: fsProbe });
    const spec = build.ok ? build.spec : { command: '', args: [], cwd: baseDir ?? process.cwd(), env: {} };
    const imageDir = path.resolve(baseDir ?? process.cwd(), def.imageDir);
    const ext = outputExtension(def);
    const recursive = def.options?.['recursive'] === true;
    let before: Map<string, number> | undefined;
    const run: SdScriptRun = { name, definition: def, exitCode: undefined, stopped: false, changedSidecars: [] };
    const beforeStart = async (): Promise<true | string> => {
      if (!vscode.workspace.isTrusted) {
        const msg = `LoRA Workbench does not run sd-scripts in an untrusted workspace: the task starts a Python program chosen by this folder's settings. Trust the workspace (Workspaces: Manage Workspace Trust) to run "${name}".`;
        void vscode.window.showWarningMessage(msg);
        return msg;
      }
      const problems = preflight(def, folder);
      if (problems.length) {
        showProblems(name, problems);
        return `${name} was not started: ${problems.map((p) => p.message).join(' ')}`;
      }
      if (!build.ok) {
        const msg = `${name} cannot start: ${build.error}.`;
        void vscode.window.showErrorMessage(msg);
        return msg;
      }
      if (ext) before = await sidecarTimes(imageDir, recursive, ext);
      return true;
    };
    return new TrainingPty(
      name,
      spec,
      settings.stopTimeoutMs,
      {
        onStart: () => undefined,
        onEnd: (r) => {
          void (async () => {
            run.exitCode = r.exitCode;
            run.stopped = r.stopped;
            if (ext && before) {
              const after = await sidecarTimes(imageDir, recursive, ext);
              for (const [p, t] of after) if (t !== -1 && t !== before.get(p)) run.changedSidecars.push(p);
              // the file watcher usually reports them, but not always (e.g. after a watched folder
              // was deleted): we know which files changed, so hand them to the index
              if (run.changedSidecars.length) model.filesChanged(run.changedSidecars);
            }
            runs.push(run);
            reportEnd(run, ext);
            onEnd?.(run);
            ended.fire(run);
          })();
        },
      },
      beforeStart,
      {},
      { parseTrainingOutput: false, kind: 'Task' },
    );
  };

  const reportEnd = (run: SdScriptRun, ext: string | undefined): void => {
    if (run.stopped) {
      log.info(`${run.name}: stopped`);
      void vscode.window.showInformationMessage(`${run.name}: stopped.`);
    } else if (run.exitCode === 0) {
      const what =
        run.definition.script === 'finetune/prepare_buckets_latents.py'
          ? `wrote ${run.definition.outJson ? path.basename(run.definition.outJson) : 'the metadata'} and the latent files.`
          : `${run.changedSidecars.length} ${ext} file${run.changedSidecars.length === 1 ? '' : 's'} written.`;
      log.info(`${run.name}: finished, ${what}`);
      void vscode.window.showInformationMessage(`${run.name} finished: ${what}`);
    } else {
      log.error(`${run.name}: ended with exit code ${run.exitCode ?? '?'}`);
      void vscode.window.showErrorMessage(`${run.name} failed (exit code ${run.exitCode ?? '?'}). Its output is in the task's terminal.`, 'Show Log').then((p) => p && log.show());
    }
  };

  /** Starts a task from a command; resolves with its run when `wait`, else when it has started. */
  const start = async (def: SdScriptTaskDefinition, wait: boolean): Promise<SdScriptRun | { started: string } | undefined> => {
    const folder = workspaceFolderFor(def.imageDir);
    const name = nameOf(def);
    const problems = preflight(def, folder);
    if (problems.length) {
      showProblems(name, problems);
      return undefined;
    }
    let done: (r: SdScriptRun) => void = () => undefined;
    const finished = new Promise<SdScriptRun>((resolve) => (done = resolve));
    const task = makeTask({ type: TaskTypes.sdScript, ...def }, folder ?? vscode.TaskScope.Workspace, name, (r) => done(r));
    await vscode.tasks.executeTask(task);
    return wait ? finished : { started: name };
  };

  const refuseUntrusted = (): boolean => {
    if (vscode.workspace.isTrusted) return false;
    void vscode.window.showWarningMessage('LoRA Workbench does not run sd-scripts in an untrusted workspace: the task starts a Python program chosen by this folder\'s settings. Trust the workspace (Workspaces: Manage Workspace Trust) first.');
    return true;
  };

  const scriptCommand = (script: SdScript, title: string) => async (target?: CommandTarget, arg?: unknown) => {
    if (refuseUntrusted()) return undefined;
    const o = commandOptions<SdScriptCommandOptions>(arg);
    try {
      const folder = await pickFolder(model, target, title);
      if (!folder) return undefined;
      const options: Record<string, OptionValue> = {};
      if (folder.recursive) options['recursive'] = true;
      if (script === 'finetune/tag_images_by_wd14_tagger.py') Object.assign(options, wd14Options(folder.path));
      const def: SdScriptTaskDefinition = { script, imageDir: folder.path, options: { ...options, ...(o?.options ?? {}) } };
      if (script === 'finetune/prepare_buckets_latents.py') {
        const filled = await askPrepareInputs(def, folder.path, o);
        if (!filled) return undefined;
        Object.assign(def, filled);
      }
      return await start(def, !!o?.wait);
    } catch (e) {
      log.error(`${title}: ${(e as Error).stack ?? (e as Error).message}`);
      void vscode.window.showErrorMessage(`LoRA Workbench: ${(e as Error).message}`);
      return undefined;
    }
  };

  /** sd-scripts' WD14 options from the Tagging settings (only what differs from the script's defaults). */
  const wd14Options = (dir: string): Record<string, OptionValue> => {
    const s = readTaggerSettings(vscode.Uri.file(dir));
    const t = s.options;
    const out: Record<string, OptionValue> = { onnx: true, batch_size: s.batchSize };
    if (t.general_threshold !== undefined && t.general_threshold !== DEFAULT_THRESH) out['general_threshold'] = t.general_threshold;
    if (t.character_threshold !== undefined && t.character_threshold !== DEFAULT_THRESH) out['character_threshold'] = t.character_threshold;
    for (const k of ['remove_underscore', 'character_tag_expand', 'character_tags_first', 'use_rating_tags', 'use_rating_tags_as_last_tag', 'append_tags'] as const) if (t[k]) out[k] = true;
    for (const k of ['undesired_tags', 'always_first_tags', 'tag_replacement'] as const) if (t[k]) out[k] = t[k] as string;
    if (t.caption_extension && t.caption_extension !== '.txt') out['caption_extension'] = t.caption_extension;
    if (t.caption_separator !== undefined && t.caption_separator !== DEFAULT_SEPARATOR) out['caption_separator'] = t.caption_separator;
    return out;
  };

  /** in_json, out_json, the model and the bucket options for prepare_buckets_latents. */
  const askPrepareInputs = async (def: SdScriptTaskDefinition, dir: string, o: SdScriptCommandOptions | undefined): Promise<Partial<SdScriptTaskDefinition> | undefined> => {
    const folder = workspaceFolderFor(dir);
    const settings = trainingSettings(folder?.uri);
    const sdDir = settings.sdScriptsFolder ? path.resolve(folder?.uri.fsPath ?? process.cwd(), settings.sdScriptsFolder) : undefined;
    const d = defaultsFromConfig(await activeTrainingConfig(training), sdDir);
    const resolveFromConfig = (p: string): string => (path.isAbsolute(p) ? p : path.resolve(sdDir ?? path.dirname(d.source ?? dir), p));
    let inJson = o?.inJson ?? (d.inJson ? resolveFromConfig(d.inJson) : undefined);
    if (!inJson) {
      const guess = [path.join(path.dirname(dir), 'meta_clean.json'), path.join(dir, 'meta_clean.json')].find((p) => existsSync(p));
      const picked = await vscode.window.showOpenDialog({
        title: 'Prepare Buckets and Latents: the metadata to read (in_json)',
        ...(guess ? { defaultUri: vscode.Uri.file(guess) } : { defaultUri: vscode.Uri.file(path.dirname(dir)) }),
        canSelectMany: false,
        filters: { 'Metadata JSON': ['json'] },
        openLabel: 'Use This Metadata',
      });
      inJson = picked?.[0]?.fsPath;
      if (!inJson) return undefined;
    }
    const outJson = o?.outJson ?? defaultLatentMetadataPath(inJson);
    let modelPath = o?.model ?? (isPlaceholder(d.model) ? undefined : d.model);
    if (!modelPath) {
      modelPath = await vscode.window.showInputBox({
        title: 'Prepare Buckets and Latents: the model whose VAE encodes the latents',
        prompt: 'A .safetensors/.ckpt file or a Hugging Face id (pretrained_model_name_or_path of your training config)',
        ignoreFocusOut: true,
        validateInput: (v) => (v.trim() ? undefined : 'A model is needed'),
      });
      if (!modelPath) return undefined;
    }
    const options: Record<string, OptionValue> = { full_path: true };
    const res = d.resolution ?? [1024, 1024];
    options['max_resolution'] = `${res[0]},${res[1]}`;
    if (d.minBucketReso !== undefined) options['min_bucket_reso'] = d.minBucketReso;
    if (d.maxBucketReso !== undefined) options['max_bucket_reso'] = d.maxBucketReso;
    if (d.bucketResoSteps !== undefined) options['bucket_reso_steps'] = d.bucketResoSteps;
    if (d.noUpscale) options['bucket_no_upscale'] = true;
    return { inJson, outJson, model: modelPath, options: { ...(def.options ?? {}), ...options, ...(o?.options ?? {}) } };
  };

  subs.push(
    vscode.tasks.registerTaskProvider(TaskTypes.sdScript, {
      // tasks of this type are started by the commands or written in tasks.json
      provideTasks: () => [],
      resolveTask(task) {
        const def = task.definition as SdScriptTaskDefinition & vscode.TaskDefinition;
        if (typeof def.script !== 'string' || typeof def.imageDir !== 'string') return undefined;
        return makeTask(def, task.scope ?? vscode.TaskScope.Workspace, task.name);
      },
    }),
    vscode.commands.registerCommand(Commands.captionWithBlip, scriptCommand('finetune/make_captions.py', 'Caption which images with BLIP?')),
    vscode.commands.registerCommand(Commands.captionWithGit, scriptCommand('finetune/make_captions_by_git.py', 'Caption which images with GIT?')),
    vscode.commands.registerCommand(Commands.tagWithSdScriptsWd14, scriptCommand('finetune/tag_images_by_wd14_tagger.py', "Tag which images with sd-scripts' WD14 tagger?")),
    vscode.commands.registerCommand(Commands.prepareBucketsLatents, scriptCommand('finetune/prepare_buckets_latents.py', 'Prepare buckets and latents of which images?')),
  );

  registerBucketPreview(context, model, training);

  return { runs, onDidEndRun: ended.event, preflight: (def, folder) => preflight(def, folder ?? vscode.workspace.workspaceFolders?.[0]) };
}
