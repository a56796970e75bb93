import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import {
  datasetsOfTrainingConfig,
  parseResolution,
  readDatasetConfig,
  readTrainingConfigRefs,
  resolveMetadataKeys,
  summariseMetadataKeys,
} from '../../src/core/dataset/discovery';
import { DatasetIndex, patchFolderScan } from '../../src/core/dataset/index';
import { conceptFolderName, planImageRename, renameForRepeats } from '../../src/core/dataset/treeOps';
import { moveToTrash } from '../../src/core/trash';
import { tempDir } from './helpers';

const BASE = '/work/project';

describe('dataset config discovery', () => {
  it('resolves every subset value along subset → dataset → general → training → default', () => {
    const text = `
[general]
caption_extension = "txt"
keep_tokens = 1
num_repeats = 3
resolution = 768

[[datasets]]
resolution = [1024, 896]
batch_size = 4
class_tokens = "dataset tokens"

  [[datasets.subsets]]
  image_dir = "img/a"
  num_repeats = 10
  class_tokens = "sks dog"

  [[datasets.subsets]]
  image_dir = "/abs/reg"
  is_reg = true
  caption_extension = ".caption"
  keep_tokens = 2

[[datasets]]
max_bucket_reso = 2048
  [[datasets.subsets]]
  image_dir = "img/b"
`;
    const r = readDatasetConfig(text, `${BASE}/ds.toml`, BASE, { batchSize: 2, numRepeats: 7, captionExtension: '.tags', bucket: { maxBucketReso: 1536, enableBucket: true } });
    assert.equal(r.error, undefined);
    assert.equal(r.datasets.length, 2);
    const [a, reg] = r.datasets[0]!.subsets;
    assert.equal(r.datasets[0]!.style, 'dreambooth');
    assert.equal(a!.imageDir, path.resolve(BASE, 'img/a'));
    assert.deepEqual(a!.values, { numRepeats: 10, classTokens: 'sks dog', isReg: false, captionExtension: '.txt', keepTokens: 1, resolution: [1024, 896], batchSize: 4 });
    assert.deepEqual(a!.sources, { numRepeats: 'subset', classTokens: 'subset', isReg: 'default', captionExtension: 'general', keepTokens: 'general', resolution: 'dataset', batchSize: 'dataset' });
    assert.equal(reg!.imageDir, '/abs/reg');
    assert.equal(reg!.values.isReg, true);
    assert.equal(reg!.values.numRepeats, 3);
    assert.equal(reg!.sources.numRepeats, 'general');
    assert.equal(reg!.values.classTokens, 'dataset tokens');
    assert.equal(reg!.sources.classTokens, 'dataset');
    assert.equal(reg!.values.captionExtension, '.caption');
    assert.equal(reg!.values.keepTokens, 2);
    // second dataset: resolution from [general], batch size from the training config
    const b = r.datasets[1]!.subsets[0]!;
    assert.deepEqual(b.values.resolution, [768, 768]);
    assert.equal(b.sources.resolution, 'general');
    assert.equal(b.values.batchSize, 2);
    assert.equal(b.sources.batchSize, 'training');
    assert.equal(b.values.numRepeats, 3);
    // bucket settings: dataset → general → training config
    assert.deepEqual(b.bucket, { maxBucketReso: 2048, enableBucket: true });
  });

  it('falls back to the training config, then to sd-scripts defaults', () => {
    const text = '[[datasets]]\n[[datasets.subsets]]\nimage_dir = "x"\n';
    const bare = readDatasetConfig(text, 'ds.toml', BASE).datasets[0]!.subsets[0]!;
    assert.deepEqual(bare.values, { numRepeats: 1, classTokens: undefined, isReg: false, captionExtension: '.caption', keepTokens: 0, resolution: undefined, batchSize: 1 });
    assert.ok(Object.values(bare.sources).every((s) => s === 'default'));
    const withTraining = readDatasetConfig(text, 'ds.toml', BASE, { numRepeats: 5, captionExtension: '.txt', resolution: [1024, 1024] }).datasets[0]!.subsets[0]!;
    assert.equal(withTraining.values.numRepeats, 5);
    assert.equal(withTraining.sources.numRepeats, 'training');
    assert.equal(withTraining.values.captionExtension, '.txt');
    assert.deepEqual(withTraining.values.resolution, [1024, 1024]);
  });

  it('ignores dataset-level keys written in a subset, and is_reg above the subset', () => {
    const text = '[general]\nis_reg = true\n[[datasets]]\n[[datasets.subsets]]\nimage_dir = "x"\nresolution = 512\nbatch_size = 8\n';
    const s = readDatasetConfig(text, 'ds.toml', BASE).datasets[0]!.subsets[0]!;
    assert.equal(s.values.isReg, false);
    assert.equal(s.values.resolution, undefined);
    assert.equal(s.values.batchSize, 1);
  });

  it('marks subsets sd-scripts skips: repeats below 1, no image_dir, duplicates; and mixed styles', () => {
    const text = `
[[datasets]]
[[datasets.subsets]]
image_dir = "a"
num_repeats = 0
[[datasets.subsets]]
class_tokens = "x"
[[datasets.subsets]]
image_dir = "b"
[[datasets.subsets]]
image_dir = "b"
[[datasets]]
[[datasets.subsets]]
image_dir = "c"
[[datasets.subsets]]
metadata_file = "meta.json"
`;
    const r = readDatasetConfig(text, 'ds.toml', BASE);
    const subs = r.datasets[0]!.subsets;
    assert.match(subs[0]!.skipReason ?? '', /num_repeats is 0/);
    assert.match(subs[1]!.skipReason ?? '', /no image_dir/);
    assert.equal(subs[2]!.skipReason, undefined);
    assert.match(subs[3]!.skipReason ?? '', /same image_dir/);
    assert.equal(r.datasets[1]!.style, 'mixed');
    assert.match(r.datasets[1]!.problems[0] ?? '', /mixed/);
    assert.equal(r.datasets[1]!.subsets[1]!.style, 'finetuning');
    assert.equal(r.datasets[1]!.subsets[1]!.metadataFile, path.resolve(BASE, 'meta.json'));
  });

  it('reports broken TOML and still reads what it can', () => {
    const r = readDatasetConfig('[[datasets]]\n[[datasets.subsets]]\nimage_dir = "a"\nnum_repeats = = 3\n', '/p/ds.toml', BASE);
    assert.match(r.error ?? '', /ds\.toml: TOML syntax error/);
    assert.equal(r.datasets[0]?.subsets[0]?.imageDir, path.resolve(BASE, 'a'));
  });
});

