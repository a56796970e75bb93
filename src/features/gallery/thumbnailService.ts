import { existsSync } from 'node:fs';
import * as vscode from 'vscode';
import { startWorkerSession, type WorkerSession } from '../../core/tagger/workerSession';
import {
  THUMBNAIL_SIZE,
  ThumbnailQueue,
  thumbnailKey,
  thumbnailPath,
  type ThumbnailReply,
  type ThumbnailRequest,
  type ThumbnailSource,
} from '../../core/gallery/thumbnails';
import { Disposable } from '../../platform/dispose';
import { getLog } from '../../platform/log';

export interface ThumbnailJob {
  key: string;
  file: string;
  out: string;
}

export type ThumbnailResult = { ok: true; file: string } | { ok: false; error: string };

/** Images decoded at once in the worker. */
const IN_FLIGHT = 3;
/** Worker starts that fail in a row before we give up and say so. */
const MAX_FAILED_STARTS = 3;

/**
 * Makes and caches gallery thumbnails: a long-lived worker process (sharp) fed from a priority
 * queue of what is on screen. Cache files live in the extension's global storage, keyed by path,
 * byte size and mtime (see core/gallery/thumbnails.ts), so they survive reloads.
 */
export class ThumbnailService extends Disposable {
  readonly cacheDir: vscode.Uri;
  private readonly queue = new ThumbnailQueue<ThumbnailJob>();
  private readonly errors = new Map<string, string>();
  private readonly made = new Set<string>();
  private readonly listeners = new Map<string, Array<(r: ThumbnailResult) => void>>();
  private worker: WorkerSession<ThumbnailReply> | undefined;
  private failedStarts = 0;
  private fatal: string | undefined;
  private readonly running = new Map<string, ThumbnailJob>();

  constructor(
    storage: vscode.Uri,
    private readonly workerScript: string,
  ) {
    super();
    this.cacheDir = vscode.Uri.joinPath(storage, 'thumbnails');
    this.register({ dispose: () => this.worker?.kill() });
  }

  jobFor(src: ThumbnailSource): ThumbnailJob {
    const key = thumbnailKey(src, THUMBNAIL_SIZE);
    return { key, file: src.path, out: thumbnailPath(this.cacheDir.fsPath, key) };
  }

  /** What is known without work: the cache file, or the error of an earlier attempt. */
  cached(job: ThumbnailJob): ThumbnailResult | undefined {
    const err = this.errors.get(job.key);
    if (err !== undefined) return { ok: false, error: err };
    if (this.made.has(job.key) || existsSync(job.out)) {
      this.made.add(job.key);
      return { ok: true, file: job.out };
    }
    return undefined;
  }

  /**
   * Replaces the wish list (most important first). Jobs not in it are dropped unless running;
   * `onDone` is called once per job that finishes.
   */
  want(jobs: readonly ThumbnailJob[], onDone: (job: ThumbnailJob, r: ThumbnailResult) => void): void {
    const todo: ThumbnailJob[] = [];
    for (const j of jobs) {
      const c = this.cached(j);
      if (c) {
        onDone(j, c);
        continue;
      }
      todo.push(j);
      // one listener per thumbnail: asking again (every scroll) replaces it
      this.listeners.set(j.key, [(r) => onDone(j, r)]);
    }
    // listeners of jobs no longer wanted go too (unless running: their answer is still useful)
    const keep = new Set(todo.map((j) => j.key));
    for (const k of [...this.listeners.keys()]) if (!keep.has(k) && !this.queue.isRunning(k)) this.listeners.delete(k);
    this.queue.want(todo);
    this.pump();
  }

  /** Ends the worker (no gallery open); the next request starts a new one. */
  stop(): void {
    const w = this.worker;
    if (!w) return;
    this.worker = undefined;
    this.queue.want([]);
    this.listeners.clear();
    w.kill();
  }

  get busy(): boolean {
    return this.queue.pendingCount + this.queue.runningCount > 0;
  }

  private finish(key: string, r: ThumbnailResult): void {
    this.queue.done(key);
    this.running.delete(key);
    if (r.ok) this.made.add(key);
    else this.errors.set(key, r.error);
    const l = this.listeners.get(key);
    this.listeners.delete(key);
    for (const f of l ?? []) f(r);
    this.pump();
  }

  private pump(): void {
    if (this.isDisposed) return;
    while (this.queue.runningCount < IN_FLIGHT && this.queue.pendingCount > 0) {
      const job = this.queue.next();
      if (!job) break;
      if (this.fatal) {
        this.finish(job.key, { ok: false, error: this.fatal });
        continue;
      }
      const w = this.ensureWorker();
      this.running.set(job.key, job);
      const req: ThumbnailRequest = { type: 'thumbnail', key: job.key, file: job.file, out: job.out, size: THUMBNAIL_SIZE };
      if (!w.send(req)) {
        // the worker is gone; its exit handler restarts it and fails what was running
        break;
      }
    }
  }

  private ensureWorker(): WorkerSession<ThumbnailReply> {
    if (this.worker) return this.worker;
    let answered = false;
    const w = startWorkerSession<ThumbnailReply>(this.workerScript, (m) => {
      if (m.type === 'ready') {
        answered = true;
        this.failedStarts = 0;
        getLog().info(`Thumbnail worker started (sharp ${m.sharp})`);
      } else if (m.type === 'thumbnail') {
        this.finish(m.key, m.ok ? { ok: true, file: this.running.get(m.key)?.out ?? '' } : { ok: false, error: m.error });
      }
    });
    this.worker = w;
    void w.exited.then((x) => {
      const stopped = this.worker !== w;
      if (this.worker === w) this.worker = undefined;
      if (this.isDisposed) return;
      if (stopped) {
        // stopped on purpose: forget what it was doing
        for (const j of this.running.values()) this.queue.done(j.key);
        this.running.clear();
        return;
      }
      const why = x.stderr ? x.stderr.split('\n').slice(-3).join(' ') : `exit ${x.signal ?? x.code}`;
      if (!answered) this.failedStarts++;
      getLog().warn(`Thumbnail worker stopped (${why})`);
      if (this.failedStarts >= MAX_FAILED_STARTS) {
        this.fatal = `thumbnails cannot be made: the image worker does not start (${why})`;
        void vscode.window.showErrorMessage(`LoRA Workbench: gallery ${this.fatal}. Run "Check Image and ONNX Runtimes".`);
      }
      // what was running is retried once by the next pump, or failed when the worker cannot start
      const lost = [...this.running.values()];
      this.running.clear();
      for (const j of lost) {
        this.queue.done(j.key);
        if (this.fatal) this.finish(j.key, { ok: false, error: this.fatal });
      }
      if (!this.fatal && lost.length) {
        // the image that was being decoded may be what crashed the worker: name it
        for (const j of lost) this.finish(j.key, { ok: false, error: `the image worker stopped while decoding this file (${why})` });
      }
      this.pump();
    });
    return w;
  }
}
