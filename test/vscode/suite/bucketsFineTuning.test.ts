/**
 * Buckets view with fine-tuning datasets, in the real VS Code: a dataset config with one
 * DreamBooth and one fine-tuning dataset (metadata keys as full paths, with extensions, a bare
 * stem and a missing file; sizes from image_size, a latent-cache name and the image), and a
 * training config with in_json. The metadata file is then changed on disk (the watcher updates
 * the view) and broken (a message naming it, nothing thrown).
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as vscode from 'vscode';
import type { LoraWorkbenchApi } from '../../../src/extension';
import { makePng } from '../../unit/dataset-fixtures';

const EXTENSION_ID = 'lora-workbench.lora-workbench';
type RunInfo = ReturnType<LoraWorkbenchApi['buckets']['runs']>[number];

const table = (r: RunInfo['datasets'][number] | undefined): Array<[string, number, number, number]> | undefined =>
  r?.report?.buckets.map((b) => [b.reso.join('×'), b.images, b.samples, b.batches]);

describe('Buckets view with fine-tuning datasets', function () {
  this.timeout(120_000);
  let api: LoraWorkbenchApi;
  let dir: string;
  let meta: string;
  let ft: string;

  /** Rebuilds the view until `ok` holds for the run (sizes and metadata are read in the background). */
  const waitForRun = async (find: (r: RunInfo) => boolean, ok: (r: RunInfo) => boolean, what: string): Promise<RunInfo> => {
    let run: RunInfo | undefined;
    for (let i = 0; i < 100; i++) {
      await api.buckets.rebuild();
      run = api.buckets.runs().find(find);
      if (run && ok(run)) return run;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.fail(`${what}: ${run ? JSON.stringify({ label: run.label, errors: run.errors, datasets: run.datasets.map((d) => ({ notes: d.notes, details: d.details, pending: d.pending, buckets: table(d) })) }) : `no run among ${api.buckets.runs().map((r) => r.label).join(', ')}`}`);
  };

  before(async () => {
    api = (await vscode.extensions.getExtension<LoraWorkbenchApi>(EXTENSION_ID)?.activate()) as LoraWorkbenchApi;
    const ws = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    assert.ok(ws);
    dir = path.join(ws, 'ftconf');
    ft = path.join(dir, 'ft');
    const db = path.join(dir, 'db');
    mkdirSync(ft, { recursive: true });
    mkdirSync(db, { recursive: true });
    // the aspect ratios of 1920×1080, 800×600 and 600×800 at a small size
    writeFileSync(path.join(ft, 'a.png'), makePng({ width: 192, height: 108 }));
    writeFileSync(path.join(ft, 'b.png'), makePng({ width: 80, height: 60 }));
    // c.png itself is square; its latent cache says 48×64, which is what sd-scripts uses
    writeFileSync(path.join(ft, 'c.png'), makePng({ width: 64, height: 64 }));
    writeFileSync(path.join(ft, 'c_0048x0064_sdxl.npz'), 'not read: only the name counts');
    writeFileSync(path.join(ft, 'stem.png'), makePng({ width: 64, height: 64 }));
    writeFileSync(path.join(db, 'one.png'), makePng({ width: 64, height: 64 }));
    writeFileSync(path.join(db, 'two.png'), makePng({ width: 64, height: 64 }));
    meta = path.join(dir, 'meta.json');
    writeFileSync(
      meta,
      JSON.stringify({ [path.join(ft, 'a.png')]: { caption: 'a' }, 'b.png': { tags: 'x', image_size: [800, 600] }, 'c.png': {}, stem: {}, 'gone.png': {} }, null, 2),
    );
    const fwd = (p: string): string => p.replace(/\\/g, '/');
    writeFileSync(
      path.join(dir, 'datasets.toml'),
      `[general]\nenable_bucket = true\nresolution = 1024\n\n[[datasets]]\nbatch_size = 2\n  [[datasets.subsets]]\n  image_dir = '${fwd(db)}'\n  num_repeats = 2\n\n` +
        `[[datasets]]\nbatch_size = 1\n  [[datasets.subsets]]\n  metadata_file = '${fwd(meta)}'\n  image_dir = '${fwd(ft)}'\n  num_repeats = 3\n`,
    );
    writeFileSync(
      path.join(dir, 'train_ft.toml'),
      `pretrained_model_name_or_path = "stabilityai/stable-diffusion-xl-base-1.0"\ntrain_data_dir = "ftconf/ft"\nin_json = "ftconf/meta.json"\nresolution = "512,512"\nenable_bucket = true\ntrain_batch_size = 2\noutput_dir = "out"\n`,
    );
    await api.datasets.refresh();
    await api.imageAudit.whenIdle();
  });

  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await api.datasets.refresh();
  });

  it('buckets a DreamBooth and a fine-tuning dataset of one dataset config, leaving out keys that name no image', async () => {
    const run = await waitForRun(
      (r) => r.datasetConfig === path.join(dir, 'datasets.toml'),
      (r) => r.datasets.every((d) => d.report && d.pending === 0) && r.batchesPerEpoch === 11,
      'the dataset config run',
    );
    const [d, f] = run.datasets;
    // DreamBooth: two 64² images × 2 repeats, batch 2
    assert.deepEqual(table(d), [['1024×1024', 2, 4, 2]]);
    // fine-tuning: a 192×108 read from the file → 1024×576; b from image_size 800×600 → 1024×768;
    // c from c_0048x0064_sdxl.npz (48×64, 3:4) → 768×1024, not 1024×1024 as its own pixels would say.
    // 3 repeats, batch 1 → 3 batches each
    assert.deepEqual(table(f), [
      ['768×1024', 1, 3, 3],
      ['1024×576', 1, 3, 3],
      ['1024×768', 1, 3, 3],
    ]);
    const s = f?.subsets?.[0];
    assert.deepEqual([s?.keys, s?.images, s?.leftOut, s?.sizesFrom], [5, 3, { bareStem: 1, missing: 1 }, { metadata: 1, npz: 1, image: 1 }]);
    assert.match(f?.details.join('\n') ?? '', /meta\.json: 2 metadata keys left out: 1 bare stem, 1 with no file/);
    assert.deepEqual(
      s?.leftOutExamples?.map((e) => [e.key, e.reason, e.image && path.basename(e.image)]),
      [
        ['stem', 'bareStem', 'stem.png'],
        ['gone.png', 'missing', undefined],
      ],
    );
    assert.equal(run.stepsPerEpoch, 11);
    assert.deepEqual(run.errors, []);
  });

  it('buckets a training config with in_json as the fine-tuning dataset of train_data_dir, not as DreamBooth folders', async () => {
    const run = await waitForRun((r) => r.config?.endsWith('train_ft.toml') === true, (r) => r.datasets[0]?.report !== undefined && r.datasets[0].pending === 0, 'the in_json run');
    assert.equal(run.datasetConfig, undefined);
    assert.equal(run.datasets.length, 1);
    assert.equal(run.description, '512×512 · buckets 256–1024 /64 · batch 2');
    // 512² buckets: 16:9 → 640×384, 4:3 → 576×448, 3:4 → 448×576; one sample each, batch 2
    assert.deepEqual(table(run.datasets[0]), [
      ['448×576', 1, 1, 1],
      ['576×448', 1, 1, 1],
      ['640×384', 1, 1, 1],
    ]);
    assert.equal(run.stepsPerEpoch, 3);
    // the image folder gets no run of its own with the default settings
    assert.deepEqual(
      api.buckets.runs().filter((r) => !r.config && !r.datasetConfig && r.label.startsWith('ftconf')).map((r) => r.label),
      [],
    );
  });

  it('follows the metadata file when it changes on disk, and names it when it is broken', async () => {
    const isMine = (r: RunInfo): boolean => r.datasetConfig === path.join(dir, 'datasets.toml');
    // no refresh: the file watcher has to notice. "stem" becomes "stem.png" (64² → 1024×1024), "gone.png" goes
    writeFileSync(meta, JSON.stringify({ [path.join(ft, 'a.png')]: {}, 'b.png': { image_size: [800, 600] }, 'c.png': {}, 'stem.png': {} }, null, 2));
    const run = await waitForRun(isMine, (r) => r.datasets[1]?.subsets?.[0]?.keys === 4 && r.datasets[1]?.pending === 0, 'the run after the metadata changed');
    const f = run.datasets[1];
    assert.deepEqual(f?.subsets?.[0]?.leftOut, { bareStem: 0, missing: 0 });
    assert.deepEqual(table(f), [
      ['768×1024', 1, 3, 3],
      ['1024×576', 1, 3, 3],
      ['1024×768', 1, 3, 3],
      ['1024×1024', 1, 3, 3],
    ]);
    assert.equal(run.batchesPerEpoch, 14);

    writeFileSync(meta, '{ "a.png": { "caption": "x" }, ');
    const broken = await waitForRun(isMine, (r) => r.errors.length > 0, 'the run with a broken metadata file');
    assert.match(broken.errors.join('\n'), /datasets\[1\]\.subsets\[0\]: .*meta\.json: .*JSON/);
    assert.equal(broken.datasets[1]?.report, undefined);
    // the DreamBooth dataset is still bucketed
    assert.deepEqual(table(broken.datasets[0]), [['1024×1024', 2, 4, 2]]);
  });
});
