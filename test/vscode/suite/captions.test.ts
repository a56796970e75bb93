/**
 * Caption/tag diagnostics in the Problems panel for the whole dataset, live updates while typing,
 * quick fixes, and tag completion/hover, on the sample dataset (a temporary copy).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

const EXTENSION_ID = 'lora-workbench.lora-workbench';

function uri(rel: string): vscode.Uri {
  const wf = vscode.workspace.workspaceFolders?.[0];
  assert.ok(wf);
  return vscode.Uri.joinPath(wf.uri, rel);
}

async function until<T>(fn: () => T | undefined, what: string, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const ours = (u: vscode.Uri) => vscode.languages.getDiagnostics(u).filter((d) => d.source === 'LoRA Workbench');

describe('caption diagnostics', () => {
  before(async () => {
    const api = await vscode.extensions.getExtension<{ datasets: { refresh(): Promise<void> } }>(EXTENSION_ID)?.activate();
    await api?.datasets.refresh();
  });

  it('reports tags on nearly every image of a concept for files that are not open', async () => {
    const file = uri('dataset/img_train/5_tk girl/7.txt');
    assert.equal(vscode.workspace.textDocuments.some((d) => d.uri.fsPath === file.fsPath), false, 'the file is not open');
    const diags = await until(() => {
      const d = ours(file);
      return d.some((x) => x.code === 'pollution-candidate') ? d : undefined;
    }, 'pollution candidates on 7.txt');
    const text = diags.map((d) => d.message).join('\n');
    assert.match(text, /'blue_hair' is on 14 of 14 images/);
    // the trigger word "tk" (from the folder name 5_tk girl) is first everywhere
    assert.equal(diags.some((d) => d.code === 'trigger-missing' || d.code === 'trigger-not-first'), false);
  });

  it('updates while typing and fixes a missing trigger word', async () => {
    const file = uri('dataset/img_train/5_tk girl/4.txt');
    let doc = await vscode.workspace.openTextDocument(file);
    await until(() => (vscode.workspace.textDocuments.find((d) => d.uri.fsPath === file.fsPath)?.languageId === 'kohya-caption' ? true : undefined), 'the caption language');
    doc = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === file.fsPath) ?? doc;
    const original = doc.getText();
    assert.ok(original.startsWith('tk, '));
    const edit = new vscode.WorkspaceEdit();
    edit.delete(file, new vscode.Range(0, 0, 0, 4));
    assert.ok(await vscode.workspace.applyEdit(edit));
    const missing = await until(() => ours(file).find((d) => d.code === 'trigger-missing'), 'trigger-missing');
    assert.match(missing.message, /tk/);
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', file, missing.range);
    const fix = actions.find((a) => a.title === "Add 'tk' at the front");
    assert.ok(fix?.edit, actions.map((a) => a.title).join(', '));
    assert.ok(await vscode.workspace.applyEdit(fix.edit));
    assert.ok(doc.getText().startsWith('tk, '), doc.getText().slice(0, 40));
    await until(() => (ours(file).some((d) => d.code === 'trigger-missing') ? undefined : true), 'the diagnostic to go');
    await doc.save();
  });

  it('completes tags from the concept by frequency and explains a tag on hover', async () => {
    const file = uri('dataset/img_train/5_tk girl/9.txt');
    await vscode.workspace.openTextDocument(file);
    await until(() => (vscode.workspace.textDocuments.find((d) => d.uri.fsPath === file.fsPath)?.languageId === 'kohya-caption' ? true : undefined), 'the caption language');
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === file.fsPath);
    assert.ok(doc);
    const end = doc.lineAt(0).range.end;
    const edit = new vscode.WorkspaceEdit();
    edit.insert(file, end, ', sandal');
    assert.ok(await vscode.workspace.applyEdit(edit));
    const list = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', file, doc.lineAt(0).range.end);
    const labels = list.items.map((i) => (typeof i.label === 'string' ? i.label : i.label.label));
    assert.ok(labels.includes('sandals'), labels.slice(0, 10).join(', '));
    // tags already in the file are not offered again
    assert.equal(labels.includes('maid'), false);
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', file, new vscode.Position(0, 1));
    const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
    assert.match(text, /\*\*tk\*\*: on 14 of 14 caption files/);
    await vscode.commands.executeCommand('workbench.action.files.revert', file);
  });

  it("takes a folder's trigger word from a dataset config's class_tokens", async () => {
    // a folder name without N_ (no trigger from it): only the dataset config names the concept
    const root = uri('tmp_caption_config').fsPath;
    fs.rmSync(root, { recursive: true, force: true });
    const dir = path.join(root, 'photos');
    fs.mkdirSync(dir, { recursive: true });
    const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000' + '1f15c4890000000d49444154789c63f8cfc0f01f0005000201e2212bc20000000049454e44ae426082', 'hex');
    for (const [n, tags] of [['a', 'qzx, 1dog, sitting'], ['b', '1dog, qzx, running'], ['c', '1dog, grass']] as Array<[string, string]>) {
      fs.writeFileSync(path.join(dir, `${n}.png`), png);
      fs.writeFileSync(path.join(dir, `${n}.txt`), tags);
    }
    fs.writeFileSync(
      path.join(root, 'dataset.toml'),
      ['[general]', 'caption_extension = ".txt"', '', '[[datasets]]', 'resolution = 1024', '', '  [[datasets.subsets]]', '  image_dir = "tmp_caption_config/photos"', '  class_tokens = "qzx dog"', ''].join('\n'),
    );
    try {
      const api = await vscode.extensions.getExtension<{ datasets: { refresh(): Promise<void> } }>(EXTENSION_ID)?.activate();
      await api?.datasets.refresh();
      const c = vscode.Uri.file(path.join(dir, 'c.txt'));
      const missing = await until(() => ours(c).find((d) => d.code === 'trigger-missing'), 'trigger-missing on c.txt', 30_000);
      assert.match(missing.message, /qzx/);
      const b = vscode.Uri.file(path.join(dir, 'b.txt'));
      const notFirst = await until(() => ours(b).find((d) => d.code === 'trigger-not-first'), 'trigger-not-first on b.txt');
      assert.match(notFirst.message, /qzx/);
      assert.equal(ours(vscode.Uri.file(path.join(dir, 'a.txt'))).some((d) => d.code === 'trigger-missing' || d.code === 'trigger-not-first'), false);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
