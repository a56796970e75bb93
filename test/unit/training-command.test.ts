import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import {
  buildTrainingCommand,
  findPythonEnvironment,
  formatCommandLine,
  type FsProbe,
  type TrainingTaskDefinition,
} from '../../src/core/training/command';
import { tempDir } from './helpers';

function probe(files: string[], dirs: string[] = []): FsProbe {
  const f = new Set(files);
  const d = new Set(dirs);
  return { isFile: (p) => f.has(p), isDirectory: (p) => d.has(p) };
}

describe('training command', () => {
  it('builds accelerate launch with paths with spaces and CJK, relative paths from the workspace', () => {
    const r = buildTrainingCommand(
      {
        config: 'configs/学習 設定.toml',
        datasetConfig: '/data/my set/データセット.toml',
        samplePrompts: 'prompts/sample prompts.txt',
        accelerateConfig: 'accelerate config.yaml',
        numCpuThreadsPerProcess: 8,
        args: ['--max_train_epochs=3', '--output_name', 'my lora'],
      },
      {
        sdScriptsDir: '/opt/sd scripts',
        accelerate: '/opt/sd scripts/venv/bin/accelerate',
        baseDir: '/home/u/ワーク スペース',
        platform: 'linux',
        baseEnv: {},
      },
    );
    assert.ok(r.ok);
    assert.equal(r.spec.command, '/opt/sd scripts/venv/bin/accelerate');
    assert.equal(r.spec.cwd, '/opt/sd scripts');
    assert.deepEqual(r.spec.args, [
      'launch',
      '--config_file',
      '/home/u/ワーク スペース/accelerate config.yaml',
      '--num_cpu_threads_per_process=8',
      'sdxl_train_network.py',
      '--config_file=/home/u/ワーク スペース/configs/学習 設定.toml',
      '--dataset_config=/data/my set/データセット.toml',
      '--sample_prompts=/home/u/ワーク スペース/prompts/sample prompts.txt',
      '--max_train_epochs=3',
      '--output_name',
      'my lora',
    ]);
    assert.equal(
      formatCommandLine(r.spec),
      "'/opt/sd scripts/venv/bin/accelerate' launch --config_file '/home/u/ワーク スペース/accelerate config.yaml' " +
        "--num_cpu_threads_per_process=8 sdxl_train_network.py '--config_file=/home/u/ワーク スペース/configs/学習 設定.toml' " +
        "'--dataset_config=/data/my set/データセット.toml' '--sample_prompts=/home/u/ワーク スペース/prompts/sample prompts.txt' " +
        "--max_train_epochs=3 --output_name 'my lora'",
    );
    assert.equal(formatCommandLine({ command: 'a', args: ["it's"] }), "a 'it'\\''s'");
  });

  it('uses python -m accelerate.commands.launch without an accelerate executable, and accelerate from PATH without either', () => {
    const def: TrainingTaskDefinition = { config: '/c.toml', script: 'train_network.py' };
    const py = buildTrainingCommand(def, { sdScriptsDir: '/sd', python: '/sd/.venv/bin/python', platform: 'linux' });
    assert.ok(py.ok);
    assert.equal(py.spec.command, '/sd/.venv/bin/python');
    assert.deepEqual(py.spec.args, ['-m', 'accelerate.commands.launch', 'train_network.py', '--config_file=/c.toml']);
    const bare = buildTrainingCommand(def, { sdScriptsDir: '/sd', platform: 'linux' });
    assert.ok(bare.ok);
    assert.deepEqual([bare.spec.command, ...bare.spec.args], ['accelerate', 'launch', 'train_network.py', '--config_file=/c.toml']);
  });

  it('builds Windows paths and the Windows venv PATH', () => {
    const r = buildTrainingCommand(
      { config: 'cfg\\学習.toml', script: 'sdxl_train.py' },
      {
        sdScriptsDir: 'C:\\AI\\sd-scripts',
        accelerate: 'C:\\AI\\sd-scripts\\venv\\Scripts\\accelerate.exe',
        venvDir: 'C:\\AI\\sd-scripts\\venv',
        baseDir: 'D:\\My Work',
        baseEnv: { Path: 'C:\\Windows' },
        platform: 'win32',
      },
    );
    assert.ok(r.ok);
    assert.deepEqual(r.spec.args, ['launch', 'sdxl_train.py', '--config_file=D:\\My Work\\cfg\\学習.toml']);
    assert.equal(r.spec.cwd, 'C:\\AI\\sd-scripts');
    assert.equal(r.spec.env['Path'], 'C:\\AI\\sd-scripts\\venv\\Scripts;C:\\Windows');
    assert.equal(r.spec.env['VIRTUAL_ENV'], 'C:\\AI\\sd-scripts\\venv');
  });

  it('sets unbuffered UTF-8 output, the venv, and the task environment last', () => {
    const r = buildTrainingCommand(
      { config: '/c.toml', env: { CUDA_VISIBLE_DEVICES: '1', PYTHONUNBUFFERED: '0' } },
      { sdScriptsDir: '/sd', venvDir: '/sd/venv', baseEnv: { PATH: '/usr/bin', HOME: '/home/u', UNSET: undefined }, platform: 'linux' },
    );
    assert.ok(r.ok);
    assert.deepEqual(r.spec.env, {
      PATH: '/sd/venv/bin:/usr/bin',
      HOME: '/home/u',
      PYTHONUNBUFFERED: '0',
      PYTHONIOENCODING: 'utf-8',
      VIRTUAL_ENV: '/sd/venv',
      CUDA_VISIBLE_DEVICES: '1',
    });
  });

  it('refuses bad definitions with a reason instead of throwing', () => {
    const env = { sdScriptsDir: '/sd', platform: 'linux' as const };
    const bad: unknown[] = [
      null,
      {},
      { config: '' },
      { config: '/c.toml', script: 'rm -rf.py' },
      { config: '/c.toml', args: ['ok', 3] },
      { config: '/c.toml', args: '--x' },
      { config: '/c.toml', numCpuThreadsPerProcess: 0 },
      { config: '/c.toml', datasetConfig: 5 },
      { config: '/c.toml', env: { A: 1 } },
      { config: '/c.toml', env: ['A=1'] },
    ];
    for (const d of bad) {
      const r = buildTrainingCommand(d as TrainingTaskDefinition, env);
      assert.equal(r.ok, false, JSON.stringify(d));
      assert.ok(!r.ok && r.error.length > 0);
    }
    const noDir = buildTrainingCommand({ config: '/c.toml' }, { sdScriptsDir: '' });
    assert.equal(noDir.ok, false);
  });
});

