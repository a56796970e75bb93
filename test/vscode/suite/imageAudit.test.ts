/**
 * Image audit and Buckets view inside VS Code: a generated bad-image folder in the workspace gets
 * exactly its diagnostics codes in the Problems panel (from the worker process), a caption added
 * later clears one problem incrementally, the orientation fix rotates the pixels through the
 * journal and is undone, and the Buckets view computes the sample dataset from its training config.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as vscode from 'vscode';
import { readImageHeader } from '../../../src/core/dataset/imageHeader';
import type { LoraWorkbenchApi } from '../../../src/extension';
import { makePng } from '../../unit/dataset-fixtures';
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

describe('Buckets view with a --dataset_config', function () {
  this.timeout(90_000);
  let api: LoraWorkbenchApi;
  let dir: string;

  before(async () => {
    api = (await vscode.extensions.getExtension<LoraWorkbenchApi>(EXTENSION_ID)?.activate()) as LoraWorkbenchApi;
    const ws = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    assert.ok(ws);
    dir = path.join(ws, 'dsconf');
    const put = (folder: string, sizes: Array<[string, number, number]>): void => {
      mkdirSync(path.join(dir, folder), { recursive: true });
      for (const [name, width, height] of sizes) writeFileSync(path.join(dir, folder, name), makePng({ width, height }));
    };
    // the aspect ratios of the unit test's images (1920×1080, 800×600…) at a small size
    put('a', [['wide.png', 192, 108], ['four-three.png', 80, 60], ['square.png', 64, 64]]);
    put('reg', [['r1.png', 64, 64], ['r2.png', 48, 64]]);
    put('b', [['x.png', 30, 90], ['y.png', 200, 50], ['z.png', 64, 64]]);
    mkdirSync(path.join(dir, 'empty'), { recursive: true });
    const d = (f: string): string => path.join(dir, f).replace(/\\/g, '/');
    writeFileSync(
      path.join(dir, 'datasets.toml'),
      `[general]\nenable_bucket = true\nnum_repeats = 2\n\n[[datasets]]\nbatch_size = 2\n\n  [[datasets.subsets]]\n  image_dir = '${d('a')}'\n  num_repeats = 3\n\n  [[datasets.subsets]]\n  image_dir = '${d('reg')}'\n  is_reg = true\n\n  [[datasets.subsets]]\n  image_dir = '${d('empty')}'\n\n[[datasets]]\nresolution = 512\nbatch_size = 4\nenable_bucket = false\n\n  [[datasets.subsets]]\n  image_dir = '${d('b')}'\n`,
    );
    // the training config gives the first dataset its resolution and the run its accumulation
    writeFileSync(
      path.join(dir, 'train_dsconf.toml'),
      `pretrained_model_name_or_path = "stabilityai/stable-diffusion-xl-base-1.0"\ndataset_config = "dsconf/datasets.toml"\nresolution = "1024,1024"\ngradient_accumulation_steps = 2\noutput_dir = "out"\n`,
    );
    await api.datasets.refresh();
    await api.imageAudit.whenIdle();
  });

  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await api.datasets.refresh();
  });

  it('buckets each [[datasets]] entry with its own settings and adds up their batches', async () => {
    let run: ReturnType<LoraWorkbenchApi['buckets']['runs']>[number] | undefined;
    // the audit reads the sizes after the tree lists the images: wait until none is missing
    for (let i = 0; i < 50; i++) {
      await api.buckets.rebuild();
      run = api.buckets.runs().find((r) => r.config?.endsWith('train_dsconf.toml'));
      if (run && run.datasets.every((d) => d.report) && run.batchesPerEpoch === 12) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(run, `a run from train_dsconf.toml among ${api.buckets.runs().map((r) => r.label).join(', ')}`);
    assert.equal(run.datasetConfig, path.join(dir, 'datasets.toml'));
    assert.deepEqual(run.datasets.map((d) => d.description), ['1024×1024 · buckets 256–1024 /64 · batch 2', '512×512 · bucketing off · batch 4']);
    const [a, b] = run.datasets;
    assert.deepEqual(
      a?.report?.buckets.map((x) => [x.reso.join('×'), x.images, x.samples, x.batches]),
      [
        ['768×1024', 1, 4, 2],
        ['1024×576', 1, 3, 2],
        ['1024×768', 1, 3, 2],
        ['1024×1024', 2, 8, 4],
      ],
    );
    assert.deepEqual(b?.report?.buckets.map((x) => [x.reso.join('×'), x.images, x.samples, x.batches]), [['512×512', 3, 6, 2]]);
    assert.match(a?.notes.join('\n') ?? '', /subsets\[2\] \(empty\) is left out: .*no images|subsets\[2\] \(empty\) is left out: .*not a folder/);
    // 10 + 2 batches, 2 accumulation steps
    assert.equal(run.batchesPerEpoch, 12);
    assert.equal(run.stepsPerEpoch, 6);
    // the folders of the dataset config get no run of their own with the default settings
    assert.equal(api.buckets.runs().filter((r) => r.label.startsWith('dsconf/') && !r.datasetConfig).length, 0);
  });
});
