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
  checkTrainingEnvironment: 'loraWorkbench.checkTrainingEnvironment',
  /** internal: the training status bar item */
  showTrainingTerminal: 'loraWorkbench.training.showTerminal',
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
  logLevel: 'log.level',
  trainingSdScripts: 'training.sdScriptsFolder',
  trainingPython: 'training.python',
  trainingAccelerate: 'training.accelerate',
  trainingAccelerateConfig: 'training.accelerateConfig',
  trainingEnv: 'training.env',
  trainingStopTimeout: 'training.stopTimeout',
} as const;


export const TaskTypes = {
  train: 'loraWorkbench.train',
} as const;
