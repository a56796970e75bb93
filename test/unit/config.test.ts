import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  checkTrainingConfig, detectConfigKind, referencedFiles, parseTomlDocument, flattenTrainingConfig, getOption, OPTIONS,
} from '../../src/core/config';
import { fixture, fakeFs, brief, applyFix, only } from './configHelpers';

describe('config: option table', () => {
  it('has every sdxl_train_network.py option with our own summary', () => {
    assert.equal(OPTIONS.length, 196);
    for (const o of OPTIONS) assert.ok(o.summary.length > 10, o.name);
    assert.equal(getOption('resolution')?.type, 'str');
    assert.equal(getOption('network_args')?.type, 'list');
    assert.deepEqual(getOption('mixed_precision')?.choices, ['no', 'fp16', 'bf16']);
    assert.equal(getOption('lr_warmup_steps')?.type, 'int|float');
    assert.equal(getOption('max_train_steps')?.default, 1600);
  });
});

describe('config: detectConfigKind', () => {
  it('recognises the real configs by content', () => {
    assert.equal(detectConfigKind('config_file.toml', fixture('seed_XL_LoRA_config_file.toml')), 'training');
    assert.equal(detectConfigKind('x.toml', fixture('sdxl_prodigy_lora.toml')), 'training');
    assert.equal(detectConfigKind('x.toml', fixture('dataset_dreambooth.toml')), 'dataset');
    assert.equal(detectConfigKind('x.toml', fixture('dataset_finetune.toml')), 'dataset');
    assert.equal(detectConfigKind('x.toml', fixture('dataset_with_reg.toml')), 'dataset');
    assert.equal(detectConfigKind('sample_prompt.toml', fixture('seed_XL_LoRA_sample_prompt.toml')), 'samplePrompts');
  });
  it('recognises .txt prompt files and leaves other files alone', () => {
    assert.equal(detectConfigKind('prompts.txt', '# samples\n1girl, solo --n lowres --w 1024 --h 1024 --d 1 --l 7 --s 28\n'), 'samplePrompts');
    assert.equal(detectConfigKind('notes.txt', 'just some text\nwith -- dashes\n'), undefined);
    assert.equal(detectConfigKind('Cargo.toml', '[package]\nname = "x"\nversion = "0.1.0"\n'), undefined);
    assert.equal(detectConfigKind('pyproject.toml', '[tool.black]\nline-length = 100\n'), undefined);
    assert.equal(detectConfigKind('x.json', '{}'), undefined);
    assert.equal(detectConfigKind('one.toml', 'learning_rate = 1e-4\n'), 'training');
    assert.equal(detectConfigKind('ds.toml', '[datasets]\nresolution = 512\n'), 'dataset');
  });
  it('lists the files a training config refers to', () => {
    const refs = referencedFiles('dataset_config = "ds.toml"\nsample_prompts = "p.txt"\noutput_dir = "out"\nbase_weights = ["a.safetensors", "b.safetensors"]\n');
    assert.deepEqual(refs.map((r) => [r.option, r.path, r.kind ?? '-', r.expects]), [
      ['dataset_config', 'ds.toml', 'dataset', 'file'],
      ['sample_prompts', 'p.txt', 'samplePrompts', 'file'],
      ['output_dir', 'out', '-', 'outDir'],
      ['base_weights', 'a.safetensors', '-', 'file'],
      ['base_weights', 'b.safetensors', '-', 'file'],
    ]);
    assert.deepEqual(referencedFiles('= broken ['), []);
  });
});

