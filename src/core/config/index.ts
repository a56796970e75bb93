/**
 * kohya TOML IntelliSense core: training config, dataset config and sample prompts.
 * Pure TypeScript (no `vscode`); the VS Code adapters, the CLI and the tests call these.
 */
export type { ConfigDiagnostic, ConfigFileSystem, ConfigKind, Fix, OffsetRange, Position, Range, Severity, TextEdit } from './types';
export { checkConfig, checkTrainingConfig, checkDatasetConfig, checkSamplePrompts, type CheckOptions } from './check';
export { detectConfigKind, referencedFiles, type ReferencedFile } from './detect';
export { parseTomlDocument, allEntries, plainValue, type TomlDocument, type TomlEntry, type TomlTable, type TomlValue, type TomlSyntaxError } from './document';
export { completionsAt, hoverAt, documentSymbols, pathAt, optionMarkdown, type CompletionItem, type CompletionContextOptions, type HoverInfo, type OutlineSymbol, type PathReference } from './language';
export { newTrainingConfig, newDatasetConfig, datasetFoldersFromKohyaDirs, type TrainingTemplateOptions, type DatasetTemplateOptions, type DatasetFolder } from './templates';
export { buildTrainingConfigSchema, buildDatasetConfigSchema, buildSamplePromptSchema } from './schema';
export { nodeFileSystem, isPlaceholderPath } from './paths';
export { DIAGNOSTIC_CODES, type DiagnosticCode } from './diag';
export { OPTIONS, OPTION_MAP, getOption, SEED_SECTIONS, NETWORK_PRESETS, NETWORK_ARGS, DATASET_KEYS, PROMPT_KEYS, type KohyaOption } from './options';
export { flattenTrainingConfig, TrainingValues } from './training';
export { LineIndex } from './text';
