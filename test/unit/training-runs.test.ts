import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import {
  buildSafetensors,
  listCheckpoints,
  listSamples,
  listStates,
  parseCheckpointName,
  parseSafetensorsHeader,
  parseSampleName,
  readSafetensorsHeader,
  summarizeLoraMetadata,
} from '../../src/core/training/runs';
import { tempDir } from './helpers';
import { prng } from './training-helpers';

describe('sample image names', () => {
  it('reads the names sd-scripts gives its samples', () => {
    assert.deepEqual(parseSampleName('my_lora_e000003_00_20260216120501_42.png'), {
      name: 'my_lora_e000003_00_20260216120501_42.png',
      outputName: 'my_lora',
      trigger: 'epoch',
      epoch: 3,
      promptIndex: 0,
      timestamp: '20260216120501',
      seed: 42,
    });
    assert.deepEqual(parseSampleName('my_lora_000500_01_20260216121000.png'), {
      name: 'my_lora_000500_01_20260216121000.png',
      outputName: 'my_lora',
      trigger: 'step',
      step: 500,
      promptIndex: 1,
      timestamp: '20260216121000',
    });
    // no output_name, and an output_name with spaces and digits
    assert.equal(parseSampleName('e000000_00_20260216120000.png')?.outputName, '');
    assert.equal(parseSampleName('e000000_00_20260216120000.png')?.epoch, 0);
    const odd = parseSampleName('tk girl_v2_001000_12_20260216120000_7.png');
    assert.deepEqual([odd?.outputName, odd?.step, odd?.promptIndex, odd?.seed], ['tk girl_v2', 1000, 12, 7]);
    assert.equal(parseSampleName('notes.png'), undefined);
    assert.equal(parseSampleName('my_lora_e000003_00_20260216120501.jpg'), undefined);
  });
  it('lists output_dir/sample in order', (t) => {
    const out = tempDir(t);
    mkdirSync(path.join(out, 'sample'));
    for (const n of ['a_e000002_01_20260216120200.png', 'a_e000002_00_20260216120200.png', 'a_e000001_00_20260216120100.png', 'x.png']) {
      writeFileSync(path.join(out, 'sample', n), '');
    }
    assert.deepEqual(listSamples(out).map((s) => s.name), ['a_e000001_00_20260216120100.png', 'a_e000002_00_20260216120200.png', 'a_e000002_01_20260216120200.png']);
    assert.deepEqual(listSamples(path.join(out, 'missing')), []);
  });
});

describe('checkpoints and saved states', () => {
  it('reads epoch and step from checkpoint names', () => {
    assert.deepEqual(parseCheckpointName('my_lora-000001.safetensors'), { outputName: 'my_lora', kind: 'epoch', epoch: 1 });
    assert.deepEqual(parseCheckpointName('my_lora-step00000500.safetensors'), { outputName: 'my_lora', kind: 'step', step: 500 });
    assert.deepEqual(parseCheckpointName('my_lora.safetensors'), { outputName: 'my_lora', kind: 'final' });
    assert.deepEqual(parseCheckpointName('Aldar_Kose-01.safetensors'), { outputName: 'Aldar_Kose', kind: 'epoch', epoch: 1 });
    assert.deepEqual(parseCheckpointName('at-step00001000.ckpt'), { outputName: 'at', kind: 'step', step: 1000 });
    assert.deepEqual(parseCheckpointName('sdxl-1.safetensors'), { outputName: 'sdxl-1', kind: 'final' });
    assert.equal(parseCheckpointName('my_lora.json'), undefined);
  });
  it('lists checkpoints with sizes, and states with their train_state.json', (t) => {
    const out = tempDir(t);
    writeFileSync(path.join(out, 'lora-000002.safetensors'), Buffer.alloc(10));
    writeFileSync(path.join(out, 'lora-000001.safetensors'), Buffer.alloc(5));
    writeFileSync(path.join(out, 'lora.safetensors'), Buffer.alloc(20));
    writeFileSync(path.join(out, 'other-000001.safetensors'), '');
    writeFileSync(path.join(out, 'lora-step00000300.safetensors'), '');
    mkdirSync(path.join(out, 'dir.safetensors'));
    assert.deepEqual(
      listCheckpoints(out, 'lora').map((c) => [c.name, c.kind, c.epoch ?? c.step ?? null, c.size]),
      [
        ['lora-000001.safetensors', 'epoch', 1, 5],
        ['lora-000002.safetensors', 'epoch', 2, 10],
        ['lora-step00000300.safetensors', 'step', 300, 0],
        ['lora.safetensors', 'final', null, 20],
      ],
    );
    assert.equal(listCheckpoints(out).length, 5);

    for (const [name, json] of [
      ['lora-000001-state', '{"current_epoch": 1, "current_step": 52}'],
      ['lora-step00000300-state', '{"current_epoch": 6, "current_step": 300}'],
      ['lora-state', 'not json'],
      ['lora-000002-state', null],
    ] as const) {
      mkdirSync(path.join(out, name));
      if (json !== null) writeFileSync(path.join(out, name, 'train_state.json'), json);
    }
    const states = listStates(out);
    assert.deepEqual(
      states.map((s) => [s.name, s.kind, s.epoch ?? s.step ?? null, s.currentEpoch ?? null, s.currentStep ?? null, s.problem ?? null]),
      [
        ['lora-000001-state', 'epoch', 1, 1, 52, null],
        ['lora-000002-state', 'epoch', 2, null, null, 'no train_state.json'],
        ['lora-step00000300-state', 'step', 300, 6, 300, null],
        ['lora-state', 'final', null, null, null, states.find((s) => s.name === 'lora-state')?.problem ?? 'x'],
      ],
    );
    assert.match(states.find((s) => s.name === 'lora-state')?.problem ?? '', /unreadable/);
    assert.deepEqual(listStates(path.join(out, 'missing')), []);
  });
});