describe('config: TOML document', () => {
  it('models sections and keys with exact offsets', () => {
    const text = fixture('seed_XL_LoRA_config_file.toml');
    const doc = parseTomlDocument(text);
    assert.equal(doc.parsed, true);
    assert.deepEqual(doc.syntaxErrors, []);
    assert.deepEqual(doc.tables.slice(1).map((t) => t.path[0]), [
      'sdxl_arguments', 'model_arguments', 'dataset_arguments', 'training_arguments', 'logging_arguments',
      'sample_prompt_arguments', 'saving_arguments', 'optimizer_arguments', 'additional_network_arguments', 'advanced_training_config',
    ]);
    const flat = flattenTrainingConfig(doc);
    assert.equal(flat.length, 48);
    const lr = flat.find((f) => f.name === 'learning_rate');
    assert.ok(lr);
    assert.equal(text.slice(...lr.keyOffsets), 'learning_rate');
    assert.equal(lr.value.kind, 'float');
    assert.equal(text.slice(...lr.value.offsets), '1e-5');
    assert.equal(lr.section, 'optimizer_arguments');
    const args = flat.find((f) => f.name === 'network_args');
    assert.equal(args?.value.kind, 'array');
  });
  it('turns syntax errors into exact ranges and keeps modelling the rest', () => {
    const text = 'a = 1\nb = \nc = "x\n[d]\ne = 1\ne = 2\n';
    const doc = parseTomlDocument(text);
    assert.deepEqual(doc.syntaxErrors.map((e) => [e.offsets, e.parserCode]), [
      [[8, 9], 'missing-value'],
      [[15, 17], 'syntax'],
      [[28, 29], 'dupe-keys'],
    ]);
    assert.equal(text.slice(15, 17), '"x');
    assert.deepEqual(doc.tables.map((t) => [t.path.join('.'), t.entries.map((e) => e.key)]), [['', ['a']], ['d', ['e']]]);
  });
});

const ROOT_FS = fakeFs([]);

describe('config: training checks on the real configs', () => {
  it('seed article config: only its placeholder paths and the missing sample_prompts', () => {
    const text = fixture('seed_XL_LoRA_config_file.toml');
    const ds = checkTrainingConfig(text, { fs: ROOT_FS, baseDir: '/work' });
    assert.deepEqual(brief(ds), [
      '9:33-9:47 warning placeholder-path',
      '13:11-13:38 warning placeholder-path',
      '14:18-14:31 warning placeholder-path',
      '23:14-23:45 warning placeholder-path',
      '45:1-45:22 info incomplete',
    ]);
    assert.equal(ds[0]?.message, 'pretrained_model_name_or_path is still a placeholder ("/本地路径/SDXL模型"): put the real path here.');
    // without a file system no path is checked
    assert.deepEqual(brief(checkTrainingConfig(text)), ['45:1-45:22 info incomplete']);
  });
  it('Prodigy config: the stray epoch key, a GUI-only key, clip_skip and dynamo_backend "no"', () => {
    const text = fixture('sdxl_prodigy_lora.toml');
    const ds = checkTrainingConfig(text);
    assert.deepEqual(brief(ds), [
      '6:1-6:10 warning advice',
      '7:18-7:22 warning invalid-choice',
      '9:1-9:6 warning unknown-option',
      '34:1-34:18 warning unknown-option',
    ]);
    const epoch = ds[2];
    assert.ok(epoch);
    assert.equal(epoch.message, 'Unknown option `epoch`: sd-scripts ignores it without a warning. Did you mean `max_train_epochs`?');
    const fixed = applyFix(text, epoch);
    assert.match(fixed, /^max_train_epochs = 30$/m);
  });
  it('Prodigy config with a file system: missing absolute paths are errors, outputs may be created', () => {
    const ds = checkTrainingConfig(fixture('sdxl_prodigy_lora.toml'), { fs: fakeFs(['/mnt/c/data/']), baseDir: '/work' });
    const paths = ds.filter((d) => d.code.startsWith('path'));
    assert.deepEqual(paths.map((d) => `${d.severity} ${d.code} ${d.message.split(':')[0]}`), [
      'info path-not-found Neither "D',
      'info path-not-found Neither "D',
      'error path-not-found pretrained_model_name_or_path',
      'error path-not-found sample_prompts',
      'error path-not-found train_data_dir',
    ]);
  });
});

function check(text: string, opts = {}) {
  return checkTrainingConfig(text, opts);
}

