import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { checkDatasetConfig, checkSamplePrompts } from '../../src/core/config';
import { fixture, fakeFs, brief, applyFix } from './configHelpers';

function check(text: string, opts = {}) {
  return checkDatasetConfig(text, opts);
}

describe('config: dataset config on the real files', () => {
  it('accepts the three real dataset configs', () => {
    assert.deepEqual(check(fixture('dataset_dreambooth.toml')), []);
    assert.deepEqual(check(fixture('dataset_finetune.toml')), []);
    assert.deepEqual(check(fixture('dataset_with_reg.toml')), []);
  });
  it('checks the subset folders through the file system', () => {
    const fs = fakeFs(['/w/images/a.png', '/w/images/a.txt', '/reg_images/']);
    const ds = check(fixture('dataset_with_reg.toml'), { fs, baseDir: '/w' });
    assert.deepEqual(brief(ds), ['15:15-15:30 warning dataset-value']);
    assert.match(ds[0]?.message ?? '', /^"\.\.\/reg_images" has no images directly inside/);
  });
  it('cross-checks with the training config', () => {
    const training = 'cache_latents = true\ncache_text_encoder_outputs = true\nnetwork_train_unet_only = true\nresolution = "1024,1024"\n';
    const text = '[general]\nflip_aug = true\ncolor_aug = true\nshuffle_caption = true\n[[datasets]]\n[[datasets.subsets]]\nimage_dir = "a"\n';
    assert.deepEqual(brief(check(text, { trainingConfigText: training })), ['3:1-3:10 error conflict', '4:1-4:16 error conflict']);
  });
});

