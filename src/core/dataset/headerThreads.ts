/**
 * Reads the first bytes of many files on worker threads, for the dataset index's cold build.
 *
 * Each file costs an open, a read, sometimes an fstat and a close. Made one after another on the
 * main thread, those system calls are most of a cold index (and what Python's `imagesize` pays
 * too); here a few threads make them side by side while the main thread parses what has arrived.
 * The threads send back each file's first `firstRead` bytes (the whole file when it is shorter),
 * its size and modification time when it is longer (an fstat, exactly when `readImageHeaderSync`
 * makes one), an optional sidecar's bytes, or the error. Buffers are transferred, not copied.
 * With `parse`, a thread first tries `fastImageFacts` (fastHeader.ts, run from its source text)
 * on the bytes and sends only the facts when it succeeds, which is the common clean PNG, JPEG or
 * WebP; every other file's bytes go to `headerFromFirstRead` in the caller as before.
 *
 * The thread code is plain JavaScript given to `new Worker(..., { eval: true })`, so it works the
 * same from the extension bundle, the CLI, the tests and the benchmarks (no worker file to find).
 *
 * Pure Node (no `vscode`).
 */
import { Worker } from 'node:worker_threads';
import * as os from 'node:os';
import { crcTable, exifOrientation, fastImageFacts, FACT_SLOTS } from './fastHeader';
import { headerFromFacts, type FileHeader } from './imageHeader';

/** One file's raw read, as a thread reported it. */
export interface FirstRead {
  /** the bytes read from offset 0 (at most `firstRead`); empty when `header` is set */
  bytes: Uint8Array;
  /** the header, when the thread parsed it (`parse`) */
  header?: FileHeader;
  /** set when the read filled `firstRead` bytes (then the file was stat'ed) */
  stat?: { size: number; mtimeMs: number; isFile(): boolean };
  /** the error of the open/read/fstat, if any */
  error?: { code: string | undefined; message: string };
  /** the sidecar's bytes (whole file), when one was asked for and could be read */
  sidecar?: Uint8Array;
  /** the sidecar was asked for but could not be read */
  sidecarFailed?: boolean;
}

export interface ThreadedReadOptions {
  firstRead: number;
  /** worker threads (default: the number of CPUs, 2 to 4) */
  threads?: number;
  /** files per message (default 256) */
  batch?: number;
  signal?: AbortSignal;
  /** a sidecar to read whole along with file i (the tag file), or undefined */
  sidecarOf?: (i: number) => string | undefined;
  /** parse the common headers on the threads (see `FirstRead.header`) */
  parse?: { checkEnd: boolean };
}

/** Largest sidecar a thread reads (bigger ones are read by the caller, like a failed read). */
const SIDECAR_LIMIT = 256 * 1024;

/** per file in a reply: bytes read (-1: error), size, mtimeMs, isFile (1/0/-1 not stat'ed),
 * sidecar offset, sidecar length (-1 failed, -2 none), offset of its bytes, then the facts of
 * `fastImageFacts` (format 0: not parsed, the bytes were sent) */
const STRIDE = 7 + FACT_SLOTS;

