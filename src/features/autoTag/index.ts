/** WD14 auto-tagging, tag suggestions, undo of tag batches and metadata, as VS Code commands. */
import type * as vscode from 'vscode';
import type { DatasetsModel } from '../datasetsView/model';
import { registerAutoTag } from './autoTag';
import { registerMergeMetadata } from './metadata';
import { registerSuggestTags } from './suggest';

export function registerTagging(context: vscode.ExtensionContext, model: DatasetsModel): void {
  registerAutoTag(context, model);
  registerSuggestTags(context);
  registerMergeMetadata(context.subscriptions, model);
}
