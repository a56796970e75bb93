/**
 * kohya config IntelliSense: diagnostics, quick fixes, completion, hover, outline and go to
 * definition for training configs, dataset configs and sample-prompt files. All knowledge lives in
 * src/core/config; this file only turns its plain data into VS Code objects.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  checkConfig,
  completionsAt,
  detectConfigKind,
  documentSymbols,
  hoverAt,
  nodeFileSystem,
  pathAt,
  referencedFiles,
  type CompletionItem as CoreCompletion,
  type ConfigDiagnostic,
  type ConfigKind,
  type OutlineSymbol,
  type Range as CoreRange,
  type Severity,
} from '../../core/config';
import { Languages, Settings } from '../../constants';
import { getLog } from '../../platform/log';

export const DIAGNOSTIC_SOURCE = 'LoRA Workbench';

const SELECTOR: vscode.DocumentSelector = [
  { language: Languages.toml, scheme: 'file' },
  { language: Languages.toml, scheme: 'untitled' },
  { language: Languages.samplePrompts, scheme: 'file' },
];

function toRange(r: CoreRange): vscode.Range {
  return new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character);
}

const SEVERITY: Record<Severity, vscode.DiagnosticSeverity> = {
  error: vscode.DiagnosticSeverity.Error,
  warning: vscode.DiagnosticSeverity.Warning,
  info: vscode.DiagnosticSeverity.Information,
  hint: vscode.DiagnosticSeverity.Hint,
};

/** Files that an open training config names as its dataset config or sample prompts. */
const referencedKinds = new Map<string, ConfigKind>();

export function referencedKindOf(fsPath: string): ConfigKind | undefined {
  return referencedKinds.get(fsPath);
}

/**
 * The kohya kind of a document: the association setting first, then what a training config says
 * the file is (dataset_config, sample_prompts), then its language and content.
 */
export function configKindOf(doc: vscode.TextDocument): ConfigKind | undefined {
  const assoc = vscode.workspace
    .getConfiguration(Settings.section, doc.uri)
    .get<Record<string, ConfigKind | 'none'>>(Settings.configAssociations, {});
  for (const [pattern, kind] of Object.entries(assoc)) {
    if (vscode.languages.match({ pattern }, doc) > 0) return kind === 'none' ? undefined : kind;
  }
  if (doc.languageId === Languages.samplePrompts) return 'samplePrompts';
  const referenced = doc.uri.scheme === 'file' ? referencedKinds.get(doc.uri.fsPath) : undefined;
  if (referenced && (doc.languageId === Languages.toml || referenced === 'samplePrompts')) return referenced;
  if (doc.languageId !== Languages.toml) return undefined;
  // untitled documents have no .toml name, but their language says what they are
  const name = doc.fileName.toLowerCase().endsWith('.toml') ? doc.fileName : `${doc.fileName}.toml`;
  return detectConfigKind(name, doc.getText());
}

/** Relative paths in a config are checked against the workspace folder that holds it. */
function baseDirOf(doc: vscode.TextDocument): string | undefined {
  const wf = vscode.workspace.getWorkspaceFolder(doc.uri);
  if (wf?.uri.scheme === 'file') return wf.uri.fsPath;
  return doc.uri.scheme === 'file' ? path.dirname(doc.uri.fsPath) : undefined;
}

