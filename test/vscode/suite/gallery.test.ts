/**
 * The dataset gallery in a real extension host: the command opens the panel on the sample
 * dataset, the webview asks for the thumbnails on screen, and the worker writes them to the
 * cache under the keys the core computes (path + size + mtime).
 */
import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { thumbnailKey, thumbnailPath } from '../../../src/core/gallery/thumbnails';

const EXTENSION_ID = 'lora-workbench.lora-workbench';

async function waitFor<T>(pred: () => T | undefined | false, ms: number, what: string): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = pred();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('Dataset gallery', () => {
  it('opens on the sample dataset and caches a WebP thumbnail per image, keyed by path, size and mtime', async function () {
    this.timeout(120_000);
    await vscode.extensions.getExtension(EXTENSION_ID)?.activate();
    const ws = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    assert.ok(ws, 'a workspace folder is open');
    const train = path.join(ws, 'dataset', 'img_train');
    const opened = (await vscode.commands.executeCommand('loraWorkbench.openGallery', vscode.Uri.file(train))) as
      | { root: string; cacheFolder: string }
      | undefined;
    assert.ok(opened, 'the command returns where it caches');
    assert.equal(opened.root, train);
    const concept = path.join(train, '5_tk girl');
    const images = readdirSync(concept).filter((n) => n.endsWith('.png'));
    assert.equal(images.length, 14);
    const expected = images.map((n) => {
      const p = path.join(concept, n);
      const st = statSync(p);
      return thumbnailPath(opened.cacheFolder, thumbnailKey({ path: p, size: st.size, mtimeMs: st.mtimeMs }));
    });
    await waitFor(() => expected.every((f) => existsSync(f)), 90_000, `thumbnails in ${opened.cacheFolder}`);
    for (const f of expected) {
      const head = readFileSync(f).subarray(0, 12);
      assert.equal(head.toString('latin1', 0, 4), 'RIFF', f);
      assert.equal(head.toString('latin1', 8, 12), 'WEBP', f);
    }
    // the panel is there, titled after the folder
    const tab = vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.label === 'Gallery: img_train');
    assert.ok(tab, 'a "Gallery: img_train" tab');
  });

  it('accepts a Datasets tree node and a file path as its argument', async function () {
    this.timeout(30_000);
    const ws = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath as string;
    const reg = path.join(ws, 'dataset', 'img_reg');
    const r1 = (await vscode.commands.executeCommand('loraWorkbench.openGallery', { type: 'group', group: { path: reg } })) as { root: string };
    assert.equal(r1.root, reg);
    const concept = path.join(ws, 'dataset', 'img_train', '5_tk girl');
    const r2 = (await vscode.commands.executeCommand('loraWorkbench.openGallery', { type: 'folder', folder: { path: concept } })) as { root: string };
    assert.equal(r2.root, concept);
    // an image file: its folder
    const r3 = (await vscode.commands.executeCommand('loraWorkbench.openGallery', vscode.Uri.file(path.join(concept, '1.png')))) as { root: string };
    assert.equal(r3.root, concept);
    const tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.label.startsWith('Gallery: '));
    assert.equal(tabs.length, 1, 'one gallery panel, reused');
    await vscode.commands.executeCommand('loraWorkbench.openGallery', vscode.Uri.file(path.join(ws, 'dataset', 'img_train')));
  });

  it("the tile menu's commands reveal an image in the Datasets view, the Explorer and the OS (or offer its path in a browser)", async function () {
    this.timeout(30_000);
    const ws = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath as string;
    const image = path.join(ws, 'dataset', 'img_train', '5_tk girl', '3.png');
    // the argument the tile's data-vscode-context gives (merged with the webview's id by VS Code)
    const ctx = { webview: 'loraWorkbench.gallery', webviewSection: 'galleryTile', lwbPath: image };
    assert.equal(await vscode.commands.executeCommand('loraWorkbench.datasets.revealImage', ctx), true);
    assert.equal(await vscode.commands.executeCommand('loraWorkbench.gallery.revealInExplorerView', ctx), true);
    const os = await vscode.commands.executeCommand('loraWorkbench.gallery.revealInOS', ctx);
    // code-server is a browser: no system file manager, the path is offered instead
    assert.equal(os, vscode.env.uiKind === vscode.UIKind.Web ? 'unavailable' : 'os');
    // a file that is not (or no longer) there is refused
    assert.equal(await vscode.commands.executeCommand('loraWorkbench.gallery.revealInOS', { lwbPath: path.join(ws, 'nope.png') }), 'missing');
    assert.equal(await vscode.commands.executeCommand('loraWorkbench.datasets.revealImage', path.join(ws, 'sample-not-a-dataset.png')), false);
  });
});
