/** Batch tag commands, the Tags view, tag rename across the dataset and the trigger-word highlight. */
import type * as vscode from 'vscode';
import type { CaptionDiagnostics } from '../captionDiagnostics';
import type { DatasetsModel } from '../datasetsView/model';
import { registerBatchApply } from './apply';
import { registerTagCommands } from './commands';
import { registerTriggerHighlight } from './highlight';
import { registerTagRename } from './rename';
import { registerTagsView } from './tagsView';
import { registerTokenLengthFromConfigs } from './tokenLength';

export function registerTagsBatch(context: vscode.ExtensionContext, model: DatasetsModel, captions: CaptionDiagnostics): void {
  registerBatchApply(context);
  registerTagCommands(context, model, captions);
  registerTagsView(context.subscriptions, captions);
  registerTagRename(context.subscriptions, captions, model);
  registerTriggerHighlight(context.subscriptions, captions);
  registerTokenLengthFromConfigs(context.subscriptions, captions);
}