class ConfigDiagnostics implements vscode.CodeActionProvider {
  static readonly metadata: vscode.CodeActionProviderMetadata = {
    providedCodeActionKinds: [vscode.CodeActionKind.QuickFix],
  };
  readonly collection = vscode.languages.createDiagnosticCollection('lora-workbench-config');
  /** the core diagnostics behind each published diagnostic, for quick fixes */
  private readonly published = new Map<string, Array<{ diagnostic: vscode.Diagnostic; core: ConfigDiagnostic }>>();
  /** files that received diagnostics from another document (e.g. a dataset config) */
  private readonly foreign = new Map<string, Set<string>>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  update(doc: vscode.TextDocument): void {
    const key = doc.uri.toString();
    const kind = configKindOf(doc);
    if (!kind) {
      this.clear(doc.uri);
      return;
    }
    let core: ConfigDiagnostic[];
    try {
      core = checkConfig(kind, doc.getText(), {
        fileName: doc.uri.scheme === 'file' ? doc.uri.fsPath : doc.fileName,
        fs: doc.uri.scheme === 'file' ? nodeFileSystem : undefined,
        baseDir: baseDirOf(doc),
      });
    } catch (e) {
      getLog().error(`Checking ${doc.uri.fsPath} failed: ${(e as Error).message}`);
      return;
    }
    if (kind === 'training') this.noteReferences(doc);
    const own: Array<{ diagnostic: vscode.Diagnostic; core: ConfigDiagnostic }> = [];
    const others = new Map<string, vscode.Diagnostic[]>();
    for (const c of core) {
      const d = new vscode.Diagnostic(toRange(c.range), c.message, SEVERITY[c.severity]);
      d.source = DIAGNOSTIC_SOURCE;
      d.code = c.code;
      if (c.file && path.resolve(c.file) !== doc.uri.fsPath) {
        const list = others.get(c.file) ?? [];
        list.push(d);
        others.set(c.file, list);
      } else own.push({ diagnostic: d, core: c });
    }
    this.published.set(key, own);
    this.collection.set(doc.uri, own.map((o) => o.diagnostic));
    // diagnostics about referenced files (e.g. the dataset config) go on those files
    for (const f of this.foreign.get(key) ?? []) if (!others.has(f)) this.collection.delete(vscode.Uri.file(f));
    for (const [f, ds] of others) this.collection.set(vscode.Uri.file(f), ds);
    this.foreign.set(key, new Set(others.keys()));
  }

  /** Remembers the kinds of the files a training config names, and re-checks those that are open. */
  private noteReferences(doc: vscode.TextDocument): void {
    const base = baseDirOf(doc);
    if (!base) return;
    for (const ref of referencedFiles(doc.getText())) {
      if (!ref.kind) continue;
      const file = path.isAbsolute(ref.path) ? ref.path : path.join(base, ref.path);
      if (referencedKinds.get(file) === ref.kind) continue;
      referencedKinds.set(file, ref.kind);
      const open = vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'file' && d.uri.fsPath === file);
      if (open?.languageId === 'plaintext' && ref.kind === 'samplePrompts') {
        void vscode.languages.setTextDocumentLanguage(open, Languages.samplePrompts);
      } else if (open) this.schedule(open, 50);
    }
  }

  schedule(doc: vscode.TextDocument, delayMs = 200): void {
    const key = doc.uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        if (!doc.isClosed) this.update(doc);
      }, delayMs),
    );
  }

  clear(uri: vscode.Uri): void {
    const key = uri.toString();
    clearTimeout(this.timers.get(key));
    this.collection.delete(uri);
    this.published.delete(key);
    for (const f of this.foreign.get(key) ?? []) this.collection.delete(vscode.Uri.file(f));
    this.foreign.delete(key);
  }

  provideCodeActions(doc: vscode.TextDocument, range: vscode.Range | vscode.Selection): vscode.CodeAction[] {
    const actions: vscode.CodeAction[] = [];
    for (const { diagnostic, core } of this.published.get(doc.uri.toString()) ?? []) {
      if (!diagnostic.range.intersection(range) || !core.fixes?.length) continue;
      for (const fix of core.fixes) {
        const action = new vscode.CodeAction(fix.title, vscode.CodeActionKind.QuickFix);
        action.diagnostics = [diagnostic];
        action.isPreferred = fix.preferred ?? core.fixes.length === 1;
        const edit = new vscode.WorkspaceEdit();
        for (const e of fix.edits) edit.replace(doc.uri, toRange(e.range), e.newText);
        action.edit = edit;
        actions.push(action);
      }
    }
    return actions;
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.collection.dispose();
  }
}

const COMPLETION_KIND: Record<CoreCompletion['kind'], vscode.CompletionItemKind> = {
  key: vscode.CompletionItemKind.Property,
  value: vscode.CompletionItemKind.Value,
  section: vscode.CompletionItemKind.Module,
  snippet: vscode.CompletionItemKind.Snippet,
  path: vscode.CompletionItemKind.File,
};

function toCompletion(c: CoreCompletion): vscode.CompletionItem {
  const item = new vscode.CompletionItem(c.label, COMPLETION_KIND[c.kind]);
  item.insertText = c.snippet ? new vscode.SnippetString(c.insertText) : c.insertText;
  item.detail = c.detail;
  if (c.documentation) item.documentation = new vscode.MarkdownString(c.documentation);
  if (c.sortText) item.sortText = c.sortText;
  if (c.replaceRange) item.range = toRange(c.replaceRange);
  if (c.kind === 'path' && c.label.endsWith('/')) {
    item.kind = vscode.CompletionItemKind.Folder;
    item.command = { command: 'editor.action.triggerSuggest', title: 'Suggest' };
  }
  return item;
}

