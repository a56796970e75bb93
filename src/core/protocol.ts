/**
 * The one message protocol between the extension host and its webviews, imported by both sides
 * (types only on the webview side). Every webview starts by sending `ready`; the host queues
 * its messages until then (see src/platform/webview.ts).
 */
import { isTagEditOp, type TagChip, type TagEditOp, type TagEditorProblem } from './captions/tagEditorTypes';

// ---- Dataset overview --------------------------------------------------------------------
export interface OverviewConcept {
  name: string;
  path: string;
  /** kohya folder repeats, or null when the folder is not a concept folder */
  repeats: number | null;
  classTokens: string | null;
  images: number;
  withSidecar: Record<string, number>;
  withoutSidecar: number;
  /** images × repeats */
  samplesPerEpoch: number;
}

export interface OverviewData {
  title: string;
  root: string;
  kind: 'kohyaFolder' | 'imageFolder';
  captionExtension: string;
  concepts: OverviewConcept[];
  captionFiles: number;
  topTags: Array<{ tag: string; count: number }>;
  problems: Array<{ file: string; code: string; message: string }>;
}

// ---- Gallery (webview/gallery, src/features/gallery) ----------------------------------------
// The host owns the image list and the filter; the webview asks for the pages it shows
// (`gallery/range`) and the thumbnails of the cells on screen (`gallery/visible`, most important
// first; anything else queued is cancelled). `generation` changes with every new result list, so
// late answers for an old list are dropped. Selections are index ranges over the current list.
export interface GalleryItem {
  path: string;
  name: string;
  /** folder relative to the gallery root ('' for the root) */
  folder: string;
  width?: number;
  height?: number;
  size: number;
  /** the first tags, joined (the cell truncates further) */
  tags: string;
  tagCount: number;
  hasCaption: boolean;
  /** webview URI of the cached thumbnail, when it exists */
  thumb?: string;
  /** why no thumbnail can be made (a corrupt image) */
  error?: string;
}

export type GalleryHostMessage =
  | {
      type: 'gallery/reset';
      generation: number;
      title: string;
      root: string;
      /** images in the folder tree / matching the filter */
      total: number;
      matched: number;
      query: string;
      /** the selection mapped onto the new list */
      selection: Array<[number, number]>;
      /** why the list changed: a new filter (scroll to top) or files changed (keep the place) */
      reason: 'open' | 'filter' | 'files';
      /** a batch command (`loraWorkbench.tags.*`) exists */
      batchAvailable: boolean;
    }
  | { type: 'gallery/items'; generation: number; start: number; items: GalleryItem[] }
  | { type: 'gallery/thumb'; path: string; thumb?: string; error?: string }
  | { type: 'gallery/queryError'; message: string; position: number }
  | { type: 'gallery/loading'; title: string };

export type GalleryWebviewMessage =
  | { type: 'gallery/range'; generation: number; start: number; end: number }
  | { type: 'gallery/visible'; paths: string[] }
  | { type: 'gallery/query'; query: string }
  | { type: 'gallery/select'; generation: number; ranges: Array<[number, number]> }
  | { type: 'gallery/open'; path: string }
  | { type: 'gallery/reveal'; path: string }
  | { type: 'gallery/batch' };

const GALLERY_WEBVIEW_TYPES = new Set(['gallery/range', 'gallery/visible', 'gallery/query', 'gallery/select', 'gallery/open', 'gallery/reveal', 'gallery/batch']);
// ---- Tag editor (src/features/tagEditor, webview/tagEditor) ----------------------------------
/** Everything the tag editor shows, rebuilt from the TextDocument on every change. */
export interface TagEditorState {
  file: string;
  fileName: string;
  /** the TextDocument version this state was built from; edits name it back */
  version: number;
  dirty: boolean;
  /** the document text as VS Code holds it */
  text: string;
  image: {
    name: string;
    /** a webview URI, or null when the image cannot be shown */
    src: string | null;
    width?: number;
    height?: number;
    format?: string;
    problem?: string;
  } | null;
  chips: TagChip[];
  keepBoundary: number | null;
  extraLines: number;
  problems: TagEditorProblem[];
  trigger: string | null;
  /** null: editable; else why not (read-only file, not UTF-8, BOM, …) */
  blocked: { code: string; message: string; canRemoveBom?: boolean } | null;
  /** the image's other sidecar (a `.caption` next to tags, or tags next to a caption), read-only */
  other: { name: string; text: string } | null;
  nav: { position: number; count: number; hasPrev: boolean; hasNext: boolean };
  /** a WD14 model folder is configured */
  taggerConfigured: boolean;
  /** a note about the last edit (e.g. "Already there: smile") */
  note?: string;
  /** the `seq` of the `tagEditor/setText` this state answers (the raw-text box waits for it) */
  ack?: number;
}

