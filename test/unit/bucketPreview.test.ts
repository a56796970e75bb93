import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { bucketDefaultsFromConfigs, defaultLatentMetadataPath, previewBucketsIntoMetadata } from '../../src/core/dataset/bucketPreview';
import { formatMetadata, parseMetadata, type Metadata } from '../../src/core/dataset/metadata';
import { makeBmp, makePng } from './dataset-fixtures';
import { LWB_CLI, tempDir } from './helpers';

function lwb(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [LWB_CLI, ...args], { encoding: 'utf8' });
}

/** A folder of images of the given sizes (BMPs: cheap to make at any size). */
function images(t: { after(fn: () => void): void }, sizes: Record<string, [number, number]>): string {
  const dir = tempDir(t);
  for (const [name, [w, h]] of Object.entries(sizes)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), name.endsWith('.png') ? makePng({ width: w, height: h, pixel: () => 0 }) : makeBmp(w, h));
  }
  return dir;
}

describe('bucket preview into metadata', () => {
  it("gives sd-scripts' buckets (reference vectors) as train_resolution and the stored size as image_size", async (t) => {
    const dir = images(t, { 'a.bmp': [1920, 1080], 'b.bmp': [800, 600], 'c.bmp': [1234, 567], 'd.png': [512, 768] });
    const r = await previewBucketsIntoMetadata(dir, new Map(), { resolution: [1024, 1024], minBucketReso: 256, maxBucketReso: 2048, bucketResoSteps: 64 });
    assert.deepEqual(r.errors, []);
    assert.equal(r.images, 4);
    const get = (n: string): unknown => r.metadata.get(path.join(dir, n));
    assert.deepEqual(get('a.bmp'), { train_resolution: [1344, 768], image_size: [1920, 1080] });
    assert.deepEqual(get('b.bmp'), { train_resolution: [1152, 896], image_size: [800, 600] });
    assert.deepEqual(get('c.bmp'), { train_resolution: [1472, 704], image_size: [1234, 567] });
    assert.deepEqual(get('d.png'), { train_resolution: [832, 1216], image_size: [512, 768] });
    assert.deepEqual(r.buckets.map((b) => [b.reso, b.count]), [[[832, 1216], 1], [[1152, 896], 1], [[1344, 768], 1], [[1472, 704], 1]]);
  });

  it('no-upscale mode crops to the steps, and train_resolution is rounded down to a multiple of 8 like the script does', async (t) => {
    const dir = images(t, { 'b.bmp': [800, 600], 'small.bmp': [500, 300] });
    const r = await previewBucketsIntoMetadata(dir, new Map(), { resolution: [1024, 1024], noUpscale: true, bucketResoSteps: 64 });
    assert.deepEqual(r.metadata.get(path.join(dir, 'b.bmp'))?.['train_resolution'], [768, 576]);
    // steps 36: bucket (500-500%36, 300-300%36) = (468, 288); 468 is not a multiple of 8 → 464
    const r36 = await previewBucketsIntoMetadata(dir, new Map(), { resolution: [1024, 1024], noUpscale: true, bucketResoSteps: 36 });
    assert.deepEqual(r36.metadata.get(path.join(dir, 'small.bmp'))?.['train_resolution'], [464, 288]);
    assert.ok(r36.warnings.some((w) => /not a multiple of 8/.test(w)));
  });

  it('keeps the entries of meta_clean.json (captions, tags, other images) and keeps their key order', async (t) => {
    const dir = images(t, { '1.bmp': [1024, 1024], '2.bmp': [640, 960] });
    const base: Metadata = new Map([
      ['/elsewhere/x.png', { caption: 'other folder' }],
      [path.join(dir, '1.bmp'), { caption: 'a girl', tags: 'blue_hair, solo' }],
    ]);
    const r = await previewBucketsIntoMetadata(dir, base, { resolution: [1024, 1024] });
    assert.deepEqual([...r.metadata.keys()], ['/elsewhere/x.png', path.join(dir, '1.bmp'), path.join(dir, '2.bmp')]);
    assert.deepEqual(r.metadata.get(path.join(dir, '1.bmp')), { caption: 'a girl', tags: 'blue_hair, solo', train_resolution: [1024, 1024], image_size: [1024, 1024] });
    assert.deepEqual(r.metadata.get('/elsewhere/x.png'), { caption: 'other folder' });
    // the base map is not changed
    assert.deepEqual(base.get(path.join(dir, '1.bmp')), { caption: 'a girl', tags: 'blue_hair, solo' });
    // written as sd-scripts writes JSON, and read back the same
    const text = formatMetadata(r.metadata);
    assert.match(text, /"train_resolution": \[\n\s+1024,\n\s+1024\n\s+\]/);
    const back = parseMetadata(text);
    assert.ok(back.ok);
    assert.deepEqual(back.metadata.get(path.join(dir, '2.bmp')), r.metadata.get(path.join(dir, '2.bmp')));
  });

  it('names and skips an image that cannot be read, and refuses settings it cannot use', async (t) => {
    const dir = images(t, { 'ok.bmp': [640, 640] });
    writeFileSync(path.join(dir, 'broken.png'), 'this is not a PNG');
    writeFileSync(path.join(dir, 'empty.jpg'), '');
    const r = await previewBucketsIntoMetadata(dir, new Map(), { resolution: [1024, 1024] });
    assert.equal(r.images, 1);
    assert.equal(r.metadata.size, 1);
    assert.ok(r.warnings.some((w) => w.includes('broken.png') && /skipped/.test(w)), r.warnings.join('\n'));
    assert.ok(r.warnings.some((w) => w.includes('empty.jpg')), r.warnings.join('\n'));
    const bad = await previewBucketsIntoMetadata(dir, new Map(), { resolution: [0, 1024] });
    assert.equal(bad.images, 0);
    assert.match(bad.errors.join(), /resolution/);
    const missing = await previewBucketsIntoMetadata(path.join(dir, 'nope'), new Map(), { resolution: [1024, 1024] });
    assert.equal(missing.images, 0);
  });

  it('finds images in concept subfolders with recursive, keyed by full path', async (t) => {
    const dir = images(t, { '5_tk girl/1.bmp': [832, 1216], '1_girl/2.bmp': [1216, 832] });
    const flat = await previewBucketsIntoMetadata(dir, new Map(), { resolution: [1024, 1024] });
    assert.equal(flat.images, 0);
    const r = await previewBucketsIntoMetadata(dir, new Map(), { resolution: [1024, 1024], maxBucketReso: 2048, recursive: true, fullPath: false });
    assert.equal(r.images, 2);
    assert.deepEqual(r.metadata.get(path.join(dir, '5_tk girl', '1.bmp'))?.['train_resolution'], [832, 1216]);
  });

  it('names the output meta_lat.json next to meta_clean.json', () => {
    assert.equal(defaultLatentMetadataPath('/d/meta_clean.json'), '/d/meta_lat.json');
    assert.equal(defaultLatentMetadataPath('/d/meta_cap_dd.json'), '/d/meta_lat.json');
    assert.equal(defaultLatentMetadataPath('/d/my set.json'), '/d/my set_lat.json');
  });

  it('takes resolution, bucket settings, model and in_json from the training config and its dataset config', () => {
    const training = `[model_arguments]
pretrained_model_name_or_path = "/models/sd_xl_base_1.0.safetensors"
[dataset_arguments]
resolution = "1024,768"
min_bucket_reso = 320
bucket_reso_steps = 32
dataset_config = "dataset.toml"
`;
    const d = bucketDefaultsFromConfigs(training);
    assert.deepEqual(d, { resolution: [1024, 768], minBucketReso: 320, bucketResoSteps: 32, model: '/models/sd_xl_base_1.0.safetensors', datasetConfig: 'dataset.toml' });
    const dataset = `[general]
resolution = 896
bucket_no_upscale = true
[[datasets]]
max_bucket_reso = 1536
[[datasets.subsets]]
metadata_file = "/data/meta_clean.json"
[[datasets]]
max_bucket_reso = 4096
`;
    const both = bucketDefaultsFromConfigs(training, dataset);
    assert.deepEqual(both.resolution, [896, 896]);
    assert.equal(both.noUpscale, true);
    assert.equal(both.maxBucketReso, 1536);
    assert.deepEqual(bucketDefaultsFromConfigs('resolution = = broken'), {});
  });

  it('lwb buckets --into-meta writes meta_lat.json from meta_clean.json (or from the sidecars), atomically', (t) => {
    const dir = images(t, { '5_tk girl/1.bmp': [1920, 1080], '5_tk girl/2.bmp': [800, 600] });
    writeFileSync(path.join(dir, '5_tk girl', '1.txt'), 'blue_hair, solo\n');
    const clean = path.join(dir, 'meta_clean.json');
    writeFileSync(clean, JSON.stringify({ [path.join(dir, '5_tk girl', '1.bmp')]: { caption: 'a girl' } }, null, 2));
    const out = path.join(dir, 'meta_lat.json');
    const r = lwb('buckets', dir, '--resolution', '1024', '--max-bucket-reso', '2048', '--into-meta', out, '--in-json', clean, '--json');
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { images: number; latents: boolean };
    assert.equal(report.images, 2);
    assert.equal(report.latents, false);
    const m = JSON.parse(readFileSync(out, 'utf8')) as Record<string, Record<string, unknown>>;
    assert.deepEqual(m[path.join(dir, '5_tk girl', '1.bmp')], { caption: 'a girl', train_resolution: [1344, 768], image_size: [1920, 1080] });
    assert.deepEqual(m[path.join(dir, '5_tk girl', '2.bmp')], { train_resolution: [1152, 896], image_size: [800, 600] });
    // from the sidecars when no --in-json is given
    const out2 = path.join(dir, 'from sidecars.json');
    const r2 = lwb('buckets', dir, '--resolution', '1024,1024', '--into-meta', out2);
    assert.equal(r2.status, 0, r2.stderr);
    assert.match(r2.stdout, /latents were not computed/);
    const m2 = JSON.parse(readFileSync(out2, 'utf8')) as Record<string, Record<string, unknown>>;
    assert.equal(m2[path.join(dir, '5_tk girl', '1.bmp')]?.['tags'], 'blue_hair, solo');
    // a broken in_json: a clear message, nothing written
    writeFileSync(path.join(dir, 'broken.json'), '{"a": ');
    const out3 = path.join(dir, 'never.json');
    const r3 = lwb('buckets', dir, '--resolution', '1024', '--into-meta', out3, '--in-json', path.join(dir, 'broken.json'));
    assert.equal(r3.status, 3);
    assert.match(r3.stderr, /broken\.json.*nothing was written/);
    assert.ok(!existsSync(out3));
    // without --into-meta, --in-json buckets the fine-tuning dataset sd-scripts builds (train_data_dir + in_json)
    const ft = lwb('buckets', dir, '--resolution', '1024', '--in-json', clean, '--summary');
    assert.equal(ft.status, 0, ft.stderr);
    assert.match(ft.stdout, /^ {2}1024×576 +1 +1 +1$/m);
  });
});
