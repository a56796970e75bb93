/**
 * Caption/tag diagnostics for the whole dataset in the Problems panel, without opening files:
 * trigger word, tag pollution, and what sd-scripts does silently or fatally with a caption file.
 * The rules and the incremental index live in src/core/captions; this file feeds them files from
 * the Datasets model, open documents and the file watcher, and publishes the results.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CaptionIndex, type CaptionDiagnostic, type ConceptContext, type RuleCode, type RuleConfig } from '../../core/captions/rules';
import { resolveTrigger } from '../../core/captions/triggers';
import { looseTagKey, parseCaption, type CaptionOptions } from '../../core/captions/parse';
import { tokenCounter } from '../../core/captions/clipTokenizer';
import { tagCandidates, type TagCandidate } from '../../core/captions/tagList';
import { TagListSource } from './tagList';
import { atomicWriteFile } from '../../core/captions/journal';
import type { FolderScan } from '../../core/dataset/scan';
import { normaliseSidecarExtension } from '../../core/dataset/images';
import { Commands, Languages, Settings } from '../../constants';
import { Disposable } from '../../platform/dispose';
import { getLog } from '../../platform/log';
import type { DatasetsModel } from '../datasetsView/model';

const SOURCE = 'LoRA Workbench';
type Sev = 'error' | 'warning' | 'info' | 'hint';
const SEVERITY: Record<Sev, vscode.DiagnosticSeverity> = {
  error: vscode.DiagnosticSeverity.Error,
  warning: vscode.DiagnosticSeverity.Warning,
  info: vscode.DiagnosticSeverity.Information,
  hint: vscode.DiagnosticSeverity.Hint,
};

interface CaptionSettings {
  extension: string;
  trigger: string;
  triggers: Record<string, string>;
  absorbed: Record<string, string[]>;
  rules: RuleConfig;
  shuffleCaption: boolean;
  keepTokens: number;
}

function readSettings(configTokenLength?: number | null): CaptionSettings {
  const cfg = vscode.workspace.getConfiguration(Settings.section);
  return {
    extension: normaliseSidecarExtension(cfg.get<string>(Settings.captionExtension, '.txt')),
    trigger: cfg.get<string>(Settings.trigger, ''),
    triggers: cfg.get<Record<string, string>>(Settings.triggers, {}),
    absorbed: cfg.get<Record<string, string[]>>(Settings.absorbedTags, {}),
    rules: {
      pollutionShare: cfg.get<number>(Settings.pollutionShare, 0.8),
      severities: cfg.get<Partial<Record<RuleCode, Sev | 'off'>>>(Settings.ruleSeverities, {}),
      ...tokenRuleConfig(cfg, configTokenLength),
    },
    shuffleCaption: cfg.get<boolean>(Settings.shuffleCaption, false),
    keepTokens: cfg.get<number>(Settings.keepTokens, 0),
  };
}

/** max_token_length and the CLIP token counter (the vocabulary from the setting or the Hugging Face cache, else an estimate). */
function tokenRuleConfig(cfg: vscode.WorkspaceConfiguration, fromConfig: number | null | undefined): Pick<RuleConfig, 'maxTokenLength' | 'countTokens' | 'tokenCountEstimated'> {
  const setting = cfg.get<number | null>(Settings.maxTokenLength, null);
  // until the training configs have been read (undefined), no guess: no false alarms at start-up
  if (setting === null && fromConfig === undefined) return {};
  const max = setting ?? fromConfig ?? 75;
  if (!max) return {};
  const counter = tokenCounter(cfg.get<string>(Settings.clipVocabulary, '') || null, process.env);
  if (counter.error) getLog().warn(`CLIP vocabulary: ${counter.error}`);
  getLog().info(`Caption token counts: ${counter.estimate ? 'estimated (no CLIP vocabulary found)' : `CLIP tokenizer from ${counter.source}`}`);
  return { maxTokenLength: max, countTokens: counter.count, tokenCountEstimated: counter.estimate };
}