describe('training config discovery', () => {
  it('reads train_data_dir, reg_data_dir and the argparse values datasets inherit', () => {
    const refs = readTrainingConfigRefs(
      '[general]\ntrain_data_dir = "dataset/img_train"\nreg_data_dir = "/data/reg"\ncaption_extension = "txt"\nresolution = "1024,768"\ntrain_batch_size = 2\n',
      `${BASE}/config.toml`,
      BASE,
    );
    assert.equal(refs.trainDataDir, path.join(BASE, 'dataset/img_train'));
    assert.equal(refs.regDataDir, '/data/reg');
    assert.deepEqual(refs.defaults, { captionExtension: '.txt', resolution: [1024, 768], batchSize: 2 });
    assert.deepEqual(readTrainingConfigRefs('enable_bucket = true\nmax_bucket_reso = 2048\n', 'c.toml', BASE).defaults.bucket, { enableBucket: true, maxBucketReso: 2048 });
    const ds = datasetsOfTrainingConfig(refs);
    assert.deepEqual(ds.map((d) => [d.label, d.subsets[0]!.imageDir, d.subsets[0]!.values.isReg]), [
      ['train_data_dir', path.join(BASE, 'dataset/img_train'), false],
      ['reg_data_dir', '/data/reg', true],
    ]);
    assert.equal(ds[0]!.origin, `${BASE}/config.toml`);
  });

  it('uses in_json for a fine-tuning dataset, and nothing of the three when dataset_config is set', () => {
    const ft = datasetsOfTrainingConfig(readTrainingConfigRefs('in_json = "meta_clean.json"\ntrain_data_dir = "imgs"\n', 'c.toml', BASE));
    assert.equal(ft.length, 1);
    assert.equal(ft[0]!.style, 'finetuning');
    assert.equal(ft[0]!.subsets[0]!.metadataFile, path.join(BASE, 'meta_clean.json'));
    assert.equal(ft[0]!.subsets[0]!.imageDir, path.join(BASE, 'imgs'));
    const refs = readTrainingConfigRefs('dataset_config = "ds.toml"\ntrain_data_dir = "imgs"\n', 'c.toml', BASE);
    assert.equal(refs.datasetConfig, path.join(BASE, 'ds.toml'));
    assert.deepEqual(datasetsOfTrainingConfig(refs), []);
  });

  it('skips placeholder paths and survives broken TOML', () => {
    const refs = readTrainingConfigRefs('train_data_dir = "/path/to/your/images"\n', 'c.toml', BASE);
    assert.equal(refs.trainDataDir, undefined);
    assert.deepEqual(readTrainingConfigRefs('train_data_dir = = "x"', 'c.toml', BASE).trainDataDir, undefined);
  });

  it('reads resolution in every form sd-scripts accepts', () => {
    assert.deepEqual(parseResolution(1024), [1024, 1024]);
    assert.deepEqual(parseResolution([832, 1216]), [832, 1216]);
    assert.deepEqual(parseResolution('1024,768'), [1024, 768]);
    assert.deepEqual(parseResolution('512'), [512, 512]);
    assert.equal(parseResolution([1, 2, 3]), undefined);
    assert.equal(parseResolution('big'), undefined);
  });
});

