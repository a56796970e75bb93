import * as path from 'node:path';
import { compareNames, type FolderScan } from './scan';

/**
 * A dataset as the Datasets view shows it:
 * - `kohyaFolder`: a folder whose subfolders are kohya concept folders (`5_tk girl`), i.e. what
 *   you pass as `train_data_dir` or `reg_data_dir`;
 * - `imageFolder`: a folder that holds images itself and is not a concept folder.
 */
export interface DatasetGroup {
  kind: 'kohyaFolder' | 'imageFolder';
  /** Absolute path of the dataset folder. */
  path: string;
  /** Folders with images: the concept folders of a kohya folder, or the folder itself. */
  folders: FolderScan[];
  imageCount: number;
}

export function groupDatasets(folders: readonly FolderScan[]): DatasetGroup[] {
  const byParent = new Map<string, FolderScan[]>();
  const groups: DatasetGroup[] = [];
  for (const f of folders) {
    if (f.concept.ok) {
      const parent = path.dirname(f.path);
      const list = byParent.get(parent);
      if (list) list.push(f);
      else byParent.set(parent, [f]);
    } else {
      groups.push({ kind: 'imageFolder', path: f.path, folders: [f], imageCount: f.images.length });
    }
  }
  for (const [parent, list] of byParent) {
    list.sort((a, b) => compareNames(path.basename(a.path), path.basename(b.path)));
    groups.push({
      kind: 'kohyaFolder',
      path: parent,
      folders: list,
      imageCount: list.reduce((n, f) => n + f.images.length, 0),
    });
  }
  return groups.sort((a, b) => compareNames(a.path, b.path));
}
