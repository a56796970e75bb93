/**
 * The image audit as a long-lived, incremental state: what the image worker found per file
 * (header, perceptual hash, decode error), grouped by folder, plus stray captions and folder
 * issues. Changing one file re-runs only that file's rules; duplicate groups are recomputed from
 * the hashes in memory (only files whose byte size now collides are hashed again).
 *
 * Also the user's rule settings: a severity per code, or 'off'.
 *
 * Pure Node (no `vscode`).
 */
import * as path from 'node:path';
import {
  duplicateProblems,
  hashSizeCollisions,
  nearDuplicateProblems,
  sortProblems,
  strayCaptionProblems,
  AUDIT_DEFAULTS,
  auditImage,
  type AuditCode,
  type AuditImage,
  type AuditOptions,
  type AuditProblem,
  type AuditSeverity,
} from './audit';

/** A folder-level problem (unreadable folder, symlink loop, a name that is not UTF-8). */
export interface AuditFolderIssue {
  /** the file or folder the issue is about */
  path: string;
  /** the folder it was found in (diagnostics go on files that exist) */
  folder: string;
  code: 'unreadableFolder' | 'symlinkLoop' | 'invalidName' | 'unreadableFile';
  reason: string;
}

/** What the worker reports for one folder. */
export interface AuditedFolder {
  folder: string;
  images: AuditImage[];
  /** caption files without an image */
  strays: string[];
  issues: AuditFolderIssue[];
}

export type RuleSeverity = AuditSeverity | 'hint' | 'off';
export type RuleSettings = Partial<Record<AuditCode, RuleSeverity>>;

/** A problem after the user's settings: severity may be 'hint'. */
export interface RatedProblem extends Omit<AuditProblem, 'severity'> {
  severity: AuditSeverity | 'hint';
}

/** Applies the user's per-code severities ('off' drops the problem). */
export function rateProblems(problems: readonly AuditProblem[], rules: RuleSettings = {}): RatedProblem[] {
  const out: RatedProblem[] = [];
  for (const p of problems) {
    const s = rules[p.code];
    if (s === 'off') continue;
    out.push(s ? { ...p, severity: s } : p);
  }
  return out;
}

interface FolderState {
  files: Set<string>;
  strays: string[];
  issues: AuditFolderIssue[];
}

export class AuditSession {
  private readonly records = new Map<string, AuditImage>();
  private readonly perImage = new Map<string, AuditProblem[]>();
  private readonly folders = new Map<string, FolderState>();

  constructor(private options: AuditOptions = {}) {}

  setOptions(options: AuditOptions): void {
    this.options = options;
    this.perImage.clear();
  }

  get imageCount(): number {
    return this.records.size;
  }

  hasFolder(folder: string): boolean {
    return this.folders.has(path.resolve(folder));
  }

  folderPaths(): string[] {
    return [...this.folders.keys()];
  }

  /** Image files audited in a folder. */
  filesIn(folder: string): string[] {
    return [...(this.folders.get(path.resolve(folder))?.files ?? [])];
  }

  image(file: string): AuditImage | undefined {
    return this.records.get(path.resolve(file));
  }

  clear(): void {
    this.records.clear();
    this.perImage.clear();
    this.folders.clear();
  }

  /** Replaces everything known about these folders. */
  setFolder(result: AuditedFolder): void {
    const folder = path.resolve(result.folder);
    this.removeFolder(folder);
    const state: FolderState = { files: new Set(), strays: [...result.strays], issues: [...result.issues] };
    this.folders.set(folder, state);
    for (const img of result.images) this.put(folder, img);
  }

  removeFolder(folder: string): void {
    const f = path.resolve(folder);
    const state = this.folders.get(f);
    if (!state) return;
    for (const file of state.files) {
      this.records.delete(file);
      this.perImage.delete(file);
    }
    this.folders.delete(f);
  }

  /** Adds or replaces single images (their folder must be known; otherwise it is created). */
  upsert(images: readonly AuditImage[]): void {
    for (const img of images) {
      const folder = path.dirname(path.resolve(img.file));
      if (!this.folders.has(folder)) this.folders.set(folder, { files: new Set(), strays: [], issues: [] });
      this.put(folder, img);
    }
  }

  private put(folder: string, img: AuditImage): void {
    const file = path.resolve(img.file);
    this.records.set(file, { ...img, file });
    this.perImage.delete(file);
    this.folders.get(folder)?.files.add(file);
  }

  remove(files: readonly string[]): void {
    for (const f of files) {
      const file = path.resolve(f);
      this.records.delete(file);
      this.perImage.delete(file);
      this.folders.get(path.dirname(file))?.files.delete(file);
    }
  }

  /**
   * Updates an image's sidecars (from a rescan); only an image whose sidecars changed gets its
   * rules re-run. Returns whether anything changed.
   */
  setSidecars(file: string, sidecars: readonly string[], hasCaption: boolean): boolean {
    const rec = this.records.get(path.resolve(file));
    if (!rec) return false;
    const before = rec.sidecars ?? [];
    if (rec.hasCaption === hasCaption && before.length === sidecars.length && before.every((s, i) => s === sidecars[i])) return false;
    rec.sidecars = [...sidecars];
    rec.hasCaption = hasCaption;
    this.perImage.delete(rec.file);
    return true;
  }

  setStrays(folder: string, strays: readonly string[]): boolean {
    const state = this.folders.get(path.resolve(folder));
    if (!state) return false;
    if (state.strays.length === strays.length && state.strays.every((s, i) => s === strays[i])) return false;
    state.strays = [...strays];
    return true;
  }

  /** Hashes the content of images whose byte size collides with another's (and that have no hash yet). */
  hashCollisions(concurrency = 4): Promise<number> {
    return hashSizeCollisions([...this.records.values()].filter((i) => (i.header.fileSize ?? 0) > 0), concurrency);
  }

  /** Every problem, sorted by file then severity (before the user's severities). */
  problems(): AuditProblem[] {
    const out: AuditProblem[] = [];
    for (const [file, rec] of this.records) {
      let p = this.perImage.get(file);
      if (!p) {
        p = auditImage(rec, this.options);
        this.perImage.set(file, p);
      }
      out.push(...p);
    }
    for (const [, state] of this.folders) {
      out.push(...strayCaptionProblems(state.strays));
      for (const issue of state.issues) {
        // a name that is not UTF-8 cannot be addressed: the problem goes on its folder
        out.push({ file: issue.code === 'invalidName' ? issue.folder : issue.path, code: 'unreadable', severity: issue.code === 'unreadableFolder' ? 'error' : 'warning', message: issueMessage(issue) });
      }
    }
    const hashable = [...this.records.values()].filter((i) => (i.header.fileSize ?? 0) > 0);
    out.push(...duplicateProblems(hashable));
    out.push(...nearDuplicateProblems(hashable, this.options.nearDuplicateDistance ?? AUDIT_DEFAULTS.nearDuplicateDistance));
    return sortProblems(out);
  }
}

function issueMessage(issue: AuditFolderIssue): string {
  switch (issue.code) {
    case 'unreadableFolder':
      return `The folder cannot be read (${issue.reason}): its images are left out.`;
    case 'symlinkLoop':
      return `A symbolic link that leads back to a folder above it: not followed.`;
    case 'invalidName':
      return `A file name that is not valid UTF-8 in this folder (shown as ${path.basename(issue.path)}): it cannot be opened by name; rename it.`;
    default:
      return `${path.basename(issue.path)}: ${issue.reason}.`;
  }
}