/** A setting keyed by folder: the folder's path relative to the workspace, or its name. */
function forFolder<T>(map: Record<string, T>, folder: string): T | undefined {
  const wf = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(folder));
  const rel = wf ? path.relative(wf.uri.fsPath, folder).split(path.sep).join('/') : undefined;
  return (rel !== undefined ? map[rel] : undefined) ?? map[path.basename(folder)];
}

/** Regularisation folders (a `reg_data_dir`, by its name) have no trigger word. */
function isRegFolder(folder: string): boolean {
  return /(^|[_\- ])reg(ularization|ularisation)?([_\- ]|$)/i.test(path.basename(path.dirname(folder)));
}

export class CaptionDiagnostics extends Disposable implements vscode.CodeActionProvider {
  private index: CaptionIndex;
  private settings = readSettings();
  readonly collection = this.register(vscode.languages.createDiagnosticCollection('lora-workbench-captions'));
  /** caption file → concept folder, for the files of the current scan */
  private known = new Map<string, string>();
  /** concept folder → its rule context (trigger, options), for the tag editor */
  private readonly contexts = new Map<string, ConceptContext>();
  /** concept folder → what its context was made from, to re-lint a concept only when that changes */
  private readonly contextKeys = new Map<string, string>();
  /** fires after the index changed (the Tags view listens) */
  private readonly updated = this.register(new vscode.EventEmitter<void>());
  readonly onDidUpdate = this.updated.event;
  /** the tag list for completion (read on first use) */
  readonly tagList = this.register(new TagListSource());
  /** caption file → its image, for hover previews */
  private imageOfCaption = new Map<string, string>();

  /** The index (read-only use: the Tags view, batch targets, rename). */
  get captionIndex(): CaptionIndex {
    return this.index;
  }

  private configTokenLength: number | null | undefined = undefined;

  /** max_token_length from the workspace's training configs (null: none sets it; used when the setting is empty). */
  setConfigTokenLength(n: number | null): void {
    if (n === this.configTokenLength) return;
    this.configTokenLength = n;
    this.settings = readSettings(n);
    this.index = new CaptionIndex(this.settings.rules);
    this.known.clear();
    this.contextKeys.clear();
    this.collection.clear();
    void this.sync();
  }

  /** The trigger word of a concept folder, as the checks use it. */
  triggerOf(folder: string): string | null {
    const info = this.index.conceptInfo(folder);
    if (info) return info.trigger;
    const s = this.settings;
    return resolveTrigger({
      folderName: path.basename(folder),
      perFolder: forFolder(s.triggers, folder) ?? null,
      datasetConfigClassTokens: this.configClassTokens(folder),
      setting: s.trigger || null,
      isReg: isRegFolder(folder),
    }).trigger;
  }

  /**
   * `class_tokens` that a `--dataset_config` TOML gives the subset reading this folder (set in the
   * subset, its dataset or [general]; not the folder name's), or null.
   */
  private configClassTokens(folder: string): string | null {
    for (const d of this.model.current.discovered) {
      for (const sub of d.subsets) {
        if (sub.style !== 'dreambooth' || !sub.imageDir || sub.skipReason || path.resolve(sub.imageDir) !== path.resolve(folder)) continue;
        const src = sub.sources.classTokens;
        if ((src === 'subset' || src === 'dataset' || src === 'general') && sub.values.classTokens) return sub.values.classTokens;
      }
    }
    return null;
  }

