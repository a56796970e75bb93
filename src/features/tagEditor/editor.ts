/**
 * The tag editor: a CustomTextEditorProvider for tag/caption sidecars. The TextDocument is the
 * only state; the webview renders snapshots of it and sends operations, which become minimal
 * WorkspaceEdits (src/core/captions/tagEditor.ts), so undo/redo, dirty state, save and hot exit
 * are VS Code's own.
 */
import { constants as fsConstants, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { decodeCaption } from '../../core/captions/readCaption';
import { buildChipModel, editBlockReason, findTagsLoose, neighbours, rawTextEdit, tagEditorEdits, TAG_EDITOR_MAX_BYTES, type BlockReason } from '../../core/captions/tagEditor';
import { classifyImageName, normaliseSidecarExtension } from '../../core/dataset/images';
import { readImageHeader } from '../../core/dataset/imageHeader';
import { compareNames } from '../../core/dataset/scan';
import type { TagEditorState, TagEditorWebviewMessage } from '../../core/protocol';
import { Commands, Settings, TAG_EDITOR_VIEW_TYPE } from '../../constants';
import { Disposable } from '../../platform/dispose';
import { getLog } from '../../platform/log';
import { WebviewChannel, webviewHtml } from '../../platform/webview';
import { taggerWorkerScript } from '../autoTag/autoTag';
import { readTaggerSettings } from '../autoTag/settings';
import { suggestTags } from '../autoTag/suggest';
import { imageForSidecar } from '../autoTag/targets';
import type { CaptionDiagnostics } from '../captionDiagnostics';

const VOCABULARY_LIMIT = 5000;
const OTHER_SIDECAR_MAX = 64 * 1024;

function sidecarExtensions(uri: vscode.Uri): string[] {
  return vscode.workspace
    .getConfiguration(Settings.section, uri)
    .get<string[]>(Settings.sidecarExtensions, ['.txt', '.caption'])
    .map(normaliseSidecarExtension);
}

/** One open tag editor: a document, its webview panel, and the listeners that keep them in step. */
class TagEditorSession extends Disposable {
  private readonly channel: WebviewChannel;
  private readonly file: string;
  private readonly image: string | undefined;
  private renderTimer: ReturnType<typeof setTimeout> | undefined;
  /** what the bytes on disk say (encoding, BOM, size), re-read when the file changes on disk */
  private diskBlock: BlockReason | null = null;
  private readOnly = false;
  private note: string | undefined;
  private vocabularyKey = '';
  /** sidecars of the same extension in this folder, in image order (cached until the folder changes) */
  private siblings: string[] | undefined;
  private suggesting = false;

  constructor(
    private readonly context: vscode.ExtensionContext,
    readonly document: vscode.TextDocument,
    readonly panel: vscode.WebviewPanel,
    private readonly diagnostics: CaptionDiagnostics,
  ) {
    super();
    this.file = document.uri.fsPath;
    this.image = imageForSidecar(this.file);
    const dir = path.dirname(this.file);
    panel.webview.options = {
      enableScripts: true,
      // our bundles, and the folder of the image shown: nothing else
      localResourceRoots: [
        vscode.Uri.joinPath(context.extensionUri, 'dist', 'webview'),
        vscode.Uri.joinPath(context.extensionUri, 'media'),
        vscode.Uri.file(dir),
      ],
    };
    panel.iconPath = vscode.Uri.joinPath(context.extensionUri, 'media', 'activity-bar.svg');
    this.channel = this.register(new WebviewChannel(panel.webview));
    panel.webview.html = webviewHtml(panel.webview, context.extensionUri, 'tagEditor', `Tags: ${path.basename(this.file)}`);
    this.register(panel.onDidDispose(() => this.dispose()));
    this.register(this.channel.onMessage((m) => void this.onMessage(m)));
    this.register(
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.document.uri.toString() === document.uri.toString()) this.scheduleRender();
      }),
    );
    this.register(vscode.workspace.onDidSaveTextDocument((d) => d.uri.toString() === document.uri.toString() && this.refreshDisk()));
    this.register(
      vscode.languages.onDidChangeDiagnostics((e) => {
        if (e.uris.some((u) => u.toString() === document.uri.toString())) this.scheduleRender();
      }),
    );
    this.register(vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration(Settings.section) && this.scheduleRender()));
    // the file and its siblings on disk: encoding/BOM of this file, the other sidecar, the folder's images
    const watcher = this.register(vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(dir), '*')));
    const onDisk = (u: vscode.Uri, created: boolean): void => {
      if (created) this.siblings = undefined;
      if (u.fsPath === this.file) this.refreshDisk();
      else if (path.parse(u.fsPath).name === path.parse(this.file).name) this.scheduleRender();
    };
    this.register(watcher.onDidChange((u) => onDisk(u, false)));
    this.register(watcher.onDidCreate((u) => onDisk(u, true)));
    this.register(watcher.onDidDelete((u) => onDisk(u, true)));
    this.refreshDisk();
  }

  /** Re-reads what only the disk knows: the bytes' encoding and size, and whether we may write. */
  private refreshDisk(): void {
    void (async () => {
      try {
        const st = await fsp.stat(this.file);
        if (st.size > TAG_EDITOR_MAX_BYTES) this.diskBlock = editBlockReason(new Uint8Array(st.size));
        else this.diskBlock = editBlockReason(await fsp.readFile(this.file));
      } catch (e) {
        this.diskBlock = null;
        getLog().warn(`Tag editor: cannot read ${this.file}: ${(e as Error).message}`);
      }
      try {
        await fsp.access(this.file, fsConstants.W_OK);
        this.readOnly = vscode.workspace.fs.isWritableFileSystem('file') === false;
      } catch {
        this.readOnly = true;
      }
      this.scheduleRender();
    })();
  }

  scheduleRender(): void {
    if (this.isDisposed) return;
    if (this.renderTimer) clearTimeout(this.renderTimer);
    this.renderTimer = setTimeout(() => {
      this.renderTimer = undefined;
      void this.render();
    }, 15);
  }

  private blocked(text: string): TagEditorState['blocked'] {
    if (this.diskBlock && !this.document.isDirty) {
      return { code: this.diskBlock.code, message: this.diskBlock.message, ...(this.diskBlock.code === 'bom' ? { canRemoveBom: true } : {}) };
    }
    if (text.length > TAG_EDITOR_MAX_BYTES) return { code: 'tooLarge', message: 'The text is far too long for a tag file; open it as text.' };
    if (text.includes('\u0000')) return { code: 'nul', message: 'The text contains NUL characters: it is not a tag file. Open it as text.' };
    if (this.readOnly) return { code: 'readOnly', message: 'The file is read-only: the tags are shown but cannot be changed here.' };
    return null;
  }

  /** The state the webview shows, built from the document now. */
  async state(note?: string): Promise<TagEditorState> {
    const text = this.document.getText();
    const blocked = this.blocked(text);
    const info = this.diagnostics.editorInfo(this.file, text);
    const model = blocked && blocked.code !== 'readOnly' && blocked.code !== 'bom'
      ? { chips: [], keepBoundary: null, problems: [], extraLines: 0 }
      : buildChipModel(text, { options: info.options, trigger: info.trigger, diagnostics: info.diagnostics });
    const siblings = await this.siblingList();
    const nav = neighbours(siblings, this.file);
    const state: TagEditorState = {
      file: this.file,
      fileName: path.basename(this.file),
      version: this.document.version,
      dirty: this.document.isDirty,
      text: text.length > TAG_EDITOR_MAX_BYTES ? text.slice(0, 4096) : text,
      image: await this.imageInfo(),
      chips: model.chips,
      keepBoundary: model.keepBoundary,
      extraLines: model.extraLines,
      problems: model.problems,
      trigger: info.trigger,
      blocked,
      other: await this.otherSidecar(),
      nav: { position: nav.index, count: siblings.length, hasPrev: nav.prev !== null, hasNext: nav.next !== null },
      taggerConfigured: this.image !== undefined && readTaggerSettings(vscode.Uri.file(this.image)).modelFolder !== '',
    };
    if (note) state.note = note;
    return state;
  }

  private async render(): Promise<void> {
    if (this.isDisposed) return;
    try {
      // a note is shown once, with the next state
      const note = this.note;
      this.note = undefined;
      const state = await this.state(note);
      if (this.isDisposed) return;
      this.channel.post({ type: 'tagEditor/state', state });
      this.postVocabulary();
    } catch (e) {
      getLog().error(`Tag editor for ${this.file}: ${(e as Error).stack ?? (e as Error).message}`);
      this.channel.post({ type: 'error', message: `The tag editor could not show ${path.basename(this.file)}: ${(e as Error).message}` });
    }
  }

  /** The concept's tags by frequency for autocomplete, sent again only when they change. */
  private postVocabulary(force = false): void {
    const info = this.diagnostics.tagsFor(this.file);
    const tags = (info?.tags ?? []).slice(0, VOCABULARY_LIMIT).map((t) => ({ name: t.name, count: t.count }));
    const key = `${info?.total ?? 0}|${tags.length}|${tags.map((t) => `${t.name}:${t.count}`).join(',')}`;
    if (!force && key === this.vocabularyKey) return;
    this.vocabularyKey = key;
    this.channel.post({ type: 'tagEditor/vocabulary', tags, total: info?.total ?? 0 });
  }

  private async imageInfo(): Promise<TagEditorState['image']> {
    if (!this.image) return null;
    const name = path.basename(this.image);
    try {
      const h = await readImageHeader(this.image);
      const base = {
        name,
        ...(h.width !== undefined ? { width: h.width } : {}),
        ...(h.height !== undefined ? { height: h.height } : {}),
        format: h.format,
      };
      if (h.format === 'unknown' || h.problems.some((p) => p.code !== 'truncated')) {
        const why = h.problems.map((p) => p.message).join('; ') || 'not an image format sd-scripts reads';
        return { ...base, src: null, problem: `${name} cannot be shown: ${why}` };
      }
      const st = await fsp.stat(this.image);
      const src = this.panel.webview.asWebviewUri(vscode.Uri.file(this.image)).with({ query: `v=${st.mtimeMs}` });
      return { ...base, src: src.toString(), ...(h.problems.length ? { problem: h.problems.map((p) => p.message).join('; ') } : {}) };
    } catch (e) {
      return { name, src: null, problem: `${name} cannot be shown: ${(e as Error).message}` };
    }
  }

  /** The image's other sidecar (read-only): an open document's text, else the file's. */
  private async otherSidecar(): Promise<TagEditorState['other']> {
    const { dir, name, ext } = path.parse(this.file);
    for (const e of sidecarExtensions(this.document.uri)) {
      if (e === ext.toLowerCase()) continue;
      const f = path.join(dir, name + e);
      const open = vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'file' && d.uri.fsPath === f);
      if (open) return { name: path.basename(f), text: open.getText().slice(0, OTHER_SIDECAR_MAX) };
      try {
        const bytes = await fsp.readFile(f);
        const r = decodeCaption(bytes.subarray(0, OTHER_SIDECAR_MAX));
        const bad = r.problems.find((p) => p.code === 'notUtf8');
        return { name: path.basename(f), text: bad ? `(${bad.message})` : r.text };
      } catch {
        /* no such sidecar */
      }
    }
    return null;
  }

  /** The sidecars with this file's extension next to images of this folder, in image order. */
  private async siblingList(): Promise<string[]> {
    if (this.siblings) return this.siblings;
    const dir = path.dirname(this.file);
    const ext = path.extname(this.file);
    try {
      const names = await fsp.readdir(dir);
      const present = new Set(names);
      const images = names.filter((n) => classifyImageName(n) === 'image').sort(compareNames);
      const list: string[] = [];
      const seen = new Set<string>();
      for (const img of images) {
        const side = path.parse(img).name + ext;
        if (present.has(side) && !seen.has(side)) {
          seen.add(side);
          list.push(path.join(dir, side));
        }
      }
      if (!list.includes(this.file)) list.push(this.file);
      this.siblings = list;
    } catch {
      this.siblings = [this.file];
    }
    return this.siblings;
  }

  async onMessage(m: TagEditorWebviewMessage | { type: string }): Promise<TagEditorState | undefined> {
    switch (m.type) {
      case 'ready':
        this.postVocabulary(true);
        await this.render();
        return undefined;
      case 'tagEditor/edit':
      case 'tagEditor/fix':
        return this.applyEdit(m as Extract<TagEditorWebviewMessage, { type: 'tagEditor/edit' | 'tagEditor/fix' }>);
      case 'tagEditor/navigate':
        await this.navigate((m as Extract<TagEditorWebviewMessage, { type: 'tagEditor/navigate' }>).direction);
        return undefined;
      case 'tagEditor/setText':
        return this.setText(m as Extract<TagEditorWebviewMessage, { type: 'tagEditor/setText' }>);
      case 'tagEditor/suggest':
        await this.suggest();
        return undefined;
      case 'tagEditor/complete': {
        // tag-list completion: the concept's tags, then the tag list's (src/core/captions/tagList.ts)
        const q = m as Extract<TagEditorWebviewMessage, { type: 'tagEditor/complete' }>;
        const found = await this.diagnostics.tagCandidatesFor(this.file, q.query, new Set(q.present));
        const items = found.map((c) => ({ name: c.tag, source: c.source, count: c.datasetCount, listCount: c.listCount, category: c.categoryName, ...(c.alias !== undefined ? { alias: c.alias } : {}) }));
        this.channel.post({ type: 'tagEditor/completions', query: q.query, items });
        return undefined;
      }
      case 'tagEditor/command':
        await this.command((m as Extract<TagEditorWebviewMessage, { type: 'tagEditor/command' }>).command);
        return undefined;
      default:
        return undefined;
    }
  }

  /** Turns an operation into a WorkspaceEdit on the document. Returns the state after it. */
  private async applyEdit(m: Extract<TagEditorWebviewMessage, { type: 'tagEditor/edit' | 'tagEditor/fix' }>): Promise<TagEditorState> {
    const text = this.document.getText();
    const blocked = this.blocked(text);
    let note: string | undefined;
    if (blocked) {
      note = blocked.message;
    } else if (m.version !== this.document.version) {
      // the webview acted on an older text: show it the current one instead of guessing
      note = 'The file changed meanwhile; nothing was changed. Try again.';
    } else {
      let edits: Array<{ start: number; end: number; newText: string }> = [];
      const info = this.diagnostics.editorInfo(this.file, text);
      if (m.type === 'tagEditor/edit') {
        const r = tagEditorEdits(text, m.edit, info.options);
        edits = r.edits;
        if (r.note) note = r.note;
      } else {
        const fix = info.diagnostics[m.problem]?.fixes[m.fix];
        if (fix?.removeBom) await vscode.commands.executeCommand(Commands.removeCaptionBom, this.file);
        else if (fix) edits = fix.edits;
      }
      if (edits.length) {
        const we = new vscode.WorkspaceEdit();
        for (const e of edits) we.replace(this.document.uri, new vscode.Range(this.document.positionAt(e.start), this.document.positionAt(e.end)), e.newText);
        if (!(await vscode.workspace.applyEdit(we))) note = 'VS Code did not apply the change.';
      }
    }
    // the webview sees the note with its next state; the caller gets it now
    this.note = note;
    const state = await this.state(note);
    this.scheduleRender();
    return state;
  }

  /**
   * The raw-text box: one minimal replace that makes the document hold the typed text. The state
   * after it goes to the webview at once, with `ack`, so the box knows its edit has landed.
   */
  private async setText(m: Extract<TagEditorWebviewMessage, { type: 'tagEditor/setText' }>): Promise<TagEditorState> {
    const current = this.document.getText();
    let note: string | undefined;
    const blocked = this.blocked(current);
    if (blocked) note = blocked.message;
    else if (m.version !== this.document.version) note = 'The file changed while you typed; your last keystrokes were not applied. The box shows the file now.';
    else if (m.text.includes('\u0000')) note = 'NUL characters cannot go into a tag file; nothing was changed.';
    else if (m.text.length > TAG_EDITOR_MAX_BYTES) note = 'That text is far too long for a tag file; nothing was changed.';
    else {
      const e = rawTextEdit(current, m.text);
      if (e) {
        const we = new vscode.WorkspaceEdit();
        we.replace(this.document.uri, new vscode.Range(this.document.positionAt(e.start), this.document.positionAt(e.end)), e.newText);
        if (!(await vscode.workspace.applyEdit(we))) note = 'VS Code did not apply the change.';
      }
    }
    const state = await this.state(note);
    state.ack = m.seq;
    if (!this.isDisposed) this.channel.post({ type: 'tagEditor/state', state });
    return state;
  }

  /** Opens the previous or next sidecar of the folder in this tab; returns its path (undefined at an end). */
  async navigate(direction: 'prev' | 'next'): Promise<string | undefined> {
    this.siblings = undefined;
    const n = neighbours(await this.siblingList(), this.file);
    const target = direction === 'prev' ? n.prev : n.next;
    if (!target) return undefined;
    await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(target), TAG_EDITOR_VIEW_TYPE, {
      viewColumn: this.panel.viewColumn ?? vscode.ViewColumn.Active,
      preview: false,
    });
    // replace this tab, unless it holds unsaved edits (closing would ask to save); tab objects
    // are replaced when a group changes, so look it up after the new one opened
    const old = this.ownTab();
    if (old && !this.document.isDirty) {
      await vscode.window.tabGroups.close(old, true).then(undefined, (e: Error) => getLog().warn(`Tag editor: could not close ${this.file}: ${e.message}`));
    }
    return target;
  }

  private ownTab(): vscode.Tab | undefined {
    for (const g of vscode.window.tabGroups.all) {
      for (const t of g.tabs) {
        if (t.input instanceof vscode.TabInputCustom && t.input.viewType === TAG_EDITOR_VIEW_TYPE && t.input.uri.toString() === this.document.uri.toString()) {
          return t;
        }
      }
    }
    return undefined;
  }

  private async suggest(): Promise<void> {
    if (!this.image) {
      this.channel.post({ type: 'tagEditor/suggestions', status: 'error', message: 'No image with the same name sits next to this file.' });
      return;
    }
    const settings = readTaggerSettings(vscode.Uri.file(this.image));
    if (!settings.modelFolder) {
      this.channel.post({
        type: 'tagEditor/suggestions',
        status: 'unconfigured',
        message: 'Suggestions need a WD14 model folder (model.onnx + selected_tags.csv): set "loraWorkbench.tagger.modelFolder".',
      });
      return;
    }
    if (this.suggesting) return;
    this.suggesting = true;
    this.channel.post({ type: 'tagEditor/suggestions', status: 'running' });
    try {
      const s = await suggestTags(this.image, settings, taggerWorkerScript(this.context));
      if (s.error) {
        this.channel.post({ type: 'tagEditor/suggestions', status: 'error', message: `No suggestions for ${path.basename(this.image)}: ${s.error}` });
        return;
      }
      const text = this.document.getText();
      const info = this.diagnostics.editorInfo(this.file, text);
      this.channel.post({
        type: 'tagEditor/suggestions',
        status: 'done',
        tags: s.tags.map((t) => ({ tag: t.tag, score: t.score, kind: t.kind, present: findTagsLoose(text, t.tag, info.options) })),
      });
    } catch (e) {
      getLog().error(`Tag editor suggestions for ${this.image}: ${(e as Error).stack ?? (e as Error).message}`);
      this.channel.post({ type: 'tagEditor/suggestions', status: 'error', message: `Suggesting tags failed: ${(e as Error).message}` });
    } finally {
      this.suggesting = false;
    }
  }

  private async command(c: 'openAsText' | 'openTaggerSettings' | 'removeBom' | 'openImage'): Promise<void> {
    switch (c) {
      case 'openAsText':
        await vscode.commands.executeCommand('vscode.openWith', this.document.uri, 'default', this.panel.viewColumn ?? vscode.ViewColumn.Active);
        return;
      case 'openTaggerSettings':
        await vscode.commands.executeCommand('workbench.action.openSettings', `${Settings.section}.${Settings.taggerModelFolder}`);
        return;
      case 'removeBom':
        if (this.document.isDirty) {
          void vscode.window.showWarningMessage(`Save or revert ${path.basename(this.file)} before removing its byte-order mark.`);
          return;
        }
        await vscode.commands.executeCommand(Commands.removeCaptionBom, this.file);
        this.refreshDisk();
        return;
      case 'openImage':
        if (this.image) await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(this.image), vscode.ViewColumn.Beside);
        return;
    }
  }

  override dispose(): void {
    if (this.renderTimer) clearTimeout(this.renderTimer);
    super.dispose();
  }
}

