/**
 * What a batch tag command works on: Datasets tree nodes (one or a multi-selection), Tags view
 * tag nodes, image or tag-file URIs (a gallery selection), folders, or — from the palette — a
 * dataset or concept folder picked from a list. Every target becomes a list of caption files,
 * each with its concept folder (for the trigger word) and its image.
 */
import { readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { classifyImageName } from '../../core/dataset/images';
import type { FolderScan } from '../../core/dataset/scan';
import { filesWithTag } from '../../core/captions/tagStats';
import type { DatasetsModel } from '../datasetsView/model';
import { imageForSidecar, pickFolder } from '../autoTag/targets';
import type { CaptionDiagnostics } from '../captionDiagnostics';
import { selectionHolds } from '../datasetsView/selection';

export interface TargetFile {
  /** the caption/tag file (may not exist yet) */
  caption: string;
  /** the concept folder: the caption's folder */
  concept: string;
  image?: string;
}

/** A Tags view row handed to a command. */
export interface TagNodeArg {
  type: 'tag';
  name: string;
  key: string;
  /** the concept folder, or undefined for "all concepts" */
  concept?: string;
}

export function isTagNode(x: unknown): x is TagNodeArg {
  return !!x && typeof x === 'object' && (x as { type?: unknown }).type === 'tag' && typeof (x as { name?: unknown }).name === 'string';
}

const captionOf = (dir: string, imageName: string, ext: string): string => path.join(dir, path.parse(imageName).name + ext);

function ofFolder(f: FolderScan, ext: string): TargetFile[] {
  return f.images.map((img) => ({ caption: captionOf(f.path, img.name, ext), concept: f.path, image: path.join(f.path, img.name) }));
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** One path: a folder (its images, from the Datasets model when it knows them), an image, or a tag file. */
function ofPath(p: string, model: DatasetsModel, ext: string): TargetFile[] {
  let isDir = false;
  try {
    isDir = statSync(p).isDirectory();
  } catch {
    // a tag file that does not exist yet, or a gone file: judged by its name below
  }
  if (isDir) {
    const known = model.current.groups.flatMap((g) => g.folders).filter((f) => isInside(f.path, p));
    if (known.length) return known.flatMap((f) => ofFolder(f, ext));
    let names: string[] = [];
    try {
      names = readdirSync(p);
    } catch {
      return [];
    }
    return names.filter((n) => classifyImageName(n) === 'image').sort().map((n) => ({ caption: captionOf(p, n, ext), concept: p, image: path.join(p, n) }));
  }
  const dir = path.dirname(p);
  if (classifyImageName(path.basename(p)) === 'image') return [{ caption: captionOf(dir, path.basename(p), ext), concept: dir, image: p }];
  const caption = path.join(dir, path.parse(p).name + ext);
  const image = imageForSidecar(p);
  return [{ caption, concept: dir, ...(image ? { image } : {}) }];
}

/** One argument (tree node, tag node, URI, path). */
function ofArg(arg: unknown, model: DatasetsModel, captions: CaptionDiagnostics, ext: string): TargetFile[] | null {
  if (typeof arg === 'string') return ofPath(arg, model, ext);
  if (arg instanceof vscode.Uri) return arg.scheme === 'file' ? ofPath(arg.fsPath, model, ext) : [];
  if (isTagNode(arg)) {
    const index = captions.captionIndex;
    // no image lookup here: a tag on 100,000 files would mean a million stat calls
    return filesWithTag(index, arg.name, arg.concept).map((caption) => ({ caption, concept: index.conceptOf(caption) ?? path.dirname(caption) }));
  }
  if (arg && typeof arg === 'object' && 'type' in arg) {
    const n = arg as { type: string; group?: { folders?: FolderScan[] }; folder?: FolderScan; image?: { name: string } };
    if (n.type === 'group' && Array.isArray(n.group?.folders)) return n.group.folders.flatMap((f) => ofFolder(f, ext));
    if (n.type === 'folder' && n.folder) return ofFolder(n.folder, ext);
    if (n.type === 'image' && n.folder && n.image) {
      return [{ caption: captionOf(n.folder.path, n.image.name, ext), concept: n.folder.path, image: path.join(n.folder.path, n.image.name) }];
    }
  }
  return null;
}

/** The caption files of the command's arguments; undefined when there were none (ask). Each file once. */
export function targetsOf(
  first: unknown,
  selection: unknown,
  model: DatasetsModel,
  captions: CaptionDiagnostics,
  ext: string,
): TargetFile[] | undefined {
  // a tree passes (clicked node, selected nodes); a gallery or test passes a list of URIs
  // (a selection without the clicked row is left over from before: the clicked row alone, as the Explorer does)
  const clicked = first !== undefined && first !== null && !Array.isArray(first);
  const args: unknown[] =
    Array.isArray(selection) && selection.length > 0 && (!clicked || selectionHolds(selection, first))
      ? selection
      : Array.isArray(first)
        ? first
        : clicked
          ? [first]
          : [];
  if (args.length === 0) return undefined;
  const out = new Map<string, TargetFile>();
  for (const a of args) {
    for (const t of ofArg(a, model, captions, ext) ?? []) if (!out.has(t.caption)) out.set(t.caption, t);
  }
  return [...out.values()];
}

/** From the palette: a dataset or concept folder from the Datasets view, or one chosen on disk. */
export async function askTargets(model: DatasetsModel, ext: string, title: string): Promise<TargetFile[] | undefined> {
  const picked = await pickFolder(model, undefined, title);
  return picked ? ofPath(picked.path, model, ext) : undefined;
}
