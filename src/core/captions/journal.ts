/**
 * The one atomic writer and undo journal for caption files.
 *
 * `atomicWriteFile` writes a temporary file in the same folder, fsyncs it, gives it the old file's
 * mode and renames it over the target: a reader sees the old or the new content, never a mix.
 *
 * `Journal` (a folder) records each batch before any file changes:
 *   <journal>/<id>/old.bin   old contents of every file, concatenated
 *   <journal>/<id>/new.bin   new contents (for redo)
 *   <journal>/<id>/batch.json  the manifest: per file path, old/new sha-256, mode, blob offsets,
 *                              and the batch state (pending → applied → undoing → undone → …)
 * A batch still 'pending' (or 'undoing'/'redoing') when a journal is opened was interrupted:
 * `recover()` puts every file back to its old content (files changed by someone else meanwhile
 * are reported, not touched). `undo()` restores the newest applied batch, refusing (and naming)
 * files changed since; `redo()` re-applies the newest undone one.
 *
 * One process at a time per journal folder (the extension and the CLI do not write the same
 * dataset at once). Nothing here throws on bad input files; failures come back as data.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  fchmodSync,
  fsyncSync,
  openSync,
  promises as fsp,
  constants as fsc,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';

export interface AtomicWriteOptions {
  /** file mode for the new file (default: the existing file's mode, else 0o644) */
  mode?: number;
  /** fsync the file and its folder (default true) */
  fsync?: boolean;
}

/** Writes `data` to `file` atomically. Throws (with the temporary file removed) when it cannot. */
export async function atomicWriteFile(file: string, data: Uint8Array | string, options: AtomicWriteOptions = {}): Promise<void> {
  const dir = path.dirname(file);
  let mode = options.mode;
  if (mode === undefined) {
    try {
      mode = (await fsp.stat(file)).mode & 0o7777;
    } catch {
      mode = 0o644;
    }
  }
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.lwb-tmp`);
  const sync = options.fsync ?? true;
  try {
    const fh = await fsp.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
    try {
      await fh.writeFile(data);
      await fh.chmod(mode);
      if (sync) await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, file);
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  if (sync) await syncDir(dir);
}

/** `atomicWriteFile` without the event loop (used for many small files, a chunk at a time). */
export function atomicWriteFileSync(file: string, data: Uint8Array | string, options: AtomicWriteOptions = {}): void {
  const dir = path.dirname(file);
  let mode = options.mode;
  if (mode === undefined) {
    try {
      mode = statSync(file).mode & 0o7777;
    } catch {
      mode = 0o644;
    }
  }
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.lwb-tmp`);
  const sync = options.fsync ?? true;
  try {
    const fd = openSync(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
    try {
      writeFileSync(fd, data);
      fchmodSync(fd, mode);
      if (sync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // nothing left to clean
    }
    throw e;
  }
  if (sync) syncDirSync(dir);
}

function syncDirSync(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // some file systems cannot fsync a folder; the rename is still atomic
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await fsp.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // some file systems cannot fsync a folder; the rename is still atomic
  }
}

const TMP_NAME = /^\.(.+)\.[0-9a-f]{12}\.lwb-tmp$/;

