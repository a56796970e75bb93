import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { readDatasetConfig, datasetsOfTrainingConfig, readTrainingConfigRefs, type DiscoveredSubset } from '../../src/core/dataset/discovery';
import { bucketDatasetConfig, type FineTuningSource, type FolderImages } from '../../src/core/dataset/datasetConfigBuckets';
import { describeLeftOut, dirFiles, fineTuningFolderCounts, keyFolders, leftOutLines, metadataSizes, parseMetadataSizes, resolveFineTuningKeys, type DirFiles } from '../../src/core/dataset/fineTuning';
import { parseMetadata } from '../../src/core/dataset/metadata';
import { bucketsFromTrainingConfig } from '../../src/core/dataset/bucketConfig';

const BASE = '/work/project';

/** A fake file system: folder → names. */
function listing(tree: Record<string, string[]>): (dir: string) => DirFiles | undefined {
  const cache = new Map(Object.entries(tree).map(([d, names]) => [d, dirFiles(names)]));
  return (dir) => cache.get(dir);
}

const META = JSON.stringify({
  '/data/ft/a.png': { caption: 'a girl', tags: 'x' },
  'b.png': { image_size: [800, 600] },
  'c.png': {},
  stem: { tags: 'y' },
  'gone.png': {},
  '/elsewhere/x.png': { image_size: [64, 64] },
  'p.png': {},
  'sub/d.webp': { image_size: [600, 800] },
});

const FILES = listing({
  '/data/ft': ['a.png', 'a.txt', 'b.png', 'c.png', 'c_1024x0768_sdxl.npz', 'stem.jpg', 'stem.txt', 'p.png'],
  '/data/ft/sub': ['d.webp'],
  '/data/db': ['sq1.png', 'sq2.png'],
});

/** Sizes a header read would give; b.png and c.png lie, to show that metadata and npz names win. */
const HEADERS: Record<string, { width: number; height: number }> = {
  '/data/ft/a.png': { width: 1920, height: 1080 },
  '/data/ft/b.png': { width: 100, height: 100 },
  '/data/ft/c.png': { width: 100, height: 100 },
};

function parsed(text: string, jsonl = false) {
  const m = parseMetadata(text, jsonl);
  assert.ok(m.ok);
  return metadataSizes(m.metadata, jsonl);
}

function source(byFile: Record<string, ReturnType<typeof resolveFineTuningKeys> | { error: string } | undefined>): FineTuningSource {
  return { keys: (s: DiscoveredSubset) => byFile[s.metadataFile ?? ''], size: (f) => HEADERS[f] };
}

const db = (dir: string): FolderImages | undefined =>
  dir === '/data/db' ? { images: [{ file: '/data/db/sq1.png', width: 1024, height: 1024 }, { file: '/data/db/sq2.png', width: 1024, height: 1024 }], pending: 0 } : undefined;