export interface TagSuggestion {
  tag: string;
  score: number;
  kind: string;
  present: boolean;
}

export type TagEditorHostMessage =
  | { type: 'tagEditor/state'; state: TagEditorState }
  /** the concept's tags by frequency, for autocomplete (sent when it changes) */
  | { type: 'tagEditor/vocabulary'; tags: Array<{ name: string; count: number }>; total: number }
  | { type: 'tagEditor/suggestions'; status: 'running' | 'done' | 'error' | 'unconfigured'; tags?: TagSuggestion[]; message?: string }
  // --- tag-list completion (issue 3, item 2): the host's answer to tagEditor/complete ---
  | { type: 'tagEditor/completions'; query: string; items: TagEditorCompletion[] };

/** A tag editor autocomplete row: from the concept's tags or the tag list (`loraWorkbench.captions.tagList`). */
export interface TagEditorCompletion {
  name: string;
  source: 'dataset' | 'list';
  /** caption files of the concept with the tag */
  count: number;
  listCount: number | null;
  category: string | null;
  /** the alias typed, when an alias matched */
  alias?: string;
}

export type TagEditorWebviewMessage =
  | { type: 'tagEditor/edit'; version: number; edit: TagEditOp }
  | { type: 'tagEditor/fix'; version: number; problem: number; fix: number }
  | { type: 'tagEditor/navigate'; direction: 'prev' | 'next' }
  | { type: 'tagEditor/suggest' }
  | { type: 'tagEditor/command'; command: 'openAsText' | 'openTaggerSettings' | 'removeBom' | 'openImage' }
  /** the raw-text box: the whole text as typed (the host applies one minimal replace); `seq` comes back as `ack` */
  | { type: 'tagEditor/setText'; version: number; text: string; seq: number }
  /** tag-list completion: candidates for the piece being typed (answered with tagEditor/completions) */
  | { type: 'tagEditor/complete'; query: string; present: string[] };

function isTagEditorMessage(m: { type?: unknown } & Record<string, unknown>): boolean {
  const int = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  switch (m.type) {
    case 'tagEditor/edit':
      return int(m.version) && isTagEditOp(m.edit);
    case 'tagEditor/fix':
      return int(m.version) && int(m.problem) && int(m.fix);
    case 'tagEditor/navigate':
      return m.direction === 'prev' || m.direction === 'next';
    case 'tagEditor/suggest':
      return true;
    case 'tagEditor/setText':
      return int(m.version) && typeof m.text === 'string' && int(m.seq);
    // tag-list completion (issue 3, item 2)
    case 'tagEditor/complete':
      return typeof m.query === 'string' && m.query.length <= 1000 && Array.isArray(m.present) && m.present.length <= 10_000 && m.present.every((p) => typeof p === 'string');
    case 'tagEditor/command':
      return m.command === 'openAsText' || m.command === 'openTaggerSettings' || m.command === 'removeBom' || m.command === 'openImage';
    default:
      return false;
  }
}

// ---- Training run panel (issue 5 item 6) ---------------------------------------------------
/** What the panel is showing; also its saved state (restored after a window reload). */
export interface RunPanelTarget {
  title: string;
  /** the training config the run comes from (for resume) */
  config?: string;
  outputDir?: string;
  outputName?: string;
  loggingDir?: string;
  logPrefix?: string;
  /** sample_prompts (the prompt texts of the sample grid) */
  samplePrompts?: string;
  /** more folders with TensorBoard runs (overlaid) */
  folders?: string[];
  /** run folders shown (absolute); undefined = the newest */
  selected?: string[];
}

export interface RunPanelRun {
  /** the run folder (absolute), also its id */
  id: string;
  label: string;
  selected: boolean;
}

export interface RunPanelSeries {
  run: string;
  tag: string;
  steps: number[];
  wallTimes: number[];
  values: number[];
}