describe('config: training checks on bad cases', () => {
  it('syntax errors are diagnostics with exact ranges', () => {
    const ds = check('learning_rate = 1e-4\nnetwork_dim = \n[x]\nseed = "1\n');
    assert.deepEqual(brief(ds).filter((b) => b.includes('toml-syntax')), ['2:13-2:14 error toml-syntax', '4:8-4:10 error toml-syntax']);
    assert.equal(ds[0]?.message, 'A value is missing after "="');
    assert.deepEqual(brief(check('a = 1\na = 2\n')).filter((b) => b.includes('duplicate-key')), ['2:1-2:2 error duplicate-key']);
  });
  it('resolution must be a string "W,H"', () => {
    const text = 'resolution = 1024\n';
    const [d] = check(text);
    assert.equal(d?.code, 'wrong-type');
    assert.equal(d?.message, '`resolution` must be a string such as "1024,1024" in a training config: sd-scripts splits it on commas and fails on an integer.');
    assert.equal(applyFix(text, d!), 'resolution = "1024,1024"\n');
    const arr = check('resolution = [896, 1152]\n');
    assert.equal(applyFix('resolution = [896, 1152]\n', arr[0]!), 'resolution = "896,1152"\n');
    assert.deepEqual(brief(check('resolution = "1024x1024"\n')), ['1:14-1:25 error wrong-type']);
    assert.deepEqual(check('resolution = "1024, 768"\n'), []);
  });
  it('lr_warmup_steps: a float ≥ 1 is a ratio, a string is not converted', () => {
    const cos = 'lr_scheduler = "cosine"\n';
    const text = `${cos}lr_warmup_steps = 100.0\n`;
    const [d] = check(text);
    assert.equal(d?.code, 'warmup-float-ratio');
    assert.equal(d?.severity, 'warning');
    assert.equal(applyFix(text, d!), `${cos}lr_warmup_steps = 100\n`);
    assert.deepEqual(check(`${cos}lr_warmup_steps = 0.05\n`), []);
    assert.deepEqual(check(`${cos}lr_warmup_steps = 100\n`), []);
    const pct = check(`${cos}lr_warmup_steps = "10%"\n`);
    assert.equal(pct[0]?.code, 'wrong-type');
    assert.equal(applyFix(`${cos}lr_warmup_steps = "10%"\n`, pct[0]!), `${cos}lr_warmup_steps = 0.1\n`);
  });
  it('nargs options must be arrays; a string is iterated by character', () => {
    const text = 'network_args = "conv_dim=4"\n';
    const [d] = check(text);
    assert.equal(d?.message, '`network_args` takes a list: write a TOML array: sd-scripts would go through the string one character at a time.');
    assert.equal(applyFix(text, d!), 'network_args = ["conv_dim=4"]\n');
    assert.deepEqual(brief(check('optimizer_args = ["weight_decay=0.01", 3]\n')), ['1:18-1:42 error mixed-array', '1:40-1:41 error wrong-type']);
    assert.deepEqual(brief(check('optimizer_args = ["betas=0.9,0.999", "eps"]\n')), ['1:38-1:43 error key-value-arg']);
    assert.deepEqual(check('text_encoder_lr = 1e-5\n'), []);
    assert.deepEqual(brief(check('text_encoder_lr = [1e-5, 2e-5]\n')), ['1:19-1:31 info ignored-option']);
  });
  it('validation_split must be a float', () => {
    const text = 'validation_split = 0\n';
    const [d] = check(text);
    assert.equal(d?.code, 'wrong-type');
    assert.equal(applyFix(text, d!), 'validation_split = 0.0\n');
    assert.deepEqual(check('validation_split = 0.1\n'), []);
    assert.deepEqual(brief(check('validation_split = 1.5\n')), ['1:20-1:23 warning dataset-value']);
  });
  it('types as sd-scripts sees them, without coercion', () => {
    const text = 'xformers = "true"\nlearning_rate = "1e-4"\nmax_train_steps = 1600.0\noutput_name = 5\ncache_latents = 1\n';
    const ds = check(text);
    assert.deepEqual(brief(ds), ['1:12-1:18 error wrong-type', '2:17-2:23 error wrong-type', '3:19-3:25 error wrong-type', '4:15-4:16 error wrong-type', '5:17-5:18 error wrong-type']);
    assert.equal(ds[0]?.message, '`xformers` must be true or false, not a string: sd-scripts takes "true" as on (any non-empty string is true in Python, even "false").');
    let fixed = text;
    for (const d of [...ds].reverse()) fixed = applyFix(fixed, d);
    assert.equal(fixed, 'xformers = true\nlearning_rate = 1e-4\nmax_train_steps = 1600\noutput_name = "5"\ncache_latents = true\n');
    assert.deepEqual(check(fixed), []);
  });
  it('invalid choices and unknown values with did-you-mean', () => {
    const text = 'mixed_precision = "fp32"\nsave_precision = "FP16"\noptimizer_type = "AdamW8Bit"\nlr_scheduler = "cosin"\nmax_token_length = 75\n';
    const ds = check(text);
    assert.deepEqual(brief(ds), ['1:19-1:25 error invalid-choice', '2:18-2:24 error invalid-choice', '4:16-4:23 error unknown-value', '5:20-5:22 error invalid-choice']);
    assert.equal(ds[0]?.message, '`mixed_precision` must be one of "no", "fp16", "bf16".');
    assert.equal(applyFix(text, ds[1]!).split('\n')[1], 'save_precision = "fp16"');
    assert.equal(applyFix(text, ds[2]!).split('\n')[3], 'lr_scheduler = "cosine"');
    assert.equal(ds[3]?.message, '`max_token_length` must be one of 150, 225 (leave it out for 75).');
  });
  it('unknown keys, did-you-mean and the same key in two sections', () => {
    const text = '[a]\nlearning_rat = 1e-4\nseed = 1\n[b]\nseed = 2\n';
    const ds = check(text);
    assert.deepEqual(brief(ds), ['2:1-2:13 warning unknown-option', '3:1-3:5 warning duplicate-option']);
    assert.equal(applyFix(text, ds[0]!), '[a]\nlearning_rate = 1e-4\nseed = 1\n[b]\nseed = 2\n');
    assert.equal(ds[1]?.message, '`seed` is set again in [b] (line 5); sd-scripts uses that later value and ignores this one.');
    assert.equal(applyFix(text, ds[1]!), '[a]\nlearning_rat = 1e-4\n[b]\nseed = 2\n');
    assert.match(check('batch_size = 4\n')[0]?.message ?? '', /`batch_size` is a dataset-config key\. Did you mean `train_batch_size`\?/);
    assert.deepEqual(brief(check('[a.b]\nseed = 1\n')), ['1:2-1:5 warning nested-table']);
  });
  it('cache_text_encoder_outputs needs network_train_unet_only and fixed captions', () => {
    const text = '[s]\ncache_text_encoder_outputs = true\nshuffle_caption = true\ncaption_dropout_rate = 0.1\n';
    const ds = check(text);
    assert.deepEqual(brief(ds), ['2:1-2:27 error incomplete', '3:1-3:16 error conflict', '4:1-4:21 error conflict']);
    assert.equal(applyFix(text, ds[0]!), '[s]\ncache_text_encoder_outputs = true\nnetwork_train_unet_only = true\nshuffle_caption = true\ncaption_dropout_rate = 0.1\n');
    const off = 'cache_text_encoder_outputs_to_disk = true\nnetwork_train_unet_only = false\n';
    assert.equal(applyFix(off, check(off)[0]!), 'cache_text_encoder_outputs_to_disk = true\nnetwork_train_unet_only = true\n');
  });
  it('precision, caching, bucket, attention, epochs and v2 combinations', () => {
    const text = [
      'v2 = true', 'full_fp16 = true', 'mixed_precision = "bf16"', 'fp8_base = true', 'cache_latents = true', 'color_aug = true',
      'random_crop = true', 'bucket_reso_steps = 48', 'max_train_steps = 2000', 'max_train_epochs = 10', 'xformers = true', 'sdpa = true',
    ].join('\n') + '\n';
    assert.deepEqual(brief(check(text)), [
      '1:1-1:3 error conflict',
      '2:1-2:10 error conflict',
      '6:1-6:10 error conflict',
      '7:1-7:12 error conflict',
      '8:21-8:23 error conflict',
      '9:1-9:16 info ignored-option',
      '12:1-12:5 warning ignored-option',
    ]);
    const steps = check('bucket_reso_steps = 48\n')[0];
    assert.equal(steps?.message, 'bucket_reso_steps is 48; SDXL needs a multiple of 32 and sd-scripts stops.');
    assert.equal(applyFix('bucket_reso_steps = 48\n', steps!), 'bucket_reso_steps = 64\n');
    assert.deepEqual(brief(check('fp8_base = true\n')), ['1:1-1:9 error incomplete']);
    assert.equal(applyFix('v2 = true\nseed = 1\n', check('v2 = true\nseed = 1\n')[0]!), 'seed = 1\n');
  });
  it('advice: alpha above dim, Prodigy learning rate, fp16 VAE', () => {
    assert.deepEqual(brief(check('network_dim = 8\nnetwork_alpha = 16\n')), ['2:17-2:19 info advice']);
    assert.match(check('network_alpha = 8\n')[0]?.message ?? '', /greater than network_dim \(4, the default\)/);
    assert.deepEqual(check('network_dim = 16\nnetwork_alpha = 16\n'), []);
    assert.deepEqual(brief(check('optimizer_type = "Prodigy"\nlearning_rate = 1e-4\n')), ['2:17-2:21 info advice']);
    assert.deepEqual(brief(check('mixed_precision = "fp16"\n')), ['1:1-1:16 info advice']);
  });
  it('resolution against the bucket range', () => {
    assert.deepEqual(brief(check('resolution = "1024,1024"\nenable_bucket = true\nmin_bucket_reso = 1088\nmax_bucket_reso = 960\n')), ['3:1-3:16 error conflict', '4:1-4:16 error conflict']);
    assert.deepEqual(brief(check('resolution = "1536"\nenable_bucket = true\n')), ['1:1-1:11 error conflict']);
    assert.deepEqual(check('resolution = "1024,1024"\nenable_bucket = true\nmax_bucket_reso = 2048\n'), []);
  });
  it('dataset_config makes train_data_dir ignored; log_with needs logging_dir', () => {
    assert.deepEqual(brief(check('dataset_config = "d.toml"\ntrain_data_dir = "x"\n')), ['2:1-2:15 warning ignored-option']);
    assert.deepEqual(brief(check('log_with = "tensorboard"\n')), ['1:1-1:9 error incomplete']);
  });
  it('network_args entries are checked for networks.lora', () => {
    const text = 'network_module = "networks.lora"\nnetwork_args = ["conv_dm=4", "conv_alpha"]\n';
    const ds = check(text);
    assert.deepEqual(brief(ds), ['2:17-2:28 warning network-arg', '2:30-2:42 error network-arg']);
    assert.equal(applyFix(text, ds[0]!), 'network_module = "networks.lora"\nnetwork_args = ["conv_dim=4", "conv_alpha"]\n');
  });
  it('paths: missing, wrong kind, placeholders, Hub ids and N_name folders', () => {
    const fs = fakeFs([
      '/data/model.safetensors', '/data/train/images/', '/data/train/img1.png', '/data/train2/10_tk girl/', '/data/train2/raw/',
      '/data/ds.yaml', '/data/out/',
    ]);
    const text = [
      'pretrained_model_name_or_path = "stabilityai/stable-diffusion-xl-base-1.0"',
      'vae = "/data/missing_vae.safetensors"',
      'train_data_dir = "/data/train"',
      'reg_data_dir = "/data/train2"',
      'network_weights = "/data/train"',
      'output_dir = "/data/model.safetensors"',
      'sample_prompts = "/path/to/prompts.txt"',
      'log_tracker_config = "meta.json"',
    ].join('\n') + '\n';
    const ds = check(text, { fs, baseDir: '/data' });
    assert.deepEqual(brief(ds), [
      '2:7-2:38 error path-not-found',
      '3:18-3:31 error no-concept-folders',
      '4:16-4:30 warning ignored-folder',
      '5:19-5:32 error path-kind',
      '6:14-6:39 error path-kind',
      '7:18-7:40 warning placeholder-path',
      '8:22-8:33 warning path-not-found',
    ]);
    assert.equal(ds[1]?.message, 'train_data_dir "/data/train" has no "N_name" subfolder, so sd-scripts finds no images and stops with "No data found". The 1 image directly in "/data/train" are not read: move them into a subfolder such as "10_mytoken".');
    assert.equal(only(ds, 'ignored-folder')[0]?.message, 'sd-scripts skips the subfolder of reg_data_dir without a repeat count: "raw".');
    // with in_json the train_data_dir is a plain image folder
    assert.deepEqual(only(check('train_data_dir = "/data/train"\nin_json = "/data/model.safetensors"\n', { fs, baseDir: '/' }), 'no-concept-folders'), []);
  });
  it('never throws and reports nothing for an empty file', () => {
    assert.deepEqual(check(''), []);
    assert.deepEqual(check('# only a comment\n'), []);
  });
});