describe('metadata key resolution', () => {
  it('tells full paths, names with extension, bare stems and missing keys apart', (t) => {
    const dir = tempDir(t);
    mkdirSync(path.join(dir, 'imgs'));
    for (const n of ['a.png', 'b.jpg', 'c.webp']) writeFileSync(path.join(dir, 'imgs', n), 'x');
    const imgs = path.join(dir, 'imgs');
    const exists = (p: string): boolean => ['a.png', 'b.jpg', 'c.webp'].some((n) => p === path.join(imgs, n));
    const r = resolveMetadataKeys([path.join(imgs, 'a.png'), 'b.jpg', 'c', 'gone.png', path.join(imgs, 'nope.png')], imgs, exists);
    assert.deepEqual(
      r.map((x) => [x.key.startsWith('/') ? path.basename(x.key) : x.key, x.status, x.image && path.basename(x.image)]),
      [
        ['a.png', 'fullPath', 'a.png'],
        ['b.jpg', 'withExtension', 'b.jpg'],
        ['c', 'bareStem', 'c.webp'],
        ['gone.png', 'missing', undefined],
        ['nope.png', 'missing', undefined],
      ],
    );
    const s = summariseMetadataKeys(r);
    assert.equal(s.resolved, 2);
    assert.equal(s.total, 5);
    assert.match(s.message, /1 bare-stem key no longer resolve/);
    assert.match(s.message, /2 keys point to no image/);
    assert.deepEqual(s.unresolved.map((u) => u.key.startsWith('/') ? path.basename(u.key) : u.key), ['c', 'gone.png', 'nope.png']);
    assert.equal(summariseMetadataKeys(r.slice(0, 2)).message, 'all 2 keys resolve to images');
  });

  it('resolves relative keys from the folder training starts in', () => {
    const r = resolveMetadataKeys(['data/x.png'], '/imgs', (p) => p === '/sd/data/x.png', '/sd');
    assert.equal(r[0]!.status, 'fullPath');
  });
});

