/**
 * Batch tag commands inside VS Code on a temporary copy of the sample concept folder: files change
 * as one journal batch, an unsaved editor gets its edit through the document (the file on disk
 * behind it stays as it was), "Undo Last Tag Batch" restores every byte; plus rename across the
 * dataset (F2) and the trigger-word highlight.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as vscode from 'vscode';
import type { TagBatchResult } from '../../../src/features/tagsBatch/apply';
import type { UndoResult } from '../../../src/core/captions/journal';
import type { TagUndoResult } from '../../../src/features/autoTag/journal';

const EXTENSION_ID = 'lora-workbench.lora-workbench';
const REPO = path.resolve(__dirname, '..', '..', '..', '..');

let work: string;
let concept: string;
let original: Map<string, Buffer>;

const snapshot = (): Map<string, Buffer> => new Map(readdirSync(concept).filter((n) => n.endsWith('.txt')).map((n) => [n, readFileSync(path.join(concept, n))]));
const text = (name: string): string => readFileSync(path.join(concept, name), 'utf8');

function assertSame(a: Map<string, Buffer>, b: Map<string, Buffer>): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [k, v] of a) {
    const w = b.get(k) as Buffer;
    const open = vscode.workspace.textDocuments.filter((d) => path.basename(d.uri.fsPath) === k).map((d) => `${d.uri.fsPath} dirty=${d.isDirty}: ${d.getText().slice(0, 80)}`);
    assert.ok(v.equals(w), `${k} is byte-identical; now ${JSON.stringify(v.toString('utf8').slice(0, 120))}, was ${JSON.stringify(w.toString('utf8').slice(0, 120))}; open: ${open.join(' | ')}`);
  }
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

async function untilAsync<T>(fn: () => Promise<T | undefined | false>, what: string, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Runs a command that asks a question, dismissing the question until the command returns. */
async function dismissing<T>(p: Thenable<T>): Promise<T> {
  let settled = false;
  const done = Promise.resolve(p).finally(() => {
    settled = true;
  });
  while (!settled) {
    await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
    await new Promise((r) => setTimeout(r, 100));
  }
  return done;
}

/** Closes the tabs `find` returns, looking them up again after each (tab objects are replaced). */
async function closeTabs(find: () => vscode.Tab[]): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const [t] = find();
    if (!t) return;
    await vscode.window.tabGroups.close(t).then(undefined, () => undefined);
  }
}

const undo = (): Thenable<TagUndoResult> => vscode.commands.executeCommand<TagUndoResult>('loraWorkbench.undoTagBatch');

/** Opens a tag file and types at the end of its first line: the editor is dirty, the file on disk unchanged. */
async function dirtyEditor(file: string, typed: string): Promise<vscode.TextDocument> {
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
  const editor = await vscode.window.showTextDocument(doc);
  const nl = doc.getText().indexOf('\n');
  await editor.edit((e) => e.insert(doc.positionAt(nl >= 0 ? nl : doc.getText().length), typed));
  assert.equal(doc.isDirty, true);
  return doc;
}

/** Throws the editor's unsaved text away (no save prompt is left behind). */
async function revert(doc: vscode.TextDocument): Promise<void> {
  await vscode.window.showTextDocument(doc);
  await vscode.commands.executeCommand('workbench.action.files.revert');
  await until(() => !doc.isDirty, 'the revert');
  await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
}