/** The provider: one session per opened editor, findable by document for the internal message command. */
export class TagEditorProvider implements vscode.CustomTextEditorProvider {
  private readonly sessions = new Set<TagEditorSession>();

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly diagnostics: CaptionDiagnostics,
  ) {}

  resolveCustomTextEditor(document: vscode.TextDocument, panel: vscode.WebviewPanel): void {
    const s = new TagEditorSession(this.context, document, panel, this.diagnostics);
    this.sessions.add(s);
    panel.onDidDispose(() => this.sessions.delete(s));
  }

  sessionFor(uri: vscode.Uri): TagEditorSession | undefined {
    for (const s of this.sessions) if (s.document.uri.toString() === uri.toString()) return s;
    return undefined;
  }

  /**
   * The tag editor of the active tab, also when the keyboard focus is elsewhere (Explorer, tab
   * bar): with several editors on one document, the one in the active group.
   */
  activeSession(): TagEditorSession | undefined {
    const group = vscode.window.tabGroups.activeTabGroup;
    const input = group.activeTab?.input;
    if (!(input instanceof vscode.TabInputCustom) || input.viewType !== TAG_EDITOR_VIEW_TYPE) return undefined;
    const all = [...this.sessions].filter((s) => s.document.uri.toString() === input.uri.toString());
    return all.find((s) => s.panel.viewColumn === group.viewColumn) ?? all[0];
  }

  dispose(): void {
    for (const s of this.sessions) s.dispose();
    this.sessions.clear();
  }
}