describe('index queries used by the tree', () => {
  it('sorts by tag count and filters with a predicate, paging over the matches', async (t) => {
    const dir = tempDir(t);
    const png = (w: number, h: number): Buffer => {
      const b = Buffer.alloc(33);
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(b, 0);
      b.writeUInt32BE(13, 8);
      b.write('IHDR', 12, 'ascii');
      b.writeUInt32BE(w, 16);
      b.writeUInt32BE(h, 20);
      b[24] = 8;
      b[25] = 2;
      return b;
    };
    writeFileSync(path.join(dir, 'a.png'), png(64, 64));
    writeFileSync(path.join(dir, 'a.txt'), 'one, two, three');
    writeFileSync(path.join(dir, 'b.png'), png(128, 32));
    writeFileSync(path.join(dir, 'b.txt'), 'one');
    writeFileSync(path.join(dir, 'c.png'), png(16, 16));
    const index = await DatasetIndex.build(dir, { depth: 0, tagExtension: '.txt' });
    const names = (q: Parameters<DatasetIndex['query']>[0]): string[] => index.query({ folder: dir, ...q }).items.map((i) => i.name);
    assert.deepEqual(names({ sort: 'tags' }), ['c.png', 'b.png', 'a.png']);
    assert.deepEqual(names({ sort: 'tags', descending: true }), ['a.png', 'b.png', 'c.png']);
    assert.deepEqual(names({ sort: 'pixels' }), ['c.png', 'a.png', 'b.png']);
    assert.deepEqual(names({ tags: ['one'] }), ['a.png', 'b.png']);
    assert.deepEqual(names({ predicate: (i) => i.name !== 'a.png', limit: 1 }), ['b.png']);
    assert.equal(index.query({ folder: dir, predicate: (i) => i.name !== 'a.png', limit: 1 }).total, 2);
  });
});

describe('index progress for the first paint', () => {
  it('reports the first folder with images before the whole tree is listed', async (t) => {
    const dir = tempDir(t);
    for (let f = 1; f <= 12; f++) {
      mkdirSync(path.join(dir, `${f}_c${f}`));
      writeFileSync(path.join(dir, `${f}_c${f}`, 'a.png'), 'x');
    }
    const seen: number[] = [];
    let listed = -1;
    await DatasetIndex.build(dir, {
      depth: 1,
      progressMs: 60_000,
      onProgress: (ix) => seen.push(ix.folders().length),
      onListed: (ix) => {
        listed = ix.folders().length;
      },
    });
    assert.equal(listed, 12);
    // one call (the throttle is long): as soon as a folder with images was listed, not at the end
    assert.equal(seen.length, 1);
    assert.ok((seen[0] ?? 0) >= 1 && (seen[0] ?? 0) < 12, `progress saw ${seen[0]} folders`);
  });
});

describe('folder scans patched by deltas', () => {
  it('equal a fresh scan after images are added, removed and re-captioned', async (t) => {
    const dir = tempDir(t);
    for (const n of [1, 2, 3, 10, 20]) {
      writeFileSync(path.join(dir, `${n}.png`), 'x');
      writeFileSync(path.join(dir, `${n}.txt`), 'a, b');
    }
    const index = await DatasetIndex.build(dir, { depth: 0, tagExtension: '.txt' });
    let scan = index.folderScan(index.folder(dir)!);
    const step = async (files: string[]): Promise<void> => {
      const d = await index.update(files.map((f) => ({ path: path.join(dir, f) })));
      scan = patchFolderScan(scan, index.folder(dir)!, index, d);
      assert.deepEqual(scan, index.folderScan(index.folder(dir)!));
    };
    writeFileSync(path.join(dir, '4.png'), 'x');
    await step(['4.png']);
    assert.deepEqual(scan.images.map((i) => i.name), ['1.png', '2.png', '3.png', '4.png', '10.png', '20.png']);
    rmSync(path.join(dir, '2.png'));
    await step(['2.png']);
    writeFileSync(path.join(dir, '4.caption'), 'c');
    rmSync(path.join(dir, '10.txt'));
    await step(['4.caption', '10.txt']);
    assert.deepEqual(scan.images.find((i) => i.name === '4.png')?.sidecars, { '.caption': '4.caption' });
    assert.deepEqual(scan.images.find((i) => i.name === '10.png')?.sidecars, {});
    assert.deepEqual(scan.orphanSidecars, ['2.txt']);
  });
});

