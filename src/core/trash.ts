/**
 * Moves files to the desktop trash as the freedesktop.org Trash specification describes it
 * (`$XDG_DATA_HOME/Trash/{files,info}`), for hosts whose file system has no trash of its own
 * (VS Code's server, code-server). Each file gets a `.trashinfo` with its original path, so the
 * desktop's trash can restore it. Pure Node (no `vscode`).
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface TrashedFile {
  file: string;
  /** where it is now */
  trashed: string;
}

export function homeTrashDir(env: NodeJS.ProcessEnv = process.env): string {
  const data = env.XDG_DATA_HOME && path.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : path.join(os.homedir(), '.local', 'share');
  return path.join(data, 'Trash');
}

function deletionDate(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Moves one file (or folder) to the trash; throws with a clear message when it cannot. */
export async function moveToTrash(file: string, trashDir = homeTrashDir()): Promise<TrashedFile> {
  const abs = path.resolve(file);
  await fsp.lstat(abs); // a clear ENOENT before anything is written
  const filesDir = path.join(trashDir, 'files');
  const infoDir = path.join(trashDir, 'info');
  await fsp.mkdir(filesDir, { recursive: true, mode: 0o700 });
  await fsp.mkdir(infoDir, { recursive: true, mode: 0o700 });
  const base = path.basename(abs);
  const ext = path.extname(base);
  const stem = base.slice(0, base.length - ext.length);
  const info = `[Trash Info]\nPath=${encodeURI(abs).replace(/[?#]/g, encodeURIComponent)}\nDeletionDate=${deletionDate(new Date())}\n`;
  for (let n = 1; n < 10000; n++) {
    const name = n === 1 ? base : `${stem}.${n}${ext}`;
    const infoFile = path.join(infoDir, `${name}.trashinfo`);
    try {
      // the .trashinfo is created exclusively first: it reserves the name (as the spec asks)
      await fsp.writeFile(infoFile, info, { flag: 'wx', mode: 0o600 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw e;
    }
    const target = path.join(filesDir, name);
    try {
      await fsp.rename(abs, target);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EXDEV') {
        await fsp.rm(infoFile, { force: true });
        throw e;
      }
      // another device: copy, then remove the original
      await fsp.cp(abs, target, { recursive: true, errorOnExist: true, force: false });
      await fsp.rm(abs, { recursive: true, force: true });
    }
    return { file: abs, trashed: target };
  }
  throw new Error(`the trash already holds too many files named ${base}`);
}