describe("finding sd-scripts' Python", () => {
  it('finds venv and .venv on Linux/macOS', () => {
    assert.deepEqual(
      findPythonEnvironment(probe(['/sd/venv/bin/python', '/sd/venv/bin/accelerate'], ['/sd/venv']), { sdScriptsDir: '/sd', platform: 'linux' }),
      { venvDir: '/sd/venv', python: '/sd/venv/bin/python', accelerate: '/sd/venv/bin/accelerate' },
    );
    assert.deepEqual(findPythonEnvironment(probe(['/sd/.venv/bin/python3'], ['/sd/.venv']), { sdScriptsDir: '/sd', platform: 'darwin' }), {
      venvDir: '/sd/.venv',
      python: '/sd/.venv/bin/python3',
    });
  });
  it('finds the Windows layout', () => {
    assert.deepEqual(
      findPythonEnvironment(probe(['C:\\sd\\venv\\Scripts\\python.exe', 'C:\\sd\\venv\\Scripts\\accelerate.exe'], ['C:\\sd\\venv']), {
        sdScriptsDir: 'C:\\sd',
        platform: 'win32',
      }),
      { venvDir: 'C:\\sd\\venv', python: 'C:\\sd\\venv\\Scripts\\python.exe', accelerate: 'C:\\sd\\venv\\Scripts\\accelerate.exe' },
    );
  });
  it('uses an explicit interpreter and recognises its venv', () => {
    assert.deepEqual(
      findPythonEnvironment(probe(['/envs/k/bin/python', '/envs/k/bin/accelerate', '/envs/k/pyvenv.cfg']), { python: '/envs/k/bin/python', sdScriptsDir: '/sd', platform: 'linux' }),
      { python: '/envs/k/bin/python', accelerate: '/envs/k/bin/accelerate', venvDir: '/envs/k' },
    );
    assert.deepEqual(findPythonEnvironment(probe(['/usr/bin/python3']), { python: '/usr/bin/python3', platform: 'linux' }), { python: '/usr/bin/python3' });
    assert.equal(findPythonEnvironment(probe([]), { python: '/nope/python', platform: 'linux' }), undefined);
  });
  it('returns undefined when there is nothing, and survives a probe that throws', () => {
    assert.equal(findPythonEnvironment(probe([], ['/sd/venv']), { sdScriptsDir: '/sd', platform: 'linux' }), undefined);
    const throwing: FsProbe = {
      isFile: () => {
        throw new Error('EACCES');
      },
      isDirectory: () => {
        throw new Error('EACCES');
      },
    };
    assert.equal(findPythonEnvironment(throwing, { sdScriptsDir: '/sd', platform: 'linux' }), undefined);
  });
});