describe('tree file plans', () => {
  it('renames an image with every file of its stem, and refuses to overwrite', () => {
    const dir = '/d/5_x';
    const img = path.join(dir, 'a.png');
    const side = [path.join(dir, 'a.txt'), path.join(dir, 'a.caption'), path.join(dir, 'a_0512x0768_sdxl.npz')];
    const ok = planImageRename(img, side, 'b', () => false);
    assert.ok(ok.ok);
    assert.deepEqual(ok.moves.map(([f, t]) => [path.basename(f), path.basename(t)]), [
      ['a.png', 'b.png'],
      ['a.txt', 'b.txt'],
      ['a.caption', 'b.caption'],
      ['a_0512x0768_sdxl.npz', 'b_0512x0768_sdxl.npz'],
    ]);
    const taken = planImageRename(img, side, 'b', (f) => f === path.join(dir, 'b.txt'));
    assert.equal(taken.ok, false);
    assert.match(!taken.ok ? taken.reason : '', /b\.txt already exists: nothing was renamed/);
    assert.equal(planImageRename(img, side, 'x/y', () => false).ok, false);
    assert.equal(planImageRename(img, side, '  ', () => false).ok, false);
    assert.equal(planImageRename(img, side, 'a', () => false).ok, false);
  });

  it('changes repeats in a concept folder name and names new concept folders', () => {
    assert.deepEqual(renameForRepeats('5_tk girl', 10), { ok: true, name: '10_tk girl' });
    assert.deepEqual(renameForRepeats('5_a_b', 2), { ok: true, name: '2_a_b' });
    assert.deepEqual(renameForRepeats('5', 3), { ok: true, name: '3' });
    assert.equal(renameForRepeats('images', 3).ok, false);
    assert.equal(renameForRepeats('5_x', 0).ok, false);
    assert.equal(renameForRepeats('5_x', 1.5).ok, false);
    assert.deepEqual(conceptFolderName(4, ' sks dog '), { ok: true, name: '4_sks dog' });
    assert.equal(conceptFolderName(0, 'x').ok, false);
    assert.equal(conceptFolderName(2, 'a/b').ok, false);
  });

  it('moves files to a freedesktop trash with a restorable .trashinfo, never overwriting', async (t) => {
    const dir = tempDir(t);
    const trashDir = path.join(dir, 'Trash');
    for (const n of [1, 2]) {
      mkdirSync(path.join(dir, `d${n}`));
      writeFileSync(path.join(dir, `d${n}`, 'a b.png'), `image ${n}`);
    }
    const first = await moveToTrash(path.join(dir, 'd1', 'a b.png'), trashDir);
    const second = await moveToTrash(path.join(dir, 'd2', 'a b.png'), trashDir);
    assert.equal(path.basename(first.trashed), 'a b.png');
    assert.equal(path.basename(second.trashed), 'a b.2.png');
    assert.equal(readFileSync(second.trashed, 'utf8'), 'image 2');
    assert.equal(existsSync(path.join(dir, 'd1', 'a b.png')), false);
    const info = readFileSync(path.join(trashDir, 'info', 'a b.2.png.trashinfo'), 'utf8');
    assert.match(info, /^\[Trash Info\]\nPath=.*\/d2\/a%20b\.png\nDeletionDate=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\n$/);
    await assert.rejects(moveToTrash(path.join(dir, 'missing.png'), trashDir), /ENOENT/);
  });
});
