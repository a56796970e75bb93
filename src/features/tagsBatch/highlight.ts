/**
 * The trigger word marked in caption/tag editors: a decoration on every tag that is its concept's
 * trigger word (bold, the editor's strong word-highlight colours), updated as the text, the
 * visible editors or the trigger settings change.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseCaption } from '../../core/captions/parse';
import { triggerKey } from '../../core/captions/tagStats';
import { Languages } from '../../constants';
import type { CaptionDiagnostics } from '../captionDiagnostics';

/** The ranges of the trigger word's tags in a caption document (exported for the in-host tests). */
export function triggerRanges(doc: vscode.TextDocument, trigger: string | null): vscode.Range[] {
  const key = triggerKey(trigger);
  if (!key) return [];
  const parsed = parseCaption(doc.getText());
  return parsed.lines
    .flatMap((l) => l.tags)
    .filter((t) => t.looseKey === key)
    .map((t) => new vscode.Range(doc.positionAt(t.start), doc.positionAt(t.end)));
}

export function registerTriggerHighlight(subscriptions: vscode.Disposable[], captions: CaptionDiagnostics): void {
  const decoration = vscode.window.createTextEditorDecorationType({
    fontWeight: 'bold',
    backgroundColor: new vscode.ThemeColor('editor.wordHighlightStrongBackground'),
    borderColor: new vscode.ThemeColor('editor.wordHighlightStrongBorder'),
    borderStyle: 'solid',
    borderWidth: '1px',
    borderRadius: '3px',
  });
  const update = (editor: vscode.TextEditor): void => {
    const doc = editor.document;
    if (doc.languageId !== Languages.caption || doc.uri.scheme !== 'file') {
      editor.setDecorations(decoration, []);
      return;
    }
    const folder = path.dirname(doc.uri.fsPath);
    const trigger = captions.triggerOf(folder);
    const ranges = triggerRanges(doc, trigger);
    editor.setDecorations(
      decoration,
      ranges.map((range) => ({ range, hoverMessage: new vscode.MarkdownString(`Trigger word of \`${path.basename(folder)}\``) })),
    );
  };
  const all = (): void => vscode.window.visibleTextEditors.forEach(update);
  let timer: NodeJS.Timeout | undefined;
  subscriptions.push(
    decoration,
    vscode.window.onDidChangeVisibleTextEditors(all),
    vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.document.languageId !== Languages.caption) return;
      clearTimeout(timer);
      timer = setTimeout(() => vscode.window.visibleTextEditors.filter((ed) => ed.document === e.document).forEach(update), 100);
    }),
    // the language is set a moment after the document opens; triggers change with the index
    vscode.workspace.onDidOpenTextDocument(() => setTimeout(all, 50)),
    captions.onDidUpdate(() => {
      clearTimeout(timer);
      timer = setTimeout(all, 300);
    }),
    { dispose: () => clearTimeout(timer) },
  );
  all();
}