function toSymbol(s: OutlineSymbol): vscode.DocumentSymbol {
  const sym = new vscode.DocumentSymbol(
    s.name,
    s.detail,
    s.kind === 'section' ? vscode.SymbolKind.Namespace : vscode.SymbolKind.Property,
    toRange(s.range),
    toRange(s.selectionRange),
  );
  sym.children = s.children.map(toSymbol);
  return sym;
}

export function registerTomlLanguage(subscriptions: vscode.Disposable[]): { diagnostics: vscode.DiagnosticCollection } {
  const diagnostics = new ConfigDiagnostics();
  const relevant = (d: vscode.TextDocument) =>
    d.languageId === Languages.toml || d.languageId === Languages.samplePrompts;

  subscriptions.push(
    diagnostics,
    vscode.workspace.onDidOpenTextDocument((d) => relevant(d) && diagnostics.update(d)),
    vscode.workspace.onDidChangeTextDocument((e) => relevant(e.document) && diagnostics.schedule(e.document)),
    vscode.workspace.onDidCloseTextDocument((d) => diagnostics.clear(d.uri)),
    vscode.workspace.onDidSaveTextDocument((d) => {
      // a saved dataset config or prompt file changes what its training config reports
      for (const other of vscode.workspace.textDocuments) if (relevant(other) && other !== d) diagnostics.schedule(other, 50);
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(`${Settings.section}.${Settings.configAssociations}`)) {
        for (const d of vscode.workspace.textDocuments) if (relevant(d)) diagnostics.update(d);
      }
    }),
    vscode.languages.registerCodeActionsProvider(SELECTOR, diagnostics, ConfigDiagnostics.metadata),
    vscode.languages.registerCompletionItemProvider(
      SELECTOR,
      {
        provideCompletionItems(doc, position) {
          const kind = configKindOf(doc) ?? (doc.languageId === Languages.toml && doc.getText().trim() === '' ? 'training' : undefined);
          if (!kind) return undefined;
          const items = completionsAt(kind, doc.getText(), doc.offsetAt(position), {
            fs: doc.uri.scheme === 'file' ? nodeFileSystem : undefined,
            baseDir: baseDirOf(doc),
            fileName: doc.fileName,
          });
          return items.map(toCompletion);
        },
      },
      '[', '=', '"', "'", '/', '.', ' ', '-',
    ),
    vscode.languages.registerHoverProvider(SELECTOR, {
      provideHover(doc, position) {
        const kind = configKindOf(doc);
        if (!kind) return undefined;
        const h = hoverAt(kind, doc.getText(), doc.offsetAt(position), { fileName: doc.fileName });
        if (!h) return undefined;
        const md = new vscode.MarkdownString(h.markdown);
        return new vscode.Hover(md, toRange(h.range));
      },
    }),
    vscode.languages.registerDocumentSymbolProvider(
      { language: Languages.toml },
      {
        provideDocumentSymbols(doc) {
          return configKindOf(doc) ? documentSymbols(doc.getText()).map(toSymbol) : undefined;
        },
      },
      { label: 'kohya config' },
    ),
    vscode.languages.registerDefinitionProvider(SELECTOR, {
      provideDefinition(doc, position) {
        const kind = configKindOf(doc);
        if (!kind || doc.uri.scheme !== 'file') return undefined;
        const ref = pathAt(doc.getText(), doc.offsetAt(position), kind);
        if (!ref) return undefined;
        const base = baseDirOf(doc) ?? path.dirname(doc.uri.fsPath);
        const target = path.isAbsolute(ref.path) ? ref.path : path.join(base, ref.path);
        if (!nodeFileSystem.exists(target)) return undefined;
        const link: vscode.LocationLink = {
          originSelectionRange: toRange(ref.range),
          targetUri: vscode.Uri.file(target),
          targetRange: new vscode.Range(0, 0, 0, 0),
        };
        return [link];
      },
    }),
  );
  for (const d of vscode.workspace.textDocuments) if (relevant(d)) diagnostics.update(d);
  return { diagnostics: diagnostics.collection };
}
