import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  BucketSelector,
  checkBucketSettings,
  computeBuckets,
  makeBucketResolutions,
  regRepeats,
} from '../../src/core/dataset/buckets';

const selector = (resolution: [number, number], extra: { min?: number; max?: number; steps?: number; noUpscale?: boolean } = {}) =>
  new BucketSelector(
    checkBucketSettings({
      resolution,
      minBucketReso: extra.min ?? 256,
      maxBucketReso: extra.max ?? 1024,
      bucketResoSteps: extra.steps ?? 64,
      noUpscale: extra.noUpscale ?? false,
    }).settings,
  );

describe('make_bucket_resolutions', () => {
  it('gives the reference bucket counts', () => {
    assert.equal(makeBucketResolutions([1024, 1024], 256, 2048, 64).length, 41);
    assert.equal(makeBucketResolutions([1024, 1024], 256, 1024, 64).length, 25);
    assert.equal(makeBucketResolutions([512, 512], 256, 1024, 64).length, 17);
  });
  it('lists (w,1024) and (1024,w) for the default SDXL settings, sorted', () => {
    const r = makeBucketResolutions([1024, 1024]);
    for (const [w, h] of r) assert.ok((w === 1024 || h === 1024) && w % 64 === 0 && h % 64 === 0 && Math.min(w, h) >= 256);
    const sorted = [...r].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    assert.deepEqual(r, sorted);
    assert.deepEqual(r[0], [256, 1024]);
    assert.deepEqual(r[r.length - 1], [1024, 1024]);
  });
  it('floors the square bucket from sqrt(area) and each height from area // w', () => {
    // 768x1024: area 786432, sqrt 886.8 -> 832 (13*64)
    const r = makeBucketResolutions([768, 1024], 256, 1024, 64);
    assert.ok(r.some(([w, h]) => w === 832 && h === 832));
    // w = 832: 786432 // 832 = 945 -> 945 // 64 * 64 = 896
    assert.ok(r.some(([w, h]) => w === 832 && h === 896));
    assert.ok(r.some(([w, h]) => w === 896 && h === 832));
  });
});

describe('select_bucket, upscale mode (reference vectors)', () => {
  const s = selector([1024, 1024], { max: 2048 });
  const vectors: Array<[[number, number], [number, number], [number, number]]> = [
    [[1920, 1080], [1344, 768], [1365, 768]],
    [[1080, 1920], [768, 1344], [768, 1365]],
    [[800, 600], [1152, 896], [1195, 896]],
    [[3000, 2000], [1216, 832], [1248, 832]],
    [[512, 768], [832, 1216], [832, 1248]],
    [[1234, 567], [1472, 704], [1532, 704]],
    [[4000, 1000], [2048, 512], [2048, 512]],
  ];
  for (const [img, bucket, resized] of vectors) {
    it(`${img.join('x')} -> bucket ${bucket.join('x')}, resized ${resized.join('x')}`, () => {
      const c = s.select(img[0], img[1]);
      assert.ok(c);
      assert.deepEqual(c.bucket, bucket);
      assert.deepEqual(c.resized, resized);
      // upscale mode covers the bucket
      assert.ok(c.resized[0] >= c.bucket[0] && c.resized[1] >= c.bucket[1]);
    });
  }
  it('uses an exact bucket as is and picks the first of equal ratios', () => {
    const d = selector([1024, 1024], { max: 2048 });
    assert.deepEqual(d.select(832, 1216)?.bucket, [832, 1216]);
    assert.deepEqual(d.select(832, 1216)?.resized, [832, 1216]);
    // a small square image is upscaled to the square bucket
    assert.deepEqual(d.select(500, 500), { bucket: [1024, 1024], resized: [1024, 1024], arError: 0 });
  });
  it('cannot bucket an image with no size', () => {
    assert.equal(selector([1024, 1024]).select(0, 100), undefined);
  });
});

describe('select_bucket, no-upscale mode (reference vectors)', () => {
  const s = selector([1024, 1024], { noUpscale: true });
  const vectors: Array<[[number, number], [number, number], [number, number]]> = [
    [[800, 600], [768, 576], [800, 600]],
    [[1920, 1080], [1344, 768], [1365, 768]],
    [[1234, 567], [1216, 512], [1234, 567]],
  ];
  for (const [img, bucket, resized] of vectors) {
    it(`${img.join('x')} -> bucket ${bucket.join('x')}, resized ${resized.join('x')}`, () => {
      const c = s.select(img[0], img[1]);
      assert.deepEqual(c?.bucket, bucket);
      assert.deepEqual(c?.resized, resized);
    });
  }
  it('never upscales and crops, never pads', () => {
    for (const [w, h] of [[300, 200], [1000, 1049], [5000, 700], [64, 64]] as const) {
      const c = s.select(w, h);
      assert.ok(c);
      assert.ok(c.resized[0] <= Math.max(w, c.resized[0]) && c.bucket[0] <= c.resized[0] && c.bucket[1] <= c.resized[1]);
      assert.equal(c.bucket[0] % 64, 0);
      assert.equal(c.bucket[1] % 64, 0);
      if (w * h <= 1024 * 1024) assert.deepEqual(c.resized, [w, h]);
    }
  });
});

