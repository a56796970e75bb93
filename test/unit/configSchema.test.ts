import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { readFileSync } from 'node:fs';
import Ajv from 'ajv';
import { parse } from 'smol-toml';
import { buildTrainingConfigSchema, buildDatasetConfigSchema, buildSamplePromptSchema, checkConfig, newTrainingConfig, newDatasetConfig } from '../../src/core/config';
import { ROOT } from './helpers';
import { fixture } from './configHelpers';

function committed(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(ROOT, 'syntaxes', name), 'utf8')) as Record<string, unknown>;
}

/** ajv 8 has no draft-04 meta-schema; our schemas use only keywords that mean the same in draft 4 and 7. */
function validator(schema: Record<string, unknown>) {
  const { $schema, ...rest } = schema;
  assert.equal($schema, 'http://json-schema.org/draft-04/schema#');
  const ajv = new Ajv({ allErrors: true, strict: false });
  return ajv.compile(rest);
}

function errorsOf(v: ReturnType<typeof validator>, data: unknown): string[] {
  v(data);
  return (v.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

describe('config: JSON Schema', () => {
  it('the committed schemas are the ones generated from the option table', () => {
    assert.deepEqual(committed('kohya-train-config.schema.json'), JSON.parse(JSON.stringify(buildTrainingConfigSchema())));
    assert.deepEqual(committed('kohya-dataset-config.schema.json'), JSON.parse(JSON.stringify(buildDatasetConfigSchema())));
    assert.deepEqual(committed('kohya-sample-prompts.schema.json'), JSON.parse(JSON.stringify(buildSamplePromptSchema())));
  });
  it('validates the real training configs, and rejects what sd-scripts ignores or misreads', () => {
    const v = validator(committed('kohya-train-config.schema.json'));
    assert.deepEqual(errorsOf(v, parse(fixture('seed_XL_LoRA_config_file.toml'))), []);
    const prodigy = parse(fixture('sdxl_prodigy_lora.toml'));
    const errs = errorsOf(v, prodigy);
    assert.ok(errs.includes('/dynamo_backend must be equal to one of the allowed values'), errs.join('\n'));
    assert.ok(errs.includes('/epoch must be object'), errs.join('\n'));
    assert.ok(errs.includes('/noise_offset_type must be object'), errs.join('\n'));
    const { epoch: _e, noise_offset_type: _n, dynamo_backend: _d, ...clean } = prodigy;
    assert.deepEqual(errorsOf(v, clean), []);
    for (const [bad, where] of [
      ['resolution = 1024', '/resolution must be string'],
      ['[training_arguments]\nxformers = "true"', '/training_arguments/xformers must be boolean'],
      ['network_args = "conv_dim=4"', '/network_args must be array'],
      ['mixed_precision = "fp32"', '/mixed_precision must be equal to one of the allowed values'],
      ['[model_arguments]\npretrained_model = "x"', '/model_arguments must NOT have additional properties'],
      ['max_train_steps = 1600.5', '/max_train_steps must be integer'],
    ] as const) {
      assert.ok(errorsOf(v, parse(bad)).includes(where), `${bad}: ${errorsOf(v, parse(bad)).join('; ')}`);
    }
  });
  it('validates the real dataset configs and rejects bad ones', () => {
    const v = validator(committed('kohya-dataset-config.schema.json'));
    for (const f of ['dataset_dreambooth.toml', 'dataset_finetune.toml', 'dataset_with_reg.toml']) assert.deepEqual(errorsOf(v, parse(fixture(f))), [], f);
    assert.ok(errorsOf(v, parse('[datasets]\nresolution = 1024\n')).includes('/datasets must be array'));
    assert.ok(errorsOf(v, parse('[[datasets]]\nresolution = "1024"\n')).some((e) => e.startsWith('/datasets/0/resolution')));
    assert.ok(errorsOf(v, parse('[general]\nfoo = 1\n')).includes('/general must NOT have additional properties'));
    assert.ok(errorsOf(v, parse('[[datasets]]\n[[datasets.subsets]]\nnum_repeats = 1\n')).length > 0);
    assert.ok(errorsOf(v, parse('[[datasets]]\n[[datasets.subsets]]\nimage_dir = "a"\nface_crop_aug_range = [1.0]\n')).length > 0);
  });
  it('validates sample-prompt TOML', () => {
    const v = validator(committed('kohya-sample-prompts.schema.json'));
    assert.deepEqual(errorsOf(v, parse(fixture('seed_XL_LoRA_sample_prompt.toml'))), []);
    assert.ok(errorsOf(v, parse('[prompt]\nwidth = "1024"\n[[prompt.subset]]\nprompt = "a"\n')).includes('/prompt/width must be integer'));
  });
});

describe('config: new-config templates', () => {
  it('LoRA / LoCon / LoHa training configs are clean, valid and follow the seed article', () => {
    const v = validator(committed('kohya-train-config.schema.json'));
    for (const network of ['lora', 'locon', 'loha'] as const) {
      const text = newTrainingConfig({ network, pretrainedModel: '/models/sdxl.safetensors', datasetConfig: '/data/dataset.toml', outputDir: '/out', outputName: 'tk', samplePrompts: '/data/prompts.txt' });
      assert.deepEqual(checkConfig('training', text), [], network);
      assert.deepEqual(errorsOf(v, parse(text)), [], network);
      assert.match(text, /^\[sdxl_arguments\]\ncache_text_encoder_outputs = true\nno_half_vae = true/);
      assert.match(text, /^dataset_config = "\/data\/dataset.toml"$/m);
      assert.match(text, /^logging_dir = "\/out\/logs"$/m);
    }
    assert.match(newTrainingConfig({ network: 'locon' }), /^network_args = \["conv_dim=32", "conv_alpha=16"\]$/m);
    assert.match(newTrainingConfig({ network: 'loha' }), /^network_module = "lycoris.kohya"$/m);
    // without paths the template keeps placeholders, which the checks point out
    const placeholders = checkConfig('training', newTrainingConfig(), { fs: { exists: () => false, isDirectory: () => false, list: () => [] }, baseDir: '/' });
    assert.deepEqual(placeholders.map((d) => d.code), ['placeholder-path', 'placeholder-path', 'placeholder-path', 'placeholder-path', 'placeholder-path']);
  });
  it('a dataset config from folders, with repeats and class tokens written out', () => {
    const text = newDatasetConfig({ folders: [{ path: '/data/img/10_tk girl', repeats: 10, classTokens: 'tk girl' }, { path: 'C:\\reg\\1_girl', repeats: 1, classTokens: 'girl', isReg: true }] });
    assert.deepEqual(checkConfig('dataset', text), []);
    assert.deepEqual(errorsOf(validator(committed('kohya-dataset-config.schema.json')), parse(text)), []);
    const parsed = parse(text) as { datasets: { subsets: Record<string, unknown>[] }[] };
    assert.deepEqual(JSON.parse(JSON.stringify(parsed.datasets[0]?.subsets)), [
      { image_dir: '/data/img/10_tk girl', num_repeats: 10, class_tokens: 'tk girl' },
      { image_dir: 'C:\\reg\\1_girl', num_repeats: 1, class_tokens: 'girl', is_reg: true },
    ]);
  });
});

import { datasetFoldersFromKohyaDirs } from '../../src/core/config';
import { fakeFs } from './configHelpers';

describe('config: dataset folders from a kohya layout', () => {
  it('reads N_name folders of train_data_dir and reg_data_dir', () => {
    const fs = fakeFs(['/d/train/5_tk girl/1.png', '/d/train/raw/', '/d/train/3_style/', '/d/reg/1_girl/']);
    assert.deepEqual(datasetFoldersFromKohyaDirs(fs, '/d/train', '/d/reg'), [
      { path: '/d/train/3_style', repeats: 3, classTokens: 'style' },
      { path: '/d/train/5_tk girl', repeats: 5, classTokens: 'tk girl' },
      { path: '/d/reg/1_girl', repeats: 1, classTokens: 'girl', isReg: true },
    ]);
  });
});