describe('safetensors header', () => {
  const meta = {
    ss_network_module: 'networks.lora',
    ss_network_dim: '32',
    ss_network_alpha: '16.0',
    ss_epoch: '3',
    ss_steps: '156',
    ss_base_model_version: 'sdxl_base_v1-0',
    ss_network_args: 'None',
    ss_tag_frequency: JSON.stringify({ '5_tk girl': { tk: 14, '1girl': 12 } }),
    ss_dataset_dirs: JSON.stringify({ '5_tk girl': { n_repeats: 5, img_count: 14 } }),
    'modelspec.title': 'タイトル',
  };

  it('reads __metadata__ and the ss_* fields', (t) => {
    const f = path.join(tempDir(t), 'lora.safetensors');
    writeFileSync(f, buildSafetensors(meta));
    const h = readSafetensorsHeader(f);
    assert.ok(h.ok);
    assert.equal(h.tensorCount, 1);
    assert.equal(h.metadata['modelspec.title'], 'タイトル');
    assert.deepEqual(Object.keys(h.ss).sort(), Object.keys(meta).filter((k) => k.startsWith('ss_')).sort());
    assert.deepEqual(summarizeLoraMetadata(h.ss), {
      networkModule: 'networks.lora',
      networkDim: 32,
      networkAlpha: 16,
      baseModelVersion: 'sdxl_base_v1-0',
      epoch: 3,
      steps: 156,
      datasetDirs: { '5_tk girl': { n_repeats: 5, img_count: 14 } },
      tagFrequency: { '5_tk girl': { tk: 14, '1girl': 12 } },
    });
  });

  it('never throws on bad files', (t) => {
    const dir = tempDir(t);
    const cases: [string, Buffer | null][] = [
      ['empty', Buffer.alloc(0)],
      ['short', Buffer.from([1, 2, 3])],
      ['huge length', Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x40]), Buffer.from('{}')])],
      ['past end', Buffer.concat([Buffer.from([100, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{}')])],
      ['not json', Buffer.concat([Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{{{{')])],
      ['array', Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('[]')])],
      ['bad utf8', Buffer.concat([Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from([0x7b, 0xff, 0xfe, 0x7d])])],
    ];
    for (const [name, bytes] of cases) {
      const f = path.join(dir, name);
      if (bytes) writeFileSync(f, bytes);
      const h = readSafetensorsHeader(f);
      assert.equal(h.ok, false, name);
      assert.ok(!h.ok && h.error.length > 0);
    }
    assert.equal(readSafetensorsHeader(path.join(dir, 'missing')).ok, false);
    assert.equal(readSafetensorsHeader(dir).ok, false);
    // an object without __metadata__ is fine (ckpt converted without metadata)
    const plain = parseSafetensorsHeader(Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{}')]));
    assert.ok(plain.ok);
    assert.deepEqual(plain.metadata, {});
    const rnd = prng(3);
    for (let i = 0; i < 200; i++) {
      parseSafetensorsHeader(Uint8Array.from({ length: Math.floor(rnd() * 64) }, () => Math.floor(rnd() * 256)));
    }
  });
});
