/**
 * The one message protocol between the extension host and its webviews, imported by both sides
 * (types only on the webview side). Every webview starts by sending `ready`; the host queues
 * its messages until then (see src/platform/webview.ts).
 */

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
  | RunPanelToWebview;

export type WebviewToHost =
  | { type: 'ready' }
  | { type: 'refresh' }
  | { type: 'openFile'; path: string }
  | RunPanelToHost;

export function isWebviewToHost(m: unknown): m is WebviewToHost {
  if (typeof m !== 'object' || m === null) return false;
  const t = (m as { type?: unknown }).type;
  if (t === 'ready' || t === 'refresh') return true;
  if (isRunPanelToHost(m as { type?: unknown })) return true;
  return t === 'openFile' && typeof (m as { path?: unknown }).path === 'string';
}