describe('config: more pitfalls', () => {
  it('persistent workers without workers, text_encoder_lr with unet-only training', () => {
    assert.deepEqual(brief(checkTrainingConfig('persistent_data_loader_workers = true\nmax_data_loader_n_workers = 0\n')), ['1:1-1:31 error conflict']);
    assert.deepEqual(brief(checkTrainingConfig('network_train_unet_only = true\ntext_encoder_lr = 1e-5\n')), ['2:1-2:16 info ignored-option']);
  });
  it('sample prompts reached through the training config are listed as references', () => {
    const refs = referencedFiles(fixture('sdxl_prodigy_lora.toml'));
    assert.deepEqual(refs.filter((r) => r.kind).map((r) => [r.option, r.path]), [['sample_prompts', 'D:/model_output/sample/prompt.txt']]);
  });
});

describe('config: line endings and byte-order marks', () => {
  it('CRLF files get the same positions as LF files', () => {
    const lf = '[a]\nresolution = 1024\nxformers = "yes"\n';
    const crlf = lf.replace(/\n/g, '\r\n');
    assert.deepEqual(brief(checkTrainingConfig(crlf)), brief(checkTrainingConfig(lf)));
    const d = checkTrainingConfig(crlf)[1];
    assert.equal(crlf.slice(...d!.offsets), '"yes"');
  });
  it('a BOM is an error with a fix, and the rest is still checked', () => {
    const text = '\ufeffseed = "1"\n';
    const ds = checkTrainingConfig(text);
    assert.deepEqual(brief(ds), ['1:1-1:2 error toml-syntax', '1:9-1:12 error wrong-type']);
    assert.equal(applyFix(text, ds[0]!), 'seed = "1"\n');
  });
});

