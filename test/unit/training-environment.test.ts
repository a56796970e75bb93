import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  BASE_MODULES,
  environmentReport,
  moduleProbeArgs,
  parseModuleProbe,
  requiredPackages,
  type EnvironmentFacts,
} from '../../src/core/training/environment';

describe('packages a training config needs', () => {
  it('reads network_module, optimizer_type, 8-bit and Lion flags, loggers and xformers', () => {
    assert.deepEqual(
      requiredPackages({
        additional_network_arguments: { network_module: 'lycoris.kohya' },
        optimizer_arguments: { optimizer_type: 'AdamW8bit' },
        logging_arguments: { log_with: 'all', logging_dir: 'logs' },
        training_arguments: { xformers: true },
      }).map((r) => [r.module, r.package, r.reason]),
      [
        ['lycoris', 'lycoris-lora', 'network_module = "lycoris.kohya"'],
        ['bitsandbytes', 'bitsandbytes', 'optimizer_type = "AdamW8bit"'],
        ['wandb', 'wandb', 'log_with = "all"'],
        ['tensorboard', 'tensorboard', 'log_with = "all"'],
        ['xformers', 'xformers', 'xformers = true'],
      ],
    );
    const mod = (cfg: Record<string, unknown>): string[] => requiredPackages(cfg).map((r) => r.package);
    assert.deepEqual(mod({ optimizer_type: 'prodigy' }), ['prodigyopt']);
    assert.deepEqual(mod({ optimizer_type: 'DAdaptAdam' }), ['dadaptation']);
    assert.deepEqual(mod({ optimizer_type: 'Lion' }), ['lion-pytorch']);
    assert.deepEqual(mod({ optimizer_type: 'PagedAdamW' }), ['bitsandbytes']);
    assert.deepEqual(mod({ optimizer_type: 'AdamWScheduleFree' }), ['schedulefree']);
    assert.deepEqual(mod({ optimizer_type: 'bitsandbytes.optim.AdEMAMix8bit' }), ['bitsandbytes']);
    assert.deepEqual(mod({ optimizer_type: 'prodigyplus.ProdigyPlusScheduleFree' }), ['prodigy-plus-schedule-free']);
    assert.deepEqual(mod({ optimizer_type: 'pytorch_optimizer.CAME' }), ['pytorch-optimizer']);
    assert.deepEqual(mod({ optimizer_type: 'AdaFactor', network_module: 'networks.lora' }), []);
    assert.deepEqual(mod({ optimizer_type: 'transformers.optimization.Adafactor' }), []);
    assert.deepEqual(mod({ use_8bit_adam: true, use_lion_optimizer: true }), ['bitsandbytes', 'lion-pytorch']);
    assert.deepEqual(mod({ logging_dir: 'logs' }), ['tensorboard']);
    assert.deepEqual(mod({}), []);
    assert.deepEqual(requiredPackages(null), []);
    assert.deepEqual(requiredPackages('x'), []);
  });
});

describe('the module probe', () => {
  it('makes python arguments and reads the answer', () => {
    const args = moduleProbeArgs(['torch', 'lycoris', 'bad name; rm', 'a.b']);
    assert.equal(args[0], '-c');
    assert.deepEqual(args.slice(2), ['torch', 'lycoris', 'a.b']);
    assert.deepEqual(parseModuleProbe('noise\nLWB_PROBE {"python": "3.10.12", "executable": "/sd/venv/bin/python", "modules": {"torch": true, "lycoris": false}}\n'), {
      python: '3.10.12',
      executable: '/sd/venv/bin/python',
      modules: { torch: true, lycoris: false },
    });
    assert.equal(parseModuleProbe('Traceback (most recent call last):\n'), undefined);
    assert.equal(parseModuleProbe('LWB_PROBE {not json'), undefined);
  });
  it('runs with a real python when there is one', () => {
    const py = spawnSync('python3', moduleProbeArgs(['json', 'surely_not_a_module_xyz']), { encoding: 'utf8' });
    if (py.error) {
      // no python on this machine: the parser still has to cope with nothing
      assert.equal(parseModuleProbe(''), undefined);
      return;
    }
    const r = parseModuleProbe(py.stdout);
    assert.deepEqual(r?.modules, { json: true, surely_not_a_module_xyz: false });
  });
});

describe('the environment report', () => {
  const base: EnvironmentFacts = {
    sdScriptsDir: '/sd',
    scriptFound: true,
    script: 'sdxl_train_network.py',
    python: { venvDir: '/sd/venv', python: '/sd/venv/bin/python', accelerate: '/sd/venv/bin/accelerate' },
    probe: { python: '3.10.12', executable: '/sd/venv/bin/python', modules: { ...Object.fromEntries(BASE_MODULES.map((m) => [m, true])), lycoris: false, bitsandbytes: true } },
    required: [
      { module: 'lycoris', package: 'lycoris-lora', reason: 'network_module = "lycoris.kohya"' },
      { module: 'bitsandbytes', package: 'bitsandbytes', reason: 'optimizer_type = "AdamW8bit"' },
    ],
    gpus: [{ index: 0, name: 'NVIDIA GeForce RTX 4090', memoryMiB: 24564 }],
    accelerateConfig: { path: '/home/u/.cache/huggingface/accelerate/default_config.yaml', exists: false },
  };
  it('says what is found and gives the fix for what is missing', () => {
    const r = environmentReport(base);
    const byId = Object.fromEntries(r.map((c) => [c.id, c]));
    assert.equal(byId['sdScripts']?.ok, true);
    assert.equal(byId['requirements']?.ok, true);
    assert.equal(byId['package:lycoris']?.ok, false);
    assert.equal(byId['package:lycoris']?.fix, '/sd/venv/bin/python -m pip install lycoris-lora');
    assert.equal(byId['package:bitsandbytes']?.ok, true);
    assert.equal(byId['gpu']?.message, 'GPU 0: NVIDIA GeForce RTX 4090, 24 GiB');
    assert.equal(byId['accelerateConfig']?.severity, 'warning');
    assert.deepEqual(r.filter((c) => !c.ok && c.severity === 'error').map((c) => c.id), ['package:lycoris']);
  });
  it('stops early without sd-scripts or Python, and names missing requirements', () => {
    assert.deepEqual(environmentReport({ ...base, sdScriptsDir: undefined }).map((c) => c.id), ['sdScripts']);
    const noPy = environmentReport({ ...base, python: undefined });
    assert.deepEqual(noPy.map((c) => [c.id, c.ok]), [['sdScripts', true], ['python', false]]);
    assert.match(noPy[1]?.fix ?? '', /python -m venv venv/);
    const noTorch = environmentReport({ ...base, probe: { ...base.probe!, modules: { ...base.probe!.modules, torch: false } } });
    assert.match(noTorch.find((c) => c.id === 'requirements')?.fix ?? '', /PyTorch/);
    const noProbe = environmentReport({ ...base, probe: undefined, probeError: 'Traceback...\nOSError: bad interpreter' });
    assert.equal(noProbe.find((c) => c.id === 'probe')?.message, 'Python did not run: OSError: bad interpreter');
    assert.equal(environmentReport({ ...base, gpus: undefined }).find((c) => c.id === 'gpu')?.ok, false);
  });
});
