import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { readFileSync } from 'node:fs';
import { bucketsFromTrainingConfig, candidateDirs, describeBucketOptions } from '../../src/core/dataset/bucketConfig';
import { computeBuckets } from '../../src/core/dataset/buckets';
import { SAMPLE } from './helpers';

describe('bucket settings from a training config', () => {
  it('reads the sample config with sd-scripts defaults for what it leaves out', () => {
    const file = path.join(SAMPLE, 'config', 'config_file.toml');
    const t = bucketsFromTrainingConfig(readFileSync(file, 'utf8'));
    assert.deepEqual(t.options, {
      resolution: [1024, 1024],
      enableBucket: false,
      minBucketReso: 256,
      maxBucketReso: 1024,
      bucketResoSteps: 64,
      noUpscale: false,
      batchSize: 4,
      gradientAccumulationSteps: 1,
    });
    assert.equal(t.trainDataDir, 'dataset/img_train');
    assert.equal(t.regDataDir, 'dataset/img_reg');
    assert.deepEqual(t.problems, []);
    // relative to the config's parent folder, as the sample writes it
    assert.ok(candidateDirs(t.trainDataDir, file, ['/ws']).includes(path.join(SAMPLE, 'dataset', 'img_train')));
    assert.deepEqual(candidateDirs('/abs/img', file, ['/ws']), ['/abs/img']);
    assert.equal(describeBucketOptions(t.options), '1024×1024 · bucketing off · batch 4');
  });

  it('reads bucket options, reports unusable values and feeds computeBuckets', () => {
    const t = bucketsFromTrainingConfig(
      [
        '[a]',
        'resolution = "1024,768"',
        'enable_bucket = true',
        'min_bucket_reso = 320',
        'max_bucket_reso = 2048',
        'bucket_reso_steps = 0.5',
        'train_batch_size = 2',
        'gradient_accumulation_steps = 2',
      ].join('\n'),
    );
    assert.deepEqual(t.options.resolution, [1024, 768]);
    assert.equal(t.options.bucketResoSteps, 64);
    assert.deepEqual(t.problems, ['bucket_reso_steps = 0.5 is not a positive whole number']);
    assert.equal(describeBucketOptions(t.options), '1024×768 · buckets 320–2048 /64 · batch 2 · accumulation 2');
    const r = computeBuckets(
      [
        { file: 'a', width: 1024, height: 768, repeats: 3 },
        { file: 'b', width: 1024, height: 768, repeats: 3 },
        { file: 'c', width: 768, height: 1024, repeats: 3 },
      ],
      t.options,
    );
    // 1024×768 bucket: 6 samples → 3 batches; 768×1024: 3 samples → 2 batches; 5 batches / 2 accumulation
    assert.deepEqual(r.buckets.map((b) => [b.reso.join('x'), b.images, b.samples, b.batches]), [['768x1024', 1, 3, 2], ['1024x768', 2, 6, 3]]);
    assert.equal(r.stepsPerEpoch, 3);
    assert.deepEqual(r.warnings.filter((w) => w.code === 'smallBucket').map((w) => w.files), [['c']]);
    assert.equal(bucketsFromTrainingConfig('resolution = 768').options.resolution[1], 768);
    assert.match(bucketsFromTrainingConfig('resolution = "big"').problems[0] ?? '', /not W,H/);
    assert.equal(bucketsFromTrainingConfig('bucket_no_upscale = true\nenable_bucket = true').options.noUpscale, true);
  });
});
