import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { readDatasetConfig } from '../../src/core/dataset/discovery';
import { bucketDatasetConfig, type FolderImages, type SizedImage } from '../../src/core/dataset/datasetConfigBuckets';

const BASE = '/work/project';

function folders(map: Record<string, Array<[string, number, number]>>, pending: Record<string, number> = {}): (dir: string) => FolderImages | undefined {
  return (dir) => {
    const list = map[dir];
    if (!list && pending[dir] === undefined) return undefined;
    const images: SizedImage[] = (list ?? []).map(([name, width, height]) => ({ file: path.join(dir, name), width, height }));
    return { images, pending: pending[dir] ?? 0 };
  };
}

const TWO_DATASETS = `
[general]
enable_bucket = true
num_repeats = 2

[[datasets]]
resolution = 1024
batch_size = 2

  [[datasets.subsets]]
  image_dir = "/data/a"
  num_repeats = 3

  [[datasets.subsets]]
  image_dir = "/data/reg"
  is_reg = true

[[datasets]]
resolution = [512, 512]
batch_size = 4
enable_bucket = false

  [[datasets.subsets]]
  image_dir = "/data/b"
`;

const IMAGES = {
  '/data/a': [
    ['wide.png', 1920, 1080],
    ['four-three.png', 800, 600],
    ['square.png', 1024, 1024],
  ] as Array<[string, number, number]>,
  '/data/reg': [
    ['r1.png', 1024, 1024],
    ['r2.png', 768, 1024],
  ] as Array<[string, number, number]>,
  '/data/b': [
    ['x.png', 300, 900],
    ['y.png', 2000, 500],
    ['z.png', 640, 640],
  ] as Array<[string, number, number]>,
};