describe('fine-tuning metadata keys', () => {
  it('resolves keys as current sd-scripts does and takes sizes from image_size, then the npz name', () => {
    const meta = parsed(META);
    assert.deepEqual(meta.keys.length, 8);
    assert.deepEqual(keyFolders(meta.keys, '/data/ft').sort(), ['/data/ft', '/data/ft/sub', '/elsewhere']);
    const k = resolveFineTuningKeys(meta, '/data/meta.json', '/data/ft', FILES);
    assert.equal(k.total, 8);
    assert.deepEqual(k.files, ['/data/ft/a.png', '/data/ft/b.png', '/data/ft/c.png', '/data/ft/p.png', '/data/ft/sub/d.webp']);
    // a: no size (read from the image), b: image_size, c: c_1024x0768_sdxl.npz, p: none, d: image_size
    assert.deepEqual([...k.sizes], [0, 0, 800, 600, 1024, 768, 0, 0, 600, 800]);
    assert.deepEqual([k.fromMetadata, k.fromNpz], [2, 1]);
    // "stem" is a bare stem (stem.jpg exists), gone.png and /elsewhere/x.png name no file
    assert.deepEqual(k.leftOut, { bareStem: 1, missing: 2 });
    assert.deepEqual(
      k.examples.map((e) => [e.key, e.reason, e.image]),
      [
        ['stem', 'bareStem', '/data/ft/stem.jpg'],
        ['gone.png', 'missing', undefined],
        ['/elsewhere/x.png', 'missing', undefined],
      ],
    );
    assert.equal(describeLeftOut(k), '3 metadata keys left out: 1 bare stem, 2 with no file');
    assert.match(leftOutLines(k)[0] ?? '', /^stem: bare stem; older sd-scripts found stem\.jpg/);
    assert.equal(k.summary.resolved, 5);
    assert.equal(k.stop, undefined);
    // the example list is limited, the count is not
    const one = resolveFineTuningKeys(meta, '/data/meta.json', '/data/ft', FILES, 1);
    assert.equal(one.examples.length, 1);
    assert.deepEqual(leftOutLines(one).at(-1), '… and 2 more');
  });

  it('counts the images a subset trains and the folder images no key names', () => {
    const k = resolveFineTuningKeys(parsed(META), '/data/meta.json', '/data/ft', FILES);
    const folder = ['a.png', 'b.png', 'c.png', 'p.png', 'stem.jpg', 'z.png'].map((name) => ({ name }));
    // 5 keys resolve (one in sub/); stem.jpg (named only by a bare stem) and z.png are not trained
    assert.deepEqual(fineTuningFolderCounts(k, '/data/ft', folder), { trained: 5, unused: 2, unusedExamples: ['stem.jpg', 'z.png'] });
    assert.deepEqual(fineTuningFolderCounts(k, '/data/ft', folder, 1).unusedExamples.length, 2, 'the same listing gives the remembered counts');
    assert.deepEqual(fineTuningFolderCounts(k, '/data/ft/', [...folder], 1), { trained: 5, unused: 2, unusedExamples: ['stem.jpg'] });
    // a full-path key written with a detour names the same folder
    const detour = resolveFineTuningKeys(parsed(JSON.stringify({ '/data/x/../ft/a.png': {} })), '/data/meta.json', '/data/ft', listing({ '/data/ft': ['a.png'], '/data/x/../ft': ['a.png'] }));
    assert.deepEqual(detour.files, ['/data/x/../ft/a.png']);
    assert.deepEqual(fineTuningFolderCounts(detour, '/data/ft', [{ name: 'a.png' }, { name: 'b.png' }]), { trained: 1, unused: 1, unusedExamples: ['b.png'] });
    // the sub-folder's own listing: only d.webp, which its key names
    assert.deepEqual(fineTuningFolderCounts(k, '/data/ft/sub', [{ name: 'd.webp' }]), { trained: 5, unused: 0, unusedExamples: [] });
  });

  it('reads width and height of a .jsonl line over its image_size, and ignores sizes that are not whole numbers', () => {
    const text = [
      JSON.stringify({ image_path: '/data/ft/a.png', caption: 'a', width: 832, height: 1216, image_size: [1, 1] }),
      JSON.stringify({ image_path: '/data/ft/b.png', caption: 'b', image_size: [1216, 832] }),
      JSON.stringify({ image_path: '/data/ft/c.png', caption: 'c', image_size: [10.5, 20] }),
    ].join('\n');
    assert.deepEqual([...parsed(text, true).sizes], [832, 1216, 1216, 832, 0, 0]);
    // in a .json file width/height mean nothing to sd-scripts
    assert.deepEqual([...parsed(JSON.stringify({ a: { width: 5, height: 6 } })).sizes], [0, 0]);
  });

  it('reads keys and sizes straight from the text (one JSON.parse), and names what is broken', () => {
    const fast = parseMetadataSizes(META);
    assert.ok(!('error' in fast));
    const slow = parsed(META);
    // the same keys (order aside) with the same sizes
    const bySize = (m: { keys: string[]; sizes: Uint32Array }) => m.keys.map((k, i) => `${k}=${m.sizes[i * 2]}x${m.sizes[i * 2 + 1]}`).sort();
    assert.deepEqual(bySize(fast), bySize(slow));
    assert.match((parseMetadataSizes('{ "a.png": { "caption": "x" }, ') as { error: string }).error, /JSON/);
    assert.equal((parseMetadataSizes('[1, 2]') as { error: string }).error, 'the metadata is not a JSON object');
    assert.equal((parseMetadataSizes('{"caption": "x"}\n{"image_path": "/a.png"}', true) as { error: string }).error, 'line 1: no "image_path"');
    const jl = parseMetadataSizes('{"image_path": "/a.png", "width": 10, "height": 20}\n\n{"image_path": "/b.png", "image_size": [3, 4]}\n', true);
    assert.ok(!('error' in jl));
    assert.deepEqual([jl.keys, [...jl.sizes]], [['/a.png', '/b.png'], [10, 20, 3, 4]]);
  });

  it('stops on relative keys without image_dir, as sd-scripts does', () => {
    const k = resolveFineTuningKeys(parsed(META), '/data/meta.json', undefined, FILES);
    assert.match(k.stop ?? '', /6 keys are relative \(such as "b\.png"\) and the subset has no image_dir/);
    // full-path keys alone need no image_dir
    const abs = resolveFineTuningKeys(parsed(JSON.stringify({ '/data/ft/a.png': {} })), '/data/meta.json', undefined, FILES);
    assert.equal(abs.stop, undefined);
    assert.deepEqual(abs.files, ['/data/ft/a.png']);
  });
});

