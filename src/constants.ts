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
  // --- sd-scripts dataset tasks and the bucket preview (issue 6, items 4–5) ---
  captionWithBlip: 'loraWorkbench.captionWithBlip',
  captionWithGit: 'loraWorkbench.captionWithGit',
  tagWithSdScriptsWd14: 'loraWorkbench.tagWithSdScriptsWd14',
  prepareBucketsLatents: 'loraWorkbench.prepareBucketsLatents',
  previewBucketsIntoMetadata: 'loraWorkbench.previewBucketsIntoMetadata',
  // ---- gallery
  openGallery: 'loraWorkbench.openGallery',
  // run panel (issue 5 item 6)
  openRunPanel: 'loraWorkbench.openRunPanel',
  /** explorer context menu on a folder */
  openFolderAsRun: 'loraWorkbench.openFolderAsRun',
  // training extras (accelerate form, Test the LoRA)
  createAccelerateConfig: 'loraWorkbench.createAccelerateConfig',
  runLoraTest: 'loraWorkbench.runLoraTest',
  /** internal: the tree's "Show more" row */
  showMoreImages: 'loraWorkbench.datasets.showMore',
  // ---- Datasets tree (explorer) ----
  sortDatasetImages: 'loraWorkbench.datasets.sort',
  filterDatasetImages: 'loraWorkbench.datasets.filter',
  clearDatasetFilter: 'loraWorkbench.datasets.clearFilter',
  revealImageInExplorer: 'loraWorkbench.datasets.reveal',
  renameImage: 'loraWorkbench.datasets.renameImage',
  deleteImage: 'loraWorkbench.datasets.deleteImage',
  changeRepeats: 'loraWorkbench.datasets.changeRepeats',
  newConceptFolder: 'loraWorkbench.datasets.newConceptFolder',
  // --- reveal an image from the gallery's tile menu (explorer2) ---
  revealImageInDatasets: 'loraWorkbench.datasets.revealImage',
  galleryRevealInOS: 'loraWorkbench.gallery.revealInOS',
  galleryRevealInFinder: 'loraWorkbench.gallery.revealInFinder',
  galleryRevealInExplorerView: 'loraWorkbench.gallery.revealInExplorerView',
  // --- image audit and buckets (src/features/imageAudit, src/features/buckets) ---
  runImageAudit: 'loraWorkbench.runImageAudit',
  fixImageProblem: 'loraWorkbench.fixImageProblem',
  undoImageFix: 'loraWorkbench.undoImageFix',
  refreshBuckets: 'loraWorkbench.refreshBuckets',
  /** internal: a file row of the Buckets view */
  openBucketImage: 'loraWorkbench.buckets.openImage',
  // ---- tag editor ----
  openTagEditor: 'loraWorkbench.openTagEditor',
  /** internal: hands a webview message to the tag editor of a file (tests, other features) */
  tagEditorMessage: 'loraWorkbench.tagEditor.message',
  /** previous/next image of the active tag editor, in its tab (keys work with the focus anywhere) */
  tagEditorPreviousImage: 'loraWorkbench.tagEditor.previousImage',
  tagEditorNextImage: 'loraWorkbench.tagEditor.nextImage',
  // ── batch tag commands (`loraWorkbench.tags.<op>`, for any selection) and the Tags view ──
  tagsAdd: 'loraWorkbench.tags.add',
  tagsRemove: 'loraWorkbench.tags.remove',
  tagsReplace: 'loraWorkbench.tags.replace',
  tagsMoveToFront: 'loraWorkbench.tags.moveToFront',
  tagsDedupe: 'loraWorkbench.tags.dedupe',
  tagsSort: 'loraWorkbench.tags.sort',
  tagsToSpaces: 'loraWorkbench.tags.toSpaces',
  tagsToUnderscores: 'loraWorkbench.tags.toUnderscores',
  tagsAddTrigger: 'loraWorkbench.tags.addTrigger',
  tagsRemoveTrigger: 'loraWorkbench.tags.removeTrigger',
  tagsCreateMissing: 'loraWorkbench.tags.createMissing',
  tagsViewSelectImages: 'loraWorkbench.tagsView.selectImages',
  tagsViewSetFilter: 'loraWorkbench.tagsView.setFilter',
  tagsViewClearFilter: 'loraWorkbench.tagsView.clearFilter',
  tagsViewToggleSort: 'loraWorkbench.tagsView.toggleSort',
  tagsViewToggleGroup: 'loraWorkbench.tagsView.toggleGroup',
} as const;

/** The tag editor's custom editor view type (package.json `customEditors`). */
export const TAG_EDITOR_VIEW_TYPE = 'loraWorkbench.tagEditor';

export const Views = {
  container: 'loraWorkbench',
  datasets: 'loraWorkbench.datasets',
  buckets: 'loraWorkbench.buckets',
  tags: 'loraWorkbench.tags',
} as const;

export const Languages = {
  caption: 'kohya-caption',
  samplePrompts: 'kohya-prompts',
  toml: 'toml',
} as const;

export const ContextKeys = {
  scanned: 'loraWorkbench:scanned',
  hasDatasets: 'loraWorkbench:hasDatasets',
  datasetFilterActive: 'loraWorkbench:datasetFilterActive',
  tagsFiltered: 'loraWorkbench:tagsFiltered',
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
  maxTokenLength: 'captions.maxTokenLength',
  clipVocabulary: 'captions.clipVocabulary',
  // --- tag-list completion (issue 3, item 2) ---
  captionsTagList: 'captions.tagList',
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
  // --- image audit and buckets ---
  imageAuditEnabled: 'imageAudit.enabled',
  imageAuditRules: 'imageAudit.rules',
  imageAuditResolution: 'imageAudit.resolution',
  imageAuditTooSmall: 'imageAudit.tooSmallFraction',
  imageAuditLowQuality: 'imageAudit.lowQualityBytesPerPixel',
  imageAuditNearDuplicates: 'imageAudit.nearDuplicates',
  imageAuditNearDistance: 'imageAudit.nearDuplicateDistance',
  bucketsResolution: 'buckets.resolution',
  bucketsBatchSize: 'buckets.batchSize',
  runPanelOpenOnStart: 'runPanel.openOnTrainingStart',
  trainingCpuThreads: 'training.numCpuThreadsPerProcess',
} as const;


export const WebviewTypes = {
  runPanel: 'loraWorkbench.runPanel',
} as const;

export const TaskTypes = {
  train: 'loraWorkbench.train',
  /** sd-scripts' finetune/ scripts: BLIP, GIT, WD14, prepare_buckets_latents */
  sdScript: 'loraWorkbench.sdScript',
  testLora: 'loraWorkbench.testLora',
} as const;