describe('arguments never reach a shell', () => {
  it('passes shell syntax through as single arguments to the real process', (t) => {
    const dir = tempDir(t);
    const sd = path.join(dir, 'sd scripts');
    const bin = path.join(sd, 'venv', 'bin');
    mkdirSync(bin, { recursive: true });
    const argvFile = path.join(dir, 'argv.json');
    // a stand-in `accelerate` that records the argv it was given
    const fake = path.join(bin, 'accelerate');
    writeFileSync(
      fake,
      `#!${process.execPath}\nrequire('fs').writeFileSync(${JSON.stringify(argvFile)}, JSON.stringify({ argv: process.argv.slice(2), cwd: process.cwd() }));\n`,
    );
    chmodSync(fake, 0o755);
    writeFileSync(path.join(bin, 'python'), '');
    const realFs: FsProbe = {
      isFile: (p) => existsSync(p) && statSync(p).isFile(),
      isDirectory: (p) => existsSync(p) && statSync(p).isDirectory(),
    };
    const py = findPythonEnvironment(realFs, { sdScriptsDir: sd, platform: 'linux' });
    assert.equal(py?.accelerate, fake);
    const pwned = path.join(dir, 'pwned');
    const hostile = [`x; rm -rf ~`, `$(touch ${pwned})`, `\`touch ${pwned}2\``, `a && touch ${pwned}3`, `"'; touch ${pwned}4 #`, '*'];
    const r = buildTrainingCommand(
      { config: `x; rm -rf ~`, samplePrompts: `$(touch ${pwned})`, args: hostile },
      { sdScriptsDir: sd, accelerate: py?.accelerate, python: py?.python, venvDir: py?.venvDir, baseDir: dir, baseEnv: { PATH: process.env['PATH'] }, platform: 'linux' },
    );
    assert.ok(r.ok);
    const run = spawnSync(r.spec.command, r.spec.args, { cwd: r.spec.cwd, env: r.spec.env, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const got = JSON.parse(readFileSync(argvFile, 'utf8')) as { argv: string[]; cwd: string };
    assert.deepEqual(got.argv, r.spec.args);
    assert.equal(got.cwd, sd);
    assert.ok(got.argv.includes(`--config_file=${path.join(dir, 'x; rm -rf ~')}`));
    for (const h of hostile) assert.ok(got.argv.includes(h), h);
    for (const suffix of ['', '2', '3', '4']) assert.equal(existsSync(pwned + suffix), false);
  });
});
