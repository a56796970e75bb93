/**
 * Tag-list completion and the image-preview hover in a tag file of the sample dataset, with
 * `loraWorkbench.captions.tagList` pointing at a copy of the real WD14 selected_tags.csv
 * (test/fixtures/wd14): the concept's tags first, then listed tags in the dataset's style; the
 * list read again when its file changes; a broken list leaves the dataset's tags.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as vscode from 'vscode';

const EXTENSION_ID = 'lora-workbench.lora-workbench';
// this bundle runs from out/test/vscode/suite
const REPO = path.resolve(__dirname, '..', '..', '..', '..');
const SETTING = 'captions.tagList';

function uri(rel: string): vscode.Uri {
  const wf = vscode.workspace.workspaceFolders?.[0];
  assert.ok(wf);
  return vscode.Uri.joinPath(wf.uri, rel);
}

async function until<T>(fn: () => Promise<T | undefined> | T | undefined, what: string, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const labelOf = (i: vscode.CompletionItem): string => (typeof i.label === 'string' ? i.label : i.label.label);
const descriptionOf = (i: vscode.CompletionItem): string => (typeof i.label === 'string' ? '' : (i.label.description ?? ''));

describe('tag-list completion and hover', () => {
  let work: string;
  let doc: vscode.TextDocument;
  const file = uri('dataset/img_train/5_tk girl/3.txt');
  const config = (): vscode.WorkspaceConfiguration => vscode.workspace.getConfiguration('loraWorkbench');

  before(async () => {
    const api = await vscode.extensions.getExtension<{ datasets: { refresh(): Promise<void> } }>(EXTENSION_ID)?.activate();
    await api?.datasets.refresh();
    work = mkdtempSync(path.join(tmpdir(), 'lwb-taglist-'));
    // a folder holding selected_tags.csv is accepted like the file itself (the WD14 model folder)
    copyFileSync(path.join(REPO, 'test', 'fixtures', 'wd14', 'selected_tags.csv'), path.join(work, 'selected_tags.csv'));
    await config().update(SETTING, work, vscode.ConfigurationTarget.Workspace);
    await vscode.workspace.openTextDocument(file);
    doc = await until(() => vscode.workspace.textDocuments.find((d) => d.uri.fsPath === file.fsPath && d.languageId === 'kohya-caption'), 'the caption language');
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.files.revert', file).then(undefined, () => undefined);
    await config().update(SETTING, undefined, vscode.ConfigurationTarget.Workspace);
    rmSync(work, { recursive: true, force: true });
  });

  /** Types `text` after the last tag and asks for completion at the end. */
  async function completeAfter(text: string): Promise<vscode.CompletionList> {
    await vscode.commands.executeCommand('workbench.action.files.revert', file);
    const end = doc.lineAt(0).range.end;
    const edit = new vscode.WorkspaceEdit();
    edit.insert(file, end, text);
    assert.ok(await vscode.workspace.applyEdit(edit));
    return vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', file, doc.lineAt(0).range.end);
  }

  it('offers the concept\'s tags first, then listed tags in the dataset\'s underscore style', async () => {
    // typed with a space: the dataset writes looking_back, so listed tags come with underscores
    const list = await until(async () => {
      const l = await completeAfter(', looking ');
      return l.items.some((i) => labelOf(i) === 'looking_away') ? l : undefined;
    }, 'listed tags in the completion');
    const labels = list.items.map(labelOf);
    assert.equal(list.isIncomplete, true, 'the answer depends on the prefix');
    // looking_at_viewer is in 3.txt already; looking_back is on 1 image of the concept
    assert.equal(labels[0], 'looking_back', labels.slice(0, 8).join(', '));
    assert.equal(labels.includes('looking_at_viewer'), false);
    const firstListed = list.items.findIndex((i) => i.kind === vscode.CompletionItemKind.Reference);
    assert.ok(firstListed > 0, labels.slice(0, 8).join(', '));
    assert.ok(list.items.slice(0, firstListed).every((i) => i.kind === vscode.CompletionItemKind.Value), 'dataset tags come first');
    const listed = list.items.slice(firstListed);
    // most posts first: looking_at_another (137,202) before looking_to_the_side (99,629) and looking_away
    assert.deepEqual(listed.slice(0, 3).map(labelOf), ['looking_at_another', 'looking_to_the_side', 'looking_away']);
    assert.match(descriptionOf(listed[0] as vscode.CompletionItem), /^list · general · 137k$/);
    assert.match(String(listed[0]?.detail), /not in the dataset · tag list selected_tags\.csv: general, 137,202 posts/);
    assert.equal(listed.some((i) => labelOf(i).includes(' ')), false, 'underscores, as the dataset writes tags');
    const sorted = [...list.items].sort((a, b) => String(a.sortText).localeCompare(String(b.sortText)));
    assert.deepEqual(sorted.map(labelOf), labels, 'sortText keeps this order');
  });

  it('shows a tag\'s count, its tag-list entry and a preview of images with it on hover', async () => {
    await vscode.commands.executeCommand('workbench.action.files.revert', file);
    const at = doc.getText().indexOf('blue_hair') + 2;
    const hovers = await until(async () => {
      const hs = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', file, doc.positionAt(at));
      const text = hs.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
      return /Tag list/.test(text) ? text : undefined;
    }, 'the hover with the tag list');
    assert.match(hovers, /\*\*blue\\_hair\*\*: on 14 of 14 caption files of `5_tk girl`/);
    assert.match(hovers, /Tag list \(selected\\_tags\\\.csv\): general, 564,360 posts/);
    // three previews of other images of the concept with the tag, and links that open them
    const previews = [...hovers.matchAll(/!\[([^\]]+)\]\((file:[^)|]+)\|height=96\)/g)];
    assert.equal(previews.length, 3, hovers);
    for (const [, name, target] of previews) {
      assert.ok(target);
      const p = vscode.Uri.parse(target).fsPath;
      assert.equal(path.dirname(p), path.dirname(file.fsPath));
      assert.equal(path.basename(p).replace(/\\/g, ''), name?.replace(/\\/g, ''));
      assert.match(p, /\.png$/);
      assert.notEqual(path.basename(p), '3.png', 'other images first');
      assert.ok(hovers.includes(`](${target})`), 'a link opens the image');
    }
  });

  it('reads the list again when its file changes, and keeps the dataset tags when it is broken', async () => {
    // an a1111 tag-complete CSV with an alias replaces the WD14 list
    writeFileSync(path.join(work, 'selected_tags.csv'), 'zz_fixture_tag,4,1234,"zzalias"\n');
    const items = await until(async () => {
      const l = await completeAfter(', zzal');
      return l.items.some((i) => labelOf(i) === 'zz_fixture_tag') ? l.items : undefined;
    }, 'the changed list to be read');
    const hit = items.find((i) => labelOf(i) === 'zz_fixture_tag');
    assert.match(descriptionOf(hit as vscode.CompletionItem), /^list · character · 1234$/);
    assert.match(String(hit?.detail), /you typed its alias "zzalias"/);
    // a file that is not a tag list: completion goes on with the concept's tags
    await config().update(SETTING, path.join(work, 'missing.csv'), vscode.ConfigurationTarget.Workspace);
    const after = await completeAfter(', blu');
    const labels = after.items.map(labelOf);
    assert.ok(labels.includes('blue_dress'), labels.slice(0, 10).join(', '));
    assert.equal(labels.includes('zz_fixture_tag'), false);
    assert.ok(after.items.every((i) => i.kind === vscode.CompletionItemKind.Value));
  });
});
