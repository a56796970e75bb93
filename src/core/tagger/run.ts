/**
 * One tagging run, as the extension and `lwb tag` do it: check the model folder (nothing is
 * touched if it is wrong), list the images like sd-scripts (`glob_images_pathlib`), leave out
 * images that already have tags when asked, run the worker, and write the tag files atomically:
 * with a `journal` (src/core/captions/journal.ts) the whole run is applied at its end as ONE
 * undoable batch (a cancelled run applies what was tagged); without one each file is written as
 * its result arrives. A tag file that is not UTF-8 is never overwritten.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { classifyImageName } from '../dataset/images';
import { listImageFiles } from '../dataset/scan';
import { inspectModelFolder, type ModelFolderInfo } from './modelFolder';
import { captionPathFor, captionText, DEFAULT_TAG_EXTENSION, type ScoredTag, type TaggerOptions } from './postprocess';
import type { ExecutionProvider, TaggedImage, TaggerReady, TaggerToHost } from './protocol';
import { startWorkerSession } from './workerSession';
import { atomicWriteFile, type FileChange, type Journal } from '../captions/journal';

export interface ListImagesResult {
  images: string[];
  error?: string;
}

/** Images under `target` as sd-scripts' tagger finds them (sorted; `recursive` = rglob). A file is itself. */
export async function listImagesForTagging(target: string, recursive = false): Promise<ListImagesResult> {
  if (typeof target !== 'string' || target === '') return { images: [], error: 'no folder or image given' };
  const abs = path.resolve(target);
  let st;
  try {
    st = await fsp.stat(abs);
  } catch {
    return { images: [], error: `${abs} does not exist` };
  }
  if (st.isFile()) {
    return classifyImageName(path.basename(abs)) === 'image'
      ? { images: [abs] }
      : { images: [], error: `${abs} is not an image sd-scripts reads (.png .jpg .jpeg .webp .bmp)` };
  }
  return { images: await listImageFiles(abs, recursive) };
}

export interface TagRunOptions {
  modelDir: string;
  /** The bundled worker, dist/workers/tagger.js. */
  workerScript: string;
  options?: TaggerOptions;
  batchSize?: number;
  provider?: ExecutionProvider;
  /** Leave out images whose tag file already exists and is not blank. */
  skipExisting?: boolean;
  /** Compute tags but write nothing (suggest mode, --dry-run). */
  dryRun?: boolean;
  /** Return the best N scores per image whatever the thresholds (suggest mode). */
  topK?: number;
  signal?: AbortSignal;
  /** Extra environment for the worker process (e.g. NODE_PATH when the bundle lives outside the install). */
  workerEnv?: NodeJS.ProcessEnv;
  onReady?(ready: TaggerReady, model: ModelFolderInfo): void;
  onProgress?(p: { done: number; total: number; failed: number; image: string }): void;
  /** Apply the whole run as one undoable batch of this journal (written at the end of the run). */
  journal?: Journal;
  /** The journal batch's label (default "Tag N images with WD14"). */
  journalLabel?: string;
  /** Without a journal: writes one tag file (default: atomic temp file + rename as it arrives). */
  writer?(file: string, content: string, previous: string | undefined): Promise<void>;
}

export interface TagRunImage {
  image: string;
  captionFile: string;
  tags: string[];
  scored: ScoredTag[];
  rating: ScoredTag | undefined;
  top?: ScoredTag[];
  imageSize: [number, number];
  /** What was (or, with dryRun, would be) written. */
  text: string;
  /** The file's content before (undefined: it did not exist). */
  previous: string | undefined;
  written: boolean;
}

export interface TagRunResult {
  ok: boolean;
  /** Why nothing (or not everything) was done; undefined when ok. */
  error?: string;
  model?: ModelFolderInfo;
  ready?: TaggerReady;
  tagged: TagRunImage[];
  skipped: { image: string; reason: string }[];
  failed: { image: string; error: string }[];
  cancelled: boolean;
  /** Tag → number of images (--frequency_tags). */
  frequency: Record<string, number>;
  /** The journal batch holding the run (undo it with journal.undo()); null when nothing changed. */
  journalBatch?: string | null;
  stats: { images: number; ms: number; pipelineMs: number; warmupMs: number; inferenceMs: number; maxRssKb?: number };
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The bytes and text of an existing file; `text` undefined when it is not UTF-8. */
async function readExisting(file: string): Promise<{ bytes: Buffer; text: string | undefined } | undefined> {
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(file);
  } catch {
    return undefined;
  }
  try {
    return { bytes, text: strictUtf8.decode(bytes) };
  } catch {
    return { bytes, text: undefined };
  }
}

