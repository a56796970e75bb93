/**
 * The "Tagging" settings (loraWorkbench.tagger.*) turned into the core's run options. The option
 * meanings are sd-scripts' (see TaggerOptions in src/core/tagger/postprocess.ts); this file only
 * maps names.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Settings } from '../../constants';
import { DEFAULT_SEPARATOR, DEFAULT_TAG_EXTENSION, DEFAULT_THRESH, type TaggerOptions } from '../../core/tagger/postprocess';
import type { ExecutionProvider } from '../../core/tagger/protocol';

export interface TaggerSettings {
  /** absolute model folder, or '' when unset */
  modelFolder: string;
  options: TaggerOptions;
  batchSize: number;
  provider: ExecutionProvider;
  skipExisting: boolean;
}

/** What a caller (keybinding, task, test) may override without touching the settings. */
export interface TaggerOverrides {
  modelFolder?: string;
  options?: TaggerOptions;
  batchSize?: number;
  provider?: ExecutionProvider;
  skipExisting?: boolean;
}

/** A model folder as written in the setting: absolute, `~/…`, or relative to the workspace folder. */
export function resolveModelFolder(value: string, scope?: vscode.Uri): string {
  const v = value.trim();
  if (v === '') return '';
  if (v === '~' || v.startsWith('~/')) return path.join(process.env.HOME ?? '', v.slice(1));
  if (path.isAbsolute(v)) return v;
  const wf = (scope && vscode.workspace.getWorkspaceFolder(scope)) ?? vscode.workspace.workspaceFolders?.[0];
  return wf ? path.join(wf.uri.fsPath, v) : path.resolve(v);
}

export function readTaggerSettings(scope?: vscode.Uri, overrides: TaggerOverrides = {}): TaggerSettings {
  const c = vscode.workspace.getConfiguration(Settings.section, scope);
  const rating = c.get<string>(Settings.taggerRatingTags, 'none');
  const str = (key: string, fallback: string): string => {
    const v = c.get<unknown>(key, fallback);
    return typeof v === 'string' ? v : fallback;
  };
  const options: TaggerOptions = {
    general_threshold: c.get<number>(Settings.taggerGeneralThreshold, DEFAULT_THRESH),
    character_threshold: c.get<number>(Settings.taggerCharacterThreshold, DEFAULT_THRESH),
    remove_underscore: c.get<boolean>(Settings.taggerRemoveUnderscore, false),
    character_tag_expand: c.get<boolean>(Settings.taggerCharacterTagExpand, false),
    undesired_tags: str(Settings.taggerUndesiredTags, ''),
    character_tags_first: c.get<boolean>(Settings.taggerCharacterTagsFirst, false),
    always_first_tags: str(Settings.taggerAlwaysFirstTags, ''),
    tag_replacement: str(Settings.taggerTagReplacement, ''),
    use_rating_tags: rating === 'first',
    use_rating_tags_as_last_tag: rating === 'last',
    append_tags: c.get<string>(Settings.taggerExistingTags, 'overwrite') === 'append',
    caption_extension: str(Settings.taggerCaptionExtension, DEFAULT_TAG_EXTENSION) || DEFAULT_TAG_EXTENSION,
    caption_separator: str(Settings.taggerCaptionSeparator, DEFAULT_SEPARATOR),
  };
  const batch = c.get<number>(Settings.taggerBatchSize, 1);
  return {
    modelFolder: overrides.modelFolder !== undefined ? resolveModelFolder(overrides.modelFolder, scope) : resolveModelFolder(str(Settings.taggerModelFolder, ''), scope),
    options: { ...options, ...(overrides.options ?? {}) },
    batchSize: overrides.batchSize ?? (Number.isInteger(batch) && batch >= 1 ? batch : 1),
    provider: overrides.provider ?? (c.get<string>(Settings.taggerProvider, 'cpu') === 'cuda' ? 'cuda' : 'cpu'),
    skipExisting: overrides.skipExisting ?? c.get<boolean>(Settings.taggerSkipExisting, false),
  };
}
