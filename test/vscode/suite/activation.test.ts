/**
 * In-host suite: runs inside a real VS Code extension host (code-server 1.99.3 in CI, or a
 * desktop VS Code through @vscode/test-electron), against the sample workspace.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as vscode from 'vscode';
import type { LoraWorkbenchApi } from '../../../src/extension';
import { loadedNativeModules } from '../../../src/platform/nativeGuard';

const EXTENSION_ID = 'lora-workbench.lora-workbench';
const metrics = (globalThis as { __lwbMetrics?: Record<string, number | string> }).__lwbMetrics ?? {};

async function activated(): Promise<LoraWorkbenchApi> {
  const ext = vscode.extensions.getExtension<LoraWorkbenchApi>(EXTENSION_ID);
  assert.ok(ext, `${EXTENSION_ID} is installed`);
  const started = performance.now();
  const api = await ext.activate();
  metrics.activateCallMs = Math.round(performance.now() - started);
  assert.ok(api, 'activate() returned the API (it returns undefined when activation failed)');
  return api;
}

describe('LoRA Workbench in the extension host', () => {
  it('runs in VS Code 1.99 on Node 20', () => {
    metrics.vscodeVersion = vscode.version;
    assert.match(vscode.version, /^1\.99\./);
    assert.match(process.version, /^v20\./);
  });

  it('is not active before something needs it (no "*" activation)', () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext);
    const events = (ext.packageJSON as { activationEvents?: string[] }).activationEvents ?? [];
    assert.ok(!events.includes('*') && !events.includes('onStartupFinished'), `activation events: ${events.join(', ')}`);
  });

  it('activates, and reports its activation time', async () => {
    const api = await activated();
    metrics.activationMs = Number(api.activationMs.toFixed(1));
    assert.ok(api.activationMs > 0 && api.activationMs < 10_000, `activation took ${api.activationMs} ms`);
    console.log(`      activation: ${api.activationMs.toFixed(1)} ms`);
  });

  it('loads no native module (sharp, onnxruntime-node) at activation', async () => {
    const api = await activated();
    assert.deepEqual(api.nativeModulesAtActivation, []);
    assert.deepEqual(
      loadedNativeModules().filter((f) => /sharp|onnxruntime/.test(f)),
      [],
      'no sharp/onnxruntime file in the host module cache',
    );
  });

  it('registers every command it contributes', async () => {
    await activated();
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    const contributed = ((ext?.packageJSON as { contributes: { commands: Array<{ command: string }> } }).contributes
      .commands ?? []).map((c) => c.command);
    const all = new Set(await vscode.commands.getCommands(true));
    assert.ok(contributed.length >= 4);
    assert.deepEqual(contributed.filter((c) => !all.has(c)), []);
  });

  it('finds the sample dataset the way sd-scripts reads it', async () => {
    const api = await activated();
    await api.datasets.refresh();
    const groups = api.datasets.current.groups;
    const train = groups.find((g) => g.path.endsWith('img_train'));
    assert.ok(train, `img_train found among ${groups.map((g) => g.path).join(', ')}`);
    assert.equal(train.kind, 'kohyaFolder');
    const concept = train.folders[0];
    assert.ok(concept);
    assert.deepEqual(concept.concept, { ok: true, repeats: 5, classTokens: 'tk girl' });
    assert.equal(concept.images.length, 14);
    assert.equal(concept.images.filter((i) => i.sidecars['.txt']).length, 14);
    const reg = groups.find((g) => g.path.endsWith('img_reg'));
    assert.ok(reg);
    assert.equal(reg.imageCount, 2);
  });

  it('notices a new image folder written through VS Code without a manual refresh', async () => {
    const api = await activated();
    const wf = vscode.workspace.workspaceFolders?.[0];
    assert.ok(wf);
    const dir = vscode.Uri.joinPath(wf.uri, 'tmp_in_host_test', '2_new concept');
    const png = vscode.Uri.joinPath(dir, 'a.png');
    const changed = new Promise<void>((resolve) => {
      const sub = api.datasets.onDidChange((snap) => {
        if (snap.groups.some((g) => g.path.endsWith('tmp_in_host_test'))) {
          sub.dispose();
          resolve();
        }
      });
    });
    // a 1×1 PNG created with a workspace edit (as the explorer or another extension would); files
    // written by other programs are covered by the UI test test/e2e/00-file-watching
    const bytes = Buffer.from(
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
      'base64',
    );
    const edit = new vscode.WorkspaceEdit();
    edit.createFile(png, { contents: bytes });
    assert.ok(await vscode.workspace.applyEdit(edit));
    try {
      await Promise.race([
        changed,
        new Promise((_, reject) => setTimeout(() => reject(new Error('no update within 30 s')), 30_000)),
      ]);
    } finally {
      await vscode.workspace.fs.delete(vscode.Uri.joinPath(wf.uri, 'tmp_in_host_test'), { recursive: true });
    }
  });

  it('runs sharp and onnxruntime-node in a worker process, not in the host', async () => {
    const api = await activated();
    const started = performance.now();
    const r = await api.probeNativeModules();
    metrics.nativeProbeMs = Math.round(performance.now() - started);
    assert.ok(r.sharp.ok, `sharp: ${JSON.stringify(r.sharp)}`);
    assert.equal(r.sharp.ok && r.sharp.decodedPixels, 6);
    assert.ok(r.onnxruntime.ok, `onnxruntime: ${JSON.stringify(r.onnxruntime)}`);
    assert.ok(r.onnxruntime.ok && r.onnxruntime.backends.includes('cpu'));
    assert.deepEqual(loadedNativeModules().filter((f) => /sharp|onnxruntime/.test(f)), []);
  });

  it('adds a folder outside the workspace as a dataset, through the setting', async () => {
    const api = await activated();
    const outside = mkdtempSync(path.join(tmpdir(), 'lwb-extra-'));
    mkdirSync(path.join(outside, '3_extra'));
    writeFileSync(path.join(outside, '3_extra', 'a.png'), '');
    const cfg = () => vscode.workspace.getConfiguration('loraWorkbench');
    try {
      await vscode.commands.executeCommand('loraWorkbench.addDatasetFolder', vscode.Uri.file(outside));
      assert.deepEqual(cfg().get('datasets.folders'), [outside]);
      const group = api.datasets.current.groups.find((g) => g.path === outside);
      assert.ok(group, 'the extra folder is a dataset');
      assert.equal(group.imageCount, 1);
      // adding it again does not duplicate it
      await vscode.commands.executeCommand('loraWorkbench.addDatasetFolder', vscode.Uri.file(outside));
      assert.deepEqual(cfg().get('datasets.folders'), [outside]);
    } finally {
      await cfg().update('datasets.folders', undefined, vscode.ConfigurationTarget.Workspace);
      rmSync(outside, { recursive: true, force: true });
      await api.datasets.refresh();
    }
    assert.equal(api.datasets.current.groups.some((g) => g.path === outside), false);
  });

  it('gives tag files next to images the caption language, and leaves other .txt alone', async () => {
    await activated();
    const wf = vscode.workspace.workspaceFolders?.[0];
    assert.ok(wf);
    const tags = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(wf.uri, 'dataset/img_train/5_tk girl/3.txt'));
    const deadline = Date.now() + 10_000;
    let doc = tags;
    while (doc.languageId !== 'kohya-caption' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === tags.uri.toString()) ?? doc;
    }
    assert.equal(doc.languageId, 'kohya-caption');
    const note = vscode.Uri.joinPath(wf.uri, 'notes-in-host-test.txt');
    await vscode.workspace.fs.writeFile(note, Buffer.from('a plain note, not tags'));
    try {
      const plain = await vscode.workspace.openTextDocument(note);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(plain.languageId, 'plaintext');
    } finally {
      await vscode.workspace.fs.delete(note);
    }
  });
});
