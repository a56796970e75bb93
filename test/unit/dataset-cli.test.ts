import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { LWB_CLI as LWB, SAMPLE, SAMPLE_TRAIN, tempDir } from './helpers';
import { makePng } from './dataset-fixtures';

function lwb(...args: string[]) {
  const r = spawnSync(process.execPath, [LWB, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const png = (w: number, h: number) => makePng({ width: w, height: h, pixel: () => 9 });

describe('lwb buckets', () => {
  it('is listed in the help', () => {
    assert.match(lwb('--help').out, /buckets <folder> --resolution W,H/);
    assert.match(lwb('buckets', '--help').out, /--no-upscale/);
  });
  it('buckets the sample dataset with repeats from the folder name', () => {
    const r = lwb('buckets', SAMPLE_TRAIN, '--resolution', '1024,1024', '--batch-size', '2');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^ {2}5_tk girl\/1\.png +512×704 → bucket 768×1024 +resized 768×1056 +×5$/m);
    assert.match(r.out, /^ {2}768×1024 +14 +70 +35$/m);
    assert.match(r.out, /1 bucket, 35 batches per epoch, 35 steps per epoch/);
  });
  it('prints JSON with the reference vectors, in no-upscale mode too', (t) => {
    const dir = tempDir(t);
    mkdirSync(path.join(dir, '2_x'));
    writeFileSync(path.join(dir, '2_x', 'wide.png'), png(1920, 1080));
    writeFileSync(path.join(dir, '2_x', 'odd.png'), png(1234, 567));
    const up = JSON.parse(lwb('buckets', dir, '--resolution', '1024', '--max-bucket-reso', '2048', '--batch-size', '4', '--json').out) as {
      images: Array<{ file: string; bucket: number[]; resized: number[]; repeats: number }>;
      buckets: Array<{ reso: number[]; samples: number }>;
      warnings: Array<{ code: string; files?: string[] }>;
      stepsPerEpoch: number;
    };
    const byName = new Map(up.images.map((i) => [path.basename(i.file), i]));
    assert.deepEqual([byName.get('wide.png')?.bucket, byName.get('wide.png')?.resized], [[1344, 768], [1365, 768]]);
    assert.deepEqual([byName.get('odd.png')?.bucket, byName.get('odd.png')?.resized], [[1472, 704], [1532, 704]]);
    assert.equal(byName.get('odd.png')?.repeats, 2);
    assert.equal(up.stepsPerEpoch, 2);
    assert.deepEqual(up.warnings.filter((w) => w.code === 'smallBucket').map((w) => w.files?.map((f) => path.basename(f))), [['wide.png'], ['odd.png']]);
    const no = JSON.parse(lwb('buckets', dir, '--resolution', '1024,1024', '--no-upscale', '--json').out) as typeof up;
    const n = new Map(no.images.map((i) => [path.basename(i.file), i]));
    assert.deepEqual([n.get('odd.png')?.bucket, n.get('odd.png')?.resized], [[1216, 512], [1234, 567]]);
    assert.deepEqual([n.get('wide.png')?.bucket, n.get('wide.png')?.resized], [[1344, 768], [1365, 768]]);
  });
  it('exits 2 on usage errors, 1 on settings sd-scripts refuses, 3 on a missing folder', (t) => {
    assert.equal(lwb('buckets', SAMPLE_TRAIN).code, 2);
    assert.match(lwb('buckets', SAMPLE_TRAIN).err, /needs --resolution/);
    assert.equal(lwb('buckets', SAMPLE_TRAIN, '--resolution', 'big').code, 2);
    assert.equal(lwb('buckets', SAMPLE_TRAIN, '--resolution', '1024', '--batch-size', '0').code, 2);
    const refused = lwb('buckets', SAMPLE_TRAIN, '--resolution', '1024', '--max-bucket-reso', '512');
    assert.equal(refused.code, 1);
    assert.match(refused.err, /max_bucket_reso must be equal or greater than resolution/);
    assert.equal(lwb('buckets', path.join(tempDir(t), 'none'), '--resolution', '1024').code, 3);
  });
});

describe('lwb scan --audit', () => {
  it('adds datasets and subsets to the JSON', () => {
    const r = lwb('scan', path.join(SAMPLE, 'dataset'), '--depth', '2', '--json');
    assert.equal(r.code, 0);
    const j = JSON.parse(r.out) as { datasets: Array<{ kind: string; images: number; samplesPerEpoch: number; subsets: Array<{ repeats: number }> }> };
    assert.deepEqual(j.datasets.map((d) => [d.kind, d.images, d.samplesPerEpoch, d.subsets.map((s) => s.repeats)]), [
      ['kohyaFolder', 2, 2, [1]],
      ['kohyaFolder', 14, 70, [5]],
    ]);
  });
  it('lists problems and exits 1 when an image would stop training', (t) => {
    const dir = tempDir(t);
    const c = path.join(dir, '1_c');
    mkdirSync(c);
    writeFileSync(path.join(c, 'ok.png'), png(1024, 1024));
    writeFileSync(path.join(c, 'ok.txt'), 'tag');
    writeFileSync(path.join(c, 'copy.png'), png(1024, 1024));
    writeFileSync(path.join(c, 'copy.txt'), 'tag');
    writeFileSync(path.join(c, 'empty.jpg'), '');
    writeFileSync(path.join(c, 'stray.txt'), 'tag');
    const r = lwb('scan', dir, '--audit');
    assert.equal(r.code, 1, r.err);
    assert.match(r.out, /^E 1_c\/empty\.jpg: The file is empty/m);
    assert.match(r.out, /^W 1_c\/copy\.png: Same content as ok\.png/m);
    assert.match(r.out, /^I 1_c\/stray\.txt: No image with this name/m);
    const j = JSON.parse(lwb('scan', dir, '--audit', '--json').out) as { problemCounts: Record<string, number> };
    assert.deepEqual(j.problemCounts, { duplicate: 2, emptyFile: 1, captionWithoutImage: 1 });
    // without --audit nothing changes
    assert.equal(lwb('scan', dir).code, 0);
  });
});

describe('lwb buckets text output', () => {
  it('names the files of buckets smaller than the batch size', (t) => {
    const dir = tempDir(t);
    mkdirSync(path.join(dir, '1_a'));
    writeFileSync(path.join(dir, '1_a', 'wide one.png'), png(1920, 1080));
    writeFileSync(path.join(dir, '1_a', 'sq.png'), png(1024, 1024));
    writeFileSync(path.join(dir, '1_a', 'sq2.png'), png(1024, 1024));
    const r = lwb('buckets', dir, '--resolution', '1024', '--batch-size', '2', '--summary');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^! bucket 1024×576 has 1 image for batch size 2: 1_a\/wide one\.png$/m);
    assert.doesNotMatch(r.out, /bucket 1024×1024 has/);
    assert.match(r.out, /2 buckets, 2 batches per epoch, 2 steps per epoch/);
  });
});

describe('lwb buckets --dataset-config', () => {
  it('buckets each [[datasets]] entry with its own settings and adds their batches (hand-computed)', (t) => {
    const dir = tempDir(t);
    const put = (folder: string, sizes: Array<[string, number, number]>): string => {
      mkdirSync(path.join(dir, folder), { recursive: true });
      for (const [n, w, h] of sizes) writeFileSync(path.join(dir, folder, n), png(w, h));
      return path.join(dir, folder).replace(/\\/g, '/');
    };
    // 1920×1080 and 800×600 at a tenth of the size keep their aspect: buckets 1024×576 and 1024×768
    const a = put('a', [['wide.png', 192, 108], ['four-three.png', 80, 60], ['square.png', 64, 64]]);
    const b = put('b', [['x.png', 30, 90], ['y.png', 200, 50]]);
    const file = path.join(dir, 'datasets.toml');
    writeFileSync(
      file,
      `[general]\nnum_repeats = 2\n\n[[datasets]]\nresolution = 1024\nenable_bucket = true\nbatch_size = 2\n  [[datasets.subsets]]\n  image_dir = '${a}'\n\n` +
        `[[datasets]]\nresolution = 512\nbatch_size = 4\n  [[datasets.subsets]]\n  image_dir = '${b}'\n  num_repeats = 5\n  [[datasets.subsets]]\n  image_dir = '${a}/missing'\n`,
    );
    const r = lwb('buckets', '--dataset-config', file, '--grad-accum', '2', '--json');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as {
      datasets: Array<{ label: string; report?: { buckets: Array<{ reso: number[]; samples: number; batches: number }> }; subsets: Array<{ skipped?: string }> }>;
      batchesPerEpoch: number;
      stepsPerEpoch: number;
    };
    // dataset 0: three buckets of one image × 2 repeats, batch 2 → 1 batch each
    assert.deepEqual(j.datasets[0]?.report?.buckets.map((x) => [x.reso.join('×'), x.samples, x.batches]), [['1024×576', 2, 1], ['1024×768', 2, 1], ['1024×1024', 2, 1]]);
    // dataset 1: bucketing off, 2 images × 5 = 10 samples, batch 4 → 3 batches; the missing folder is left out
    assert.deepEqual(j.datasets[1]?.report?.buckets.map((x) => [x.reso.join('×'), x.samples, x.batches]), [['512×512', 10, 3]]);
    assert.match(j.datasets[1]?.subsets[1]?.skipped ?? '', /not a folder with images/);
    assert.equal(j.batchesPerEpoch, 6);
    assert.equal(j.stepsPerEpoch, 3);
    const text = lwb('buckets', '--dataset-config', file, '--summary');
    assert.match(text.out, /\[datasets\[1\]\] .*×5/);
    assert.match(text.out, /2 datasets: 6 batches per epoch, 6 steps per epoch/);
  });
  it('says what is wrong with the file, and refuses a folder or --resolution beside it', (t) => {
    const dir = tempDir(t);
    const bad = path.join(dir, 'broken.toml');
    writeFileSync(bad, '[[datasets]\nresolution = 1024\n');
    const r = lwb('buckets', '--dataset-config', bad);
    assert.equal(r.code, 3);
    assert.match(r.err, /broken\.toml: TOML syntax error/);
    assert.equal(lwb('buckets', '--dataset-config', path.join(dir, 'none.toml')).code, 3);
    assert.equal(lwb('buckets', dir, '--dataset-config', bad).code, 2);
    assert.equal(lwb('buckets', '--dataset-config', bad, '--resolution', '1024').code, 2);
    const empty = path.join(dir, 'empty.toml');
    writeFileSync(empty, `[[datasets]]\nresolution = 512\n  [[datasets.subsets]]\n  image_dir = '${dir.replace(/\\/g, '/')}/nothing'\n`);
    const none = lwb('buckets', '--dataset-config', empty);
    assert.equal(none.code, 1);
    assert.match(none.err, /No data found/);
  });
});

describe('lwb buckets with fine-tuning metadata', () => {
  const setup = (dir: string): { ft: string; meta: string } => {
    const ft = path.join(dir, 'ft');
    mkdirSync(ft);
    writeFileSync(path.join(ft, 'a.png'), png(192, 108));
    // image_size wins over the file's own 10×10
    writeFileSync(path.join(ft, 'b.png'), png(10, 10));
    writeFileSync(path.join(ft, 'stem.png'), png(64, 64));
    const meta = path.join(dir, 'meta_lat.json');
    writeFileSync(
      meta,
      JSON.stringify({ [path.join(ft, 'a.png')]: { caption: 'a' }, 'b.png': { image_size: [800, 600] }, stem: { tags: 'x' }, 'gone.png': {} }, null, 2),
    );
    return { ft, meta };
  };

  it('--in-json buckets train_data_dir + in_json as sd-scripts does (hand-computed)', (t) => {
    const dir = tempDir(t);
    const { ft, meta } = setup(dir);
    const r = lwb('buckets', ft, '--in-json', meta, '--resolution', '1024', '--batch-size', '2', '--json');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as {
      datasets: Array<{ style: string; report?: { buckets: Array<{ reso: number[]; images: number; samples: number; batches: number }> }; subsets: Array<{ keys: number; images: number; leftOut: Record<string, number> }> }>;
      stepsPerEpoch: number;
    };
    const d = j.datasets[0];
    assert.equal(d?.style, 'finetuning');
    // a 192×108 read from the file (16:9) → 1024×576; b 800×600 from image_size → 1024×768; one batch each
    assert.deepEqual(d?.report?.buckets.map((b) => [b.reso.join('×'), b.images, b.samples, b.batches]), [['1024×576', 1, 1, 1], ['1024×768', 1, 1, 1]]);
    assert.deepEqual([d?.subsets[0]?.keys, d?.subsets[0]?.images, d?.subsets[0]?.leftOut], [4, 2, { bareStem: 1, missing: 1 }]);
    assert.equal(j.stepsPerEpoch, 2);
    const text = lwb('buckets', ft, '--in-json', meta, '--resolution', '1024', '--summary');
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /2 metadata keys left out: 1 bare stem, 1 with no file: stem, gone\.png/);
    assert.match(text.out, /2 of 4 keys are images; sizes: 1 from image_size, 0 from latent-cache names, 1 read from the images/);
    assert.equal(lwb('buckets', ft, '--in-json', meta, '--resolution', '1024', '--reg', ft).code, 2);
  });

  it('--dataset-config buckets metadata_file subsets, and names a broken metadata file', (t) => {
    const dir = tempDir(t);
    const { ft, meta } = setup(dir);
    const toml = path.join(dir, 'ds.toml');
    const fwd = (p: string): string => p.replace(/\\/g, '/');
    writeFileSync(toml, `[[datasets]]\nresolution = 1024\nenable_bucket = true\n  [[datasets.subsets]]\n  metadata_file = '${fwd(meta)}'\n  image_dir = '${fwd(ft)}'\n  num_repeats = 3\n`);
    const r = lwb('buckets', '--dataset-config', toml, '--json');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as { datasets: Array<{ report?: { buckets: Array<{ reso: number[]; samples: number }> } }>; batchesPerEpoch: number };
    assert.deepEqual(j.datasets[0]?.report?.buckets.map((b) => [b.reso.join('×'), b.samples]), [['1024×576', 3], ['1024×768', 3]]);
    assert.equal(j.batchesPerEpoch, 6);
    writeFileSync(meta, '{ "a.png": { "caption": "x" }, }');
    const broken = lwb('buckets', '--dataset-config', toml);
    assert.equal(broken.code, 1);
    assert.match(broken.err, /meta_lat\.json: .*JSON/);
  });
});