describe('config: dataset config rules of sd-scripts', () => {
  it('[datasets] written instead of [[datasets]]', () => {
    const text = '[datasets]\nresolution = 1024\n[[datasets.subsets]]\nimage_dir = "x"\n';
    const ds = check(text);
    assert.deepEqual(brief(ds), ['1:1-1:11 error dataset-not-array']);
    const fixed = applyFix(text, ds[0]!);
    assert.equal(fixed, '[[datasets]]\nresolution = 1024\n[[datasets.subsets]]\nimage_dir = "x"\n');
    assert.deepEqual(check(fixed), []);
  });
  it('keys at the wrong level: caption_extension / class_tokens in a fine-tuning dataset', () => {
    const text = '[[datasets]]\nresolution = 1024\ncaption_extension = ".txt"\nclass_tokens = "tk"\n[[datasets.subsets]]\nmetadata_file = "meta.json"\nimage_dir = "img"\n';
    const ds = check(text);
    assert.deepEqual(brief(ds), ['3:1-3:18 error dataset-extra-key', '4:1-4:13 error dataset-extra-key']);
    assert.equal(ds[0]?.message, '"caption_extension" is not allowed in a fine-tuning (metadata_file) [[datasets]] table; sd-scripts stops with "extra keys not allowed". It is allowed in: [general], DreamBooth datasets, DreamBooth subsets.');
    assert.equal(applyFix(text, ds[1]!), '[[datasets]]\nresolution = 1024\ncaption_extension = ".txt"\n[[datasets.subsets]]\nmetadata_file = "meta.json"\nimage_dir = "img"\n');
    // the same keys are fine in [general] and in DreamBooth datasets
    assert.deepEqual(check('[general]\ncaption_extension = ".txt"\nclass_tokens = "tk"\n[[datasets]]\nresolution = 1024\ncaption_extension = ".txt"\n[[datasets.subsets]]\nimage_dir = "img"\n'), []);
  });
  it('unknown keys, subset-only keys and training-only keys', () => {
    const text = '[general]\nimage_dir = "x"\nbatch = 2\nprior_loss_weight = 1.0\ntrain_batch_size = 2\n';
    const ds = check(text);
    assert.deepEqual(brief(ds), ['2:1-2:10 error dataset-extra-key', '3:1-3:6 error dataset-extra-key', '4:1-4:18 error dataset-extra-key', '5:1-5:17 error dataset-extra-key']);
    assert.match(ds[1]?.message ?? '', /unknown key "batch" in \[general\] \(extra keys not allowed\)\. Did you mean "batch_size"\?/);
    assert.equal(ds[2]?.message, 'prior_loss_weight belongs in the training config, not the dataset config (sd-scripts rejects it here as an extra key).');
    assert.match(ds[3]?.message ?? '', /Did you mean "batch_size"\?/);
    assert.deepEqual(brief(check('foo = 1\n[other]\nx = 1\n')), ['1:1-1:4 error dataset-extra-key', '2:2-2:7 error dataset-extra-key']);
  });
  it('required keys and mixed subsets', () => {
    assert.deepEqual(brief(check('[[datasets]]\nresolution = 512\n[[datasets.subsets]]\nnum_repeats = 2\n')), ['3:3-3:19 error dataset-required-key']);
    assert.match(check('[[datasets]]\nresolution = 512\n[[datasets.subsets]]\nnum_repeats = 2\n')[0]?.message ?? '', /required key not provided @ data\['datasets'\]\[0\]\['subsets'\]\[0\]\['image_dir'\]/);
    const mixed = '[[datasets]]\nresolution = 512\n[[datasets.subsets]]\nimage_dir = "a"\n[[datasets.subsets]]\nmetadata_file = "m.json"\n';
    assert.deepEqual(brief(check(mixed)), ['1:3-1:11 error dataset-mixed-subsets']);
  });
  it('types exactly as the voluptuous schema checks them', () => {
    const text = [
      '[general]', 'validation_split = 0', 'flip_aug = 1', 'keep_tokens = 1.0', 'num_repeats = true', 'face_crop_aug_range = [1, 3]',
      '[[datasets]]', 'resolution = "1024,768"', '[[datasets.subsets]]', 'image_dir = 5',
    ].join('\n') + '\n';
    const ds = check(text);
    assert.deepEqual(brief(ds), ['2:20-2:21 error wrong-type', '3:12-3:13 error wrong-type', '4:15-4:18 error wrong-type', '6:23-6:29 error wrong-type', '8:14-8:24 error wrong-type', '10:13-10:14 error wrong-type']);
    let fixed = text;
    for (const d of [...ds].reverse()) fixed = applyFix(fixed, d);
    assert.equal(fixed, [
      '[general]', 'validation_split = 0.0', 'flip_aug = true', 'keep_tokens = 1', 'num_repeats = true', 'face_crop_aug_range = [1.0, 3.0]',
      '[[datasets]]', 'resolution = [1024, 768]', '[[datasets.subsets]]', 'image_dir = "5"',
    ].join('\n') + '\n');
    assert.deepEqual(check(fixed), []);
  });
  it('resolution against min/max bucket resolution, rounded to bucket_reso_steps', () => {
    const text = '[general]\nenable_bucket = true\nmin_bucket_reso = 600\nmax_bucket_reso = 1000\n[[datasets]]\nresolution = [576, 1024]\n[[datasets.subsets]]\nimage_dir = "a"\n';
    const ds = check(text);
    // 600 rounds down to 576 (fine); 1000 rounds up to 1024 (fine)
    assert.deepEqual(ds, []);
    const bad = '[general]\nenable_bucket = true\nmin_bucket_reso = 640\n[[datasets]]\nresolution = 512\n[[datasets.subsets]]\nimage_dir = "a"\n';
    assert.deepEqual(brief(check(bad)), ['3:19-3:22 error dataset-value']);
    assert.match(check(bad)[0]?.message ?? '', /min_bucket_reso \(640\) is greater than the resolution's smaller side \(512\)/);
  });
  it('folder-name repeats are not read with a dataset config', () => {
    const text = '[[datasets]]\nresolution = 1024\n  [[datasets.subsets]]\n  image_dir = "/data/10_tk girl"\n';
    const ds = check(text);
    assert.deepEqual(brief(ds), ['4:15-4:33 warning advice']);
    assert.equal(applyFix(text, ds[0]!), '[[datasets]]\nresolution = 1024\n  [[datasets.subsets]]\n  image_dir = "/data/10_tk girl"\n  num_repeats = 10\n');
  });
  it('masked_loss allows conditioning_data_dir', () => {
    const text = '[[datasets]]\nresolution = 1024\n[[datasets.subsets]]\nimage_dir = "a"\nconditioning_data_dir = "c"\n';
    assert.deepEqual(brief(check(text)), ['5:1-5:22 error dataset-extra-key']);
    assert.deepEqual(check(text, { trainingConfigText: 'masked_loss = true\n' }), []);
  });
  it('missing resolution, invalid interpolation, duplicate subsets, bucket steps', () => {
    const text = '[[datasets]]\nbucket_reso_steps = 40\nresize_interpolation = "lanczoz"\n[[datasets.subsets]]\nimage_dir = "a"\n[[datasets.subsets]]\nimage_dir = "a"\n';
    const ds = check(text, { trainingConfigText: 'seed = 1\n' });
    assert.deepEqual(brief(ds), ['1:3-1:11 error dataset-required-key', '2:21-2:23 error conflict', '3:24-3:33 error invalid-choice', '7:13-7:16 warning dataset-value']);
    assert.equal(applyFix(text, ds[2]!).split('\n')[2], 'resize_interpolation = "lanczos"');
  });
});

describe('config: sample prompts', () => {
  it('accepts the seed article prompt file', () => {
    assert.deepEqual(checkSamplePrompts(fixture('seed_XL_LoRA_sample_prompt.toml'), { fileName: 'sample_prompt.toml' }), []);
  });
  it('a key in [prompt] and in a subset crashes sd-scripts', () => {
    const text = '[prompt]\nwidth = 1024\nsample_steps = 28\n[[prompt.subset]]\nprompt = "a"\nwidth = 832\n';
    const ds = checkSamplePrompts(text, { fileName: 'p.toml' });
    assert.deepEqual(brief(ds), ['6:1-6:6 error prompt-duplicate-key']);
    assert.equal(ds[0]?.message, '"width" is already set in [prompt] (line 2); a subset cannot override it: sd-scripts stops with "got multiple values for keyword argument". Move it out of [prompt] into every subset.');
  });
  it('structure, unknown keys and types', () => {
    assert.deepEqual(brief(checkSamplePrompts('[[prompt.subset]]\nprompt = "a"\n', { fileName: 'p.toml' })), ['1:3-1:16 error prompt-structure']);
    assert.deepEqual(brief(checkSamplePrompts('[prompt]\nwidth = 1024\n', { fileName: 'p.toml' })), ['1:2-1:8 error prompt-structure']);
    const text = '[prompt]\nsteps = 20\nwidth = "1024"\n[[prompt.subset]]\nprompt = "a"\nsample_sampler = "euler_ancestral"\n';
    const ds = checkSamplePrompts(text, { fileName: 'p.toml' });
    assert.deepEqual(brief(ds), ['2:1-2:6 warning prompt-unknown-key', '3:9-3:15 error wrong-type', '6:18-6:35 warning invalid-choice']);
    assert.equal(applyFix(text, ds[0]!).split('\n')[1], 'sample_steps = 20');
    assert.equal(applyFix(text, ds[1]!).split('\n')[2], 'width = 1024');
  });
  it('.txt prompts: options sd-scripts ignores or misreads', () => {
    const text = '# comment\n1girl, solo --n lowres --w 1024 --h 1020 --d 42 --l 7.5 --s 28\nportrait --x 3 --w wide --steps 20\n\n--w 512\n';
    const ds = checkSamplePrompts(text, { fileName: 'prompts.txt' });
    assert.deepEqual(brief(ds), ['2:33-2:41 info prompt-option', '3:10-3:15 warning prompt-option', '3:16-3:24 warning prompt-option', '3:25-3:35 warning prompt-option', '5:1-5:8 warning prompt-option']);
    assert.equal(ds[0]?.message, 'sd-scripts rounds --h down to a multiple of 8: 1016.');
  });
});
