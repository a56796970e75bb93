/**
 * F2 on a tag in a caption/tag file renames it in every caption file of the dataset that has it:
 * one WorkspaceEdit whose edits need confirmation, so VS Code shows its refactor preview (each
 * file ticked, with a diff) before anything changes; the editor's undo takes it back.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { transformCaption } from '../../core/captions/batch';
import { looseTagKey, parseCaption, positionAt, splitWeight, type CaptionTag } from '../../core/captions/parse';
import { filesWithTag } from '../../core/captions/tagStats';
import { Languages } from '../../constants';
import type { CaptionDiagnostics } from '../captionDiagnostics';
import type { DatasetsModel } from '../datasetsView/model';

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function tagAt(doc: vscode.TextDocument, position: vscode.Position): CaptionTag | undefined {
  const parsed = parseCaption(doc.getText());
  const offset = doc.offsetAt(position);
  return parsed.lines.flatMap((l) => l.tags).find((t) => offset >= t.start && offset <= t.end && t.text !== '');
}

/** The range of the tag's name (inside a `(name:1.2)` weight). */
function nameRange(doc: vscode.TextDocument, t: CaptionTag): vscode.Range {
  const at = t.text.indexOf(t.name);
  const start = t.start + Math.max(0, at);
  return new vscode.Range(doc.positionAt(start), doc.positionAt(start + t.name.length));
}

export class TagRenameProvider implements vscode.RenameProvider {
  constructor(
    private readonly captions: CaptionDiagnostics,
    private readonly model: DatasetsModel,
  ) {}

  prepareRename(doc: vscode.TextDocument, position: vscode.Position): { range: vscode.Range; placeholder: string } {
    const t = tagAt(doc, position);
    if (!t) throw new Error('Put the cursor on a tag to rename it across the dataset.');
    return { range: nameRange(doc, t), placeholder: t.name };
  }

  /** The caption files of the dataset (the Datasets view group) this file belongs to that carry the tag. */
  private filesFor(file: string, name: string): string[] {
    const index = this.captions.captionIndex;
    const concept = index.conceptOf(file) ?? path.dirname(file);
    const group = this.model.current.groups.find((g) => g.folders.some((f) => f.path === concept));
    const concepts = group ? group.folders.map((f) => f.path) : [concept];
    const out = concepts.flatMap((c) => filesWithTag(index, name, c));
    return out.includes(file) ? out : [file, ...out];
  }

  async provideRenameEdits(doc: vscode.TextDocument, position: vscode.Position, newName: string): Promise<vscode.WorkspaceEdit> {
    const t = tagAt(doc, position);
    const edit = new vscode.WorkspaceEdit();
    if (!t) return edit;
    const to = newName.trim();
    if (to === '' || to.includes(',')) throw new Error('A tag name cannot be empty or contain a comma.');
    if (looseTagKey(splitWeight(to).name) === t.looseKey && to === t.name) return edit;
    const files = this.filesFor(doc.uri.fsPath, t.name);
    const meta: vscode.WorkspaceEditEntryMetadata = { label: `Rename '${t.name}' to '${to}'`, needsConfirmation: true, description: `${files.length} caption files` };
    for (const file of files) {
      const uri = vscode.Uri.file(file);
      const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
      let text: string;
      if (open) text = open.getText();
      else {
        try {
          text = UTF8.decode(await fsp.readFile(file));
        } catch {
          continue; // unreadable or not UTF-8: the diagnostics already name it
        }
      }
      const r = transformCaption(text, [{ op: 'replace', from: t.name, to }]);
      if (r.edits.length === 0) continue;
      const parsed = parseCaption(text);
      for (const e of r.edits) {
        const s = positionAt(parsed, e.start);
        const en = positionAt(parsed, e.end);
        edit.replace(uri, new vscode.Range(s.line, s.character, en.line, en.character), e.newText, meta);
      }
    }
    return edit;
  }
}

export function registerTagRename(subscriptions: vscode.Disposable[], captions: CaptionDiagnostics, model: DatasetsModel): void {
  subscriptions.push(vscode.languages.registerRenameProvider({ language: Languages.caption, scheme: 'file' }, new TagRenameProvider(captions, model)));
}