describe('buckets of a dataset config', () => {
  it('buckets each dataset with its own settings and adds the batches of all datasets (hand-computed)', () => {
    const { datasets } = readDatasetConfig(TWO_DATASETS, '/work/project/ds.toml', BASE);
    const r = bucketDatasetConfig(datasets, folders(IMAGES), { gradientAccumulationSteps: 4 });
    assert.deepEqual(r.errors, []);
    assert.equal(r.datasets.length, 2);
    const [a, b] = r.datasets;
    assert.ok(a?.report && b?.report);
    // dataset 0: 1024², buckets on (from [general]), 256–1024 /64, batch 2
    assert.deepEqual(a.options, { resolution: [1024, 1024], enableBucket: true, minBucketReso: 256, maxBucketReso: 1024, bucketResoSteps: 64, noUpscale: false, batchSize: 2 });
    // train: 3 images × 3 repeats = 9 samples; reg (num_repeats 2 from [general]): 2+2 = 4 < 9,
    // then one more repeat round-robin until 9: r1 gets 2+3 = 5, r2 gets 2+2 = 4
    const reg = a.report.images.filter((i) => i.isReg).map((i) => [path.basename(i.file), i.repeats]);
    assert.deepEqual(reg, [['r1.png', 5], ['r2.png', 4]]);
    // 1920×1080 has exactly the aspect of 1024×576, 800×600 of 1024×768
    assert.deepEqual(
      a.report.buckets.map((x) => [x.reso.join('×'), x.images, x.samples, x.batches]),
      [
        ['768×1024', 1, 4, 2],
        ['1024×576', 1, 3, 2],
        ['1024×768', 1, 3, 2],
        ['1024×1024', 2, 8, 4],
      ],
    );
    assert.equal(a.report.batchesPerEpoch, 10);
    assert.deepEqual(
      a.report.warnings.filter((w) => w.code === 'smallBucket').map((w) => w.reso?.join('×')),
      ['768×1024', '1024×576', '1024×768'],
    );
    // dataset 1: its own enable_bucket = false wins over [general]: one 512×512 bucket, batch 4
    assert.equal(b.options.enableBucket, false);
    assert.deepEqual(b.report.buckets.map((x) => [x.reso.join('×'), x.images, x.samples, x.batches]), [['512×512', 3, 6, 2]]);
    // the 2000×500 image covers 512×512 by its height: 2048×512
    assert.deepEqual(b.report.images.find((i) => i.file.endsWith('y.png'))?.resized, [2048, 512]);
    // one epoch is the concatenation: 10 + 2 batches, 4 accumulation steps → 3 optimizer steps
    assert.equal(r.batchesPerEpoch, 12);
    assert.equal(r.stepsPerEpoch, 3);
  });

  it('takes min/max/steps and no-upscale from the dataset, and the resolution from the training config', () => {
    const text = `
[[datasets]]
enable_bucket = true
bucket_no_upscale = true
bucket_reso_steps = 32
batch_size = 1
  [[datasets.subsets]]
  image_dir = "/data/a"
  num_repeats = 1
`;
    const { datasets } = readDatasetConfig(text, '/work/project/ds.toml', BASE, { resolution: [1024, 1024] });
    const r = bucketDatasetConfig(datasets, folders(IMAGES));
    const a = r.datasets[0];
    assert.ok(a?.report);
    assert.equal(a.options.bucketResoSteps, 32);
    // no upscale: 1920×1080 (above 1024²) → rw = sqrt(1024²·16/9) = 1365.33, rh = 768;
    // A: 1344 / round_to_32(756) = 1344/736 = 1.826; B: round_to_32(1365.3) / 768 = 1344/768 = 1.75;
    // |1.826−1.778| = 0.048 > |1.75−1.778| = 0.028 → B: resized (int(768·16/9+0.5), 768) = (1365, 768) → bucket 1344×768
    const wide = a.report.images.find((i) => i.file.endsWith('wide.png'));
    assert.deepEqual([wide?.resized, wide?.bucket], [[1365, 768], [1344, 768]]);
    // 800×600 fits in the area: kept, bucket 800×576 (800 = 25·32)
    assert.deepEqual(a.report.images.find((i) => i.file.endsWith('four-three.png'))?.bucket, [800, 576]);
    assert.equal(r.stepsPerEpoch, 3);
  });

  it('leaves out what sd-scripts leaves out, with the reason', () => {
    const text = `
[[datasets]]
resolution = 1024
  [[datasets.subsets]]
  image_dir = "/data/a"
  num_repeats = 2
  [[datasets.subsets]]
  image_dir = "/data/a"
  num_repeats = 5
  [[datasets.subsets]]
  image_dir = "/data/empty"
  [[datasets.subsets]]
  image_dir = "/data/zero"
  num_repeats = 0
  [[datasets.subsets]]
  image_dir = "/data/missing"

[[datasets]]
  [[datasets.subsets]]
  image_dir = "/data/b"

[[datasets]]
resolution = 1024
  [[datasets.subsets]]
  metadata_file = "/data/meta_lat.json"
`;
    const { datasets } = readDatasetConfig(text, '/work/project/ds.toml', BASE);
    const r = bucketDatasetConfig(datasets, folders({ ...IMAGES, '/data/empty': [], '/data/zero': [['q.png', 64, 64]] }));
    const [a, noReso, ft] = r.datasets;
    assert.deepEqual(
      a?.subsets.map((s) => [s.imageDir, s.images, s.skipped !== undefined]),
      [
        ['/data/a', 3, false],
        ['/data/a', 0, true],
        ['/data/empty', 0, true],
        ['/data/zero', 0, true],
        ['/data/missing', 0, true],
      ],
    );
    assert.match(a?.subsets[1]?.skipped ?? '', /same image_dir/);
    assert.match(a?.subsets[2]?.skipped ?? '', /no images/);
    assert.match(a?.subsets[3]?.skipped ?? '', /num_repeats is 0/);
    assert.match(a?.subsets[4]?.skipped ?? '', /not a folder with images/);
    // enable_bucket is off unless set: one 1024×1024 bucket, 3 images × 2 repeats
    assert.deepEqual(a?.report?.buckets.map((x) => [x.reso.join('×'), x.samples]), [['1024×1024', 6]]);
    assert.equal(noReso?.report, undefined);
    assert.match(noReso?.notes.join('\n') ?? '', /resolution is required/);
    // without a source for the metadata, the fine-tuning subset adds nothing (and says why)
    assert.equal(ft?.report, undefined);
    assert.match(ft?.subsets[0]?.skipped ?? '', /metadata file/);
    // only the first dataset counts
    assert.equal(r.batchesPerEpoch, 6);
    assert.equal(r.stepsPerEpoch, 6);
  });

  it('says "No data found" when no dataset adds an image, and counts images whose size is not read yet', () => {
    const text = `
[[datasets]]
resolution = 512
  [[datasets.subsets]]
  image_dir = "/data/empty"
`;
    const { datasets } = readDatasetConfig(text, '/work/project/ds.toml', BASE);
    const none = bucketDatasetConfig(datasets, folders({ '/data/empty': [] }));
    assert.match(none.errors.join('\n'), /No data found/);
    assert.equal(none.stepsPerEpoch, 0);
    const later = bucketDatasetConfig(datasets, folders({}, { '/data/empty': 4 }));
    assert.deepEqual(later.errors, []);
    assert.equal(later.datasets[0]?.pending, 4);
    assert.equal(later.datasets[0]?.subsets[0]?.images, 4);
  });
});