describe('batch tag commands: undo order, preview, cancel', () => {
  let dir: string;
  let c: string;
  let orig: Map<string, Buffer>;
  const snap = (): Map<string, Buffer> => new Map(readdirSync(c).filter((n) => n.endsWith('.txt')).map((n) => [n, readFileSync(path.join(c, n))]));
  const read = (n: string): string => readFileSync(path.join(c, n), 'utf8');

  before(async () => {
    await vscode.extensions.getExtension(EXTENSION_ID)?.activate();
    dir = mkdtempSync(path.join(tmpdir(), 'lwb-tags-undo-'));
    c = path.join(dir, 'img_train', '5_tk girl');
    mkdirSync(path.dirname(c), { recursive: true });
    cpSync(path.join(REPO, 'sample', 'dataset', 'img_train', '5_tk girl'), c, { recursive: true });
    orig = snap();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('undoes the batch run last, also when it only edited an unsaved editor; a mixed batch undoes as one step', async () => {
    const one = path.join(c, '1.txt');
    const doc = await dirtyEditor(one, ', typed_by_hand');
    const typed = doc.getText();
    try {
      // A: files on disk and the unsaved editor, one batch
      const a = await run('add', vscode.Uri.file(c), { tags: ['first_batch'], position: 'front' });
      assert.equal(a.ok, true, a.message);
      assert.equal(a.written.length, 13);
      assert.deepEqual(a.documents, [one]);
      assert.ok(a.journalBatch);
      const afterA = doc.getText();
      assert.match(afterA, /^first_batch, tk, .*typed_by_hand/);
      // B: only the unsaved editor (nothing on disk changes)
      const b = await run('add', [vscode.Uri.file(one)], { tags: ['second_batch'], position: 'end' });
      assert.equal(b.ok, true, b.message);
      assert.deepEqual(b.written, []);
      assert.deepEqual(b.documents, [one]);
      assert.ok(b.journalBatch, 'an editor-only batch is a journal batch');
      assert.match(doc.getText(), /second_batch/);

      // the first undo takes back B, not A
      const u1 = await undo();
      assert.equal(u1.ok, true, u1.message);
      assert.equal(u1.id, b.journalBatch);
      assert.deepEqual(u1.editors, [one]);
      assert.equal(doc.getText(), afterA);
      assert.match(read('2.txt'), /^first_batch, /, 'A is still applied on disk');
      // the second takes back A: the files and the editor together
      const u2 = await undo();
      assert.equal(u2.ok, true, u2.message);
      assert.equal(u2.id, a.journalBatch);
      assert.equal(u2.restored.length, 13);
      assert.deepEqual(u2.editors, [one]);
      assert.equal(doc.getText(), typed);
      assertSame(snap(), orig);
      assert.ok(readFileSync(one).equals(orig.get('1.txt') as Buffer), `the file behind the editor was never written: ${JSON.stringify(readFileSync(one, 'utf8').slice(0, 120))}`);
    } finally {
      await revert(doc);
    }
  });

  it('leaves an editor changed since the batch as it is on undo, and says which one', async () => {
    const five = path.join(c, '5.txt');
    const doc = await dirtyEditor(five, ', mine');
    try {
      const r = await run('remove', [vscode.Uri.file(five)], { tags: ['solo'] });
      assert.equal(r.ok, true, r.message);
      assert.deepEqual(r.documents, [five]);
      const editor = await vscode.window.showTextDocument(doc);
      await editor.edit((e) => e.insert(doc.positionAt(0), 'later_edit, '));
      const later = doc.getText();
      const u = await undo();
      assert.equal(u.ok, true, u.message);
      assert.deepEqual(u.editors, []);
      assert.deepEqual(u.editorsLeft.map((x) => x.file), [five]);
      assert.match(u.editorsLeft[0]?.reason ?? '', /changed since the batch/);
      assert.match(u.message, /5\.txt/);
      assert.equal(doc.getText(), later, 'the later typing is kept');
      assertSame(snap(), orig);
    } finally {
      await revert(doc);
    }
  });

  it('"Preview a File…" opens a diff: the file now on the left, the text after the batch on the right; nothing changes', async () => {
    const two = path.join(c, '2.txt');
    const r = await run('remove', vscode.Uri.file(c), { tags: ['solo'], previewFile: two });
    assert.equal(r.ok, true, r.message);
    assert.equal(r.written.length, 0);
    assert.ok(r.preview);
    const tab = await until(() => {
      const t = vscode.window.tabGroups.activeTabGroup.activeTab;
      return t?.input instanceof vscode.TabInputTextDiff ? t : undefined;
    }, 'the diff editor');
    const input = tab.input as vscode.TabInputTextDiff;
    assert.equal(input.original.fsPath, two);
    assert.equal(input.modified.scheme, 'lwb-tag-preview');
    assert.equal(input.modified.toString(), r.preview.right);
    assert.match(tab.label, /2\.txt: now ↔ after "Remove 'solo'/);
    const left = await vscode.workspace.openTextDocument(input.original);
    const right = await vscode.workspace.openTextDocument(input.modified);
    assert.equal(left.getText(), read('2.txt'));
    assert.equal(right.getText(), read('2.txt').replace('solo, ', ''));
    assertSame(snap(), orig);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');

    // a file the batch creates: an empty left side
    const four = path.join(c, '4.txt');
    unlinkSync(four);
    try {
      const m = await run('createMissing', vscode.Uri.file(c), { previewFile: four });
      assert.equal(m.ok, true, m.message);
      const t2 = await until(() => {
        const t = vscode.window.tabGroups.activeTabGroup.activeTab;
        return t?.input instanceof vscode.TabInputTextDiff && t.input.modified.toString() === m.preview?.right ? t : undefined;
      }, 'the diff of the new file');
      const i2 = t2.input as vscode.TabInputTextDiff;
      assert.equal(i2.original.scheme, 'lwb-tag-preview');
      assert.equal((await vscode.workspace.openTextDocument(i2.original)).getText(), '');
      assert.equal((await vscode.workspace.openTextDocument(i2.modified)).getText(), 'tk\n');
      assert.equal(existsSync(four), false, 'the preview creates nothing');
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    } finally {
      writeFileSync(four, orig.get('4.txt') as Buffer);
    }
  });

  it('Cancel in the middle of the writes: every file is back to its old bytes, no temporary file, no batch to undo', async () => {
    // a batch before it: the undo after the cancel must find this one
    const m = await run('add', [vscode.Uri.file(path.join(c, '9.txt'))], { tags: ['marker_before_cancel'], position: 'end' });
    assert.equal(m.written.length, 1);
    const r = await run('add', vscode.Uri.file(c), { tags: ['cancel_me'], position: 'front', cancelAfter: 6 });
    assert.equal(r.ok, false);
    assert.equal(r.cancelled, true);
    assert.equal(r.journalBatch, null);
    assert.match(r.message, /cancelled; the files already written were put back/);
    for (const n of orig.keys()) {
      const now = read(n);
      assert.doesNotMatch(now, /cancel_me/, `${n} has no half of the batch`);
    }
    assert.deepEqual(readdirSync(c).filter((n) => n.endsWith('.lwb-tmp')), []);
    const u = await undo();
    assert.equal(u.ok, true, u.message);
    assert.equal(u.id, m.journalBatch, 'the cancelled batch left nothing to undo');
    assertSame(snap(), orig);
  });

  it('works on every selected node when the Datasets tree passes (clicked, selected[])', async () => {
    const folder = { path: c, relPath: '', images: [...orig.keys()].map((n) => ({ name: n.replace('.txt', '.png'), sidecars: { '.txt': n }, hasLatentCache: false })), ignored: [], orphanSidecars: [], concept: { ok: false, reason: '' } };
    const node = (name: string) => ({ type: 'image', id: `img:${name}`, folder, image: folder.images.find((i) => i.name === name) });
    const n3 = node('3.png');
    const n7 = node('7.png');
    const r = await vscode.commands.executeCommand<TagBatchResult>('loraWorkbench.tags.add', n3, [n3, n7], { confirm: false, tags: ['picked_two'], position: 'end' });
    assert.equal(r.ok, true, r.message);
    assert.deepEqual(r.written.map((f) => path.basename(f)).sort(), ['3.txt', '7.txt']);
    assert.equal((await undo()).ok, true);
    assertSame(snap(), orig);

    const sidecars = await vscode.commands.executeCommand<string[]>('loraWorkbench.openTagEditor', n3, [n3, n7]);
    assert.deepEqual(sidecars.map((f) => path.basename(f)), ['3.txt', '7.txt']);
    const customTabs = () =>
      vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputCustom && t.input.viewType === 'loraWorkbench.tagEditor');
    await until(() => ['3.txt', '7.txt'].every((n) => customTabs().some((t) => path.basename((t.input as vscode.TabInputCustom).uri.fsPath) === n)), 'a tag editor for each');
    await closeTabs(customTabs);

    const images = await vscode.commands.executeCommand<string[]>('loraWorkbench.openImage', n3, [n3, n7]);
    assert.deepEqual(images.map((f) => path.basename(f)), ['3.png', '7.png']);
    const imageTabs = () => vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputCustom && /[37]\.png$/.test(t.input.uri.fsPath));
    await until(() => imageTabs().length === 2, 'both images open');
    await closeTabs(imageTabs);

    const opened = await vscode.commands.executeCommand<string[]>('loraWorkbench.openSidecar', n3, [n3, n7]);
    assert.deepEqual(opened.map((f) => path.basename(f)), ['3.txt', '7.txt']);
    const textTabs = () => vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputText && /[37]\.txt$/.test(t.input.uri.fsPath));
    await until(() => textTabs().length === 2, 'both tag files open');
    await closeTabs(textTabs);

    // the gallery of two concept folders: the folder holding both
    const other = path.join(dir, 'img_train', '2_other');
    mkdirSync(other, { recursive: true });
    cpSync(path.join(c, '1.png'), path.join(other, 'x.png'));
    const f1 = { type: 'folder', id: 'f1', folder: { ...folder }, parentPath: path.dirname(c) };
    const f2 = { type: 'folder', id: 'f2', folder: { ...folder, path: other }, parentPath: path.dirname(c) };
    const g = await vscode.commands.executeCommand<{ root: string }>('loraWorkbench.openGallery', f1, [f1, f2]);
    assert.equal(g.root, path.dirname(c));
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    rmSync(other, { recursive: true, force: true });
  });
});

