/**
 * The tag list for completion (`loraWorkbench.captions.tagList`, else the WD14 model folder's
 * `selected_tags.csv`): read on first use, kept until the file or the settings change. A file
 * that cannot be used is reported once (a warning naming it and the problem); completion goes on
 * with the dataset's own tags.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { loadTagList, type TagListIndex } from '../../core/captions/tagList';
import { Settings } from '../../constants';
import { Disposable } from '../../platform/dispose';
import { getLog } from '../../platform/log';

/** A path setting: `${workspaceFolder}`, `~/`, absolute, or relative to the first workspace folder. */
function resolvePath(value: string): string {
  const wf = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  let v = value.trim();
  if (wf) v = v.replace(/\$\{workspaceFolder\}/g, wf);
  if (v === '~' || v.startsWith('~/')) return path.join(process.env.HOME ?? '', v.slice(1));
  if (path.isAbsolute(v)) return v;
  return wf ? path.join(wf, v) : path.resolve(v);
}

export class TagListSource extends Disposable {
  private loading: Promise<TagListIndex | undefined> | undefined;
  /** the base name of the file last read (for labels), '' when none */
  fileName = '';
  private watcher: vscode.FileSystemWatcher | undefined;
  /** what was warned about (file + problem), so a problem is shown once until something changes */
  private warned = '';
  private readonly changed = this.register(new vscode.EventEmitter<void>());
  /** fires when the list must be read again (file or settings changed) */
  readonly onDidChange = this.changed.event;

  constructor() {
    super();
    this.register(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(`${Settings.section}.${Settings.captionsTagList}`) || e.affectsConfiguration(`${Settings.section}.${Settings.taggerModelFolder}`)) {
          this.warned = '';
          this.invalidate();
        }
      }),
    );
    this.register({ dispose: () => this.watcher?.dispose() });
  }

  private invalidate(): void {
    this.loading = undefined;
    this.watcher?.dispose();
    this.watcher = undefined;
    this.changed.fire();
  }

  /** The file to read, or null (no list set, and no selected_tags.csv in the tagger model folder). */
  private async target(): Promise<{ file: string; explicit: boolean } | null> {
    const cfg = vscode.workspace.getConfiguration(Settings.section);
    const setting = cfg.get<string>(Settings.captionsTagList, '');
    if (typeof setting === 'string' && setting.trim() !== '') {
      const p = resolvePath(setting);
      const st = await fsp.stat(p).catch(() => undefined);
      return { file: st?.isDirectory() ? path.join(p, 'selected_tags.csv') : p, explicit: true };
    }
    const model = cfg.get<string>(Settings.taggerModelFolder, '');
    if (typeof model !== 'string' || model.trim() === '') return null;
    const csv = path.join(resolvePath(model), 'selected_tags.csv');
    return (await fsp.stat(csv).catch(() => undefined))?.isFile() ? { file: csv, explicit: false } : null;
  }

  /** The list, read on first call and cached; undefined when there is none or it is unusable. */
  get(): Promise<TagListIndex | undefined> {
    this.loading ??= this.load();
    return this.loading;
  }

  /**
   * The list if it is read within `ms` (a big list takes a while the first time): `pending` says
   * it is still being read, so the caller answers without it and asks again on the next key.
   */
  async within(ms: number): Promise<{ list: TagListIndex | undefined; pending: boolean }> {
    const loading = this.get();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), ms);
    });
    const r = await Promise.race([loading, late]);
    clearTimeout(timer);
    return r === 'late' ? { list: undefined, pending: true } : { list: r, pending: false };
  }

  private async load(): Promise<TagListIndex | undefined> {
    const target = await this.target();
    if (!target) return undefined;
    this.watch(target.file);
    let problem: string;
    try {
      const bytes = await fsp.readFile(target.file);
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch {
        throw new Error('it is not UTF-8 text');
      }
      const t0 = Date.now();
      const r = loadTagList(text);
      if ('index' in r) {
        getLog().info(`Tag list ${target.file}: ${r.index.size} tags (${r.index.kind === 'wd14' ? 'WD14 selected_tags.csv' : 'a1111 tag-complete CSV'}), read in ${Date.now() - t0} ms`);
        this.warned = '';
        this.fileName = path.basename(target.file);
        return r.index;
      }
      problem = r.error;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      problem = err.code === 'ENOENT' ? 'the file does not exist' : err.code === 'EISDIR' ? 'it is a folder' : err.message;
    }
    const key = `${target.file}\n${problem}`;
    getLog().warn(`Tag list ${target.file} not used: ${problem}`);
    if (this.warned !== key) {
      this.warned = key;
      const setting = target.explicit ? Settings.captionsTagList : Settings.taggerModelFolder;
      void vscode.window
        .showWarningMessage(`The tag list ${target.file} cannot be used for completion: ${problem}. Completion offers the dataset's own tags.`, 'Open Setting')
        .then((a) => {
          if (a) void vscode.commands.executeCommand('workbench.action.openSettings', `${Settings.section}.${setting}`);
        });
    }
    return undefined;
  }

  private watch(file: string): void {
    this.watcher?.dispose();
    const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(path.dirname(file)), path.basename(file)));
    const again = (): void => {
      this.warned = '';
      this.invalidate();
    };
    w.onDidChange(again);
    w.onDidCreate(again);
    w.onDidDelete(again);
    this.watcher = w;
  }
}
