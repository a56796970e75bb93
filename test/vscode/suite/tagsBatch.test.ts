/**
 * Batch tag commands inside VS Code on a temporary copy of the sample concept folder: files change
 * as one journal batch, an unsaved editor gets its edit through the document (the file on disk
 * behind it stays as it was), "Undo Last Tag Batch" restores every byte; plus rename across the
 * dataset (F2) and the trigger-word highlight.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as vscode from 'vscode';
import type { TagBatchResult } from '../../../src/features/tagsBatch/apply';
import type { UndoResult } from '../../../src/core/captions/journal';

const EXTENSION_ID = 'lora-workbench.lora-workbench';
const REPO = path.resolve(__dirname, '..', '..', '..', '..');

let work: string;
let concept: string;
let original: Map<string, Buffer>;

const snapshot = (): Map<string, Buffer> => new Map(readdirSync(concept).filter((n) => n.endsWith('.txt')).map((n) => [n, readFileSync(path.join(concept, n))]));
const text = (name: string): string => readFileSync(path.join(concept, name), 'utf8');

function assertSame(a: Map<string, Buffer>, b: Map<string, Buffer>): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [k, v] of a) assert.ok(v.equals(b.get(k) as Buffer), `${k} is byte-identical`);
}

function run(kind: string, target: unknown, options: Record<string, unknown>): Thenable<TagBatchResult> {
  return vscode.commands.executeCommand<TagBatchResult>(`loraWorkbench.tags.${kind}`, target, { confirm: false, ...options });
}

async function until<T>(fn: () => T | undefined | false, what: string, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('batch tag commands', () => {
  before(async () => {
    await vscode.extensions.getExtension(EXTENSION_ID)?.activate();
    work = mkdtempSync(path.join(tmpdir(), 'lwb-tags-batch-'));
    concept = path.join(work, 'img_train', '5_tk girl');
    mkdirSync(path.dirname(concept), { recursive: true });
    cpSync(path.join(REPO, 'sample', 'dataset', 'img_train', '5_tk girl'), concept, { recursive: true });
    original = snapshot();
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('adds a tag at the front of every tag file of a folder as one batch, and undoes it byte for byte', async () => {
    const r = await run('add', [vscode.Uri.file(concept)], { tags: ['new_tag'], position: 'front' });
    assert.equal(r.ok, true, r.message);
    assert.equal(r.written.length, 14);
    assert.ok(r.journalBatch);
    for (const n of original.keys()) assert.match(text(n), /^new_tag, tk, /);
    const u = await vscode.commands.executeCommand<UndoResult>('loraWorkbench.undoTagBatch');
    assert.equal(u.ok, true, u.message);
    assert.equal(u.restored.length, 14);
    assertSame(snapshot(), original);
  });

  it('edits an unsaved editor through the document, never the file behind it; undo puts the editor back too', async () => {
    const one = path.join(concept, '1.txt');
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(one));
    const editor = await vscode.window.showTextDocument(doc);
    await editor.edit((e) => e.insert(doc.positionAt(doc.getText().indexOf('\n') >= 0 ? doc.getText().indexOf('\n') : doc.getText().length), ', typed_by_hand'));
    assert.equal(doc.isDirty, true);
    const dirtyText = doc.getText();
    assert.match(dirtyText, /solo/);

    const r = await run('remove', vscode.Uri.file(concept), { tags: ['solo'] });
    assert.equal(r.ok, true, r.message);
    assert.deepEqual(r.documents, [one]);
    assert.equal(r.written.includes(one), false);
    assert.ok(readFileSync(one).equals(original.get('1.txt') as Buffer), 'the file behind the dirty editor is untouched');
    assert.doesNotMatch(doc.getText(), /\bsolo\b/);
    assert.match(doc.getText(), /typed_by_hand/);
    assert.equal(doc.isDirty, true);
    const changed = r.written.map((f) => path.basename(f));
    assert.ok(changed.length >= 5, `${changed.length} files on disk`);
    for (const n of changed) assert.doesNotMatch(text(n), /(^|, )solo(,|\n|$)/);

    const u = await vscode.commands.executeCommand<UndoResult>('loraWorkbench.undoTagBatch');
    assert.equal(u.ok, true, u.message);
    assertSame(snapshot(), original);
    await until(() => doc.getText() === dirtyText, 'the editor to show its text from before the batch');
    // throw the typing away: the window is left without unsaved editors
    await vscode.window.showTextDocument(doc);
    await vscode.commands.executeCommand('workbench.action.files.revert');
    await until(() => !doc.isDirty, 'the revert');
  });

  it('moves the trigger word to the front like the seed script, removes it, and names the folder\'s trigger', async () => {
    const a = await run('removeTrigger', [vscode.Uri.file(path.join(concept, '2.png')), vscode.Uri.file(path.join(concept, '3.txt'))], {});
    assert.equal(a.ok, true, a.message);
    assert.equal(a.written.length, 2);
    assert.doesNotMatch(text('2.txt'), /^tk,/);
    assert.match(a.message, /'tk'/);
    const b = await run('addTrigger', [vscode.Uri.file(concept)], {});
    assert.equal(b.written.length, 2, 'only the two files without it change');
    assertSame(snapshot(), original);
  });

  it('creates tag files for images without one, starting with the trigger word', async () => {
    unlinkSync(path.join(concept, '4.txt'));
    const r = await run('createMissing', vscode.Uri.file(concept), {});
    assert.equal(r.ok, true, r.message);
    assert.deepEqual(r.written.map((f) => path.basename(f)), ['4.txt']);
    assert.equal(text('4.txt'), 'tk\n');
    const u = await vscode.commands.executeCommand<UndoResult>('loraWorkbench.undoTagBatch');
    assert.equal(u.ok, true, u.message);
    assert.equal(existsSync(path.join(concept, '4.txt')), false, 'undo deletes the file it created');
  });

  it('renames a tag across the dataset (F2) as an edit that asks for confirmation', async () => {
    const wf = vscode.workspace.workspaceFolders?.[0];
    assert.ok(wf);
    const file = vscode.Uri.joinPath(wf.uri, 'dataset', 'img_train', '5_tk girl', '1.txt');
    const doc = await vscode.workspace.openTextDocument(file);
    await until(() => doc.languageId === 'kohya-caption', 'the caption language');
    const at = doc.positionAt(doc.getText().indexOf('blue_hair') + 2);
    const we = await vscode.commands.executeCommand<vscode.WorkspaceEdit>('vscode.executeDocumentRenameProvider', file, at, 'aqua hair');
    const files = we.entries().map(([u]) => path.basename(u.fsPath));
    const withTag = readdirSync(path.dirname(file.fsPath)).filter((n) => n.endsWith('.txt') && /(^|, )blue_hair(,|\n|$)/.test(readFileSync(path.join(path.dirname(file.fsPath), n), 'utf8')));
    assert.deepEqual(files.sort(), withTag.sort());
    assert.ok(files.length > 5);
    const [, edits] = we.entries().find(([u]) => u.fsPath === file.fsPath) ?? [];
    assert.equal(edits?.length, 1);
    const e = edits?.[0] as vscode.TextEdit;
    const t = doc.getText();
    const renamed = t.slice(0, doc.offsetAt(e.range.start)) + e.newText + t.slice(doc.offsetAt(e.range.end));
    assert.equal(renamed, t.replace('blue_hair', 'aqua hair'));
  });

  it('reports captions longer than max_token_length in the Problems panel, with an estimate labelled as one', async () => {
    const wf = vscode.workspace.workspaceFolders?.[0];
    assert.ok(wf);
    const file = vscode.Uri.joinPath(wf.uri, 'dataset', 'img_train', '5_tk girl', '11.txt');
    const long = () => vscode.languages.getDiagnostics(file).filter((d) => d.code === 'caption-too-long');
    // the sample's training config sets max_token_length = 225: nothing to report
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(long().length, 0);
    const cfg = vscode.workspace.getConfiguration('loraWorkbench');
    await cfg.update('captions.maxTokenLength', 75, vscode.ConfigurationTarget.Workspace);
    try {
      const d = await until(() => long()[0], 'a caption-too-long diagnostic on 11.txt', 30_000);
      assert.match(d.message, /about \d+ CLIP tokens \(an estimate/);
      assert.match(d.message, /max_token_length = 75/);
      assert.equal(d.severity, vscode.DiagnosticSeverity.Warning);
    } finally {
      await cfg.update('captions.maxTokenLength', undefined, vscode.ConfigurationTarget.Workspace);
    }
    await until(() => long().length === 0, 'the diagnostic to go with the setting', 30_000);
  });
});