describe('config: scheduler warm-up', () => {
  it('constant (also by default) and adafactor schedulers refuse a warm-up', () => {
    const text = 'lr_warmup_steps = 100\n';
    const [d] = checkTrainingConfig(text);
    assert.equal(d?.code, 'conflict');
    assert.equal(d?.message, 'lr_scheduler "constant" (the default) has no warm-up: sd-scripts stops with "constant does not require `num_warmup_steps`". Use "constant_with_warmup" or set lr_warmup_steps = 0.');
    assert.equal(applyFix(text, d!), 'lr_warmup_steps = 100\nlr_scheduler = "constant_with_warmup"\n');
    assert.equal(applyFix(text, d!, 1), 'lr_warmup_steps = 0\n');
    const named = 'lr_scheduler = "constant"\nlr_warmup_steps = 0.1\n';
    assert.equal(applyFix(named, checkTrainingConfig(named)[0]!), 'lr_scheduler = "constant_with_warmup"\nlr_warmup_steps = 0.1\n');
    assert.deepEqual(checkTrainingConfig('lr_scheduler = "cosine"\nlr_warmup_steps = 100\n'), []);
    assert.deepEqual(checkTrainingConfig('lr_scheduler = "constant"\nlr_warmup_steps = 0\n'), []);
  });
});