/** Tags `images` (absolute paths). Never throws; every problem is in the result. */
export async function tagImages(images: readonly string[], o: TagRunOptions): Promise<TagRunResult> {
  const result: TagRunResult = {
    ok: false,
    tagged: [],
    skipped: [],
    failed: [],
    cancelled: false,
    frequency: {},
    stats: { images: 0, ms: 0, pipelineMs: 0, warmupMs: 0, inferenceMs: 0 },
  };
  if (!Array.isArray(images) || !o || typeof o.workerScript !== 'string') {
    result.error = 'tagImages needs a list of images and the worker script';
    return result;
  }
  const options = o.options ?? {};
  const ext = typeof options.caption_extension === 'string' && options.caption_extension !== '' ? options.caption_extension : DEFAULT_TAG_EXTENSION;
  const model = await inspectModelFolder(o.modelDir);
  if (!model.ok) {
    result.error = model.error;
    return result;
  }
  result.model = model.info;
  const todo: string[] = [];
  for (const image of images) {
    if (o.skipExisting) {
      const existing = await readIfExists(captionPathFor(image, ext));
      if (existing !== undefined && existing.trim() !== '') {
        result.skipped.push({ image, reason: `already has tags (${path.basename(captionPathFor(image, ext))})` });
        continue;
      }
    }
    todo.push(image);
  }
  if (todo.length === 0 || o.signal?.aborted) {
    result.ok = true;
    result.cancelled = !!o.signal?.aborted;
    return result;
  }
  const writer = o.writer ?? ((file: string, content: string) => atomicWriteFile(file, content));
  const pending: { change: FileChange; entry: TagRunImage }[] = [];
  let chain: Promise<void> = Promise.resolve();
  let fatal: string | undefined;
  let done: Extract<TaggerToHost, { type: 'tag:done' }> | undefined;
  const handle = async (m: TaggedImage): Promise<void> => {
    const captionFile = captionPathFor(m.path, ext);
    const existing = await readExisting(captionFile);
    if (existing && existing.text === undefined) {
      result.failed.push({ image: m.path, error: `tag file ${captionFile} is not UTF-8: left untouched` });
      return;
    }
    const previous = existing?.text;
    const text = captionText(m.tags, previous, options);
    const entry: TagRunImage = {
      image: m.path,
      captionFile,
      tags: m.tags,
      scored: m.scored,
      rating: m.rating,
      imageSize: m.imageSize,
      text,
      previous,
      written: false,
      ...(m.top ? { top: m.top } : {}),
    };
    if (!o.dryRun) {
      if (o.journal) {
        pending.push({ change: { file: captionFile, oldBytes: existing ? existing.bytes : null, newBytes: Buffer.from(text, 'utf8') }, entry });
      } else {
        try {
          await writer(captionFile, text, previous);
          entry.written = true;
        } catch (e) {
          result.failed.push({ image: m.path, error: `tag file ${captionFile} could not be written: ${(e as Error).message}` });
          return;
        }
      }
    }
    result.tagged.push(entry);
    for (const t of m.tags) result.frequency[t] = (result.frequency[t] ?? 0) + 1;
  };
  let progressed = 0;
  const session = startWorkerSession<TaggerToHost>(o.workerScript, (m) => {
    switch (m.type) {
      case 'tag:ready':
        result.ready = m;
        try {
          o.onReady?.(m, model.info);
        } catch {
          /* a listener's problem is not the run's */
        }
        break;
      case 'tag:result':
        chain = chain.then(async () => {
          if (m.ok) await handle(m);
          else result.failed.push({ image: m.path, error: m.error });
          progressed++;
          try {
            o.onProgress?.({ done: progressed, total: todo.length, failed: result.failed.length, image: m.path });
          } catch {
            /* ignore */
          }
        });
        break;
      case 'tag:done':
        done = m;
        break;
      case 'tag:error':
        fatal = m.message;
        break;
    }
  }, o.workerEnv);
  const onAbort = (): void => {
    session.send({ type: 'tag:cancel' });
    // a worker stuck in a long session.run is killed after a grace period
    setTimeout(() => session.kill(), 5000).unref();
  };
  o.signal?.addEventListener('abort', onAbort, { once: true });
  session.send({
    type: 'tag:start',
    job: { modelDir: model.info.dir, images: todo, options, batchSize: o.batchSize ?? 1, provider: o.provider ?? 'cpu', topK: o.topK ?? 0 },
  });
  const exit = await session.exited;
  o.signal?.removeEventListener('abort', onAbort);
  await chain;
  result.cancelled = !!o.signal?.aborted;
  if (o.journal && pending.length) {
    try {
      const applied = await o.journal.apply(o.journalLabel ?? `Tag ${pending.length} image${pending.length === 1 ? '' : 's'} with WD14`, pending.map((p) => p.change));
      result.journalBatch = applied.id;
      const written = new Set(applied.written.map((f) => path.resolve(f)));
      const skipped = new Map(applied.skipped.map((k) => [path.resolve(k.file), k.reason]));
      for (const p of pending) {
        const file = path.resolve(p.entry.captionFile);
        // unchanged files are neither written nor skipped: their content is already right
        p.entry.written = written.has(file);
        const why = skipped.get(file);
        if (why !== undefined) {
          result.tagged.splice(result.tagged.indexOf(p.entry), 1);
          result.failed.push({ image: p.entry.image, error: `tag file ${p.entry.captionFile}: ${why}` });
        }
      }
      if (!applied.ok) result.error = `the tag files could not be written (${applied.error ?? 'unknown error'}); the ones already written were restored`;
    } catch (e) {
      result.error = `the tag files could not be written: ${(e as Error).message}`;
    }
  }
  const d = done as Extract<TaggerToHost, { type: 'tag:done' }> | undefined;
  if (d) result.stats = { images: d.images, ms: d.ms, pipelineMs: d.pipelineMs, warmupMs: d.warmupMs, inferenceMs: d.inferenceMs, ...(d.maxRssKb !== undefined ? { maxRssKb: d.maxRssKb } : {}) };
  if (fatal) result.error = fatal;
  else if (result.error) {
    /* set by the journal above */
  } else if (!d && !result.cancelled) {
    result.error = `the tagger process stopped unexpectedly (${exit.signal ?? `exit code ${exit.code}`})${exit.stderr ? `: ${exit.stderr}` : ''}`;
  }
  result.ok = result.error === undefined;
  return result;
}