const THREAD_SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const crcTable = (${crcTable.toString()});
const exifOrientation = (${exifOrientation.toString()});
const fastImageFacts = (${fastImageFacts.toString()});
const CRC = crcTable();
const STRIDE = ${STRIDE};
const sideBuf = Buffer.allocUnsafe(${SIDECAR_LIMIT});
let scratch = Buffer.allocUnsafe(0);
parentPort.on('message', (m) => {
  const n = m.files.length;
  const first = m.first;
  const parse = m.parse;
  if (scratch.length !== first) scratch = Buffer.allocUnsafe(first);
  let bytes;
  let kept = 0;
  const meta = new Float64Array(n * STRIDE);
  const errors = [];
  const sides = [];
  let sideTotal = 0;
  for (let i = 0; i < n; i++) {
    const o = i * STRIDE;
    meta[o + 3] = -1;
    meta[o + 5] = -2;
    let fd;
    try {
      fd = fs.openSync(m.prefix + m.files[i], 'r');
      const got = fs.readSync(fd, scratch, 0, first, 0);
      meta[o] = got;
      let size = got;
      if (got === first) {
        const st = fs.fstatSync(fd);
        meta[o + 1] = st.size;
        meta[o + 2] = st.mtimeMs;
        meta[o + 3] = st.isFile() ? 1 : 0;
        size = st.isFile() ? st.size : -1;
      }
      if (got > 0 && !(parse && size >= 0 && fastImageFacts(scratch, got, size, parse.checkEnd, CRC, exifOrientation, meta, o + 7))) {
        if (!bytes) bytes = new Uint8Array(n * first);
        bytes.set(scratch.subarray(0, got), kept);
        meta[o + 6] = kept;
        kept += got;
      }
    } catch (e) {
      meta[o] = -1;
      errors.push([i, e && e.code, String(e && e.message)]);
    } finally {
      if (fd !== undefined) try { fs.closeSync(fd); } catch {}
    }
    const side = m.sidecars ? m.sidecars[i] : undefined;
    if (side) {
      let sfd;
      try {
        sfd = fs.openSync(m.prefix + side, 'r');
        const got = fs.readSync(sfd, sideBuf, 0, sideBuf.length, 0);
        if (got === sideBuf.length) meta[o + 5] = -1;
        else {
          sides.push(Buffer.from(sideBuf.subarray(0, got)));
          meta[o + 4] = sideTotal;
          meta[o + 5] = got;
          sideTotal += got;
        }
      } catch {
        meta[o + 5] = -1;
      } finally {
        if (sfd !== undefined) try { fs.closeSync(sfd); } catch {}
      }
    }
  }
  if (!bytes) bytes = new Uint8Array(0);
  const side = new Uint8Array(sideTotal);
  let at = 0;
  for (const b of sides) { side.set(b, at); at += b.length; }
  parentPort.postMessage({ id: m.id, bytes, meta, errors, side }, [bytes.buffer, meta.buffer, side.buffer]);
});
`;

interface Reply {
  id: number;
  bytes: Uint8Array;
  meta: Float64Array;
  errors: Array<[number, string | undefined, string]>;
  side: Uint8Array;
}

function defaultThreads(): number {
  const cpus = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(2, Math.min(4, cpus));
}

/** Reads handed to the threads as they come (see `startThreadedReads`). */
export interface ThreadedReads {
  /**
   * Queues more files, `prefix + files[k]` (a folder's path with its separator and the names in
   * it: the threads are sent the short names); they are numbered on from the files queued before
   * (the first call's first file is 0). `sidecars[k]`, when given, is a file `prefix +
   * sidecars[k]` to read whole along with `files[k]`. The lists are kept as they are until their
   * files are sent: the caller must not change them.
   */
  add(prefix: string, files: readonly string[], sidecars?: ReadonlyArray<string | undefined>): void;
  /**
   * No more files: resolves when every queued file was reported, handed back in `unreported`
   * (its thread failed, or no thread could start), or the signal aborted (the files not sent yet
   * are then neither). The threads are stopped.
   */
  finish(): Promise<{ unreported: number[] }>;
}

/**
 * Starts the reader threads at once and reads files as they are queued with `add` (a folder as
 * soon as it is listed, while the next folders are still being listed), calling `onFile(i, read)`
 * for each, batch by batch as they arrive (batches may arrive out of order; within a batch in
 * order). `onFile` is never called twice for a file, nor for a file handed back. `read` is one
 * object refilled for every file (no object per file for the garbage collector): keep what it
 * holds, not the object itself.
 */
export function startThreadedReads(options: Omit<ThreadedReadOptions, 'sidecarOf'>, onFile: (i: number, read: FirstRead) => void): ThreadedReads {
  const batch = Math.max(1, options.batch ?? 256);
  const first = options.firstRead;
  /** files queued so far */
  let queued = 0;
  /**
   * Each batch in queue order (`next` is the first one not sent yet): its first and end file
   * numbers, the prefix, and where its names are (the list given to `add`, kept as it is: no
   * copy of every name, which cost a cold index of 100,000 images some 40 ms), with the sidecars.
   */
  const batches: Array<{ s: number; e: number; prefix: string; names: readonly string[]; at: number; sides: ReadonlyArray<string | undefined> | undefined }> = [];
  let next = 0;
  let active = 0;
  let ended = false;
  let finished = false;
  const unreported: number[] = [];
  const workers: Worker[] = [];
  /** the batches each thread has in flight */
  const inFlight = new Map<Worker, Set<number>>();
  let resolveDone: () => void = () => undefined;
  const allDone = new Promise<void>((resolve) => (resolveDone = resolve));
  const aborted = (): boolean => options.signal?.aborted === true;

  const done = (): void => {
    if (!finished && ended && active === 0 && (next >= batches.length || aborted())) {
      finished = true;
      resolveDone();
    }
  };
  const handBackUnsent = (): void => {
    while (next < batches.length) {
      const { s, e } = batches[next++] as (typeof batches)[number];
      for (let k = s; k < e; k++) unreported.push(k);
    }
  };
  const send = (w: Worker): boolean => {
    if (aborted() || next >= batches.length) return false;
    const id = next++;
    const b = batches[id] as (typeof batches)[number];
    const prefix = b.prefix;
    const list = b.names.slice(b.at, b.at + b.e - b.s);
    const sidecars = b.sides?.slice(b.at, b.at + b.e - b.s);
    active++;
    inFlight.get(w)?.add(id);
    w.postMessage({ id, prefix, files: list, first, sidecars, parse: options.parse });
    return true;
  };
  /**
   * keeps each thread eight batches deep (about 2,000 files): a new batch is sent when a reply is
   * handled, and the main thread, busy listing the next folders, handles replies late; two deep,
   * the threads waited for work
   */
  const pump = (): void => {
    for (const w of workers) {
      const mine = inFlight.get(w);
      while (mine && mine.size < 8 && send(w));
    }
  };
  const onReply = (w: Worker, r: Reply): void => {
    active--;
    inFlight.get(w)?.delete(r.id);
    // keep the thread busy while this batch is parsed here
    pump();
    const { s, e } = batches[r.id] as (typeof batches)[number];
    const errs = r.errors.length ? new Map(r.errors.map(([i, code, message]) => [i, { code, message }])) : undefined;
    // one object for the whole reply, refilled for each file (see `onFile`)
    const read: FirstRead = { bytes: EMPTY, header: undefined, stat: undefined, error: undefined, sidecar: undefined, sidecarFailed: undefined };
    for (let k = 0; k < e - s; k++) {
      const o = k * STRIDE;
      const got = r.meta[o] as number;
      const parsed = got > 0 && (r.meta[o + 7] as number) > 0;
      const at = r.meta[o + 6] as number;
      read.bytes = got > 0 && !parsed ? r.bytes.subarray(at, at + got) : EMPTY;
      read.error = got < 0 ? (errs?.get(k) ?? { code: undefined, message: 'read failed' }) : undefined;
      read.stat = got >= 0 && (r.meta[o + 3] as number) >= 0 ? { size: r.meta[o + 1] as number, mtimeMs: r.meta[o + 2] as number, isFile: r.meta[o + 3] === 1 ? yes : no } : undefined;
      read.header = !parsed ? undefined : got < first ? headerFromFacts(r.meta, o + 7, got, undefined) : headerFromFacts(r.meta, o + 7, r.meta[o + 1] as number, r.meta[o + 2] as number);
      const sideLen = r.meta[o + 5] as number;
      read.sidecar = sideLen >= 0 ? r.side.subarray(r.meta[o + 4] as number, (r.meta[o + 4] as number) + sideLen) : undefined;
      read.sidecarFailed = sideLen === -1 ? true : undefined;
      try {
        onFile(s + k, read);
      } catch {
        // a listener's error must not stop the reads
      }
    }
    done();
  };
  const onFail = (w: Worker): void => {
    // this thread is gone: its batches go back to the caller, the others carry on
    for (const id of inFlight.get(w) ?? []) {
      active--;
      const { s, e } = batches[id] as (typeof batches)[number];
      for (let i = s; i < e; i++) unreported.push(i);
    }
    inFlight.delete(w);
    const i = workers.indexOf(w);
    if (i >= 0) workers.splice(i, 1);
    void w.terminate();
    // nobody left: the remaining batches are the caller's too
    if (workers.length === 0) handBackUnsent();
    else pump();
    done();
  };
  const threads = Math.max(1, options.threads ?? defaultThreads());
  for (let t = 0; t < threads; t++) {
    let w: Worker;
    try {
      w = new Worker(THREAD_SOURCE, { eval: true });
    } catch {
      continue;
    }
    workers.push(w);
    inFlight.set(w, new Set());
    w.on('message', (r: Reply) => onReply(w, r));
    w.on('error', () => onFail(w));
    w.on('exit', () => {
      if (workers.includes(w)) onFail(w);
    });
  }
  const onAbort = (): void => done();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  return {
    add(prefix, list, sidecars) {
      if (ended) throw new Error('startThreadedReads: add after finish');
      const sides = sidecars?.some((x) => x !== undefined) ? sidecars : undefined;
      for (let at = 0; at < list.length; at += batch) {
        const n = Math.min(batch, list.length - at);
        batches.push({ s: queued + at, e: queued + at + n, prefix, names: list, at, sides });
      }
      queued += list.length;
      if (workers.length === 0) handBackUnsent();
      else pump();
    },
    async finish() {
      ended = true;
      done();
      await allDone;
      options.signal?.removeEventListener('abort', onAbort);
      for (const w of workers.splice(0)) void w.terminate();
      // the threads' listeners live until they exit: let the names go now
      batches.length = 0;
      return { unreported };
    },
  };
}

const EMPTY = new Uint8Array(0);
const yes = (): boolean => true;
const no = (): boolean => false;

/**
 * Reads `files` on worker threads and calls `onFile(i, read)` for each, batch by batch as they
 * arrive (batches may arrive out of order; within a batch in order). Resolves when every file was
 * reported, or when `signal` aborts (the rest are not reported). Files whose thread failed, or all
 * of them when no thread can start, come back in `unreported` for the caller to read itself;
 * `onFile` is never called twice for a file, and `read` is refilled for each (see `startThreadedReads`).
 */
export async function readFirstBytesThreaded(
  files: readonly string[],
  options: ThreadedReadOptions,
  onFile: (i: number, read: FirstRead) => void,
): Promise<{ unreported: number[] }> {
  const batch = Math.max(1, options.batch ?? 256);
  const reads = startThreadedReads(
    { ...options, threads: Math.max(1, Math.min(options.threads ?? defaultThreads(), Math.ceil(files.length / batch))) },
    onFile,
  );
  reads.add('', files, options.sidecarOf ? files.map((_, i) => options.sidecarOf?.(i)) : undefined);
  return reads.finish();
}