describe('bucket settings like adjust_min_max_bucket_reso_by_steps', () => {
  it('rounds min down and max up to the steps, with sd-scripts warnings', () => {
    const c = checkBucketSettings({ resolution: [1024, 1024], minBucketReso: 300, maxBucketReso: 2000, bucketResoSteps: 64 });
    assert.equal(c.settings.minBucketReso, 256);
    assert.equal(c.settings.maxBucketReso, 2048);
    assert.match(c.warnings.join('\n'), /min_bucket_reso is adjusted.*300 -> 256/);
    assert.match(c.warnings.join('\n'), /max_bucket_reso is adjusted.*2000 -> 2048/);
    assert.deepEqual(c.errors, []);
  });
  it('refuses a resolution outside min/max, as sd-scripts asserts', () => {
    assert.match(checkBucketSettings({ resolution: [1024, 1024], maxBucketReso: 768 }).errors.join(), /max_bucket_reso must be equal or greater/);
    assert.match(checkBucketSettings({ resolution: [512, 512], minBucketReso: 768 }).errors.join(), /min_bucket_reso must be equal or less/);
    assert.match(checkBucketSettings({ resolution: [1024, 1024], bucketResoSteps: 0 }).errors.join(), /bucket_reso_steps/);
    // asserted in no-upscale mode too, although min/max are then not used
    assert.match(checkBucketSettings({ resolution: [1024, 1024], maxBucketReso: 768, noUpscale: true }).errors.join(), /max_bucket_reso must be/);
    // with buckets off nothing is adjusted or asserted
    assert.deepEqual(checkBucketSettings({ resolution: [1024, 1024], maxBucketReso: 768, enableBucket: false }).errors, []);
  });
  it('warns about steps SDXL does not like', () => {
    assert.match(checkBucketSettings({ resolution: [1024, 1024], bucketResoSteps: 16 }).warnings.join(), /not divisible by 32/);
  });
});

describe('reg image repeats', () => {
  it('registers reg images until they reach the train samples, then adds repeats round-robin', () => {
    assert.deepEqual(regRepeats(10, [1, 1, 1]), [4, 3, 3]);
    // more reg samples than needed: later images are not used at all
    assert.deepEqual(regRepeats(3, [2, 2, 2]), [2, 2, 0]);
    assert.deepEqual(regRepeats(5, []), []);
    assert.deepEqual(regRepeats(7, [2, 1]), [4, 3]);
    // computed, not looped: a huge train set returns at once
    assert.deepEqual(regRepeats(1e12, [1]), [1e12]);
  });
});

describe('computeBuckets', () => {
  const img = (file: string, width: number, height: number, repeats = 1, isReg = false) => ({ file, width, height, repeats, isReg });
  it('builds the bucket table with count × repeats and batches per epoch', () => {
    const r = computeBuckets(
      [img('a.png', 1024, 1024, 5), img('b.png', 1024, 1024, 5), img('c.png', 1920, 1080, 5), img('d.png', 800, 600, 2)],
      { resolution: [1024, 1024], maxBucketReso: 2048, batchSize: 4 },
    );
    assert.deepEqual(
      r.buckets.map((b) => [b.reso, b.images, b.samples, b.batches]),
      [
        [[1024, 1024], 2, 10, 3],
        [[1152, 896], 1, 2, 1],
        [[1344, 768], 1, 5, 2],
      ],
    );
    assert.equal(r.batchesPerEpoch, 6);
    assert.equal(r.stepsPerEpoch, 6);
    const small = r.warnings.filter((w) => w.code === 'smallBucket');
    assert.deepEqual(small.map((w) => w.files), [['a.png', 'b.png'], ['d.png'], ['c.png']]);
    assert.match(small[2]?.message ?? '', /bucket 1344×768 has 1 image for batch size 4.*c\.png/);
  });
  it('divides batches by processes and gradient accumulation, rounding up', () => {
    const files = Array.from({ length: 9 }, (_, i) => img(`${i}.png`, 1024, 1024));
    const r = computeBuckets(files, { resolution: [1024, 1024], batchSize: 2, gradientAccumulationSteps: 2 });
    assert.equal(r.batchesPerEpoch, 5);
    assert.equal(r.stepsPerEpoch, 3);
  });
  it('counts reg images with their round-robin repeats', () => {
    const r = computeBuckets([img('t.png', 1024, 1024, 3), img('r1.png', 512, 512, 1, true), img('r2.png', 512, 512, 1, true)], {
      resolution: [1024, 1024],
    });
    assert.deepEqual(r.images.map((i) => [i.file, i.repeats]), [['t.png', 3], ['r1.png', 2], ['r2.png', 1]]);
    assert.equal(r.batchesPerEpoch, 6);
  });
  it('uses one bucket at the resolution when buckets are off', () => {
    const r = computeBuckets([img('a.png', 1920, 1080), img('b.png', 500, 700)], { resolution: [1024, 1024], enableBucket: false });
    assert.deepEqual(r.images.map((i) => [i.bucket, i.resized]), [
      [[1024, 1024], [1820, 1024]],
      [[1024, 1024], [1024, 1434]],
    ]);
    assert.deepEqual(r.predefined, [[1024, 1024]]);
  });
  it('reports setting errors and images without size instead of throwing', () => {
    const bad = computeBuckets([img('a.png', 10, 10)], { resolution: [1024, 1024], maxBucketReso: 512 });
    assert.equal(bad.images.length, 0);
    assert.ok(bad.errors.length > 0);
    const r = computeBuckets([img('z.png', 0, 0)], { resolution: [1024, 1024] });
    assert.deepEqual(r.warnings.find((w) => w.code === 'unbucketable')?.files, ['z.png']);
  });
});
