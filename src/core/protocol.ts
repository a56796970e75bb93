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

// ---- Messages ----------------------------------------------------------------------------
export type HostToWebview =
  | { type: 'overview/loading'; title: string }
  | { type: 'overview/data'; data: OverviewData }
  | { type: 'error'; message: string };

export type WebviewToHost =
  | { type: 'ready' }
  | { type: 'refresh' }
  | { type: 'openFile'; path: string };

export function isWebviewToHost(m: unknown): m is WebviewToHost {
  if (typeof m !== 'object' || m === null) return false;
  const t = (m as { type?: unknown }).type;
  if (t === 'ready' || t === 'refresh') return true;
  return t === 'openFile' && typeof (m as { path?: unknown }).path === 'string';
}
