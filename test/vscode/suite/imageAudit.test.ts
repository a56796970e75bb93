/**
 * Image audit and Buckets view inside VS Code: a generated bad-image folder in the workspace gets
 * exactly its diagnostics codes in the Problems panel (from the worker process), a caption added
 * later clears one problem incrementally, the orientation fix rotates the pixels through the
 * journal and is undone, and the Buckets view computes the sample dataset from its training config.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as vscode from 'vscode';
import { readImageHeader } from '../../../src/core/dataset/imageHeader';
import type { LoraWorkbenchApi } from '../../../src/extension';
// @ts-expect-error plain JavaScript shared with the unit and Playwright tests
import { makeBadImageFolder } from '../../fixtures/audit-images/badFolder.mjs';

const EXTENSION_ID = 'lora-workbench.lora-workbench';
// this bundle runs from out/test/vscode/suite
const REPO = path.resolve(__dirname, '..', '..', '..', '..');
const FIXTURES = path.join(REPO, 'test', 'fixtures', 'audit-images');
const make = makeBadImageFolder as (parent: string, fixtures: string) => { folder: string; expected: Record<string, string[]> };

function auditCodes(file: string): string[] {
  return vscode.languages
    .getDiagnostics(vscode.Uri.file(file))
    .filter((d) => d.source === 'LoRA Workbench' && typeof d.code === 'object' && String(d.code.value).startsWith('lwb.'))
    .map((d) => String((d.code as { value: string }).value))
    .sort();
}

describe('image audit', function () {
  this.timeout(120_000);
  let api: LoraWorkbenchApi;
  let parent: string;
  let folder: string;
  let expected: Record<string, string[]>;

  const settle = async (): Promise<void> => {
    await api.datasets.refresh();
    await api.imageAudit.whenIdle();
  };

  before(async () => {
    const a = await vscode.extensions.getExtension<LoraWorkbenchApi>(EXTENSION_ID)?.activate();
    assert.ok(a, 'the extension activates');
    api = a;
    const ws = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    assert.ok(ws);
    parent = path.join(ws, 'audit-bad');
    ({ folder, expected } = make(parent, FIXTURES));
    await settle();
  });

  after(async () => {
    rmSync(parent, { recursive: true, force: true });
    await settle();
  });

  it('publishes exactly the expected codes on every bad file, with links and related files', () => {
    for (const [name, codes] of Object.entries(expected)) {
      assert.deepEqual(auditCodes(path.join(folder, name)), codes.map((c) => `lwb.${c}`), name);
    }
    const dup = vscode.languages.getDiagnostics(vscode.Uri.file(path.join(folder, 'dup a.png'))).find((d) => typeof d.code === 'object' && d.code.value === 'lwb.duplicate');
    assert.deepEqual(dup?.relatedInformation?.map((r) => path.basename(r.location.uri.fsPath)), ['dup b.png']);
    const target = (dup?.code as { target: vscode.Uri }).target;
    assert.equal(path.basename(target.fsPath), 'README.md');
    assert.equal(target.fragment, 'image-audit');
    const rotated = vscode.languages.getDiagnostics(vscode.Uri.file(path.join(folder, 'rotated.jpg'))).find((d) => typeof d.code === 'object' && d.code.value === 'lwb.exifOrientation');
    assert.equal(rotated?.severity, vscode.DiagnosticSeverity.Warning);
    assert.equal(api.nativeModulesAtActivation.length, 0, 'no native module in the extension host');
  });

  it('updates one image when its caption appears', async () => {
    writeFileSync(path.join(folder, 'tiny.txt'), 'tk\n');
    await settle();
    assert.deepEqual(auditCodes(path.join(folder, 'tiny.png')), ['lwb.tooSmall']);
  });

  it('rotates an EXIF-rotated image upright through the journal, and undoes it', async () => {
    const file = path.join(folder, 'rotated.jpg');
    const before = readFileSync(file);
    const h0 = await readImageHeader(file);
    assert.deepEqual([h0.width, h0.height, h0.orientation], [96, 64, 6]);
    const done = await vscode.commands.executeCommand<boolean>('loraWorkbench.fixImageProblem', vscode.Uri.file(file), 'rotateExif');
    assert.equal(done, true);
    const h1 = await readImageHeader(file);
    assert.deepEqual([h1.format, h1.width, h1.height], ['jpeg', 64, 96]);
    assert.ok(h1.orientation === undefined || h1.orientation === 1, `orientation after the fix: ${h1.orientation}`);
    await api.imageAudit.whenIdle();
    assert.deepEqual(auditCodes(file), ['lwb.tooSmall']);
    const undone = await vscode.commands.executeCommand<boolean>('loraWorkbench.undoImageFix');
    assert.equal(undone, true);
    assert.ok(readFileSync(file).equals(before), 'the original bytes are back');
    await api.imageAudit.whenIdle();
    assert.deepEqual(auditCodes(file), ['lwb.exifOrientation', 'lwb.tooSmall']);
  });

  it('renames a PNG named .jpg to .png, keeping its caption paired', async () => {
    const from = path.join(folder, 'png named.jpg');
    const to = path.join(folder, 'png named.png');
    const done = await vscode.commands.executeCommand<boolean>('loraWorkbench.fixImageProblem', vscode.Uri.file(from), 'rename');
    assert.equal(done, true);
    assert.equal(existsSync(from), false);
    assert.equal(existsSync(to), true);
    await settle();
    assert.deepEqual(auditCodes(to), ['lwb.tooSmall']);
    assert.deepEqual(auditCodes(from), []);
  });
});

describe('Buckets view', function () {
  this.timeout(60_000);
  it('buckets the sample dataset with the settings of the training config that names it', async () => {
    const api = (await vscode.extensions.getExtension<LoraWorkbenchApi>(EXTENSION_ID)?.activate()) as LoraWorkbenchApi;
    await api.datasets.refresh();
    await api.imageAudit.whenIdle();
    await api.buckets.rebuild();
    const run = api.buckets.runs().find((r) => r.config?.endsWith(path.join('config', 'config_file.toml')));
    assert.ok(run, `a run from config_file.toml among ${api.buckets.runs().map((r) => r.label).join(', ')}`);
    assert.equal(run.description, '1024×1024 · bucketing off · batch 4');
    // 14 train images × 5 repeats; 2 reg images repeated round-robin up to the same 70 samples
    assert.deepEqual(run.report.buckets.map((b) => [b.reso.join('×'), b.images, b.samples, b.batches]), [['1024×1024', 16, 140, 35]]);
    assert.equal(run.report.stepsPerEpoch, 35);
    const one = run.report.images.find((i) => path.basename(i.file) === '1.png');
    assert.deepEqual([one?.width, one?.height, one?.resized.join('×')], [512, 704, '1024×1408']);
  });
});