export interface RunPanelProgress {
  name: string;
  state: 'running' | 'finished' | 'failed' | 'stopped';
  step?: number;
  total?: number;
  percent?: number;
  rate?: string;
  /** seconds */
  eta?: number;
  elapsed?: number;
  loss?: string;
  epoch?: number;
  totalEpochs?: number;
}

export interface RunPanelGpu {
  index: number;
  utilizationPercent?: number;
  memoryUsedMiB?: number;
  memoryTotalMiB?: number;
}

export interface RunPanelImage {
  /** webview URI */
  src: string;
  file: string;
  title: string;
}

export interface RunPanelSamples {
  columns: Array<{ key: string; label: string }>;
  prompts: Array<{ index: number; text?: string }>;
  cells: Array<Array<RunPanelImage | null>>;
}

export interface RunPanelCheckpoint {
  file: string;
  name: string;
  kind: 'epoch' | 'step' | 'final';
  epoch?: number;
  step?: number;
  size: number;
  mtimeMs: number;
  /** readable summary rows (label, value) from the ss_* metadata */
  summary: Array<[string, string]>;
  /** every ss_* key */
  ss: Record<string, string>;
  tagFrequency?: Record<string, Record<string, number>>;
  /** why the header could not be read */
  error?: string;
}

export interface RunPanelState {
  dir: string;
  name: string;
  epoch?: number;
  step?: number;
  problem?: string;
}

export type RunPanelLoraTest =
  | { ok: true; prompts: string[]; strengths: number[]; epochs: Array<number | null>; images: Array<{ prompt: number; strength: number; epoch: number | null; image?: RunPanelImage }> }
  | { ok: false; error: string };

export interface RunPanelOutputs {
  outputDir?: string;
  samples: RunPanelSamples;
  checkpoints: RunPanelCheckpoint[];
  states: RunPanelState[];
  /** undefined when there is no lora_test.json */
  loraTest?: RunPanelLoraTest;
  canResume: boolean;
}

export type RunPanelToWebview =
  | { type: 'run/info'; target: RunPanelTarget; runs: RunPanelRun[]; problems: string[] }
  /** reset: a snapshot that replaces what the webview has; otherwise points to append */
  | { type: 'run/series'; reset: boolean; series: RunPanelSeries[]; sentAt: number }
  | { type: 'run/progress'; progress: RunPanelProgress | null }
  | { type: 'run/gpu'; gpus: RunPanelGpu[] | null }
  | { type: 'run/outputs'; outputs: RunPanelOutputs };

export type RunPanelToHost =
  | { type: 'run/select'; runs: string[] }
  | { type: 'run/addFolder' }
  | { type: 'run/reveal'; path: string; inOs: boolean }
  | { type: 'run/resume'; state: string };

const RUN_PANEL_TO_HOST = new Set(['run/select', 'run/addFolder', 'run/reveal', 'run/resume']);
function isRunPanelToHost(m: { type?: unknown }): boolean {
  return typeof m.type === 'string' && RUN_PANEL_TO_HOST.has(m.type);
}

// ---- Messages ----------------------------------------------------------------------------
export type HostToWebview =
  | { type: 'overview/loading'; title: string }
  | { type: 'overview/data'; data: OverviewData }
  | { type: 'error'; message: string }
  | GalleryHostMessage
  | TagEditorHostMessage
  | RunPanelToWebview;

export type WebviewToHost =
  | { type: 'ready' }
  | { type: 'refresh' }
  | { type: 'openFile'; path: string }
  | GalleryWebviewMessage
  | TagEditorWebviewMessage
  | RunPanelToHost;

export function isWebviewToHost(m: unknown): m is WebviewToHost {
  if (typeof m !== 'object' || m === null) return false;
  const t = (m as { type?: unknown }).type;
  if (t === 'ready' || t === 'refresh') return true;
  // gallery messages: the shape is checked field by field where they are handled
  if (typeof t === 'string' && GALLERY_WEBVIEW_TYPES.has(t)) return true;
  if (typeof t === 'string' && t.startsWith('tagEditor/')) return isTagEditorMessage(m as Record<string, unknown>);
  if (isRunPanelToHost(m as { type?: unknown })) return true;
  return t === 'openFile' && typeof (m as { path?: unknown }).path === 'string';
}
