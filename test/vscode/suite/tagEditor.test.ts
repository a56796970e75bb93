/**
 * The tag editor (a CustomTextEditorProvider) in the real VS Code: it opens on a sample tag file,
 * its operations become exact document edits that VS Code's undo takes back, stale or blocked
 * edits change nothing, the command finds an image's tag file, and previous/next replace the tab.
 */
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TagEditorState } from '../../../src/core/protocol';

const EXTENSION_ID = 'lora-workbench.lora-workbench';
const VIEW_TYPE = 'loraWorkbench.tagEditor';

function uri(rel: string): vscode.Uri {
  const wf = vscode.workspace.workspaceFolders?.[0];
  assert.ok(wf);
  return vscode.Uri.joinPath(wf.uri, rel);
}

async function until<T>(fn: () => T | undefined | Promise<T | undefined>, what: string, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function customTab(u: vscode.Uri): vscode.Tab | undefined {
  for (const g of vscode.window.tabGroups.all) {
    for (const t of g.tabs) if (t.input instanceof vscode.TabInputCustom && t.input.viewType === VIEW_TYPE && t.input.uri.toString() === u.toString()) return t;
  }
  return undefined;
}

function message(u: vscode.Uri, m: unknown): Thenable<TagEditorState> {
  return vscode.commands.executeCommand<TagEditorState>('loraWorkbench.tagEditor.message', u, m);
}

/** Opens the tag editor on a file and waits until its session answers. */
async function open(u: vscode.Uri): Promise<TagEditorState> {
  await vscode.commands.executeCommand('vscode.openWith', u, VIEW_TYPE);
  await until(() => customTab(u), 'the tag editor tab');
  return until(async () => {
    try {
      return await message(u, { type: 'ready' });
    } catch {
      return undefined;
    }
  }, 'the tag editor session');
}

function doc(u: vscode.Uri): vscode.TextDocument {
  const d = vscode.workspace.textDocuments.find((x) => x.uri.toString() === u.toString());
  assert.ok(d, `${u.fsPath} is open`);
  return d;
}

/** Reverts unsaved edits (no save prompt can appear) and closes every tab of the file. */
async function close(u: vscode.Uri): Promise<void> {
  if (vscode.workspace.textDocuments.find((x) => x.uri.toString() === u.toString())?.isDirty) {
    await vscode.commands.executeCommand('workbench.action.files.revert', u);
  }
  for (;;) {
    const tab = vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => (t.input as { uri?: vscode.Uri } | undefined)?.uri?.toString() === u.toString());
    if (!tab) break;
    await vscode.window.tabGroups.close(tab, true);
  }
}

