import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  accelerateConfigYaml,
  defaultAccelerateConfigPath,
  parseNvidiaSmiGpus,
  parseNvidiaSmiUsage,
  type AccelerateShortForm,
} from '../../src/core/training/accelerate';

describe('accelerate default_config.yaml', () => {
  it('writes what `accelerate config` writes for the README answers (one machine, no distribution, all GPUs, fp16)', () => {
    const r = accelerateConfigYaml({ gpus: 'all', mixedPrecision: 'fp16' });
    assert.ok(r.ok);
    assert.equal(r.numProcesses, 1);
    assert.equal(
      r.yaml,
      [
        'compute_environment: LOCAL_MACHINE',
        'debug: false',
        "distributed_type: 'NO'",
        "downcast_bf16: 'no'",
        'enable_cpu_affinity: false',
        'gpu_ids: all',
        'machine_rank: 0',
        'main_training_function: main',
        'mixed_precision: fp16',
        'num_machines: 1',
        'num_processes: 1',
        'rdzv_backend: static',
        'same_network: true',
        'tpu_env: []',
        'tpu_use_cluster: false',
        'tpu_use_sudo: false',
        'use_cpu: false',
        '',
      ].join('\n'),
    );
  });
  it('picks GPUs: one id stays single-GPU, several become MULTI_GPU', () => {
    const one = accelerateConfigYaml({ gpus: [0], mixedPrecision: 'bf16' });
    assert.ok(one.ok);
    assert.match(one.yaml, /^gpu_ids: '0'$/m);
    assert.match(one.yaml, /^distributed_type: 'NO'$/m);
    assert.match(one.yaml, /^mixed_precision: bf16$/m);
    const two = accelerateConfigYaml({ gpus: [1, 0, 1], mixedPrecision: 'no' });
    assert.ok(two.ok);
    assert.equal(two.numProcesses, 2);
    assert.match(two.yaml, /^gpu_ids: '0,1'$/m);
    assert.match(two.yaml, /^distributed_type: MULTI_GPU$/m);
    assert.match(two.yaml, /^num_processes: 2$/m);
    assert.match(two.yaml, /^mixed_precision: 'no'$/m);
    const all = accelerateConfigYaml({ gpus: 'all', multiGpu: true, gpuCount: 4, mixedPrecision: 'fp16' });
    assert.ok(all.ok);
    assert.match(all.yaml, /^num_processes: 4$/m);
    assert.match(all.yaml, /^gpu_ids: all$/m);
    const cpu = accelerateConfigYaml({ gpus: 'all', cpu: true, mixedPrecision: 'no' });
    assert.ok(cpu.ok);
    assert.match(cpu.yaml, /^use_cpu: true$/m);
  });
  it('refuses forms that make no sense, without throwing', () => {
    const bad: unknown[] = [
      { gpus: [], mixedPrecision: 'fp16' },
      { gpus: [-1], mixedPrecision: 'fp16' },
      { gpus: [0.5], mixedPrecision: 'fp16' },
      { gpus: 'all', mixedPrecision: 'fp32' },
      { gpus: 'all', multiGpu: true, mixedPrecision: 'fp16' },
      null,
    ];
    for (const b of bad) assert.equal(accelerateConfigYaml(b as AccelerateShortForm).ok, false, JSON.stringify(b));
  });
  it("knows accelerate's default config location", () => {
    assert.equal(defaultAccelerateConfigPath({}, '/home/u'), '/home/u/.cache/huggingface/accelerate/default_config.yaml');
    assert.equal(defaultAccelerateConfigPath({ XDG_CACHE_HOME: '/c' }, '/home/u'), '/c/huggingface/accelerate/default_config.yaml');
    assert.equal(defaultAccelerateConfigPath({ HF_HOME: '/hf', XDG_CACHE_HOME: '/c' }, '/home/u'), '/hf/accelerate/default_config.yaml');
  });
});

describe('nvidia-smi', () => {
  it('lists GPUs from --query-gpu=index,name,memory.total --format=csv,noheader', () => {
    const out = '0, NVIDIA GeForce RTX 4090, 24564 MiB\n1, NVIDIA RTX A6000, 49140 MiB\r\n\n2, Tesla T4, [N/A]\nNVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver.\n';
    assert.deepEqual(parseNvidiaSmiGpus(out), [
      { index: 0, name: 'NVIDIA GeForce RTX 4090', memoryMiB: 24564 },
      { index: 1, name: 'NVIDIA RTX A6000', memoryMiB: 49140 },
      { index: 2, name: 'Tesla T4', memoryMiB: undefined },
    ]);
    assert.deepEqual(parseNvidiaSmiGpus(''), []);
    assert.deepEqual(parseNvidiaSmiGpus(undefined as unknown as string), []);
  });
  it('reads utilisation and memory use', () => {
    assert.deepEqual(parseNvidiaSmiUsage('0, 97, 20480, 24564\n1, [N/A], 0, 24564\nbad\n'), [
      { index: 0, utilizationPercent: 97, memoryUsedMiB: 20480, memoryTotalMiB: 24564 },
      { index: 1, utilizationPercent: undefined, memoryUsedMiB: 0, memoryTotalMiB: 24564 },
    ]);
  });
});
