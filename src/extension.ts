/**
 * Composition root: wires the features together and nothing else. Every feature registers its
 * disposables in `context.subscriptions`; no native module is loaded here.
 */
import * as vscode from 'vscode';
import { Commands } from './constants';
import { registerTagging } from './features/autoTag';
import { registerDatasetsView, type DatasetsFeature } from './features/datasetsView';
import { probeNativeModules, registerNativeStatus } from './features/nativeStatus';
import { registerOverview } from './features/overview/panel';
import { registerGallery } from './features/gallery';
import { registerSidecarLanguage } from './features/sidecarLanguage';
import { registerTomlLanguage } from './features/tomlLanguage';
import { registerNewConfig } from './features/tomlLanguage/newConfig';
import { registerCaptionDiagnostics } from './features/captionDiagnostics';
import { registerTraining, type TrainingFeature } from './features/training';
import { registerSdScripts, type SdScriptsFeature } from './features/sdScripts';
import { registerImageAudit, type ImageAuditFeature } from './features/imageAudit';
import { registerBuckets, type BucketsFeature } from './features/buckets';
import { registerTagEditor } from './features/tagEditor';
import { registerTagsBatch } from './features/tagsBatch';
import { registerRunPanel, type RunPanelFeature } from './features/runPanel';
import { registerTrainingExtras, type TestLoraFeature } from './features/trainingExtras';
import { disposeLog, getLog } from './platform/log';
import { loadedNativeModules } from './platform/nativeGuard';

/** What `activate` returns: used by the in-host tests and by other extensions. */
export interface LoraWorkbenchApi {
  readonly version: string;
  /** wall-clock time `activate` took, in milliseconds */
  readonly activationMs: number;
  /** native-module files in the host's module cache when activation finished (should be none) */
  readonly nativeModulesAtActivation: readonly string[];
  readonly datasets: DatasetsFeature['model'];
  readonly training: TrainingFeature;
  /** sd-scripts' dataset scripts as tasks (BLIP, GIT, WD14, prepare_buckets_latents) */
  readonly sdScripts: SdScriptsFeature;
  readonly imageAudit: ImageAuditFeature;
  readonly buckets: BucketsFeature;
  readonly runPanel: RunPanelFeature;
  readonly testLora: TestLoraFeature;
  probeNativeModules(): ReturnType<typeof probeNativeModules>;
}

export function activate(context: vscode.ExtensionContext): LoraWorkbenchApi | undefined {
  const started = performance.now();
  const log = getLog();
  context.subscriptions.push({ dispose: disposeLog });
  try {
    context.subscriptions.push(vscode.commands.registerCommand(Commands.showLog, () => log.show()));
    const datasets = registerDatasetsView(context.subscriptions);
    registerNativeStatus(context);
    registerOverview(context, datasets.model);
    registerGallery(context, datasets.model);
    registerSidecarLanguage(context.subscriptions);
    registerTomlLanguage(context.subscriptions);
    registerNewConfig(context.subscriptions, datasets.model);
    const captions = registerCaptionDiagnostics(context.subscriptions, datasets.model);
    registerTagEditor(context, captions);
    registerTagging(context, datasets.model);
    registerTagsBatch(context, datasets.model, captions);
    const training = registerTraining(context);
    const sdScripts = registerSdScripts(context, datasets.model, training);
    const imageAudit = registerImageAudit(context, datasets.model);
    const buckets = registerBuckets(context.subscriptions, datasets.model, imageAudit);
    const runPanel = registerRunPanel(context, training);
    const testLora = registerTrainingExtras(context, training);

    const activationMs = performance.now() - started;
    const nativeModulesAtActivation = loadedNativeModules();
    const version = String((context.extension.packageJSON as { version?: string }).version ?? '');
    log.info(`LoRA Workbench ${version} activated in ${activationMs.toFixed(1)} ms`);
    if (nativeModulesAtActivation.length) {
      log.warn(`Native modules were loaded at activation: ${nativeModulesAtActivation.join(', ')}`);
    }
    return {
      version,
      activationMs,
      nativeModulesAtActivation,
      datasets: datasets.model,
      training,
      sdScripts,
      imageAudit,
      buckets,
      runPanel,
      testLora,
      probeNativeModules: () => probeNativeModules(context.extensionUri),
    };
  } catch (e) {
    // one clear message instead of a silently dead extension
    const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
    log.error(`Activation failed: ${msg}`);
    void vscode.window.showErrorMessage(`LoRA Workbench could not start: ${(e as Error).message}`, 'Show Log').then(
      (pick) => pick && log.show(),
    );
    return undefined;
  }
}

export function deactivate(): void {
  // everything is disposed through context.subscriptions
}
