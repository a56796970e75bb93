import * as vscode from 'vscode';
import { classifyTextFile } from '../core/dataset/sidecarKind';
import { Languages, Settings } from '../constants';
import { getLog } from '../platform/log';
import { referencedKindOf } from './tomlLanguage';

/**
 * Gives `.txt` files our languages only where that is what they are: a tag/caption file next to
 * an image with the same name (`kohya-caption`), or an sd-scripts sample-prompt file
 * (`kohya-prompts`). Every other `.txt` stays plain text.
 */
export function registerSidecarLanguage(subscriptions: vscode.Disposable[]): void {
  const check = async (doc: vscode.TextDocument): Promise<void> => {
    if (doc.uri.scheme !== 'file' || doc.languageId !== 'plaintext') return;
    const exts = vscode.workspace
      .getConfiguration(Settings.section, doc.uri)
      .get<string[]>(Settings.sidecarExtensions, ['.txt', '.caption']);
    try {
      // a training config that names this file as its sample prompts settles it
      const kind = referencedKindOf(doc.uri.fsPath) === 'samplePrompts'
        ? 'samplePrompts'
        : await classifyTextFile(doc.uri.fsPath, doc.getText(), exts);
      if (doc.isClosed || doc.languageId !== 'plaintext') return;
      if (kind === 'caption') await vscode.languages.setTextDocumentLanguage(doc, Languages.caption);
      else if (kind === 'samplePrompts') await vscode.languages.setTextDocumentLanguage(doc, Languages.samplePrompts);
    } catch (e) {
      getLog().warn(`Could not classify ${doc.uri.fsPath}: ${(e as Error).message}`);
    }
  };
  subscriptions.push(vscode.workspace.onDidOpenTextDocument((d) => void check(d)));
  for (const d of vscode.workspace.textDocuments) void check(d);
}
