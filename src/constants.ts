/** Every id the extension contributes, in one place (see package.json `contributes`). */
export const EXTENSION_ID = 'lora-workbench.lora-workbench';

export const Commands = {
  refreshDatasets: 'loraWorkbench.refreshDatasets',
  addDatasetFolder: 'loraWorkbench.addDatasetFolder',
  checkNativeModules: 'loraWorkbench.checkNativeModules',
  showLog: 'loraWorkbench.showLog',
  openImage: 'loraWorkbench.openImage',
  openSidecar: 'loraWorkbench.openSidecar',
  showDatasetOverview: 'loraWorkbench.showDatasetOverview',
  newTrainingConfig: 'loraWorkbench.newTrainingConfig',
  /** internal: the quick fix that rewrites a caption file without its byte-order mark */
  removeCaptionBom: 'loraWorkbench.captions.removeBom',
  autoTag: 'loraWorkbench.autoTag',
  undoTagBatch: 'loraWorkbench.undoTagBatch',
  suggestTags: 'loraWorkbench.suggestTags',
  mergeMetadata: 'loraWorkbench.mergeMetadata',
  checkTrainingEnvironment: 'loraWorkbench.checkTrainingEnvironment',
  /** internal: the training status bar item */
  showTrainingTerminal: 'loraWorkbench.training.showTerminal',
  // training extras (accelerate form, Test the LoRA)
  createAccelerateConfig: 'loraWorkbench.createAccelerateConfig',
  runLoraTest: 'loraWorkbench.runLoraTest',
  /** internal: the tree's "Show more" row */
  showMoreImages: 'loraWorkbench.datasets.showMore',
} as const;

export const Views = {
  container: 'loraWorkbench',
  datasets: 'loraWorkbench.datasets',
} as const;

export const Languages = {
  caption: 'kohya-caption',
  samplePrompts: 'kohya-prompts',
  toml: 'toml',
} as const;

export const ContextKeys = {
  scanned: 'loraWorkbench:scanned',
  hasDatasets: 'loraWorkbench:hasDatasets',
} as const;

export const Settings = {
  section: 'loraWorkbench',
  datasetFolders: 'datasets.folders',
  searchDepth: 'datasets.searchDepth',
  exclude: 'datasets.exclude',
  sidecarExtensions: 'captions.sidecarExtensions',
  configAssociations: 'config.associations',
  captionExtension: 'captions.captionExtension',
  trigger: 'captions.trigger',
  triggers: 'captions.triggers',
  absorbedTags: 'captions.absorbedTags',
  pollutionShare: 'captions.pollutionShare',
  ruleSeverities: 'captions.severity',
  shuffleCaption: 'captions.shuffleCaption',
  keepTokens: 'captions.keepTokens',
  taggerModelFolder: 'tagger.modelFolder',
  taggerGeneralThreshold: 'tagger.generalThreshold',
  taggerCharacterThreshold: 'tagger.characterThreshold',
  taggerRemoveUnderscore: 'tagger.removeUnderscore',
  taggerCharacterTagExpand: 'tagger.characterTagExpand',
  taggerUndesiredTags: 'tagger.undesiredTags',
  taggerCharacterTagsFirst: 'tagger.characterTagsFirst',
  taggerAlwaysFirstTags: 'tagger.alwaysFirstTags',
  taggerTagReplacement: 'tagger.tagReplacement',
  taggerRatingTags: 'tagger.ratingTags',
  taggerExistingTags: 'tagger.existingTags',
  taggerCaptionExtension: 'tagger.captionExtension',
  taggerCaptionSeparator: 'tagger.captionSeparator',
  taggerBatchSize: 'tagger.batchSize',
  taggerProvider: 'tagger.executionProvider',
  taggerSkipExisting: 'tagger.skipExisting',
  logLevel: 'log.level',
  trainingSdScripts: 'training.sdScriptsFolder',
  trainingPython: 'training.python',
  trainingAccelerate: 'training.accelerate',
  trainingAccelerateConfig: 'training.accelerateConfig',
  trainingEnv: 'training.env',
  trainingStopTimeout: 'training.stopTimeout',
  trainingCpuThreads: 'training.numCpuThreadsPerProcess',
} as const;


export const TaskTypes = {
  train: 'loraWorkbench.train',
  testLora: 'loraWorkbench.testLora',
} as const;
