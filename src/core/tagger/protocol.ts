/**
 * Messages between a host (the extension or `lwb tag`) and the tagger worker process
 * (src/workers/tagger.ts), which loads onnxruntime-node and sharp. One job per worker process;
 * results stream back image by image.
 */
import type { ScoredTag, TaggerOptions } from './postprocess';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface TagJob {
  /** The model folder (model.onnx + selected_tags.csv). */
  modelDir: string;
  /** Absolute image paths, in the order results are wanted. */
  images: string[];
  options: TaggerOptions;
  /** Images per session.run (--batch_size, default 1; a model's fixed batch size wins). */
  batchSize?: number;
  provider?: ExecutionProvider;
  /** Also return the best `topK` general/character scores of each image, below the thresholds too (suggest mode). */
  topK?: number;
}

export type HostToTagger = { type: 'tag:start'; job: TagJob } | { type: 'tag:cancel' };

export interface TaggerReady {
  type: 'tag:ready';
  provider: ExecutionProvider;
  inputName: string;
  size: number;
  batchSize: number;
  warnings: string[];
}

export interface TaggedImage {
  type: 'tag:result';
  index: number;
  path: string;
  ok: true;
  /** Tags in output order (before append_tags). */
  tags: string[];
  scored: ScoredTag[];
  rating: ScoredTag | undefined;
  /** [width, height] of the decoded image. */
  imageSize: [number, number];
  /** With `topK`: the best general/character scores whatever the thresholds. */
  top?: ScoredTag[];
}

export interface FailedImage {
  type: 'tag:result';
  index: number;
  path: string;
  ok: false;
  error: string;
}

export interface TaggerDone {
  type: 'tag:done';
  cancelled: boolean;
  images: number;
  failed: number;
  /** Wall time in the worker from the job's start (model load included) to the last result, ms. */
  ms: number;
  /** From the end of the warm-up run to the last result, ms (the steady-state pipeline). */
  pipelineMs: number;
  /** The warm-up session.run on a white batch (overlapping the first batch's decoding), ms. */
  warmupMs: number;
  /** Time spent inside session.run, ms. */
  inferenceMs: number;
  /** Peak resident memory of the worker process, kB (process.resourceUsage().maxRSS). */
  maxRssKb?: number;
}

export type TaggerToHost = TaggerReady | TaggedImage | FailedImage | TaggerDone | { type: 'tag:error'; message: string };
