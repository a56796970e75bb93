/**
 * The file plans behind the Datasets tree's commands: renaming an image with its sidecars,
 * changing a concept folder's repeats, naming a new concept folder. Pure: they compute names and
 * refuse what would overwrite or confuse sd-scripts; the adapter performs the renames.
 */
import * as path from 'node:path';
import { parseConceptFolderName, type FolderScan } from './scan';

export type Plan = { ok: true; moves: Array<[string, string]> } | { ok: false; reason: string };

const BAD_NAME = /[/\\\0]/;

/** The part of a sidecar name after the image's stem (`.txt`, `_1024x1024_sdxl.npz`). */
function suffixAfterStem(file: string, stem: string): string | undefined {
  const base = path.basename(file);
  return base.startsWith(stem) ? base.slice(stem.length) : undefined;
}

/**
 * Renames `image` (and every file that belongs to it: captions, tags, latent caches) to
 * `newStem`, keeping each file's extension and suffix. `exists` says whether a target is taken.
 */
export function planImageRename(image: string, sidecars: readonly string[], newStem: string, exists: (file: string) => boolean): Plan {
  const stem = newStem.trim();
  if (!stem) return { ok: false, reason: 'The new name is empty.' };
  if (BAD_NAME.test(stem) || stem === '.' || stem === '..') return { ok: false, reason: `“${newStem}” cannot be a file name here (no slashes).` };
  const dir = path.dirname(image);
  const ext = path.extname(image);
  const oldStem = path.basename(image, ext);
  if (stem === oldStem) return { ok: false, reason: 'The name is unchanged.' };
  const moves: Array<[string, string]> = [[image, path.join(dir, stem + ext)]];
  for (const s of sidecars) {
    const suffix = suffixAfterStem(s, oldStem);
    if (suffix === undefined) continue;
    moves.push([s, path.join(path.dirname(s), stem + suffix)]);
  }
  const taken = moves.filter(([, to]) => exists(to)).map(([, to]) => path.basename(to));
  if (taken.length) return { ok: false, reason: `${taken.join(', ')} already exist${taken.length === 1 ? 's' : ''}: nothing was renamed.` };
  return { ok: true, moves };
}

/** `5_tk girl` with 10 repeats → `10_tk girl`; refuses folders sd-scripts does not read as concepts. */
export function renameForRepeats(folderName: string, repeats: number): { ok: true; name: string } | { ok: false; reason: string } {
  if (!Number.isInteger(repeats) || repeats < 1) return { ok: false, reason: 'Repeats must be a whole number of at least 1.' };
  const c = parseConceptFolderName(folderName);
  if (!c.ok) return { ok: false, reason: `${folderName} is not a kohya concept folder (N_name).` };
  return { ok: true, name: c.classTokens || folderName.includes('_') ? `${repeats}_${c.classTokens}` : String(repeats) };
}

/** The name of a new concept folder, checked the way sd-scripts will read it. */
export function conceptFolderName(repeats: number, classTokens: string): { ok: true; name: string } | { ok: false; reason: string } {
  if (!Number.isInteger(repeats) || repeats < 1) return { ok: false, reason: 'Repeats must be a whole number of at least 1.' };
  const tokens = classTokens.trim();
  if (BAD_NAME.test(tokens)) return { ok: false, reason: 'Class tokens cannot contain slashes.' };
  return { ok: true, name: `${repeats}_${tokens}` };
}

/**
 * Why sd-scripts leaves out an empty folder named like a concept folder (it is shown so that a
 * folder just made by "New Concept Folder", or whose last image was deleted, does not vanish).
 */
export function emptyFolderReason(f: Pick<FolderScan, 'images' | 'ignored' | 'concept'>): string | undefined {
  if (f.images.length > 0) return undefined;
  const what = f.ignored.length ? 'no image sd-scripts loads' : 'no images yet';
  if (!f.concept.ok) return `${what}, and ${f.concept.reason}`;
  return `${what}: sd-scripts leaves out a concept folder without images (it warns that no images were found)`;
}