  constructor(private readonly model: DatasetsModel) {
    super();
    this.index = new CaptionIndex(this.settings.rules);
    this.register(model.onDidChange(() => void this.sync()));
    this.register(
      vscode.workspace.onDidChangeTextDocument((e) => {
        const f = e.document.uri.fsPath;
        if (e.document.uri.scheme === 'file' && this.known.has(f)) this.updateFromText(f, e.document.getText());
      }),
    );
    this.register(
      vscode.workspace.onDidOpenTextDocument((d) => {
        // a restored editor may hold unsaved text
        if (d.uri.scheme === 'file' && this.known.has(d.uri.fsPath)) this.updateFromText(d.uri.fsPath, d.getText());
      }),
    );
    this.register(
      vscode.workspace.onDidCloseTextDocument((d) => {
        if (d.uri.scheme !== 'file' || !this.known.has(d.uri.fsPath)) return;
        // a language change closes and reopens the document: only a real close (unsaved edits
        // thrown away) makes the file on disk the truth again
        setTimeout(() => {
          const reopened = vscode.workspace.textDocuments.find((o) => o.uri.toString() === d.uri.toString());
          if (reopened) this.updateFromText(d.uri.fsPath, reopened.getText());
          else void this.updateFromDisk(d.uri.fsPath);
        }, 100);
      }),
    );
    const watcher = this.register(vscode.workspace.createFileSystemWatcher('**/*.{txt,caption}', true, false, true));
    this.register(
      watcher.onDidChange((u) => {
        if (!this.known.has(u.fsPath)) return;
        const open = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === u.fsPath);
        if (!open?.isDirty) void this.updateFromDisk(u.fsPath);
      }),
    );
    this.register(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(Settings.section)) {
          this.settings = readSettings(this.configTokenLength);
          this.index = new CaptionIndex(this.settings.rules);
          this.known.clear();
          this.contextKeys.clear();
          this.collection.clear();
          void this.sync();
        }
      }),
    );
    this.register(
      vscode.languages.registerCodeActionsProvider({ language: Languages.caption, scheme: 'file' }, this, {
        providedCodeActionKinds: [vscode.CodeActionKind.QuickFix],
      }),
    );
    this.register(
      vscode.commands.registerCommand(Commands.removeCaptionBom, async (file: string) => {
        try {
          const bytes = await fsp.readFile(file);
          if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) await atomicWriteFile(file, bytes.subarray(3));
          await this.updateFromDisk(file);
        } catch (e) {
          void vscode.window.showErrorMessage(`Could not rewrite ${path.basename(file)}: ${(e as Error).message}`);
        }
      }),
    );
  }

  /** The concept folder → trigger and rule context, from settings and the folder name. */
  private conceptContext(folder: FolderScan): Parameters<CaptionIndex['setConcept']>[1] {
    const s = this.settings;
    const configTokens = this.configClassTokens(folder.path);
    const resolved = resolveTrigger({
      folderName: path.basename(folder.path),
      perFolder: forFolder(s.triggers, folder.path) ?? null,
      datasetConfigClassTokens: configTokens,
      setting: s.trigger || null,
      isReg: isRegFolder(folder.path),
    });
    const absorbed = forFolder(s.absorbed, folder.path) ?? (resolved.trigger ? s.absorbed[resolved.trigger] : undefined);
    const classTokens = configTokens ?? (folder.concept.ok ? folder.concept.classTokens : '');
    return {
      trigger: resolved.trigger,
      ...(absorbed ? { absorbed } : {}),
      ...(classTokens ? { pollutionIgnore: classTokens.split(/\s+/) } : {}),
      options: { shuffleCaption: s.shuffleCaption, keepTokens: s.keepTokens },
    };
  }

  /** Brings the index in line with the Datasets model: new files read, gone files dropped. */
  async sync(): Promise<void> {
    const ext = this.settings.extension;
    const next = new Map<string, string>();
    // only files whose diagnostics may have changed are re-published: a model change (one image
    // added, one caption renamed) must not re-check a 100k-image dataset
    const changed = new Set<string>();
    const images = new Map<string, string>();
    const folders = this.model.current.groups.flatMap((g) => g.folders);
    for (const f of folders) {
      const ctx = this.conceptContext(f);
      const key = JSON.stringify([ctx, path.basename(f.path)]);
      if (this.contextKeys.get(f.path) !== key) {
        this.contextKeys.set(f.path, key);
        this.contexts.set(f.path, ctx);
        for (const file of this.index.setConcept(f.path, ctx, path.basename(f.path)).files) changed.add(file);
      }
      for (const img of f.images) {
        const side = img.sidecars[ext];
        if (side) {
          next.set(path.join(f.path, side), f.path);
          images.set(path.join(f.path, side), path.join(f.path, img.name));
        }
      }
    }
    this.imageOfCaption = images;
    for (const file of this.known.keys()) {
      if (!next.has(file)) {
        for (const f of this.index.removeFile(file).files) changed.add(f);
        changed.delete(file);
        this.collection.delete(vscode.Uri.file(file));
      }
    }
    const added = [...next.entries()].filter(([file, concept]) => this.known.get(file) !== concept);
    this.known = next;
    const entries: Array<{ file: string; concept: string; input: Uint8Array | string | Error }> = [];
    for (let i = 0; i < added.length; i += 64) {
      const chunk = added.slice(i, i + 64);
      const read = await Promise.all(
        chunk.map(async ([file, concept]) => {
          const open = vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'file' && d.uri.fsPath === file);
          if (open) return { file, concept, input: open.getText() as Uint8Array | string | Error };
          try {
            return { file, concept, input: (await fsp.readFile(file)) as Uint8Array | string | Error };
          } catch (e) {
            return { file, concept, input: e as Error };
          }
        }),
      );
      entries.push(...read);
    }
    if (entries.length) for (const f of this.index.updateFiles(entries).files) changed.add(f);
    let problems = 0;
    for (const file of changed) {
      if (!this.known.has(file)) continue;
      const ds = this.index.diagnostics(file, { pollution: true });
      problems += ds.length;
      this.collection.set(vscode.Uri.file(file), ds.map(toDiagnostic));
    }
    this.updated.fire();
    getLog().info(`Caption checks: ${this.known.size} file(s), ${changed.size} re-checked, ${problems} problem(s) in those`);
  }

  private updateFromText(file: string, text: string): void {
    const concept = this.known.get(file);
    if (!concept) return;
    this.publish(this.index.updateFile(file, concept, text).files);
  }

  private async updateFromDisk(file: string): Promise<void> {
    const concept = this.known.get(file);
    if (!concept) return;
    let input: Uint8Array | Error;
    try {
      input = await fsp.readFile(file);
    } catch (e) {
      input = e as Error;
    }
    this.publish(this.index.updateFile(file, concept, input).files);
  }

  private publish(files: readonly string[]): void {
    if (files.length) this.updated.fire();
    for (const f of files) this.collection.set(vscode.Uri.file(f), this.index.diagnostics(f, { pollution: true }).map(toDiagnostic));
  }

  /** Hover and completion data: the concept's tags with their counts. */
  tagsFor(file: string): { concept: string; total: number; tags: Array<{ name: string; key: string; count: number }> } | undefined {
    const concept = this.index.conceptOf(file) ?? this.known.get(file);
    if (!concept) return undefined;
    const stats = this.index.conceptStats(concept);
    return { concept, total: stats?.captioned ?? 0, tags: this.index.conceptTags(concept) };
  }

  /** Up to `max` images of the concept whose caption has the tag (other files' first, then `file`'s own). */
  imagesWithTag(concept: string, key: string, file: string, max: number): string[] {
    const out: string[] = [];
    let own: string | undefined;
    for (const f of this.index.conceptFiles(concept)) {
      if (!f.tagKeys.includes(key)) continue;
      const img = this.imageOfCaption.get(f.file);
      if (!img) continue;
      if (f.file === file) own = img;
      else out.push(img);
      if (out.length >= max) break;
    }
    if (own && out.length < max) out.unshift(own);
    return out;
  }

  /** Completion candidates for the tag editor: the concept's tags, then the tag list's. */
  async tagCandidatesFor(file: string, prefix: string, present: ReadonlySet<string>): Promise<TagCandidate[]> {
    const info = this.tagsFor(file);
    const list = await this.tagList.get();
    return tagCandidates(prefix, info?.tags ?? [], list, { present, datasetLimit: 12, listLimit: 12 }).items;
  }

  /**
   * What the tag editor shows about a file: its diagnostics with their fixes (only when the index
   * holds exactly `text`, so offsets fit), its concept's trigger word and the caption options.
   */
  editorInfo(file: string, text: string): { diagnostics: CaptionDiagnostic[]; trigger: string | null; options: CaptionOptions } {
    const concept = this.index.conceptOf(file) ?? this.known.get(file);
    const ctx = concept ? this.contexts.get(concept) : undefined;
    const options: CaptionOptions = ctx?.options ?? { shuffleCaption: this.settings.shuffleCaption, keepTokens: this.settings.keepTokens };
    const indexed = this.index.textOf(file);
    const fits = indexed !== null && indexed.replace(/^\ufeff/, '') === text;
    return { diagnostics: fits ? this.index.diagnostics(file, { pollution: true }) : [], trigger: ctx?.trigger ?? null, options };
  }

  provideCodeActions(doc: vscode.TextDocument, range: vscode.Range | vscode.Selection): vscode.CodeAction[] {
    const out: vscode.CodeAction[] = [];
    for (const d of this.index.diagnostics(doc.uri.fsPath, { pollution: true })) {
      const vr = toRange(d);
      if (!vr.intersection(range)) continue;
      for (const fix of d.fixes) {
        const action = new vscode.CodeAction(fix.title, vscode.CodeActionKind.QuickFix);
        action.diagnostics = [toDiagnostic(d)];
        if (fix.removeBom) {
          // VS Code keeps a file's encoding on save: rewrite the bytes instead (only when saved)
          if (doc.isDirty) continue;
          action.command = { command: Commands.removeCaptionBom, title: fix.title, arguments: [doc.uri.fsPath] };
        } else {
          const edit = new vscode.WorkspaceEdit();
          for (const e of fix.edits) edit.replace(doc.uri, new vscode.Range(doc.positionAt(e.start), doc.positionAt(e.end)), e.newText);
          action.edit = edit;
        }
        action.isPreferred = d.fixes.length === 1;
        out.push(action);
      }
    }
    return out;
  }
}