describe('Datasets tree multi-select: Move to Trash and commands with a second argument of their own', function () {
  this.timeout(60_000);
  let root: string;
  before(async () => {
    await vscode.extensions.getExtension(EXTENSION_ID)?.activate();
    const wf = vscode.workspace.workspaceFolders?.[0];
    assert.ok(wf);
    root = path.join(wf.uri.fsPath, 'tmp_multi_select_test');
    rmSync(root, { recursive: true, force: true });
    mkdirSync(path.join(root, '3_sel cat'), { recursive: true });
    for (const n of ['a', 'b', 'c']) {
      cpSync(path.join(REPO, 'sample', 'dataset', 'img_train', '5_tk girl', '1.png'), path.join(root, '3_sel cat', `${n}.png`));
      writeFileSync(path.join(root, '3_sel cat', `${n}.txt`), `sel, cat, ${n}\n`);
    }
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('moves every selected image and its tag file to the trash, and leaves the rest', async () => {
    const dirPath = path.join(root, '3_sel cat');
    const folder = { path: dirPath, relPath: '', images: ['a', 'b', 'c'].map((n) => ({ name: `${n}.png`, sidecars: { '.txt': `${n}.txt` }, hasLatentCache: false })), ignored: [], orphanSidecars: [], concept: { ok: false, reason: '' } };
    const node = (i: number) => ({ type: 'image', id: `i${i}`, folder, image: folder.images[i] });
    const trashed = await vscode.commands.executeCommand<Array<{ file: string }>>('loraWorkbench.datasets.deleteImage', node(0), [node(0), node(2)], true);
    assert.deepEqual(trashed.map((t) => path.basename(t.file)).sort(), ['a.png', 'a.txt', 'c.png', 'c.txt']);
    assert.deepEqual(readdirSync(dirPath).sort(), ['b.png', 'b.txt']);
  });

  it('rename, repeats and new concept folder take the clicked node and never read the selection as their own argument', async () => {
    const dirPath = path.join(root, '3_sel cat');
    const folder = { path: dirPath, relPath: '', images: [{ name: 'b.png', sidecars: { '.txt': 'b.txt' }, hasLatentCache: false }], ignored: [], orphanSidecars: [], concept: { ok: false, reason: '' } };
    const img = { type: 'image', id: 'ib', folder, image: folder.images[0] };
    // with the selection in the second place, each asks its question: dismiss it
    const asked = (cmd: string, a: unknown, b: unknown): Promise<unknown> => dismissing(vscode.commands.executeCommand(cmd, a, b));
    assert.equal(await asked('loraWorkbench.datasets.renameImage', img, [img, img]), false);
    assert.deepEqual(readdirSync(dirPath).sort(), ['b.png', 'b.txt']);
    const f = { type: 'folder', id: 'f', folder, parentPath: root };
    assert.equal(await asked('loraWorkbench.datasets.changeRepeats', f, [f, f]), false);
    assert.equal(existsSync(dirPath), true);
    const g = { type: 'group', id: 'g', group: { path: root, folders: [folder] } };
    assert.equal(await asked('loraWorkbench.datasets.newConceptFolder', g, [g, g]), undefined);
    assert.deepEqual(readdirSync(root), ['3_sel cat']);
  });
});

describe('Tags view context actions on a tag node', function () {
  this.timeout(60_000);
  let concept: string;
  let orig: Map<string, Buffer>;
  const snap = (): Map<string, Buffer> => new Map(readdirSync(concept).filter((n) => n.endsWith('.txt')).map((n) => [n, readFileSync(path.join(concept, n))]));
  const lines = (): string[] => [...snap().values()].map((b) => b.toString('utf8'));
  const tagNode = (name: string) => ({ type: 'tag', name, key: name.replace(/_/g, ' '), concept });

  before(async () => {
    await vscode.extensions.getExtension(EXTENSION_ID)?.activate();
    const wf = vscode.workspace.workspaceFolders?.[0];
    assert.ok(wf);
    concept = path.join(wf.uri.fsPath, 'dataset', 'img_train', '5_tk girl');
    orig = snap();
  });
  // whatever happens, the sample dataset is left as it was
  after(() => {
    for (const [n, b] of orig) writeFileSync(path.join(concept, n), b);
  });

  async function ready(): Promise<void> {
    // the caption index knows the concept once the tag node finds files (removing a tag no file has: a no-op)
    await untilAsync(async () => {
      const r = await vscode.commands.executeCommand<TagBatchResult | undefined>('loraWorkbench.tags.remove', tagNode('solo'), { confirm: false, tags: ['no_such_tag_anywhere'] });
      return r?.ok === true && r.planned === 0 && /\d+ checked/.test(r.message) ? true : undefined;
    }, 'the caption index', 30_000);
  }
  /** the tag files (on disk) that hold a tag: other suites may have edited the sample before */
  const holding = (tag: string): string[] => [...orig].filter(([, b]) => new RegExp(`(^|, ?)${tag}(,|\\r?\\n|$)`).test(b.toString('utf8'))).map(([n]) => n);

  it('Remove Tags: the tag leaves every file of the concept that has it; undo puts it back', async () => {
    await ready();
    const r = await run('remove', tagNode('solo'), {});
    assert.equal(r.ok, true, r.message);
    assert.ok(holding('solo').length > 5);
    assert.deepEqual([...r.written, ...r.documents].map((f) => path.basename(f)).sort(), holding('solo').sort());
    for (const l of lines()) assert.doesNotMatch(l, /(^|, )solo(,|\n|$)/);
    assert.equal((await undo()).ok, true);
    assertSame(snap(), orig);
  });

  it('Rename Tag: every occurrence renamed in place; undo puts it back', async () => {
    const r = await run('replace', tagNode('blue_hair'), { to: 'aqua hair' });
    assert.equal(r.ok, true, r.message);
    assert.deepEqual([...r.written, ...r.documents].map((f) => path.basename(f)).sort(), holding('blue_hair').sort());
    for (const f of r.written) assert.equal(readFileSync(f, 'utf8'), (orig.get(path.basename(f)) as Buffer).toString('utf8').replace('blue_hair', 'aqua hair'));
    assert.equal((await undo()).ok, true);
    assertSame(snap(), orig);
  });

  it('Move to Front: the tag comes first in every file that has it; undo puts it back', async () => {
    const r = await run('moveToFront', tagNode('blue_eyes'), {});
    assert.equal(r.ok, true, r.message);
    assert.ok(r.written.length > 5);
    for (const f of r.written) assert.match(readFileSync(f, 'utf8'), /^blue_eyes, /);
    assert.equal((await undo()).ok, true);
    assertSame(snap(), orig);
  });

  it('Select Images with This Tag: the files with it (the list closed without a pick)', async () => {
    const files = await dismissing(vscode.commands.executeCommand<string[]>('loraWorkbench.tagsView.selectImages', tagNode('maid')));
    assert.ok(holding('maid').length > 0);
    assert.deepEqual(files.map((f) => path.basename(f)).sort(), holding('maid').sort());
  });
});