describe('buckets of fine-tuning datasets', () => {
  const CONFIG = `
[general]
enable_bucket = true
resolution = 1024

[[datasets]]
batch_size = 2
  [[datasets.subsets]]
  image_dir = "/data/db"

[[datasets]]
batch_size = 2
  [[datasets.subsets]]
  metadata_file = "/data/meta.json"
  image_dir = "/data/ft"
  num_repeats = 2
  [[datasets.subsets]]
  metadata_file = "/data/meta.json"
  image_dir = "/data/ft"
`;

  it('buckets the resolved keys with their subset repeats and adds the batches of all datasets (hand-computed)', () => {
    const { datasets } = readDatasetConfig(CONFIG, '/work/project/ds.toml', BASE);
    const keys = resolveFineTuningKeys(parsed(META), '/data/meta.json', '/data/ft', FILES);
    const r = bucketDatasetConfig(datasets, db, { gradientAccumulationSteps: 2 }, source({ '/data/meta.json': keys }));
    assert.deepEqual(r.errors, []);
    const [d, f] = r.datasets;
    assert.equal(f?.style, 'finetuning');
    assert.ok(d?.report && f?.report);
    // DreamBooth: two 1024² images, batch 2 → 1 batch
    assert.equal(d.report.batchesPerEpoch, 1);
    // fine-tuning: a 1920×1080 (header) → 1024×576; b 800×600 (image_size) and c 1024×768 (npz) → 1024×768;
    // d 600×800 (image_size) → 768×1024; p has no size yet. Each × 2 repeats, batch 2.
    assert.deepEqual(
      f.report.buckets.map((b) => [b.reso.join('×'), b.images, b.samples, b.batches]),
      [
        ['768×1024', 1, 2, 1],
        ['1024×576', 1, 2, 1],
        ['1024×768', 2, 4, 2],
      ],
    );
    assert.deepEqual(f.report.images.find((i) => i.file === '/data/ft/a.png')?.resized, [1024, 576]);
    assert.equal(f.pending, 1);
    const [s0, s1] = f.subsets;
    assert.deepEqual([s0?.images, s0?.keys, s0?.leftOut, s0?.sizesFrom], [5, 8, { bareStem: 1, missing: 2 }, { metadata: 2, npz: 1, image: 1 }]);
    assert.equal(s0?.metadataFile, '/data/meta.json');
    // the second subset repeats the metadata_file: sd-scripts ignores the duplicate
    assert.match(s1?.skipped ?? '', /same metadata_file/);
    // 1 + 4 batches, 2 accumulation steps → 3 steps
    assert.equal(r.batchesPerEpoch, 5);
    assert.equal(r.stepsPerEpoch, 3);
  });

  it('says what sd-scripts does with a fine-tuning dataset without resolution, a broken or empty metadata file', () => {
    const noReso = readDatasetConfig(`[[datasets]]\n  [[datasets.subsets]]\n  metadata_file = "/data/meta.json"\n  image_dir = "/data/ft"\n`, '/p/ds.toml', BASE).datasets;
    const keys = resolveFineTuningKeys(parsed(META), '/data/meta.json', '/data/ft', FILES);
    const r = bucketDatasetConfig(noReso, db, {}, source({ '/data/meta.json': keys }));
    assert.equal(r.datasets[0]?.report, undefined);
    assert.match(r.datasets[0]?.notes.join('\n') ?? '', /fine-tuning dataset crashes \(min\(None, None\)\)/);
    assert.deepEqual(r.errors, []);

    const withReso = readDatasetConfig(`[[datasets]]\nresolution = 512\n  [[datasets.subsets]]\n  metadata_file = "/data/meta.json"\n  image_dir = "/data/ft"\n`, '/p/ds.toml', BASE).datasets;
    const broken = bucketDatasetConfig(withReso, db, {}, source({ '/data/meta.json': { error: '/data/meta.json: Unexpected token } in JSON at position 12' } }));
    assert.match(broken.errors.join('\n'), /datasets\[0\]\.subsets\[0\]: \/data\/meta\.json: Unexpected token/);
    assert.equal(broken.datasets[0]?.report, undefined);

    const empty = resolveFineTuningKeys(parsed('{}'), '/data/meta.json', '/data/ft', FILES);
    const none = bucketDatasetConfig(withReso, db, {}, source({ '/data/meta.json': empty }));
    assert.match(none.datasets[0]?.subsets[0]?.skipped ?? '', /no entries/);
    assert.match(none.errors.join('\n'), /No data found/);

    // still being read: neither "No data found" nor a report of part of the images
    const loading = bucketDatasetConfig(withReso, db, {}, source({}));
    assert.deepEqual(loading.errors, []);
    assert.equal(loading.datasets[0]?.report, undefined);
    assert.match(loading.datasets[0]?.notes.join('\n') ?? '', /reading the metadata/);
  });

  it('buckets a training config with in_json as a fine-tuning dataset of train_data_dir (not DreamBooth folders)', () => {
    const text = `train_data_dir = "/data/ft"\nin_json = "/data/meta.json"\nreg_data_dir = "/data/db"\nresolution = "512,512"\nenable_bucket = true\ntrain_batch_size = 3\ndataset_repeats = 4\n`;
    const t = bucketsFromTrainingConfig(text);
    assert.equal(t.inJson, '/data/meta.json');
    const refs = readTrainingConfigRefs(text, '/work/project/train.toml', BASE);
    const datasets = datasetsOfTrainingConfig(refs);
    // reg_data_dir means nothing with in_json
    assert.deepEqual(datasets.map((d) => [d.label, d.style, d.subsets[0]?.imageDir]), [['in_json', 'finetuning', '/data/ft']]);
    const keys = resolveFineTuningKeys(parsed(META), '/data/meta.json', '/data/ft', FILES);
    const r = bucketDatasetConfig(datasets, db, {}, source({ '/data/meta.json': keys }));
    const f = r.datasets[0];
    assert.ok(f?.report);
    assert.deepEqual(f.options, { resolution: [512, 512], enableBucket: true, minBucketReso: 256, maxBucketReso: 1024, bucketResoSteps: 64, noUpscale: false, batchSize: 3 });
    // 512² buckets: 1920×1080 (1.778) → 640×384 (1.667; 704×320 is 2.2), 4:3 → 576×448, 3:4 → 448×576
    assert.deepEqual(
      f.report.buckets.map((b) => [b.reso.join('×'), b.images, b.samples, b.batches]),
      [
        ['448×576', 1, 4, 2],
        ['576×448', 2, 8, 3],
        ['640×384', 1, 4, 2],
      ],
    );
    assert.equal(r.stepsPerEpoch, 7);
    assert.equal(path.basename(f.subsets[0]?.metadataFile ?? ''), 'meta.json');
  });
});