/** Removes temporary files `atomicWriteFile` left next to these files when a process was killed. */
async function removeStaleTemporaries(files: readonly string[]): Promise<void> {
  const byDir = new Map<string, Set<string>>();
  for (const f of files) {
    const d = path.dirname(f);
    const set = byDir.get(d) ?? new Set<string>();
    set.add(path.basename(f));
    byDir.set(d, set);
  }
  for (const [dir, names] of byDir) {
    let entries: string[];
    try {
      entries = await fsp.readdir(dir);
    } catch {
      continue;
    }
    for (const e of entries) {
      const m = TMP_NAME.exec(e);
      if (m && names.has(m[1] ?? '')) await fsp.rm(path.join(dir, e), { force: true }).catch(() => undefined);
    }
  }
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export type BatchState = 'pending' | 'applied' | 'undoing' | 'undone' | 'redoing' | 'rolledBack';

interface ManifestFile {
  path: string;
  /** null: the file did not exist before */
  oldHash: string | null;
  /** null: the batch deletes the file */
  newHash: string | null;
  mode: number | null;
  old: [number, number];
  new: [number, number];
}

interface Manifest {
  version: 1;
  id: string;
  label: string;
  createdAt: string;
  state: BatchState;
  files: ManifestFile[];
  /** edits made in unsaved editors (not on disk) by the same batch; undo hands them back */
  documents?: DocumentChange[];
}

/**
 * An edit a batch made in an unsaved editor instead of on disk. The journal only records it (the
 * caller edits the editor); undo and redo return it so the caller reverses or repeats it, and a
 * batch of nothing but such edits is still a batch (so "undo" never skips past it).
 */
export interface DocumentChange {
  file: string;
  /** the editor's text before and after the batch */
  before: string;
  after: string;
}

export interface FileChange {
  file: string;
  /** the content the change was computed from (null: the file did not exist) */
  oldBytes: Uint8Array | null;
  /** the new content (null: delete the file) */
  newBytes: Uint8Array | null;
}

export interface BatchSummary {
  id: string;
  label: string;
  createdAt: string;
  state: BatchState;
  files: number;
  /** unsaved editors the batch edited */
  documents: number;
}

export interface SkippedFile {
  file: string;
  reason: string;
}

export interface ApplyResult {
  ok: boolean;
  /** null when nothing was written (no change applied) */
  id: string | null;
  written: string[];
  skipped: SkippedFile[];
  /** set when a write failed: the batch was rolled back */
  error?: string;
}

export interface UndoResult {
  ok: boolean;
  id: string | null;
  restored: string[];
  /** files changed since the batch: the undo was refused (nothing written) */
  conflicts: SkippedFile[];
  message: string;
  /** the batch's edits of unsaved editors: the caller reverses them (undo) or repeats them (redo) */
  documents?: DocumentChange[];
}

export interface ApplyOptions {
  /** fsync every file (default true; off only for benchmarks and tests on throw-away data) */
  fsync?: boolean;
  /**
   * Test hook: after this many files are written, stop as if the process had been killed
   * (no roll-back, the batch stays 'pending').
   */
  simulateCrashAfter?: number;
  /** The files are not text (images fixed by the image audit): skip the UTF-8 check. */
  binary?: boolean;
  /** Test hook: called before each file is written; a throw is a failed write. */
  beforeWrite?: (file: string, index: number) => void;
  /** edits of unsaved editors made by the same batch: recorded with it (even when no file changes) */
  documents?: readonly DocumentChange[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function isUtf8(b: Uint8Array): boolean {
  try {
    utf8.decode(b);
    return true;
  } catch {
    return false;
  }
}

function readOrNull(file: string): Buffer | null {
  try {
    return readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

function equalBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

let counter = 0;

/** files handled between two turns of the event loop */
const CHUNK = 64;

/** Runs `fn` over the items in order, letting the event loop run every CHUNK items. */
async function eachChunked<T, R>(items: readonly T[], fn: (item: T, index: number) => R): Promise<R[]> {
  const out = new Array<R>(items.length);
  for (let i = 0; i < items.length; i++) {
    if (i > 0 && i % CHUNK === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    out[i] = fn(items[i] as T, i);
  }
  return out;
}

export class Journal {
  constructor(
    readonly dir: string,
    private readonly defaults: { fsync?: boolean } = {},
  ) {}

  private newId(): string {
    counter = (counter + 1) % 1_000_000;
    return `${new Date().toISOString().replace(/[-:.]/g, '')}-${String(counter).padStart(6, '0')}-${randomBytes(3).toString('hex')}`;
  }

  private async writeManifest(m: Manifest, sync: boolean): Promise<void> {
    await atomicWriteFile(path.join(this.dir, m.id, 'batch.json'), JSON.stringify(m, null, 1), { mode: 0o644, fsync: sync });
  }

  private async readManifest(id: string): Promise<Manifest | null> {
    try {
      const m = JSON.parse(await fsp.readFile(path.join(this.dir, id, 'batch.json'), 'utf8')) as Manifest;
      return m && m.version === 1 && Array.isArray(m.files) ? m : null;
    } catch {
      return null;
    }
  }

  private async manifests(): Promise<Manifest[]> {
    let names: string[];
    try {
      names = await fsp.readdir(this.dir);
    } catch {
      return [];
    }
    const out: Manifest[] = [];
    for (const n of names.sort()) {
      const m = await this.readManifest(n);
      if (m) out.push(m);
    }
    return out;
  }

  /** Batches, oldest first. */
  async list(): Promise<BatchSummary[]> {
    return (await this.manifests()).map((m) => ({ id: m.id, label: m.label, createdAt: m.createdAt, state: m.state, files: m.files.length, documents: m.documents?.length ?? 0 }));
  }

  /** Batches interrupted by a crash (state pending, undoing or redoing). */
  async interrupted(): Promise<BatchSummary[]> {
    return (await this.list()).filter((b) => b.state === 'pending' || b.state === 'undoing' || b.state === 'redoing');
  }

  /** Loads a batch's old or new blob file (once; kept until another is loaded). */
  private async loadBlob(m: Manifest, which: 'old' | 'new'): Promise<void> {
    const key = `${m.id}/${which}`;
    if (this.blobCache.has(key)) return;
    const all = await fsp.readFile(path.join(this.dir, m.id, `${which}.bin`));
    this.blobCache.clear();
    this.blobCache.set(key, all);
  }

  /** The old or new contents of one file of a batch (after `loadBlob`). */
  private blob(m: Manifest, which: 'old' | 'new', f: ManifestFile): Uint8Array {
    const [off, len] = which === 'old' ? f.old : f.new;
    if (len === 0) return new Uint8Array(0);
    const all = this.blobCache.get(`${m.id}/${which}`);
    if (!all || off + len > all.length) throw new Error(`the journal of batch ${m.id} is damaged (${which}.bin is missing or too short)`);
    return all.subarray(off, off + len);
  }

  private readonly blobCache = new Map<string, Buffer>();

  /**
   * Writes a batch: every file whose current content is still `oldBytes` gets `newBytes`. Files
   * changed since, not UTF-8, or read-only are skipped and reported. The journal entry is on disk
   * before the first file changes. When a write fails, the files already written are restored.
   */
  async apply(label: string, changes: readonly FileChange[], options: ApplyOptions = {}): Promise<ApplyResult> {
    const sync = options.fsync ?? this.defaults.fsync ?? true;
    const skipped: SkippedFile[] = [];
    const todo: Array<{ change: FileChange; mode: number | null }> = [];
    const seen = new Set<string>();
    const unique: FileChange[] = [];
    for (const change of changes) {
      const file = path.resolve(change.file);
      if (seen.has(file)) {
        skipped.push({ file: change.file, reason: 'listed twice in the batch' });
        continue;
      }
      seen.add(file);
      unique.push(change);
    }
    const checked = await eachChunked(unique, (change) => {
      const file = path.resolve(change.file);
      let current: Buffer | null;
      let mode: number | null = null;
      try {
        current = readOrNull(file);
        if (current !== null) mode = statSync(file).mode & 0o7777;
      } catch (e) {
        return { skip: `cannot be read: ${(e as Error).message}` };
      }
      if (!equalBytes(current, change.oldBytes)) return { skip: 'changed on disk since the preview: left untouched' };
      if (current !== null && !options.binary && !isUtf8(current)) return { skip: 'not UTF-8: left untouched' };
      if (mode !== null && (mode & 0o200) === 0) return { skip: 'read-only: left untouched' };
      if (equalBytes(current, change.newBytes)) return { same: true };
      return { change: { ...change, file }, mode };
    });
    checked.forEach((r, i) => {
      if ('skip' in r && r.skip !== undefined) skipped.push({ file: (unique[i] as FileChange).file, reason: r.skip });
      else if ('change' in r && r.change) todo.push({ change: r.change, mode: r.mode });
    });
    const documents = (options.documents ?? []).map((d) => ({ file: d.file, before: d.before, after: d.after }));
    if (todo.length === 0 && documents.length === 0) return { ok: true, id: null, written: [], skipped };

    const id = this.newId();
    const folder = path.join(this.dir, id);
    try {
      await fsp.mkdir(folder, { recursive: true });
      const oldParts: Uint8Array[] = [];
      const newParts: Uint8Array[] = [];
      let oldOff = 0;
      let newOff = 0;
      const files: ManifestFile[] = todo.map(({ change, mode }) => {
        const o = change.oldBytes ?? new Uint8Array(0);
        const n = change.newBytes ?? new Uint8Array(0);
        oldParts.push(o);
        newParts.push(n);
        const f: ManifestFile = {
          path: change.file,
          oldHash: change.oldBytes === null ? null : sha256(change.oldBytes),
          newHash: change.newBytes === null ? null : sha256(change.newBytes),
          mode,
          old: [oldOff, o.byteLength],
          new: [newOff, n.byteLength],
        };
        oldOff += o.byteLength;
        newOff += n.byteLength;
        return f;
      });
      await atomicWriteFile(path.join(folder, 'old.bin'), Buffer.concat(oldParts), { mode: 0o644, fsync: sync });
      await atomicWriteFile(path.join(folder, 'new.bin'), Buffer.concat(newParts), { mode: 0o644, fsync: sync });
      await this.writeManifest({ version: 1, id, label, createdAt: new Date().toISOString(), state: 'pending', files, ...(documents.length ? { documents } : {}) }, sync);
    } catch (e) {
      await fsp.rm(folder, { recursive: true, force: true }).catch(() => undefined);
      return { ok: false, id: null, written: [], skipped, error: `the journal could not be written in ${this.dir}: ${(e as Error).message}` };
    }
    const manifest = (await this.readManifest(id)) as Manifest;

    const written: string[] = [];
    let failure: { file: string; error: Error } | null = null;
    let crashed = false;
    await eachChunked(todo, ({ change, mode }, i) => {
      if (failure || crashed) return;
      if (options.simulateCrashAfter !== undefined && i >= options.simulateCrashAfter) {
        crashed = true;
        return;
      }
      try {
        options.beforeWrite?.(change.file, i);
        this.put(change.file, change.newBytes, mode, sync);
        written.push(change.file);
      } catch (e) {
        failure ??= { file: change.file, error: e as Error };
      }
    });
    if (crashed) return { ok: false, id, written, skipped, error: 'simulated crash' };
    if (failure !== null) {
      const { file, error } = failure as { file: string; error: Error };
      const rb = await this.rollBack(manifest, sync);
      const left = rb.conflicts.length ? ` (${rb.conflicts.length} file(s) could not be restored: ${rb.conflicts.map((c) => c.file).join(', ')})` : '';
      return {
        ok: false,
        id,
        written: [],
        skipped,
        error: `writing ${file} failed: ${error.message}; the batch was rolled back${left}`,
      };
    }
    written.sort();
    manifest.state = 'applied';
    try {
      await this.writeManifest(manifest, sync);
    } catch (e) {
      // every file is written; the entry still says 'pending', so recover() would roll it back
      return { ok: false, id, written, skipped, error: `the files were written but the journal could not be updated: ${(e as Error).message}` };
    }
    return { ok: true, id, written, skipped };
  }

  private put(file: string, bytes: Uint8Array | null, mode: number | null, sync: boolean): void {
    if (bytes === null) rmSync(file, { force: true });
    else atomicWriteFileSync(file, bytes, { ...(mode !== null ? { mode } : {}), fsync: sync });
  }

  /** Restores the old content of every file of a batch that still has its old or new content. */
  private async rollBack(m: Manifest, sync: boolean): Promise<{ restored: string[]; conflicts: SkippedFile[] }> {
    const restored: string[] = [];
    const conflicts: SkippedFile[] = [];
    try {
      await this.loadBlob(m, 'old');
    } catch {
      // reported per file below
    }
    await eachChunked(m.files, (f) => {
      try {
        const cur = readOrNull(f.path);
        const h = cur === null ? null : sha256(cur);
        if (h === f.oldHash) return;
        if (h !== f.newHash) {
          conflicts.push({ file: f.path, reason: 'changed since the batch: left as it is' });
          return;
        }
        this.put(f.path, f.oldHash === null ? null : this.blob(m, 'old', f), f.mode, sync);
        restored.push(f.path);
      } catch (e) {
        conflicts.push({ file: f.path, reason: (e as Error).message });
      }
    });
    restored.sort();
    conflicts.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
    m.state = 'rolledBack';
    await this.writeManifest(m, sync).catch(() => undefined);
    return { restored, conflicts };
  }

  /**
   * Replaces the unsaved-editor edits recorded with a batch (the caller could make fewer than it
   * planned). A batch left with no file and no editor edit is marked rolled back: undo skips it.
   */
  async setDocuments(id: string, documents: readonly DocumentChange[]): Promise<void> {
    const m = await this.readManifest(id);
    if (!m) throw new Error(`no batch ${id} in the journal`);
    if (documents.length) m.documents = documents.map((d) => ({ file: d.file, before: d.before, after: d.after }));
    else delete m.documents;
    if (m.files.length === 0 && !documents.length && m.state === 'applied') m.state = 'rolledBack';
    await this.writeManifest(m, this.defaults.fsync ?? true);
  }

  /**
   * Deletes all but the newest `keep` finished batches (interrupted ones are never deleted).
   * Returns the ids removed.
   */
  async prune(keep = 20): Promise<string[]> {
    const finished = (await this.manifests()).filter((m) => m.state === 'applied' || m.state === 'undone' || m.state === 'rolledBack');
    const drop = finished.slice(0, Math.max(0, finished.length - Math.max(0, Math.trunc(keep))));
    const removed: string[] = [];
    for (const m of drop) {
      try {
        await fsp.rm(path.join(this.dir, m.id), { recursive: true, force: true });
        removed.push(m.id);
      } catch {
        // left for the next prune
      }
    }
    return removed;
  }

  /** Rolls back batches interrupted by a crash. */
  async recover(): Promise<{ batches: string[]; restored: string[]; conflicts: SkippedFile[] }> {
    const sync = this.defaults.fsync ?? true;
    const batches: string[] = [];
    const restored: string[] = [];
    const conflicts: SkippedFile[] = [];
    for (const m of await this.manifests()) {
      if (m.state !== 'pending' && m.state !== 'undoing' && m.state !== 'redoing') continue;
      batches.push(m.id);
      await removeStaleTemporaries(m.files.map((f) => f.path));
      if (m.state === 'undoing') {
        // finish the undo: every file goes back to its old content
        const r = await this.rollBack(m, sync);
        m.state = 'undone';
        await this.writeManifest(m, sync).catch(() => undefined);
        restored.push(...r.restored);
        conflicts.push(...r.conflicts);
      } else {
        const wasRedo = m.state === 'redoing';
        const r = await this.rollBack(m, sync);
        if (wasRedo) {
          m.state = 'undone';
          await this.writeManifest(m, sync).catch(() => undefined);
        }
        restored.push(...r.restored);
        conflicts.push(...r.conflicts);
      }
    }
    return { batches, restored, conflicts };
  }

  /** Restores the newest applied batch; refuses (writing nothing) when a file changed since. */
  async undo(): Promise<UndoResult> {
    const sync = this.defaults.fsync ?? true;
    const all = await this.manifests();
    if (all.some((m) => m.state === 'pending' || m.state === 'undoing' || m.state === 'redoing')) {
      return { ok: false, id: null, restored: [], conflicts: [], message: 'an interrupted batch must be recovered first' };
    }
    const m = [...all].reverse().find((x) => x.state === 'applied');
    if (!m) return { ok: false, id: null, restored: [], conflicts: [], message: 'nothing to undo' };
    return this.swap(m, 'old', sync);
  }

  /** Re-applies the batch undone last (like an editor's redo stack; a new batch clears it). */
  async redo(): Promise<UndoResult> {
    const sync = this.defaults.fsync ?? true;
    const all = await this.manifests();
    // the redo stack: undone batches newer than the newest applied one; the last undone is the oldest of them
    const newestApplied = [...all].reverse().find((x) => x.state === 'applied');
    const m = all.find((x) => x.state === 'undone' && (!newestApplied || x.id > newestApplied.id));
    if (!m) {
      return { ok: false, id: null, restored: [], conflicts: [], message: 'nothing to redo' };
    }
    return this.swap(m, 'new', sync);
  }

  private async swap(m: Manifest, to: 'old' | 'new', sync: boolean): Promise<UndoResult> {
    const expect = (f: ManifestFile): string | null => (to === 'old' ? f.newHash : f.oldHash);
    const conflicts: SkippedFile[] = [];
    await eachChunked(m.files, (f) => {
      try {
        const cur = readOrNull(f.path);
        const h = cur === null ? null : sha256(cur);
        if (h !== expect(f)) {
          conflicts.push({ file: f.path, reason: cur === null ? 'deleted since the batch' : 'changed since the batch' });
        }
      } catch (e) {
        conflicts.push({ file: f.path, reason: (e as Error).message });
      }
    });
    conflicts.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
    const verb = to === 'old' ? 'undo' : 'redo';
    if (conflicts.length > 0) {
      return {
        ok: false,
        id: m.id,
        restored: [],
        conflicts,
        message: `cannot ${verb} "${m.label}": ${conflicts.length} file(s) changed since: ${conflicts.map((c) => c.file).join(', ')}`,
      };
    }
    const restored: string[] = [];
    try {
      m.state = to === 'old' ? 'undoing' : 'redoing';
      await this.writeManifest(m, sync);
      let error: Error | null = null;
      await this.loadBlob(m, to);
      await eachChunked(m.files, (f) => {
        if (error) return;
        try {
          const hash = to === 'old' ? f.oldHash : f.newHash;
          this.put(f.path, hash === null ? null : this.blob(m, to, f), f.mode, sync);
          restored.push(f.path);
        } catch (e) {
          error ??= e as Error;
        }
      });
      if (error) throw error;
      restored.sort();
      m.state = to === 'old' ? 'undone' : 'applied';
      await this.writeManifest(m, sync);
    } catch (e) {
      // the manifest says 'undoing'/'redoing': recover() finishes or reverts it
      return {
        ok: false,
        id: m.id,
        restored,
        conflicts: [],
        message: `${verb} of "${m.label}" stopped: ${(e as Error).message}; run recover to finish it`,
      };
    }
    const docs = m.documents ?? [];
    const editors = docs.length ? ` and ${docs.length} unsaved editor(s)` : '';
    return {
      ok: true,
      id: m.id,
      restored,
      conflicts: [],
      message: `${verb === 'undo' ? 'undid' : 'redid'} "${m.label}": ${restored.length} file(s)${editors}`,
      ...(docs.length ? { documents: docs.map((d) => ({ ...d })) } : {}),
    };
  }
}