describe('tag editor', () => {
  before(async () => {
    const api = await vscode.extensions.getExtension<{ datasets: { refresh(): Promise<void> } }>(EXTENSION_ID)?.activate();
    await api?.datasets.refresh();
  });

  it('opens on a sample tag file, marks the trigger word and lists the chips', async () => {
    const u = uri('dataset/img_train/5_tk girl/11.txt');
    const original = readFileSync(u.fsPath, 'utf8');
    const state = await until(async () => {
      const s = await open(u);
      return s.trigger === 'tk' ? s : undefined;
    }, 'the trigger word from the concept folder');
    assert.equal(state.fileName, '11.txt');
    assert.equal(state.blocked, null);
    assert.equal(state.text, original);
    assert.equal(state.chips[0]?.text, 'tk');
    assert.equal(state.chips[0]?.trigger, true);
    assert.deepEqual(state.chips.map((c) => c.text), original.trim().split(', '));
    assert.equal(state.image?.name, '11.png');
    assert.ok(state.image?.src, 'the image can be shown');
    assert.ok((state.image?.width ?? 0) > 0);
    assert.equal(state.nav.count, 14);
    assert.equal(state.nav.position, 10, 'natural order: 1, 2, …, 10, 11');
    // tags on nearly every image of the concept are flagged on their chip
    const blueHair = await until(async () => {
      const s = await message(u, { type: 'ready' });
      const c = s.chips.find((x) => x.text === 'blue_eyes');
      return c && c.problems.some((p) => p.code === 'pollution-candidate') ? c : undefined;
    }, 'the pollution candidate on a chip');
    assert.match(blueHair.problems.map((p) => p.message).join('\n'), /blue_eyes/);
  });

  it('turns edit messages into exact document text, and undo restores it', async () => {
    const u = uri('dataset/img_train/5_tk girl/11.txt');
    const original = readFileSync(u.fsPath, 'utf8');
    let s = await open(u);
    const d = doc(u);
    s = await message(u, { type: 'tagEditor/edit', version: d.version, edit: { op: 'add', tag: 'red ribbon, Smile, ribbon' } });
    const added = original.replace(/\n$/, ', red ribbon, ribbon\n');
    assert.equal(d.getText(), added, 'smile is already there; the others are added in the file’s style');
    assert.equal(d.isDirty, true);
    assert.equal(s.dirty, true);
    s = await message(u, { type: 'tagEditor/edit', version: d.version, edit: { op: 'move', from: 1, to: 3 } });
    const tags = added.trim().split(', ');
    const moved = [tags[0], tags[2], tags[3], tags[1], ...tags.slice(4)].join(', ') + '\n';
    assert.equal(d.getText(), moved);
    s = await message(u, { type: 'tagEditor/edit', version: d.version, edit: { op: 'remove', index: s.chips.length - 1 } });
    assert.equal(d.getText(), moved.replace(/, ribbon\n$/, '\n'));
    assert.equal(s.chips.some((c) => c.text === 'ribbon'), false);

    // VS Code's own undo, with the tag editor active
    await vscode.commands.executeCommand('vscode.openWith', u, VIEW_TYPE);
    await vscode.commands.executeCommand('undo');
    await until(() => (d.getText() === moved ? true : undefined), 'undo of the removal');
    await vscode.commands.executeCommand('undo');
    await until(() => (d.getText() === added ? true : undefined), 'undo of the move');
    await vscode.commands.executeCommand('undo');
    await until(() => (d.getText() === original ? true : undefined), 'undo of the addition');
    await vscode.commands.executeCommand('redo');
    await until(() => (d.getText() === added ? true : undefined), 'redo');
    await close(u);
    assert.equal(readFileSync(u.fsPath, 'utf8'), original, 'nothing was saved');
  });

  it('ignores an edit made on an older text, and says why', async () => {
    const u = uri('dataset/img_train/5_tk girl/11.txt');
    const original = readFileSync(u.fsPath, 'utf8');
    await open(u);
    const d = doc(u);
    const s = await message(u, { type: 'tagEditor/edit', version: d.version - 1, edit: { op: 'remove', index: 0 } });
    assert.equal(d.getText(), original);
    assert.match(s.note ?? '', /changed meanwhile/);
    await close(u);
  });

  it('applies a quick fix from the tag editor', async () => {
    const u = uri('dataset/img_train/5_tk girl/11.txt');
    const original = readFileSync(u.fsPath, 'utf8');
    await open(u);
    const d = doc(u);
    await message(u, { type: 'tagEditor/edit', version: d.version, edit: { op: 'remove', index: 0 } });
    assert.equal(d.getText(), original.replace(/^tk, /, ''));
    const s = await until(async () => {
      const x = await message(u, { type: 'ready' });
      return x.problems.some((p) => p.code === 'trigger-missing') ? x : undefined;
    }, 'trigger-missing in the tag editor');
    const pi = s.problems.findIndex((p) => p.code === 'trigger-missing');
    const fi = s.problems[pi]?.fixes.indexOf("Add 'tk' at the front") ?? -1;
    assert.ok(fi >= 0, JSON.stringify(s.problems[pi]));
    await message(u, { type: 'tagEditor/fix', version: d.version, problem: pi, fix: fi });
    assert.equal(d.getText(), original);
    await close(u);
  });

  it('shows a file with a byte-order mark or not in UTF-8 and does not write it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lwb-tag-editor-'));
    try {
      const bom = path.join(dir, 'a.txt');
      writeFileSync(bom, Buffer.from('\ufefftk, 1girl\n', 'utf8'));
      const latin = path.join(dir, 'b.txt');
      writeFileSync(latin, Buffer.from([0x74, 0x6b, 0x2c, 0x20, 0x63, 0x61, 0x66, 0xe9, 0x0a]));
      for (const [file, code] of [[bom, 'bom'], [latin, 'notUtf8']] as const) {
        const u = vscode.Uri.file(file);
        const bytes = readFileSync(file);
        const s = await until(async () => {
          const x = await open(u);
          return x.blocked ? x : undefined;
        }, `the ${code} block`);
        assert.equal(s.blocked?.code, code);
        const after = await message(u, { type: 'tagEditor/edit', version: doc(u).version, edit: { op: 'add', tag: 'x' } });
        assert.equal(doc(u).isDirty, false);
        assert.ok(after.note, 'the refusal is explained');
        // nor through the raw-text box
        const typed = await message(u, { type: 'tagEditor/setText', version: doc(u).version, text: 'tk, x\n', seq: 1 });
        assert.equal(doc(u).isDirty, false);
        assert.equal(typed.ack, 1);
        assert.equal(typed.note, s.blocked?.message, 'the reason is the block');
        assert.deepEqual(readFileSync(file), bytes);
        await close(u);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('edits a chip in place (weight kept) and the raw text, as exact document text that undo restores', async () => {
    const u = uri('dataset/img_train/5_tk girl/11.txt');
    const original = readFileSync(u.fsPath, 'utf8');
    await open(u);
    const d = doc(u);
    const tags = original.trim().split(', ');
    // the raw-text box: the whole text comes, one minimal replace goes into the document
    const typed = [tags[0], '(blue_hair:1.2)', ...tags.slice(1)].join(', ') + '\n';
    let s = await message(u, { type: 'tagEditor/setText', version: d.version, text: typed, seq: 7 });
    assert.equal(d.getText(), typed);
    assert.equal(s.ack, 7, 'the answer names the text it answers');
    assert.equal(s.chips[1]?.text, '(blue_hair:1.2)');
    assert.equal(s.chips[1]?.weight, 1.2);
    // a chip edited in place keeps its weight wrapper
    s = await message(u, { type: 'tagEditor/edit', version: d.version, edit: { op: 'replace', index: 1, text: 'red_hair', keepWeight: true } });
    const renamed = [tags[0], '(red_hair:1.2)', ...tags.slice(1)].join(', ') + '\n';
    assert.equal(d.getText(), renamed);
    // emptied: the tag goes, with one separator
    s = await message(u, { type: 'tagEditor/edit', version: d.version, edit: { op: 'replace', index: 1, text: '', keepWeight: true } });
    assert.equal(d.getText(), original);
    assert.equal(s.chips.length, tags.length);
    // a text sent on an older version changes nothing and says why
    const stale = await message(u, { type: 'tagEditor/setText', version: d.version - 1, text: 'x\n', seq: 8 });
    assert.equal(d.getText(), original);
    assert.equal(stale.ack, 8);
    assert.match(stale.note ?? '', /changed while you typed/);
    // a NUL cannot go in
    const nul = await message(u, { type: 'tagEditor/setText', version: d.version, text: 'a\u0000b', seq: 9 });
    assert.equal(d.getText(), original);
    assert.match(nul.note ?? '', /NUL/);
    // VS Code's undo takes the steps back one by one
    await vscode.commands.executeCommand('vscode.openWith', u, VIEW_TYPE);
    await vscode.commands.executeCommand('undo');
    await until(() => (d.getText() === renamed ? true : undefined), 'undo of the emptied chip');
    await vscode.commands.executeCommand('undo');
    await until(() => (d.getText() === typed ? true : undefined), 'undo of the chip edit');
    await vscode.commands.executeCommand('undo');
    await until(() => (d.getText() === original ? true : undefined), 'undo of the raw-text edit');
    await close(u);
    assert.equal(readFileSync(u.fsPath, 'utf8'), original, 'nothing was saved');
  });

  it('keeps a CRLF file CRLF when the raw text is edited', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lwb-tag-editor-crlf-'));
    try {
      const file = path.join(dir, 'c.txt');
      writeFileSync(file, 'tk, 1girl\r\nsecond line\r\n');
      const u = vscode.Uri.file(file);
      await open(u);
      const d = doc(u);
      const s = await message(u, { type: 'tagEditor/setText', version: d.version, text: 'tk, 1girl, smile\nsecond line\n', seq: 1 });
      assert.equal(d.getText(), 'tk, 1girl, smile\r\nsecond line\r\n');
      assert.equal(s.chips.at(-1)?.text, 'smile');
      await close(u);
      assert.equal(readFileSync(file, 'utf8'), 'tk, 1girl\r\nsecond line\r\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('goes to the next and previous image by command with the focus outside the editor, in the same tab group', async () => {
    const u12 = uri('dataset/img_train/5_tk girl/12.txt');
    const u13 = uri('dataset/img_train/5_tk girl/13.txt');
    await open(u12);
    const column = customTab(u12)?.group.viewColumn;
    // the keyboard focus in the Explorer: the tag editor is still the active editor
    await vscode.commands.executeCommand('workbench.view.explorer');
    const next = await vscode.commands.executeCommand<string>('loraWorkbench.tagEditor.nextImage');
    assert.equal(next, u13.fsPath);
    const tab13 = await until(() => customTab(u13), 'the tag editor on 13.txt');
    assert.equal(tab13.group.viewColumn, column, 'same editor group');
    await until(() => (customTab(u12) ? undefined : true), 'the 12.txt tab to be replaced');
    assert.equal(tab13.group.tabs.filter((t) => t.input instanceof vscode.TabInputCustom && t.input.viewType === VIEW_TYPE).length, 1, 'one tag editor tab');
    await vscode.commands.executeCommand('workbench.view.explorer');
    const prev = await until(async () => {
      const active = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
      return active instanceof vscode.TabInputCustom && active.uri.toString() === u13.toString()
        ? vscode.commands.executeCommand<string>('loraWorkbench.tagEditor.previousImage')
        : undefined;
    }, '13.txt to be the active tab');
    assert.equal(prev, u12.fsPath);
    await until(() => customTab(u12), 'the tag editor on 12.txt again');
    await until(() => (customTab(u13) ? undefined : true), 'the 13.txt tab to be replaced');
    await close(u12);
  });

  it('opens from an image URI via the command, then goes to the next image in the same tab', async () => {
    const image = uri('dataset/img_train/5_tk girl/12.png');
    const side = await vscode.commands.executeCommand<string>('loraWorkbench.openTagEditor', image);
    assert.equal(path.basename(side), '12.txt');
    const u12 = vscode.Uri.file(side);
    await until(() => customTab(u12), 'the tag editor on 12.txt');
    const s = await open(u12);
    assert.equal(s.nav.hasNext, true);
    const column = customTab(u12)?.group.viewColumn;
    await message(u12, { type: 'tagEditor/navigate', direction: 'next' });
    const u13 = uri('dataset/img_train/5_tk girl/13.txt');
    const tab13 = await until(() => customTab(u13), 'the tag editor on 13.txt');
    assert.equal(tab13.group.viewColumn, column, 'same editor group');
    await until(() => (customTab(u12) ? undefined : true), 'the 12.txt tab to be replaced');
    await close(u13);
  });
});