function toRange(d: CaptionDiagnostic): vscode.Range {
  return new vscode.Range(d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character);
}

function toDiagnostic(d: CaptionDiagnostic): vscode.Diagnostic {
  const diag = new vscode.Diagnostic(toRange(d), d.message, SEVERITY[d.severity]);
  diag.source = SOURCE;
  diag.code = d.code;
  return diag;
}

/** "4225150" → "4.2M": list counts in completion labels. */
function shortCount(n: number | null): string {
  if (n === null) return '';
  if (n >= 1e6) return `${(n / 1e6).toFixed(1).replace(/\.0$/, '')}M`;
  if (n >= 1e4) return `${Math.round(n / 1e3)}k`;
  return String(n);
}

function escapeMd(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, (c) => `\\${c}`);
}

/**
 * Completion of tags (the concept's tags by frequency, then the tag list's) and hover (counts,
 * the tag list's data and a preview of images with the tag) in caption files.
 */
function registerTagLanguageFeatures(subscriptions: vscode.Disposable[], diagnostics: CaptionDiagnostics): void {
  const selector: vscode.DocumentSelector = { language: Languages.caption, scheme: 'file' };
  subscriptions.push(
    vscode.languages.registerCompletionItemProvider(
      selector,
      {
        async provideCompletionItems(doc, position) {
          const info = diagnostics.tagsFor(doc.uri.fsPath);
          if (!info) return undefined;
          const line = doc.lineAt(position.line).text;
          const start = Math.max(line.lastIndexOf(',', position.character - 1) + 1, 0);
          const lead = line.slice(start, position.character).match(/^\s*/)?.[0].length ?? 0;
          const range = new vscode.Range(position.line, start + lead, position.line, position.character);
          const typed = doc.getText(range);
          const present = new Set(parseCaption(doc.getText()).lines.flatMap((l) => l.tags.map((t) => t.looseKey)));
          // a big list is read on first use: answer with the dataset's tags meanwhile
          const { list, pending } = await diagnostics.tagList.within(300);
          const source = list ? diagnostics.tagList.fileName : '';
          // without a list, every concept tag goes to VS Code's own filter, as before; with one,
          // the answer depends on the prefix (capped list search), so it is asked again per key
          const { items } = tagCandidates(list ? typed : '', info.tags, list, { present, datasetLimit: list ? 200 : Number.MAX_SAFE_INTEGER });
          const out = items.map((c, i) => {
            const listed = c.listCount !== null || c.categoryName !== null ? `${c.categoryName ?? 'listed'}${c.listCount !== null ? ` · ${shortCount(c.listCount)}` : ''}` : '';
            const label: vscode.CompletionItemLabel =
              c.source === 'dataset'
                ? { label: c.tag, description: `${c.datasetCount}/${info.total}` }
                : { label: c.tag, description: `list · ${listed}`, ...(c.alias !== undefined ? { detail: ` ← ${c.alias}` } : {}) };
            const item = new vscode.CompletionItem(label, c.source === 'dataset' ? vscode.CompletionItemKind.Value : vscode.CompletionItemKind.Reference);
            item.range = range;
            item.insertText = c.tag;
            item.sortText = String(i).padStart(6, '0');
            if (list) item.filterText = typed === '' ? c.tag : `${typed} ${c.tag}`;
            item.detail =
              c.source === 'dataset'
                ? `on ${c.datasetCount} of ${info.total} caption files of ${path.basename(info.concept)}${listed ? ` · tag list: ${listed}` : ''}`
                : `not in the dataset · tag list ${source}: ${c.categoryName ?? 'no category'}${c.listCount !== null ? `, ${c.listCount.toLocaleString('en-US')} posts` : ''}${c.alias !== undefined ? ` · you typed its alias "${c.alias}"` : ''}`;
            return item;
          });
          return new vscode.CompletionList(out, list !== undefined || pending);
        },
      },
      ',', ' ',
    ),
    vscode.languages.registerHoverProvider(selector, {
      async provideHover(doc, position) {
        const info = diagnostics.tagsFor(doc.uri.fsPath);
        if (!info) return undefined;
        const parsed = parseCaption(doc.getText());
        const offset = doc.offsetAt(position);
        const tag = parsed.lines.flatMap((l) => l.tags).find((t) => offset >= t.start && offset <= t.end);
        if (!tag) return undefined;
        const key = looseTagKey(tag.name);
        const count = info.tags.find((t) => t.key === key)?.count ?? 0;
        const md = new vscode.MarkdownString('', true);
        md.supportHtml = true;
        md.appendMarkdown(`**${escapeMd(tag.name)}**: on ${count} of ${info.total} caption files of \`${path.basename(info.concept)}\``);
        if (info.total > 0 && count / info.total >= 0.8) {
          md.appendMarkdown('\n\nA tag on almost every image takes on what it names: if that is part of what the trigger word should learn, consider removing it.');
        }
        const listed = (await diagnostics.tagList.get())?.lookup(tag.name);
        if (listed) {
          md.appendMarkdown(
            `\n\nTag list (${escapeMd(diagnostics.tagList.fileName)}): ${listed.categoryName ?? 'no category'}` +
              (listed.count !== null ? `, ${listed.count.toLocaleString('en-US')} posts` : ''),
          );
        }
        const images = diagnostics.imagesWithTag(info.concept, key, doc.uri.fsPath, 3);
        if (images.length) {
          const uris = images.map((p) => vscode.Uri.file(p).toString());
          md.appendMarkdown(`\n\n${images.map((p, i) => `![${escapeMd(path.basename(p))}](${uris[i]}|height=96)`).join(' ')}`);
          md.appendMarkdown(`\n\n${images.map((p, i) => `[${escapeMd(path.basename(p))}](${uris[i]})`).join(' · ')}`);
        }
        return new vscode.Hover(md, new vscode.Range(doc.positionAt(tag.start), doc.positionAt(tag.end)));
      },
    }),
  );
}

export function registerCaptionDiagnostics(subscriptions: vscode.Disposable[], model: DatasetsModel): CaptionDiagnostics {
  const diagnostics = new CaptionDiagnostics(model);
  subscriptions.push(diagnostics);
  registerTagLanguageFeatures(subscriptions, diagnostics);
  if (model.current.scannedAt) void diagnostics.sync();
  return diagnostics;
}
